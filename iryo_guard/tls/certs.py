"""Facts about the server's certificate chain, and whether it validates.

Validation uses cryptography's X.509 verifier (RFC 5280 plus the CA/B Forum web profile),
the same verifier sslyze 6 uses, against the CA file the caller names (or the system
store), for the name the client asked for (SNI, else the host).
"""

import datetime
import hashlib
import ipaddress
import ssl

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError

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


def _san(cert):
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return []
    names = ["DNS:%s" % n for n in ext.get_values_for_type(x509.DNSName)]
    names += ["IP:%s" % n for n in ext.get_values_for_type(x509.IPAddress)]
    return names


def leaf_facts(der, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cert = x509.load_der_x509_certificate(der)
    facts = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "sha256": hashlib.sha256(der).hexdigest(),
        "signature_algorithm": cert.signature_algorithm_oid._name,
        "signature_hash": _signature_hash(cert),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "expired": cert.not_valid_after_utc < now,
        "not_yet_valid": cert.not_valid_before_utc > now,
        "subject_alt_names": _san(cert),
    }
    facts.update(_key_facts(cert.public_key()))
    return facts


def _subject(name):
    try:
        return IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return DNSName(name)


def load_trust(ca_file=None):
    """Trust anchors from ca_file, else the system store the local OpenSSL uses."""
    path = ca_file or ssl.get_default_verify_paths().cafile
    if not path:
        raise ValueError("no CA file given and no system CA bundle found")
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificates(handle.read())


def validate_chain(chain_der, name, ca_file=None, now=None):
    """(valid, error message or None) for the chain as the server sent it, for `name`."""
    try:
        anchors = load_trust(ca_file)
    except (OSError, ValueError) as exc:
        return None, "cannot read the trust anchors (%s): %s" % (ca_file or "system store", exc)
    try:
        leaf = x509.load_der_x509_certificate(chain_der[0])
        intermediates = [x509.load_der_x509_certificate(d) for d in chain_der[1:]]
        builder = PolicyBuilder().store(Store(anchors)).time(now or datetime.datetime.now(datetime.timezone.utc))
        builder.build_server_verifier(_subject(name)).verify(leaf, intermediates)
    except VerificationError as exc:
        return False, str(exc)
    except ValueError as exc:
        return False, "unreadable certificate: %s" % exc
    return True, None


def certificate_facts(chain_der, name, ca_file=None, source=""):
    """The leaf's facts plus chain validation against ca_file for `name`."""
    facts = leaf_facts(chain_der[0])
    valid, error = validate_chain(chain_der, name, ca_file)
    facts.update(chain_length=len(chain_der), chain_valid=valid, chain_error=error, validated_for=name,
                 trust_anchors=ca_file or "system store", source=source)
    return facts
