"""Load and validate the clause catalog (data/catalog/*.yml)."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from iryo_guard import DATA_DIR, load_yaml
from iryo_guard.schema import SEVERITIES

DEFAULT_CATALOG = DATA_DIR / "catalog" / "mhlw-5.2-6.11.yml"
CONFIDENCES = ("confirmed", "secondary", "unconfirmed")
CHECK_KINDS = ("automated", "manual")
# Pseudo-host that carries organisational findings (contracts, policies, explanations).
ORGANISATION_HOST = "_organisation"


class CatalogError(ValueError):
    """The catalog file is malformed: fix the data, not the code."""


@dataclass(frozen=True)
class Catalog:
    document: dict
    clauses: tuple
    checks: dict  # check id -> check dict, with "clause" added

    def clause(self, clause_id):
        for clause in self.clauses:
            if clause["id"] == clause_id:
                return clause
        raise KeyError(clause_id)

    def check(self, check_id):
        try:
            return self.checks[check_id]
        except KeyError:
            raise KeyError("check id %r is not in the clause catalog" % check_id) from None

    def manual_checks(self):
        return [c for c in self.checks.values() if c["kind"] == "manual"]

    def clause_ids(self):
        return [c["id"] for c in self.clauses]

    def enforced_by_module(self, check_id):
        """False for a check its module only reports (enforcing that module changes something else): a run
        with --tags naming only such checks must not make the module enforce."""
        return self.checks[check_id].get("enforced_by_module", True) is not False

    def unattended_safe(self, check_id):
        """May a run with nobody watching (playbooks/nightly.yml) enforce this check?

        Only an automated check marked `unattended: true` in the catalog; an unmarked one is not
        (fail safe: a new check stays out of the nightly until somebody decides it is safe)."""
        check = self.check(check_id)
        return check["kind"] == "automated" and check.get("unattended") is True


def _require(mapping, keys, where):
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise CatalogError("%s lacks %s" % (where, ", ".join(missing)))


def _validate_check(check, clause_id):
    where = "check %r of %s" % (check.get("id"), clause_id)
    _require(check, ("id", "kind", "title_ja", "title_en", "severity"), where)
    if check["kind"] not in CHECK_KINDS:
        raise CatalogError("%s: kind must be one of %s" % (where, CHECK_KINDS))
    if check["severity"] not in SEVERITIES:
        raise CatalogError("%s: severity must be one of %s" % (where, SEVERITIES))
    if check["kind"] == "manual" and not check.get("evidence_needed"):
        raise CatalogError("%s: a manual check must name the evidence it needs" % where)
    if check["kind"] == "automated" and not check.get("planned") and not check.get("module"):
        raise CatalogError("%s: an implemented automated check must name its module" % where)
    if "unattended" in check:
        if check["kind"] != "automated":
            raise CatalogError("%s: only automated checks carry `unattended` (manual ones are never enforced)" % where)
        if not isinstance(check["unattended"], bool):
            raise CatalogError("%s: unattended must be true or false, not %r" % (where, check["unattended"]))
    if "enforced_by_module" in check and not isinstance(check["enforced_by_module"], bool):
        raise CatalogError("%s: enforced_by_module must be true or false" % where)
    prefix = check_prefix(clause_id)
    if not check["id"].startswith(prefix):
        raise CatalogError("%s: id must start with %r" % (where, prefix))


def check_prefix(clause_id):
    """C.9 -> 'c09.', C.12 -> 'c12.', D.1 -> 'd1.', CL (the checklist's items beyond §6.11) -> 'cl.':
    check ids say their clause and sort well."""
    if "." not in clause_id:
        return clause_id.lower() + "."
    group, number = clause_id.split(".")
    width = 2 if group == "C" else 1
    return "%s%0*d." % (group.lower(), width, int(number))


def parse_catalog(data, source="catalog"):
    """Validate catalog data (already parsed YAML) and index it."""
    if not isinstance(data, dict):
        raise CatalogError("%s: top level must be a mapping" % source)
    _require(data, ("catalog_version", "document", "clauses"), source)
    _require(data["document"], ("id", "title_ja", "title_en", "version", "section", "source", "confidence"),
             "%s: document" % source)
    checks = {}
    seen_clauses = set()
    for clause in data["clauses"]:
        where = "%s: clause %r" % (source, clause.get("id"))
        _require(clause, ("id", "group", "title_ja", "title_en", "text_ja", "summary_en", "confidence",
                          "source", "checks", "guideline_6_0"), where)
        if clause["id"] in seen_clauses:
            raise CatalogError("%s appears twice" % where)
        seen_clauses.add(clause["id"])
        if clause["confidence"] not in CONFIDENCES:
            raise CatalogError("%s: confidence must be one of %s" % (where, CONFIDENCES))
        for ref in clause["guideline_6_0"]:
            _require(ref, ("ref", "confidence"), "%s: guideline_6_0 entry" % where)
            if ref["confidence"] not in CONFIDENCES:
                raise CatalogError("%s: guideline_6_0 %r confidence invalid" % (where, ref["ref"]))
        for check in clause["checks"]:
            _validate_check(check, clause["id"])
            if check["id"] in checks:
                raise CatalogError("%s: check %r appears twice" % (source, check["id"]))
            checks[check["id"]] = dict(check, clause=clause["id"])
    return Catalog(document=data["document"], clauses=tuple(data["clauses"]), checks=checks)


@lru_cache(maxsize=4)
def load_catalog(path=DEFAULT_CATALOG):
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError("cannot read clause catalog %s: %s" % (path, exc)) from exc
    return parse_catalog(data, source=str(path))
