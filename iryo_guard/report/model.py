"""Build the report model (report.json) from the findings of one run.

The model is the contract between the run and every renderer (HTML, JUnit, terminal) and
the history of later runs; docs/findings-schema.md describes it field by field.
"""

import datetime
import json
import os
import socket
from pathlib import Path

from ..catalog import ORGANISATION_HOST
from ..schema import SCHEMA_VERSION, STATUSES, cell_status, error_finding


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run(playbooks, check_mode, ansible_core, started=None):
    started = started or utc_now()
    name = Path(playbooks[0]).stem if playbooks else "adhoc"
    return {
        "id": "%s-%s" % (started.strftime("%Y%m%dT%H%M%SZ"), name),
        "started": iso(started),
        "finished": None,
        "playbooks": list(playbooks),
        "check_mode": bool(check_mode),
        "ansible_core": ansible_core,
        "controller": socket.gethostname(),
    }


def latest_by_key(findings):
    """Keep the last finding per (host, check, target): a harden run audits again at the end."""
    latest = {}
    for finding in findings:
        latest[(finding["host"], finding["check"], str(finding["target"]))] = finding
    return list(latest.values())


def unreachable_findings(host, message, check_ids, catalog):
    """An unreachable host gets an `error` for every check of the run: never a silent pass."""
    findings = []
    for check_id in sorted(check_ids):
        check = catalog.check(check_id)
        finding = error_finding(check_id, "host unreachable: %s" % message, target=host, host=host)
        finding.update(clause=check["clause"], title_ja=check["title_ja"], title_en=check["title_en"],
                       source={"document": "MHLW GL %s §%s %s" % (catalog.document["version"],
                                                                 catalog.document["section"], check["clause"]),
                               "confidence": catalog.clause(check["clause"])["confidence"]})
        findings.append(finding)
    return findings


def _clause_entry(clause):
    return {
        "id": clause["id"], "group": clause["group"], "title_ja": clause["title_ja"],
        "title_en": clause["title_en"], "text_ja": clause["text_ja"], "summary_en": clause["summary_en"],
        "confidence": clause["confidence"], "source": clause["source"],
        "checks": [{k: v for k, v in check.items() if k != "clause"} for check in clause["checks"]],
        "guideline_6_0": list(clause["guideline_6_0"]),
    }


def checklist_block(findings, hosts, clauses, run, checklist=None):
    """The report's `checklist` (iryo_guard.checklist.build_checklist), or {"error": why} when it cannot be
    answered: a broken edition file must not cost the run its report, and the error is shown where the sheet
    would be. checklist: {"hosts": {host: {vendor, targets}}, "edition": id or None} (the input play's values)."""
    from ..checklist import ChecklistError, build_checklist
    checklist = checklist or {}
    try:
        return build_checklist(findings, hosts, clauses, run, checklist.get("hosts"), checklist.get("edition"))
    except ChecklistError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a bug here must not cost the audit its report; the terminal line shows it
        return {"error": "the checklist could not be answered: %s: %s" % (type(exc).__name__, exc)}


def build_report(findings, hosts, catalog, run, checklist=None):
    """findings: enriched findings; hosts: [{name, groups, reachable}] in inventory order; checklist: the
    inspection checklist's inputs (see checklist_block)."""
    findings = latest_by_key(findings)
    order = {cid: i for i, cid in enumerate(catalog.clause_ids())}
    findings.sort(key=lambda f: (f["host"], order.get(f["clause"], 99), f["check"], str(f["target"])))
    host_entries = list(hosts)
    known = {h["name"] for h in host_entries}
    for finding in findings:
        if finding["host"] not in known:
            known.add(finding["host"])
            host_entries.append({"name": finding["host"], "groups": [], "reachable": True})
    # Servers by name (results arrive in whatever order hosts answer), the organisation last.
    host_entries.sort(key=lambda h: (h["name"] == ORGANISATION_HOST, h["name"]))

    matrix = {}
    for host in host_entries:
        cells = {}
        for clause_id in catalog.clause_ids():
            statuses = [f["status"] for f in findings if f["host"] == host["name"] and f["clause"] == clause_id]
            if statuses:
                cells[clause_id] = cell_status(statuses)
        matrix[host["name"]] = cells

    totals = {status: 0 for status in STATUSES}
    for finding in findings:
        totals[finding["status"]] += 1
    run = dict(run, finished=run.get("finished") or iso(utc_now()))
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": "iryo-guard",
        "run": run,
        "document": dict(catalog.document),
        "clauses": [_clause_entry(c) for c in catalog.clauses],
        "hosts": host_entries,
        "findings": findings,
        "matrix": matrix,
        "totals": totals,
        # The MHLW inspection checklist answered from the same findings (docs/checklist.md).
        "checklist": checklist_block(findings, host_entries, catalog.clauses, run, checklist),
    }


def failing(report):
    return [f for f in report["findings"] if f["status"] in ("fail", "error")]


FILE_MODE = 0o600


def private_file(path):
    """A new text file open for writing, mode 0600 whatever the umask (reports describe every host's weaknesses);
    an existing one (a stale .tmp) is truncated and made 0600, a symlink in its place is refused (O_NOFOLLOW)."""
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "w", encoding="utf-8")


def write_json(report, path):
    tmp = "%s.tmp" % path
    with private_file(tmp) as handle:
        json.dump(report, handle, ensure_ascii=False, indent=2, sort_keys=False, default=str)
        handle.write("\n")
    os.replace(tmp, path)
