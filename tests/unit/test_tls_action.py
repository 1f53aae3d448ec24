"""The tls_probe action plugin and its documentation stub agree with each other and with the data."""

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
