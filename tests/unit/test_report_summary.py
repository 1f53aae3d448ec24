"""The renderers show each finding's summary, not its evidence flattened (issue 12, item 4).

Terminal: one line per failure or error, the summary at its end, no line longer than LINE_MAX, no JSON
or Python repr from the evidence. HTML: the summary first, the evidence as key/value lists and tables.
JUnit: the failure or error message is the summary. The reports start from tests/fixtures/report-sample.json
(findings from before summaries existed) and get summaries here, or long and nested data, as each test needs.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from iryo_guard.report import render_html, render_junit, render_table
from iryo_guard.report._common import finding_summary
from iryo_guard.report.html import render_data
from iryo_guard.report.terminal import LINE_MAX

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "report-sample.json"
# What a repr of a dict or a list looks like in text, as the old flattened evidence printed it.
REPR = re.compile(r"\{'|\{\"|\['|\[\"|\[\]|\{\}|': |\": |\bNone\b|\bTrue\b|\bFalse\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NESTED = {"accepted": [{"protocols": ["any"], "ports": "any", "sources": ["0.0.0.0/0"], "family": "ipv4",
                        "rule": {"chain": None, "comment": "no default-drop input chain"},
                        "conditions_not_evaluated": []}],
          "families": {"ipv4": {"default_drop": False, "dropping_chains": []}}, "input_chains": [], "tables": []}


def base() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def with_summaries(report: dict) -> dict:
    """Every finding gets a distinct summary and nested evidence like the real checks record."""
    report = copy.deepcopy(report)
    for i, f in enumerate(report["findings"]):
        f["summary"] = "summary %d of %s on %s: seen this, required that" % (i, f["check"], f["host"])
        if f["status"] == "fail":
            f["evidence"] = dict(NESTED, note=f["evidence"].get("note", "n/a"))
    return report


def problem_lines(out: str) -> list[str]:
    section = out.split("Failures and errors", 1)[1].splitlines()[1:]
    return [line for line in section if line and not line.startswith("\u2026")]


# --------------------------------------------------------------------------------------------------
# terminal


def test_terminal_shows_the_summary_of_each_failure_and_error():
    report = with_summaries(base())
    out = render_table(report)
    problems = [f for f in report["findings"] if f["status"] in ("fail", "error")]
    lines = problem_lines(out)
    assert len(lines) == len(problems)
    for f in problems:
        [line] = [line for line in lines if f"{f['check']} " in line and f" {f['host']} " in line]
        assert line.endswith(f["summary"]), line
    # nothing of the nested evidence leaks into the table
    assert "default-drop input chain" not in out and "0.0.0.0/0" not in out
    assert not REPR.search(out), REPR.search(out)


def test_terminal_without_summaries_prints_no_repr_either():
    """Findings from before summaries (the fixture, an old report.json, a check on the temporary allow-list)
    show the nearest plain sentence the check wrote, never the evidence as JSON or Python."""
    report = base()
    for f in report["findings"]:
        if f["status"] == "fail":
            f["evidence"] = dict(NESTED)
    out = render_table(report)
    assert not REPR.search(out), REPR.search(out)
    lines = problem_lines(out)
    error = next(f for f in report["findings"] if f["status"] == "error")
    assert any(line.endswith("could not decide: " + error["evidence"]["error"]) for line in lines)
    failing = next(f for f in report["findings"] if f["status"] == "fail" and f.get("remediation"))
    assert any(line.endswith("to do: " + failing["remediation"]) for line in lines)


@pytest.mark.parametrize("color", [False, True])
def test_no_terminal_line_is_longer_than_line_max(color):
    report = with_summaries(base())
    long_host = "ehr-01.clinic-network.example-hospital.jp-" + "x" * 60
    for f in report["findings"]:
        if f["host"] == "ehr":
            f["host"] = long_host
            f["target"] = "/etc/apache2/sites-available/" + "very-long-name-" * 10 + ".conf"
            f["summary"] = ("accepts every port from every source (no default drop) in IPv4 and IPv6; declared: "
                            + ", ".join("tcp/%d from 10.89.%d.0/24" % (p, p % 250) for p in range(400, 420)))[:240]
    report["hosts"][1]["name"] = long_host
    report["matrix"][long_host] = report["matrix"].pop("ehr")
    path = "/srv/iryo-guard/reports/20261204T151307Z-audit/report.html"
    out = render_table(report, color=color, report_path=path)
    for line in out.splitlines():
        assert len(line) <= LINE_MAX, (len(line), line)
    cut = [line for line in problem_lines(out) if long_host[:30] in line]
    assert cut and all(line.endswith("\u2026 see " + path) for line in cut), cut
    plain = ANSI.sub("", out)
    assert long_host not in plain  # cut in the table too, where columns must stay aligned


def test_the_rest_of_a_long_problem_list_points_at_the_report():
    report = with_summaries(base())
    template = next(f for f in report["findings"] if f["status"] == "fail")
    report["findings"] += [dict(template, target="pkg%d" % i, summary="pending %d" % i) for i in range(40)]
    report["totals"] = None  # counted from the findings
    out = render_table(report, report_path="reports/x/report.html")
    assert out.splitlines()[-1].endswith("more (see reports/x/report.html)")


def test_wide_characters_count_as_two_cells():
    report = with_summaries(base())
    for f in report["findings"]:
        if f["status"] == "fail":
            f["summary"] = "架空通信株式会社 / 拠点間閉域網: 確認日が古い" * 20
            f["summary"] = f["summary"][:240]
    out = render_table(report)
    import unicodedata
    for line in out.splitlines():
        cells = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
        assert cells <= LINE_MAX, (cells, line)


def test_terminal_ascii_only_escapes_a_summary():
    report = with_summaries(base())
    f = next(f for f in report["findings"] if f["status"] == "fail")
    f["summary"] = "証明書の期限切れ \x1b[2J (expired)"
    out = render_table(report, ascii_only=True)
    assert out.isascii() and "\x1b" not in out
    assert "\\u8a3c\\u660e\\u66f8" in out


def test_finding_summary_prefers_the_summary_and_folds_it():
    assert finding_summary({"summary": "a\nb\tc  \x1bd", "evidence": {"error": "e"}}) == "a b c d"
    assert finding_summary({"summary": " ", "evidence": {"error": "timed out"}}) == "could not decide: timed out"
    assert finding_summary({"evidence": {"violations": ["TLSv1.0 is accepted", "TLSv1.1 is accepted"]}}) == (
        "TLSv1.0 is accepted; TLSv1.1 is accepted")
    assert finding_summary({"evidence": {"reason": "stale"}, "remediation": "x"}) == "stale"
    assert finding_summary({"evidence": {"k": {"nested": []}}, "remediation": "Update."}) == "to do: Update."
    assert finding_summary({"evidence": [], "title_en": "Pending security updates"}) == "Pending security updates"


# --------------------------------------------------------------------------------------------------
# HTML


class _Collect(HTMLParser):
    """Text of the elements with a given class, and every tag seen inside an evidence block."""

    def __init__(self, cls):
        super().__init__(convert_charrefs=True)
        self.cls, self.depth, self.found, self.tags, self.current = cls, 0, [], [], None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self.depth:
            self.depth += 1
            self.tags.append(tag)
        elif self.cls in classes:
            self.depth, self.current = 1, []

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.found.append("".join(self.current))

    def handle_data(self, data):
        if self.depth:
            self.current.append(data)


def collect(page, cls):
    parser = _Collect(cls)
    parser.feed(page)
    return parser


def test_html_shows_each_summary_first_and_evidence_as_data():
    report = with_summaries(base())
    page = render_html(report)
    summaries = collect(page, "fsummary").found
    assert sorted(summaries) == sorted(f["summary"] for f in report["findings"])
    # the summary comes before the evidence inside each finding
    for f in report["findings"]:
        assert page.index(f["summary"]) < page.index("ev-evidence", page.index(f["summary"]))
    evidence = collect(page, "ev-data")
    text = " ".join(evidence.found)
    assert "no default-drop input chain" in text and "0.0.0.0/0" in text
    assert not REPR.search(text), REPR.search(text)
    assert {"dl", "dt", "dd", "table", "th", "td"} <= set(evidence.tags)
    assert "pre" not in evidence.tags


def test_render_data_tables_lists_and_plain_words():
    rows = [{"package": "less", "candidate": "590-2+deb12u99lab1", "security": True, "origins": ["Debian-Security"]},
            {"package": "nano", "candidate": "7.2-1+deb12u99lab1", "security": True, "origins": []}]
    html = render_data({"pending_security": rows, "pending_other": ["file"], "lists_age_hours": 0.1,
                        "note": None, "empty": {}})
    assert '<th scope="col">package</th>' in html and "<td>less</td>" in html and "<td>nano</td>" in html
    assert "pending security" in html  # keys read as words
    assert "590-2+deb12u99lab1" in html and "0.1" in html and "\u2014" in html
    assert 'lang="en">yes<' in html and 'lang="ja">はい<' in html  # booleans are words in both languages
    parsed = collect("<div class='x'>%s</div>" % html, "x")
    assert not REPR.search(parsed.found[0]), parsed.found[0]
    # too wide for a table: numbered key/value lists; hostile text stays text
    wide = [{"k%d" % i: i for i in range(12)}, {"script": "<script>alert(1)</script>"}]
    html = render_data(wide)
    assert html.startswith('<ol class="data-items">') and "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # deeper than the renderer nests: plain words, still no brackets
    deep = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": ["x", {"y": "z"}]}}}}}}}}}}
    parsed = collect("<div class='x'>%s</div>" % render_data(deep), "x")
    assert "j: x, y: z" in parsed.found[0] and not REPR.search(parsed.found[0])


def test_many_plain_values_become_a_list_and_few_stay_inline():
    assert render_data(["a", "b"]) == '<span class="data-inline">a, b</span>'
    many = render_data(["hmac-sha1-etm@openssh.com"] * 12)
    assert many.startswith('<ul class="data-list">') and many.count("<li>") == 12


# --------------------------------------------------------------------------------------------------
# JUnit


def test_junit_failure_and_error_messages_are_the_summaries():
    report = with_summaries(base())
    root = ET.fromstring(render_junit(report).split("\n", 1)[1])
    by_name = {}
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            by_name[(suite.get("name"), case.get("name"))] = case
    checked = 0
    for f in report["findings"]:
        if f["status"] not in ("fail", "error"):
            continue
        case = by_name[(f["host"], "%s [%s]" % (f["check"], f["target"]) if f["target"] else f["check"])]
        node = case.find("failure" if f["status"] == "fail" else "error")
        expired = (f.get("exception") or {}).get("expired")
        assert node.get("message") == f["summary"] + (
            " (exception expired %s)" % f["exception"]["expires"] if expired else "")
        assert node.text.splitlines()[0] == f["summary"]
        checked += 1
    assert checked == sum(1 for f in report["findings"] if f["status"] in ("fail", "error")) > 2
