"""The tls_probe action plugin and its documentation stub agree with each other and with the data."""

import datetime
import importlib.util
from pathlib import Path

import yaml

from iryo_guard.tls.profiles import profile_ids

REPO = Path(__file__).resolve().parents[2]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_documented_options_are_the_validated_arguments():
    spec = _load("plugins/action/tls_probe.py", "tls_probe_action").argument_spec()
    doc = yaml.safe_load(_load("library/tls_probe.py", "tls_probe_doc").DOCUMENTATION)
    assert set(doc["options"]) == set(spec)
    for name, option in doc["options"].items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("required", False) == spec[name].get("required", False), name
        assert option.get("default") == spec[name].get("default"), name


def test_profile_choices_are_the_profiles_in_the_data():
    spec = _load("plugins/action/tls_probe.py", "tls_probe_action").argument_spec()
    doc = yaml.safe_load(_load("library/tls_probe.py", "tls_probe_doc").DOCUMENTATION)
    assert spec["profile"]["choices"] == profile_ids()
    assert sorted(doc["options"]["profile"]["choices"]) == profile_ids()


def test_return_documents_what_the_issue_asks_for():
    doc = yaml.safe_load(_load("library/tls_probe.py", "tls_probe_doc").RETURN)
    for key in ("compliant", "protocols", "suites", "groups", "dh_bits", "certificate", "client_auth",
                "handshakes", "elapsed_s", "profile", "findings"):
        assert key in doc, key


def test_the_clause_option_limits_the_profiles():
    spec = _load("plugins/action/tls_probe.py", "tls_probe_action").argument_spec()
    assert spec["clause"] == {"type": "str", "default": "C.11", "choices": ["C.10", "C.11"]}


def test_endpoint_problems_filter():
    """The input play's rule: C.11 endpoints only with C.11 profiles, the fallback only with an exception,
    one clause and profile per web server."""
    filters = _load("plugins/filter/iryo.py", "iryo_filters").FilterModule().filters()
    problems = filters["iryo_tls_endpoint_problems"]
    ehr = {"name": "ehr", "server": "apache", "probe_host": "10.0.0.5", "probe_port": 443,
           "server_name": "ehr.example", "profile": "mhlw-c11"}
    assert problems([ehr]) == []
    assert "judged against mhlw-c11" in problems([dict(ehr, profile="cryptrec-high")])[0]
    assert problems([dict(ehr, profile="cryptrec-high", clause="C.10")]) == []
    fallback = problems([dict(ehr, profile="mhlw-c11-tls12")])
    assert len(fallback) == 1 and 'target "10.0.0.5:443*"' in fallback[0]
    exception = {"check": "c11.tls.protocol_versions", "target": "10.0.0.5:443*", "reason": "legacy clinic PCs",
                 "approver": "CISO", "expires": (datetime.date.today() + datetime.timedelta(days=365)).isoformat()}
    assert problems([dict(ehr, profile="mhlw-c11-tls12")], [exception]) == []
    mixed = problems([ehr, dict(ehr, name="portal", profile="cryptrec-high", clause="C.10")])
    assert len(mixed) == 1 and "different clauses or profiles" in mixed[0]
