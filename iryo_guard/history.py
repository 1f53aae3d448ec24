"""Run history: one line per run in <reports>/history.jsonl, the trend per clause, regressions.

Every run that writes a report (audit, harden, nightly) appends one JSON line:

    {"history_version": 1, "run_id": ..., "started": ..., "finished": ..., "playbook": "playbooks/nightly.yml",
     "check_mode": false, "report": "<folder under reports/>",
     "cells": {"<host>": {"<clause>": {"status": "fail", "counts": {"fail": 2, "pass": 3}}}},
     "totals": {"pass": 12, "fail": 5, ...}}

The report folders stay where they are (reports/<run id>/); the index makes the trend and the
regression check cheap, without reading every old report. Appends hold an exclusive flock, so
two runs finishing at once cannot interleave their lines.
"""

import fcntl
import json
import os
from pathlib import Path

from .catalog import ORGANISATION_HOST

HISTORY_FILE = "history.jsonl"
HISTORY_VERSION = 1
HISTORY_MODE = 0o600
FAILING = ("fail", "error")
# How many runs report.html shows in its trend.
TREND_RUNS = 30


def history_path(reports_root):
    return Path(reports_root) / HISTORY_FILE


def entry_from_report(report, report_folder):
    """The history line of one run, from its report model (report.json)."""
    run = report.get("run") or {}
    cells = {}
    for finding in report.get("findings") or []:
        host, clause = finding.get("host"), finding.get("clause")
        if not host or not clause:
            continue
        counts = cells.setdefault(host, {}).setdefault(clause, {"status": None, "counts": {}})["counts"]
        counts[finding["status"]] = counts.get(finding["status"], 0) + 1
    for host, clauses in cells.items():
        for clause, cell in clauses.items():
            cell["status"] = (report.get("matrix") or {}).get(host, {}).get(clause) or _worst(cell["counts"])
    playbooks = run.get("playbooks") or ["adhoc"]
    return {
        "history_version": HISTORY_VERSION,
        "run_id": run.get("id"),
        "started": run.get("started"),
        "finished": run.get("finished"),
        "playbook": playbooks[0],
        "check_mode": run.get("check_mode"),
        "report": str(report_folder),
        "cells": cells,
        "totals": dict(report.get("totals") or {}),
    }


def _worst(counts):
    order = ("fail", "error", "excepted", "manual", "pass", "not_applicable")
    present = [s for s in order if counts.get(s)]
    return present[0] if present else "error"


def append(reports_root, entry):
    """Append one run to the history (exclusive lock, one write, fsync)."""
    path = history_path(reports_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    # 0600 whatever the umask, and an older world-readable history is tightened (it lists every host's cells).
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, HISTORY_MODE)
    try:
        os.fchmod(fd, HISTORY_MODE)
    except OSError:
        os.close(fd)
        raise
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return path


def load(reports_root):
    """All runs of the history, oldest first. A damaged line (disk full mid-write) is skipped, not fatal:
    the history must never stop a report from being written."""
    path = history_path(reports_root)
    entries = []
    try:
        with open(path, encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            lines = handle.readlines()
    except FileNotFoundError:
        return entries
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("cells"), dict):
            entries.append(entry)
    return entries


def _previous_cell(history, host, clause):
    for entry in reversed(history):
        cell = (entry.get("cells") or {}).get(host, {}).get(clause)
        if cell:
            return entry, cell
    return None, None


def _failures(cell):
    counts = cell.get("counts") or {}
    return sum(int(counts.get(s, 0) or 0) for s in FAILING)


def regressions(history, current):
    """What got worse in `current` compared with the runs before it (`history`, oldest first).

    Per host x clause, against the last earlier run that had that cell:
    - regressed:     it was not failing (pass, excepted, manual, not_applicable) and is fail/error now;
    - more_failures: it was failing and now more of its checks fail or error (a new fail);
    - new_fail:      no earlier run had the cell (a new host or check) and it is fail/error.
    The first run of a history is the baseline: nothing to compare with, no regression.
    The organisation's manual items never regress."""
    if not history:
        return []
    found = []
    for host in sorted(current.get("cells") or {}):
        if host == ORGANISATION_HOST:
            continue
        for clause, cell in sorted(current["cells"][host].items()):
            if cell.get("status") not in FAILING:
                continue
            entry, before = _previous_cell(history, host, clause)
            item = {"host": host, "clause": clause, "status": cell["status"], "failures": _failures(cell),
                    "previous_run": entry.get("run_id") if entry else None,
                    "previous_status": before.get("status") if before else None,
                    "previous_failures": _failures(before) if before else 0}
            if before is None:
                found.append(dict(item, kind="new_fail"))
            elif before.get("status") not in FAILING:
                found.append(dict(item, kind="regressed"))
            elif item["failures"] > item["previous_failures"]:
                found.append(dict(item, kind="more_failures"))
    return found


def trend(history, clause_ids, runs=TREND_RUNS):
    """Per clause, the last `runs` runs (oldest first): counts of host cells by status.

    {clause: [{"run_id", "started", "playbook", "counts": {"pass": 3, "fail": 1}}, ...]}
    Runs in which the clause had no host cell (e.g. --tags of another clause) are left out of that
    clause's row; the organisation's manual items are not a host."""
    recent = [e for e in history if e.get("playbook") != "adhoc"][-runs:]
    rows = {clause: [] for clause in clause_ids}
    for entry in recent:
        per_clause = {}
        for host, clauses in (entry.get("cells") or {}).items():
            if host == ORGANISATION_HOST:
                continue
            for clause, cell in clauses.items():
                counts = per_clause.setdefault(clause, {})
                counts[cell.get("status")] = counts.get(cell.get("status"), 0) + 1
        for clause, counts in per_clause.items():
            rows.setdefault(clause, []).append({"run_id": entry.get("run_id"), "started": entry.get("started"),
                                                "playbook": entry.get("playbook"), "counts": counts})
    return rows
