import datetime

import pytest

from iryo_guard.catalog import load_catalog
from iryo_guard.enrich import InputError, enrich, validate_exceptions
from iryo_guard.schema import FindingError, make_finding

CHECK = "c12.patches.security_pending"
TODAY = datetime.date(2026, 11, 25)


def failing(target="apt"):
    return make_finding(CHECK, "fail", "high", target, {"pending_security": ["less"]}, {}, "update", False,
                        summary="1 security update pending (less); required: none pending")


def exception(**over):
    entry = {"check": CHECK, "reason": "vendor validation of the update", "approver": "CISO",
             "expires": "2026-12-31"}
    entry.update(over)
    return entry


def test_enrich_adds_host_clause_labels_and_source():
    [finding] = enrich([failing()], "portal", load_catalog(), today=TODAY)
    assert finding["host"] == "portal" and finding["clause"] == "C.12"
    assert finding["title_en"] == "Pending security updates" and finding["title_ja"]
    assert finding["source"] == {"document": "MHLW GL 5.2 §6.11 C.12", "confidence": "confirmed"}


def test_valid_exception_makes_a_failure_excepted():
    exceptions = validate_exceptions([exception()], load_catalog())
    [finding] = enrich([failing()], "portal", load_catalog(), exceptions, today=TODAY)
    assert finding["status"] == "excepted"
    assert finding["exception"]["approver"] == "CISO" and finding["exception"]["expired"] is False


def test_expired_exception_counts_as_fail():
    exceptions = validate_exceptions([exception(expires=datetime.date(2026, 11, 24))], load_catalog())
    [finding] = enrich([failing()], "portal", load_catalog(), exceptions, today=TODAY)
    assert finding["status"] == "fail" and finding["exception"]["expired"] is True


def test_exception_expiring_today_still_holds():
    exceptions = validate_exceptions([exception(expires="2026-11-25")], load_catalog())
    [finding] = enrich([failing()], "portal", load_catalog(), exceptions, today=TODAY)
    assert finding["status"] == "excepted"


def test_exception_target_glob_limits_it():
    exceptions = validate_exceptions([exception(target="127.0.0.1:*")], load_catalog())
    [finding] = enrich([failing("apt")], "portal", load_catalog(), exceptions, today=TODAY)
    assert finding["status"] == "fail" and "exception" not in finding


def test_exception_never_turns_an_error_or_pass_into_excepted():
    exceptions = validate_exceptions([exception()], load_catalog())
    error = make_finding(CHECK, "error", "high", "apt", {"error": "x"}, {}, "", False, summary="could not decide: x")
    [finding] = enrich([error], "portal", load_catalog(), exceptions, today=TODAY)
    assert finding["status"] == "error"


@pytest.mark.parametrize("entry,message", [
    ({"check": CHECK, "reason": "r", "approver": "a"}, "lacks expires"),
    ({"check": CHECK, "reason": " ", "approver": "a", "expires": "2027-01-01"}, "lacks reason"),
    ({"check": "c99.nope", "reason": "r", "approver": "a", "expires": "2027-01-01"}, "not in the clause catalog"),
    ({"check": CHECK, "reason": "r", "approver": "a", "expires": "31/12/2026"}, "not a date"),
    ("c12.patches.security_pending", "must be a mapping"),
])
def test_bad_exceptions_are_refused_with_a_clear_message(entry, message):
    with pytest.raises(InputError, match=message):
        validate_exceptions([entry], load_catalog(), host="portal")


def test_exceptions_must_be_a_list():
    with pytest.raises(InputError, match="must be a list"):
        validate_exceptions({"check": CHECK}, load_catalog(), host="portal")


def test_a_finding_without_summary_is_refused_by_enrich():
    bare = dict(failing())
    del bare["summary"]
    with pytest.raises(FindingError, match="lacks summary"):
        enrich([bare], "portal", load_catalog())


def test_exception_keeps_the_summary():
    exceptions = validate_exceptions([exception()], load_catalog())
    [finding] = enrich([failing()], "portal", load_catalog(), exceptions, today=TODAY)
    assert finding["status"] == "excepted" and finding["summary"].startswith("1 security update pending")


def test_findings_with_unknown_checks_are_a_bug_not_a_pass():
    rogue = make_finding("c12.not.in.catalog", "pass", "high", "apt", summary="checked")
    with pytest.raises(FindingError, match="not in the clause catalog"):
        enrich([rogue], "portal", load_catalog())
