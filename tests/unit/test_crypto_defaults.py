"""crypto_defaults: openssl.cnf edits and verdicts, judged by this machine's real OpenSSL."""

import subprocess
from pathlib import Path

import pytest
import yaml

import iryo_opensslcnf
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


class HostRunner:
    """Stands in for AnsibleModule's run_command/fail_json only; commands really run."""

    def run_command(self, argv, environ_update=None):
        import os
        env = dict(os.environ, **(environ_update or {}))
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        return done.returncode, done.stdout, done.stderr

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs["msg"])


@pytest.fixture(scope="module")
def mod():
    return load_library_module("crypto_defaults")


@pytest.fixture(scope="module")
def high():
    profiles = yaml.safe_load((REPO / "data" / "tls_profiles.yml").read_text())["profiles"]["cryptrec-high"]
    return {"min_protocol": "TLSv1.2", "tls12_suites": profiles["tls12_suites"]["value"],
            "tls13_suites": profiles["tls13_suites"]["value"], "groups": profiles["groups"]["value"],
            "policy_module": "IRYOGUARD"}


def test_debian_default_is_not_high_security(mod, high):
    text = (FIXTURES / "openssl" / "debian12-openssl.cnf").read_text()
    effective, error = mod.evaluate(HostRunner(), "openssl", text)
    assert error is None
    problems = mod.judge(effective, high)
    assert any("minimum protocol" in p for p in problems)
    assert any("TLS_RSA_WITH_AES_128_CBC_SHA" in p for p in problems)
    assert any("groups are the library default" in p for p in problems)


def test_enforced_text_passes_and_keeps_every_other_line(mod, high):
    text = (FIXTURES / "openssl" / "debian12-openssl.cnf").read_text()
    table = mod.cipher_table(HostRunner(), "openssl")
    new = iryo_opensslcnf.with_system_default(text, mod.wanted_settings(high, table))
    effective, error = mod.evaluate(HostRunner(), "openssl", new)
    assert error is None and mod.judge(effective, high) == []
    assert set(effective["suites"]) == {"TLSv1.2", "TLSv1.3"}
    assert set(effective["suites"]["TLSv1.2"]) <= set(high["tls12_suites"])
    old_lines = text.splitlines()
    new_lines = new.splitlines()
    assert [line for line in new_lines if line not in old_lines][0] == "ssl_conf = iryo_guard_ssl"
    assert all(line in new_lines for line in old_lines)
    # The link goes into [openssl_init], right under its header.
    assert new_lines[new_lines.index("[openssl_init]") + 1] == "ssl_conf = iryo_guard_ssl"
    # Applying it again changes nothing.
    assert iryo_opensslcnf.with_system_default(new, mod.wanted_settings(high, table)) == new


def test_existing_system_default_is_edited_in_place():
    text = ("openssl_conf = init\n[init]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\n"
            "# keep me\nMinProtocol = TLSv1\nCipherString = DEFAULT@SECLEVEL=1\n[other]\nx = 1\n")
    new = iryo_opensslcnf.with_system_default(text, {"MinProtocol": "TLSv1.2", "Groups": "X25519"})
    assert new == ("openssl_conf = init\n[init]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\n"
                   "# keep me\nMinProtocol = TLSv1.2\nCipherString = DEFAULT@SECLEVEL=1\nGroups = X25519\n"
                   "[other]\nx = 1\n")


def test_tls_dot_minprotocol_alias_is_understood():
    text = "openssl_conf = i\n[i]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\nTLS.MinProtocol = TLSv1.3\n"
    assert iryo_opensslcnf.system_default(text)["settings"]["MinProtocol"] == "TLSv1.3"


@pytest.mark.parametrize("fixture,offending", [
    ("DEFAULT-opensslcnf.config", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    ("FIPS-ECDHE-ONLY-opensslcnf.config", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
])
def test_rhel_crypto_policies_backends_are_judged(mod, high, fixture, offending):
    body = (FIXTURES / "crypto_policies" / fixture).read_text()
    effective, error = mod.evaluate(HostRunner(), "openssl", mod.conf_wrapping(body))
    assert error is None and effective["min_protocol"] == "TLSv1.2"
    problems = mod.judge(effective, high)
    assert any(offending in p for p in problems), problems


def test_policy_module_for_high_security(mod, high):
    text = mod.policy_module_text(high)
    lines = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line and not line.startswith("#"))
    assert lines["protocol@TLS"] == "TLS1.3 TLS1.2"
    assert lines["cipher@TLS"] == "AES-256-GCM AES-128-GCM CHACHA20-POLY1305 AES-256-CCM AES-128-CCM"
    assert lines["key_exchange@TLS"] == "ECDHE DHE"
    assert lines["mac@TLS"] == "AEAD"
    assert lines["group"].split() == ["X25519", "X448", "SECP256R1", "SECP384R1", "SECP521R1", "FFDHE-2048",
                                      "FFDHE-3072", "FFDHE-4096", "FFDHE-6144", "FFDHE-8192"]
    assert lines["min_dh_size"] == "2048"
