"""Judge probe facts against a TLS profile: five findings, one per C.11 TLS check.

The facts are a plain dict (see probe.probe), so the same function judges what sslyze saw
(tests/integration/test_tls_probe_matrix.py) and the two verdicts can be compared.
Every violation names the profile value it breaks, with that value's confidence; values
that are not the guideline's own confirmed words say so in the evidence. Extras
(compression, renegotiation, HSTS, OCSP stapling, server order) are warnings only.
"""

from iryo_guard.schema import error_finding, make_finding
from iryo_guard.tls import ciphers
from iryo_guard.tls.profiles import WEAK_CONFIDENCES

CHECKS = ("c11.tls.protocol_versions", "c11.tls.cipher_suites", "c11.tls.key_exchange",
          "c11.tls.certificate", "c11.tls.client_auth")


def _violation(profile, key, what, **details):
    req = profile.requirement(key)
    item = dict(details, violation=what, requirement=key, confidence=req["confidence"])
    if req["confidence"] in WEAK_CONFIDENCES:
        item["note"] = "UNCONFIRMED requirement (%s): %s" % (req["confidence"], req["source"])
    return item


def _finding(check, target, violations, evidence, expected, remediation, fixable, severity="high", incomplete=None):
    status = "fail" if violations else "pass"
    evidence = dict({"violations": [v["violation"] for v in violations], "violation_details": violations},
                    **evidence)
    if incomplete:
        evidence["incomplete"] = incomplete
        if not violations:  # no violation seen, but not everything could be looked at: undecided
            status = "error"
    return make_finding(check, status, severity, target, evidence, expected,
                        remediation if violations else "", fixable)


def _expected(profile, *keys):
    shown = {"profile": profile.id}
    for key in keys:
        shown[key] = profile.expected(key)
    return shown


# ------------------------------------------------------------------------ the five checks

def protocol_versions(facts, profile, warnings):
    allowed = profile.value("protocols")
    violations = [_violation(profile, "protocols", "%s is accepted; the profile allows only %s"
                             % (v, ", ".join(allowed)), version=v)
                  for v in facts["protocols"] if v not in allowed]
    evidence = {"accepted": facts["protocols"], "warnings": warnings}
    remediation = ("Accept only %s: nginx `ssl_protocols %s;` in the default server of the listen socket, Apache "
                   "`SSLProtocol -all %s`; reload and probe again."
                   % (", ".join(allowed), " ".join(allowed), " ".join("+" + v for v in allowed)))
    return _finding(CHECKS[0], facts["target"], violations, evidence, _expected(profile, "protocols"),
                    remediation, True)


def _suite_faults(name):
    """Why a suite is weak, in words an auditor recognises."""
    info = ciphers.describe(name)
    faults = []
    if info["kex"] != "any" and not info["pfs"]:
        faults.append("no forward secrecy (%s key exchange)" % info["kex"])
    if info["mode"] == "CBC":
        faults.append("CBC mode")
    if info["mac"] in ("SHA1", "MD5"):
        faults.append("%s MAC" % info["mac"].replace("SHA1", "SHA-1"))
    if info["mode"] in ("stream", "NULL") or "NULL" in info["cipher"]:
        faults.append("no or stream encryption (%s)" % info["cipher"])
    if "EXPORT" in name or "_anon_" in name or "DES" in info["cipher"] or "RC4" in info["cipher"]:
        faults.append("broken cipher or export/anonymous suite")
    return faults or ["not on the profile's list"]


def cipher_suites(facts, profile, warnings):
    violations = []
    for version, names in facts["suites"].items():
        key = "tls13_suites" if version == "TLSv1.3" else "tls12_suites"
        allowed = profile.value(key)
        for name in names:
            if name not in allowed:
                faults = _suite_faults(name)
                what = "%s accepted with %s: %s" % (name, version, ", ".join(faults))
                violations.append(_violation(profile, key, what, suite=name, version=version, faults=faults))
    evidence = {"accepted": facts["suites"], "warnings": warnings}
    bad = sorted({v["suite"] for v in violations})
    remediation = ("Remove %s from the server's suites (nginx `ssl_ciphers` and `ssl_conf_command Ciphersuites`, "
                   "Apache `SSLCipherSuite`): keep only the profile's AEAD suites with ECDHE/DHE." % ", ".join(bad))
    return _finding(CHECKS[1], facts["target"], violations, evidence,
                    _expected(profile, "tls13_suites", "tls12_suites"), remediation, True,
                    incomplete=facts.get("incomplete"))


def key_exchange(facts, profile):
    violations = []
    kex_allowed = profile.value("key_exchange")
    for version, names in facts["suites"].items():
        for name in names:
            family = ciphers.kex_family(name)
            if family != "TLS13" and family not in kex_allowed:
                violations.append(_violation(profile, "key_exchange", "%s (%s) uses %s key exchange"
                                             % (name, version, family), suite=name, version=version))
    min_bits = profile.value("min_dh_bits")
    if facts.get("dh_bits") is not None and facts["dh_bits"] < min_bits:
        violations.append(_violation(profile, "min_dh_bits", "DHE with a %d-bit prime; at least %d bits required"
                                     % (facts["dh_bits"], min_bits), dh_bits=facts["dh_bits"]))
    allowed_groups = profile.value("groups")
    for group in facts["groups"]:
        if group not in allowed_groups:
            violations.append(_violation(profile, "groups", "group %s is accepted" % group, group=group,
                                         versions=[v for v, gs in facts.get("groups_by_version", {}).items()
                                                   if group in gs]))
    evidence = {"groups": facts["groups"], "groups_by_version": facts.get("groups_by_version", {}),
                "dh_bits": facts.get("dh_bits")}
    remediation = ("Offer only ECDHE/DHE suites, DH primes of at least %d bits (nginx `ssl_dhparam`, Apache "
                   "`SSLOpenSSLConfCmd DHParameters`) and the groups %s (nginx `ssl_ecdh_curve`, Apache "
                   "`SSLOpenSSLConfCmd Curves`)." % (min_bits, ":".join(g for g in allowed_groups
                                                                          if not g.startswith("ffdhe"))))
    return _finding(CHECKS[2], facts["target"], violations, evidence,
                    _expected(profile, "key_exchange", "min_dh_bits", "groups"), remediation, True,
                    incomplete=facts.get("incomplete"))


def _certificate_violations(cert, profile):
    out = []
    if cert["key_type"] == "RSA":
        if cert["key_bits"] < profile.value("certificate.rsa_min_bits"):
            out.append(_violation(profile, "certificate.rsa_min_bits", "RSA key of %d bits; at least %d required"
                                  % (cert["key_bits"], profile.value("certificate.rsa_min_bits"))))
    elif cert["key_type"] == "EC":
        if cert["curve"] not in profile.value("certificate.ec_curves"):
            out.append(_violation(profile, "certificate.ec_curves", "EC key on %s" % cert["curve"]))
    else:
        out.append(_violation(profile, "certificate.rsa_min_bits", "%s key: the profile covers RSA and EC keys only"
                              % cert["key_type"]))
    if cert["signature_hash"] not in profile.value("certificate.signature_hashes"):
        out.append(_violation(profile, "certificate.signature_hashes", "signed with %s (%s)"
                              % (cert["signature_hash"], cert["signature_algorithm"])))
    if cert["expired"] or cert["not_yet_valid"]:
        out.append(_violation(profile, "certificate.require_valid_chain", "outside its validity period (%s to %s)"
                              % (cert["not_before"], cert["not_after"])))
    if profile.value("certificate.require_subject_alt_name") and not cert["subject_alt_names"]:
        out.append(_violation(profile, "certificate.require_subject_alt_name", "no subjectAltName extension"))
    if profile.value("certificate.require_valid_chain") and cert["chain_valid"] is False:
        out.append(_violation(profile, "certificate.require_valid_chain", "chain does not validate for %s against %s: "
                              "%s" % (cert["validated_for"], cert["trust_anchors"], cert["chain_error"])))
    return out


def certificate(facts, profile):
    cert = facts["certificate"]
    target = facts["target"]
    if cert.get("error"):
        return error_finding(CHECKS[3], cert["error"], target=target)
    if cert.get("chain_valid") is None:
        return error_finding(CHECKS[3], cert.get("chain_error") or "chain could not be validated", target=target)
    violations = _certificate_violations(cert, profile)
    remediation = ("Replace the server certificate (a new key and a certificate from the CA clients trust): RSA >= "
                   "%d bits or ECDSA on %s, signed with %s, valid now, with a subjectAltName for the host name."
                   % (profile.value("certificate.rsa_min_bits"), "/".join(profile.value("certificate.ec_curves")),
                      "/".join(profile.value("certificate.signature_hashes"))))
    expected = {"profile": profile.id, "certificate": {k: profile.expected("certificate." + k) for k in (
        "rsa_min_bits", "ec_curves", "signature_hashes", "require_subject_alt_name", "require_valid_chain")}}
    return _finding(CHECKS[3], target, violations, dict(cert, warnings=facts.get("_cert_warnings", [])), expected,
                    remediation, False)


def client_auth(facts, profile):
    auth = facts["client_auth"]
    target = facts["target"]
    wanted = profile.value("client_auth")
    evidence = dict(auth)
    if auth.get("with_cert_ok") is False:
        evidence["warnings"] = ["a client WITH the given certificate did not get through: %s"
                                % auth.get("with_cert_detail")]
    if auth.get("mode") is None:
        return error_finding(CHECKS[4], auth.get("detail") or "client authentication could not be observed",
                             target=target)
    violations, severity = [], "high"
    if wanted == "required":
        if auth["mode"] in ("none", "optional"):
            violations.append(_violation(profile, "client_auth", "a client without a certificate is let in (%s)"
                                         % auth["mode"], mode=auth["mode"]))
        elif auth["enforced_at"] != "handshake":
            severity = "medium"
            violations.append(_violation(profile, "client_auth", "TLS accepts a client without a certificate; only "
                                         "the HTTP layer refuses it (HTTP %s)" % auth.get("http_status"),
                                         mode=auth["mode"], enforced_at=auth["enforced_at"]))
    remediation = ("Require a client certificate from the client CA in the TLS handshake: Apache `SSLVerifyClient "
                   "require` with `SSLCACertificateFile`; nginx `ssl_verify_client on` with `ssl_client_certificate` "
                   "refuses only at the HTTP layer, so also set `ssl_conf_command VerifyMode Peer,Request,Require` "
                   "(see docs/tls-probe.md).")
    return _finding(CHECKS[4], target, violations, evidence, _expected(profile, "client_auth"), remediation, True,
                    severity=severity)


# ------------------------------------------------------------------------ warnings, entry points

def _warnings(facts, profile):
    """Extras the profile lists as warnings, each with what was seen. Never a failure."""
    wanted = set(profile.value("warnings")) if "warnings" in profile.data else set()
    extras = facts.get("extras", {})
    out = {"protocol": [], "suites": [], "certificate": []}
    if "compression_off" in wanted and extras.get("compression"):
        out["protocol"].append("TLS compression is on (CRIME)")
    if "secure_renegotiation" in wanted and extras.get("secure_renegotiation") is False:
        out["protocol"].append("no secure renegotiation (RFC 5746) in TLS <= 1.2")
    if "hsts" in wanted and extras.get("http_status") is not None and not extras.get("hsts"):
        out["protocol"].append("no Strict-Transport-Security header on HTTP %s" % extras.get("http_status"))
    if "server_cipher_preference" in wanted and extras.get("server_cipher_preference") is False:
        out["suites"].append("the server follows the client's suite order (TLS <= 1.2)")
    if "ocsp_stapling" in wanted and extras.get("ocsp_stapling") is False:
        out["certificate"].append("no OCSP response stapled (TLS <= 1.2 status_request)")
    return out


def evaluate(facts, profile):
    """(findings, compliant) for one endpoint's facts and a Profile."""
    warnings = _warnings(facts, profile)
    facts = dict(facts, _cert_warnings=warnings["certificate"])
    findings = [
        protocol_versions(facts, profile, warnings["protocol"]),
        cipher_suites(facts, profile, warnings["suites"]),
        key_exchange(facts, profile),
        certificate(facts, profile),
        client_auth(facts, profile),
    ]
    return findings, all(f["status"] == "pass" for f in findings)


def error_findings(target, message):
    """The endpoint could not be probed: every check is undecided, never a pass."""
    return [error_finding(check, message, target=target) for check in CHECKS]
