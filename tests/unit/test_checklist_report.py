"""The inspection checklist in the report's renderers and in the merge (issue 14 item 4).

The report is tests/checklist_fixture.py's (findings made with the schema and the catalog, the model built as
the callback builds it). The HTML is parsed with the standard library's parser; the print layout itself is
measured in a real browser by tests/integration/test_report_browser.py.
"""

import copy
import datetime
import re
from html.parser import HTMLParser

import pytest

import checklist_fixture as fx
from iryo_guard.catalog import load_catalog
from iryo_guard.report import render_html, render_table
from iryo_guard.report.html import CSS
from iryo_guard.report.merge import MergeError, merge_reports
from iryo_guard.report.model import build_report, iso, new_run

ANSWER_WORDS = {"yes": ("はい", "Yes"), "no": ("いいえ", "No"), "to_confirm": ("要確認", "To confirm")}


@pytest.fixture(scope="module")
def report():
    return fx.report(targets={"2-6": "2026-03-31", "3-3": "2031-03-31"})


@pytest.fixture(scope="module")
def page(report):
    return render_html(report)


class Tree(HTMLParser):
    """Elements with their attributes and text, nested (void elements closed at once)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = {"tag": "root", "attrs": {}, "children": [], "parent": None}
        self.node = self.root

    def handle_starttag(self, tag, attrs):
        node = {"tag": tag, "attrs": dict(attrs), "children": [], "parent": self.node}
        self.node["children"].append(node)
        if tag not in self.VOID:
            self.node = node

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node["tag"] != tag:
            node = node["parent"]
        if node is not None and node["parent"] is not None:
            self.node = node["parent"]

    def handle_data(self, data):
        self.node["children"].append(data)


def parse(page):
    tree = Tree()
    tree.feed(page)
    return tree.root


def walk(node):
    for child in node["children"]:
        if isinstance(child, dict):
            yield child
            yield from walk(child)


def find(node, tag=None, cls=None, **attrs):
    for el in walk(node):
        if tag and el["tag"] != tag:
            continue
        if cls and cls not in (el["attrs"].get("class") or "").split():
            continue
        if all(el["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items()):
            yield el


def text_of(node, lang=None):
    """The text, leaving out the other language's spans when lang is given."""
    out = []
    for child in node["children"]:
        if isinstance(child, str):
            out.append(child)
        elif lang and child["attrs"].get("lang") not in (None, lang) and \
                set((child["attrs"].get("class") or "").split()) & {"l-ja", "l-en"}:
            continue
        else:
            out.append(text_of(child, lang))
    return "".join(out)


@pytest.fixture(scope="module")
def dom(page):
    return parse(page)


def sheets_of(report):
    return [report["checklist"]] + report["checklist"]["per_vendor"]


def test_the_checklist_is_a_section_reachable_from_the_top(dom):
    section = list(find(dom, "section", id="checklist"))
    assert len(section) == 1
    toc = next(find(dom, "nav", cls="toc"))
    hrefs = [a["attrs"]["href"] for a in find(toc, "a")]
    assert hrefs.index("#checklist") == hrefs.index("#matrix") + 1


def test_one_sheet_for_the_hospital_and_one_per_vendor(dom, report):
    sheets = list(find(dom, "article", cls="cl-sheet"))
    assert [s["attrs"]["data-sheet"] for s in sheets] == ["hospital", "vendor", "vendor"]
    assert [s["attrs"].get("data-vendor") for s in sheets] == [None] + [v["vendor"] for v in
                                                                        report["checklist"]["per_vendor"]]
    ids = [s["attrs"]["id"] for s in sheets]
    assert len(set(ids)) == 3
    nav = next(find(dom, "nav", cls="cl-nav"))
    assert [a["attrs"]["href"] for a in find(nav, "a")] == ["#" + i for i in ids]


def test_the_vendor_name_is_text_not_markup(page):
    assert "架空ウェブ株式会社 &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1


def test_rows_follow_the_sheet_with_the_models_answers(dom, report):
    for sheet, model in zip(find(dom, "article", cls="cl-sheet"), sheets_of(report)):
        rows = list(find(sheet, "tr", cls="cl-item"))
        assert [r["attrs"]["data-item"] for r in rows] == [i["key"] for i in model["items"]]
        assert [r["attrs"]["data-answer"] for r in rows] == [i["answer"] for i in model["items"]]
        for row, item in zip(rows, model["items"]):
            answer_cell = next(find(row, "td", cls="cl-ans"))
            chosen = [text_of(x, "ja") for x in find(answer_cell, "span", cls="cl-sel")]
            if item["answer"] == "to_confirm":
                assert chosen == [] and text_of(next(find(answer_cell, cls="cl-pending")), "ja") == "要確認"
            else:
                assert chosen == [ANSWER_WORDS[item["answer"]][0]], item["key"]
                assert [text_of(x, "en") for x in find(answer_cell, "span", cls="cl-sel")] == \
                       [ANSWER_WORDS[item["answer"]][1]]
            no = text_of(next(find(row, "td", cls="cl-no")))
            assert no.startswith(item["number"]), item["key"]
            assert text_of(next(find(row, "td", cls="cl-date"))) == item["confirmed_on"]
            target = text_of(next(find(row, "td", cls="cl-target")))
            assert target == (item["target_date"] or "") + (item["target_note"] or ""), item["key"]


def test_sections_as_printed_and_the_unplaced_item_last(dom, report):
    sheet = next(find(dom, "article", cls="cl-sheet"))
    bodies = list(find(sheet, "tbody", cls="cl-section"))
    assert [b["attrs"]["data-section"] for b in bodies] == ["1", "2", "3", ""]
    heads = [text_of(next(find(b, "tr", cls="cl-sec")), "ja") for b in bodies]
    assert heads[:3] == ["1 体制構築", "2 医療情報システムの管理・運用", "3 インシデント発生に備えた対応"]
    assert "UNCONFIRMED" in heads[3]
    assert [text_of(next(find(b, "tr", cls="cl-sec")), "en") for b in bodies][0] == "1 Organisation"


def test_unconfirmed_items_are_marked_in_both_languages(dom, report):
    sheet = next(find(dom, "article", cls="cl-sheet"))
    for row, item in zip(find(sheet, "tr", cls="cl-item"), report["checklist"]["items"]):
        cell = next(find(row, "td", cls="cl-text"))
        badges = list(find(cell, "span", cls="conf-unconfirmed"))
        assert bool(badges) == (item["confidence"] == "unconfirmed"), item["key"]
        for lang in ("ja", "en"):
            shown = text_of(cell, lang)
            assert ("UNCONFIRMED" in shown) == (item["confidence"] == "unconfirmed"), (item["key"], lang)
            assert item["text_ja"] in shown  # the official wording in both languages
        assert item["gloss_en"] in text_of(cell, "en") and item["gloss_en"] not in text_of(cell, "ja")


def test_headers_and_labels_in_both_languages(dom):
    sheet = next(find(dom, "article", cls="cl-sheet"))
    head = next(find(sheet, "thead"))
    assert [text_of(th, "ja") for th in find(head, "th")] == ["No.", "確認項目", "回答", "確認日", "目標日",
                                                              "根拠（ホスト・証跡）"]
    assert [text_of(th, "en") for th in find(head, "th")] == ["No.", "Item", "Answer", "Date checked", "Target date",
                                                              "Based on (hosts, evidence)"]
    title = next(find(sheet, "h3"))
    assert text_of(title, "ja") == "【医療機関確認用】" and text_of(title, "en") == "Sheet for the medical institution"


def test_the_evidence_column_names_hosts_checks_and_records(dom, report):
    sheet = next(find(dom, "article", cls="cl-sheet"))
    rows = {r["attrs"]["data-item"]: r for r in find(sheet, "tr", cls="cl-item")}
    patches = text_of(next(find(rows["2-6"], "td", cls="cl-ev")), "en")
    assert "c12.patches.security_pending" in patches and "ehr: 2 security updates pending" in patches
    assert "DOC-cl.manual.patching_other_devices" in patches
    officer = text_of(next(find(rows["1-1"], "td", cls="cl-ev")), "en")
    assert "cl.manual.security_officer" in officer and "CISO" in officer
    mds = text_of(next(find(rows["2-3"], "td", cls="cl-ev")), "ja")
    assert "cl.manual.mds_sds" in mds and "証跡未記録" in mds


def test_planned_checks_are_shown_as_not_implemented(dom):
    catalog = load_catalog()
    planned = [c for c in ("cl.services.unneeded", "cl.backups.recent") if catalog.check(c).get("planned")]
    sheet = next(find(dom, "article", cls="cl-sheet"))
    for check in planned:
        gap = [li for li in find(sheet, "li", cls="cl-gap") if check in text_of(li)]
        assert gap and "not implemented yet (planned)" in text_of(gap[0], "en")


def rules(css, media=None):
    """(selectors, declarations) of the CSS rules, those inside `@media <media>{...}` when media is given."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    if media:
        start = css.index("@media %s{" % media) + len("@media %s{" % media)
        depth, end = 1, start
        while depth:
            depth += {"{": 1, "}": -1}.get(css[end], 0)
            end += 1
        css = css[start:end - 1]
    return [([s.strip() for s in sel.split(",")], body) for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)]


def test_print_css_gives_the_checklist_a4_portrait_pages():
    assert re.search(r"@page iryo-checklist\{size:A4 portrait;margin:10mm\}", CSS)
    assert (["#checklist"], "page:iryo-checklist") in rules(CSS)
    assert ([".cl-sheet+.cl-sheet"], "break-before:page") in rules(CSS, "print")


def test_print_css_hides_the_rest_of_the_report_when_the_checklist_is_the_target():
    hidden = [sel for sels, body in rules(CSS, "print") if "display:none" in body for sel in sels]
    for part in (".top", "nav.toc", "footer", "main>:not(#checklist)"):
        assert "body:has(#checklist:target) " + part in hidden, part


def test_a_report_without_a_checklist_has_no_section(report):
    old = copy.deepcopy(report)
    del old["checklist"]
    page = render_html(old)
    assert 'id="checklist"' not in page and 'href="#checklist"' not in page


def test_a_checklist_that_could_not_be_answered_says_why(report):
    broken = dict(report, checklist={"error": "r7: item 2-6 appears twice"})
    section = next(find(parse(render_html(broken)), "section", id="checklist"))
    assert "r7: item 2-6 appears twice" in text_of(section, "en")
    assert not list(find(section, "article", cls="cl-sheet"))


# -- the terminal line ----------------------------------------------------------------------------------------


def test_the_terminal_prints_the_sheets_summary_after_the_findings(report):
    out = render_table(report, report_path="/r/run-1/report.html")
    lines = out.rstrip("\n").splitlines()
    counted = {a: sum(1 for i in report["checklist"]["items"] if i["answer"] == a) for a in ("yes", "no", "to_confirm")}
    assert lines[-1] == ("Checklist 令和7年度版 (hospital): はい %(yes)d / いいえ %(no)d / 要確認 %(to_confirm)d; "
                         "sheet: /r/run-1/report.html#checklist" % counted)
    assert out.index("Failures and errors (") < out.index("Checklist 令和7年度版")
    assert sum(1 for line in lines if line.startswith("Checklist ")) == 1


def test_the_terminal_line_without_a_path_and_in_ascii(report):
    line = render_table(report, ascii_only=True).rstrip("\n").splitlines()[-1]
    assert line.startswith("Checklist \\u4ee4\\u548c7\\u5e74\\u5ea6\\u7248 (hospital): \\u306f\\u3044 ")
    assert line.endswith("; sheet: report.html#checklist")


def test_the_terminal_says_when_the_checklist_could_not_be_answered(report):
    broken = dict(report, checklist={"error": "r7: item 2-6 appears twice"})
    assert render_table(broken).rstrip("\n").splitlines()[-1] == "Checklist not answered: r7: item 2-6 appears twice"
    old = copy.deepcopy(report)
    del old["checklist"]
    assert "Checklist" not in render_table(old)


# -- the merge ------------------------------------------------------------------------------------------------


def part(hosts, run_id, started, inputs=None):
    catalog = load_catalog()
    keep = set(hosts) | {"_organisation"}
    run = new_run(["playbooks/audit.yml"], True, "2.19", started=started)
    run.update(id=run_id, finished=iso(started + datetime.timedelta(minutes=1)))
    found = [f for f in fx.findings(catalog) if f["host"] in keep]
    every = inputs if inputs is not None else fx.inputs({"2-6": "2026-03-31"})
    return {"label": run_id, "path": "/parts/%s/report.json" % run_id,
            "report": build_report(found, [{"name": h, "groups": [], "reachable": True} for h in hosts], catalog,
                                   run, checklist={"hosts": {h: every[h] for h in hosts}})}


@pytest.fixture(scope="module")
def parts():
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return (part(["portal", "gateway"], "slice1", start),
            part(["ehr", "files"], "slice2", start + datetime.timedelta(minutes=2)))


def answers(sheet):
    return {i["key"]: i["answer"] for i in sheet["items"]}


def test_the_merge_answers_the_sheet_again_from_every_parts_findings(parts):
    first, second = parts
    # Alone, the first slice has no failing patch check (ehr is in the second): the merge must not keep either
    # part's sheet but answer from the merged findings.
    assert answers(first["report"]["checklist"])["2-6"] == "yes"
    assert answers(second["report"]["checklist"])["2-6"] == "no"
    merged = merge_reports([first, second])["checklist"]
    assert merged["hosts"] == ["ehr", "files", "gateway", "portal"]
    assert answers(merged)["2-6"] == "no" and merged["items"][6]["target_date"] == "2026-03-31"
    assert [(v["vendor"], v["hosts"]) for v in merged["per_vendor"]] == [(fx.VENDOR_A, ["portal"]),
                                                                         (fx.VENDOR_B, ["ehr", "files"])]
    unsliced = fx.report(targets={"2-6": "2026-03-31"})["checklist"]
    assert answers(merged) == answers(unsliced)
    assert [answers(v) for v in merged["per_vendor"]] == [answers(v) for v in unsliced["per_vendor"]]
    assert merged["inputs"] == unsliced["inputs"]


def test_a_host_with_different_checklist_inputs_is_refused(parts):
    first, second = parts
    other = copy.deepcopy(second)
    other["report"]["checklist"]["inputs"]["hosts"]["portal"] = {"vendor": "someone else", "targets": {}}
    with pytest.raises(MergeError, match="host portal has different checklist inputs .* in slice1 and slice2"):
        merge_reports([first, other])


def test_parts_answering_different_editions_are_refused(parts):
    first, second = parts
    other = copy.deepcopy(second)
    other["report"]["checklist"]["edition"]["id"] = "mhlw-cs-checklist-r8"
    with pytest.raises(MergeError, match="slice1 answers the checklist edition mhlw-cs-checklist-r7 and slice2 the "
                                         "edition mhlw-cs-checklist-r8"):
        merge_reports([first, other])


def test_a_part_whose_checklist_failed_is_named_in_the_notes(parts):
    first, second = parts
    other = copy.deepcopy(second)
    other["report"]["checklist"] = {"error": "boom"}
    merged = merge_reports([first, other])["checklist"]
    assert merged["per_vendor"][0]["hosts"] == ["portal"] and len(merged["per_vendor"]) == 1
    assert any(n.startswith("slice2's checklist could not be answered (boom)") for n in merged["notes"])


def test_old_parts_without_a_checklist_merge_without_one(parts):
    first, second = (copy.deepcopy(p) for p in parts)
    del first["report"]["checklist"]
    with pytest.raises(MergeError, match="slice2 carries the inspection checklist and slice1 does not"):
        merge_reports([first, second])
    del second["report"]["checklist"]
    assert "checklist" not in merge_reports([first, second])
