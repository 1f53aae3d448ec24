# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the backup_freshness module (library/backup_freshness.py documents it), importable by clause
modules (module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module).

Two sources, each judged on its own when declared: the newest backup artefact under the declared paths (its
modification time), and a declared backup job's last successful run (systemd's record of the unit's main
process). Report only. Standard library only; Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import glob
import os
import time

from ansible.module_utils.iryo_findings import make_finding, some

CHECK = "cl.backups.recent"
CHECKS = (CHECK,)

HOUR = 3600.0
SHOW_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "Result", "ExecMainStatus", "ExecMainCode",
                   "ExecMainStartTimestamp", "ExecMainExitTimestamp", "ExecMainExitTimestampMonotonic")


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def age_text(hours):
    """`26.3 hours old`, with the days for older ones (`216.0 hours old (9 days)`): the age phrase the other
    freshness checks use (av_signatures), which report readers and the merge of sliced runs treat as a time."""
    text = "%.1f hours old" % max(0.0, hours)
    return text + (" (%d days)" % int(hours // 24) if hours >= 48 else "")


def since_text(hours):
    """`5 hours ago`, `3 days ago`: when something happened that is no age of a backup (the system's start)."""
    return "%d hours ago" % int(hours) if hours < 48 else "%d days ago" % int(hours // 24)


def artefacts(patterns, min_size, max_files):
    """(newest {path, mtime, size} or None, per-pattern report, files skipped as too small, walk truncated)."""
    newest, report, small, seen, truncated = None, [], 0, 0, False
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        files = 0
        for match in matches:
            if os.path.isdir(match) and not os.path.islink(match):
                walked = []
                for folder, dirs, names in os.walk(match):
                    dirs.sort()
                    walked.extend(os.path.join(folder, name) for name in sorted(names))
                    if seen + len(walked) >= max_files:
                        truncated = True
                        break
                candidates = walked
            else:
                candidates = [match]
            for path in candidates:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not os.path.isfile(path):
                    continue
                seen += 1
                files += 1
                if st.st_size < min_size:
                    small += 1
                    continue
                if newest is None or st.st_mtime > newest["mtime"]:
                    newest = {"path": path, "mtime": st.st_mtime, "size": st.st_size}
            if truncated:
                break
        report.append({"pattern": pattern, "matches": len(matches), "files": files})
        if truncated:
            break
    return newest, report, small, truncated


def parse_show(text):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def systemctl_show(module, systemctl, unit, properties):
    rc, out, err = module.run_command([systemctl, "show", unit, "--property=" + ",".join(properties), "--no-pager"])
    if rc != 0:
        raise RuntimeError("systemctl show %s failed (exit %d): %s" % (unit, rc, (err or out).strip()))
    return parse_show(out)


def unit_last_success(module, unit, now_monotonic):
    """{unit, state, ...}: the declared job's last run as systemd recorded it. `state`: success (with age_hours),
    failed, running, never (no run since systemd started, with booted_hours_ago), missing."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        raise RuntimeError("no systemctl on this host: a systemd_unit cannot be judged here")
    service = unit
    if unit.endswith(".timer"):
        # A timer only starts the job; the job's own result is what counts.
        service = systemctl_show(module, systemctl, unit, ("Unit",)).get("Unit") or unit[:-6] + ".service"
    show = systemctl_show(module, systemctl, service, SHOW_PROPERTIES)
    out = {"unit": service, "result": show.get("Result", ""), "active_state": show.get("ActiveState", ""),
           "last_start": show.get("ExecMainStartTimestamp", ""), "last_exit": show.get("ExecMainExitTimestamp", ""),
           "exit_status": show.get("ExecMainStatus", "")}
    if service != unit:
        out["timer"] = unit
    if show.get("LoadState") in ("not-found", "masked", ""):
        out["state"] = "missing" if show.get("LoadState") != "masked" else "masked"
        return out
    try:
        exit_mono = int(show.get("ExecMainExitTimestampMonotonic") or 0)
    except ValueError:
        raise RuntimeError("systemctl show %s: ExecMainExitTimestampMonotonic is not a number: %r"
                           % (service, show.get("ExecMainExitTimestampMonotonic"))) from None
    if show.get("ActiveState") in ("activating", "active", "reloading") and not exit_mono:
        out["state"] = "running"
    elif not exit_mono:
        out["state"] = "never"
    elif show.get("Result") == "success" and show.get("ExecMainStatus", "0") in ("0", ""):
        out["state"] = "success"
        out["age_hours"] = round((now_monotonic - exit_mono / 1e6) / HOUR, 2)
    else:
        out["state"] = "failed"
        out["age_hours"] = round((now_monotonic - exit_mono / 1e6) / HOUR, 2)
    return out


def booted_hours_ago(module, now_monotonic):
    """Hours since this system's systemd started userspace (a container's own start, not the host kernel's)."""
    systemctl = module.get_bin_path("systemctl")
    rc, out, _ = module.run_command([systemctl, "show", "--property=UserspaceTimestampMonotonic", "--no-pager"])
    value = parse_show(out).get("UserspaceTimestampMonotonic") if rc == 0 else None
    try:
        started = int(value)
    except (TypeError, ValueError):
        return None
    return round((now_monotonic - started / 1e6) / HOUR, 2) if started else None


def judge_unit(job, max_hours):
    """(status, text) for the declared job."""
    name = job["unit"]
    if job["state"] in ("missing", "masked"):
        return "fail", "backup job %s is %s" % (name, "not installed" if job["state"] == "missing" else "masked")
    if job["state"] == "success":
        return ("pass" if job["age_hours"] <= max_hours else "fail",
                "the last run of %s succeeded and is %s" % (name, age_text(job["age_hours"])))
    if job["state"] == "failed":
        return "fail", "the last run of %s failed (Result %s, exit status %s) and is %s" % (
            name, job["result"] or "?", job["exit_status"] or "?", age_text(job["age_hours"]))
    booted = job.get("booted_hours_ago")
    since = since_text(booted) if booted is not None else "at an unknown time"
    running = " (running now)" if job["state"] == "running" else ""
    if booted is not None and booted > max_hours:
        return "fail", "%s has not finished a run since the system started %s%s" % (name, since, running)
    # systemd keeps a unit's last result only until it restarts: a job that ran before a recent reboot
    # cannot be judged from it.
    return "error", "%s has not finished a run since the system started %s%s (systemd keeps a job's last result " \
                    "only until a restart)" % (name, since, running)


ARGUMENT_SPEC = dict(
    paths=dict(type="list", elements="str", default=[]),
    systemd_unit=dict(type="str"),
    max_age_hours=dict(type="int", default=26),
    min_size=dict(type="int", default=1),
    max_files=dict(type="int", default=100000),
)
MODULE_KWARGS = {}


def run_module(module):
    params = module.params
    max_hours = params["max_age_hours"]
    now, now_monotonic = time.time(), time.monotonic()
    evidence = {"max_age_hours": max_hours}
    expected = {"newest_backup_younger_than_hours": max_hours}
    verdicts = []  # (status, text)

    if not params["paths"] and not params["systemd_unit"]:
        finding = make_finding(
            CHECK, "fail", "high", "backups", evidence, expected,
            "Declare where this host's backups land (cl_checklist_backup_paths) or the job that makes them "
            "(cl_checklist_backup_unit); turn the check off (cl_checklist_backups_recent: false) only for a host "
            "that holds no data to back up.", False,
            summary="no backup is declared for this host (no paths, no backup job); required: a backup younger than "
                    "%d hours" % max_hours)
        module.exit_json(changed=False, findings=[finding])

    if params["paths"]:
        newest, report, small, truncated = artefacts(params["paths"], params["min_size"], params["max_files"])
        evidence["paths"] = report
        if small:
            evidence["skipped_smaller_than_min_size"] = small
        if truncated:
            evidence["walk_truncated_at_files"] = params["max_files"]
        where = some(params["paths"], 2, width=90)
        if newest is None:
            verdicts.append(("fail", "no backup artefact under %s" % where))
        else:
            hours = (now - newest["mtime"]) / HOUR
            evidence["newest"] = {"path": newest["path"], "modified": iso(newest["mtime"]), "size": newest["size"],
                                  "age_hours": round(hours, 2)}
            verdicts.append(("pass" if hours <= max_hours else "fail", "newest backup %s is %s (%s)" % (
                newest["path"], age_text(hours), iso(newest["mtime"])[:10])))

    if params["systemd_unit"]:
        try:
            job = unit_last_success(module, params["systemd_unit"], now_monotonic)
            if job["state"] in ("never", "running"):
                job["booted_hours_ago"] = booted_hours_ago(module, now_monotonic)
        except RuntimeError as exc:
            module.fail_json(msg=str(exc))
        evidence["job"] = job
        verdicts.append(judge_unit(job, max_hours))

    statuses = [status for status, _ in verdicts]
    text = "; ".join(t for _, t in verdicts)
    if "fail" in statuses:
        finding = make_finding(
            CHECK, "fail", "high", "backups", evidence, expected,
            "Fix the backup job (its log says why it stopped or failed), run it once and check that a new artefact "
            "appears; then test a restore (evidence cl.manual.restore_test).", False,
            summary="%s; required: a backup younger than %d hours" % (text, max_hours))
    elif "error" in statuses:
        finding = make_finding(
            CHECK, "error", "high", "backups", evidence, expected,
            "Run the audit again after the backup job's next run, or declare the paths its artefacts land in.",
            False, summary="could not decide: %s" % text)
    else:
        finding = make_finding(CHECK, "pass", "high", "backups", evidence, expected, "", False,
                               summary="%s; required: younger than %d hours" % (text, max_hours))
    module.exit_json(changed=False, findings=[finding])
