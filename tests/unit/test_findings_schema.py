import pytest

import iryo_findings
from iryo_guard import schema


def test_controller_bridge_is_the_module_utils_definition():
    assert schema.STATUSES == iryo_findings.STATUSES
    assert schema.STATUSES == ("pass", "fail", "manual", "not_applicable", "excepted", "error")


def test_make_finding_fills_defaults_and_validates():
    finding = iryo_findings.make_finding("c12.patches.security_pending", "pass", "high", "apt")
    assert finding["evidence"] == {} and finding["expected"] == {} and finding["fixable"] is False


@pytest.mark.parametrize("field,value,message", [
    ("status", "ok", "status 'ok'"),
    ("severity", "urgent", "severity 'urgent'"),
    ("fixable", "yes", "fixable must be true or false"),
    ("check", "", "non-empty"),
])
def test_invalid_findings_are_refused(field, value, message):
    finding = iryo_findings.make_finding("c12.x", "pass", "high", "apt")
    finding[field] = value
    with pytest.raises(iryo_findings.FindingError, match=message):
        iryo_findings.validate_finding(finding)


def test_missing_fields_are_named():
    with pytest.raises(iryo_findings.FindingError, match="lacks evidence, expected"):
        iryo_findings.validate_finding({"check": "c", "status": "pass", "severity": "high", "target": "t",
                                        "remediation": "", "fixable": False})


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
