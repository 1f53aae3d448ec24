"""key_storage_fips: FIPS provider / kernel FIPS mode / PKCS#11 detection on this (Debian) controller, and
the verdict logic against data/fips_modules.yml. The lab hosts are judged in tests/integration/test_c13_lab.py."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

import testkit
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
ALLOWLIST = yaml.safe_load((REPO / "data" / "fips_modules.yml").read_text())


@pytest.fixture(scope="module")
def mod():
    return load_library_module("key_storage_fips")


def test_allowlist_entries_name_certificate_source_and_confidence():
    assert ALLOWLIST["modules"]
    for entry in ALLOWLIST["modules"]:
        assert entry["cmvp_certificate"] and entry["source"] and entry["level"] >= 1
        assert entry["confidence"] in ("confirmed", "secondary", "unconfirmed")
        assert entry["kind"] in ("openssl_provider", "pkcs11_module") and entry["match"]
    by_id = {e["id"]: e for e in ALLOWLIST["modules"]}
    assert by_id["openssl-3.0-fips-provider"]["cmvp_certificate"] == 4282
    # softhsm2 is never on the validated list.
    assert not any("softhsm" in json.dumps(e).lower() for e in ALLOWLIST["modules"])
    assert "softhsm2" in {e["id"] for e in ALLOWLIST["not_validated"]}


def test_provider_and_config_parsing(mod):
    text = ("Providers:\n  default\n    name: OpenSSL Default Provider\n    version: 3.0.19\n    status: active\n"
            "  fips\n    name: OpenSSL FIPS Provider\n    version: 3.0.8\n    status: active\n")
    providers = mod.parse_providers(text)
    assert [(p["id"], p["name"], p["version"], p["status"]) for p in providers] == [
        ("default", "OpenSSL Default Provider", "3.0.19", "active"),
        ("fips", "OpenSSL FIPS Provider", "3.0.8", "active")]
    hit = mod.judge([e for e in ALLOWLIST["modules"] if e["validated"]], "openssl_provider",
                    {"name": "OpenSSL FIPS Provider", "version": "3.0.8"})
    assert hit["cmvp_certificate"] == 4282
    assert mod.judge(ALLOWLIST["modules"], "openssl_provider", {"name": "OpenSSL FIPS Provider", "version": "3.0.19"}) \
        is None  # a FIPS provider built from an unvalidated version does not count
    cnf = ("openssl_conf = openssl_init\n.include /usr/local/ssl/fipsmodule.cnf\n[openssl_init]\n"
           "providers = provider_sect\nalg_section = algorithm_sect\n[provider_sect]\nfips = fips_sect\n"
           "default = default_sect\n[fips_sect]\nactivate = 1\n[algorithm_sect]\ndefault_properties = fips=yes\n")
    assert mod.fips_activation(cnf) == {"includes": ["/usr/local/ssl/fipsmodule.cnf"], "fips_in_provider_section": True,
                                        "activate": "1", "default_properties": "fips=yes"}


def adhoc(tmp_path, args):
    tree = tmp_path / "tree"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "key_storage_fips",
                           "-a", json.dumps(args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tree / "localhost").read_text())


@pytest.mark.requires_tools("softhsm2-util")
def test_debian_controller_honestly_fails_and_says_what_would_pass(tmp_path):
    result = adhoc(tmp_path, {"allowlist": ALLOWLIST})
    (finding,) = result["findings"]
    assert finding["check"] == "d2.keystore.fips_level1" and finding["clause"] == "D.2"
    assert finding["status"] == "fail"
    providers = {p["id"]: p for p in result["openssl"]["providers"]}
    assert providers["default"]["status"] == "active" and providers["default"]["allowlist"] is None
    assert "fips" not in providers and result["openssl"]["fips_module_file"] is None  # Debian ships no fips.so
    assert "validated version" in finding["remediation"] and "#4282" in finding["remediation"]
    # ./iryo setup installs softhsm2, so its PKCS#11 module is there to be found and named not validated.
    softhsm = [m for m in result["pkcs11_modules"] if "softhsm" in m["module"]]
    assert softhsm and softhsm[0]["not_validated"]["id"] == "softhsm2" and softhsm[0]["allowlist"] is None
    assert "NOT FIPS-validated" in finding["remediation"]
    kernel = Path("/proc/sys/crypto/fips_enabled")
    assert result["kernel_fips"] == ((kernel.read_text().strip() == "1") if kernel.exists() else None)


def test_an_allowlisted_module_present_passes(tmp_path):
    """The same real softhsm2 module passes once an allowlist (wrongly, for the test) says it is validated:
    the verdict follows the data, nothing is hard-coded."""
    testkit.tool("softhsm2-util")
    fake = {"modules": [{"id": "test-only", "kind": "pkcs11_module", "validated": True, "cmvp_certificate": 0,
                         "level": 1, "source": "test", "confidence": "unconfirmed",
                         "match": {"library": "^Implementation of PKCS11$"}}], "not_validated": []}
    result = adhoc(tmp_path, {"allowlist": fake})
    assert result["findings"][0]["status"] == "pass"
    assert result["findings"][0]["evidence"]["qualifying"][0]["allowlist"]["id"] == "test-only"


def test_empty_allowlist_is_an_error_not_a_verdict(tmp_path):
    result = adhoc(tmp_path, {"allowlist": {"modules": []}})
    assert result["findings"][0]["status"] == "error"
