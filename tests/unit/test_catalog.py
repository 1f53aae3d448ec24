import copy
import hashlib
import re
from pathlib import Path

import pytest
import yaml

from iryo_guard.catalog import DEFAULT_CATALOG, CatalogError, check_prefix, load_catalog, parse_catalog

REPO = Path(__file__).resolve().parents[2]
# The guideline excerpt the project was given, copied into the repository (first line: where it came from).
EXCERPT = REPO / "data" / "reference" / "guideline-5.2-6.11-excerpt.txt"


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))


def test_catalog_covers_c1_to_c13_and_d1_d2_in_order():
    catalog = load_catalog()
    # CL: the inspection checklist's items beyond §6.11 (iryo-guard's grouping, not a clause of the guideline)
    assert catalog.clause_ids() == ["C.%d" % i for i in range(1, 14)] + ["D.1", "D.2", "CL", "OPS"]


@pytest.mark.parametrize("clause_id", ["C.9", "C.10", "C.11", "C.12", "C.13", "D.1", "D.2"])
def test_core_clauses_are_complete_and_confirmed(clause_id):
    clause = load_catalog().clause(clause_id)
    assert clause["confidence"] == "confirmed"
    assert clause["checks"], "%s must name what iryo-guard checks or what evidence it needs" % clause_id
    assert len(clause["text_ja"]) > 30 and clause["summary_en"]


def _normalise(text):
    return re.sub(r"\s+", "", text)


def _excerpt():
    header, text = EXCERPT.read_text(encoding="utf-8").split("\n", 1)
    return header, text


def test_excerpt_copy_is_unchanged_since_it_was_copied():
    """The header records the sha256 of the text as given; an edit to the copy shows here."""
    header, text = _excerpt()
    recorded = re.search(r"sha256 of the copied text: ([0-9a-f]{64})", header).group(1)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == recorded
    assert "6.11" in text and "TLS1.3" in text


@pytest.mark.parametrize("clause_id", ["C.9", "C.10", "C.11", "C.12", "C.13", "D.1"])
def test_japanese_text_is_verbatim_from_the_excerpt(clause_id):
    excerpt = _normalise(_excerpt()[1])
    assert _normalise(load_catalog().clause(clause_id)["text_ja"]) in excerpt


def test_catalog_cites_the_excerpt_where_it_is():
    assert "data/reference/guideline-5.2-6.11-excerpt.txt" in DEFAULT_CATALOG.read_text(encoding="utf-8")


def test_unconfirmed_clauses_say_so(raw):
    unconfirmed = [c["id"] for c in raw["clauses"] if c["confidence"] == "unconfirmed"]
    assert set(unconfirmed) == {"C.2", "C.3", "C.4", "C.7"}


def test_manual_checks_name_their_evidence():
    for check in load_catalog().manual_checks():
        assert check["evidence_needed"], check["id"]


def test_implemented_checks_name_an_existing_module():
    for check in load_catalog().checks.values():
        if check["kind"] == "automated" and not check.get("planned"):
            assert (REPO / "library" / ("%s.py" % check["module"])).exists(), check["id"]


def test_every_implemented_check_is_emitted_by_its_module():
    for check in load_catalog().checks.values():
        if check.get("module") and not check.get("planned"):
            source = (REPO / "library" / ("%s.py" % check["module"])).read_text()
            assert check["id"] in source, "%s is not emitted by %s" % (check["id"], check["module"])


@pytest.mark.parametrize("clause_id,prefix", [("C.9", "c09."), ("C.12", "c12."), ("D.1", "d1.")])
def test_check_prefix(clause_id, prefix):
    assert check_prefix(clause_id) == prefix


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["clauses"][11]["checks"][0].pop("module"), "must name its module"),
    (lambda d: d["clauses"][11].update(confidence="maybe"), "confidence must be one of"),
    (lambda d: d["clauses"][11]["checks"][0].update(id="c11.misfiled"), "must start with 'c12.'"),
    (lambda d: d["clauses"].append(copy.deepcopy(d["clauses"][0])), "appears twice"),
    (lambda d: d["clauses"][0]["checks"][0].pop("evidence_needed"), "must name the evidence"),
    (lambda d: d["document"].pop("source"), "lacks source"),
])
def test_malformed_catalogs_are_refused(raw, mutate, message):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)
