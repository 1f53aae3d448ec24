"""Judge probe facts against a TLS profile: five findings, one per TLS check of an endpoint.

The facts are a plain dict (see probe.probe), so the same function judges what sslyze saw
(tests/integration/test_tls_probe_matrix.py) and the two verdicts can be compared.
Every violation names the profile value it breaks, with that value's confidence; values
that are not the guideline's own confirmed words say so in the evidence, and a finding that
fails only on such values says so in its summary. Extras (compression, renegotiation, HSTS,
OCSP stapling, server order) are warnings only.

Check ids: an endpoint under C.11 is judged as `c11.tls.*` (profiles mhlw-c11 / mhlw-c11-tls12
only: the C.11 role and tls_probe refuse others); a TLS endpoint outside C.11, e.g. a patient
portal under C.10, as `c10.tls.*` against any profile. A CRYPTREC profile never yields a C.11 pass.
"""

from ..schema import error_finding, make_finding
from . import ciphers
from .certs import STRENGTH_ERRORS
from .profiles import BASES, WEAK_CONFIDENCES

CHECK_NAMES = ("protocol_versions", "cipher_suites", "key_exchange", "certificate", "client_auth")
C11_PREFIX = "c11.tls"
C10_PREFIX = "c10.tls"
# Which profiles may judge an endpoint under each clause's check ids.
CLAUSE_PREFIXES = {"C.11": C11_PREFIX, "C.10": C10_PREFIX}
C11_PROFILES = ("mhlw-c11", "mhlw-c11-tls12")
SUMMARY_MAX = 240


def check_ids(prefix=C11_PREFIX):
    return tuple("%s.%s" % (prefix, name) for name in CHECK_NAMES)


CHECKS = check_ids()


def profile_allowed(clause, profile_id):
    """None when `profile_id` may judge an endpoint of `clause`, else why not (one sentence)."""
    if clause not in CLAUSE_PREFIXES:
        return "clause must be one of %s, got %r" % (", ".join(CLAUSE_PREFIXES), clause)
    if clause == "C.11" and profile_id not in C11_PROFILES:
        return ("a C.11 endpoint is judged against mhlw-c11 (TLS 1.3 with client certificates), or "
                "mhlw-c11-tls12 with a recorded exception; %s is not C.11's profile: use it with clause C.10 "
                "(its findings are c10.tls.*) or choose a C.11 profile" % profile_id)
    return None


def _sentence(text):
    text = " ".join(str(text).split())
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1].rstrip() + "…"


def _violation(profile, key, what, **details):
    req = profile.requirement(key)
    item = dict(details, violation=what, requirement=key, confidence=req["confidence"], basis=req["basis"])
    if req["confidence"] in WEAK_CONFIDENCES:
        item["note"] = "UNCONFIRMED requirement (%s; %s): %s" % (req["confidence"], BASES[req["basis"]],
                                                                  req["source"])
    return item


def _some(items, limit=3):
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (" and %d more" % (len(items) - limit) if len(items) > limit else "")


def _clip(text, limit):
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:limit - 1].rsplit(" ", 1)[0].rstrip(" ;,:") + "…"


def _fail_summary(violations):
    """The first violations in words; flags a failure that rests only on values the guideline does not confirm."""
    more = " (+%d more)" % (len(violations) - 2) if len(violations) > 2 else ""
    suffix = ""
    weak = sorted({(v["requirement"], v["basis"]) for v in violations if v["confidence"] in WEAK_CONFIDENCES})
    if weak and len(weak) == len({(v["requirement"], v["basis"]) for v in violations}):
        suffix = "; this rests only on values the guideline does not confirm (%s)" % ", ".join(
            "%s: %s" % (key, BASES[basis]) for key, basis in weak)
    text = "; ".join(v["violation"] for v in violations[:2])
    room = SUMMARY_MAX - len(suffix) - len(more)
    if len(text) > room:  # one whole violation reads better than two cut ones
        text = _clip(violations[0]["violation"], room)
        more = " (+%d more)" % (len(violations) - 1) if len(violations) > 1 else ""
        text = _clip(text, SUMMARY_MAX - len(suffix) - len(more))
    return text + more + suffix


def _finding(check, target, violations, evidence, expected, remediation, fixable, passed, severity="high",
             incomplete=None):
    status = "fail" if violations else "pass"
    summary = _fail_summary(violations) if violations else passed
    evidence = dict({"violations": [v["violation"] for v in violations], "violation_details": violations},
                    **evidence)
    weak = [v["requirement"] for v in violations if v["confidence"] in WEAK_CONFIDENCES]
    if violations and len(weak) == len(violations):
        evidence["rests_only_on_unconfirmed"] = sorted(set(weak))
    if incomplete:
        evidence["incomplete"] = incomplete
        if not violations:  # no violation seen, but not everything could be looked at: undecided
            status = "error"
            summary = "no violation seen, but the probe could not finish: %s" % "; ".join(incomplete)
    return make_finding(check, status, severity, target, evidence, expected,
                        remediation if violations else "", fixable, summary=_sentence(summary))


def _expected(profile, *keys):
    shown = {"profile": profile.id}
    for key in keys:
        shown[key] = profile.expected(key)
    return shown


# ------------------------------------------------------------------------ the five checks

def protocol_versions(facts, profile, warnings, check):
    allowed = profile.value("protocols")
    accepted = facts["protocols"]
    violations = [_violation(profile, "protocols", "%s is accepted; the profile allows only %s"
                             % (v, ", ".join(allowed)), version=v)
                  for v in accepted if v not in allowed]
    evidence = {"accepted": accepted, "warnings": warnings}
    remediation = ("Accept only %s: nginx `ssl_protocols %s;` in the default server of the listen socket, Apache "
                   "`SSLProtocol -all %s`; reload and probe again."
                   % (", ".join(allowed), " ".join(allowed), " ".join("+" + v for v in allowed)))
    finding = _finding(check, facts["target"], violations, evidence, _expected(profile, "protocols"),
                       remediation, True, "accepts only %s (profile %s)" % (", ".join(accepted), profile.id))
    if violations:
        bad = [v["version"] for v in violations]
        finding["summary"] = _sentence("accepts %s; profile %s allows only %s" % (
            ", ".join(accepted), profile.id, ", ".join(allowed)) + (
            "" if len(bad) == len(accepted) else " (%s too many)" % ", ".join(bad)))
    return finding


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


def cipher_suites(facts, profile, warnings, check):
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
    counts = ", ".join("%s: %d" % (v, len(n)) for v, n in facts["suites"].items())
    finding = _finding(check, facts["target"], violations, evidence,
                       _expected(profile, "tls13_suites", "tls12_suites"), remediation, True,
                       "every accepted suite is in profile %s (%s)" % (profile.id, counts or "none"),
                       incomplete=facts.get("incomplete"))
    if violations:
        first = violations[0]
        finding["summary"] = _sentence("accepts %d suite(s) outside profile %s, e.g. %s (%s)" % (
            len(bad), profile.id, first["suite"], ", ".join(first["faults"])))
    return finding


def key_exchange(facts, profile, check):
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
            versions = [v for v, gs in facts.get("groups_by_version", {}).items() if group in gs]
            violations.append(_violation(profile, "groups", "group %s is accepted%s" % (
                group, " (%s)" % ", ".join(versions) if versions else ""), group=group, versions=versions))
    evidence = {"groups": facts["groups"], "groups_by_version": facts.get("groups_by_version", {}),
                "dh_bits": facts.get("dh_bits")}
    remediation = ("Offer only ECDHE/DHE suites, DH primes of at least %d bits (nginx `ssl_dhparam`, Apache "
                   "`SSLOpenSSLConfCmd DHParameters`) and the groups %s (nginx `ssl_ecdh_curve`, Apache "
                   "`SSLOpenSSLConfCmd Curves`)." % (min_bits, ":".join(g for g in allowed_groups
                                                                          if not g.startswith("ffdhe"))))
    passed = "groups %s%s; no static RSA/ECDH key exchange" % (
        _some(facts["groups"], 5) or "none seen",
        ", DHE with %d-bit primes" % facts["dh_bits"] if facts.get("dh_bits") else "")
    finding = _finding(check, facts["target"], violations, evidence,
                       _expected(profile, "key_exchange", "min_dh_bits", "groups"), remediation, True, passed,
                       incomplete=facts.get("incomplete"))
    if violations:
        static = [v for v in violations if v["requirement"] == "key_exchange"]
        parts = ["%d suite(s) without forward secrecy (static %s key exchange), e.g. %s" % (
            len(static), "/".join(sorted({ciphers.kex_family(v["suite"]) for v in static})), static[0]["suite"])
                 ] if static else []
        parts += [v["violation"] for v in violations if v["requirement"] != "key_exchange"]
        summary = "; ".join(parts)
        if finding["evidence"].get("rests_only_on_unconfirmed"):
            summary = _fail_summary(violations)
        finding["summary"] = _sentence(summary)
    return finding


def _label(cert):
    return "%s '%s'" % (cert.get("role", "leaf"), cert.get("subject_name") or cert.get("subject") or "?")


def key_violations(profile, cert, label):
    """The profile's key rule for one certificate (server or client, leaf or CA)."""
    min_bits = profile.value("certificate.rsa_min_bits")
    if cert["key_type"] == "RSA":
        if cert["key_bits"] < min_bits:
            return [_violation(profile, "certificate.rsa_min_bits", "%s has an RSA key of %d bits; at least %d "
                               "required" % (label, cert["key_bits"], min_bits), certificate=label)]
        return []
    if cert["key_type"] == "EC":
        if cert["curve"] not in profile.value("certificate.ec_curves"):
            return [_violation(profile, "certificate.ec_curves", "%s has an EC key on %s; allowed: %s"
                               % (label, cert["curve"], ", ".join(profile.value("certificate.ec_curves"))),
                               certificate=label)]
        return []
    return [_violation(profile, "certificate.rsa_min_bits", "%s has a %s key; the profile covers RSA and EC keys "
                       "only" % (label, cert["key_type"]), certificate=label)]


def signature_violations(profile, cert, label):
    """The profile's signature-hash rule; a self-signed trust anchor's own signature is never used."""
    if cert.get("self_signed") and cert.get("role") in ("anchor", "issuer"):
        return []
    if cert["signature_hash"] not in profile.value("certificate.signature_hashes"):
        return [_violation(profile, "certificate.signature_hashes", "%s is signed with %s (%s)"
                           % (label, cert["signature_hash"], cert["signature_algorithm"]), certificate=label)]
    return []


def _certificate_violations(cert, profile):
    out = []
    # Key and signature rules apply to every certificate of the path the client validates (falls back to the
    # leaf alone when no path was built, e.g. facts taken from sslyze).
    for item in cert.get("path") or [dict(cert, role="leaf")]:
        label = _label(item)
        out += key_violations(profile, item, label)
        out += signature_violations(profile, item, label)
    if (cert["expired"] or cert["not_yet_valid"]) and cert.get("chain_error_code") not in (9, 10):
        out.append(_violation(profile, "certificate.require_valid_chain", "the leaf is outside its validity period "
                              "(%s to %s)" % (cert["not_before"][:10], cert["not_after"][:10])))
    if profile.value("certificate.require_subject_alt_name") and not cert["subject_alt_names"]:
        out.append(_violation(profile, "certificate.require_subject_alt_name",
                              "the leaf has no subjectAltName: browsers and Go refuse it (OpenSSL and curl still "
                              "accept the CN)"))
    if profile.value("certificate.require_valid_chain") and cert["chain_valid"] is False:
        # OpenSSL's security-level refusal (weak key or SHA-1 in the chain) is already a profile violation
        # above, named per certificate; only an error the profile did not see is added.
        if not (cert.get("chain_error_code") in STRENGTH_ERRORS and out):
            out.append(_violation(profile, "certificate.require_valid_chain", cert["chain_error"]))
    return out


def certificate(facts, profile, check):
    cert = facts["certificate"]
    target = facts["target"]
    if cert.get("error"):
        return error_finding(check, cert["error"], target=target)
    if cert.get("chain_valid") is None:
        message = cert.get("chain_error") or "chain could not be validated"
        return error_finding(check, message, target=target)
    violations = _certificate_violations(cert, profile)
    remediation = ("Replace what the violations name (a new key and certificate from the CA clients trust): RSA >= "
                   "%d bits or ECDSA on %s, signed with %s, valid now, with a subjectAltName for the host name."
                   % (profile.value("certificate.rsa_min_bits"), "/".join(profile.value("certificate.ec_curves")),
                      "/".join(profile.value("certificate.signature_hashes"))))
    if cert.get("chain_advice") and cert.get("chain_valid") is False:
        remediation = cert["chain_advice"]
    expected = {"profile": profile.id, "certificate": {k: profile.expected("certificate." + k) for k in (
        "rsa_min_bits", "ec_curves", "signature_hashes", "require_subject_alt_name", "require_valid_chain")}}
    path = cert.get("path") or []
    anchor = path[-1].get("subject_name") if path and path[-1].get("role") == "anchor" else cert.get("trust_anchors")
    key = "%s %s" % (cert["key_type"], cert["curve"] or "%s-bit" % cert["key_bits"])
    notes = cert.get("notes") or []
    passed = "valid chain to '%s' for %s (OpenSSL's verdict); %s leaf signed with %s%s" % (
        anchor, cert.get("validated_for"), key, cert["signature_hash"],
        "; %d note(s) on web-PKI rules, none a failure" % len(notes) if notes else "")
    evidence = dict(cert, warnings=facts.get("_cert_warnings", []))
    return _finding(check, target, violations, evidence, expected, remediation, False, passed)


def _client_certificate_violations(auth, profile):
    """C.11 「サーバ/クライアントともに」: the client certificate the probe presents (and any CA certificate
    in its file) is judged by the profile's certificate rules, like the server's."""
    out = []
    client = auth.get("client_certificate") or {}
    for item in client.get("path") or []:
        label = "the client certificate '%s'" % item["subject_name"] if item["role"] == "client" else \
            "its issuer '%s'" % item["subject_name"]
        out += key_violations(profile, item, label)
        out += signature_violations(profile, item, label)
    return out


def client_auth(facts, profile, check):
    auth = facts["client_auth"]
    target = facts["target"]
    wanted = profile.value("client_auth")
    evidence = dict(auth)
    warnings = []
    if auth.get("with_cert_ok") is False:
        warnings.append("a client WITH the given certificate did not get through: %s" % auth.get("with_cert_detail"))
    if (auth.get("client_certificate") or {}).get("error"):
        warnings.append(auth["client_certificate"]["error"])
    request = auth.get("certificate_request") or {}
    if request.get("error"):
        warnings.append(request["error"])
    if request.get("weak_signature_algorithms"):
        # A warning, not a failure: the profile's SHA-1 ban is about certificate signatures, and which scheme
        # a client really uses is the client's choice; an OpenSSL server at security level 0 lists these.
        warnings.append("the server would accept client signatures made with SHA-1 or MD5 (%s), which "
                        "高セキュリティ型 prohibits: raise the server's OpenSSL security level (drop @SECLEVEL=0)"
                        % ", ".join(request["weak_signature_algorithms"]))
    if warnings:
        evidence["warnings"] = warnings
    if auth.get("mode") is None:
        message = auth.get("detail") or "client authentication could not be observed"
        return error_finding(check, message, target=target)
    violations, severity = [], "high"
    if wanted == "required":
        if auth["mode"] in ("none", "optional"):
            violations.append(_violation(profile, "client_auth", "a client without a certificate is let in (%s): %s"
                                         % (auth["mode"], auth.get("detail") or ""), mode=auth["mode"]))
        elif auth["enforced_at"] != "handshake":
            severity = "medium"
            violations.append(_violation(profile, "client_auth", "TLS accepts a client without a certificate; only "
                                         "the HTTP layer refuses it (HTTP %s)" % auth.get("http_status"),
                                         mode=auth["mode"], enforced_at=auth["enforced_at"]))
        violations += _client_certificate_violations(auth, profile)
    remediation = ("Require a client certificate from the client CA in the TLS handshake: Apache `SSLVerifyClient "
                   "require` with `SSLCACertificateFile`; nginx `ssl_verify_client on` with `ssl_client_certificate` "
                   "refuses only at the HTTP layer, so also set `ssl_conf_command VerifyMode Peer,Request,Require` "
                   "(see docs/tls-probe.md). Client certificates and their CA: keys and signatures as the profile's "
                   "certificate rules.")
    cas = (auth.get("certificate_request") or {}).get("ca_names") or []
    if wanted == "required":
        passed = "a client without a certificate is refused in the TLS handshake%s" % (
            "; the server asks for one from %s" % _some(cas, 2) if cas else "")
    else:
        passed = "profile %s does not require client certificates (%s)" % (profile.id, auth.get("detail") or
                                                                           auth["mode"])
    return _finding(check, target, violations, evidence, _expected(profile, "client_auth"), remediation, True,
                    passed, severity=severity)


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


def evaluate(facts, profile, prefix=C11_PREFIX):
    """(findings, compliant) for one endpoint's facts and a Profile, under the check ids `prefix`.*."""
    if prefix == C11_PREFIX and profile.id not in C11_PROFILES:
        raise ValueError(profile_allowed("C.11", profile.id))
    ids = dict(zip(CHECK_NAMES, check_ids(prefix)))
    warnings = _warnings(facts, profile)
    facts = dict(facts, _cert_warnings=warnings["certificate"])
    findings = [
        protocol_versions(facts, profile, warnings["protocol"], ids["protocol_versions"]),
        cipher_suites(facts, profile, warnings["suites"], ids["cipher_suites"]),
        key_exchange(facts, profile, ids["key_exchange"]),
        certificate(facts, profile, ids["certificate"]),
        client_auth(facts, profile, ids["client_auth"]),
    ]
    return findings, all(f["status"] == "pass" for f in findings)


def error_findings(target, message, prefix=C11_PREFIX):
    """The endpoint could not be probed: every check is undecided, never a pass."""
    return [error_finding(check, message, target=target) for check in check_ids(prefix)]
