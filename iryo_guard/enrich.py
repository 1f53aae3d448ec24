"""Turn what a check returned into report-ready findings.

Modules say what they saw (check id, status, evidence). The controller adds what only it
knows: the inventory host, the clause and labels from the catalog, and the exceptions the
inventory declares. Doing this in one place keeps every check's output identical in shape.

A managed host is untrusted input (issue 16): a compromised host can return whatever JSON it
likes from a module. admit() is the door for a module's findings: the controller sets `host`
from the task's host, exceptions come only from the inventory's register (a module that claims
`excepted` gets an `error` saying so), and a finding that breaks the schema becomes an `error`
finding of that host with a readable summary instead of costing the run or another host anything.
"""

import datetime
import fnmatch

from .schema import FindingError, error_finding, fit_summary, validate_finding

EXCEPTION_FIELDS = ("check", "reason", "approver", "expires")
# Fields only the controller writes: a module's value for them is dropped (host, labels, source) or,
# for the exception, refused (admit).
CONTROLLER_FIELDS = ("host", "clause", "title_ja", "title_en", "source", "exception")


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
        # The task's host, whatever the finding says (admit() refuses a module's claim of another host).
        finding["host"] = host
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


def _short(value, limit=80):
    """A module-supplied value as a short, printable, one-line text for a summary (it may be 10 MB)."""
    text = value if isinstance(value, str) else repr(value) if not isinstance(value, (bytes, bytearray)) \
        else "<%d bytes>" % len(value)
    return fit_summary(text[:limit * 4] or "''", limit)


def _target_of(raw, host):
    """The target a refused finding names, when it is a usable one-line text; else the host itself."""
    target = raw.get("target") if isinstance(raw, dict) else None
    if isinstance(target, str) and 0 < len(target) <= 200 and target == fit_summary(target, 200):
        return target
    return host


def admit(findings, host, catalog, exceptions=(), checks=(), today=None):
    """The findings a module returned for `host`, as the controller accepts them: each valid one enriched
    (enrich); the ones the controller refuses become one `error` finding of `host` per check and target, naming
    every reason (a host that says two things about one target gets an error for it, listed after the valid findings
    so that it is the one the report keeps). checks: the checks the call answers for, blamed for a finding whose
    check id the catalog does not know. Never raises for what the module sent."""
    refusals = {}  # (check, target) -> [reason, ...]

    def refuse(raw, why):
        check = raw.get("check") if isinstance(raw, dict) else None
        if isinstance(check, str) and check in catalog.checks:
            keys = [(check, _target_of(raw, host))]
        else:  # a finding we cannot attribute makes the whole call undecided
            keys = [(c, host) for c in checks]
        for key in keys:
            refusals.setdefault(key, []).append(why)

    if not isinstance(findings, list):
        refuse(None, "findings is a %s, not a list" % type(findings).__name__)
        findings = []
    admitted = []
    for raw in findings:
        if not isinstance(raw, dict):
            refuse(raw, "a finding is a %s, not a mapping" % type(raw).__name__)
            continue
        check = raw.get("check")
        if "host" in raw and raw.get("host") != host:
            refuse(raw, "it claims to be about host %s" % _short(raw.get("host")))
            continue
        if raw.get("status") == "excepted" or "exception" in raw:
            # Exceptions are the inventory's decision (iryo_exceptions), never the host's.
            refuse(raw, "it claims an exception (status %s), which only the inventory's iryo_exceptions can grant"
                   % _short(raw.get("status"), 20))
            continue
        try:
            validate_finding(raw)
            if check not in catalog.checks:
                raise FindingError("check %s is not in the clause catalog" % _short(check))
        except FindingError as exc:
            refuse(raw, _short(str(exc), 160))
            continue
        admitted.append({k: v for k, v in raw.items() if k not in CONTROLLER_FIELDS})
    errors = []
    for (check, target), reasons in refusals.items():
        reasons = list(dict.fromkeys(reasons))
        what = "a finding" if len(reasons) == 1 else "%d findings" % len(reasons)
        summary = "could not decide: the module on %s returned %s the controller refuses: %s" % (
            host, what, "; ".join(reasons))
        errors.append(error_finding(check, "refused module findings: %s" % "; ".join(reasons), target=target,
                                    summary=summary, refused=reasons))
    return enrich(admitted + errors, host, catalog, exceptions, today)
