"""The MHLW inspection checklist answered from the run's findings (issue 14, items 2 and 4).

厚生労働省「医療機関におけるサイバーセキュリティ対策チェックリスト」 is a yearly sheet the prefectures check
during the on-site inspection: each item answered はい or いいえ, with the date it was checked and, for いいえ, a
target date within the fiscal year. One edition per file in data/checklist/ (its items with sources and
confidence, and ``mapping:``, which says which catalog checks and which evidence records answer each item);
docs/checklist.md explains both.

This module loads and validates an edition (``load_edition``), validates the two inventory inputs the sheet
needs (``validate_inputs``: ``iryo_vendor``, ``iryo_checklist_targets``) and answers the sheet from a run's
findings (``build_checklist``), for the hospital (every host of the run) and per vendor (the hosts whose
``iryo_vendor`` names it). The answer rules (docs/checklist.md, "Answer rules"):

- はい (``yes``) only when every mapped check passes on every host the item covers and every mapped evidence
  record is recorded and current (an excepted finding is not a pass);
- いいえ (``no``) when a mapped check fails on a covered host, or mapped evidence is recorded but expired
  (the evidence register's ``fail``);
- 要確認 (``to_confirm``) otherwise: evidence not recorded, a check that could not decide, is excepted or
  reported nothing (a check still ``planned``), or no host of the sheet is covered.

A host is covered by an item when a mapped check reported on it with a status other than not_applicable.
"""

import datetime
from functools import lru_cache
from pathlib import Path

import yaml

from . import DATA_DIR
from .enrich import InputError, parse_date
from .report._common import finding_summary

CHECKLIST_DIR = DATA_DIR / "checklist"
ORGANISATION_HOST = "_organisation"
COVERAGES = ("full", "partial")
ANSWERS = ("yes", "no", "to_confirm")
ANSWER_JA = {"yes": "はい", "no": "いいえ", "to_confirm": "要確認"}
ANSWER_EN = {"yes": "Yes", "no": "No", "to_confirm": "To confirm"}
SHEETS = ("hospital", "vendor")
ITEM_FIELDS = ("key", "number", "section", "sheets", "text_ja", "text_confidence", "number_confidence",
               "confidence", "gloss_en", "source")
# Statuses of a mapped host check that let the item stay はい: not_applicable says the check does not apply
# to that host (a host without a TLS virtual host has no access log to check), which is not a shortfall.
ACCEPTABLE = ("pass", "not_applicable")


class ChecklistError(ValueError):
    """The edition file is malformed (fix the data, not the code); the message names the item."""


# -- the edition -------------------------------------------------------------------------------------------


def _require(mapping, keys, where):
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ChecklistError("%s lacks %s" % (where, ", ".join(missing)))


def checks_from_clauses(clauses):
    """{check id: check} from the catalog's clauses (a Catalog's, or the `clauses` a report.json carries)."""
    return {check["id"]: dict(check, clause=clause["id"])
            for clause in clauses for check in clause.get("checks") or [] if check.get("id")}


def fiscal_year_bounds(edition):
    """(first day, last day) of the edition's fiscal year, from `fiscal_year_gregorian: "YYYY-MM-DD/YYYY-MM-DD"`."""
    value = str(edition.get("fiscal_year_gregorian") or "")
    try:
        start, end = (datetime.date.fromisoformat(part.strip()) for part in value.split("/"))
    except ValueError:
        raise ChecklistError("edition %s: fiscal_year_gregorian must be \"YYYY-MM-DD/YYYY-MM-DD\", got %r"
                             % (edition.get("id"), value)) from None
    if end < start:
        raise ChecklistError("edition %s: fiscal year ends before it starts" % edition.get("id"))
    return start, end


def _validate_mapping(entry, known_checks, where):
    if not isinstance(entry, dict):
        raise ChecklistError("%s must be a mapping" % where)
    _require(entry, ("item", "coverage", "note_en"), where)
    checks, evidence = entry.get("checks") or [], entry.get("evidence") or []
    if not isinstance(checks, list) or not isinstance(evidence, list):
        raise ChecklistError("%s: checks and evidence must be lists of check ids" % where)
    if not checks and not evidence:
        raise ChecklistError("%s maps to no check and no evidence" % where)
    if entry["coverage"] not in COVERAGES:
        raise ChecklistError("%s: coverage must be one of %s, got %r" % (where, ", ".join(COVERAGES),
                                                                          entry["coverage"]))
    if not str(entry["note_en"]).strip():
        raise ChecklistError("%s: note_en must say why the coverage is what it is" % where)
    for check_id in checks + evidence:
        if check_id not in known_checks:
            raise ChecklistError("%s: check id %r is not in the clause catalog" % (where, check_id))
    if len(set(checks + evidence)) != len(checks + evidence):
        raise ChecklistError("%s names a check twice" % where)
    for check_id in checks:
        if known_checks[check_id]["kind"] != "automated":
            raise ChecklistError("%s: %s is an organisational (manual) item; list it under evidence"
                                 % (where, check_id))
    for check_id in evidence:
        if known_checks[check_id]["kind"] != "manual":
            raise ChecklistError("%s: %s is a host check; list it under checks" % (where, check_id))


def parse_edition(data, known_checks, source="edition"):
    """Validate edition data (parsed YAML) against the catalog's checks; return it with `mapping` by item key.

    Errors name the item: a duplicate item, an item without a mapping, a mapping of an unknown item, a check id
    the catalog does not have, a host check listed as evidence (or the reverse)."""
    if not isinstance(data, dict):
        raise ChecklistError("%s: top level must be a mapping" % source)
    _require(data, ("edition", "sheets", "sections", "items", "mapping"), source)
    edition = data["edition"]
    _require(edition, ("id", "fiscal_year", "fiscal_year_gregorian", "title_ja", "title_en"), "%s: edition" % source)
    fiscal_year_bounds(edition)
    sheet_ids = [s.get("id") for s in data["sheets"]]
    if sorted(sheet_ids) != sorted(SHEETS):
        raise ChecklistError("%s: sheets must be %s, got %s" % (source, ", ".join(SHEETS), sheet_ids))
    section_ids = [str(s.get("id")) for s in data["sections"]]
    items = []
    for item in data["items"]:
        where = "%s: item %s" % (source, item.get("key") if isinstance(item, dict) else item)
        if not isinstance(item, dict):
            raise ChecklistError("%s must be a mapping" % where)
        _require(item, ITEM_FIELDS, where)
        if item["key"] in [i["key"] for i in items]:
            raise ChecklistError("%s appears twice" % where)
        if item["section"] is not None and str(item["section"]) not in section_ids:
            raise ChecklistError("%s: section %r is not among the sections %s" % (where, item["section"], section_ids))
        if not item["sheets"] or not set(item["sheets"]) <= set(SHEETS):
            raise ChecklistError("%s: sheets must be a non-empty subset of %s" % (where, ", ".join(SHEETS)))
        items.append(item)
    keys = [i["key"] for i in items]
    mapping = {}
    for index, entry in enumerate(data["mapping"] or []):
        item_key = entry.get("item") if isinstance(entry, dict) else None
        where = "%s: mapping of item %s" % (source, item_key if item_key is not None else "#%d" % index)
        _validate_mapping(entry, known_checks, where)
        if item_key not in keys:
            raise ChecklistError("%s: no such item in the edition" % where)
        if item_key in mapping:
            raise ChecklistError("%s appears twice" % where)
        mapping[item_key] = {"checks": list(entry.get("checks") or []), "evidence": list(entry.get("evidence") or []),
                             "coverage": entry["coverage"], "note_en": " ".join(str(entry["note_en"]).split()),
                             "sources": list(entry.get("sources") or [])}
    unmapped = [k for k in keys if k not in mapping]
    if unmapped:
        raise ChecklistError("%s: item %s has no mapping (every item maps to checks or evidence)"
                             % (source, ", ".join(unmapped)))
    return dict(data, items=items, mapping=mapping)


def edition_files(directory=CHECKLIST_DIR):
    return sorted(Path(directory).glob("*.yml"))


# libyaml's loader when PyYAML has it: the edition is read in every input-validation worker, and the pure-Python
# loader takes ten times as long for this file.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=16)
def _parsed(path, mtime_ns):
    """The parsed file, cached per modification time (callers never modify it)."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise ChecklistError("cannot read checklist edition %s: %s" % (path, exc)) from exc


def _read(path):
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError as exc:
        raise ChecklistError("cannot read checklist edition %s: %s" % (path, exc)) from exc
    return _parsed(str(path), mtime)


def _edition_paths(directory):
    """{edition id: path}, and the id of the newest edition (latest fiscal year)."""
    found, newest = {}, None
    for path in edition_files(directory):
        data = _read(path)
        edition = (data or {}).get("edition") or {}
        if edition.get("id") in found:
            raise ChecklistError("edition id %s is in both %s and %s" % (edition["id"], found[edition["id"]], path))
        found[edition.get("id")] = path
        start = fiscal_year_bounds(edition)[0]
        if newest is None or start > newest[0]:
            newest = (start, edition["id"])
    if not found:
        raise ChecklistError("no checklist edition in %s" % directory)
    return found, newest[1]


def default_edition_id(directory=CHECKLIST_DIR):
    """The newest edition in data/checklist/: adding next year's file makes it the one the report answers."""
    return _edition_paths(directory)[1]


def load_edition(edition_id=None, known_checks=None, directory=CHECKLIST_DIR):
    """The edition `edition_id` (default: the newest), validated against `known_checks` ({id: check}, default the
    clause catalog of this checkout)."""
    paths, newest = _edition_paths(directory)
    edition_id = edition_id or newest
    if edition_id not in paths:
        raise ChecklistError("no checklist edition %r in %s (have: %s)" % (edition_id, directory, ", ".join(paths)))
    if known_checks is None:
        from .catalog import load_catalog
        known_checks = load_catalog().checks
    return parse_edition(_read(paths[edition_id]), known_checks, source=str(paths[edition_id]))


# -- inventory inputs: iryo_vendor, iryo_checklist_targets ----------------------------------------------------


def validate_inputs(vendor, targets, edition, host="?"):
    """Refuse a malformed `iryo_vendor` (a non-empty string when set) or `iryo_checklist_targets` (item key ->
    YYYY-MM-DD, items of the edition); return {"vendor": str|None, "targets": {item: iso date}}.

    A real date outside the edition's fiscal year is not refused: the sheet leaves that target blank and says
    why (a plan for next year must not stop this year's audit)."""
    if vendor is not None:
        if not isinstance(vendor, str) or not vendor.strip():
            raise InputError("host %s: iryo_vendor must be the name of the vendor that runs the host (a non-empty "
                             "string), got %r" % (host, vendor))
        vendor = " ".join(vendor.split())
    normalised = {}
    if targets not in (None, ""):
        if not isinstance(targets, dict):
            raise InputError("host %s: iryo_checklist_targets must map checklist items to target dates "
                             "(e.g. {\"2-5\": \"2026-03-31\"}), got %s" % (host, type(targets).__name__))
        keys = [item["key"] for item in edition["items"]]
        for key, value in targets.items():
            where = "host %s: iryo_checklist_targets[%s]" % (host, key)
            if str(key) not in keys:
                raise InputError("%s: no item %s in the checklist %s (items: %s)"
                                 % (where, key, edition["edition"]["id"], ", ".join(keys)))
            normalised[str(key)] = parse_date(value, where).isoformat()
    return {"vendor": vendor, "targets": normalised}


# -- answering ----------------------------------------------------------------------------------------------


def run_date(run):
    """確認日: the day the run started, in the controller's local time zone (a hospital's controller keeps
    local time; the run's `started` is UTC)."""
    started = str((run or {}).get("started") or "")
    try:
        moment = datetime.datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return moment.astimezone().date()


def _record(finding):
    recorded = ((finding.get("evidence") or {}).get("recorded") if isinstance(finding.get("evidence"), dict)
                else None) or {}
    return {k: recorded.get(k) for k in ("evidence_ref", "confirmed_by", "last_confirmed") if recorded.get(k)}


def _target_item(declared, bounds, edition):
    """目標日 of one item from the dates the sheet's hosts declare: (date or None, note or None)."""
    dates = sorted(set(declared))
    if not dates:
        return None, None
    if len(dates) > 1:
        return None, ("target dates differ between the sheet's hosts (%s); not shown: declare one "
                      "iryo_checklist_targets per sheet" % ", ".join(dates))
    day = datetime.date.fromisoformat(dates[0])
    if not bounds[0] <= day <= bounds[1]:
        return None, ("declared target %s lies outside %s (%s to %s); not shown: the sheet asks for a date "
                      "within the fiscal year" % (dates[0], edition["fiscal_year"], bounds[0].isoformat(),
                                                  bounds[1].isoformat()))
    return dates[0], None


def answer_item(mapping, hosts, index, organisation, known_checks):
    """One item of one sheet. hosts: the sheet's hosts; index: {(host, check): [finding]}; organisation:
    {check: finding} of the pseudo-host _organisation. Returns the answer and what it rests on."""
    no, unsure = [], []
    host_rows, covered = [], []
    for host in hosts:
        rows = []
        for check_id in mapping["checks"]:
            for finding in index.get((host, check_id), []):
                rows.append({"check": check_id, "target": finding.get("target"), "status": finding.get("status"),
                             "summary": finding_summary(finding)})
        if rows:
            host_rows.append({"host": host, "checks": rows})
        if any(row["status"] != "not_applicable" for row in rows):
            covered.append(host)
    unreported = []  # mapped checks without a finding where the item needs one
    for check_id in mapping["checks"]:
        answered = [h for h in hosts if index.get((h, check_id))]
        if not answered:
            planned = known_checks.get(check_id, {}).get("planned")
            unreported.append({"check": check_id, "planned": planned, "missing_on": list(hosts)})
            unsure.append("%s reported nothing on this sheet's hosts%s" % (
                check_id, " (planned in issue %s, not implemented yet)" % planned if planned else ""))
            continue
        missing = [host for host in covered if host not in answered]
        if missing:
            unreported.append({"check": check_id, "planned": None, "missing_on": missing})
            unsure.append("%s did not report on %s" % (check_id, ", ".join(missing)))
    for row in host_rows:
        if row["host"] not in covered:
            continue
        for check in row["checks"]:
            status = check["status"]
            where = "%s on %s" % (check["check"], row["host"])
            if status == "fail":
                no.append("%s fails: %s" % (where, check["summary"]))
            elif status == "excepted":
                unsure.append("%s is excepted (an accepted risk is not a pass): %s" % (where, check["summary"]))
            elif status not in ACCEPTABLE:
                unsure.append("%s is %s: %s" % (where, status, check["summary"]))
    if mapping["checks"] and not covered and host_rows:
        unsure.append("the mapped checks apply to none of this sheet's hosts")
    records = []
    for check_id in mapping["evidence"]:
        finding = organisation.get(check_id)
        if finding is None:
            records.append({"check": check_id, "status": None, "summary": "not in this run"})
            unsure.append("evidence %s is not in this run's organisational items" % check_id)
            continue
        status, summary = finding.get("status"), finding_summary(finding)
        records.append(dict({"check": check_id, "status": status, "summary": summary}, **_record(finding)))
        if status == "fail":
            no.append("evidence %s: %s" % (check_id, summary))
        elif status == "manual":
            unsure.append("evidence %s is not recorded yet (iryo_evidence)" % check_id)
        elif status != "pass":
            unsure.append("evidence %s is %s: %s" % (check_id, status, summary))
    answer = "no" if no else "to_confirm" if unsure else "yes"
    return {"answer": answer, "reasons": no + unsure, "covered_hosts": covered, "hosts": host_rows,
            "unreported": unreported, "evidence": records}


def answer_sheet(edition, sheet, hosts, index, organisation, known_checks, inputs, confirmed_on):
    """Every item of `sheet` (hospital or vendor) for `hosts`, in the order printed."""
    bounds = fiscal_year_bounds(edition["edition"])
    items, totals = [], dict((a, 0) for a in ANSWERS)
    for item in edition["items"]:
        if sheet not in item["sheets"]:
            continue
        mapping = edition["mapping"][item["key"]]
        answered = answer_item(mapping, hosts, index, organisation, known_checks)
        declared = [((inputs.get(h) or {}).get("targets") or {}).get(item["key"]) for h in hosts]
        target, note = (None, None)
        if answered["answer"] == "no":
            # For いいえ only: the sheet asks for 「対策の実施にかかる…年度中の目標日」; never invented.
            target, note = _target_item([d for d in declared if d], bounds, edition["edition"])
        text_ja = item["text_ja"]
        if sheet == "vendor" and item.get("vendor_text_ja"):
            text_ja = item["vendor_text_ja"]
        totals[answered["answer"]] += 1
        items.append({
            "key": item["key"], "number": item["number"], "section": item["section"],
            "text_ja": " ".join(str(text_ja).split()), "note_ja": item.get("note_ja"),
            "scope_ja": item.get("scope_ja"), "gloss_en": " ".join(str(item["gloss_en"]).split()),
            "confidence": item["confidence"], "text_confidence": item["text_confidence"],
            "number_confidence": item["number_confidence"],
            "checks": list(mapping["checks"]), "evidence_checks": list(mapping["evidence"]),
            "coverage": mapping["coverage"], "coverage_note": mapping["note_en"],
            "answer": answered["answer"], "answer_ja": ANSWER_JA[answered["answer"]],
            "reasons": answered["reasons"], "covered_hosts": answered["covered_hosts"],
            "hosts": answered["hosts"], "unreported": answered["unreported"], "evidence": answered["evidence"],
            "confirmed_on": confirmed_on, "target_date": target, "target_note": note,
        })
    return {"sheet": sheet, "hosts": list(hosts), "totals": totals, "items": items}


def build_checklist(findings, hosts, clauses, run, inputs=None, edition_id=None):
    """The report model's `checklist`: the hospital sheet (`items`, `totals`) and `per_vendor` sheets.

    findings: the run's (latest) findings; hosts: the report's host entries; clauses: the catalog the run was
    judged against (the report's `clauses`); inputs: {host: {"vendor", "targets"}} from the input play;
    edition_id: the edition to answer (default: the newest in data/checklist/)."""
    known = checks_from_clauses(clauses)
    edition = load_edition(edition_id, known)
    inputs = dict(inputs or {})
    names = [h["name"] for h in hosts if h["name"] != ORGANISATION_HOST]
    index, organisation = {}, {}
    for finding in findings:
        if finding.get("host") == ORGANISATION_HOST:
            organisation[finding.get("check")] = finding
        else:
            index.setdefault((finding.get("host"), finding.get("check")), []).append(finding)
    confirmed = run_date(run)
    confirmed_on = confirmed.isoformat() if confirmed else None
    start, end = fiscal_year_bounds(edition["edition"])
    notes = []
    if confirmed and not start <= confirmed <= end:
        notes.append("the run date %s lies outside %s (%s to %s): a newer edition may be in force; add it to "
                     "data/checklist/ (docs/checklist.md)" % (confirmed_on, edition["edition"]["fiscal_year"],
                                                               start.isoformat(), end.isoformat()))
    vendors = {}
    for name in names:
        vendor = (inputs.get(name) or {}).get("vendor")
        if vendor:
            vendors.setdefault(vendor, []).append(name)
    without = [n for n in names if not (inputs.get(n) or {}).get("vendor")]
    if vendors and without:
        notes.append("hosts without iryo_vendor are on the hospital sheet only: %s" % ", ".join(without))
    elif not vendors:
        notes.append("no host declares iryo_vendor, so there is no vendor sheet")
    hospital = answer_sheet(edition, "hospital", names, index, organisation, known, inputs, confirmed_on)
    per_vendor = []
    for vendor in sorted(vendors):
        sheet = answer_sheet(edition, "vendor", vendors[vendor], index, organisation, known, inputs, confirmed_on)
        per_vendor.append(dict({"vendor": vendor}, **sheet))
    meta = edition["edition"]
    final = next((s for s in meta.get("sources") or [] if s.get("key") == "final-checklist-pdf"), {})
    sections = [{"id": str(s["id"]), "title_ja": s.get("title_ja"), "title_en": s.get("title_en")}
                for s in edition["sections"]]
    return dict({
        "edition": {"id": meta["id"], "fiscal_year": meta["fiscal_year"], "fiscal_year_start": start.isoformat(),
                    "fiscal_year_end": end.isoformat(), "title_ja": meta["title_ja"], "title_en": meta["title_en"],
                    "source": final.get("url"), "source_confidence": final.get("confidence")},
        "sheets": {s["id"]: {"title_ja": s.get("title_ja"), "title_en": s.get("title_en")} for s in edition["sheets"]},
        "sections": sections,
        "confirmed_on": confirmed_on,
        "notes": notes,
        "inputs": {"hosts": {name: {"vendor": (inputs.get(name) or {}).get("vendor"),
                                    "targets": dict((inputs.get(name) or {}).get("targets") or {})}
                             for name in names if name in inputs}},
    }, **hospital, per_vendor=per_vendor)
