"""The independent judges of a certificate chain, and the expected verdict computed from what they say.

- `openssl s_client -verify_return_error -verify_hostname NAME` (or `-verify_ip`) with the case's CA file:
  exit code, "Verify return code", the path it verified (its verify callback prints one `depth=N subject`
  line per certificate, the trust anchor first) and the chain the server sent (-showcerts).
- `curl --cacert CA --resolve NAME:PORT:127.0.0.1 https://NAME:PORT/`: exit code (60 = certificate
  problem) and its message.
- `openssl x509 -text`: key type, size, curve and signature algorithm of every certificate of that path.
- sslyze's certificate_info: its reading of the received chain (key types/sizes, signature hashes), which
  must equal openssl's, and its path validation (the web-PKI rules, for reference only).

None of this imports iryo_guard: the expected verdict never comes from the code under test.
"""

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
CURL = shutil.which("curl") or "/usr/bin/curl"
TIMEOUT = 20
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----\r?\n?", re.S)
DEPTH = re.compile(r"^depth=(\d+) (.*)$", re.M)
VERIFY_CODE = re.compile(r"Verify return code: (\d+) \((.*)\)")
# openssl's curve names -> the TLS group names the profiles use
CURVES = {"prime256v1": "secp256r1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}


def is_ip(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def pem_blocks(data):
    return [m.group(0).replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n" for m in PEM.finditer(data)]


# ---------------------------------------------------------------------------- openssl x509: one certificate

@dataclass
class CertReading:
    pem: bytes
    subject: str
    issuer: str
    key_type: str          # RSA | EC | other
    key_bits: int
    curve: str             # secp256r1 ... or None
    signature_algorithm: str
    signature_hash: str    # sha256, sha1, ... or the algorithm when it has no separate hash
    has_san: bool

    @property
    def self_issued(self):
        return self.subject == self.issuer

    def strength(self):
        return (self.key_type, self.key_bits, self.curve, self.signature_hash)


def read_cert(pem):
    """openssl x509 -text's reading of one PEM certificate."""
    done = subprocess.run([OPENSSL, "x509", "-noout", "-text", "-subject", "-issuer", "-nameopt", "RFC2253"],
                          input=pem, capture_output=True, timeout=TIMEOUT, check=True)
    text = done.stdout.decode()
    algorithm = re.search(r"Public Key Algorithm: (\S+)", text).group(1)
    bits = int(re.search(r"Public-Key: \((\d+) bit\)", text).group(1))
    curve = re.search(r"ASN1 OID: (\S+)", text)
    signature = re.search(r"Signature Algorithm: (\S+)", text).group(1)
    digest = re.match(r"(sha\d+|md5)WithRSAEncryption$", signature) or re.match(r"ecdsa-with-(SHA\d+)$", signature)
    return CertReading(
        pem=pem,
        subject=re.search(r"^subject=(.*)$", text, re.M).group(1).strip(),
        issuer=re.search(r"^issuer=(.*)$", text, re.M).group(1).strip(),
        key_type={"rsaEncryption": "RSA", "id-ecPublicKey": "EC"}.get(algorithm, algorithm),
        key_bits=bits,
        curve=CURVES.get(curve.group(1), curve.group(1)) if curve else None,
        signature_algorithm=signature,
        signature_hash=digest.group(1).lower() if digest else signature,
        has_san="X509v3 Subject Alternative Name" in text,
    )


# ---------------------------------------------------------------------------- the clients

@dataclass
class ClientVerdict:
    accepted: bool
    exit_code: int
    detail: str                                   # "0 (ok)" / "20 (unable to get local issuer certificate)" / curl's
    depths: dict = field(default_factory=dict)    # s_client: {depth: subject} its verify callback printed
    sent: list = field(default_factory=list)      # s_client: PEM of each certificate the server sent

    @property
    def path(self):
        """Subjects of the path, leaf first (the whole path when accepted; where it stopped otherwise)."""
        return [self.depths[d] for d in sorted(self.depths)]


def s_client(port, name, ca_file, client_cert, client_key):
    argv = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-showcerts", "-nameopt", "RFC2253",
            "-CAfile", str(ca_file), "-cert", str(client_cert), "-key", str(client_key)]
    # curl sends no SNI for an IP address; s_client would send the IP literal unless told not to
    argv += ["-noservername", "-verify_ip", name] if is_ip(name) else ["-servername", name, "-verify_hostname", name]
    done = subprocess.run(argv + ["-verify_return_error"], input=b"", capture_output=True, timeout=TIMEOUT)
    out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    code = VERIFY_CODE.search(out)
    depths = {}
    for depth, subject in DEPTH.findall(err):
        depths.setdefault(int(depth), subject.strip())
    accepted = done.returncode == 0 and code is not None and code.group(1) == "0"
    if not code:  # -verify_return_error ends the handshake before the summary: the error is in the callback
        failed = re.search(r"verify error:num=(\d+):(.*)", err)
        detail = "%s (%s)" % failed.groups() if failed else (err.strip().splitlines() or ["no output"])[-1]
    else:
        detail = "%s (%s)" % code.groups()
    # What the server sends, from a run that does not stop at the first verification error.
    shown = done if accepted else subprocess.run(argv, input=b"", capture_output=True, timeout=TIMEOUT)
    return ClientVerdict(accepted=accepted, exit_code=done.returncode, detail=detail,
                         depths=depths, sent=pem_blocks(shown.stdout))


def curl(port, name, ca_file, client_cert, client_key):
    url = "https://%s:%d/" % (name, port)
    argv = [CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(TIMEOUT), "--cacert",
            str(ca_file), "--cert", str(client_cert), "--key", str(client_key)]
    if not is_ip(name):
        argv += ["--resolve", "%s:%d:127.0.0.1" % (name, port)]
    done = subprocess.run(argv + [url], capture_output=True, text=True, timeout=TIMEOUT + 5)
    message = done.stderr.strip().splitlines()[0] if done.stderr.strip() else "HTTP %s" % done.stdout
    return ClientVerdict(accepted=done.returncode == 0 and done.stdout == "200", exit_code=done.returncode,
                         detail=message)


# ---------------------------------------------------------------------------- the path the judge verified

def verified_path(verdict, ca_file):
    """[CertReading] of the path s_client verified, leaf first, the anchor (from the CA file) last.

    s_client names each certificate of the path by subject. The anchor is the top one and comes from the
    CA file; the others from what the server sent. Two certificates with one subject (cross-signed copies)
    may both fit a line: then they must read the same (key, signature hash), else this refuses to guess."""
    sent = [read_cert(p) for p in verdict.sent]
    anchors = [read_cert(p) for p in pem_blocks(Path(ca_file).read_bytes())]
    path = []
    top = max(verdict.depths, default=0)
    for depth in sorted(verdict.depths):
        subject = verdict.depths[depth]
        if depth == 0:
            pools = [sent[:1]]
        elif depth == top and verdict.accepted:
            pools = [anchors, sent[1:]]   # the top of a verified path is a trust anchor
        else:
            pools = [sent[1:], anchors]
        fits = next(([c for c in pool if c.subject == subject] for pool in pools
                     if any(c.subject == subject for c in pool)), [])
        if not fits:
            raise AssertionError("s_client's path names %r, which is neither sent nor in %s" % (subject, ca_file))
        if len({c.strength() for c in fits}) > 1:
            raise AssertionError("two certificates named %r read differently; cannot tell which one s_client "
                                 "used" % subject)
        path.append(fits[0])
    return path


# ---------------------------------------------------------------------------- the rule

def expected_verdict(s_verdict, c_verdict, path, profile):
    """(passes, reasons): pass iff s_client and curl accept, the leaf has a subjectAltName, every certificate
    of the verified path meets the profile's key rule and every one but a self-signed anchor its
    signature-hash rule. `profile` is the profile's certificate values as plain data:
    {"rsa_min_bits": 2048, "ec_curves": [...], "signature_hashes": [...]}."""
    reasons = []
    if not s_verdict.accepted:
        reasons.append("s_client: %s" % s_verdict.detail)
    if not c_verdict.accepted:
        reasons.append("curl: %s" % c_verdict.detail)
    if s_verdict.sent and not read_cert(s_verdict.sent[0]).has_san:
        reasons.append("the leaf has no subjectAltName")
    for index, cert in enumerate(path):
        anchor = index == len(path) - 1 and index > 0 and s_verdict.accepted
        if cert.key_type == "RSA" and cert.key_bits < profile["rsa_min_bits"]:
            reasons.append("%s: RSA %d bits" % (cert.subject, cert.key_bits))
        elif cert.key_type == "EC" and cert.curve not in profile["ec_curves"]:
            reasons.append("%s: curve %s" % (cert.subject, cert.curve))
        elif cert.key_type not in ("RSA", "EC"):
            reasons.append("%s: %s key" % (cert.subject, cert.key_type))
        if not (anchor and cert.self_issued) and cert.signature_hash not in profile["signature_hashes"]:
            reasons.append("%s: signed with %s" % (cert.subject, cert.signature_hash))
    return not reasons, reasons


# ---------------------------------------------------------------------------- sslyze

@dataclass
class SslyzeView:
    received: list                 # [(key_type, key_bits, curve, signature_hash)] of the received chain
    received_pem: list
    path_valid: bool
    path_error: str


def sslyze_scan(targets, client_cert, client_key):
    """targets: {name: (port, server_name, ca_file)} -> {name: SslyzeView}; one Scanner, all in parallel."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import Encoding
    from sslyze import (ClientAuthenticationCredentials, Scanner, ScanCommand, ServerNetworkConfiguration,
                        ServerNetworkLocation, ServerScanRequest, ServerScanStatusEnum)
    from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument
    from sslyze.scanner.models import ScanCommandsExtraArguments

    credentials = ClientAuthenticationCredentials(certificate_chain_path=Path(client_cert), key_path=Path(client_key))
    requests, by_port = [], {}
    for name, (port, server_name, ca_file) in targets.items():
        by_port[port] = name
        requests.append(ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=server_name, port=port, ip_address="127.0.0.1"),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=server_name, tls_client_auth_credentials=credentials),
            scan_commands={ScanCommand.CERTIFICATE_INFO},
            scan_commands_extra_arguments=ScanCommandsExtraArguments(
                certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file)))))
    scanner = Scanner()
    scanner.queue_scans(requests)

    def reading(cert):
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            kind, bits, curve = "RSA", key.key_size, None
        elif isinstance(key, ec.EllipticCurvePublicKey):
            kind, bits, curve = "EC", key.curve.key_size, key.curve.name
        else:
            kind, bits, curve = type(key).__name__, None, None
        digest = cert.signature_hash_algorithm
        return kind, bits, curve, digest.name if digest else cert.signature_algorithm_oid._name

    views = {}
    for result in scanner.get_results():
        name = by_port[result.server_location.port]
        if result.scan_status != ServerScanStatusEnum.COMPLETED:
            raise RuntimeError("sslyze could not connect to %s: %s" % (name, result.connectivity_error_trace))
        attempt = result.scan_result.certificate_info
        if attempt.result is None:
            raise RuntimeError("sslyze certificate_info failed on %s: %s" % (name, attempt.error_trace))
        deployment = attempt.result.certificate_deployments[0]
        ca_file = Path(targets[name][2])
        validation = next(r for r in deployment.path_validation_results if Path(r.trust_store.path) == ca_file)
        views[name] = SslyzeView(
            received=[reading(c) for c in deployment.received_certificate_chain],
            received_pem=[c.public_bytes(Encoding.PEM) for c in deployment.received_certificate_chain],
            path_valid=validation.was_validation_successful,
            path_error=str(validation.validation_error) if validation.validation_error else "",
        )
    return views
