"""Structure of the MHLW cybersecurity checklist data (data/checklist/*.yml, issue 14 item 1).

These tests do not judge the wording (that rests on the cited sources, see docs/checklist.md); they keep the file
honest: every item says where it comes from and how sure we are, a wording that was not read says so in the text
itself, and the mapping only names checks that exist."""

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from iryo_guard.catalog import load_catalog

REPO = Path(__file__).resolve().parents[2]
CHECKLIST_DIR = REPO / "data" / "checklist"
R7 = CHECKLIST_DIR / "mhlw-cybersecurity-checklist-r7.yml"

CONFIDENCES = ("confirmed", "secondary", "unconfirmed")
MARKER = "UNCONFIRMED"
# Where a "confirmed" wording may come from: copies of MHLW documents (wic-net.com publishes MHLW PDFs page by page
# and names the MHLW page it copies) or MHLW itself. A blog or a vendor page makes a wording "secondary" at best.
PRIMARY_HOSTS = {"wic-net.com", "www.wic-net.com", "www.mhlw.go.jp", "mhlw.go.jp"}
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def _weaker(a, b):
    return a if CONFIDENCES.index(a) >= CONFIDENCES.index(b) else b


@pytest.fixture(scope="module")
def data():
    return yaml.safe_load(R7.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def items(data):
    return data["items"]


def test_edition_is_versioned_by_file(data):
    """One edition per file, named after its fiscal year, so next year's edition is a new file."""
    edition = data["edition"]
    assert edition["id"] == "mhlw-cs-checklist-r7"
    year = re.fullmatch(r"令和(\d+)年度", edition["fiscal_year"]).group(1)
    assert R7.stem.endswith("-r%s" % year)
    for key in ("title_ja", "published", "published_confidence", "draft_presented", "sources", "legal_basis"):
        assert edition[key], key
    assert edition["published_confidence"] in CONFIDENCES
    for source in edition["sources"]:
        assert urlparse(source["url"]).scheme == "https", source["key"]
        assert source["confidence"] in CONFIDENCES, source["key"]


def test_every_edition_file_has_its_own_id():
    ids = []
    for path in sorted(CHECKLIST_DIR.glob("*.yml")):
        ids.append(yaml.safe_load(path.read_text(encoding="utf-8"))["edition"]["id"])
    assert ids and len(ids) == len(set(ids))


def test_both_sheets_and_three_sections(data):
    assert [s["id"] for s in data["sheets"]] == ["hospital", "vendor"]
    assert [s["title_ja"] for s in data["sheets"]] == ["医療機関確認用", "事業者確認用"]
    assert [(s["id"], s["title_ja"]) for s in data["sections"]] == [
        ("1", "体制構築"),
        ("2", "医療情報システムの管理・運用"),
        ("3", "インシデント発生に備えた対応"),
    ]
    for section in data["sections"]:
        assert section["sheets_confidence"] in CONFIDENCES


REQUIRED = ("key", "number", "number_confidence", "section", "sheets", "text_ja", "text_confidence",
            "gloss_en", "source", "confidence", "device_classes", "guideline_refs", "in_r6", "in_r6_confidence")


def test_every_item_has_the_required_fields(items):
    for item in items:
        missing = [k for k in REQUIRED if k not in item]
        assert not missing, (item.get("key"), missing)
        assert item["text_ja"].strip() and item["gloss_en"].strip(), item["key"]
        assert item["sheets"] and set(item["sheets"]) <= {"hospital", "vendor"}, item["key"]
        assert urlparse(item["source"]["url"]).scheme == "https" and item["source"]["page"], item["key"]


def test_keys_are_unique(items):
    keys = [item["key"] for item in items]
    assert len(keys) == len(set(keys))


def test_confidence_marks_are_from_the_scale_and_consistent(items):
    for item in items:
        for field in ("confidence", "number_confidence", "text_confidence", "in_r6_confidence"):
            assert item[field] in CONFIDENCES, (item["key"], field)
        # A wording or a number that was not read makes the item unconfirmed: the weaker mark wins.
        assert item["confidence"] == _weaker(item["text_confidence"], item["number_confidence"]), item["key"]


def test_unconfirmed_wording_says_so_in_the_text(items):
    for item in items:
        if item["text_confidence"] == "unconfirmed":
            assert MARKER in item["text_ja"], item["key"]
        else:
            assert MARKER not in item["text_ja"], item["key"]


def test_confirmed_wording_rests_on_an_mhlw_document(items):
    for item in items:
        if item["text_confidence"] == "confirmed":
            assert urlparse(item["source"]["url"]).hostname in PRIMARY_HOSTS, item["key"]


def test_sections_are_known_and_unplaced_items_are_unconfirmed(items):
    for item in items:
        if item["section"] is None:
            assert item["confidence"] == "unconfirmed" and item["number_confidence"] == "unconfirmed", item["key"]
            assert MARKER in item["text_ja"], item["key"]
        else:
            assert item["section"] in {"1", "2", "3"}, item["key"]


def test_numbers_are_unique_per_sheet(items):
    """Numbers restart in every section, as printed (① in 1, ① in 2, ...): unique per sheet and section."""
    for sheet in ("hospital", "vendor"):
        seen = set()
        for item in items:
            if sheet in item["sheets"] and item["section"] is not None:
                slot = (item["section"], item["number"])
                assert slot not in seen, (sheet, slot)
                seen.add(slot)


def test_placed_numbers_run_from_one_without_gaps(items):
    by_section = {}
    for item in items:
        if item["section"] is not None:
            assert item["number"] in CIRCLED, item["key"]
            by_section.setdefault(item["section"], []).append(CIRCLED.index(item["number"]) + 1)
    for section, numbers in by_section.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), section


def test_device_classes_are_declared(data, items):
    declared = {d["id"] for d in data["device_classes"]}
    assert {"server", "terminal_pc", "network_device", "all_systems"} <= declared
    for item in items:
        assert set(item["device_classes"]) <= declared, item["key"]


def test_guideline_references_say_who_cites_them(items):
    for item in items:
        for ref in item["guideline_refs"]:
            assert ref["ref"] and ref["confidence"] in CONFIDENCES, item["key"]
            assert ref["cited_by"] in {"manual", "inferred"}, item["key"]
            # Our own inference is never "confirmed": only the manual's printed ▶ reference can be.
            if ref["cited_by"] == "inferred":
                assert ref["confidence"] != "confirmed", item["key"]


def test_the_r7_additions_match_the_count_reported(items):
    """cbnews (2025-05-16): 「…計5項目を追加」; hckn: 「5つの項目が新たに追加」."""
    assert len([item for item in items if item["in_r6"] is False]) == 5


def test_host_observable_items_from_the_issue_are_present(items):
    """The items issue 14 names as answerable from a host exist, and the ones whose wording was read match it."""
    texts = {item["key"]: item["text_ja"] for item in items}
    assert "セキュリティパッチ" in texts["2-6"]
    assert "バックグラウンドで動作している不要なソフトウェア及びサービスを停止" in texts["2-12"]
    assert texts["2-13"].startswith("接続元制限")
    assert "バックアップの実施と復旧手順" in texts["3-2"]
    # Not read for R7: the previous editions' wording is kept beside the placeholder.
    assert "不要なアカウント" in texts["2-5"] and "アクセスログを管理" in texts["2-11"]


@pytest.fixture(scope="module")
def mapping(data):
    return data["mapping"]


def test_every_item_has_exactly_one_mapping(items, mapping):
    mapped = [m["item"] for m in mapping]
    assert sorted(mapped) == sorted(item["key"] for item in items)


def test_mapping_names_only_catalog_checks_of_the_right_kind(mapping):
    """`checks` are host checks and `evidence` organisational items, both from the clause catalog (the loader,
    iryo_guard/checklist.py, refuses anything else; this reads the file on its own)."""
    catalog = load_catalog()
    for entry in mapping:
        assert entry["coverage"] in {"full", "partial"}, entry["item"]
        assert entry["note_en"].strip(), entry["item"]
        assert entry.get("checks") or entry.get("evidence"), entry["item"]
        for check_id in entry.get("checks", []):
            assert catalog.check(check_id)["kind"] == "automated", (entry["item"], check_id)
        for check_id in entry.get("evidence", []):
            assert catalog.check(check_id)["kind"] == "manual", (entry["item"], check_id)
        for source in entry.get("sources", []):
            assert "https://" in source, (entry["item"], source)
        # An item answered by evidence alone is fully covered by it; one that names terminal PCs or network
        # equipment next to servers is partial whenever a host check answers part of it.
        if not entry.get("checks"):
            assert entry["coverage"] == "full", entry["item"]


def test_the_issues_host_checks_each_answer_an_item(mapping):
    """Issue 14 item 3's new host checks (accounts, services, backups) each answer the item they were made for."""
    by_item = {entry["item"]: set(entry.get("checks", [])) for entry in mapping}
    assert {"cl.accounts.unexpected", "cl.accounts.unused", "cl.accounts.shared_uid0"} <= by_item["2-5"]
    assert "cl.services.unneeded" in by_item["2-12"]
    assert "cl.backups.recent" in by_item["3-2"]
    # and the issue's examples of existing checks
    assert "c12.patches.security_pending" in by_item["2-6"]
    assert {"d1.ssh.sources", "c10.firewall.allowed_services"} <= by_item["2-13"]
    assert "c10.monitoring.access_logs" in by_item["2-11"]
    mapped = set().union(*by_item.values())
    host_checks = {c["id"] for c in load_catalog().checks.values()
                   if c["id"].startswith("cl.") and c["kind"] == "automated"}
    assert host_checks <= mapped
