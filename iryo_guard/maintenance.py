"""Maintenance windows: when a change that interrupts service (a reboot) may happen.

A window is declared in the inventory, in the hospital's own time zone, because a server's clock
may run in UTC while the ward's quiet hours are in JST:

    weekdays: [sun]            # mon tue wed thu fri sat sun
    start: "02:00"             # local time in `timezone`
    duration_minutes: 120      # may run past midnight
    timezone: Asia/Tokyo

The controller decides (the filter `iryo_in_maintenance_window`); hosts are asked nothing.
"""

import datetime
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
KEYS = {"weekdays", "start", "duration_minutes", "timezone"}


class WindowError(ValueError):
    """A malformed maintenance window: an input error, reported before any host is touched."""


def parse_window(window):
    """Validate a window; returns (weekday numbers, start time, duration, tzinfo)."""
    if not isinstance(window, dict):
        raise WindowError("a maintenance window is a mapping with weekdays, start, duration_minutes, timezone; "
                          "got %r" % (window,))
    unknown, missing = set(window) - KEYS, KEYS - set(window)
    if unknown or missing:
        raise WindowError("maintenance window: %s" % "; ".join(
            part for part in ("unknown key(s) %s" % ", ".join(sorted(unknown)) if unknown else "",
                              "missing key(s) %s" % ", ".join(sorted(missing)) if missing else "") if part))
    days = window["weekdays"]
    if not isinstance(days, list) or not days or any(str(d).lower() not in WEEKDAYS for d in days):
        raise WindowError("maintenance window weekdays must be a non-empty list of %s; got %r"
                          % ("/".join(WEEKDAYS), days))
    match = _CLOCK.match(str(window["start"]))
    if not match:
        raise WindowError("maintenance window start must be HH:MM (24 h); got %r" % (window["start"],))
    duration = window["duration_minutes"]
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 < duration <= 24 * 60:
        raise WindowError("maintenance window duration_minutes must be 1..1440; got %r" % (duration,))
    try:
        zone = ZoneInfo(str(window["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError("maintenance window timezone %r is not a known IANA zone (e.g. Asia/Tokyo)"
                          % (window["timezone"],)) from None
    return ({WEEKDAYS.index(str(d).lower()) for d in days},
            datetime.time(int(match.group(1)), int(match.group(2))), datetime.timedelta(minutes=duration), zone)


def window_opening(window, now):
    """The start of the window occurrence that contains `now` (aware datetime), else None."""
    days, start, duration, zone = parse_window(window)
    local = now.astimezone(zone)
    # An occurrence that began yesterday may still be open after midnight.
    for back in (0, 1):
        day = local.date() - datetime.timedelta(days=back)
        if day.weekday() in days:
            opening = datetime.datetime.combine(day, start, tzinfo=zone)
            if opening <= local < opening + duration:
                return opening
    return None


def next_opening(window, now):
    """The next start of the window after `now` (for "deferred until ..." messages)."""
    days, start, _, zone = parse_window(window)
    local = now.astimezone(zone)
    for ahead in range(0, 8):
        day = local.date() + datetime.timedelta(days=ahead)
        opening = datetime.datetime.combine(day, start, tzinfo=zone)
        if day.weekday() in days and opening > local:
            return opening
    raise AssertionError("a valid window opens within a week")


def in_window(window, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return window_opening(window, now) is not None
