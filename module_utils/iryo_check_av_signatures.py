# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the av_signatures module (library/av_signatures.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible.module_utils.iryo_clamav import judge as judge_clamav
from ansible.module_utils.iryo_clamav import public, scan_directory
from ansible.module_utils.iryo_findings import make_finding
from ansible.module_utils.iryo_mdatp import MdatpError, parse_health
from ansible.module_utils.iryo_mdatp import judge as judge_mdatp

CHECK = "c12.antimalware.signatures_fresh"
CHECKS = (CHECK,)
CLAMAV_COMMANDS = ("clamscan", "clamd", "freshclam", "clamdscan")
REMEDIATION = {
    "clamav_fail": "Point freshclam at the hospital's mirror (PrivateMirror for the official databases, "
                   "DatabaseCustomURL for local ones), enable clamav-freshclam and run freshclam; clamd "
                   "reloads the new databases at its next SelfCheck.",
    "clamav_broken": "Remove or re-fetch the broken database files (freshclam replaces a damaged official "
                     "database); clamd refuses to load a directory with a broken official database.",
    "unreadable": "Let the audit user read the database directory (or point database_dir at ClamAV's "
                  "DatabaseDirectory), then audit again.",
    "clock": "Check the host clock (timedatectl, NTP) and the database files' dates, then audit again.",
    "none": "Install an anti-malware engine with signature updates from the hospital's mirror, or record an "
            "exception naming the product the host runs and its update evidence.",
    "mdatp": "Let Defender update its definitions (mdatp definitions update) from the hospital's update source "
             "(offline security intelligence updates on a closed network) and check mdatp health.",
}


def verdict_summary(engine, status, reason, max_age):
    """One sentence from the verdict's reason, which already says what was seen."""
    seen = reason if reason.startswith(engine) else "%s: %s" % (engine, reason)
    if status == "error":
        return "could not decide: %s" % seen
    if status == "fail" and "(limit" not in reason:
        return "%s; required: signatures at most %d hours old" % (seen, max_age)
    return seen


def clamav_finding(directory, max_age, now, custom_databases, verify_checksums):
    databases, skipped, dir_error = scan_directory(directory, now, custom_databases, verify_checksums)
    expected = {"max_age_hours": max_age}
    if dir_error:
        evidence = {"error": dir_error, "databases": []}
        return make_finding(CHECK, "error", "high", directory, evidence, expected, REMEDIATION["unreadable"],
                            False, summary="could not decide: ClamAV: %s" % dir_error), [], None
    verdict = judge_clamav(directory, databases, max_age, now, skipped)
    entries = [public(d) for d in databases]
    # The reason first: the terminal summary shows the evidence in this order, cut to one line.
    evidence = {"reason": verdict["reason"], "newest_age_hours": verdict["newest_age_hours"],
                "decided_by": verdict["decided_by"], "problems": verdict["problems"], "notes": verdict["notes"],
                "databases": entries}
    if verdict["status"] == "error":
        evidence["error"] = verdict["reason"]
    status = verdict["status"]
    if status == "pass":
        remediation, fixable = "", False
    elif "in the future" in verdict["reason"]:
        remediation, fixable = REMEDIATION["clock"], False
    elif status == "error":
        remediation, fixable = REMEDIATION["clamav_broken"], True
    else:
        remediation, fixable = REMEDIATION["clamav_fail"], True
    finding = make_finding(CHECK, status, "high", directory, evidence, expected, remediation, fixable,
                           summary=verdict_summary("ClamAV", status, verdict["reason"], max_age))
    return finding, entries, verdict["newest_age_hours"]


def mdatp_finding(module, mdatp, max_age, now):
    expected = {"max_age_hours": max_age, "definitions_status": "up_to_date"}
    rc, out, err = module.run_command([mdatp, "health", "--output", "json"],
                                      environ_update={"LANG": "C", "LC_ALL": "C"})
    try:
        if rc != 0:
            raise MdatpError("mdatp health --output json failed (rc=%d): %s" % (rc, (err or out).strip()[:300]))
        verdict = judge_mdatp(parse_health(out, now), max_age, now)
    except MdatpError as exc:
        evidence = {"error": str(exc), "databases": []}
        return make_finding(CHECK, "error", "high", "mdatp", evidence, expected,
                            "Make mdatp health answer (is the mdatp service running?), then audit again.",
                            False, summary="could not decide: Defender: %s" % exc), [], None
    entry = verdict["entry"]
    evidence = {"reason": verdict["reason"], "newest_age_hours": entry["age_hours"], "problems": verdict["problems"],
                "databases": [entry]}
    if verdict["status"] == "error":
        evidence["error"] = verdict["reason"]
    remediation = "" if verdict["status"] == "pass" else (
        REMEDIATION["clock"] if "future" in verdict["reason"] else REMEDIATION["mdatp"])
    finding = make_finding(CHECK, verdict["status"], "high", "mdatp", evidence, expected, remediation, False,
                           summary=verdict_summary("Defender", verdict["status"], verdict["reason"], max_age))
    return finding, [entry], entry["age_hours"]


def choose_engines(module, engine, directory):
    """The engines to judge and, for mdatp, its path."""
    mdatp = module.get_bin_path("mdatp")
    if engine == "clamav":
        return ["clamav"], mdatp
    if engine == "mdatp":
        return ["mdatp"], mdatp
    engines = []
    if os.path.isdir(directory) or any(module.get_bin_path(c) for c in CLAMAV_COMMANDS):
        engines.append("clamav")
    if mdatp:
        engines.append("mdatp")
    return engines, mdatp


ARGUMENT_SPEC = dict(
    database_dir=dict(type="path", default="/var/lib/clamav"),
    max_age_hours=dict(type="int", default=72),
    engine=dict(type="str", default="auto", choices=["auto", "clamav", "mdatp"]),
    custom_databases=dict(type="bool", default=True),
    verify_checksums=dict(type="bool", default=True),
)
MODULE_KWARGS = {}


def run_module(module):
    directory = module.params["database_dir"]
    max_age = module.params["max_age_hours"]
    if max_age < 1:
        module.fail_json(msg="max_age_hours must be at least 1, got %d" % max_age)
    now = time.time()
    engines, mdatp = choose_engines(module, module.params["engine"], directory)

    findings, databases, ages = [], [], []
    if not engines:
        reason = ("no supported anti-malware engine found: no ClamAV (%s missing, no %s command) and no "
                  "Microsoft Defender (no mdatp command)" % (directory, "/".join(CLAMAV_COMMANDS)))
        evidence = {"reason": reason, "databases": []}
        findings.append(make_finding(CHECK, "fail", "high", directory, evidence, {"max_age_hours": max_age},
                                     REMEDIATION["none"], False,
                                     summary="no supported anti-malware engine found (no ClamAV, no Defender); "
                                             "required: signatures at most %d hours old" % max_age))
    if "clamav" in engines:
        finding, entries, age = clamav_finding(directory, max_age, now, module.params["custom_databases"],
                                               module.params["verify_checksums"])
        findings.append(finding)
        databases.extend(entries)
        ages.append(age)
    if "mdatp" in engines:
        if mdatp is None:
            evidence = {"reason": "engine=mdatp but the mdatp command is not installed", "databases": []}
            finding, entries, age = make_finding(CHECK, "fail", "high", "mdatp", evidence,
                                                 {"max_age_hours": max_age}, REMEDIATION["none"], False,
                                                 summary=verdict_summary("Defender", "fail", evidence["reason"],
                                                                         max_age)), [], None
        else:
            finding, entries, age = mdatp_finding(module, mdatp, max_age, now)
        findings.append(finding)
        databases.extend(entries)
        ages.append(age)

    known = [a for a in ages if a is not None]
    module.exit_json(changed=False, compliant=all(f["status"] == "pass" for f in findings),
                     engine="+".join(engines) or "none", databases=databases,
                     newest_age_hours=max(known) if known else None, findings=findings)

