"""Turn what a check returned into report-ready findings.

Modules say what they saw (check id, status, evidence). The controller adds what only it
knows: the inventory host, the clause and labels from the catalog, and the exceptions the
inventory declares. Doing this in one place keeps every check's output identical in shape.
"""

import datetime
import fnmatch

from .schema import FindingError, validate_finding

EXCEPTION_FIELDS = ("check", "reason", "approver", "expires")


class InputError(ValueError):
    """Inventory input that iryo-guard refuses before it touches any host."""


def parse_date(value, where):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError("%s: %r is not a date in the form YYYY-MM-DD" % (where, value)) from None


def validate_exceptions(exceptions, catalog, host="?"):
    """Check the inventory's iryo_exceptions for one host; return them normalised."""
    if exceptions in (None, ""):
        return []
    if not isinstance(exceptions, list):
        raise InputError("host %s: iryo_exceptions must be a list, got %s" % (host, type(exceptions).__name__))
    normalised = []
    for index, entry in enumerate(exceptions):
        where = "host %s: iryo_exceptions[%d]" % (host, index)
        if not isinstance(entry, dict):
            raise InputError("%s must be a mapping with %s" % (where, ", ".join(EXCEPTION_FIELDS)))
        missing = [f for f in EXCEPTION_FIELDS if not str(entry.get(f, "")).strip()]
        if missing:
            raise InputError("%s lacks %s (an exception needs a reason, an approver and an expiry date)"
                             % (where, ", ".join(missing)))
        try:
            catalog.check(entry["check"])
        except KeyError as exc:
            raise InputError("%s: %s" % (where, exc.args[0])) from None
        normalised.append({
            "check": entry["check"],
            "target": str(entry.get("target", "*")),
            "reason": str(entry["reason"]),
            "approver": str(entry["approver"]),
            "expires": parse_date(entry["expires"], where + ".expires").isoformat(),
        })
    return normalised


def _matching_exception(finding, exceptions):
    for exception in exceptions:
        if exception["check"] == finding["check"] and fnmatch.fnmatchcase(str(finding["target"]),
                                                                          exception["target"]):
            return exception
    return None


def apply_exception(finding, exceptions, today):
    """A failing finding covered by a valid exception becomes `excepted`; an expired one stays `fail`."""
    if finding["status"] != "fail":
        return finding
    exception = _matching_exception(finding, exceptions)
    if exception is None:
        return finding
    expired = datetime.date.fromisoformat(exception["expires"]) < today
    finding = dict(finding, exception=dict(exception, expired=expired))
    if not expired:
        finding["status"] = "excepted"
    return finding


def enrich(findings, host, catalog, exceptions=(), today=None):
    """Validate findings from a check and add host, clause, labels, source and exceptions."""
    today = today or datetime.date.today()
    enriched = []
    for raw in findings or []:
        finding = dict(raw)
        try:
            validate_finding(finding)
            check = catalog.check(finding["check"])
        except (FindingError, KeyError) as exc:
            raise FindingError("check returned an invalid finding: %s" % exc) from None
        finding.setdefault("host", host)
        finding["clause"] = check["clause"]
        finding["title_ja"] = check["title_ja"]
        finding["title_en"] = check["title_en"]
        clause = catalog.clause(check["clause"])
        finding["source"] = {
            "document": "MHLW GL %s §%s %s" % (catalog.document["version"], catalog.document["section"],
                                              check["clause"]),
            "confidence": clause["confidence"],
        }
        enriched.append(apply_exception(finding, exceptions, today))
    return enriched
