"""Merge the report.json files of one night into one fleet report.

When AWX slices a job template (one job per slice of the inventory) or several control nodes each
audit part of the fleet, every run writes its own report.json. This module merges them into one
report model, the same model the report callback builds for a run (iryo_guard.report.model), and
writes it with the callback's writer (iryo_guard.report.output.write_reports): report.json,
report.html, junit.xml and ONE history line, so the trend shows the fleet as one run.

    ./iryo merge OUT_DIR REPORT.json...
    python -m iryo_guard.report.merge OUT_DIR REPORT.json...

OUT_DIR's parent is the fleet's report folder (its history.jsonl and `latest`), as the callback's
report_dir is for a run. The merge refuses, with one line naming the files, when the parts cannot
be one report: a file that is not an iryo-guard report, parts of different report schemas,
documents or clause catalogs, or a host (or organisational item) that two parts report with
different results. The same host with the same results in two parts is counted once.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
from pathlib import Path

from ..catalog import ORGANISATION_HOST, Catalog
from .model import build_report, iso, utc_now
from ..schema import STATUSES

GENERATOR = "iryo-guard"
# What a finding's result is, for two parts that report the same host: the verdict and the sentence
# that explains it, not the evidence. Evidence carries times (hours since the signatures were
# fetched, the age of the package lists), so two audits of one host minutes apart differ there while
# agreeing on everything the report judges.
RESULT_FIELDS = ("status", "severity", "summary", "exception")


class MergeError(ValueError):
    """The parts cannot be merged; the message is one line that names the files."""


def _label(part):
    return part["label"]


def _target(finding):
    return str(finding.get("target"))


def _item(check, target):
    """How a finding is named in an error: `check [target]`, as the terminal summary names it."""
    return "%s [%s]" % (check, target) if target not in ("", "None") else check


# -- reading -------------------------------------------------------------------------------------


def validate_report(report, label):
    """Refuse anything that is not a report model the iryo-guard callback wrote."""
    def refuse(why):
        raise MergeError("%s is not an iryo-guard report: %s" % (label, why))

    if not isinstance(report, dict):
        refuse("the JSON is not an object")
    if report.get("generator") != GENERATOR:
        refuse("no \"generator\": \"%s\"" % GENERATOR)
    if not isinstance(report.get("schema_version"), int):
        refuse("no schema_version")
    run = report.get("run")
    if not isinstance(run, dict) or not run.get("id") or not run.get("started"):
        refuse("no run id or start time")
    document = report.get("document")
    if not isinstance(document, dict) or not document.get("id") or not document.get("version"):
        refuse("no document id or version")
    for key in ("clauses", "hosts", "findings"):
        if not isinstance(report.get(key), list):
            refuse("no %s list" % key)
    if not all(isinstance(c, dict) and c.get("id") and isinstance(c.get("checks"), list) for c in report["clauses"]):
        refuse("a clause without id or checks")
    if not all(isinstance(h, dict) and h.get("name") for h in report["hosts"]):
        refuse("a host without a name")
    for finding in report["findings"]:
        if not isinstance(finding, dict) or not all(finding.get(k) for k in ("host", "check", "clause")):
            refuse("a finding without host, check or clause")
        if finding.get("status") not in STATUSES:
            refuse("finding %s of %s has status %r" % (finding.get("check"), finding.get("host"),
                                                        finding.get("status")))
    return report


def load_part(path, label=None):
    """One report.json, validated. label: how errors name it (the path as the operator gave it)."""
    label = label or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MergeError("cannot read %s: %s" % (label, exc.strerror or exc)) from None
    except UnicodeDecodeError:
        raise MergeError("%s is not an iryo-guard report: not UTF-8 text" % label) from None
    try:
        report = json.loads(text)
    except ValueError as exc:
        raise MergeError("%s is not an iryo-guard report: not JSON (%s)" % (label, exc)) from None
    validate_report(report, label)
    return {"label": label, "path": str(Path(path).resolve()), "report": report}


# -- the catalog: every part must have been judged against the same one ---------------------------


def _canonical(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def catalog_fingerprint(report):
    """sha256 of the document and the clause catalog a report carries (its `document` and `clauses`).

    The report holds the whole catalog it was judged against, so two parts agree on the catalog
    exactly when these agree: a check added or a clause text corrected changes it."""
    return hashlib.sha256(_canonical([report["document"], report["clauses"]]).encode("utf-8")).hexdigest()


def _describe_document(document):
    return "%s v%s §%s" % (document.get("id"), document.get("version"), document.get("section"))


def _catalog_difference(first, other):
    """The first place two reports' catalogs differ, in words."""
    a_doc, b_doc = first["document"], other["document"]
    for key in sorted(set(a_doc) | set(b_doc)):
        if a_doc.get(key) != b_doc.get(key):
            return "document field %s" % key
    a_clauses = {c["id"]: c for c in first["clauses"]}
    b_clauses = {c["id"]: c for c in other["clauses"]}
    for cid in a_clauses:
        if cid not in b_clauses:
            return "clause %s only in the first" % cid
    for cid in b_clauses:
        if cid not in a_clauses:
            return "clause %s only in the second" % cid
    if list(a_clauses) != list(b_clauses):
        return "the order of the clauses"
    for cid, clause in a_clauses.items():
        theirs = b_clauses[cid]
        a_checks = {c.get("id"): c for c in clause["checks"]}
        b_checks = {c.get("id"): c for c in theirs["checks"]}
        for check_id in a_checks:
            if check_id not in b_checks:
                return "check %s only in the first" % check_id
        for check_id in b_checks:
            if check_id not in a_checks:
                return "check %s only in the second" % check_id
        for check_id, check in a_checks.items():
            if check != b_checks[check_id]:
                field = next(k for k in sorted(set(check) | set(b_checks[check_id]))
                             if check.get(k) != b_checks[check_id].get(k))
                return "check %s field %s" % (check_id, field)
        if clause != theirs:
            field = next(k for k in sorted(set(clause) | set(theirs)) if clause.get(k) != theirs.get(k))
            return "clause %s field %s" % (cid, field)
    return "their catalogs"


def check_same_catalog(parts):
    first = parts[0]
    base = first["report"]
    for part in parts[1:]:
        report = part["report"]
        if report["schema_version"] != base["schema_version"]:
            raise MergeError("different report schemas: %s has schema %s, %s has schema %s; merge reports "
                             "of one iryo-guard version" % (_label(first), base["schema_version"], _label(part),
                                                           report["schema_version"]))
        a_doc, b_doc = base["document"], report["document"]
        if (a_doc.get("id"), a_doc.get("version"), a_doc.get("section")) != \
                (b_doc.get("id"), b_doc.get("version"), b_doc.get("section")):
            raise MergeError("different documents: %s audits %s, %s audits %s; merge reports of one document"
                             % (_label(first), _describe_document(a_doc), _label(part), _describe_document(b_doc)))
        if catalog_fingerprint(report) != catalog_fingerprint(base):
            raise MergeError("different catalog versions: %s and %s were judged against different clause "
                             "catalogs (%s differs); run every part from the same iryo-guard version"
                             % (_label(first), _label(part), _catalog_difference(base, report)))


# -- hosts: each in one part, or the same results in every part that has it -----------------------


def _results(report, host):
    """{(check, target): {field: value}} of one host in one report: what two parts must agree on."""
    found = {}
    for finding in report["findings"]:
        if finding["host"] == host:
            found[(finding["check"], _target(finding))] = {k: finding.get(k) for k in RESULT_FIELDS}
    return found


def _difference(mine, theirs, first, part):
    """The first difference between one host's results in two parts, in words; None when identical."""
    for key in sorted(set(mine) | set(theirs)):
        item = _item(*key)
        if key not in theirs:
            return "%s only in %s" % (item, _label(first))
        if key not in mine:
            return "%s only in %s" % (item, _label(part))
        a, b = mine[key], theirs[key]
        if a["status"] != b["status"]:
            return "%s is %s in %s, %s in %s" % (item, a["status"], _label(first), b["status"], _label(part))
        for field in RESULT_FIELDS[1:]:
            if a[field] != b[field]:
                return "%s has a different %s in %s and %s" % (item, field, _label(first), _label(part))
    return None


def check_overlaps(parts):
    """Refuse a host, or an organisational item, that two parts report differently."""
    seen = {}  # host -> (first part that has it, its host entry)
    for part in parts:
        report = part["report"]
        names = {h["name"]: h for h in report["hosts"]}
        names.update({f["host"]: names.get(f["host"], {"name": f["host"]}) for f in report["findings"]})
        for host, entry in names.items():
            if host not in seen:
                seen[host] = (part, entry)
                continue
            first, first_entry = seen[host]
            if host == ORGANISATION_HOST:
                # Every run reports the organisation's items (the register in the inventory, the catalog's
                # manual items): the same per run, so a difference is in the inventories of the parts.
                difference = _difference(_results(first["report"], host), _results(report, host), first, part)
                if difference:
                    raise MergeError("organisational item %s; every part must use the same inventory "
                                     "variables (iryo_contracts, iryo_evidence)" % difference)
                continue
            if first_entry.get("reachable", True) != entry.get("reachable", True):
                unreachable = first if first_entry.get("reachable", True) is False else part
                raise MergeError("host %s is in %s and %s with different results: unreachable in %s; audit "
                                 "each host in one part only (check --limit)"
                                 % (host, _label(first), _label(part), _label(unreachable)))
            difference = _difference(_results(first["report"], host), _results(report, host), first, part)
            if difference:
                raise MergeError("host %s is in %s and %s with different results: %s; audit each host in one "
                                 "part only (check --limit)" % (host, _label(first), _label(part), difference))


# -- the merged model ------------------------------------------------------------------------------


def _unique(values):
    out = []
    for value in values:
        if value not in (None, "") and value not in out:
            out.append(value)
    return out


def _parse_time(value):
    try:
        return datetime.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def merged_run(parts, merged_at=None):
    """The run block of the fleet report: the parts' ids and times, one check mode when they agree."""
    runs = [p["report"]["run"] for p in parts]
    started = min((r["started"] for r in runs), key=lambda s: _parse_time(s) or datetime.datetime.max.replace(
        tzinfo=datetime.timezone.utc))
    finished_all = [r.get("finished") for r in runs if _parse_time(r.get("finished"))]
    finished = max(finished_all, key=_parse_time) if finished_all else None
    playbooks = _unique(pb for r in runs for pb in r.get("playbooks") or [])
    modes = {r.get("check_mode") for r in runs}
    stamp = _parse_time(started)
    stem = Path(playbooks[0]).stem if playbooks else "adhoc"
    return {
        "id": "%s-%s-merged" % (stamp.strftime("%Y%m%dT%H%M%SZ") if stamp else started, stem),
        "started": started,
        "finished": finished,
        "playbooks": playbooks,
        # Only a check mode every part had. Parts that disagree make it false: the report must not say
        # "no host was changed" (what True shows) when one part changed hosts; check_mode_parts says
        # which part ran how.
        "check_mode": modes.pop() if len(modes) == 1 and None not in modes else False,
        "check_mode_parts": [r.get("check_mode") for r in runs],
        "ansible_core": ", ".join(_unique(r.get("ansible_core") for r in runs)),
        "controller": ", ".join(_unique(r.get("controller") for r in runs)),
        "catalog_sha256": catalog_fingerprint(parts[0]["report"]),
        "merged_at": iso(merged_at or utc_now()),
        "parts": [{"id": r.get("id"), "started": r.get("started"), "finished": r.get("finished"),
                   "controller": r.get("controller"), "playbooks": r.get("playbooks"),
                   "check_mode": r.get("check_mode"), "report": p["path"],
                   "hosts": [h["name"] for h in p["report"]["hosts"] if h["name"] != ORGANISATION_HOST]}
                  for p, r in zip(parts, runs)],
    }


def _freshest_first(parts):
    """Parts by finish time, latest first (then the later argument): where two parts report a host
    identically, the merged report keeps the finding of the later run, whose evidence is the newer."""
    indexed = list(enumerate(parts))
    indexed.sort(key=lambda ip: (_parse_time(ip[1]["report"]["run"].get("finished")) or
                                 datetime.datetime.min.replace(tzinfo=datetime.timezone.utc), ip[0]), reverse=True)
    return [p for _, p in indexed]


def checklist_inputs(parts):
    """The inspection checklist's inputs of the merged report: the parts' edition (one for all) and every host's
    iryo_vendor and iryo_checklist_targets as its part's input play validated them. None when no part carries a
    checklist (reports written before it existed): the merged report then has none either.

    Returns (inputs, notes): notes name the parts whose checklist could not be answered (no inputs known)."""
    carrying = [p for p in parts if isinstance(p["report"].get("checklist"), dict)]
    if not carrying:
        return None, []
    if len(carrying) != len(parts):
        bare = next(p for p in parts if p not in carrying)
        raise MergeError("%s carries the inspection checklist and %s does not; run every part from the same "
                         "iryo-guard version" % (_label(carrying[0]), _label(bare)))
    editions, hosts, notes, first_of = {}, {}, [], {}
    for part in parts:
        block = part["report"]["checklist"]
        if block.get("error"):
            notes.append("%s's checklist could not be answered (%s), so its hosts' iryo_vendor and "
                         "iryo_checklist_targets are not known here" % (_label(part), block["error"]))
            continue
        edition = (block.get("edition") or {}).get("id")
        editions.setdefault(edition, part)
        for host, given in ((block.get("inputs") or {}).get("hosts") or {}).items():
            if host in hosts and hosts[host] != given:
                raise MergeError("host %s has different checklist inputs (iryo_vendor, iryo_checklist_targets) in "
                                 "%s and %s; every part must use the same inventory" % (host, _label(first_of[host]),
                                                                                       _label(part)))
            hosts.setdefault(host, given)
            first_of.setdefault(host, part)
    if len(editions) > 1:
        (a, first), (b, other) = list(editions.items())[:2]
        raise MergeError("%s answers the checklist edition %s and %s the edition %s; merge reports of one edition"
                         % (_label(first), a, _label(other), b))
    return {"edition": next(iter(editions), None), "hosts": hosts}, notes


def merge_reports(parts, merged_at=None):
    """One report model from the parts (load_part results, in the order given). Raises MergeError."""
    if not parts:
        raise MergeError("no report to merge")
    check_same_catalog(parts)
    check_overlaps(parts)
    base = parts[0]["report"]
    # The model builder of the callback, with the catalog the parts carry (not this checkout's: the
    # merged report is judged against what the runs were judged against).
    catalog = Catalog(document=dict(base["document"]), clauses=tuple(base["clauses"]), checks={})
    findings, hosts = [], {}
    taken = set()
    for part in _freshest_first(parts):
        for finding in part["report"]["findings"]:
            key = (finding["host"], finding["check"], _target(finding))
            if key not in taken:
                taken.add(key)
                findings.append(finding)
        for entry in part["report"]["hosts"]:
            known = hosts.setdefault(entry["name"], dict(entry, groups=list(entry.get("groups") or [])))
            known["groups"] += [g for g in entry.get("groups") or [] if g not in known["groups"]]
    # The checklist is answered again from the merged findings (an item covers every part's hosts), with the
    # vendors and target dates the parts' input plays validated.
    inputs, notes = checklist_inputs(parts)
    report = build_report(findings, list(hosts.values()), catalog, merged_run(parts, merged_at), checklist=inputs)
    if inputs is None:
        report.pop("checklist", None)
    elif notes and isinstance(report["checklist"].get("notes"), list):
        report["checklist"]["notes"] += notes
    return report


# -- writing ---------------------------------------------------------------------------------------


def _colour(stream):
    setting = os.environ.get("IRYO_REPORT_COLOR", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    return stream.isatty()


def merge_files(out_dir, paths, out=None, err=None):
    """Merge the report.json files `paths` into out_dir (report.json, report.html, junit.xml), append one
    line to out_dir's parent's history.jsonl, point its `latest` at out_dir, print the summary table.
    Returns write_reports' paths. Raises MergeError."""
    out = out or sys.stdout
    err = err or sys.stderr
    out_dir = Path(out_dir)
    # A second merge into one folder would overwrite its report and add a second history line for it.
    if (out_dir / "report.json").exists():
        raise MergeError("%s already holds a report.json; merge into a new folder" % out_dir)
    parts = [load_part(path, str(path)) for path in paths]
    report = merge_reports(parts)
    from .. import notify
    from .output import write_reports
    from .terminal import render_table
    out_dir.mkdir(parents=True, exist_ok=True)
    written = write_reports(report, out_dir.resolve().parent, out_dir.resolve())
    out.write(render_table(report, color=_colour(out), report_path=written["html"]))
    out.write("merged %d report(s): %s\n" % (len(parts), ", ".join(p["label"] for p in parts)))
    for kind in ("html", "json", "junit", "history"):
        out.write("report %-7s %s\n" % (kind, written[kind]))
    found = written["regressions"]
    for item in found:
        err.write("iryo-guard regression: %(host)s %(clause)s %(kind)s (%(previous_status)s -> %(status)s)\n" % item)
    settings = notify.settings_from({})
    if found and (settings.get("command") or settings.get("smtp_host")):
        outcome = notify.notify(settings, notify.summary(written["entry"], found, written["html"]))
        for channel in outcome["sent"]:
            out.write("iryo-guard notified %d regression(s) by %s\n" % (len(found), channel))
        for error in outcome["errors"]:
            err.write("iryo-guard could not notify: %s\n" % error)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="iryo merge",
        description="Merge the report.json files of one night (AWX job slices, several control nodes) into one "
                    "fleet report: OUT_DIR/report.{json,html} and junit.xml, and one line in the history.jsonl of "
                    "OUT_DIR's parent.")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="new folder for the merged report (its parent keeps "
                                                          "history.jsonl and latest)")
    parser.add_argument("reports", metavar="REPORT.json", nargs="+", help="report.json of each part")
    args = parser.parse_args(argv)
    try:
        merge_files(args.out_dir, args.reports)
    except MergeError as exc:
        sys.stderr.write("iryo merge: %s\n" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
