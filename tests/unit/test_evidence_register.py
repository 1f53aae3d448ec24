"""The evidence register (C.9 contracts, evidence of organisational items): validation and verdicts."""

import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest

from iryo_guard.catalog import load_catalog
from iryo_guard.enrich import InputError, enrich
from iryo_guard.evidence_register import (contracts_finding, default_max_age_months, manual_finding, max_age_months,
                                          months_before, validate_contracts, validate_evidence)

TODAY = datetime.date(2026, 3, 31)


def contract(**overrides):
    entry = {"provider": "NTT East", "service": "FLET'S VPN Wide",
             "threat_responsibility_scope": "closed network up to the ONU", "availability_sla": "99.9 %/month",
             "last_confirmed": "2025-11-01", "confirms": ["C.1", "C.4"],
             "evidence_ref": "contracts/2025-ntt-vpn.pdf"}
    entry.update(overrides)
    return entry


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def verdict(catalog, contracts, months=12):
    return contracts_finding(validate_contracts(contracts, catalog, "h", today=TODAY), months, today=TODAY)


def test_threshold_comes_from_the_data_file_and_inventory_can_override():
    assert default_max_age_months() == 12 and max_age_months(None) == 12 and max_age_months("6") == 6
    with pytest.raises(InputError, match="at least 1"):
        max_age_months(0)


def test_months_before_clamps_to_the_month_end():
    assert months_before(datetime.date(2026, 3, 31), 1) == datetime.date(2026, 2, 28)
    assert months_before(datetime.date(2026, 3, 31), 12) == datetime.date(2025, 3, 31)


def test_no_register_fails(catalog):
    finding = verdict(catalog, None)
    assert finding["status"] == "fail" and finding["check"] == "c09.contracts.evidence"
    assert "iryo_contracts" in finding["remediation"]


def test_complete_register_passes_with_its_content(catalog):
    finding = verdict(catalog, [contract()])
    assert finding["status"] == "pass"
    assert finding["evidence"]["contracts"][0]["evidence_ref"] == "contracts/2025-ntt-vpn.pdf"
    (enriched,) = enrich([finding], "_organisation", catalog)
    assert enriched["clause"] == "C.9"


def test_missing_fields_fail_naming_them(catalog):
    entry = contract()
    del entry["availability_sla"]
    entry["evidence_ref"] = " "
    finding = verdict(catalog, [entry])
    assert finding["status"] == "fail"
    assert "NTT East / FLET'S VPN Wide: missing availability_sla, evidence_ref" in finding["evidence"]["problems"]


def test_confirmation_of_c1_and_c4_is_required(catalog):
    finding = verdict(catalog, [contract(confirms=["C.1"])])
    assert finding["status"] == "fail" and "confirmation of C.4 is not recorded" in finding["remediation"]


def test_stale_confirmation_fails_and_threshold_is_configurable(catalog):
    stale = [contract(last_confirmed="2025-03-30")]
    assert verdict(catalog, stale)["status"] == "fail"
    assert "more than 12 months ago" in verdict(catalog, stale)["evidence"]["problems"][0]
    assert verdict(catalog, [contract(last_confirmed="2025-03-31")])["status"] == "pass"  # exactly 12 months
    assert verdict(catalog, stale, months=24)["status"] == "pass"
    assert verdict(catalog, [contract(last_confirmed="2025-11-01")], months=3)["status"] == "fail"


@pytest.mark.parametrize("bad,message", [
    ("not a list", "must be a list"),
    (["x"], "must be a mapping"),
    ([contract(last_confirmed="2025-13-01")], "not a date"),
    ([contract(last_confirmed="2027-01-01")], "lies in the future"),
    ([contract(confirms="C.1")], "must be a list of clause ids"),
    ([contract(confirms=["C.1", "C.44"])], "C.44 not clause ids"),
    ([contract(sla="99%")], "unknown field"),
])
def test_malformed_register_is_refused(catalog, bad, message):
    with pytest.raises(InputError, match=message):
        validate_contracts(bad, catalog, "portal", today=TODAY)


def test_yaml_dates_are_accepted(catalog):
    (entry,) = validate_contracts([contract(last_confirmed=datetime.date(2025, 11, 1))], catalog, today=TODAY)
    assert entry["last_confirmed"] == "2025-11-01"


def test_manual_items_stay_manual_without_evidence_and_pass_or_fail_with_it(catalog):
    check = catalog.check("c10.manual.patient_explanation")
    assert manual_finding(check, None, 12, today=TODAY)["status"] == "manual"
    evidence = validate_evidence({"c10.manual.patient_explanation": {
        "evidence_ref": "portal/terms-v3.pdf", "confirmed_by": "情報システム部長", "last_confirmed": "2026-01-10"}},
        catalog, today=TODAY)
    finding = manual_finding(check, evidence["c10.manual.patient_explanation"], 12, today=TODAY)
    assert finding["status"] == "pass" and finding["evidence"]["recorded"]["evidence_ref"] == "portal/terms-v3.pdf"
    old = dict(evidence["c10.manual.patient_explanation"], last_confirmed="2024-01-10")
    assert manual_finding(check, old, 12, today=TODAY)["status"] == "fail"


@pytest.mark.parametrize("bad,message", [
    ({"c13.keys.permissions": {"evidence_ref": "x", "confirmed_by": "y", "last_confirmed": "2026-01-01"}},
     "only organisational"),
    ({"c99.nothing": {}}, "not in the clause catalog"),
    ({"c10.manual.patient_explanation": {"evidence_ref": "x"}}, "lacks confirmed_by, last_confirmed"),
    ({"c10.manual.patient_explanation": {"evidence_ref": "x", "confirmed_by": "y", "last_confirmed": "2026-01-01",
                                         "approved": True}}, "unknown field"),
])
def test_malformed_evidence_is_refused(catalog, bad, message):
    with pytest.raises(InputError, match=message):
        validate_evidence(bad, catalog, today=TODAY)


def test_every_manual_item_of_c9_to_d2_is_reported(catalog):
    """The report covers every clause of C.9-C.13 and D.1-D.2: each has an automated check or a manual item."""
    for clause in ("C.9", "C.10", "C.11", "C.12", "C.13", "D.1", "D.2"):
        assert catalog.clause(clause)["checks"], clause
    manual = [manual_finding(c, None, 12, today=TODAY) for c in catalog.manual_checks()]
    assert all(f["status"] == "manual" and f["evidence"]["evidence_needed"] for f in manual)


# --- through Ansible: the organisation action and the input validation ------------------------

REPO = Path(__file__).resolve().parents[2]


def adhoc(tmp_path, module, extra_vars):
    tree = tmp_path / "tree"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", module,
                           "-e", json.dumps(extra_vars)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    return done, json.loads((tree / "localhost").read_text())


def test_organisation_action_reports_the_register_and_attached_evidence(tmp_path):
    today = datetime.date.today()
    done, result = adhoc(tmp_path, "organisation_evidence", {
        "iryo_contracts": [contract(last_confirmed=today.isoformat())],
        "iryo_evidence": {"d1.manual.vdi_vpn_policy": {"evidence_ref": "policy/remote-access-v2.pdf",
                                                       "confirmed_by": "CISO", "last_confirmed": today.isoformat()}}})
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = {f["check"]: f["status"] for f in result["findings"]}
    assert statuses["c09.contracts.evidence"] == "pass"
    assert statuses["d1.manual.vdi_vpn_policy"] == "pass"
    assert statuses["c13.manual.cp_requirements"] == "manual"
    assert {f["host"] for f in result["findings"]} == {"_organisation"}


def test_bad_register_is_refused_before_any_host_is_touched(tmp_path):
    done, result = adhoc(tmp_path, "iryo_validate_inputs",
                         {"iryo_contracts": [contract(last_confirmed="2025-02-30")]})
    assert done.returncode != 0
    assert "iryo_contracts[0].last_confirmed" in result["msg"] and "not a date" in result["msg"]
