"""Certificates for the configuration corpus: a plain, good chain (the certificate corpus is
tests/tls_corpus/certs, another suite's job).

    make_chain(directory, names) -> Chain

A root CA, an issuing intermediate CA and one RSA 2048 (or P-256) leaf per site name, as a CA
hands them out: ``cert.pem`` (leaf only), ``chain.pem`` (the intermediate), ``fullchain.pem``
(leaf + intermediate, what certbot and Mozilla's generator point nginx and Apache >= 2.4.8 at)
and ``privkey.pem``, under ``live/NAME/`` like /etc/letsencrypt/live. Every certificate has the
extensions web-PKI verifiers ask for (basicConstraints, keyUsage, SKI/AKI, EKU serverAuth on the
leaf, validity under 398 days), so sslyze, OpenSSL and tls_probe judge the chain alike and the
corpus only tests configurations. Validity is relative to now: no fixture ages.

Client authentication uses tests/tls_matrix/pki.py's client CA and RSA client certificate (sslyze
needs an RSA one, see that module); its ffdhe2048 file stands in for certbot's ssl-dhparams.pem,
which is the same RFC 7919 group.
"""

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Chain:
    directory: Path
    root: Path          # the trust anchor probes and clients are given (ca_file)
    intermediate: Path

    def live(self, name):
        """The folder with cert.pem, chain.pem, fullchain.pem and privkey.pem for ``name``."""
        return self.directory / "live" / name


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iryo-guard corpus"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca(subject, key, issuer_cert, issuer_key, now, path_length):
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(issuer_cert.subject if issuer_cert else _name(subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_cert:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf(name, key, issuer_cert, issuer_key, now):
    return (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(issuer_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))


def make_chain(directory, names, ecdsa_names=()):
    """Root -> intermediate -> one leaf per name (RSA 2048; P-256 for ``ecdsa_names``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = _ca("iryo-guard corpus root CA", root_key, None, root_key, now, None)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _ca("iryo-guard corpus issuing CA", inter_key, root, root_key, now, 0)
    (directory / "root.pem").write_bytes(_pem(root))
    (directory / "intermediate.pem").write_bytes(_pem(inter))
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1()) if name in ecdsa_names else rsa.generate_private_key(65537, 2048)
        leaf = _leaf(name, key, inter, inter_key, now)
        live = directory / "live" / name
        live.mkdir(parents=True)
        (live / "cert.pem").write_bytes(_pem(leaf))
        (live / "chain.pem").write_bytes(_pem(inter))
        (live / "fullchain.pem").write_bytes(_pem(leaf) + _pem(inter))
        (live / "privkey.pem").write_bytes(_key_pem(key))
        (live / "privkey.pem").chmod(0o600)
    return Chain(directory, directory / "root.pem", directory / "intermediate.pem")
