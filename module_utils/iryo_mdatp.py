# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft Defender for Endpoint on Linux: definitions age from ``mdatp health --output json``.

Used by library/av_signatures.py on the managed host: Python standard library only, Python >= 3.8.

Two shapes are read, since no Defender runs where iryo-guard is developed:
- the JSON of ``mdatp health --output json`` (camelCase keys; settings wrapped as
  ``{"value": ..., "isManaged": ...}``; ``definitionsStatus`` as ``{"$type": "upToDate"}``;
  ``definitionsUpdated`` as epoch milliseconds in a string), as in the anonymised Linux sample
  the GLPI agent keeps for its tests (mdatp 101.23062.0010);
- the snake_case names Microsoft documents for ``mdatp health`` (``definitions_status``,
  ``definitions_updated_minutes_ago``, ...), in case a version prints them in JSON.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time

FUTURE_TOLERANCE_SECONDS = 3600
# Defender itself says the definitions cannot be used or cannot be refreshed.
FAILED_STATUSES = ("unavailable", "update_failed")
KNOWN_GOOD_STATUSES = ("up_to_date", "updating")


class MdatpError(ValueError):
    """mdatp's answer could not be read; the message says why."""


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", str(name)).lower()


def _field(data, camel):
    """Value of a health field by its camelCase or snake_case name, unwrapping {"value": ...}."""
    for key in (camel, snake(camel)):
        if key in data:
            value = data[key]
            if isinstance(value, dict) and "value" in value:
                value = value["value"]
            return value
    return None


def _status(value):
    if isinstance(value, dict):
        value = value.get("$type", value.get("value"))
    if value is None:
        return None
    return snake(str(value).strip().strip('"'))


def _integer(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().strip('"')
    if re.match(r"^-?\d+$", text):
        return int(text)
    return None


def _epoch(value):
    """definitionsUpdated: epoch milliseconds (seen) or seconds, as a number or a digit string."""
    number = _integer(value)
    if number is None or number <= 0:
        return None
    return number / 1000.0 if number > 10 ** 11 else float(number)


def parse_health(text, now):
    """What ``mdatp health --output json`` says about the definitions. Raises MdatpError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MdatpError("mdatp health did not print JSON (%s): %r" % (exc, text[:80])) from None
    if not isinstance(data, dict):
        raise MdatpError("mdatp health printed JSON that is not an object: %r" % text[:80])
    minutes_raw = _field(data, "definitionsUpdatedMinutesAgo")
    updated_raw = _field(data, "definitionsUpdated")
    minutes = _integer(minutes_raw)
    updated = _epoch(updated_raw)
    health = {
        "version": _field(data, "definitionsVersion"),
        "status": _status(_field(data, "definitionsStatus")),
        "minutes_ago": minutes,
        "updated": updated,
        "automatic_updates": _field(data, "automaticDefinitionUpdateEnabled"),
        "healthy": _field(data, "healthy"),
        "health_issues": _field(data, "healthIssues"),
        "app_version": _field(data, "appVersion"),
        "age_seconds": None,
        "unreadable": [],
    }
    if minutes_raw is not None and minutes is None:
        health["unreadable"].append("definitionsUpdatedMinutesAgo=%r" % (minutes_raw,))
    if updated_raw not in (None, "") and updated is None:
        health["unreadable"].append("definitionsUpdated=%r" % (updated_raw,))
    if minutes is not None:
        health["age_seconds"] = minutes * 60.0
    elif updated is not None:
        health["age_seconds"] = now - updated
    return health


def judge(health, max_age_hours, now):
    """Verdict on Defender's definitions: {status, reason, entry, problems}.

    - definitions status ``unavailable`` or ``update_failed``: fail (Defender says so itself);
    - no readable age: error; an update time more than an hour ahead of the clock: error;
    - older than max_age_hours: fail; otherwise pass (``updating`` and unknown statuses are judged by age).
    """
    age = health["age_seconds"]
    updated = health["updated"] if health["updated"] is not None else (now - age if age is not None else None)
    entry = {"name": "Microsoft Defender definitions", "kind": "official", "version": health["version"],
             "signatures": None, "source": "mdatp",
             "build_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(updated)) if updated is not None else None,
             "age_hours": round(age / 3600.0, 2) if age is not None else None,
             "definitions_status": health["status"]}
    problems = list("unreadable field %s" % u for u in health["unreadable"])
    if health["healthy"] is False:
        problems.append("mdatp reports unhealthy: %s" % (health["health_issues"] or "no issues listed"))
    if health["automatic_updates"] is False:
        problems.append("automatic definition updates are off")
    result = {"entry": entry, "problems": problems}
    status = health["status"]
    if status in FAILED_STATUSES:
        return dict(result, status="fail", reason="Defender reports its definitions as %s%s" % (
            status, " (%.1f hours old)" % entry["age_hours"] if age is not None else ""))
    if age is None:
        return dict(result, status="error",
                    reason="mdatp health gives no definitions age (definitionsUpdatedMinutesAgo, definitionsUpdated)")
    if -age > FUTURE_TOLERANCE_SECONDS:
        return dict(result, status="error", reason="Defender's definitions are dated %.1f hours in the future: "
                                                   "check the host clock" % (-age / 3600.0))
    if age > max_age_hours * 3600:
        return dict(result, status="fail", reason="Defender definitions are %.1f hours old (limit %d), status %s"
                    % (age / 3600.0, max_age_hours, status))
    if status not in KNOWN_GOOD_STATUSES:
        problems.append("unknown definitions status %r; judged by age only" % status)
    return dict(result, status="pass",
                reason="Defender definitions are %.1f hours old (limit %d)" % (age / 3600.0, max_age_hours))
