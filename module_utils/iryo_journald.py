# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""journald and rsyslog configuration for the access_logging module.

Standard library only, Python >= 3.8 (runs on managed hosts; tests import it as a plain module).

journald reads /etc/systemd/journald.conf, then the drop-ins of journald.conf.d in /etc, /run,
/usr/local/lib and /usr/lib, ordered by file name across all of them (a name in /etc masks the same
name further down); for each key the LAST assignment wins. ``systemd-analyze cat-config
systemd/journald.conf`` prints exactly that sequence, each file headed by ``# /path``.

rsyslog forwarding: RainerScript ``action(type="omfwd" target=... port=... protocol=...)`` and the
legacy selector form ``*.* @host:port`` (UDP) / ``@@host:port`` (TCP).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

JOURNALD_MAIN = "/etc/systemd/journald.conf"
JOURNALD_DIRS = ("/etc/systemd/journald.conf.d", "/run/systemd/journald.conf.d",
                 "/usr/local/lib/systemd/journald.conf.d", "/usr/lib/systemd/journald.conf.d",
                 "/lib/systemd/journald.conf.d")

# systemd's time span units (systemd.time(7)), in seconds.
_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "M": 2629800, "month": 2629800, "months": 2629800,
    "y": 31557600, "year": 31557600, "years": 31557600,
}


def parse_timespan(value):
    """'1month 2d', '180d', '3600' (seconds) -> seconds (float); None when it does not parse."""
    text = (value or "").strip()
    if not text:
        return None
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    total, pos = 0.0, 0
    for match in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)", text):
        if match.start() != pos:
            return None
        unit = match.group(2)
        factor = _UNITS.get(unit, _UNITS.get(unit.lower()) if unit != "M" else None)
        if factor is None:
            return None
        total += float(match.group(1)) * factor
        pos = match.end()
    return total if pos == len(text) and text else None


def journald_files():
    """The files journald reads, in order (main file first, then drop-ins by name)."""
    by_name = {}
    for folder in JOURNALD_DIRS:
        for path in glob.glob(os.path.join(folder, "*.conf")):
            by_name.setdefault(os.path.basename(path), path)
    files = [JOURNALD_MAIN] if os.path.exists(JOURNALD_MAIN) else []
    return files + [by_name[name] for name in sorted(by_name)]


def parse_journald(sequence):
    """[(path, text)] in read order -> {Key: {value, file}} for the [Journal] section, last wins."""
    values = {}
    for path, text in sequence:
        section = None
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            if section != "Journal" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            values[key.strip()] = {"value": value.strip(), "file": path}
    return values


def split_cat_config(text):
    """``systemd-analyze cat-config`` output -> [(path, text)] (each file starts with '# /path')."""
    parts, current, lines = [], None, []
    for line in text.splitlines():
        found = re.match(r"^# (/\S+)\s*$", line)
        if found and (line.endswith(".conf") or "/journald.conf" in line):
            if current is not None:
                parts.append((current, "\n".join(lines)))
            current, lines = found.group(1), []
            continue
        lines.append(line)
    if current is not None:
        parts.append((current, "\n".join(lines)))
    return parts


def journald_storage(values, journal_dir_exists):
    """Effective storage: persistent, volatile, none, or 'auto' resolved by /var/log/journal."""
    storage = (values.get("Storage", {}).get("value") or "auto").lower()
    if storage == "auto":
        return "persistent" if journal_dir_exists else "volatile"
    return storage


def judge_journald(values, journal_dir_exists, min_days):
    """Problems (empty list: compliant) for c10.monitoring.journal_persistent."""
    problems = []
    storage = journald_storage(values, journal_dir_exists)
    if storage != "persistent":
        problems.append("journald keeps logs %s (Storage=%s%s): they are lost at reboot"
                        % ("in memory only" if storage == "volatile" else "nowhere",
                           values.get("Storage", {}).get("value", "auto (default)"),
                           "" if journal_dir_exists else ", /var/log/journal absent"))
    retention = values.get("MaxRetentionSec", {}).get("value")
    seconds = parse_timespan(retention) if retention else None
    if retention and seconds is None:
        problems.append("MaxRetentionSec=%s does not parse as a time span" % retention)
    elif not seconds:
        problems.append("no retention is declared (MaxRetentionSec unset or 0); declare at least %d days" % min_days)
    elif seconds < min_days * 86400:
        problems.append("MaxRetentionSec=%s deletes entries after %.0f days, less than the %d days required"
                        % (retention, seconds / 86400, min_days))
    return problems


def journald_dropin(min_days, current_seconds=None, system_max_use=None):
    """Drop-in text: persistent storage, a retention of at least ``min_days`` (a longer one is kept)."""
    days = min_days
    if current_seconds and current_seconds > min_days * 86400:
        days = int(-(-current_seconds // 86400))
    lines = ["# Written by iryo-guard (MHLW GL 5.2 §6.11 C.10 access monitoring, access_logging).",
             "# Persistent journal; entries are kept up to the retention below (the size limits",
             "# SystemMaxUse/SystemKeepFree still apply: size the disk for it).",
             "[Journal]", "Storage=persistent", "MaxRetentionSec=%ddays" % days]
    if system_max_use:
        lines.append("SystemMaxUse=%s" % system_max_use)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# rsyslog

RSYSLOG_MAIN = "/etc/rsyslog.conf"
_ACTION_RE = re.compile(r"action\s*\((.*?)\)", re.S | re.I)
_PARAM_RE = re.compile(r'(\w[\w.]*)\s*=\s*"([^"]*)"')
_LEGACY_RE = re.compile(r"^\s*([^#\s][^\s]*)\s+(@@?)(\(o\))?(\[[^\]]+\]|[^:\s;]+)(?::(\d+))?", re.M)


def rsyslog_files():
    files = [RSYSLOG_MAIN] if os.path.exists(RSYSLOG_MAIN) else []
    return files + sorted(glob.glob("/etc/rsyslog.d/*.conf"))


def strip_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def forwards(sequence):
    """[(path, text)] -> [{target, port, protocol, file, form}] for every forwarding action."""
    found = []
    for path, text in sequence:
        body = strip_comments(text)
        for match in _ACTION_RE.finditer(body):
            params = {k.lower(): v for k, v in _PARAM_RE.findall(match.group(1))}
            if params.get("type", "").lower() != "omfwd":
                continue
            found.append({"target": params.get("target"), "port": int(params.get("port", "514") or 514),
                          "protocol": params.get("protocol", "udp").lower(), "file": path, "form": "omfwd"})
        for match in _LEGACY_RE.finditer(body):
            target = match.group(4).strip("[]")
            found.append({"target": target, "port": int(match.group(5) or 514),
                          "protocol": "tcp" if match.group(2) == "@@" else "udp", "file": path,
                          "form": "legacy", "selector": match.group(1)})
    return found


def collector_matches(forward, collector):
    return (forward["target"] == collector["host"] and int(forward["port"]) == int(collector["port"])
            and forward["protocol"] == collector["protocol"])


def rsyslog_dropin(collector):
    """Forward everything to the collector, with a disk-assisted queue so an outage loses nothing."""
    return (
        "# Written by iryo-guard (MHLW GL 5.2 §6.11 C.10 access monitoring, access_logging).\n"
        "# Every message also goes to the hospital's log collector. The queue keeps messages on disk\n"
        "# while the collector is unreachable and retries without end.\n"
        "*.* action(type=\"omfwd\" target=\"%s\" port=\"%d\" protocol=\"%s\"\n"
        "           queue.type=\"LinkedList\" queue.filename=\"iryo_guard_fwd\" queue.saveOnShutdown=\"on\"\n"
        "           action.resumeRetryCount=\"-1\")\n" % (collector["host"], int(collector["port"]),
                                                         collector["protocol"]))
