"""JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters).

One ``<testsuite>`` per host, one ``<testcase>`` per finding:

    classname = clause id ("C.12"), name = "<check> [<target>]"
    fail           -> <failure message="<the finding's summary>">
    error          -> <error message="<the finding's summary>">
    manual, n/a    -> <skipped>
    excepted       -> passes, <system-out> names the exception
    pass           -> plain

Text from hosts may hold characters that XML 1.0 cannot carry (NUL, ESC, ...): they are
replaced, and ElementTree escapes the rest.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from ._common import clause_ids, finding_summary, host_names, index_findings, text

# Characters XML 1.0 allows: TAB, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(value) -> str:
    """A model value as text that XML 1.0 can carry."""
    return _XML_INVALID.sub("\ufffd", text(value))


def _json(value) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _exception_line(exc: dict) -> str:
    state = "EXPIRED" if exc.get("expired") else "valid"
    return (f"Exception ({state}): {text(exc.get('reason'))}; approved by {text(exc.get('approver'))}; "
            f"expires {text(exc.get('expires'))}")


def _details(f: dict) -> str:
    lines = [
        finding_summary(f),
        f"{text(f.get('title_en'))} / {text(f.get('title_ja'))}",
        f"host: {text(f.get('host'))}  clause: {text(f.get('clause'))}  check: {text(f.get('check'))}",
        f"status: {text(f.get('status'))}  severity: {text(f.get('severity'))}",
        f"target: {text(f.get('target'))}",
        "evidence:",
        _json(f.get("evidence")),
        "expected:",
        _json(f.get("expected")),
    ]
    if f.get("remediation"):
        lines.append("remediation: " + text(f.get("remediation")))
    lines.append("fixable by iryo-guard: " + ("yes" if f.get("fixable") else "no"))
    src = f.get("source")
    if isinstance(src, dict):
        lines.append(f"source: {text(src.get('document'))} ({text(src.get('confidence'))})")
    if isinstance(f.get("exception"), dict):
        lines.append(_exception_line(f["exception"]))
    return "\n".join(lines)


def case_name(f: dict) -> str:
    """The testcase name: ``<check> [<target>]`` (just the check when there is no target)."""
    target = text(f.get("target"))
    return f"{text(f.get('check'))} [{target}]" if target else text(f.get("check"))


def render_junit(report: dict) -> str:
    """Render the report model as a JUnit XML document (a string with an XML declaration)."""
    run = report.get("run") or {}
    index = index_findings(report)
    order = clause_ids(report)
    suites = ET.Element("testsuites", name=_x(f"iryo-guard {text(run.get('id'))}".strip()))
    grand = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for host in host_names(report):
        suite = ET.SubElement(suites, "testsuite", name=_x(host), hostname=_x(host))
        if run.get("started"):
            suite.set("timestamp", _x(run.get("started")).rstrip("Z"))
        props = ET.SubElement(suite, "properties")
        for key in ("id", "check_mode", "ansible_core", "controller"):
            if key in run:
                ET.SubElement(props, "property", name="run." + key, value=_x(run.get(key)))
        doc = report.get("document") or {}
        if doc.get("id"):
            ET.SubElement(props, "property", name="document", value=_x(doc.get("id")))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for cid in order:
            for f in index.get((host, cid)) or []:
                status = text(f.get("status"))
                case = ET.SubElement(suite, "testcase", classname=_x(cid), name=_x(case_name(f)), time="0")
                counts["tests"] += 1
                title = text(f.get("title_en") or f.get("check"))
                severity = text(f.get("severity"))
                if status == "fail":
                    counts["failures"] += 1
                    msg = finding_summary(f)
                    exc = f.get("exception")
                    if isinstance(exc, dict) and exc.get("expired"):
                        msg += f" (exception expired {text(exc.get('expires'))})"
                    node = ET.SubElement(case, "failure", message=_x(msg), type=_x(severity or "fail"))
                    node.text = _x(_details(f))
                elif status == "error":
                    counts["errors"] += 1
                    msg = finding_summary(f)
                    node = ET.SubElement(case, "error", message=_x(msg), type="error")
                    node.text = _x(_details(f))
                elif status in ("manual", "not_applicable"):
                    counts["skipped"] += 1
                    msg = ("manual: evidence to be reviewed by an auditor: " + title if status == "manual"
                           # a check switched off says so (skipped by configuration (iryo_check_... = false))
                           else finding_summary(f) if f.get("skipped_by") else "not applicable to this host")
                    ET.SubElement(case, "skipped", message=_x(msg))
                elif status == "excepted":
                    out = ET.SubElement(case, "system-out")
                    exc = f.get("exception") if isinstance(f.get("exception"), dict) else {}
                    out.text = _x("EXCEPTED. " + _exception_line(exc) + "\n\n" + _details(f))
                elif status != "pass":
                    # An unknown status never reads as a pass.
                    counts["errors"] += 1
                    msg = f"unknown status {status!r}"
                    node = ET.SubElement(case, "error", message=_x(msg), type="error")
                    node.text = _x(_details(f))
        for key, value in counts.items():
            suite.set(key, str(value))
            grand[key] += value
        suite.set("time", "0")
    for key, value in grand.items():
        suites.set(key, str(value))
    ET.indent(suites, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
