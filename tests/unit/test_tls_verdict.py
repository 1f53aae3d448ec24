import copy

import pytest

from iryo_guard.schema import validate_finding
from iryo_guard.tls.profiles import get_profile
from iryo_guard.tls.verdict import C10_PREFIX, CHECKS, check_ids, error_findings, evaluate, profile_allowed

TARGET = "10.0.0.5:443 (portal.hospital.example)"


def compliant_facts():
    """What tls_probe reports for a TLS 1.3-only endpoint that meets mhlw-c11."""
    return {
        "target": TARGET,
        "protocols": ["TLSv1.3"],
        "suites": {"TLSv1.3": ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]},
        "groups": ["x25519", "secp256r1"],
        "groups_by_version": {"TLSv1.3": ["x25519", "secp256r1"]},
        "dh_bits": None,
        "certificate": {"key_type": "EC", "key_bits": 256, "curve": "secp256r1", "signature_hash": "sha256",
                        "signature_algorithm": "ecdsa-with-SHA256", "expired": False, "not_yet_valid": False,
                        "not_before": "2026-01-01T00:00:00+00:00", "not_after": "2026-12-01T00:00:00+00:00",
                        "subject_alt_names": ["DNS:portal.hospital.example"], "chain_valid": True,
                        "chain_error": None, "validated_for": "portal.hospital.example", "trust_anchors": "ca.pem"},
        "client_auth": {"mode": "required", "enforced_at": "handshake", "with_cert_ok": True, "http_status": None},
        "extras": {"compression": False, "secure_renegotiation": None, "server_cipher_preference": None,
                   "ocsp_stapling": None, "hsts": "max-age=31536000", "http_status": None},
        "incomplete": [],
    }


def _judge(facts, profile="mhlw-c11", prefix="c11.tls"):
    findings, compliant = evaluate(facts, get_profile(profile), prefix)
    for finding in findings:
        validate_finding(finding)
    return {f["check"].split(".")[-1]: f for f in findings}, compliant


def test_compliant_endpoint_passes_all_five_checks():
    findings, compliant = _judge(compliant_facts())
    assert compliant is True
    assert list(findings) == [c.split(".")[-1] for c in CHECKS]
    assert {f["status"] for f in findings.values()} == {"pass"}
    assert all(f["target"] == TARGET for f in findings.values())


def _with(**changes):
    facts = compliant_facts()
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(facts.get(key), dict):
            facts[key] = dict(facts[key], **value)
        else:
            facts[key] = value
    return facts


@pytest.mark.parametrize("facts,check,words", [
    (_with(protocols=["TLSv1.2", "TLSv1.3"], suites={"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
                                                     "TLSv1.3": ["TLS_AES_128_GCM_SHA256"]}),
     "protocol_versions", "TLSv1.2 is accepted"),
    (_with(suites={"TLSv1.3": ["TLS_AES_128_GCM_SHA256", "TLS_SHA256_SHA256"]}), "cipher_suites", "TLS_SHA256_SHA256"),
    (_with(groups=["x25519", "secp224r1"]), "key_exchange", "group secp224r1"),
    (_with(certificate={"key_type": "RSA", "key_bits": 1024, "curve": None}), "certificate", "RSA key of 1024 bits"),
    (_with(certificate={"signature_hash": "sha1"}), "certificate", "signed with sha1"),
    (_with(certificate={"expired": True}), "certificate", "outside its validity period"),
    (_with(certificate={"subject_alt_names": []}), "certificate", "no subjectAltName"),
    (_with(certificate={"chain_valid": False, "chain_error": "unknown issuer"}), "certificate", "unknown issuer"),
    (_with(certificate={"key_type": "EC", "curve": "secp224r1"}), "certificate", "EC key on secp224r1"),
    (_with(client_auth={"mode": "optional", "enforced_at": None}), "client_auth", "(optional)"),
    (_with(client_auth={"mode": "none", "enforced_at": None}), "client_auth", "(none)"),
])
def test_each_violation_fails_its_own_check_only(facts, check, words):
    findings, compliant = _judge(facts)
    assert compliant is False
    assert {name for name, f in findings.items() if f["status"] != "pass"} == {check}
    failed = findings[check]
    assert failed["status"] == "fail"
    assert any(words in v for v in failed["evidence"]["violations"]), failed["evidence"]["violations"]
    assert failed["expected"]["profile"] == "mhlw-c11"
    assert failed["remediation"]
    assert failed["fixable"] is (check != "certificate")


def test_tls12_suites_on_the_fallback_profile():
    facts = _with(protocols=["TLSv1.2", "TLSv1.3"], suites={
        "TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                    "TLS_RSA_WITH_AES_128_GCM_SHA256"],
        "TLSv1.3": ["TLS_AES_256_GCM_SHA384"]}, dh_bits=1024)
    findings, _ = _judge(facts, "mhlw-c11-tls12")
    assert findings["protocol_versions"]["status"] == "pass"
    suites = " ".join(findings["cipher_suites"]["evidence"]["violations"])
    assert "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA accepted with TLSv1.2: CBC mode, SHA-1 MAC" in suites
    assert "no forward secrecy (RSA key exchange)" in suites
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" not in suites
    kex = " ".join(findings["key_exchange"]["evidence"]["violations"])
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256 (TLSv1.2) uses RSA key exchange" in kex
    assert "DHE with a 1024-bit prime" in kex


def test_unconfirmed_values_say_so_in_the_evidence():
    findings, _ = _judge(_with(protocols=["TLSv1.2", "TLSv1.3"], dh_bits=1024,
                               suites={"TLSv1.2": ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"],
                                       "TLSv1.3": ["TLS_AES_128_GCM_SHA256"]}), "mhlw-c11-tls12")
    detail = findings["key_exchange"]["evidence"]["violation_details"][0]
    assert detail["requirement"] == "min_dh_bits" and detail["confidence"] == "unconfirmed"
    assert detail["note"].startswith("UNCONFIRMED requirement (unconfirmed; carried over from the 2.0 guideline")
    assert detail["basis"] == "guideline_2.0_carried_over"
    confirmed = _judge(_with(protocols=["TLSv1.2", "TLSv1.3"]))[0]["protocol_versions"]
    assert confirmed["evidence"]["violation_details"][0]["confidence"] == "confirmed"
    assert "note" not in confirmed["evidence"]["violation_details"][0]


def test_client_auth_enforced_only_at_http_fails_with_medium_severity():
    findings, compliant = _judge(_with(client_auth={"mode": "required", "enforced_at": "http", "http_status": 400}))
    assert compliant is False
    auth = findings["client_auth"]
    assert (auth["status"], auth["severity"]) == ("fail", "medium")
    assert "only the HTTP layer refuses it (HTTP 400)" in auth["evidence"]["violations"][0]
    assert "VerifyMode" in auth["remediation"]


def test_cryptrec_profiles_do_not_require_client_certificates():
    facts = _with(protocols=["TLSv1.2", "TLSv1.3"], client_auth={"mode": "none", "enforced_at": None},
                  suites={"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "TLSv1.3": ["TLS_AES_128_GCM_SHA256"]})
    findings, compliant = _judge(facts, "cryptrec-high", C10_PREFIX)
    assert compliant is True
    assert findings["client_auth"]["evidence"]["mode"] == "none"
    assert [f["check"] for f in findings.values()] == list(check_ids(C10_PREFIX))
    assert "does not require client certificates" in findings["client_auth"]["summary"]


@pytest.mark.parametrize("profile", ["cryptrec-high", "cryptrec-recommended"])
def test_a_cryptrec_profile_never_judges_a_c11_check(profile):
    """C.11 is judged only against C.11: TLS 1.2 without an exception and no client certificate would
    otherwise pass c11.tls.* under a CRYPTREC profile."""
    facts = _with(protocols=["TLSv1.2", "TLSv1.3"], client_auth={"mode": "none", "enforced_at": None},
                  suites={"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "TLSv1.3": ["TLS_AES_128_GCM_SHA256"]})
    with pytest.raises(ValueError, match="judged against mhlw-c11"):
        _judge(facts, profile)
    assert profile_allowed("C.11", profile) and profile_allowed("C.10", profile) is None
    assert profile_allowed("C.11", "mhlw-c11") is None and profile_allowed("C.11", "mhlw-c11-tls12") is None


def _path(*certs):
    """A validated path: leaf first, anchor last."""
    base = {"key_type": "RSA", "key_bits": 2048, "curve": None, "signature_hash": "sha256",
            "signature_algorithm": "sha256WithRSAEncryption", "self_signed": False}
    out = [dict(base, role="leaf", subject_name="CN=portal.hospital.example")]
    for role, name, changes in certs:
        out.append(dict(base, role=role, subject_name=name, **changes))
    return out


def test_key_and_signature_rules_cover_every_certificate_of_the_path():
    path = _path(("intermediate", "CN=Issuing CA", {"signature_hash": "sha1", "signature_algorithm": "sha1WithRSA"}),
                 ("anchor", "CN=Old Root", {"key_bits": 1024, "signature_hash": "md5", "self_signed": True}))
    findings, _ = _judge(_with(certificate={"path": path}))
    violations = findings["certificate"]["evidence"]["violations"]
    assert "intermediate 'CN=Issuing CA' is signed with sha1 (sha1WithRSA)" in violations
    assert "anchor 'CN=Old Root' has an RSA key of 1024 bits; at least 2048 required" in violations
    # the self-signed anchor's own signature is never checked by a client
    assert not any("md5" in v for v in violations)
    assert findings["certificate"]["summary"].startswith("intermediate 'CN=Issuing CA' is signed with sha1")


def test_a_valid_chain_passes_with_its_notes_counted_in_the_summary():
    path = _path(("anchor", "CN=Hospital Root CA", {"self_signed": True}))
    notes = ["anchor 'CN=Hospital Root CA' has no keyUsage extension (RFC 5280 4.2.1.3 ...)"]
    findings, compliant = _judge(_with(certificate={"path": path, "notes": notes}))
    assert compliant is True
    cert = findings["certificate"]
    assert cert["status"] == "pass" and cert["evidence"]["notes"] == notes
    assert "valid chain to 'CN=Hospital Root CA' for portal.hospital.example" in cert["summary"]
    assert "1 note(s)" in cert["summary"]


def test_the_client_certificate_is_judged_like_the_servers():
    client = {"error": None, "path": _path()[:1]}
    client["path"][0].update(role="client", subject_name="CN=probe", key_bits=1024)
    findings, compliant = _judge(_with(client_auth={"client_certificate": client}))
    assert compliant is False
    assert "the client certificate 'CN=probe' has an RSA key of 1024 bits" in findings["client_auth"]["summary"]


def test_a_failure_resting_only_on_unconfirmed_values_says_so_in_its_summary():
    findings, _ = _judge(_with(protocols=["TLSv1.2", "TLSv1.3"], dh_bits=1024,
                               suites={"TLSv1.2": ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"],
                                       "TLSv1.3": ["TLS_AES_128_GCM_SHA256"]}), "mhlw-c11-tls12")
    kex = findings["key_exchange"]
    assert kex["status"] == "fail"
    assert ("rests only on values the guideline does not confirm (min_dh_bits: carried over from the 2.0 guideline"
            in kex["summary"])
    assert kex["evidence"]["rests_only_on_unconfirmed"] == ["min_dh_bits"]


def test_every_finding_has_a_one_line_summary():
    for facts in (compliant_facts(), _with(protocols=["TLSv1.0", "TLSv1.3"], groups=["secp224r1"])):
        for finding in _judge(facts)[0].values():
            assert finding["summary"] and "\n" not in finding["summary"] and len(finding["summary"]) <= 240
            assert "{" not in finding["summary"] and "[" not in finding["summary"]


def test_extras_are_warnings_never_failures():
    facts = _with(extras={"compression": True, "secure_renegotiation": False, "server_cipher_preference": False,
                          "ocsp_stapling": False, "hsts": None, "http_status": 200})
    findings, compliant = _judge(facts)
    assert compliant is True
    warnings = " ".join(findings["protocol_versions"]["evidence"]["warnings"])
    assert "compression" in warnings and "renegotiation" in warnings and "Strict-Transport-Security" in warnings
    assert findings["cipher_suites"]["evidence"]["warnings"]
    assert findings["certificate"]["evidence"]["warnings"]


def test_weak_client_signature_schemes_are_a_warning_not_a_failure():
    findings, compliant = _judge(_with(client_auth={"certificate_request": {
        "weak_signature_algorithms": ["rsa_pkcs1_sha1"], "ca_names": ["CN=Client CA"]}}))
    assert compliant is True
    warning = findings["client_auth"]["evidence"]["warnings"][0]
    assert "client signatures made with SHA-1 or MD5 (rsa_pkcs1_sha1)" in warning
    assert "from CN=Client CA" in findings["client_auth"]["summary"]


def test_a_client_with_a_certificate_refused_is_reported():
    findings, compliant = _judge(_with(client_auth={"with_cert_ok": False, "with_cert_detail": "HTTP 400"}))
    assert compliant is True  # enforcement is what C.11 asks; a refused good client is reported, not failed
    assert "did not get through: HTTP 400" in findings["client_auth"]["evidence"]["warnings"][0]


def test_undecidable_parts_are_errors_never_passes():
    findings, compliant = _judge(_with(certificate={"error": "no certificate could be obtained"},
                                       client_auth={"mode": None, "detail": "handshake failed"},
                                       incomplete=["TLSv1.2: connection refused"]))
    assert compliant is False
    assert findings["certificate"]["status"] == "error"
    assert findings["client_auth"]["status"] == "error"
    assert findings["cipher_suites"]["status"] == "error"
    assert findings["key_exchange"]["status"] == "error"


def test_incomplete_enumeration_with_a_violation_is_still_a_failure():
    facts = _with(groups=["secp224r1"], incomplete=["TLSv1.3: connection reset"])
    assert _judge(facts)[0]["key_exchange"]["status"] == "fail"


def test_unreachable_endpoint_gives_five_errors():
    findings = error_findings(TARGET, "connection refused")
    assert [f["check"] for f in findings] == list(CHECKS)
    assert {f["status"] for f in findings} == {"error"}
    assert all(f["evidence"]["error"] == "connection refused" for f in findings)


def test_evaluate_does_not_change_the_facts():
    facts = compliant_facts()
    before = copy.deepcopy(facts)
    _judge(facts)
    assert facts == before

