"""Run history (reports/history.jsonl), regressions and the trend section of report.html.

Reports are built from tests/fixtures/report-sample.json (a hand-made lab report) with statuses
changed per run, and written with the real writer (iryo_guard.report.output.write_reports).
"""

import copy
import json
import multiprocessing
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from iryo_guard import history
from iryo_guard.report.output import write_reports
from iryo_guard.schema import cell_status

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "tests" / "fixtures" / "report-sample.json").read_text(encoding="utf-8"))


def make_report(run_id, statuses=None, drop_hosts=(), started="2026-11-20T02:30:00Z", playbook="playbooks/nightly.yml"):
    """The sample report with (host, check) -> status overrides and its matrix recomputed."""
    report = copy.deepcopy(SAMPLE)
    report["run"] = dict(report["run"], id=run_id, started=started, finished=started, playbooks=[playbook])
    report["findings"] = [f for f in report["findings"] if f["host"] not in drop_hosts]
    report["hosts"] = [h for h in report["hosts"] if h["name"] not in drop_hosts]
    for finding in report["findings"]:
        key = (finding["host"], finding["check"])
        if statuses and key in statuses:
            finding["status"] = statuses[key]
    matrix = {}
    for finding in report["findings"]:
        matrix.setdefault(finding["host"], {}).setdefault(finding["clause"], []).append(finding["status"])
    report["matrix"] = {h: {c: cell_status(s) for c, s in cells.items()} for h, cells in matrix.items()}
    report["totals"] = {s: sum(1 for f in report["findings"] if f["status"] == s)
                        for s in ("pass", "fail", "error", "excepted", "manual", "not_applicable")}
    return report


def passing(report):
    """(host, check) -> pass for every automated finding of the sample: a fully compliant run."""
    return {(f["host"], f["check"]): "pass" for f in report["findings"] if f["host"] != "_organisation"}


def with_status(statuses, key, status):
    return {**statuses, key: status}


def a_finding(host, clause):
    return next(f for f in SAMPLE["findings"] if f["host"] == host and f["clause"] == clause)


def test_entry_counts_every_host_and_clause_cell():
    report = make_report("r1")
    entry = history.entry_from_report(report, "r1")
    assert entry["run_id"] == "r1" and entry["playbook"] == "playbooks/nightly.yml" and entry["report"] == "r1"
    for host, cells in report["matrix"].items():
        for clause, status in cells.items():
            cell = entry["cells"][host][clause]
            assert cell["status"] == status
            expected = {}
            for f in report["findings"]:
                if f["host"] == host and f["clause"] == clause:
                    expected[f["status"]] = expected.get(f["status"], 0) + 1
            assert cell["counts"] == expected


def test_first_run_is_the_baseline_then_a_pass_turning_fail_regresses(tmp_path):
    base = make_report("r1", passing(SAMPLE))
    first = write_reports(base, tmp_path)
    assert first["regressions"] == []
    victim = a_finding("portal", "C.11")
    worse = make_report("r2", with_status(passing(SAMPLE), (victim["host"], victim["check"]), "fail"))
    second = write_reports(worse, tmp_path)
    assert [(r["host"], r["clause"], r["kind"], r["previous_status"], r["status"]) for r in second["regressions"]] \
        == [("portal", "C.11", "regressed", "pass", "fail")]
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["r1", "r2"]
    assert (tmp_path / "latest").resolve() == (tmp_path / "r2").resolve()


def test_error_counts_as_regression_and_unchanged_failures_do_not(tmp_path):
    victim = a_finding("ehr", "C.12")
    bad = with_status(passing(SAMPLE), (victim["host"], victim["check"]), "fail")
    write_reports(make_report("r1", bad), tmp_path)
    assert write_reports(make_report("r2", bad), tmp_path)["regressions"] == []  # still failing: not news
    other = a_finding("files", "C.12")
    erred = with_status(bad, (other["host"], other["check"]), "error")
    found = write_reports(make_report("r3", erred), tmp_path)["regressions"]
    assert [(r["host"], r["kind"], r["status"]) for r in found] == [("files", "regressed", "error")]


def test_another_failing_check_in_a_failing_cell_is_a_new_fail(tmp_path):
    cell = [f for f in SAMPLE["findings"] if f["host"] == "portal" and f["clause"] == "C.11"]
    assert len(cell) >= 2, "the sample needs two C.11 checks on portal"
    one = with_status(passing(SAMPLE), ("portal", cell[0]["check"]), "fail")
    two = with_status(one, ("portal", cell[1]["check"]), "fail")
    write_reports(make_report("r1", one), tmp_path)
    found = write_reports(make_report("r2", two), tmp_path)["regressions"]
    assert [(r["host"], r["clause"], r["kind"], r["previous_failures"], r["failures"]) for r in found] \
        == [("portal", "C.11", "more_failures", 1, 2)]


def test_a_new_host_that_fails_is_reported_and_a_limited_run_compares_with_the_last_run_that_saw_the_cell(tmp_path):
    victim = a_finding("files", "C.12")
    write_reports(make_report("r1", passing(SAMPLE), drop_hosts=("files",)), tmp_path)
    found = write_reports(make_report("r2", with_status(passing(SAMPLE), (victim["host"], victim["check"]), "fail")),
                          tmp_path)["regressions"]
    assert [(r["host"], r["kind"]) for r in found] == [("files", "new_fail")]
    # r3 audits only portal (--limit): files keeps r2's state; r4 sees files pass again, r5 fail: regressed vs r4.
    write_reports(make_report("r3", passing(SAMPLE), drop_hosts=("files", "ehr")), tmp_path)
    write_reports(make_report("r4", passing(SAMPLE)), tmp_path)
    found = write_reports(make_report("r5", with_status(passing(SAMPLE), (victim["host"], victim["check"]), "fail")),
                          tmp_path)["regressions"]
    assert [(r["host"], r["kind"], r["previous_run"]) for r in found] == [("files", "regressed", "r4")]


def test_damaged_history_line_is_skipped_not_fatal(tmp_path):
    write_reports(make_report("r1", passing(SAMPLE)), tmp_path)
    with open(tmp_path / "history.jsonl", "a") as handle:
        handle.write('{"run_id": "half-writ')  # a crash mid-line (disk full)
    write_reports(make_report("r2"), tmp_path)
    ids = [e["run_id"] for e in history.load(tmp_path)]
    assert ids == ["r1"]  # r2 was appended after the damaged fragment, on the same line


def _append_many(args):
    root, worker = args
    for i in range(50):
        history.append(root, {"run_id": "w%d-%d" % (worker, i), "cells": {"h": {"C.11": {"status": "pass"}}},
                              "pad": "x" * 5000})


def test_concurrent_appends_never_interleave(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_append_many, [(str(tmp_path), w) for w in range(4)])
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(lines) == 200
    assert len({json.loads(line)["run_id"] for line in lines}) == 200


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.titles, self._in_title, self.scripts_src = [], [], False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-clause" in attrs:
            self.rows.append(attrs["data-clause"])
        if tag == "title":
            self._in_title = True
        if tag in ("script", "img", "link") and (attrs.get("src") or attrs.get("href")):
            self.scripts_src.append(attrs.get("src") or attrs.get("href"))

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.titles.append(data)


def test_report_html_shows_the_trend_per_clause_offline(tmp_path):
    victim = a_finding("portal", "C.11")
    write_reports(make_report("r1", passing(SAMPLE), started="2026-11-20T02:30:00Z"), tmp_path)
    write_reports(make_report("r2", with_status(passing(SAMPLE), (victim["host"], victim["check"]), "fail"),
                              started="2026-11-21T02:30:00Z"), tmp_path)
    paths = write_reports(make_report("r3", passing(SAMPLE), started="2026-11-22T02:30:00Z"), tmp_path)
    page = Path(paths["html"]).read_text(encoding="utf-8")
    section = page[page.index('<section id="trend"'):page.index("</section>", page.index('<section id="trend"'))]
    parser = _Collect()
    parser.feed(section)
    clauses = {f["clause"] for f in SAMPLE["findings"] if f["host"] != "_organisation"}
    assert set(parser.rows) == clauses
    row = section[section.index('data-clause="C.11"'):]
    row = row[:row.index("</tr>")]
    assert row.count("<g><title>") == 3  # one bar per run
    hosts_c11 = sum(1 for h, cells in SAMPLE["matrix"].items() if h != "_organisation" and "C.11" in cells)
    titles = re.findall(r"<title>([^<]*)</title>", row)
    assert "fail 1" in titles[1] and "fail" not in titles[0] and "fail" not in titles[2]
    assert ">%d/%d<" % (hosts_c11, hosts_c11) in row  # not failing now: all of them
    whole = _Collect()
    whole.feed(page)
    assert whole.scripts_src == []  # nothing fetched: the report is opened offline
    assert "http://" not in section and "https://" not in section


def test_trend_leaves_out_ad_hoc_runs_and_keeps_the_last_runs():
    entries = [{"run_id": "r%d" % i, "playbook": "playbooks/audit.yml",
                "cells": {"h": {"C.11": {"status": "pass"}}, "_organisation": {"C.9": {"status": "manual"}}}}
               for i in range(40)]
    entries.insert(5, {"run_id": "adhoc", "playbook": "adhoc", "cells": {"h": {"C.11": {"status": "fail"}}}})
    rows = history.trend(entries, ["C.11", "C.9"])
    assert [p["run_id"] for p in rows["C.11"]] == ["r%d" % i for i in range(10, 40)]
    assert rows["C.9"] == []  # the organisation is not a host


@pytest.mark.parametrize("bad", ["", "\n\n", "not json\n"])
def test_empty_or_garbage_history_loads_as_empty(tmp_path, bad):
    (tmp_path / "history.jsonl").write_text(bad)
    assert history.load(tmp_path) == []
