"""Helpers shared by the report renderers: status vocabulary and safe ordering of model data.

The renderers read the report model (report.json) defensively: a missing key or an unknown
clause or host must not stop a report from being written, since the report is how an
operator finds out that something went wrong.
"""

from __future__ import annotations

import re

# Order in which statuses are listed (totals, legends): the same as cell precedence, so the
# statuses that need attention come first.
STATUS_ORDER = ("fail", "error", "excepted", "manual", "pass", "not_applicable")

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")

ORG_HOST = "_organisation"

# Where a finding lacks its host or clause (a bug upstream), it is still shown, under this name.
MISSING = "(none)"

# C0 and C1 control characters except TAB, LF and CR; also DEL. Evidence comes from hosts and
# may carry terminal escape sequences or bytes that are not valid XML.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def strip_controls(text: str, replacement: str = "\ufffd") -> str:
    """Replace control characters (ESC, NUL, BEL, ...) with ``replacement``."""
    return _CONTROL_RE.sub(replacement, text)


def text(value) -> str:
    """Any model value as a display string ('' for None)."""
    if value is None:
        return ""
    return str(value)


def one_line(value) -> str:
    """Any text as one line: control characters dropped, whitespace runs (newlines) made one space."""
    return " ".join(strip_controls(text(value), " ").split())


def _strings(value) -> list[str]:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return []


def finding_summary(finding: dict) -> str:
    """The one sentence that says what a check saw: the finding's ``summary``.

    Findings from before the summary existed (an old report.json) get the nearest plain text the check
    wrote itself: the error, the violations or problems it listed, its reason, else what to do. Never a
    dump of the structured evidence: that is for report.json and the HTML drill-down."""
    summary = finding.get("summary")
    if isinstance(summary, str) and summary.strip():
        return one_line(summary)
    evidence = finding.get("evidence") if isinstance(finding.get("evidence"), dict) else {}
    if isinstance(evidence.get("error"), str) and evidence["error"].strip():
        return one_line("could not decide: " + evidence["error"])
    for key in ("violations", "problems"):
        listed = _strings(evidence.get(key))
        if listed:
            return one_line("; ".join(listed))
    if isinstance(evidence.get("reason"), str) and evidence["reason"].strip():
        return one_line(evidence["reason"])
    if text(finding.get("remediation")).strip():
        return one_line("to do: " + text(finding.get("remediation")))
    return one_line(finding.get("title_en") or finding.get("check") or "no summary")


def status_rank(status: str) -> int:
    try:
        return STATUS_ORDER.index(status)
    except ValueError:
        return len(STATUS_ORDER)


def severity_rank(severity: str) -> int:
    try:
        return SEVERITY_ORDER.index(severity)
    except ValueError:
        return len(SEVERITY_ORDER)


def clause_ids(report: dict) -> list[str]:
    """Clause ids in catalog order, then any clause named by a finding but absent from the catalog."""
    ids = [c.get("id") for c in report.get("clauses") or [] if c.get("id")]
    seen = set(ids)
    for finding in report.get("findings") or []:
        cid = finding.get("clause") or MISSING
        if cid not in seen:
            ids.append(cid)
            seen.add(cid)
    for cells in (report.get("matrix") or {}).values():
        for cid in cells or {}:
            if cid not in seen:
                ids.append(cid)
                seen.add(cid)
    return ids


def host_names(report: dict) -> list[str]:
    """Host names in model order (organisation pseudo-host last), then hosts only named by findings."""
    names = [h.get("name") for h in report.get("hosts") or [] if h.get("name")]
    seen = set(names)
    for finding in report.get("findings") or []:
        name = finding.get("host") or MISSING
        if name not in seen:
            names.append(name)
            seen.add(name)
    for name in report.get("matrix") or {}:
        if name not in seen:
            names.append(name)
            seen.add(name)
    if ORG_HOST in names:
        names.remove(ORG_HOST)
        names.append(ORG_HOST)
    return names


def hosts_by_name(report: dict) -> dict:
    return {h.get("name"): h for h in report.get("hosts") or [] if h.get("name")}


def cell(report: dict, host: str, clause: str, findings_index: dict) -> str | None:
    """The matrix cell status: the model's matrix when it has one, else derived from findings."""
    status = ((report.get("matrix") or {}).get(host) or {}).get(clause)
    if status:
        return status
    found = findings_index.get((host, clause))
    if not found:
        return None
    return min((f.get("status", "error") for f in found), key=status_rank)


def index_findings(report: dict) -> dict:
    """{(host, clause): [finding, ...]} with the findings of each cell sorted for reading."""
    index: dict = {}
    for finding in report.get("findings") or []:
        key = (finding.get("host") or MISSING, finding.get("clause") or MISSING)
        index.setdefault(key, []).append(finding)
    for found in index.values():
        found.sort(key=finding_sort_key)
    return index


def finding_sort_key(finding: dict):
    return (status_rank(finding.get("status")), severity_rank(finding.get("severity")),
            text(finding.get("check")), text(finding.get("target")))


def totals(report: dict) -> dict:
    """Totals by status: the model's when present, else counted from the findings."""
    given = report.get("totals")
    if isinstance(given, dict) and given:
        return {s: int(given.get(s, 0) or 0) for s in STATUS_ORDER}
    counted = {s: 0 for s in STATUS_ORDER}
    for finding in report.get("findings") or []:
        status = finding.get("status")
        if status in counted:
            counted[status] += 1
    return counted
