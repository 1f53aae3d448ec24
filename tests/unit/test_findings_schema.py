import pytest

import iryo_findings
from iryo_guard import schema


def test_controller_bridge_is_the_module_utils_definition():
    assert schema.STATUSES == iryo_findings.STATUSES
    assert schema.STATUSES == ("pass", "fail", "manual", "not_applicable", "excepted", "error")


def test_make_finding_fills_defaults_and_validates():
    finding = iryo_findings.make_finding("c12.patches.security_pending", "pass", "high", "apt",
                                         summary="no security update pending")
    assert finding["evidence"] == {} and finding["expected"] == {} and finding["fixable"] is False
    assert finding["summary"] == "no security update pending"


@pytest.mark.parametrize("field,value,message", [
    ("status", "ok", "status 'ok'"),
    ("severity", "urgent", "severity 'urgent'"),
    ("fixable", "yes", "fixable must be true or false"),
    ("check", "", "non-empty"),
    ("summary", "", "non-empty sentence"),
    ("summary", "   ", "non-empty sentence"),
    ("summary", ["a", "list"], "non-empty sentence"),
    ("summary", "two\nlines", "one line"),
    ("summary", "x" * 241, "241 characters; at most 240"),
])
def test_invalid_findings_are_refused(field, value, message):
    finding = iryo_findings.make_finding("c12.x", "pass", "high", "apt", summary="checked")
    finding[field] = value
    with pytest.raises(iryo_findings.FindingError, match=message):
        iryo_findings.validate_finding(finding)


def test_missing_fields_are_named():
    with pytest.raises(iryo_findings.FindingError, match="lacks evidence, expected, summary"):
        iryo_findings.validate_finding({"check": "c", "status": "pass", "severity": "high", "target": "t",
                                        "remediation": "", "fixable": False})


@pytest.mark.parametrize("check", ["c12.patches.security_pending", "c11.tls.certificate", "c11.tls.server_config",
                                   "c10.tls.protocol_versions", "c11.tls.client_defaults"])
def test_summary_is_required_for_every_check(check):
    with pytest.raises(iryo_findings.FindingError, match="lacks summary"):
        iryo_findings.make_finding(check, "pass", "high", "target")


def test_summary_from_host_data_is_made_one_line_not_refused():
    # A file name with a newline or a long list from a host must not turn the check into a schema error.
    finding = iryo_findings.make_finding("c13.keys.permissions", "fail", "high", "/etc/ssl/private/x",
                                         summary="key /etc/ssl/private/odd\nname.key is  readable\tby others "
                                                 + "and more " * 40)
    assert "\n" not in finding["summary"] and "\t" not in finding["summary"] and "  " not in finding["summary"]
    assert len(finding["summary"]) == iryo_findings.MAX_SUMMARY and finding["summary"].endswith("\u2026")
    assert finding["summary"].startswith("key /etc/ssl/private/odd name.key is readable by others and more")


@pytest.mark.parametrize("items,kwargs,text", [
    ([], {}, "none"),
    (["a"], {}, "a"),
    (["a", "b", "c", "d"], {}, "a, b, c, d"),
    (["a", "b", "c", "d", "e", "f"], {}, "a, b, c, d and 2 more"),
    (["a", "b", "c"], {"limit": 1}, "a and 2 more"),
    (["alpha", "beta", "gamma"], {"width": 16}, "alpha and 2 more"),
    (["x" * 50, "y"], {"width": 10}, "x" * 50 + " and 1 more"),  # never less than one item
])
def test_some_lists_the_first_items_and_counts_the_rest(items, kwargs, text):
    assert iryo_findings.some(items, **kwargs) == text


@pytest.mark.parametrize("statuses,cell", [
    (["pass", "fail", "error"], "fail"),
    (["pass", "error"], "error"),
    (["pass", "excepted", "manual"], "excepted"),
    (["pass", "manual"], "manual"),
    (["not_applicable", "pass"], "pass"),
    (["not_applicable"], "not_applicable"),
    ([], None),
])
def test_cell_status_precedence(statuses, cell):
    assert iryo_findings.cell_status(statuses) == cell


def test_error_finding_never_reads_as_pass():
    finding = iryo_findings.error_finding("c12.x", "timed out", target="h")
    assert finding["status"] == "error" and finding["evidence"]["error"] == "timed out"
    assert finding["summary"] == "could not decide: timed out"


def test_error_finding_summary_is_the_message_on_one_line():
    trace = "Traceback (most recent call last):\n  File \"x\", line 1\nOSError: disk full"
    finding = iryo_findings.error_finding("c12.x", trace, target="h")
    assert finding["evidence"]["error"] == trace  # whole, for the report
    assert finding["summary"] == ('could not decide: Traceback (most recent call last): File "x", line 1 '
                                  'OSError: disk full')
    assert iryo_findings.error_finding("c12.x", "", target="h")["summary"] == "could not decide: no message"
    assert iryo_findings.error_finding("c12.x", "m", summary="could not decide: better")["summary"] == (
        "could not decide: better")
