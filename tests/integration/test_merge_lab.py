"""The lab audited in two slices (as AWX job slicing or two control nodes would) and merged with
`./iryo merge` gives the report of the unsliced audit: host for host, check for check.

The unsliced run is the judge here, not the merge code: the report callback built it from one run
over every host. Each audit is the real playbooks/audit.yml (check mode: nothing changes on a host),
with its own IRYO_REPORT_DIR, as each slice of a sliced job writes its own report.
"""

import json
import re

import pytest
from conftest import ENV, REPO, VENV_BIN, run

from iryo_guard import history

pytestmark = pytest.mark.lab

ORG = "_organisation"
FIRST_SLICE = ("portal", "ehr")
SECOND_SLICE = ("files", "gateway")  # plus any generic host a benchmark left in the lab (lab.py up keeps them)

# Evidence that carries a time: ages grow between two runs seconds apart (0.1 h is 6 minutes, so an age
# rounds up in one run and not in the other), days left change at midnight. These values are compared
# only for presence; everything else in the evidence must be equal.
TIME_KEYS = {"age_hours", "newest_age_hours", "lists_age_hours", "days_left", "pending_days_at_least",
             "oldest_security_pending_days_at_least"}
# The same ages in the summaries (c12.antimalware.signatures_fresh "960.1 hours old",
# c12.patches.security_pending "at least 0 days ago", c12.patches.os_eol "574 days left").
TIME_PHRASES = re.compile(r"\d+(?:\.\d+)? hours old|at least \d+ days ago|\d+ days left")
# Every field of a finding that must be equal as it is.
STABLE_FIELDS = ("status", "severity", "target", "clause", "title_ja", "title_en", "expected", "remediation",
                 "fixable", "source", "exception")


def audited_hosts():
    listed = run([VENV_BIN / "ansible", "-i", REPO / "inventory" / "lab", "all:!iryo_excluded", "--list-hosts"])
    assert listed.returncode == 0, listed.stderr
    return [line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()]


@pytest.fixture(scope="module")
def night(lab, tmp_path_factory):
    """Slice 1, slice 2 and the unsliced audit, each with its own report folder; then `./iryo merge`."""
    root = tmp_path_factory.mktemp("merge")
    hosts = audited_hosts()
    assert set(FIRST_SLICE) | set(SECOND_SLICE) <= set(hosts), hosts
    second = [h for h in hosts if h not in FIRST_SLICE]
    reports = {}
    for name, limit in (("slice1", list(FIRST_SLICE)), ("slice2", second), ("unsliced", None)):
        args = ["--limit", ",".join(limit)] if limit else []
        result = lab.playbook("playbooks/audit.yml", *args, report_dir=root / name)
        # 2: the gate, on the lab's seeded findings; anything else is a broken run, not a report to compare.
        assert result.returncode == 2, result.stdout[-4000:] + result.stderr[-2000:]
        reports[name] = root / name / "latest" / "report.json"
    merged = run([REPO / "iryo", "merge", root / "fleet" / "night-1", reports["slice1"], reports["slice2"]],
                 env=dict(ENV, IRYO_REPORT_COLOR="false"))
    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    loaded = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in reports.items()}
    loaded["merged"] = json.loads((root / "fleet" / "night-1" / "report.json").read_text(encoding="utf-8"))
    return {"root": root, "paths": reports, "reports": loaded, "hosts": hosts, "second": second, "output": merged}


def keyed(report):
    return {(f["host"], f["check"], str(f["target"])): f for f in report["findings"]}


def timeless(value):
    """Evidence with the time-carrying values replaced by a marker (their presence still compared)."""
    if isinstance(value, dict):
        return {k: ("<time>" if k in TIME_KEYS else timeless(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [timeless(v) for v in value]
    return value


def test_the_slices_cover_the_fleet_and_nothing_twice(night):
    reports = night["reports"]
    first = {h["name"] for h in reports["slice1"]["hosts"]} - {ORG}
    second = {h["name"] for h in reports["slice2"]["hosts"]} - {ORG}
    assert first == set(FIRST_SLICE) and second == set(night["second"])
    assert {h["name"] for h in reports["unsliced"]["hosts"]} - {ORG} == set(night["hosts"])


def test_merged_report_equals_the_unsliced_one_host_for_host(night):
    merged, unsliced = night["reports"]["merged"], night["reports"]["unsliced"]
    assert merged["hosts"] == unsliced["hosts"]  # names, groups, reachable; the organisation last
    assert merged["matrix"] == unsliced["matrix"]
    assert merged["totals"] == unsliced["totals"]
    assert merged["document"] == unsliced["document"] and merged["clauses"] == unsliced["clauses"]


def test_merged_report_equals_the_unsliced_one_check_for_check(night):
    merged, unsliced = keyed(night["reports"]["merged"]), keyed(night["reports"]["unsliced"])
    assert sorted(merged) == sorted(unsliced)
    assert len(night["reports"]["merged"]["findings"]) == len(unsliced)
    for key, expected in unsliced.items():
        got = merged[key]
        for field in STABLE_FIELDS:
            assert got.get(field) == expected.get(field), (key, field)
        assert TIME_PHRASES.sub("<time>", got["summary"]) == TIME_PHRASES.sub("<time>", expected["summary"]), key
        assert timeless(got.get("evidence")) == timeless(expected.get("evidence")), key


def test_organisation_items_are_in_the_merged_report_once(night):
    reports = night["reports"]
    org = {name: [(f["check"], f["target"]) for f in report["findings"] if f["host"] == ORG]
           for name, report in reports.items()}
    assert org["merged"], "the organisation's items are missing"
    assert len(org["merged"]) == len(set(org["merged"]))
    assert sorted(org["merged"]) == sorted(org["unsliced"]) == sorted(org["slice1"]) == sorted(org["slice2"])
    assert "c09.contracts.evidence" in {check for check, _ in org["merged"]}


def test_run_metadata_names_both_slices(night):
    reports = night["reports"]
    run_block = reports["merged"]["run"]
    assert [p["id"] for p in run_block["parts"]] == [reports["slice1"]["run"]["id"], reports["slice2"]["run"]["id"]]
    assert run_block["started"] == reports["slice1"]["run"]["started"]
    assert run_block["finished"] == reports["slice2"]["run"]["finished"]
    assert run_block["check_mode"] is True and run_block["playbooks"] == ["playbooks/audit.yml"]


def test_one_history_line_for_the_fleet(night):
    fleet = night["root"] / "fleet"
    lines = (fleet / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    # The fleet's history cell for cell as the unsliced run's history line (written by the callback).
    unsliced = history.load(night["root"] / "unsliced")[-1]
    assert entry["cells"] == unsliced["cells"] and entry["totals"] == unsliced["totals"]
    assert entry["run_id"] == night["reports"]["merged"]["run"]["id"] and entry["report"] == "night-1"
    assert (fleet / "latest" / "report.html").is_file() and (fleet / "latest" / "junit.xml").is_file()
    output = night["output"].stdout
    assert "(check mode)" in output and "report html    %s" % (fleet / "night-1" / "report.html") in output


def test_iryo_merge_refuses_reports_of_different_catalog_versions(night, tmp_path):
    # The second slice as a controller with a newer catalog would have written it: C.12 has one more check.
    newer = json.loads(night["paths"]["slice2"].read_text(encoding="utf-8"))
    clause = next(c for c in newer["clauses"] if c["id"] == "C.12")
    clause["checks"].append({"id": "c12.patches.kernel_livepatch", "kind": "automated",
                             "title_ja": "カーネルのライブパッチ", "title_en": "Kernel live patches"})
    newer_path = tmp_path / "slice2-newer" / "report.json"
    newer_path.parent.mkdir()
    newer_path.write_text(json.dumps(newer, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "fleet" / "night-1"
    refused = run([REPO / "iryo", "merge", out, night["paths"]["slice1"], newer_path], env=ENV)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == ("iryo merge: different catalog versions: %s and %s were judged against different "
                              "clause catalogs (check c12.patches.kernel_livepatch only in the second differs); "
                              "run every part from the same iryo-guard version\n"
                              % (night["paths"]["slice1"], newer_path))
    assert not (tmp_path / "fleet").exists(), "a refused merge writes nothing"
