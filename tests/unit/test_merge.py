"""Merging the report.json files of one night (AWX job slices, several control nodes) into one report.

The parts are cut out of tests/fixtures/report-sample.json (a hand-made report of the lab), so the
sample is the unsliced report the merge must give back: its hosts, findings, matrix and totals are
the expected result, written by hand, not by the merge. The lab test (tests/integration/
test_merge_lab.py) does the same with real audit runs.
"""

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from iryo_guard import history
from iryo_guard.report.merge import MergeError, catalog_fingerprint, load_part, main, merge_reports
from iryo_guard.schema import cell_status

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "tests" / "fixtures" / "report-sample.json").read_text(encoding="utf-8"))
ORG = "_organisation"


def part_of(report, hosts, run_id, started, finished, **run):
    """The sample restricted to `hosts` (plus the organisation, which every run reports), as the callback
    would have written it for a run with --limit: its own run block, matrix and totals."""
    keep = set(hosts) | {ORG}
    part = copy.deepcopy(report)
    part["run"] = dict(part["run"], id=run_id, started=started, finished=finished, **run)
    part["hosts"] = [h for h in part["hosts"] if h["name"] in keep]
    part["findings"] = [f for f in part["findings"] if f["host"] in keep]
    recount(part)
    return part


def recount(report):
    cells = {}
    for f in report["findings"]:
        cells.setdefault(f["host"], {}).setdefault(f["clause"], []).append(f["status"])
    report["matrix"] = {h: {c: cell_status(s) for c, s in cl.items()} for h, cl in cells.items()}
    report["totals"] = {s: sum(1 for f in report["findings"] if f["status"] == s)
                        for s in ("pass", "fail", "manual", "not_applicable", "excepted", "error")}


def write(tmp_path, name, report):
    path = tmp_path / name / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    return path


def slices(tmp_path, first=("portal", "ehr"), second=("files",), a=None, b=None):
    a = a or part_of(SAMPLE, first, "20261125T224500Z-audit", "2026-11-25T22:45:00Z", "2026-11-25T22:45:20Z")
    b = b or part_of(SAMPLE, second, "20261125T224502Z-audit", "2026-11-25T22:45:02Z", "2026-11-25T22:45:31Z",
                     controller="iryo-ctl02")
    return write(tmp_path, "a", a), write(tmp_path, "b", b)


def merge(*paths):
    return merge_reports([load_part(p) for p in paths], merged_at=None)


def keyed(report):
    return {(f["host"], f["check"], str(f["target"])): f for f in report["findings"]}


def error_of(*paths):
    with pytest.raises(MergeError) as caught:
        merge(*paths)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- the merge gives back the unsliced report ------------------------------------------------------


def test_two_slices_merge_into_the_unsliced_report(tmp_path):
    merged = merge(*slices(tmp_path))
    assert keyed(merged) == keyed(SAMPLE)
    assert len(merged["findings"]) == len(SAMPLE["findings"]) == 32  # the organisation's 6 once, not twice
    assert merged["matrix"] == SAMPLE["matrix"]
    assert merged["totals"] == SAMPLE["totals"] == {"pass": 16, "fail": 6, "manual": 5, "not_applicable": 2,
                                                    "excepted": 1, "error": 2}
    assert merged["document"] == SAMPLE["document"] and merged["clauses"] == SAMPLE["clauses"]
    assert merged["schema_version"] == SAMPLE["schema_version"] and merged["generator"] == "iryo-guard"
    # Hosts by name, the organisation last, as the callback orders them; each host's entry as inventoried.
    assert [h["name"] for h in merged["hosts"]] == ["ehr", "files", "portal", ORG]
    assert sorted(merged["hosts"], key=lambda h: h["name"]) == sorted(SAMPLE["hosts"], key=lambda h: h["name"])


def test_the_order_of_the_parts_does_not_matter(tmp_path):
    a, b = slices(tmp_path)
    forward, backward = merge(a, b), merge(b, a)
    for key in ("hosts", "findings", "matrix", "totals", "clauses", "document"):
        assert forward[key] == backward[key], key


def test_three_slices_and_a_slice_with_one_host(tmp_path):
    a = part_of(SAMPLE, ["portal"], "r1", "2026-11-25T22:45:00Z", "2026-11-25T22:45:10Z")
    b = part_of(SAMPLE, ["ehr"], "r2", "2026-11-25T22:45:01Z", "2026-11-25T22:45:12Z")
    c = part_of(SAMPLE, ["files"], "r3", "2026-11-25T22:45:02Z", "2026-11-25T22:45:14Z")
    merged = merge(write(tmp_path, "a", a), write(tmp_path, "b", b), write(tmp_path, "c", c))
    assert merged["matrix"] == SAMPLE["matrix"] and merged["totals"] == SAMPLE["totals"]


def test_run_metadata_names_every_part(tmp_path):
    a, b = slices(tmp_path)
    run = merge(a, b)["run"]
    assert run["started"] == "2026-11-25T22:45:00Z" and run["finished"] == "2026-11-25T22:45:31Z"
    assert run["id"] == "20261125T224500Z-audit-merged"
    assert [p["id"] for p in run["parts"]] == ["20261125T224500Z-audit", "20261125T224502Z-audit"]
    assert [p["hosts"] for p in run["parts"]] == [["portal", "ehr"], ["files"]]
    assert [p["report"] for p in run["parts"]] == [str(a.resolve()), str(b.resolve())]
    assert run["playbooks"] == ["playbooks/audit.yml"]
    assert run["controller"] == "iryo-ctl01, iryo-ctl02"
    assert run["check_mode"] is True and run["check_mode_parts"] == [True, True]
    assert run["catalog_sha256"] == catalog_fingerprint(SAMPLE)


def test_check_mode_only_when_every_part_agrees(tmp_path):
    a = part_of(SAMPLE, ["portal", "ehr"], "r1", "2026-11-25T22:45:00Z", "2026-11-25T22:45:10Z")
    b = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:01Z", "2026-11-25T22:45:12Z", check_mode=False)
    run = merge(*slices(tmp_path, a=a, b=b))["run"]
    # One part changed hosts: the report must not say that none was changed.
    assert run["check_mode"] is False and run["check_mode_parts"] == [True, False]
    a["run"]["check_mode"] = False
    assert merge(*slices(tmp_path, a=a, b=b))["run"]["check_mode"] is False


# -- the same host in two parts -----------------------------------------------------------------------


def test_the_same_host_with_identical_results_is_counted_once(tmp_path):
    a = part_of(SAMPLE, ["portal", "ehr", "files"], "r1", "2026-11-25T22:45:00Z", "2026-11-25T22:45:10Z")
    b = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:05Z", "2026-11-25T22:45:30Z")
    # The later run saw the same verdicts with newer evidence (an age that grew): still the same result.
    later = next(f for f in b["findings"] if f["host"] == "files" and f["check"] == "c12.patches.security_pending")
    later["evidence"] = dict(later["evidence"], lists_age_hours=99.5)
    merged = merge(*slices(tmp_path, a=a, b=b))
    assert merged["totals"] == SAMPLE["totals"] and merged["matrix"] == SAMPLE["matrix"]
    assert len([f for f in merged["findings"] if f["host"] == "files"]) == 4
    kept = keyed(merged)[("files", "c12.patches.security_pending", "apt")]
    assert kept["evidence"]["lists_age_hours"] == 99.5, "the later run's evidence is kept"


def overlapping(tmp_path, change):
    """portal in both parts, the second part's copy changed by `change`."""
    a = part_of(SAMPLE, ["portal", "ehr"], "r1", "2026-11-25T22:45:00Z", "2026-11-25T22:45:10Z")
    b = part_of(SAMPLE, ["portal", "files"], "r2", "2026-11-25T22:45:05Z", "2026-11-25T22:45:30Z")
    change(b)
    recount(b)
    return slices(tmp_path, a=a, b=b)


def first_of(report, host, check):
    return next(f for f in report["findings"] if f["host"] == host and f["check"] == check)


def test_the_same_host_with_a_different_status_is_refused(tmp_path):
    def fixed(b):
        first_of(b, "portal", "c12.patches.security_pending")["status"] = "pass"
    a, b = overlapping(tmp_path, fixed)
    message = error_of(a, b)
    assert message.startswith("host portal is in %s and %s with different results" % (a, b))
    assert "c12.patches.security_pending [apt] is fail in %s, pass in %s" % (a, b) in message


def test_the_same_host_with_a_different_summary_is_refused(tmp_path):
    def changed(b):
        finding = first_of(b, "portal", "c12.patches.security_pending")
        finding["summary"] = "3 security updates pending (less, nano, vim)"
    message = error_of(*overlapping(tmp_path, changed))
    assert "host portal" in message and "c12.patches.security_pending [apt] has a different summary" in message


def test_the_same_host_with_a_check_only_one_part_ran_is_refused(tmp_path):
    def dropped(b):
        b["findings"].remove(first_of(b, "portal", "d1.ssh.password_auth"))
    a, b = overlapping(tmp_path, dropped)
    message = error_of(a, b)
    assert "host portal" in message and "d1.ssh.password_auth [sshd] only in %s" % a in message


def test_the_same_host_unreachable_in_one_part_is_refused(tmp_path):
    def unreachable(b):
        next(h for h in b["hosts"] if h["name"] == "portal")["reachable"] = False
    a, b = overlapping(tmp_path, unreachable)
    assert "host portal is in %s and %s with different results: unreachable in %s" % (a, b, b) in error_of(a, b)


def test_the_same_host_with_a_different_exception_is_refused(tmp_path):
    a = part_of(SAMPLE, ["files"], "r1", "2026-11-25T22:45:00Z", "2026-11-25T22:45:10Z")
    b = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:05Z", "2026-11-25T22:45:30Z")
    first_of(b, "files", "d1.ssh.password_auth")["exception"]["expires"] = "2099-01-01"
    message = error_of(*slices(tmp_path, a=a, b=b))
    assert "host files" in message and "d1.ssh.password_auth [sshd] has a different exception" in message


# -- the organisation's items -------------------------------------------------------------------------


def test_organisation_items_differing_are_refused_naming_the_check(tmp_path):
    def stale(b):
        first_of(b, ORG, "c09.contracts.evidence")["status"] = "fail"
    a, b = overlapping(tmp_path, lambda b: None)  # portal overlapping identically is fine
    assert merge(a, b)["totals"] == SAMPLE["totals"]
    a, b = slices(tmp_path)
    report = json.loads(b.read_text())
    stale(report)
    recount(report)
    b.write_text(json.dumps(report))
    message = error_of(a, b)
    assert message.startswith("organisational item c09.contracts.evidence [inventory/group_vars/all/contracts.yml] "
                              "is pass in %s, fail in %s" % (a, b))


def test_an_organisation_item_missing_from_one_part_is_refused(tmp_path):
    a, b = slices(tmp_path)
    report = json.loads(b.read_text())
    report["findings"].remove(first_of(report, ORG, "c13.manual.cp_requirements"))
    recount(report)
    b.write_text(json.dumps(report))
    assert "organisational item c13.manual.cp_requirements [organisation] only in %s" % a in error_of(a, b)


# -- one catalog, one document, one schema ------------------------------------------------------------


def test_different_catalog_versions_are_refused(tmp_path):
    b_report = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:02Z", "2026-11-25T22:45:31Z")
    clause = next(c for c in b_report["clauses"] if c["id"] == "C.12")
    clause["checks"].append({"id": "c12.patches.new_check", "kind": "automated", "title_en": "new"})
    a, b = slices(tmp_path, b=b_report)
    message = error_of(a, b)
    assert message == ("different catalog versions: %s and %s were judged against different clause catalogs "
                       "(check c12.patches.new_check only in the second differs); run every part from the same "
                       "iryo-guard version" % (a, b))


def test_a_corrected_clause_text_is_a_different_catalog(tmp_path):
    b_report = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:02Z", "2026-11-25T22:45:31Z")
    next(c for c in b_report["clauses"] if c["id"] == "C.11")["confidence"] = "confirmed-elsewhere"
    assert "(clause C.11 field confidence differs)" in error_of(*slices(tmp_path, b=b_report))


def test_different_documents_are_refused(tmp_path):
    b_report = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:02Z", "2026-11-25T22:45:31Z")
    b_report["document"]["version"] = "6.0"
    a, b = slices(tmp_path, b=b_report)
    doc = SAMPLE["document"]
    assert error_of(a, b) == ("different documents: %s audits %s v5.2 §%s, %s audits %s v6.0 §%s; merge reports "
                              "of one document" % (a, doc["id"], doc["section"], b, doc["id"], doc["section"]))


def test_different_report_schemas_are_refused(tmp_path):
    b_report = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:02Z", "2026-11-25T22:45:31Z")
    b_report["schema_version"] = SAMPLE["schema_version"] + 1
    assert error_of(*slices(tmp_path, b=b_report)).startswith("different report schemas: ")


# -- not an iryo-guard report -------------------------------------------------------------------------


def _without(key):
    report = copy.deepcopy(SAMPLE)
    del report[key]
    return json.dumps(report)


def _bad_status():
    report = copy.deepcopy(SAMPLE)
    report["findings"][0]["status"] = "ok"
    return json.dumps(report)


@pytest.mark.parametrize("content, why", [
    ("<html>report</html>", "not JSON"),
    ("[1, 2]", "the JSON is not an object"),
    (json.dumps({"junit": "xml"}), 'no "generator": "iryo-guard"'),
    (json.dumps(dict(SAMPLE, generator="other-tool")), 'no "generator": "iryo-guard"'),
    (_without("findings"), "no findings list"),
    (_without("run"), "no run id or start time"),
    (_without("document"), "no document id or version"),
    (_bad_status(), "has status 'ok'"),
])
def test_a_file_that_is_not_an_iryo_guard_report_is_refused(tmp_path, content, why):
    a, _ = slices(tmp_path)
    other = tmp_path / "other.json"
    other.write_text(content, encoding="utf-8")
    message = error_of(a, other)
    assert message.startswith("%s is not an iryo-guard report: " % other) and why in message


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(MergeError, match="^cannot read .*nowhere.json: No such file or directory$"):
        load_part(tmp_path / "nowhere.json")


# -- the command: files, one history line, the terminal table ----------------------------------------


def test_the_command_writes_the_reports_and_one_history_line(tmp_path, capsys):
    a, b = slices(tmp_path)
    fleet = tmp_path / "fleet"
    # An earlier fleet run in the same history: the new one is one more bar of the trend.
    earlier = history.entry_from_report(
        dict(SAMPLE, run=dict(SAMPLE["run"], id="20261124T224500Z-audit-merged", started="2026-11-24T22:45:00Z")),
        "night-0")
    history.append(fleet, earlier)
    assert main([str(fleet / "night-1"), str(a), str(b)]) == 0
    out = capsys.readouterr().out
    written = json.loads((fleet / "night-1" / "report.json").read_text(encoding="utf-8"))
    assert keyed(written) == keyed(SAMPLE) and written["totals"] == SAMPLE["totals"]
    lines = (fleet / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2, "one history line for the merged report, none per part"
    entry = json.loads(lines[1])
    assert entry["run_id"] == "20261125T224500Z-audit-merged" and entry["report"] == "night-1"
    assert entry["totals"] == SAMPLE["totals"] and set(entry["cells"]) == {"portal", "ehr", "files", ORG}
    assert os.readlink(fleet / "latest") == "night-1"
    html = (fleet / "night-1" / "report.html").read_text(encoding="utf-8")
    trend = html[html.index('<section id="trend"'):]
    trend = trend[:trend.index("</section>")]
    # Every clause's trend has two bars, the earlier fleet run and this one: the parts are not runs of their own.
    rows = re.findall(r'<tr data-clause="([^"]+)">.*?<td class="num">(\d+)</td></tr>', trend)
    assert rows and all(runs == "2" for _, runs in rows), rows
    assert "<title>2026-11-24T22:45:00Z playbooks/audit.yml" in trend
    assert "<title>2026-11-25T22:45:00Z playbooks/audit.yml" in trend
    junit = (fleet / "night-1" / "junit.xml").read_text(encoding="utf-8")
    assert 'failures="%d"' % SAMPLE["totals"]["fail"] in junit.split("\n")[1]
    assert "iryo-guard  run 20261125T224500Z-audit-merged  (check mode)" in out
    assert "Totals: FAIL 6  ERR 2  EXC 1  MAN 5  PASS 16  N-A 2  (32 findings)" in out
    assert "report html    %s" % (fleet / "night-1" / "report.html").resolve() in out


def test_a_refused_merge_writes_nothing_and_says_why_in_one_line(tmp_path, capsys):
    b_report = part_of(SAMPLE, ["files"], "r2", "2026-11-25T22:45:02Z", "2026-11-25T22:45:31Z")
    b_report["document"]["version"] = "6.0"
    a, b = slices(tmp_path, b=b_report)
    fleet = tmp_path / "fleet"
    assert main([str(fleet / "night-1"), str(a), str(b)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("iryo merge: different documents: ") and captured.err.count("\n") == 1
    assert not fleet.exists()


def test_the_command_never_merges_into_a_folder_that_holds_a_report(tmp_path, capsys):
    a, b = slices(tmp_path)
    # The first part's own folder: merging there would overwrite it and add a second history line.
    assert main([str(a.parent), str(a), str(b)]) == 1
    assert "already holds a report.json" in capsys.readouterr().err
    assert json.loads(a.read_text())["run"]["id"] == "20261125T224500Z-audit"
    assert not (tmp_path / "history.jsonl").exists()


def test_iryo_merge_runs_from_the_callers_folder(tmp_path):
    """`./iryo merge` with paths relative to where it is called (the script itself changes folder)."""
    slices(tmp_path)
    env = dict(os.environ, IRYO_REPORT_COLOR="false")
    done = subprocess.run([str(ROOT / "iryo"), "merge", "fleet/n1", "a/report.json", "b/report.json"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fleet" / "n1" / "report.html").is_file() and (tmp_path / "fleet" / "history.jsonl").is_file()
    assert "\x1b[" not in done.stdout
    refused = subprocess.run([str(ROOT / "iryo"), "merge", "fleet/n2", "a/report.json", "a/report.json.missing"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert refused.stderr == "iryo merge: cannot read a/report.json.missing: No such file or directory\n"


def test_regressions_against_the_fleet_history_are_warned_and_notified(tmp_path, capsys, monkeypatch):
    a, b = slices(tmp_path)
    fleet = tmp_path / "fleet"
    passing = copy.deepcopy(SAMPLE)
    passing["run"] = dict(passing["run"], id="20261124T224500Z-audit-merged", started="2026-11-24T22:45:00Z")
    for finding in passing["findings"]:
        finding["status"] = "pass"
    recount(passing)
    history.append(fleet, history.entry_from_report(passing, "night-0"))
    hook = tmp_path / "hook.sh"
    hook.write_text('cat > "%s"\n' % (tmp_path / "notified.json"), encoding="utf-8")
    monkeypatch.setenv("IRYO_NOTIFY_COMMAND", "/bin/sh %s" % hook)
    assert main([str(fleet / "night-1"), str(a), str(b)]) == 0
    captured = capsys.readouterr()
    # The cells that fail or error in the sample and passed the night before (not the organisation's).
    failing = sorted((h, c) for h, cells in SAMPLE["matrix"].items() if h != ORG
                     for c, s in cells.items() if s in ("fail", "error"))
    warned = re.findall(r"^iryo-guard regression: (\S+) (\S+) regressed \(pass -> (?:fail|error)\)$",
                        captured.err, re.M)
    assert sorted(warned) == failing
    notified = json.loads((tmp_path / "notified.json").read_text(encoding="utf-8"))
    assert notified["run_id"] == "20261125T224500Z-audit-merged"
    assert sorted((r["host"], r["clause"]) for r in notified["regressions"]) == failing
    assert "iryo-guard notified %d regression(s) by command" % len(failing) in captured.out
