"""A throw-away PKI for the TLS matrix: a server CA with good and bad leaves, a client CA and client cert.

    make_pki(directory) -> Pki with paths to PEM files

Leaves (all for DNS:localhost and IP:127.0.0.1 unless said otherwise, issued by the server CA):
rsa2048, ec256, rsa1024, sha1 (RSA 2048 signed with ecdsa-with-SHA1), expired, nosan (CN=localhost only).
cryptography refuses to sign with SHA-1, so the openssl command signs that one.
dh1024.pem holds the 1024-bit MODP group of RFC 2409 (Oakley group 2), for a weak-DHE server;
dh2048.pem the RFC 7919 ffdhe2048 group (from `openssl genpkey -genparam`), for a good one.
"""

import datetime
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# RFC 2409 §6.2, Second Oakley Group (1024-bit MODP), generator 2.
OAKLEY_GROUP_2 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF", 16)

NOW = datetime.datetime.now(datetime.timezone.utc)


@dataclass
class Pki:
    directory: Path
    ca: Path
    client_ca: Path
    client_cert: Path
    client_key: Path
    dh1024: Path
    dh2048: Path

    def leaf(self, name):
        """(certificate path, key path) of a leaf: rsa2048, ec256, rsa1024, sha1, expired, nosan."""
        return self.directory / ("%s.pem" % name), self.directory / ("%s.key" % name)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iryo-guard test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key, path):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o644)  # the test servers' workers are not root


def _write_cert(cert, path):
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _ca(common_name, directory, stem):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_cert(cert, directory / ("%s.pem" % stem))
    _write_key(key, directory / ("%s.key" % stem))
    return key, cert


def _leaf(ca_key, ca_cert, key, common_name, *, san=True, digest=None, days=(-1, 90), client=False):
    builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW + datetime.timedelta(days=days[0]))
               .not_valid_after(NOW + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                     else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(common_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(ca_key, digest or hashes.SHA256())


LEAVES = {
    # name: (key factory, leaf options)
    "rsa2048": (lambda: rsa.generate_private_key(65537, 2048), {}),
    "ec256": (lambda: ec.generate_private_key(ec.SECP256R1()), {}),
    "rsa1024": (lambda: rsa.generate_private_key(65537, 1024), {}),
    "expired": (lambda: rsa.generate_private_key(65537, 2048), {"days": (-400, -30)}),
    "nosan": (lambda: rsa.generate_private_key(65537, 2048), {"san": False}),
}


def _sha1_leaf(ca_key, ca_cert, directory):
    """The same leaf as rsa2048, re-signed by the CA with SHA-1 through `openssl x509 -req -sha1`."""
    key = rsa.generate_private_key(65537, 2048)
    _write_key(key, directory / "sha1.key")
    template = _leaf(ca_key, ca_cert, key, "localhost")
    csr = (x509.CertificateSigningRequestBuilder().subject_name(template.subject)
           .sign(key, hashes.SHA256()))
    (directory / "sha1.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    (directory / "sha1.ext").write_text("basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
                                        "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    subprocess.run(["openssl", "x509", "-req", "-sha1", "-in", str(directory / "sha1.csr"),
                    "-CA", str(directory / "ca.pem"), "-CAkey", str(directory / "ca.key"), "-CAcreateserial",
                    "-days", "90", "-extfile", str(directory / "sha1.ext"), "-out", str(directory / "sha1.pem")],
                   check=True, capture_output=True)


def make_pki(directory):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("iryo-guard test server CA", directory, "ca")
    for name, (factory, options) in LEAVES.items():
        key = factory()
        _write_cert(_leaf(ca_key, ca_cert, key, "localhost", **options), directory / ("%s.pem" % name))
        _write_key(key, directory / ("%s.key" % name))
    _sha1_leaf(ca_key, ca_cert, directory)
    client_ca_key, client_ca_cert = _ca("iryo-guard test client CA", directory, "client-ca")
    # RSA, not EC: an OpenSSL 1.1.1 client (sslyze's) sends no P-256 client certificate in a TLS 1.2
    # handshake whose only offered group is another curve, so sslyze's per-curve test would fail.
    client_key = rsa.generate_private_key(65537, 2048)
    _write_cert(_leaf(client_ca_key, client_ca_cert, client_key, "probe-client", san=False, client=True),
                directory / "client.pem")
    _write_key(client_key, directory / "client.key")
    params = dh.DHParameterNumbers(OAKLEY_GROUP_2, 2).parameters()
    (directory / "dh1024.pem").write_bytes(params.parameter_bytes(serialization.Encoding.PEM,
                                                                  serialization.ParameterFormat.PKCS3))
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
                    "-out", str(directory / "dh2048.pem")], check=True, capture_output=True)
    return Pki(directory, directory / "ca.pem", directory / "client-ca.pem", directory / "client.pem",
               directory / "client.key", directory / "dh1024.pem", directory / "dh2048.pem")
