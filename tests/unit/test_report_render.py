"""Renderers of the report model: HTML, JUnit XML and the terminal table.

All tests read tests/fixtures/report-sample.json, a hand-made report of the lab (hosts portal,
ehr, files and the organisation pseudo-host) with every status, a valid and an expired
exception, Japanese text and hostile evidence.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from iryo_guard.report import render_html, render_junit, render_table
from iryo_guard.report._common import strip_controls
from iryo_guard.report.terminal import ABBREV, MAX_PROBLEM_LINES

ROOT = Path(__file__).resolve().parents[2]

FIXTURE = ROOT / "tests" / "fixtures" / "report-sample.json"
STATUSES = ("pass", "fail", "manual", "not_applicable", "excepted", "error")
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def report():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def page(report):
    return render_html(report)


@pytest.fixture(scope="module")
def dom(page):
    return parse(page)


# --------------------------------------------------------------------------------------------
# A very small DOM built with the standard library's HTML parser.

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children: list = []  # Node or str

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        out = []
        for n in self.iter():
            if n is self:
                continue
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.classes:
                continue
            if any(n.attrs.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(n)
        return out

    def find(self, *args, **kwargs):
        found = self.find_all(*args, **kwargs)
        return found[0] if found else None


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        assert n is not None, f"unmatched </{tag}>"
        assert n is self.cur, f"</{tag}> closes <{self.cur.tag}> too: badly nested HTML"
        self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    builder.close()
    assert builder.cur is builder.root, f"unclosed <{builder.cur.tag}>"
    return builder.root


def ancestor(node: Node, tag: str) -> Node:
    while node.tag != tag:
        node = node.parent
    return node


def leaves(value) -> list[str]:
    """The strings and numbers in evidence, as the report shows them (control characters replaced)."""
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v)]
    if isinstance(value, bool) or value is None:
        return []
    return [strip_controls(str(value))]


def ja_text(node: Node) -> str:
    """Text of a node as a Japanese reader sees it (English spans left out)."""
    out = []
    for c in node.children:
        if isinstance(c, str):
            out.append(c)
        elif "l-en" not in c.classes:
            out.append(ja_text(c))
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Fixture sanity: the fixture must cover what the tests claim to cover.


def test_fixture_covers_every_status_and_both_exceptions(report):
    seen = {f["status"] for f in report["findings"]}
    assert seen == set(STATUSES)
    exceptions = [f["exception"] for f in report["findings"] if "exception" in f]
    assert {e["expired"] for e in exceptions} == {True, False}
    assert any(HOSTILE in json.dumps(f["evidence"], ensure_ascii=False) for f in report["findings"])
    assert [h["name"] for h in report["hosts"]] == ["portal", "ehr", "files", "_organisation"]
    counted = {s: sum(1 for f in report["findings"] if f["status"] == s) for s in STATUSES}
    assert counted == report["totals"]


# --------------------------------------------------------------------------------------------
# HTML


def test_html_is_well_nested_and_self_contained(page, dom):
    assert page.startswith("<!DOCTYPE html>")
    assert dom.find_all("link") == [] and dom.find_all("img") == [] and dom.find_all("iframe") == []
    for node in dom.iter():
        for attr in ("src", "href", "action"):
            value = node.attrs.get(attr)
            if value is not None:
                assert value.startswith("#"), f"<{node.tag} {attr}={value!r}> leaves the file"
    scripts = dom.find_all("script")
    styles = dom.find_all("style")
    assert len(scripts) == 1 and "src" not in scripts[0].attrs
    assert len(styles) == 1
    assert "@import" not in styles[0].text() and "url(" not in styles[0].text()


def test_html_csp_allows_exactly_the_inline_script_and_style(dom):
    csp = dom.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp

    def digest(text):
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert f"script-src {digest(dom.find('script').text())}" in csp
    assert f"style-src {digest(dom.find('style').text())}" in csp


def test_matrix_has_one_row_per_host_and_one_column_per_clause_in_catalog_order(report, dom):
    table = dom.find("table", cls="matrix")
    catalog = [c["id"] for c in report["clauses"]]
    assert catalog[:13] == [f"C.{i}" for i in range(1, 14)] and catalog[13:] == ["D.1", "D.2"]
    cols = [th.attrs["data-clause"] for th in table.find_all("th", cls="col")]
    assert cols == catalog
    rows = table.find("tbody").find_all("tr")
    assert [tr.attrs["data-host"] for tr in rows] == [h["name"] for h in report["hosts"]]
    for tr in rows:
        host = tr.attrs["data-host"]
        cells = tr.find_all("td", cls="cell")
        assert [td.attrs["data-clause"] for td in cells] == catalog
        for td in cells:
            expected = report["matrix"].get(host, {}).get(td.attrs["data-clause"])
            if expected is None:
                assert "empty" in td.classes and td.find("a") is None
            else:
                assert td.attrs["data-status"] == expected
                badge = td.find("span", cls="badge")
                assert badge.attrs["data-status"] == expected
                # Not colour only: a symbol and a word in both languages.
                assert badge.find("span", cls="sym").text().strip()
                assert badge.find("span", cls="l-ja").text().strip()
                assert badge.find("span", cls="l-en").text().strip().upper() == badge.find(
                    "span", cls="l-en").text().strip()


def test_every_finding_appears_in_its_drilldown(report, dom):
    table = dom.find("table", cls="matrix")
    by_cell: dict = {}
    for f in report["findings"]:
        by_cell.setdefault((f["host"], f["clause"]), []).append(f)
    seen = 0
    for tr in table.find("tbody").find_all("tr"):
        host = tr.attrs["data-host"]
        for td in tr.find_all("td", cls="cell"):
            link = td.find("a", cls="cell-link")
            if link is None:
                assert (host, td.attrs["data-clause"]) not in by_cell
                continue
            target = dom.find(id=link.attrs["href"][1:])
            assert target is not None, f"cell {host} x {td.attrs['data-clause']} links to nothing"
            # The link points inside the <details>, so browsers open it even without JavaScript.
            details = target.parent
            assert details.tag == "details" and target is not details.children[0]
            assert details.attrs["data-status"] == td.attrs["data-status"]
            expected = by_cell[(host, td.attrs["data-clause"])]
            articles = details.find_all("article", cls="finding")
            got = sorted((a.find("code", cls="checkid").text(),
                          (a.find("code", cls="target").text() if a.find("code", cls="target") else ""),
                          a.attrs["data-status"]) for a in articles)
            assert got == sorted((f["check"], f["target"], f["status"]) for f in expected)
            for article, _ in zip(articles, expected):
                blocks = article.find_all("div", cls="ev-data")
                assert len(blocks) == 2  # evidence and expected
            seen += len(articles)
    assert seen == len(report["findings"])


def test_drilldown_shows_every_field(report, dom):
    for f in report["findings"]:
        articles = [a for a in dom.find_all("article", cls="finding")
                    if a.find("code", cls="checkid").text() == f["check"]
                    and ancestor(a, "section").attrs.get("data-host") == f["host"]]
        assert len(articles) == 1, (f["host"], f["check"])
        text = articles[0].text()
        evidence, expected = articles[0].find_all("div", cls="ev-data")
        # Every word and number the check recorded is shown (as data, not as JSON).
        assert all(leaf in evidence.text() for leaf in leaves(f["evidence"])), f["evidence"]
        assert all(leaf in expected.text() for leaf in leaves(f["expected"])), f["expected"]
        for value in (f["title_ja"], f["title_en"], f["source"]["document"]):
            assert value in text
        if f["remediation"]:
            assert f["remediation"] in text
        assert ("自動是正：可" in text) == f["fixable"]
        if "exception" in f:
            exc = f["exception"]
            box = articles[0].find("div", cls="exception")
            assert box is not None
            for value in (exc["reason"], exc["approver"], exc["expires"]):
                assert value in box.text()
            assert ("expired" in box.classes) == exc["expired"]
            assert ("EXPIRED" in box.text()) == exc["expired"]


def test_hostile_evidence_is_escaped(page, dom):
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '"><img src=x' not in page
    assert len(dom.find_all("script")) == 1
    assert dom.find_all("img") == []
    # The text survives: an auditor still sees exactly what the host sent.
    assert any(HOSTILE in block.text() for block in dom.find_all("div", cls="ev-data"))
    assert "\x1b" not in page


def test_every_model_string_is_escaped(report):
    evil = copy.deepcopy(report)
    bad = '<script>alert("x")</script>\'"&<b onmouseover=1>'
    evil["run"]["id"] = bad
    evil["run"]["controller"] = bad
    evil["document"]["title_ja"] = bad
    evil["clauses"][0]["text_ja"] = bad
    evil["clauses"][0]["checks"][0]["title_en"] = bad
    evil["clauses"][0]["guideline_6_0"][0]["note_en"] = bad
    evil["hosts"][0]["groups"] = [bad]
    f = evil["findings"][0]
    f.update(check=bad, target=bad, remediation=bad, title_ja=bad, title_en=bad, severity=bad, status=bad)
    f["exception"] = {"reason": bad, "approver": bad, "expires": bad, "expired": False}
    f["source"] = {"document": bad, "confidence": bad}
    evil["hosts"].append({"name": bad, "groups": [], "reachable": False})
    evil["findings"].append(dict(evil["findings"][1], host=bad, clause=bad))
    evil["matrix"][bad] = {bad: "fail"}
    page = render_html(evil)
    dom = parse(page)
    assert len(dom.find_all("script")) == 1
    assert "<b onmouseover" not in page
    for node in dom.iter():
        assert not any(k.startswith("on") for k in node.attrs), node.tag
    # the hostile host is still listed, by its (escaped) name
    assert any(tr.attrs.get("data-host") == bad for tr in dom.find("table", cls="matrix").find_all("tr"))


def test_unconfirmed_clauses_carry_a_visible_badge(report, dom):
    for clause in report["clauses"]:
        article = dom.find("article", id=_clause_anchor(dom, clause["id"]))
        badge = article.find("h3").find("span", cls="conf")
        if clause["confidence"] == "unconfirmed":
            assert "conf-unconfirmed" in badge.classes
            # Visible in both languages (not inside a language span that CSS may hide).
            assert "UNCONFIRMED" in badge.text() and "未確認" in badge.text()
            assert not badge.find_all(cls="l-en")
        else:
            assert "UNCONFIRMED" not in article.find("h3").text()
    # and the matrix column head warns too
    heads = {th.attrs["data-clause"]: th for th in dom.find_all("th", cls="col")}
    for clause in report["clauses"]:
        warned = "UNCONFIRMED" in heads[clause["id"]].text()
        assert warned == (clause["confidence"] == "unconfirmed")


def _clause_anchor(dom, cid):
    th = [t for t in dom.find_all("th", cls="col") if t.attrs["data-clause"] == cid][0]
    return th.find("a").attrs["href"][1:]


def test_clause_list_shows_checks_crossrefs_and_manual_evidence(report, dom):
    for clause in report["clauses"]:
        article = dom.find("article", id=_clause_anchor(dom, clause["id"]))
        text = article.text()
        assert clause["text_ja"] in text and clause["summary_en"] in text
        for ref in clause["guideline_6_0"]:
            assert ref["ref"] in text and ref["note_en"] in text
        for check in clause["checks"]:
            assert check["id"] in text
            if check["kind"] == "manual":
                for item in check.get("evidence_needed", []):
                    assert item in text
    kinds = {n.text() for n in dom.find("section", id="clauses").find_all("span", cls="kind")}
    assert kinds == {"手動manual", "自動automated"}


def test_both_languages_and_organisation_label(report, dom, page):
    radios = dom.find_all("input", cls="lang-radio")
    assert [r.attrs["id"] for r in radios] == ["ig-lang-ja", "ig-lang-en"]
    assert "checked" in radios[0].attrs and "checked" not in radios[1].attrs  # Japanese by default
    assert dom.find("html").attrs["lang"] == "ja"
    labels = {lab.attrs["for"]: lab.text() for lab in dom.find_all("label") if "for" in lab.attrs}
    assert labels == {"ig-lang-ja": "日本語", "ig-lang-en": "English"}
    assert report["document"]["title_ja"] in page and report["document"]["title_en"] in page
    ja = dom.find_all(cls="l-ja")
    en = dom.find_all(cls="l-en")
    assert len(ja) == len(en) > 100
    assert all(n.attrs.get("lang") == "ja" for n in ja) and all(n.attrs.get("lang") == "en" for n in en)
    rows = dom.find("table", cls="matrix").find_all("tr")
    org = [tr for tr in rows if tr.attrs.get("data-host") == "_organisation"]
    assert "組織（運用・契約）" in org[0].text() and "Organisation (policy & contracts)" in org[0].text()
    assert "_organisation" not in ja_text(org[0].find("th"))
    assert "監査モード（チェックモード）" in page and "Audit only (check mode)" in page


def test_enforce_mode_is_announced(report):
    enforced = copy.deepcopy(report)
    enforced["run"]["check_mode"] = False
    page = render_html(enforced)
    assert 'class="mode mode-enforce"' in page and "Enforce mode" in page
    assert 'class="mode mode-check"' not in page


def test_totals_chips_match_totals(report, dom):
    chips = {a.attrs["class"].split()[1][3:]: int(a.find("b", cls="num").text())
             for a in dom.find_all("a", cls="chip")}
    assert chips == report["totals"]


@pytest.mark.parametrize("model,fails,checks,hosts", [
    ({}, 0, [], []),
    ({"findings": [{"check": "x", "status": "fail"}]}, 1, ["x"], ["(none)"]),  # a finding without a host
    ({"hosts": [{"name": "a"}]}, 0, [], ["a"]),
])
def test_renderers_survive_an_empty_or_partial_model(model, fails, checks, hosts):
    """Each renderer shows exactly what the partial model holds: its findings, hosts and counts."""
    dom = parse(render_html(model))
    chips = {a.attrs["class"].split()[1][3:]: int(a.find("b", cls="num").text()) for a in dom.find_all("a", cls="chip")}
    assert chips == dict.fromkeys(STATUSES, 0) | {"fail": fails}
    assert [a.find("code", cls="checkid").text() for a in dom.find_all("article", cls="finding")] == checks
    assert [tr.attrs["data-host"] for tr in dom.find("table", cls="matrix").find("tbody").find_all("tr")] == hosts

    root = ET.fromstring(render_junit(model))
    assert (int(root.get("tests")), int(root.get("failures")), int(root.get("errors"))) == (len(checks), fails, 0)
    assert [c.get("name") for c in root.iter("testcase")] == checks
    assert [s.get("name") for s in root.findall("testsuite")] == hosts

    table = render_table(model)
    assert "Totals: FAIL %d " % fails in table and "(%d findings)" % len(checks) in table
    assert all(host in table for host in hosts)
    assert ("Failures and errors (1):" in table) == bool(fails)


def test_matrix_falls_back_to_cell_precedence_without_matrix(report):
    bare = copy.deepcopy(report)
    del bare["matrix"]
    dom = parse(render_html(bare))
    for tr in dom.find("table", cls="matrix").find("tbody").find_all("tr"):
        for td in tr.find_all("td", cls="cell"):
            assert td.attrs.get("data-status") == report["matrix"][tr.attrs["data-host"]].get(
                td.attrs["data-clause"])


# --------------------------------------------------------------------------------------------
# JUnit


def test_junit_parses_and_counts_match_statuses(report):
    xml = render_junit(report)
    root = ET.fromstring(xml)
    totals = report["totals"]
    assert root.tag == "testsuites"
    assert int(root.get("tests")) == len(report["findings"])
    assert int(root.get("failures")) == totals["fail"]
    assert int(root.get("errors")) == totals["error"]
    assert int(root.get("skipped")) == totals["manual"] + totals["not_applicable"]
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [h["name"] for h in report["hosts"]]
    for suite in suites:
        cases = suite.findall("testcase")
        host_findings = [f for f in report["findings"] if f["host"] == suite.get("name")]
        assert int(suite.get("tests")) == len(cases) == len(host_findings)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        expected = sorted((f["clause"], f"{f['check']} [{f['target']}]", f["status"]) for f in host_findings)
        got = []
        for c in cases:
            if c.find("failure") is not None:
                status = "fail"
            elif c.find("error") is not None:
                status = "error"
            elif c.find("skipped") is not None:
                manual = c.find("skipped").get("message").startswith("manual")
                status = "manual" if manual else "not_applicable"
            elif c.find("system-out") is not None:
                status = "excepted"
            else:
                status = "pass"
            got.append((c.get("classname"), c.get("name"), status))
        assert sorted(got) == expected


def test_junit_names_exceptions_and_strips_control_characters(report):
    xml = render_junit(report)
    assert "\x1b" not in xml
    root = ET.fromstring(xml)
    outs = [c.find("system-out").text for c in root.iter("testcase") if c.find("system-out") is not None]
    valid = [f["exception"] for f in report["findings"] if f["status"] == "excepted"]
    assert len(outs) == len(valid) == 1
    assert valid[0]["approver"] in outs[0] and valid[0]["expires"] in outs[0] and "EXCEPTED" in outs[0]
    expired = [c for c in root.iter("testcase") if c.find("failure") is not None
               and "exception expired" in c.find("failure").get("message")]
    assert len(expired) == 1
    # hostile text is carried, escaped, and reads back intact
    evil = copy.deepcopy(report)
    failing = next(f for f in evil["findings"] if f["status"] == "fail")
    failing["evidence"] = {"banner": HOSTILE + "]]></failure><x>"}
    failing["target"] = '"><x y="'
    xml = render_junit(evil)
    assert HOSTILE not in xml and "&lt;script&gt;" in xml
    root = ET.fromstring(xml)
    assert any(HOSTILE + "]]></failure><x>" in (c.find("failure").text or "") for c in root.iter("testcase")
               if c.find("failure") is not None)
    assert any(c.get("name").endswith('["><x y="]') for c in root.iter("testcase"))
    assert root.find(".//x") is None


def test_junit_survives_characters_xml_cannot_carry(report):
    evil = copy.deepcopy(report)
    evil["findings"][0].update(status="fail", target="\x00\x07\x1b[2J\ud800", evidence={"x": "\x0b\x0c"})
    root = ET.fromstring(render_junit(evil))
    assert root.get("tests") == str(len(evil["findings"]))


# --------------------------------------------------------------------------------------------
# Terminal


def _table_lines(out: str) -> list[str]:
    lines = out.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    return lines[rules[0] + 1:rules[2]]


def test_terminal_lists_every_host_and_totals_match(report):
    out = render_table(report)
    lines = _table_lines(out)
    header, rows = lines[0], lines[2:]
    assert [r.split()[0] for r in rows] == [h["name"] for h in report["hosts"]]
    totals_line = next(line for line in out.splitlines() if line.startswith("Totals:"))
    got = dict(re.findall(r"([A-Z-]+) (\d+)", totals_line))
    abbrev_to_status = {v: k for k, v in ABBREV.items()}
    assert {abbrev_to_status[k]: int(v) for k, v in got.items()} == report["totals"]
    assert f"({len(report['findings'])} findings)" in totals_line
    # columns: only clauses that have a finding, in catalog order, aligned with the cells
    used = [c["id"] for c in report["clauses"] if any(f["clause"] == c["id"] for f in report["findings"])]
    assert header.split()[1:] == used
    for row in rows:
        host = row.split()[0]
        for cid in used:
            pos = header.index(f" {cid} " if f" {cid} " in header else f" {cid}") + 1
            word = row[pos:pos + 4].strip()
            status = report["matrix"][host].get(cid)
            assert word == (ABBREV[status] if status else "."), (host, cid, row)
    assert "\x1b" not in out


def test_terminal_lists_failures_and_errors(report):
    out = render_table(report)
    problems = [f for f in report["findings"] if f["status"] in ("fail", "error")]
    section = out.split("Failures and errors")[1]
    for f in problems:
        assert re.search(rf"{ABBREV[f['status']]}\s+{f['severity']}\s+{re.escape(f['host'])}\s+"
                         rf"{re.escape(f['check'])}", section), f
    assert "exception expired 2026-10-31" in section


def test_terminal_color_and_ascii_only(report):
    coloured = render_table(report, color=True)
    assert "\x1b[1;31mFAIL" in coloured
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert [line.rstrip() for line in plain.splitlines()] == [
        line.rstrip() for line in render_table(report).splitlines()]
    ascii_out = render_table(report, ascii_only=True)
    assert ascii_out.isascii()
    assert "\\u" in ascii_out  # Japanese evidence escaped, not dropped


def test_terminal_strips_escape_sequences_from_host_data(report):
    evil = copy.deepcopy(report)
    evil["findings"][0].update(status="fail", target="x\x1b]0;pwned\x07\x1b[2J",
                               evidence={"error": "\x1b[31mred"})
    out = render_table(evil)
    assert "\x1b" not in out and "\x07" not in out


def test_terminal_caps_the_problem_list(report):
    many = copy.deepcopy(report)
    template = next(f for f in many["findings"] if f["status"] == "fail")
    many["findings"] += [dict(template, target=f"pkg{i}") for i in range(50)]
    many["totals"] = dict(many["totals"], fail=many["totals"]["fail"] + 50)
    out = render_table(many)
    section = out.split("Failures and errors")[1].splitlines()[1:]
    total = report["totals"]["fail"] + report["totals"]["error"] + 50
    assert len(section) == MAX_PROBLEM_LINES
    assert section[-1].startswith(f"\u2026 {total - (MAX_PROBLEM_LINES - 1)} more")


def test_terminal_aligns_wide_host_names(report):
    wide = copy.deepcopy(report)
    wide["hosts"][0]["name"] = "電子カルテ"
    for f in wide["findings"]:
        if f["host"] == "portal":
            f["host"] = "電子カルテ"
    wide["matrix"]["電子カルテ"] = wide["matrix"].pop("portal")
    lines = _table_lines(render_table(wide))
    import unicodedata

    def width(s):
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)

    header = lines[0]
    c1 = header.index(" C.1") + 1
    for row in lines[2:]:
        prefix_end = next(i for i in range(len(row) + 1) if width(row[:i]) >= c1)
        assert width(row[:prefix_end]) == c1, row
        assert row[prefix_end] != " " and row[prefix_end - 1] == " ", row


def test_unreachable_host_is_marked_everywhere(report):
    down = copy.deepcopy(report)
    down["hosts"][2]["reachable"] = False
    dom = parse(render_html(down))
    row = [tr for tr in dom.find("table", cls="matrix").find_all("tr") if tr.attrs.get("data-host") == "files"][0]
    assert "到達不能" in row.text() and "unreachable" in row.text()
    assert "files (unreachable)" in render_table(down)
