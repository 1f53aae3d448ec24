"""Facts about the server's certificate chain, and whether it validates the way real clients decide.

Whether the chain is valid is decided by OpenSSL's verifier (`openssl verify`, the library curl,
`openssl s_client`, Python and most hospital software use), for the CA file the caller names (or
the system store) and the name the client asked for (SNI, else the host): a path to a trust
anchor, validity dates, the name, the certificate purpose (serverAuth, where an EKU is present).
A private CA made with a plain `openssl req -x509` (no keyUsage) is valid here, as it is for
curl and s_client.

Two rules go beyond OpenSSL's own verdict, on purpose (docs/tls-probe.md, "Certificate chain"):
- a leaf without subjectAltName fails: OpenSSL and curl still fall back to the subject CN, but
  browsers (Chrome since 58, Firefox since 48) and Go (since 1.15) refuse such a leaf;
- key and signature strength follow the TLS profile (verdict.py judges the `path` built here).

Web-PKI / RFC 5280 observations that real private CAs often miss (keyUsage, critical
basicConstraints, AKI/SKI, EKU serverAuth, leaf lifetime over 398 days, what a CA/Browser Forum
validator such as sslyze's would refuse) are returned as `notes`: shown to the reader, never a
failure by themselves.
"""

import datetime
import hashlib
import ipaddress
import os
import re
import shutil
import ssl
import subprocess
import tempfile

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError

VERIFY_TIMEOUT = 20          # seconds for one `openssl verify`; it reads local files only
# OpenSSL clients check key sizes and signature digests of the chain at their security level: 2 is the
# default of Debian 12, Ubuntu 20.04+ and RHEL 9's DEFAULT policy (RSA/DSA/DH >= 2048, ECC >= 224, no
# SHA-1 signatures except a self-signed anchor's). `openssl verify` alone checks none of this.
CLIENT_AUTH_LEVEL = 2
# X509 errors of that level check (66 EE key too small, 67 CA key too small, 68 CA md too weak): the
# profile's own key and signature rules fail the same certificate with its words, so they are not repeated.
STRENGTH_ERRORS = (66, 67, 68)
MAX_DEPTH = 10               # longer paths than this are not built (OpenSSL's default limit is 100)
WEB_PKI_MAX_DAYS = 398       # CA/Browser Forum Baseline Requirements 6.3.2 (leaves issued since 2020-09-01)

# OpenSSL verify error codes (include/openssl/x509_vfy.h) that say which certificate is missing.
MISSING_ISSUER = (2, 20)     # unable to get issuer certificate / unable to get local issuer certificate
_ERROR_LINE = re.compile(r"^error (\d+) at (\d+) depth lookup: ?(.*)$", re.M)


class ChainCheckUnavailable(RuntimeError):
    """The verifier cannot run here (no openssl command): the chain is undecided, never valid."""


# ----------------------------------------------------------------------------- certificate facts

def _key_facts(key):
    if isinstance(key, rsa.RSAPublicKey):
        return {"key_type": "RSA", "key_bits": key.key_size, "curve": None}
    if isinstance(key, ec.EllipticCurvePublicKey):
        # cryptography's curve names (secp256r1, brainpoolP256r1) are the TLS group names the profiles use.
        return {"key_type": "EC", "key_bits": key.curve.key_size, "curve": key.curve.name}
    if isinstance(key, dsa.DSAPublicKey):
        return {"key_type": "DSA", "key_bits": key.key_size, "curve": None}
    if isinstance(key, ed25519.Ed25519PublicKey):
        return {"key_type": "Ed25519", "key_bits": 256, "curve": None}
    if isinstance(key, ed448.Ed448PublicKey):
        return {"key_type": "Ed448", "key_bits": 456, "curve": None}
    return {"key_type": type(key).__name__, "key_bits": None, "curve": None}


def _signature_hash(cert):
    """sha256, sha1, ... or the algorithm's own name when it has no separate hash (Ed25519)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:  # e.g. GOST or MD2 signatures
        algorithm = None
    if algorithm is not None:
        return algorithm.name
    return cert.signature_algorithm_oid._name.lower()


def _extension(cert, oid):
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def _san(cert):
    ext = _extension(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if ext is None:
        return []
    names = ["DNS:%s" % n for n in ext.value.get_values_for_type(x509.DNSName)]
    names += ["IP:%s" % n for n in ext.value.get_values_for_type(x509.IPAddress)]
    return names


def display_name(name):
    """A distinguished name as people read it: CN first, then the rest most specific first
    ("CN=Issuing CA, O=Hospital, C=JP")."""
    parts = ["%s=%s" % (attr.rfc4514_attribute_name, attr.value) for attr in reversed(list(name))]
    cn = [p for p in parts if p.startswith("CN=")]
    return ", ".join(cn + [p for p in parts if not p.startswith("CN=")]) or "(empty name)"


def cert_facts(cert, now=None):
    """Facts of one certificate (any position in the chain). `now` defaults to the current time."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    der = cert.public_bytes(serialization.Encoding.DER)
    facts = {
        "subject": cert.subject.rfc4514_string(),
        "subject_name": display_name(cert.subject),
        "issuer": cert.issuer.rfc4514_string(),
        "issuer_name": display_name(cert.issuer),
        "serial": format(cert.serial_number, "x"),
        "sha256": hashlib.sha256(der).hexdigest(),
        "signature_algorithm": cert.signature_algorithm_oid._name,
        "signature_hash": _signature_hash(cert),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "expired": cert.not_valid_after_utc < now,
        "not_yet_valid": cert.not_valid_before_utc > now,
        "self_signed": _self_signed(cert),
    }
    facts.update(_key_facts(cert.public_key()))
    return facts


def leaf_facts(der, now=None):
    """Facts of the server's leaf certificate (DER), including its subjectAltNames."""
    cert = x509.load_der_x509_certificate(der)
    facts = cert_facts(cert, now)
    facts["subject_alt_names"] = _san(cert)
    return facts


def _self_signed(cert):
    if cert.issuer != cert.subject:
        return False
    return _issued_by(cert, cert)


def _issued_by(cert, issuer):
    """True when `issuer` signed `cert`: names match and the signature verifies with its key.

    Checked by hand rather than with verify_directly_issued_by, which refuses SHA-1 signatures:
    a SHA-1-signed intermediate must still be placed in the path so the profile can name it."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_algorithm_parameters,
                       cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_algorithm_parameters)
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm)
        else:
            return False
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


# ----------------------------------------------------------------------------- trust anchors

def system_ca_file():
    return ssl.get_default_verify_paths().cafile


def load_trust(ca_file=None):
    """Trust anchors from ca_file, else the system store the local OpenSSL uses."""
    path = ca_file or system_ca_file()
    if not path:
        raise ValueError("no CA file given and no system CA bundle found")
    with open(path, "rb") as handle:
        certs = x509.load_pem_x509_certificates(handle.read())
    if not certs:
        raise ValueError("%s holds no PEM certificate" % path)
    return certs


# ----------------------------------------------------------------------------- OpenSSL's verdict

def openssl_binary():
    found = shutil.which("openssl") or ("/usr/bin/openssl" if os.path.exists("/usr/bin/openssl") else None)
    if not found:
        raise ChainCheckUnavailable("the openssl command is not installed on the controller; install the "
                                    "openssl package (Debian: apt-get install openssl) and probe again")
    return found


def _pem(certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _name_option(name):
    try:
        return ["-verify_ip", str(ipaddress.ip_address(name))]
    except ValueError:
        return ["-verify_hostname", name]


def openssl_verify(leaf, intermediates, name, ca_file=None, now=None):
    """(ok, code, depth, message) from `openssl verify` as an OpenSSL TLS client would check the chain.

    -purpose sslserver is what libssl sets for a client checking a server; -auth_level is the client's
    security level (CLIENT_AUTH_LEVEL). The profile's stricter key and signature rules are verdict.py's."""
    binary = openssl_binary()
    with tempfile.TemporaryDirectory(prefix="iryo-chain-") as tmp:
        leaf_path = os.path.join(tmp, "leaf.pem")
        with open(leaf_path, "wb") as handle:
            handle.write(_pem([leaf]))
        argv = [binary, "verify", "-purpose", "sslserver", "-auth_level", str(CLIENT_AUTH_LEVEL)] + _name_option(name)
        if ca_file:
            argv += ["-CAfile", ca_file]
        if intermediates:
            untrusted = os.path.join(tmp, "untrusted.pem")
            with open(untrusted, "wb") as handle:
                handle.write(_pem(intermediates))
            argv += ["-untrusted", untrusted]
        if now is not None:
            argv += ["-attime", str(int(now.timestamp()))]
        argv.append(leaf_path)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=VERIFY_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ChainCheckUnavailable("openssl verify could not run: %s" % exc) from exc
    output = done.stdout + done.stderr
    match = _ERROR_LINE.search(output)
    if done.returncode == 0 and match is None:
        return True, 0, None, None
    if match is None:
        raise ChainCheckUnavailable("openssl verify failed without a verification error (exit %d): %s"
                                    % (done.returncode, " ".join(output.split())[:300]))
    return False, int(match.group(1)), int(match.group(2)), match.group(3).strip()


# ----------------------------------------------------------------------------- the path

def _valid_at(cert, now):
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def build_path(leaf, sent, anchors, now=None):
    """The certification path OpenSSL builds: leaf, intermediates, trust anchor. (path, complete)

    Same order as OpenSSL's X509_verify_cert: at each step a trust-store certificate that issued the
    current one wins (X509_V_FLAG_TRUSTED_FIRST); else the first certificate the server sent that issued
    it, preferring one valid now. No backtracking: when the server sends two copies of an intermediate
    (cross-signed) and the first leads nowhere, OpenSSL fails too, and so must the path shown here."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    path = [leaf]
    while len(path) <= MAX_DEPTH:
        current = path[-1]
        if any(current == a for a in anchors):
            return path, True
        trusted = [a for a in anchors if _issued_by(current, a)]
        if trusted:
            # a self-signed certificate found in the store is the anchor itself
            return (path if trusted[0] == current else path + [trusted[0]]), True
        if _self_signed(current):
            return path, False
        issuers = [c for c in sent if c not in path and _issued_by(current, c)]
        if not issuers:
            return path, False
        valid = [c for c in issuers if _valid_at(c, now)]
        path.append((valid or issuers)[0])
    return path, False


def _roles(path, complete):
    roles = []
    for index, _ in enumerate(path):
        if index == 0:
            roles.append("leaf")
        elif complete and index == len(path) - 1:
            roles.append("anchor")
        else:
            roles.append("intermediate")
    return roles


# ----------------------------------------------------------------------------- what went wrong, in words

MISSING_INTERMEDIATE_ADVICE = (
    "Send the intermediate CA certificate after the leaf: nginx appends it to the ssl_certificate file; Apache "
    "puts it in the SSLCertificateFile after the leaf (or SSLCertificateChainFile before httpd 2.4.8). Or name the "
    "CA file that holds the issuing CA.")


def _explain(code, depth, message, path, sent, name, anchors_label):
    """(one sentence for OpenSSL's error naming the certificate concerned, advice or None)."""
    cert = path[depth] if depth is not None and depth < len(path) else None
    if cert is None:
        who = "a certificate at depth %s" % depth
    else:
        who = "%s '%s'" % ("the leaf" if depth == 0 else "the CA certificate", display_name(cert.subject))
    if code in MISSING_ISSUER and cert is not None:
        copies = [c for c in sent if c.subject == cert.subject and c != cert and c not in path]
        if copies:
            return ("the chain stops at %s as issued by '%s', which is not in %s; the server sends a copy issued by "
                    "'%s' after it, but OpenSSL clients use the first copy"
                    % (who, display_name(cert.issuer), anchors_label, display_name(copies[0].issuer)),
                    "Send the copy of '%s' that leads to the trusted root first, or drop the other copy."
                    % display_name(cert.subject))
        return ("the chain stops at %s: its issuer '%s' is neither sent by the server nor in %s (OpenSSL does not "
                "fetch missing intermediates)" % (who, display_name(cert.issuer), anchors_label),
                MISSING_INTERMEDIATE_ADVICE)
    if code in (18, 19):  # self-signed leaf / self-signed certificate in chain
        return ("%s is self-signed and not in %s: the chain does not lead to the CA clients trust" % (
            who, anchors_label), "Use a certificate from the CA the clients trust, or name that CA's file.")
    if code == 10:
        return "%s expired on %s" % (who, cert.not_valid_after_utc.date().isoformat() if cert else "?"), None
    if code == 9:
        return "%s is not valid before %s" % (who, cert.not_valid_before_utc.date().isoformat() if cert else "?"), None
    if code in (62, 64):
        names = ", ".join(_san(path[0])) or "no subjectAltName; CN %s" % display_name(path[0].subject)
        return "the certificate is not valid for %s (it names %s)" % (name, names), None
    if code == 26:
        return ("%s may not be used for a TLS server (its extendedKeyUsage lacks serverAuth, or its keyUsage "
                "forbids it)" % who), None
    if code == 24:
        return "%s is used as a CA but is not marked as one (basicConstraints CA:TRUE missing)" % who, None
    if code in STRENGTH_ERRORS:
        return "OpenSSL clients at security level %d refuse %s: %s" % (CLIENT_AUTH_LEVEL, who, message), None
    return "OpenSSL refuses the chain at %s: %s (X509 error %d)" % (who, message, code), None


# ----------------------------------------------------------------------------- notes (never failures)

def _notes(path, roles, complete, sent, web_pki_error):
    notes = []
    for cert, role in zip(path, roles):
        label = "%s '%s'" % (role, display_name(cert.subject))
        if role == "leaf":
            eku = _extension(cert, ExtensionOID.EXTENDED_KEY_USAGE)
            if eku is None:
                notes.append("%s has no extendedKeyUsage; the web PKI expects serverAuth" % label)
            if _extension(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER) is None and not _self_signed(cert):
                notes.append("%s has no authorityKeyIdentifier (RFC 5280 4.2.1.1)" % label)
            days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
            if days > WEB_PKI_MAX_DAYS:
                notes.append("%s is valid for %d days; public CAs may issue at most %d (CA/Browser Forum)"
                             % (label, days, WEB_PKI_MAX_DAYS))
            continue
        constraints = _extension(cert, ExtensionOID.BASIC_CONSTRAINTS)
        if constraints is None:
            notes.append("%s has no basicConstraints extension (RFC 5280 4.2.1.9 requires CA:TRUE, critical)"
                         % label)
        elif not constraints.critical:
            notes.append("%s marks basicConstraints non-critical (RFC 5280 4.2.1.9: critical)" % label)
        usage = _extension(cert, ExtensionOID.KEY_USAGE)
        if usage is None:
            notes.append("%s has no keyUsage extension (RFC 5280 4.2.1.3 expects keyCertSign for a CA; "
                         "OpenSSL and curl accept it)" % label)
        elif not usage.value.key_cert_sign:
            notes.append("%s has keyUsage without keyCertSign" % label)
        if _extension(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER) is None:
            notes.append("%s has no subjectKeyIdentifier (RFC 5280 4.2.1.2)" % label)
    if complete and len(path) > 1 and path[-1] in sent and path[-1].subject == path[-1].issuer:
        notes.append("the server also sends the root '%s'; clients ignore it (they use their own copy)"
                     % display_name(path[-1].subject))
    unused = [c for c in sent if c not in path]
    if complete and unused:
        notes.append("the server sends %d certificate(s) outside the path it needs: %s"
                     % (len(unused), "; ".join("'%s' issued by '%s'" % (display_name(c.subject),
                                                                       display_name(c.issuer)) for c in unused)))
    if web_pki_error:
        notes.append("a web-PKI validator (CA/Browser Forum rules, as sslyze and cryptography apply them) would "
                     "refuse this chain: %s; OpenSSL-based clients accept it" % web_pki_error)
    return notes


EXTENSION_NAMES = {"2.5.29.14": "subjectKeyIdentifier", "2.5.29.15": "keyUsage", "2.5.29.17": "subjectAltName",
                   "2.5.29.19": "basicConstraints", "2.5.29.35": "authorityKeyIdentifier",
                   "2.5.29.37": "extendedKeyUsage", "2.5.29.31": "cRLDistributionPoints"}


def _readable(message):
    """cryptography's verifier message without its Rust/Python debug output, extension OIDs named."""
    for marker in (" AlgorithmIdentifier", " (encountered processing", " <Certificate", "{", "Some("):
        if marker in message:
            message = message[:message.index(marker)].rstrip(" :(")
    for oid, label in EXTENSION_NAMES.items():
        message = message.replace(oid, label)
    return message.replace("validation failed: ", "").replace("candidates exhausted: ", "")


def _web_pki_error(leaf, intermediates, anchors, name, now):
    """What cryptography's CA/Browser Forum verifier says (the old, too strict verdict), or None."""
    try:
        try:
            subject = IPAddress(ipaddress.ip_address(name))
        except ValueError:
            subject = DNSName(name)
        builder = PolicyBuilder().store(Store(anchors)).time(now)
        builder.build_server_verifier(subject).verify(leaf, intermediates)
    except VerificationError as exc:
        return _readable(str(exc))
    except (ValueError, TypeError) as exc:
        return "unreadable for it: %s" % _readable(str(exc))
    return None


# ----------------------------------------------------------------------------- entry point

def certificate_facts(chain_der, name, ca_file=None, source="", now=None):
    """The leaf's facts, OpenSSL's verdict on the chain for `name`, the path with each certificate's
    facts, and notes. Raises ValueError when the server's certificates cannot be parsed."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    sent = [x509.load_der_x509_certificate(d) for d in chain_der]
    leaf = sent[0]
    facts = leaf_facts(chain_der[0], now)
    facts.update(chain_length=len(chain_der), validated_for=name, trust_anchors=ca_file or "system store",
                 source=source, chain_valid=None, chain_error=None, chain_error_code=None, notes=[],
                 verifier="OpenSSL (openssl verify -purpose sslserver), %s" % ssl.OPENSSL_VERSION)
    try:
        anchors = load_trust(ca_file)
    except (OSError, ValueError) as exc:
        facts["chain_error"] = "cannot read the trust anchors (%s): %s" % (ca_file or "system store", exc)
        facts["path"] = [dict(cert_facts(c, now), role="leaf" if i == 0 else "sent") for i, c in enumerate(sent)]
        return facts
    path, complete = build_path(leaf, sent[1:], anchors, now)
    roles = _roles(path, complete)
    facts["path"] = [dict(cert_facts(c, now), role=r, sent=c in sent) for c, r in zip(path, roles)]
    facts["path_complete"] = complete
    anchors_label = os.path.basename(ca_file) if ca_file else "the system CA store"
    try:
        ok, code, depth, message = openssl_verify(leaf, sent[1:], name, ca_file, now)
    except ChainCheckUnavailable as exc:
        facts["chain_error"] = str(exc)
        return facts
    facts["chain_valid"] = ok
    if not ok:
        facts["chain_error_code"] = code
        facts["chain_error_depth"] = depth
        facts["chain_error"], facts["chain_advice"] = _explain(code, depth, message, path, sent, name, anchors_label)
    web_error = _web_pki_error(leaf, sent[1:], anchors, name, now) if ok else None
    facts["notes"] = _notes(path, roles, complete, sent, web_error)
    return facts


def client_certificate_facts(path, now=None):
    """The client certificate the probe presents (and any CA certificates in the same file): each one's
    facts, so the verdict can judge their keys and signatures like the server's (C.11: server and client)."""
    try:
        with open(path, "rb") as handle:
            certs = x509.load_pem_x509_certificates(handle.read())
    except (OSError, ValueError) as exc:
        return {"error": "cannot read the client certificate %s: %s" % (path, exc), "path": []}
    roles = ["client"] + ["issuer"] * (len(certs) - 1)
    return {"file": path, "error": None,
            "path": [dict(cert_facts(c, now), role=r) for c, r in zip(certs, roles)]}
