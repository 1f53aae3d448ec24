"""The inspection checklist answered from a run (iryo_guard/checklist.py, issue 14 items 2 and 4).

The answer rules are tested on a small made-up edition and catalog (every branch, independent of which checks
are implemented today); the sheets, vendors, dates and inputs on the real 令和7年度版 with findings made by
tests/checklist_fixture.py. Expected answers are written from the rules in docs/checklist.md, not read from the
code's output.
"""

import copy
import datetime
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import checklist_fixture as fx
from iryo_guard.catalog import load_catalog
from iryo_guard.checklist import (CHECKLIST_DIR, ChecklistError, answer_item, build_checklist, default_edition_id,
                                  load_edition, parse_edition, run_date, validate_inputs)
from iryo_guard.enrich import InputError
from iryo_guard.report.model import build_report, new_run

REPO = Path(__file__).resolve().parents[2]
R7 = CHECKLIST_DIR / "mhlw-cybersecurity-checklist-r7.yml"


# -- the answer rules, on a made-up mapping ------------------------------------------------------------------

KNOWN = {
    "h.a": {"id": "h.a", "kind": "automated"},
    "h.b": {"id": "h.b", "kind": "automated"},
    "h.planned": {"id": "h.planned", "kind": "automated", "planned": "14"},
    "e.x": {"id": "e.x", "kind": "manual"},
    "e.y": {"id": "e.y", "kind": "manual"},
}


def mapping(checks=("h.a", "h.b"), evidence=("e.x",)):
    return {"checks": list(checks), "evidence": list(evidence), "coverage": "partial", "note_en": "n", "sources": []}


def f(host, check, status, target=None, summary=None):
    return {"host": host, "check": check, "status": status, "target": target or host,
            "summary": summary or "%s is %s on %s" % (check, status, host)}


def answer(findings, hosts=("h1", "h2"), checks=("h.a", "h.b"), evidence=("e.x",)):
    index, organisation = {}, {}
    for finding in findings:
        if finding["host"] == "_organisation":
            organisation[finding["check"]] = finding
        else:
            index.setdefault((finding["host"], finding["check"]), []).append(finding)
    return answer_item(mapping(checks, evidence), list(hosts), index, organisation, KNOWN)


def passing(hosts=("h1", "h2"), checks=("h.a", "h.b")):
    return [f(h, c, "pass") for h in hosts for c in checks]


EVIDENCE_OK = f("_organisation", "e.x", "pass")


def test_yes_when_every_check_passes_on_every_host_and_the_evidence_is_current():
    got = answer(passing() + [EVIDENCE_OK])
    assert got["answer"] == "yes" and got["reasons"] == []
    assert got["covered_hosts"] == ["h1", "h2"]
    assert [(r["host"], [c["status"] for c in r["checks"]]) for r in got["hosts"]] == [
        ("h1", ["pass", "pass"]), ("h2", ["pass", "pass"])]


def test_no_when_a_check_fails_on_one_covered_host():
    findings = passing() + [EVIDENCE_OK]
    findings[3] = f("h2", "h.b", "fail", summary="h.b saw a problem")
    got = answer(findings)
    assert got["answer"] == "no"
    assert got["reasons"] == ["h.b on h2 fails: h.b saw a problem"]


def test_no_when_one_of_several_targets_on_a_host_fails():
    findings = passing() + [f("h1", "h.a", "fail", target="second"), EVIDENCE_OK]
    assert answer(findings)["answer"] == "no"


def test_no_when_the_recorded_evidence_has_expired():
    got = answer(passing() + [f("_organisation", "e.x", "fail", summary="evidence D was last confirmed 2020-01-31")])
    assert got["answer"] == "no"
    assert got["reasons"] == ["evidence e.x: evidence D was last confirmed 2020-01-31"]


def test_no_outranks_to_confirm():
    findings = passing() + [f("h1", "h.a", "error"), f("h2", "h.a", "fail"), f("_organisation", "e.x", "manual")]
    findings = [x for x in findings if not (x["check"] == "h.a" and x["status"] == "pass")]
    got = answer(findings)
    assert got["answer"] == "no"
    assert len(got["reasons"]) == 3 and got["reasons"][0].startswith("h.a on h2 fails")


def test_to_confirm_when_the_evidence_is_not_recorded():
    got = answer(passing() + [f("_organisation", "e.x", "manual")])
    assert got["answer"] == "to_confirm"
    assert got["reasons"] == ["evidence e.x is not recorded yet (iryo_evidence)"]


def test_to_confirm_when_the_evidence_is_not_in_the_run():
    got = answer(passing())
    assert got["answer"] == "to_confirm"
    assert got["evidence"] == [{"check": "e.x", "status": None, "summary": "not in this run"}]


def test_to_confirm_when_the_evidence_could_not_be_decided():
    assert answer(passing() + [f("_organisation", "e.x", "error")])["answer"] == "to_confirm"


@pytest.mark.parametrize("status", ["error", "excepted", "manual"])
def test_to_confirm_when_a_check_is_not_a_pass_nor_a_fail(status):
    findings = passing() + [EVIDENCE_OK]
    findings[0] = f("h1", "h.a", status)
    got = answer(findings)
    assert got["answer"] == "to_confirm"
    assert len(got["reasons"]) == 1 and got["reasons"][0].startswith("h.a on h1 is")
    if status == "excepted":
        assert "an accepted risk is not a pass" in got["reasons"][0]


def test_to_confirm_while_a_mapped_check_is_planned_and_reports_nothing():
    got = answer(passing() + [EVIDENCE_OK], checks=("h.a", "h.b", "h.planned"))
    assert got["answer"] == "to_confirm"
    assert got["reasons"] == ["h.planned reported nothing on this sheet's hosts (planned in issue 14, not "
                              "implemented yet)"]
    assert got["unreported"] == [{"check": "h.planned", "planned": "14", "missing_on": ["h1", "h2"]}]


def test_the_same_item_answers_once_the_planned_check_reports():
    findings = passing(checks=("h.a", "h.b", "h.planned")) + [EVIDENCE_OK]
    assert answer(findings, checks=("h.a", "h.b", "h.planned"))["answer"] == "yes"
    findings[2] = f("h1", "h.planned", "fail")
    assert answer(findings, checks=("h.a", "h.b", "h.planned"))["answer"] == "no"


def test_to_confirm_when_a_check_did_not_report_on_a_covered_host():
    findings = [x for x in passing() if (x["host"], x["check"]) != ("h2", "h.b")] + [EVIDENCE_OK]
    got = answer(findings)
    assert got["answer"] == "to_confirm"
    assert got["reasons"] == ["h.b did not report on h2"]
    assert got["unreported"] == [{"check": "h.b", "planned": None, "missing_on": ["h2"]}]


def test_not_applicable_on_a_host_keeps_yes_and_that_host_is_not_covered():
    findings = [f("h1", "h.a", "pass"), f("h1", "h.b", "pass"), f("h2", "h.a", "not_applicable"),
                f("h2", "h.b", "not_applicable"), EVIDENCE_OK]
    got = answer(findings)
    assert got["answer"] == "yes" and got["covered_hosts"] == ["h1"]
    findings[3] = f("h2", "h.b", "pass")  # one check applies on h2: it is covered, the other is not_applicable
    got = answer(findings)
    assert got["answer"] == "yes" and got["covered_hosts"] == ["h1", "h2"]


def test_to_confirm_when_the_checks_apply_to_no_host():
    findings = [f(h, c, "not_applicable") for h in ("h1", "h2") for c in ("h.a", "h.b")] + [EVIDENCE_OK]
    got = answer(findings)
    assert got["answer"] == "to_confirm" and got["covered_hosts"] == []
    assert got["reasons"] == ["the mapped checks apply to none of this sheet's hosts"]


def test_to_confirm_when_the_sheet_has_no_host_for_a_host_check():
    got = answer([EVIDENCE_OK], hosts=())
    assert got["answer"] == "to_confirm"
    assert [g["check"] for g in got["unreported"]] == ["h.a", "h.b"]


def test_an_evidence_only_item_is_answered_by_its_records():
    assert answer([EVIDENCE_OK], checks=())["answer"] == "yes"
    assert answer([EVIDENCE_OK, f("_organisation", "e.y", "manual")], checks=(), evidence=("e.x", "e.y"))[
        "answer"] == "to_confirm"
    assert answer([f("_organisation", "e.x", "fail")], checks=())["answer"] == "no"


def test_evidence_records_carry_the_register_entry():
    record = dict(EVIDENCE_OK, evidence={"recorded": {"evidence_ref": "DOC-1", "confirmed_by": "CISO",
                                                      "last_confirmed": "2026-01-05"}})
    got = answer([record], checks=())
    assert got["evidence"] == [{"check": "e.x", "status": "pass", "summary": "e.x is pass on _organisation",
                                "evidence_ref": "DOC-1", "confirmed_by": "CISO", "last_confirmed": "2026-01-05"}]


def test_hosts_outside_the_sheet_do_not_count():
    findings = passing(hosts=("h1", "h2", "h3")) + [f("h3", "h.a", "fail"), EVIDENCE_OK]
    assert answer(findings, hosts=("h1", "h2"))["answer"] == "yes"
    assert answer(findings, hosts=("h1", "h2", "h3"))["answer"] == "no"


# -- the edition file and its loader -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def r7_data():
    return yaml.safe_load(R7.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_the_r7_edition_loads_with_every_item_mapped(catalog):
    edition = load_edition(known_checks=catalog.checks)
    assert edition["edition"]["id"] == "mhlw-cs-checklist-r7"
    assert len(edition["items"]) == 18 and set(edition["mapping"]) == {i["key"] for i in edition["items"]}
    assert edition["mapping"]["2-6"]["checks"][0] == "c12.patches.security_pending"


def refused(data, catalog):
    with pytest.raises(ChecklistError) as err:
        parse_edition(data, catalog.checks, source="r7")
    return str(err.value)


def entry(data, key):
    return next(m for m in data["mapping"] if m["item"] == key)


def test_an_unknown_check_id_is_refused_naming_the_item(r7_data, catalog):
    data = copy.deepcopy(r7_data)
    entry(data, "2-6")["checks"].append("c12.patches.no_such_check")
    assert refused(data, catalog) == "r7: mapping of item 2-6: check id 'c12.patches.no_such_check' is not in the " \
                                     "clause catalog"


def test_a_duplicate_item_is_refused(r7_data, catalog):
    data = copy.deepcopy(r7_data)
    data["items"].append(copy.deepcopy(data["items"][3]))
    assert refused(data, catalog) == "r7: item 2-3 appears twice"


def test_an_item_without_mapping_is_refused(r7_data, catalog):
    data = copy.deepcopy(r7_data)
    data["mapping"] = [m for m in data["mapping"] if m["item"] != "2-9"]
    assert "item 2-9 has no mapping" in refused(data, catalog)


def test_a_mapping_twice_or_of_an_unknown_item_is_refused(r7_data, catalog):
    data = copy.deepcopy(r7_data)
    data["mapping"].append(copy.deepcopy(entry(data, "2-8")))
    assert refused(data, catalog) == "r7: mapping of item 2-8 appears twice"
    data = copy.deepcopy(r7_data)
    data["mapping"].append(dict(copy.deepcopy(entry(data, "2-8")), item="2-99"))
    assert refused(data, catalog) == "r7: mapping of item 2-99: no such item in the edition"


def test_check_kinds_must_match_their_list(r7_data, catalog):
    data = copy.deepcopy(r7_data)
    entry(data, "1-1")["checks"] = ["cl.manual.bcp"]
    assert "cl.manual.bcp is an organisational (manual) item; list it under evidence" in refused(data, catalog)
    data = copy.deepcopy(r7_data)
    entry(data, "1-1")["evidence"] = ["d1.ssh.sources"]
    assert "mapping of item 1-1: d1.ssh.sources is a host check; list it under checks" in refused(data, catalog)


@pytest.mark.parametrize("change, message", [
    ({"coverage": "most"}, "coverage must be one of full, partial"),
    ({"note_en": " "}, "note_en must say why"),
    ({"checks": [], "evidence": []}, "maps to no check and no evidence"),
])
def test_a_mapping_needs_coverage_a_note_and_something_to_answer_by(r7_data, catalog, change, message):
    data = copy.deepcopy(r7_data)
    entry(data, "2-11").update(change)
    assert "mapping of item 2-11" in refused(data, catalog) and message in refused(data, catalog)


def test_the_newest_edition_is_the_default_and_ids_are_unique(tmp_path, r7_data):
    (tmp_path / "r7.yml").write_text(R7.read_text(encoding="utf-8"), encoding="utf-8")
    r8 = copy.deepcopy(r7_data)
    r8["edition"].update(id="mhlw-cs-checklist-r8", fiscal_year="令和8年度",
                         fiscal_year_gregorian="2026-04-01/2027-03-31")
    (tmp_path / "r8.yml").write_text(yaml.safe_dump(r8, allow_unicode=True), encoding="utf-8")
    assert default_edition_id(tmp_path) == "mhlw-cs-checklist-r8"
    (tmp_path / "r8-copy.yml").write_text(yaml.safe_dump(r8, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ChecklistError, match="edition id mhlw-cs-checklist-r8 is in both"):
        default_edition_id(tmp_path)


# -- inventory inputs --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edition(catalog):
    return load_edition(known_checks=catalog.checks)


def test_inputs_are_normalised(edition):
    got = validate_inputs("  架空医療  システム ", {"2-5": datetime.date(2026, 3, 31), "3-2": "2026-02-01"}, edition)
    assert got == {"vendor": "架空医療 システム", "targets": {"2-5": "2026-03-31", "3-2": "2026-02-01"}}
    assert validate_inputs(None, None, edition) == {"vendor": None, "targets": {}}


@pytest.mark.parametrize("vendor", ["", "   ", 7, ["A"], {"name": "A"}])
def test_a_vendor_must_be_a_non_empty_string(edition, vendor):
    with pytest.raises(InputError, match="host h1: iryo_vendor must be the name of the vendor"):
        validate_inputs(vendor, None, edition, "h1")


@pytest.mark.parametrize("targets, message", [
    (["2-5", "2026-03-31"], "iryo_checklist_targets must map checklist items to target dates"),
    ({"2-14": "2026-03-31"}, "iryo_checklist_targets[2-14]: no item 2-14 in the checklist mhlw-cs-checklist-r7"),
    ({"2-5": "2026-02-30"}, "iryo_checklist_targets[2-5]: '2026-02-30' is not a date"),
])
def test_targets_must_name_items_and_real_dates(edition, targets, message):
    with pytest.raises(InputError) as err:
        validate_inputs(None, targets, edition, "h1")
    assert message in str(err.value) and str(err.value).startswith("host h1: ")


def test_a_target_outside_the_fiscal_year_is_accepted_as_input(edition):
    """Next year's plan must not stop this year's audit: the sheet leaves it blank with a note instead."""
    assert validate_inputs(None, {"2-5": "2031-03-31"}, edition)["targets"] == {"2-5": "2031-03-31"}


def adhoc(tmp_path, extra_vars):
    tree = tmp_path / "tree"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1")
    # An inventory of its own: the configured one's group_vars (the lab's) would apply to localhost too.
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "-i", "localhost,", "-c", "local", "localhost",
                           "-m", "iryo_validate_inputs", "-e", json.dumps(extra_vars)],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    return done, json.loads((tree / "localhost").read_text())


def test_the_input_play_refuses_bad_inputs_and_returns_good_ones(tmp_path):
    done, result = adhoc(tmp_path, {"iryo_vendor": " "})
    assert done.returncode != 0 and result["msg"].startswith("host localhost: iryo_vendor must be the name")
    done, result = adhoc(tmp_path, {"iryo_checklist_targets": {"9-9": "2026-03-31"}})
    assert done.returncode != 0 and "iryo_checklist_targets[9-9]: no item 9-9" in result["msg"]
    done, result = adhoc(tmp_path, {"iryo_vendor": "架空医療システム株式会社",
                                    "iryo_checklist_targets": {"2-6": "2026-03-31"}})
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["checklist"] == {"vendor": "架空医療システム株式会社", "targets": {"2-6": "2026-03-31"}}


# -- the sheets of a run -------------------------------------------------------------------------------------


def items_of(sheet):
    return {item["key"]: item for item in sheet["items"]}


@pytest.fixture(scope="module")
def sample():
    return fx.report()


def test_the_hospital_sheet_covers_every_host_and_each_vendor_sheet_its_own(sample):
    sheet = sample["checklist"]
    assert sheet["hosts"] == sorted(fx.HOSTS)
    assert [(v["vendor"], v["hosts"]) for v in sheet["per_vendor"]] == [
        (fx.VENDOR_A, ["portal"]), (fx.VENDOR_B, ["ehr", "files"])]  # by name
    assert "hosts without iryo_vendor are on the hospital sheet only: gateway" in sheet["notes"]
    # c12.patches.security_pending fails on ehr only: いいえ for the hospital and vendor B, not for vendor A.
    assert items_of(sheet)["2-6"]["answer"] == "no"
    by_vendor = {v["vendor"]: items_of(v) for v in sheet["per_vendor"]}
    assert by_vendor[fx.VENDOR_B]["2-6"]["answer"] == "no"
    assert by_vendor[fx.VENDOR_A]["2-6"]["answer"] == "yes"
    # d1.ssh.sources is excepted on portal and the firewall check errs on gateway (no vendor): 2-13 is 要確認
    # for the hospital and vendor A; vendor B's hosts pass every check and the evidence is current: はい.
    assert items_of(sheet)["2-13"]["answer"] == "to_confirm"
    assert by_vendor[fx.VENDOR_A]["2-13"]["answer"] == "to_confirm"
    assert by_vendor[fx.VENDOR_B]["2-13"]["answer"] == "yes"


def test_evidence_items_answer_the_same_on_every_sheet(sample):
    sheets = [sample["checklist"]] + sample["checklist"]["per_vendor"]
    for key, expected in (("1-1", "yes"), ("3-3", "no"), ("2-3", "to_confirm")):
        assert {items_of(s)[key]["answer"] for s in sheets} == {expected}, key


def test_totals_count_the_answers(sample):
    for sheet in [sample["checklist"]] + sample["checklist"]["per_vendor"]:
        counted = {a: sum(1 for i in sheet["items"] if i["answer"] == a) for a in ("yes", "no", "to_confirm")}
        assert sheet["totals"] == counted and sum(counted.values()) == 18


def test_the_vendor_sheet_uses_the_vendor_wording(sample):
    vendor = items_of(sample["checklist"]["per_vendor"][0])
    hospital = items_of(sample["checklist"])
    assert vendor["2-3"]["text_ja"].startswith("医療機関に") and hospital["2-3"]["text_ja"].startswith("事業者から")


def test_unconfirmed_items_keep_their_mark(sample):
    for item in sample["checklist"]["items"]:
        assert ("UNCONFIRMED" in item["text_ja"]) == (item["text_confidence"] == "unconfirmed"), item["key"]


def fy_end(sample):
    return sample["checklist"]["edition"]["fiscal_year_end"]


def test_target_dates_only_for_no_and_only_within_the_fiscal_year():
    end = "2026-03-31"  # the last day of 令和7年度, the edition's fiscal year
    sample = fx.report(targets={"2-6": end, "1-1": end, "3-3": "2027-03-31"})
    hospital = items_of(sample["checklist"])
    assert hospital["2-6"]["target_date"] == end and hospital["2-6"]["target_note"] is None
    assert hospital["1-1"]["target_date"] is None and hospital["1-1"]["target_note"] is None  # はい: no target
    assert hospital["3-3"]["answer"] == "no" and hospital["3-3"]["target_date"] is None
    assert hospital["3-3"]["target_note"].startswith("declared target 2027-03-31 lies outside 令和7年度 "
                                                     "(2025-04-01 to 2026-03-31)")
    assert hospital["2-11"]["target_date"] is None and hospital["2-11"]["target_note"] is None  # none declared
    vendor_a = items_of(sample["checklist"]["per_vendor"][0])
    assert vendor_a["2-6"]["answer"] == "yes" and vendor_a["2-6"]["target_date"] is None


def test_target_dates_that_differ_between_the_sheets_hosts_are_left_blank():
    catalog = load_catalog()
    inputs = fx.inputs({"2-6": "2026-03-31"})
    inputs["files"]["targets"]["2-6"] = "2026-02-28"
    started = datetime.datetime(2025, 10, 1, 3, 0, tzinfo=datetime.timezone.utc)
    run = new_run(["playbooks/audit.yml"], True, "2.19", started=started)
    hosts = [{"name": h, "groups": [], "reachable": True} for h in fx.HOSTS]
    sheet = build_checklist(fx.findings(catalog), hosts, catalog.clauses, run, inputs)
    item = items_of(sheet)["2-6"]
    assert item["target_date"] is None
    assert item["target_note"].startswith("target dates differ between the sheet's hosts (2026-02-28, 2026-03-31)")
    assert not any("outside" in note for note in sheet["notes"])  # the run lies within 令和7年度


@pytest.fixture
def tokyo(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_date_checked_is_the_runs_local_date(tokyo):
    """2026-03-31T15:30Z is 2026-04-01 00:30 in Tokyo: the day after 令和7年度 ends."""
    started = datetime.datetime(2026, 3, 31, 15, 30, tzinfo=datetime.timezone.utc)
    assert run_date({"started": "2026-03-31T15:30:00Z"}) == datetime.date(2026, 4, 1)
    catalog = load_catalog()
    run = new_run(["playbooks/audit.yml"], True, "2.19", started=started)
    sheet = build_checklist(fx.findings(catalog), [{"name": "ehr"}], catalog.clauses, run, {})
    assert sheet["confirmed_on"] == "2026-04-01"
    assert {i["confirmed_on"] for i in sheet["items"]} == {"2026-04-01"}
    assert sheet["notes"][0].startswith("the run date 2026-04-01 lies outside 令和7年度 (2025-04-01 to 2026-03-31)")
    assert "no host declares iryo_vendor, so there is no vendor sheet" in sheet["notes"]
    assert sheet["per_vendor"] == []


def test_the_report_model_carries_the_checklist_as_json(sample, tmp_path):
    from iryo_guard.report.output import write_reports
    paths = write_reports(sample, tmp_path)
    written = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))["checklist"]
    assert written["edition"]["id"] == "mhlw-cs-checklist-r7"
    assert written["edition"]["fiscal_year_start"] == "2025-04-01"
    assert [i["key"] for i in written["items"]] == [i["key"] for i in load_edition()["items"]]
    first = written["items"][0]
    for key in ("number", "section", "text_ja", "gloss_en", "confidence", "checks", "evidence_checks", "coverage",
                "answer", "answer_ja", "reasons", "covered_hosts", "hosts", "evidence", "confirmed_on",
                "target_date", "target_note"):
        assert key in first, key
    assert written["inputs"]["hosts"]["portal"] == {"vendor": fx.VENDOR_A, "targets": {}}
    assert {i["answer_ja"] for i in written["items"]} <= {"はい", "いいえ", "要確認"}


def test_a_broken_edition_costs_the_sheet_not_the_report(monkeypatch):
    import iryo_guard.checklist as checklist

    def broken(*args, **kwargs):
        raise ChecklistError("r7: item 2-6 appears twice")
    monkeypatch.setattr(checklist, "load_edition", broken)
    catalog = load_catalog()
    run = new_run(["playbooks/audit.yml"], True, "2.19")
    report = build_report(fx.findings(catalog), [{"name": "ehr", "groups": [], "reachable": True}], catalog, run)
    assert report["checklist"] == {"error": "r7: item 2-6 appears twice"}
    assert report["findings"]
