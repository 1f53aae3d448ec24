"""Load and validate the clause catalog (data/catalog/*.yml)."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from . import DATA_DIR, load_yaml
from .schema import SEVERITIES

DEFAULT_CATALOG = DATA_DIR / "catalog" / "mhlw-5.2-6.11.yml"
CONFIDENCES = ("confirmed", "secondary", "unconfirmed")
CHECK_KINDS = ("automated", "manual")
# What enforcing a check can do to a running host (the catalog's `disruption`), mildest first; each is also the
# tag disruption_<level> on every role task that can cause it (docs/switches-and-tags.md).
DISRUPTION_LEVELS = ("none", "config", "service_reload", "package_install", "firewall", "reboot")
DISRUPTION_TAG = "disruption_"
# One variable per implemented automated check turns it off: iryo_check_<id with dots as underscores>.
SWITCH_PREFIX = "iryo_check_"
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

    def switchable_checks(self):
        """Implemented automated checks, in catalog order: each has a switch and a disruption level."""
        return [c for c in self.checks.values() if c["kind"] == "automated" and not c.get("planned")]

    def switches(self):
        """{switch variable: check id} for every implemented automated check."""
        return dict((switch_name(c["id"]), c["id"]) for c in self.switchable_checks())

    def disruption(self, check_id):
        """The levels enforcing the check can cause, as a tuple in DISRUPTION_LEVELS order."""
        return _levels(self.check(check_id).get("disruption", "none"))

    def task_tags(self, check_ids, modules=None):
        """The tags a role task declaring `check_ids` must carry, in a fixed order: the clause tag of each check
        (c10, c11, ...), the check ids, then disruption_<level> for every level the task can cause.

        `modules`: the check modules the task calls (a check module or clause module task); a check its module
        only reports (enforced_by_module false) or that is not one of theirs counts as `none` for that task.
        None: a builtin task (copy, apt, reboot, ...), which enforces the checks it declares."""
        order = list(self.checks)
        ids = sorted(set(check_ids), key=order.index)
        clauses, levels = [], set()
        for check_id in ids:
            clause_tag = check_prefix(self.check(check_id)["clause"]).rstrip(".")
            if clause_tag not in clauses:
                clauses.append(clause_tag)
            check = self.check(check_id)
            if modules is not None and (check.get("module") not in modules or not self.enforced_by_module(check_id)):
                levels.add("none")
            else:
                levels.update(self.disruption(check_id))
        return clauses + ids + [DISRUPTION_TAG + level for level in DISRUPTION_LEVELS if level in levels]

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


def switch_name(check_id):
    """c10.firewall.default_drop -> iryo_check_c10_firewall_default_drop (the check's on/off variable)."""
    return SWITCH_PREFIX + check_id.replace(".", "_")


def _levels(value):
    values = [value] if isinstance(value, str) else list(value or [])
    return tuple(level for level in DISRUPTION_LEVELS if level in values)


def _validate_disruption(check, where):
    implemented = check["kind"] == "automated" and not check.get("planned")
    if "disruption" not in check:
        if implemented:
            raise CatalogError("%s: an implemented automated check needs `disruption` (one of %s, or a list)"
                               % (where, ", ".join(DISRUPTION_LEVELS)))
        return
    if check["kind"] != "automated":
        raise CatalogError("%s: only automated checks carry `disruption` (manual ones are never enforced)" % where)
    value = check["disruption"]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise CatalogError("%s: disruption must be a level or a non-empty list of levels, not %r" % (where, value))
    unknown = [v for v in values if v not in DISRUPTION_LEVELS]
    if unknown:
        raise CatalogError("%s: disruption %s not one of %s" % (where, ", ".join(map(repr, unknown)),
                                                                 ", ".join(DISRUPTION_LEVELS)))
    if "none" in values and len(values) > 1:
        raise CatalogError("%s: disruption none cannot be combined with other levels" % where)
    for key in ("switch_option", "role_switch"):
        if key in check and not (isinstance(check[key], str) and check[key].isidentifier()):
            raise CatalogError("%s: %s must be a variable or option name, not %r" % (where, key, check[key]))


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
    _validate_disruption(check, where)
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
    names = {}
    for check_id, check in checks.items():
        if check["kind"] == "automated" and not check.get("planned"):
            other = names.setdefault(switch_name(check_id), check_id)
            if other != check_id:  # c10.a_b.c and c10.a.b_c would share one variable
                raise CatalogError("%s: checks %r and %r would share the switch %s"
                                   % (source, other, check_id, switch_name(check_id)))
    return Catalog(document=data["document"], clauses=tuple(data["clauses"]), checks=checks)


@lru_cache(maxsize=4)
def load_catalog(path=DEFAULT_CATALOG):
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError("cannot read clause catalog %s: %s" % (path, exc)) from exc
    return parse_catalog(data, source=str(path))
