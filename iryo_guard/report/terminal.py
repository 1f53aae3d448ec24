"""Compact terminal summary: host x clause table, totals, and the failures and errors.

Each failure or error is one line: status, severity, host, check [target] and the finding's
summary, the sentence its check wrote (iryo_guard.report._common.finding_summary); the structured
evidence stays in report.json and report.html. No line is longer than LINE_MAX characters (nor
terminal cells): a longer one is cut and points at the report.

The table frame and the status words are ASCII. Text from hosts is stripped of control
characters (a host must not be able to send escape sequences to the operator's terminal);
``ascii_only=True`` also turns any other non-ASCII character into a ``\\uXXXX`` escape, for
logs and terminals without UTF-8. Widths are counted in terminal cells (East Asian wide
characters count two), so columns align whatever the names are.
"""

from __future__ import annotations

import unicodedata

from ._common import (
    STATUS_ORDER,
    cell,
    clause_ids,
    finding_summary,
    finding_sort_key,
    host_names,
    hosts_by_name,
    index_findings,
    strip_controls,
    text,
    totals,
)

ABBREV = {
    "pass": "PASS",
    "fail": "FAIL",
    "error": "ERR",
    "manual": "MAN",
    "excepted": "EXC",
    "not_applicable": "N-A",
}
NO_CHECK = "."

# ANSI SGR codes per status.
_COLOURS = {
    "pass": "32",
    "fail": "1;31",
    "error": "1;35",
    "manual": "34",
    "excepted": "33",
    "not_applicable": "2",
}
_RESET = "\x1b[0m"

MAX_PROBLEM_LINES = 30
# The longest line printed, counted in characters (ANSI colour codes included) and in terminal cells.
LINE_MAX = 300
# Host names longer than this (in cells) are cut in the table and the problem list.
HOST_WIDTH = 40


def _clean(value, ascii_only: bool) -> str:
    s = strip_controls(text(value), "?")
    if ascii_only:
        s = s.encode("ascii", "backslashreplace").decode("ascii")
    return s


def _width(s: str) -> int:
    """Display width in terminal cells."""
    width = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - _width(s))


def _truncate(s: str, width: int, ascii_only: bool) -> str:
    if _width(s) <= width:
        return s
    ellipsis = "..." if ascii_only else "\u2026"
    out, used = [], 0
    for ch in s:
        w = _width(ch)
        if used + w > width - _width(ellipsis):
            break
        out.append(ch)
        used += w
    return "".join(out) + ellipsis


def _paint(s: str, status: str, color: bool) -> str:
    if not color or status not in _COLOURS:
        return s
    return f"\x1b[{_COLOURS[status]}m{s}{_RESET}"


def _fit(line: str, ascii_only: bool, hint: str, limit: int = LINE_MAX) -> str:
    """``line`` cut so that it has at most ``limit`` characters and cells, ending in where to read on."""
    if len(line) <= limit and _width(line) <= limit:
        return line
    suffix = ("... " if ascii_only else "\u2026 ") + hint
    if len(suffix) > limit // 3:
        suffix = ("... " if ascii_only else "\u2026 ") + "see report.html"
    budget = limit - len(suffix) - 1  # the space before the suffix
    out, used = [], 0
    for ch in line:
        used += _width(ch)
        if used > budget or len(out) + 1 > budget:
            break
        out.append(ch)
    return "".join(out).rstrip() + " " + suffix


def checklist_line(report: dict, report_path=None) -> str | None:
    """The inspection checklist's one line (docs/checklist.md): the hospital sheet's answers and where the
    sheet is; None for a report without a checklist (an old report.json)."""
    sheet = report.get("checklist")
    if not isinstance(sheet, dict):
        return None
    if sheet.get("error"):
        return "Checklist not answered: " + strip_controls(text(sheet.get("error")), "?")
    edition = sheet.get("edition") or {}
    label = f"{text(edition.get('fiscal_year'))}版" if edition.get("fiscal_year") else text(edition.get("id"))
    counts = sheet.get("totals") or {}
    where = f"{text(report_path) if report_path else 'report.html'}#checklist"
    return (f"Checklist {label} (hospital): はい {int(counts.get('yes', 0))} / いいえ {int(counts.get('no', 0))} / "
            f"要確認 {int(counts.get('to_confirm', 0))}; sheet: {where}")


def render_table(report: dict, color: bool = False, ascii_only: bool = False, report_path=None) -> str:
    """Render the summary for a terminal. ``color`` adds ANSI colours; ``report_path`` (report.html of
    the run) is where a cut line and the rest of a long problem list point."""
    hint = "see %s" % _clean(report_path, ascii_only) if report_path else "see report.html"
    index = index_findings(report)
    hinfo = hosts_by_name(report)
    hosts = host_names(report)
    cols = [cid for cid in clause_ids(report) if any((h, cid) in index for h in hosts)]
    run = report.get("run") or {}
    doc = report.get("document") or {}

    lines = []
    mode = "check mode" if run.get("check_mode") is not False else "ENFORCE mode"
    head = f"iryo-guard  run {_clean(run.get('id'), ascii_only)}  ({mode})"
    if doc.get("id"):
        head += f"  {_clean(doc.get('id'), ascii_only)}"
    lines.append(head)

    labels = {}
    for host in hosts:
        label = _truncate(_clean(host, ascii_only), HOST_WIDTH, ascii_only)
        if (hinfo.get(host) or {}).get("reachable") is False:
            label += " (unreachable)"
        labels[host] = label
    host_w = max([_width("host")] + [_width(v) for v in labels.values()])
    col_w = {cid: max(4, _width(_clean(cid, ascii_only))) for cid in cols}
    sep = "  "

    header = _pad("host", host_w) + "".join(sep + _pad(_clean(c, ascii_only), col_w[c]) for c in cols)
    rule = "-" * _width(header)
    lines += [rule, header.rstrip(), rule]
    for host in hosts:
        row = _pad(labels[host], host_w)
        for cid in cols:
            status = cell(report, host, cid, index)
            word = ABBREV.get(status, "?") if status else NO_CHECK
            if status and status not in ABBREV:
                word = "?" + _clean(status, True)[:3]
            row += sep + _paint(_pad(word, col_w[cid]), status or "", color)
        lines.append(row.rstrip() if not color else row)
    lines.append(rule)

    tot = totals(report)
    n = sum(tot.values())
    lines.append("Totals: " + "  ".join(_paint(f"{ABBREV[s]} {tot.get(s, 0)}", s, color) if tot.get(s) else
                                        f"{ABBREV[s]} {tot.get(s, 0)}" for s in STATUS_ORDER)
                 + f"  ({n} findings)")

    problems = sorted(
        (f for f in report.get("findings") or [] if f.get("status") in ("fail", "error")),
        key=lambda f: (finding_sort_key(f)[0], finding_sort_key(f)[1],
                       hosts.index(f.get("host")) if f.get("host") in hosts else len(hosts),
                       text(f.get("check")), text(f.get("target"))))
    if problems:
        lines.append("")
        lines.append(f"Failures and errors ({len(problems)}):")
        shown = problems[:MAX_PROBLEM_LINES]
        if len(problems) > MAX_PROBLEM_LINES:
            shown = problems[:MAX_PROBLEM_LINES - 1]
        p_host_w = max(_width(labels.get(f.get("host"), _clean(f.get("host"), ascii_only))) for f in shown)
        for f in shown:
            status = f.get("status")
            target = _clean(f.get("target"), ascii_only)
            what = _clean(f.get("check"), ascii_only)
            if target:
                what += f" [{_truncate(target, 40, ascii_only)}]"
            exc = f.get("exception")
            note = ""
            if isinstance(exc, dict) and exc.get("expired"):
                note = f" (exception expired {_clean(exc.get('expires'), ascii_only)})"
            lines.append(
                _paint(_pad(ABBREV.get(status, "?"), 4), status, color) + "  "
                + _pad(_clean(f.get("severity"), ascii_only), 8) + "  "
                + _pad(labels.get(f.get("host"), _clean(f.get("host"), ascii_only)), p_host_w) + "  "
                + what + note + "  " + _clean(finding_summary(f), ascii_only))
        rest = len(problems) - len(shown)
        if rest:
            lines.append(("... " if ascii_only else "\u2026 ") + f"{rest} more ({hint})")
    sheet = checklist_line(report, report_path)
    if sheet:
        lines.append("")
        lines.append(_clean(sheet, ascii_only))
    return "\n".join(_fit(line, ascii_only, hint) for line in lines) + "\n"
