"""Maintenance windows, in the hospital's time zone, including windows that run past midnight."""

import datetime

import pytest

from iryo_guard.maintenance import WindowError, in_window, next_opening, parse_window

UTC = datetime.timezone.utc
SUNDAY_NIGHT = {"weekdays": ["sun"], "start": "23:00", "duration_minutes": 180, "timezone": "Asia/Tokyo"}


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("now, inside", [
    (utc(2026, 11, 29, 13, 59), False),  # Sun 22:59 JST
    (utc(2026, 11, 29, 14, 0), True),    # Sun 23:00 JST: opens
    (utc(2026, 11, 29, 16, 30), True),   # Mon 01:30 JST: still Sunday's window, past midnight
    (utc(2026, 11, 29, 17, 0), False),   # Mon 02:00 JST: closed (end is exclusive)
    (utc(2026, 11, 22, 15, 0), True),    # the Sunday before
    (utc(2026, 11, 28, 14, 30), False),  # Saturday 23:30 JST
])
def test_window_in_local_time_across_midnight(now, inside):
    assert in_window(SUNDAY_NIGHT, now) is inside


def test_utc_clock_is_not_the_hospital_clock():
    window = dict(SUNDAY_NIGHT, start="02:00", duration_minutes=60)
    # Sunday 02:30 UTC is Sunday 11:30 JST: outside; Saturday 17:30 UTC is Sunday 02:30 JST: inside.
    assert not in_window(window, utc(2026, 11, 29, 2, 30))
    assert in_window(window, utc(2026, 11, 28, 17, 30))


def test_next_opening():
    opening = next_opening(SUNDAY_NIGHT, utc(2026, 11, 25, 0, 0))  # a Wednesday
    assert opening.isoformat() == "2026-11-29T23:00:00+09:00"


@pytest.mark.parametrize("window, message", [
    ("sunday at two", "is a mapping"),
    (dict(SUNDAY_NIGHT, weekdays=["sunday"]), "weekdays must be"),
    (dict(SUNDAY_NIGHT, weekdays=[]), "weekdays must be"),
    (dict(SUNDAY_NIGHT, start="2:00"), "HH:MM"),
    (dict(SUNDAY_NIGHT, start="24:00"), "HH:MM"),
    (dict(SUNDAY_NIGHT, duration_minutes=0), "1..1440"),
    (dict(SUNDAY_NIGHT, duration_minutes="120"), "1..1440"),
    (dict(SUNDAY_NIGHT, timezone="JST+9"), "IANA"),
    ({"weekdays": ["sun"], "start": "02:00", "timezone": "Asia/Tokyo"}, "missing key(s) duration_minutes"),
    (dict(SUNDAY_NIGHT, end="04:00"), "unknown key(s) end"),
])
def test_bad_windows_are_refused_with_a_reason(window, message):
    with pytest.raises(WindowError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_window(window)
