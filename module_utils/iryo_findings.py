# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one findings schema of iryo-guard.

Every check, on a managed host or on the controller, builds its findings here and nowhere
else. This file is imported two ways: by modules as ``ansible.module_utils.iryo_findings``
(AnsiballZ ships it to the host) and by controller code as a plain module. It therefore
uses the Python standard library only and must keep working on Python 3.8.

A finding is a plain dict (so it survives JSON and Ansible's result handling):

    check        check id from the clause catalog, e.g. ``c12.patches.security_pending``
    clause       clause id, e.g. ``C.12`` (filled from the catalog on the controller)
    host         inventory hostname (filled on the controller)
    target       what exactly was looked at, e.g. ``apt``, ``127.0.0.1:8443``
    status       one of STATUSES
    severity     one of SEVERITIES
    evidence     what was seen (JSON-able)
    expected     what the requirement asks for (JSON-able)
    remediation  what to do, in one or two sentences
    fixable      True when iryo-guard's enforcement can fix it
    summary      ONE plain sentence an engineer acts on: what was seen against what is required
                 (a pass says briefly what was checked). At most MAX_SUMMARY characters, one line.
                 Written by the check that knows what it saw; renderers show it instead of the
                 structured evidence, which stays as it is for report.json.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SCHEMA_VERSION = 1

STATUSES = ("pass", "fail", "manual", "not_applicable", "excepted", "error")
SEVERITIES = ("critical", "high", "medium", "low", "info")

# How a set of findings for one host and clause collapses into one matrix cell: the
# first status in this order that occurs wins. A definite failure outranks an error
# (we could not tell), both outrank anything that reads as acceptable.
CELL_PRECEDENCE = ("fail", "error", "excepted", "manual", "pass", "not_applicable")

REQUIRED_FIELDS = ("check", "status", "severity", "target", "evidence", "expected",
                   "remediation", "fixable", "summary")

# A summary is one line a terminal table can show next to host, check and target.
MAX_SUMMARY = 240

class FindingError(ValueError):
    """A finding that does not follow the schema: a bug in a check, never a host problem."""


def fit_summary(text, limit=MAX_SUMMARY):
    """``text`` as one summary line: any run of whitespace (a newline in a file name or a command's
    output from the host) becomes one space, and a line over ``limit`` characters is cut with an
    ellipsis. Host data must never turn a finding into a schema error."""
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = line[:limit - 1].rstrip() + "\u2026"
    return line


def some(items, limit=4, sep=", ", width=None):
    """The first items and how many more: ``a, b, c, d and 3 more``; ``none`` for none. At most
    ``limit`` items, and fewer when ``width`` is given and the text would be longer than that."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    for count in range(min(limit, len(items)), 0, -1):
        text = sep.join(items[:count])
        if count < len(items):
            text += " and %d more" % (len(items) - count)
        if width is None or len(text) <= width:
            break
    return text


def make_finding(check, status, severity="medium", target="", evidence=None, expected=None,
                 remediation="", fixable=False, summary=None, **extra):
    """Build one finding and validate it. ``summary`` is the one-line sentence (see MAX_SUMMARY);
    ``extra`` may carry clause, host, title, source."""
    finding = {
        "check": check,
        "status": status,
        "severity": severity,
        "target": target,
        "evidence": evidence if evidence is not None else {},
        "expected": expected if expected is not None else {},
        "remediation": remediation,
        "fixable": bool(fixable),
    }
    if summary is not None:
        finding["summary"] = fit_summary(summary)
    finding.update(extra)
    validate_finding(finding)
    return finding


def validate_finding(finding):
    """Raise FindingError when ``finding`` does not follow the schema."""
    if not isinstance(finding, dict):
        raise FindingError("a finding must be a mapping, got %s" % type(finding).__name__)
    missing = [f for f in REQUIRED_FIELDS if f not in finding]
    if missing:
        raise FindingError("finding for %r lacks %s" % (finding.get("check"), ", ".join(missing)))
    if not isinstance(finding["check"], str) or not finding["check"]:
        raise FindingError("finding check id must be a non-empty string")
    if finding["status"] not in STATUSES:
        raise FindingError("finding %s has status %r; allowed: %s"
                           % (finding["check"], finding["status"], ", ".join(STATUSES)))
    if finding["severity"] not in SEVERITIES:
        raise FindingError("finding %s has severity %r; allowed: %s"
                           % (finding["check"], finding["severity"], ", ".join(SEVERITIES)))
    if not isinstance(finding["fixable"], bool):
        raise FindingError("finding %s: fixable must be true or false" % finding["check"])
    if "summary" in finding:
        summary = finding["summary"]
        if not isinstance(summary, str) or not summary.strip():
            raise FindingError("finding %s: summary must be a non-empty sentence" % finding["check"])
        if "\n" in summary or "\r" in summary:
            raise FindingError("finding %s: summary must be one line" % finding["check"])
        if len(summary) > MAX_SUMMARY:
            raise FindingError("finding %s: summary has %d characters; at most %d"
                               % (finding["check"], len(summary), MAX_SUMMARY))
    return finding


def cell_status(statuses):
    """Collapse the statuses of several findings into one (see CELL_PRECEDENCE)."""
    present = set(statuses)
    for status in CELL_PRECEDENCE:
        if status in present:
            return status
    return None


def error_finding(check, message, target="", **extra):
    """A check that could not decide. Never reads as pass. The summary is the error message (its
    whitespace collapsed, cut to one line); the evidence keeps it whole."""
    summary = extra.pop("summary", None) or "could not decide: %s" % (message or "no message")
    return make_finding(check, "error", severity="high", target=target,
                        evidence={"error": message}, expected={},
                        remediation="Fix what stopped the check, then run the audit again.",
                        fixable=False, summary=summary, **extra)
