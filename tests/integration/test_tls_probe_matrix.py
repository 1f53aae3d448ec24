"""tls_probe against a matrix of real nginx and Apache servers on loopback, compared with sslyze.

The servers start once for the module (one nginx, one Apache, a port per configuration).
sslyze scans them all in parallel with one Scanner. For every configuration:
accepted versions, accepted suites per version, groups, DH size, certificate and client
authentication must equal what sslyze observes, and the verdict tls_probe gives must equal
a verdict computed from sslyze's observations against the same profile. The two known
differences are asserted explicitly, not skipped:
- nginx `ssl_verify_client on`: sslyze says OPTIONAL, tls_probe says required at the HTTP layer;
- a group that exists only in TLS 1.2 on a TLS 1.2+1.3 server: sslyze tests groups at the
  highest version only; tls_probe finds it, and openssl s_client confirms the server accepts it.
"""

import subprocess
import time

import pytest

from iryo_guard.tls.probe import ProbeRequest, probe
from iryo_guard.tls.profiles import get_profile
from iryo_guard.tls.verdict import C10_PREFIX, C11_PREFIX, C11_PROFILES, evaluate
from tests.tls_matrix import sslyze_facts
from tests.tls_matrix.matrix import cases
from tests.tls_matrix.pki import make_pki
from tests.tls_matrix.servers import ServerSet

pytestmark = pytest.mark.requires_tools("nginx", "apache2")  # found in /usr/sbin too, as servers.py does

CASES = cases()
# (tls_probe's chain_valid = OpenSSL clients at security level 2, sslyze's web-PKI validation) where they differ
CHAIN_DIFFERS = {"apache-nosan": ((True, False), "no subjectAltName: OpenSSL falls back to the CN, sslyze refuses"),
                 "apache-rsa1024": ((False, True), "RSA 1024 leaf: OpenSSL clients refuse it, sslyze accepts")}
HANDSHAKE_BUDGET = 20  # for a compliant endpoint, including the handshake with the client certificate


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tls-matrix")
    workdir.chmod(0o755)
    pki = make_pki(workdir / "pki")
    with ServerSet([c.site for c in CASES], pki, workdir) as servers:
        started = time.monotonic()
        ours = {c.name: probe(ProbeRequest("127.0.0.1", c.site.port, "localhost", ca_file=str(pki.ca),
                                           client_cert=str(pki.client_cert), client_key=str(pki.client_key)))
                for c in CASES}
        ours_s = time.monotonic() - started
        started = time.monotonic()
        scans = sslyze_facts.scan([c.site.port for c in CASES], pki.ca, pki.client_cert, pki.client_key)
        sslyze_s = time.monotonic() - started
        theirs = {c.name: sslyze_facts.facts(scans[c.site.port], pki.ca, c.name) for c in CASES}
        yield {"ours": ours, "theirs": theirs, "pki": pki, "servers": servers,
               "ours_s": ours_s, "sslyze_s": sslyze_s}


def _failing(findings):
    return {f["check"].split(".")[-1] for f in findings if f["status"] != "pass"}


def _violations(findings):
    return " | ".join(str(v) for f in findings for v in f["evidence"].get("violations", []))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_versions_and_suites_equal_sslyze(matrix, case):
    ours, theirs = matrix["ours"][case.name], matrix["theirs"][case.name]
    assert ours["protocols"] == theirs["protocols"]
    assert {v: sorted(s) for v, s in ours["suites"].items()} == {v: sorted(s) for v, s in theirs["suites"].items()}
    assert ours["dh_bits"] == theirs["dh_bits"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_groups_equal_sslyze(matrix, case):
    """sslyze tests EC curves at the highest version only; compare the same thing."""
    ours, theirs = matrix["ours"][case.name], matrix["theirs"][case.name]
    highest = ours["protocols"][-1]
    ours_ec = sorted(g for g in ours["groups_by_version"].get(highest, []) if g in theirs["tested_groups"])
    assert ours_ec == sorted(theirs["groups"])
    untestable = [g for g in ours["groups"] if g not in theirs["tested_groups"]]
    assert all(g.startswith("ffdhe") for g in untestable), "only FFDHE groups are outside sslyze's curve list"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_certificate_equals_sslyze(matrix, case):
    ours, theirs = matrix["ours"][case.name]["certificate"], matrix["theirs"][case.name]["certificate"]
    assert ours["sha256"] == theirs["sha256"]
    if case.name in CHAIN_DIFFERS:
        # sslyze validates with the web-PKI rules; tls_probe follows OpenSSL clients. Either way the profile's
        # own rules fail these certificates (test_verdict_equals_the_verdict_on_sslyze_facts: same failing checks).
        expected, why = CHAIN_DIFFERS[case.name]
        assert (ours["chain_valid"], theirs["chain_valid"]) == expected, why
    else:
        assert ours["chain_valid"] == theirs["chain_valid"]
    for key in ("key_type", "key_bits", "signature_hash", "expired", "subject_alt_names"):
        assert ours[key] == theirs[key], key


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_client_auth_equals_sslyze(matrix, case):
    ours, theirs = matrix["ours"][case.name]["client_auth"], matrix["theirs"][case.name]["client_auth"]
    assert (ours["mode"], ours["enforced_at"]) == case.client_auth
    if case.client_auth == ("required", "http"):
        # nginx `ssl_verify_client on` finishes the handshake without a certificate: sslyze sees OPTIONAL.
        assert theirs["mode"] == "optional"
        assert ours["http_status"] == 400
    else:
        assert (ours["mode"], ours["enforced_at"]) == (theirs["mode"], theirs["enforced_at"])
    assert ours["with_cert_ok"] is True, ours.get("with_cert_detail")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict_equals_the_verdict_on_sslyze_facts(matrix, case):
    profile = get_profile(case.profile)
    prefix = C11_PREFIX if case.profile in C11_PROFILES else C10_PREFIX  # CRYPTREC profiles judge C.10 only
    ours, compliant = evaluate(matrix["ours"][case.name], profile, prefix)
    theirs, sslyze_compliant = evaluate(matrix["theirs"][case.name], profile, prefix)
    assert _failing(ours) == case.fails, _violations(ours)
    for word in case.mentions:
        assert word in _violations(ours)
    if case.sslyze_blind:
        assert _failing(theirs) == case.fails - {"key_exchange"}
        assert compliant is False
    else:
        assert _failing(theirs) == _failing(ours)
        assert compliant == sslyze_compliant == (not case.fails)


def test_tls12_only_group_sslyze_misses_is_real(matrix):
    """Independent witness for the one case where tls_probe and sslyze differ on groups."""
    case = next(c for c in CASES if c.sslyze_blind)
    assert "secp224r1" in matrix["ours"][case.name]["groups_by_version"]["TLSv1.2"]
    assert "secp224r1" not in matrix["theirs"][case.name]["groups"]
    pki = matrix["pki"]
    result = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % case.site.port, "-tls1_2",
                             "-groups", "secp224r1", "-servername", "localhost", "-cert", str(pki.client_cert),
                             "-key", str(pki.client_key)], input="", capture_output=True, text=True, timeout=20)
    assert "Server Temp Key: ECDH, secp224r1" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("name,expected", [
    ("apache-c11-tls12", {"server_cipher_preference": True, "secure_renegotiation": True, "compression": False}),
    ("nginx-cbc", {"server_cipher_preference": False, "secure_renegotiation": True}),
    ("nginx-c11", {"tls13_only": True, "secure_renegotiation": None, "hsts": "max-age=31536000"}),
    ("nginx-no-client-auth", {"hsts": None, "http_status": 200}),
])
def test_extras_are_observed(matrix, name, expected):
    extras = matrix["ours"][name]["extras"]
    assert {key: extras[key] for key in expected} == expected


@pytest.mark.parametrize("case", [c for c in CASES if not c.fails], ids=lambda c: c.name)
def test_compliant_endpoints_cost_few_handshakes(matrix, case):
    assert matrix["ours"][case.name]["handshakes"] <= HANDSHAKE_BUDGET


def test_probe_is_much_faster_than_sslyze(matrix):
    # Loopback, whole matrix: the figures at 20 ms RTT are in docs/tls-probe.md (bench/tls_probe_vs_sslyze.py).
    assert matrix["ours_s"] * 5 < matrix["sslyze_s"], (matrix["ours_s"], matrix["sslyze_s"])


@pytest.mark.parametrize("name,mode,enforced_at", [
    ("apache-c11", "required", "handshake"),        # alert 116 arrives within a few round trips anyway
    ("nginx-c11", "required", "handshake"),
    ("nginx-client-http-only", "optional", None),   # without the GET the HTTP-layer refusal cannot be seen
    ("nginx-no-client-auth", "none", None),
])
def test_client_auth_without_the_http_check(matrix, name, mode, enforced_at):
    case = next(c for c in CASES if c.name == name)
    facts = probe(ProbeRequest("127.0.0.1", case.site.port, "localhost", ca_file=str(matrix["pki"].ca),
                               http_check=False))
    assert (facts["client_auth"]["mode"], facts["client_auth"]["enforced_at"]) == (mode, enforced_at)
    assert facts["client_auth"]["http_status"] is None


def test_a_client_certificate_from_another_ca_is_refused_and_reported(matrix):
    """The server leaf is not from the client CA: Apache refuses it, and the evidence says so."""
    pki = matrix["pki"]
    wrong_cert, wrong_key = pki.leaf("rsa2048")
    case = next(c for c in CASES if c.name == "apache-c11")
    facts = probe(ProbeRequest("127.0.0.1", case.site.port, "localhost", ca_file=str(pki.ca),
                               client_cert=str(wrong_cert), client_key=str(wrong_key)))
    assert facts["client_auth"]["with_cert_ok"] is False
    assert "alert" in facts["client_auth"]["with_cert_detail"]
    findings, _ = evaluate(facts, get_profile("mhlw-c11"))
    auth = next(f for f in findings if f["check"] == "c11.tls.client_auth")
    assert "did not get through" in auth["evidence"]["warnings"][0]
