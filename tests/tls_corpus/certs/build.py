"""Build the certificate corpus: CAs and chains made the way common tools make them, by running
those tools' real `openssl` commands (README.md in this folder says which tool each case copies).

    keys = KeyPool(directory); keys.generate()          # once per test session (RSA 4096 is slow)
    corpus = build_corpus(directory, keys)              # -> Corpus: cases, client CA, client cert

Every date is relative to the moment of the build, so the corpus never ages. Nothing here is
checked in: the test builds it in a temporary folder each session.
"""

import datetime
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.tls_corpus.certs.cases import CASES

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
DOMAIN = "hosp.example"
PORTAL = "portal." + DOMAIN
DEBIAN_OPENSSL_CNF = Path("/etc/ssl/openssl.cnf")  # what a plain `openssl req -x509` reads

# Key pool: label -> openssl genpkey arguments. Leaves of the same key type share a key where that does
# not matter (a certificate's verdict does not depend on whether another certificate reuses its key);
# every CA has its own key, except the pairs that are the same CA by design (cross-signed copies).
KEY_SPECS = {
    "rsa1024": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "rsa4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
    "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    # CA keys, one per CA
    "plain-root": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "easyrsa-ca": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "two-tier-root": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
    "two-tier-issuing": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "adcs-root": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],  # AD CS default key length
    "adcs-issuing": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "old-root": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "new-root": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "g2-issuing": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "root-a": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "root-b": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "shared-issuing": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "sha1-issuing": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "lax-issuing": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "sha1-root": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "weak-root": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    "ec-root": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "client-ca": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
}


def run(*argv, cwd=None, san=None, conf=None):
    """Run one openssl command; a failure shows the command and its output. `san` fills $ENV::SAN of an
    extension file, `conf` sets OPENSSL_CONF (the config file a command reads when given none)."""
    env = dict(os.environ, SAN=san or "DNS:unused")
    if conf:
        env["OPENSSL_CONF"] = str(conf)
    done = subprocess.run([OPENSSL, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError("openssl %s failed (%d):\n%s%s" % (" ".join(argv), done.returncode, done.stdout,
                                                               done.stderr))
    return done.stdout


class KeyPool:
    """Private keys made with `openssl genpkey`, all at once in parallel (about 2 s on 2 cores)."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, label):
        return self.dir / ("%s.key" % label)

    def generate(self, specs=None):
        specs = specs or KEY_SPECS

        def one(label):
            if not self.path(label).exists():
                run("genpkey", *specs[label], "-out", str(self.path(label)))

        with ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
            list(pool.map(one, specs))
        return self


def stamp(when):
    """openssl ca -startdate/-enddate format (UTCTime, valid until 2049)."""
    return when.astimezone(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ")


# ---------------------------------------------------------------------------- a CA run by `openssl ca`

CA_CNF = """\
# `openssl ca` as a hospital CA operator (or easy-rsa) runs it; only the database paths differ.
[ ca ]
default_ca = CA_default

[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
certificate = {cert}
private_key = {key}
default_md = sha256
default_days = 365
policy = policy_anything
unique_subject = no
copy_extensions = none
email_in_dn = no

[ policy_anything ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
emailAddress = optional
serialNumber = optional

[ req ]
distinguished_name = dn
prompt = no
utf8 = yes
string_mask = utf8only
[ dn ]
CN = unused
"""


class OpensslCa:
    """A CA certificate + key with an `openssl ca` database to issue from."""

    def __init__(self, directory, name, cert, key):
        self.dir = Path(directory) / ("ca-" + name)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "issued").mkdir(exist_ok=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "index.txt.attr").write_text("unique_subject = no\n")
        self.name = name
        self.cert = Path(cert)
        self.key = Path(key)
        self.cnf = self.dir / "ca.cnf"
        self.cnf.write_text(CA_CNF.format(dir=self.dir, cert=self.cert, key=self.key))

    def issue(self, csr, out, extensions, section, days=None, start=None, end=None, md=None, san=None):
        """openssl ca -batch: sign `csr` with the extensions in `section` of the file `extensions`."""
        argv = ["ca", "-batch", "-config", str(self.cnf), "-rand_serial", "-notext", "-preserveDN", "-utf8",
                "-in", str(csr), "-out", str(out), "-extfile", str(extensions), "-extensions", section]
        if start or end:
            argv += ["-startdate", stamp(start), "-enddate", stamp(end)]
        else:
            argv += ["-days", str(days or 365)]
        if md:
            argv += ["-md", md]
        run(*argv, san=san)
        return Path(out)


REQ_CNF = """\
[ req ]
distinguished_name = dn
prompt = no
utf8 = yes
string_mask = utf8only
[ dn ]
CN = unused
"""


def csr(directory, stem, key, subject):
    """openssl req -new: a certificate request for `subject` (a /C=../CN=.. string)."""
    cnf = Path(directory) / "req.cnf"
    if not cnf.exists():
        cnf.write_text(REQ_CNF)
    out = Path(directory) / ("%s.csr" % stem)
    run("req", "-new", "-config", str(cnf), "-key", str(key), "-subj", subject, "-out", str(out))
    return out


def self_signed_with_ca(directory, name, key, subject, extensions, section, start, end, md=None):
    """A root made by `openssl ca -selfsign` (how an `openssl ca`-run offline root is usually made), so its
    dates can lie in the past like a root that has been in service for years."""
    cert = Path(directory) / ("%s.pem" % name)
    ca = OpensslCa(directory, name, cert, key)
    request = csr(directory, name, key, subject)
    argv = ["ca", "-batch", "-selfsign", "-config", str(ca.cnf), "-keyfile", str(key), "-rand_serial", "-notext",
            "-preserveDN", "-utf8", "-in", str(request), "-out", str(cert), "-extfile", str(extensions),
            "-extensions", section, "-startdate", stamp(start), "-enddate", stamp(end)]
    if md:
        argv += ["-md", md]
    run(*argv)
    return ca


# ---------------------------------------------------------------------------- extension files

# A two-tier PKI as RFC 5280 and the common `openssl ca` two-tier recipes write it.
TWO_TIER_EXT = """\
[ root_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ issuing_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ issuing_ca_lax ]
# basicConstraints present but not marked critical (RFC 5280 4.2.1.9 requires critical in CA certificates)
basicConstraints = CA:TRUE
keyUsage = keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN

[ server_no_san ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ client_only ]
# a client-certificate profile used by mistake for a server: EKU clientAuth only
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
"""

# easy-rsa v3.2.6 (github.com/OpenVPN/easy-rsa, tag v3.2.6 = commit 0d746eec3f06210ae1710d17b9c8d38428058e19):
# build-ca inserts x509-types/ca into the [easyrsa_ca] section of openssl-easyrsa.cnf, and its
# `basicConstraints = critical,CA:TRUE` replaces the section's own `CA:true` (a later value of the same
# name wins in an OpenSSL config section); sign-req server writes x509-types/server + COMMON (empty)
# + `subjectAltName = ...` (from --san) into a temporary -extfile for `openssl ca`.
EASYRSA_EXT = """\
[ easyrsa_ca ]
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always,issuer:always
basicConstraints = critical,CA:TRUE
keyUsage = cRLSign, keyCertSign

[ server ]
basicConstraints = CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer:always
extendedKeyUsage = serverAuth
keyUsage = digitalSignature,keyEncipherment
subjectAltName = $ENV::SAN
"""

# Active Directory Certificate Services as a hospital domain runs it: a standalone offline root and an
# enterprise issuing CA. Microsoft extensions: 1.3.6.1.4.1.311.21.1 CA Version (INTEGER 0),
# 1.3.6.1.4.1.311.20.2 certificate template name (BMPString "SubCA" / "WebServer"); URLs as AD CS writes
# its default CDP/AIA (ldap:/// and http://<server>/CertEnroll/).
ADCS_EXT = """\
[ adcs_root ]
keyUsage = digitalSignature, keyCertSign, cRLSign
basicConstraints = critical, CA:TRUE
subjectKeyIdentifier = hash
1.3.6.1.4.1.311.21.1 = ASN1:INTEGER:0

[ adcs_issuing ]
1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:SubCA
keyUsage = digitalSignature, keyCertSign, cRLSign
basicConstraints = critical, CA:TRUE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
1.3.6.1.4.1.311.21.1 = ASN1:INTEGER:0
crlDistributionPoints = URI:http://pki.hosp.example/CertEnroll/Hospital%20Root%20CA.crl
authorityInfoAccess = caIssuers;URI:http://pki.hosp.example/CertEnroll/Hospital%20Root%20CA.crt

[ adcs_webserver ]
1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:WebServer
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = @adcs_cdp
authorityInfoAccess = @adcs_aia
subjectAltName = $ENV::SAN

# AD CS's LDAP URLs hold commas (the list separator of an extension line): one name per line here
[ adcs_cdp ]
URI.0 = ldap:///CN=Hospital%20Issuing%20CA,CN=ca01,CN=CDP,CN=Public%20Key%20Services,CN=Services,CN=Configuration,DC=hosp,DC=example?certificateRevocationList?base?objectClass=cRLDistributionPoint
URI.1 = http://pki.hosp.example/CertEnroll/Hospital%20Issuing%20CA.crl

[ adcs_aia ]
caIssuers;URI.0 = ldap:///CN=Hospital%20Issuing%20CA,CN=AIA,CN=Public%20Key%20Services,CN=Services,CN=Configuration,DC=hosp,DC=example?cACertificate?base?objectClass=certificationAuthority
caIssuers;URI.1 = http://pki.hosp.example/CertEnroll/ca01.hosp.example_Hospital%20Issuing%20CA.crt
"""


# ---------------------------------------------------------------------------- the corpus

@dataclass
class BuiltCase:
    name: str
    server_name: str
    ca_file: Path                  # the trust anchor(s) the client is given
    chain: Path                    # exactly what the server sends: leaf first
    key: Path
    seclevel0: bool = False        # nginx needs @SECLEVEL=0 to load this certificate at all
    sent: list = field(default_factory=list)   # the PEM files concatenated into `chain`, in order


@dataclass
class Corpus:
    directory: Path
    cases: dict                    # name -> BuiltCase
    client_ca: Path
    client_cert: Path
    client_key: Path
    built_at: datetime.datetime


def _cat(out, *parts):
    Path(out).write_bytes(b"".join(Path(p).read_bytes() for p in parts))
    return Path(out)


class _Builder:
    def __init__(self, directory, keys, now):
        self.dir = Path(directory)
        self.keys = keys
        self.now = now
        self.ext = {}
        for name, text in (("two-tier", TWO_TIER_EXT), ("easyrsa", EASYRSA_EXT), ("adcs", ADCS_EXT)):
            path = self.dir / ("%s.ext" % name)
            path.write_text(text)
            self.ext[name] = path

    def days(self, n):
        return self.now + datetime.timedelta(days=n)

    def leaf(self, ca, stem, key, subject, ext, section, san, md=None, start=-1, end=365):
        request = csr(self.dir, stem, self.keys.path(key), subject)
        return ca.issue(request, self.dir / ("%s.pem" % stem), self.ext[ext], section, md=md, san=san,
                        start=self.days(start), end=self.days(end))

    def intermediate(self, root, stem, key, subject, ext, section, md=None, start=-4 * 365, end=6 * 365):
        request = csr(self.dir, stem, self.keys.path(key), subject)
        cert = root.issue(request, self.dir / ("%s.pem" % stem), self.ext[ext], section, md=md,
                          start=self.days(start), end=self.days(end))
        return OpensslCa(self.dir, stem, cert, self.keys.path(key))

    def root(self, stem, key, subject, ext="two-tier", section="root_ca", md=None):
        return self_signed_with_ca(self.dir, stem, self.keys.path(key), subject, self.ext[ext], section,
                                   self.days(-5 * 365), self.days(15 * 365), md=md)


def _plain_openssl(b):
    """A hospital's private CA made by the most common recipe: `openssl req -x509` with the distribution's
    openssl.cnf (Debian 12: v3_ca = SKI, AKI, critical CA:true, no keyUsage), then `openssl x509 -req` with
    only a subjectAltName in the -extfile."""
    root_pem = b.dir / "plain-root.pem"
    run("req", "-x509", "-key", str(b.keys.path("plain-root")), "-sha256", "-days", "3650", "-nodes",
        "-subj", "/C=JP/O=Example Hospital/CN=Example Hospital Private CA", "-out", str(root_pem),
        conf=DEBIAN_OPENSSL_CNF)
    text = run("x509", "-in", str(root_pem), "-noout", "-ext", "keyUsage,basicConstraints")
    if "Key Usage" in text or "CA:TRUE" not in text:  # the premise of this case
        raise RuntimeError("openssl req -x509 with %s no longer makes a CA without keyUsage:\n%s"
                           % (DEBIAN_OPENSSL_CNF, text))
    request = csr(b.dir, "plain-leaf", b.keys.path("rsa2048"), "/C=JP/O=Example Hospital/CN=" + PORTAL)
    san = b.dir / "plain-san.ext"
    san.write_text("subjectAltName = DNS:%s\n" % PORTAL)
    leaf = b.dir / "plain-leaf.pem"
    run("x509", "-req", "-in", str(request), "-CA", str(root_pem), "-CAkey", str(b.keys.path("plain-root")),
        "-CAcreateserial", "-CAserial", str(b.dir / "plain-root.srl"), "-days", "365", "-sha256",
        "-extfile", str(san), "-out", str(leaf))
    return {"plain-openssl-root": dict(ca=root_pem, sent=[leaf], key="rsa2048")}


def _easyrsa(b):
    """easy-rsa v3.2.6 defaults: RSA 2048, SHA-256, CA 3650 days, certificates 825 days, cn_only DN."""
    ca_pem = b.dir / "easyrsa-ca.pem"
    cnf = b.dir / "easyrsa-req.cnf"
    cnf.write_text(REQ_CNF.replace("[ dn ]", "x509_extensions = easyrsa_ca\n[ dn ]") + EASYRSA_EXT)
    # build-ca: `openssl req -utf8 -new -key ca.key -x509 -days 3650 -subj /CN=...`, x509_extensions = easyrsa_ca
    run("req", "-utf8", "-new", "-x509", "-config", str(cnf), "-key", str(b.keys.path("easyrsa-ca")), "-sha256",
        "-days", "3650", "-subj", "/CN=Easy-RSA CA", "-out", str(ca_pem))
    ca = OpensslCa(b.dir, "easyrsa", ca_pem, b.keys.path("easyrsa-ca"))
    request = csr(b.dir, "easyrsa-leaf", b.keys.path("rsa2048"), "/CN=" + PORTAL)
    # sign-req server --san=DNS:...: openssl ca -utf8 -batch -in req -out crt -extfile ext -days 825
    leaf = ca.issue(request, b.dir / "easyrsa-leaf.pem", b.ext["easyrsa"], "server", days=825,
                    san="DNS:" + PORTAL)
    return {"easy-rsa": dict(ca=ca_pem, sent=[leaf], key="rsa2048")}


def build_corpus(directory, keys, now=None):
    """Build every case of cases.CASES under `directory` (keys from a generated KeyPool)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    b = _Builder(directory, keys, now)
    made = {}
    made.update(_plain_openssl(b))
    made.update(_easyrsa(b))
    made.update(_two_tier(b))
    made.update(_adcs(b))
    made.update(_cross(b))
    made.update(_odd_roots(b))

    # the client side: a client CA and the client certificate the judges and tls_probe present
    client_ca = b.root("client-ca", "client-ca", "/C=JP/O=Example Hospital/CN=Example Hospital Client CA")
    client = b.leaf(client_ca, "client", "rsa2048", "/C=JP/O=Example Hospital/CN=probe-client", "two-tier",
                    "client_only", "DNS:probe-client.hosp.example")

    cases = {}
    for spec in CASES:
        item = made[spec.name]
        chain = _cat(directory / ("%s.chain.pem" % spec.name), *item["sent"])
        ca_file = item["ca"] if not isinstance(item["ca"], list) else _cat(
            directory / ("%s.ca.pem" % spec.name), *item["ca"])
        cases[spec.name] = BuiltCase(spec.name, spec.server_name, Path(ca_file), chain,
                                     keys.path(item["key"]), seclevel0=spec.seclevel0, sent=item["sent"])
    missing = [s.name for s in CASES if s.name not in made]
    if missing:
        raise RuntimeError("cases without a builder: %s" % missing)
    return Corpus(directory, cases, client_ca.cert, client, keys.path("rsa2048"), now)


def _two_tier(b):
    """An offline root and an issuing intermediate (the server sends leaf + intermediate), and every
    leaf-level variation on top of that issuing CA."""
    org = "/C=JP/O=Example Hospital"
    root = b.root("two-tier-root", "two-tier-root", org + "/CN=Example Hospital Root CA")
    issuing = b.intermediate(root, "two-tier-issuing", "two-tier-issuing", org + "/CN=Example Hospital Issuing CA",
                             "two-tier", "issuing_ca")
    sha1_issuing = b.intermediate(root, "sha1-issuing", "sha1-issuing", org + "/CN=Example Hospital SHA-1 Issuing CA",
                                  "two-tier", "issuing_ca", md="sha1")
    lax_issuing = b.intermediate(root, "lax-issuing", "lax-issuing", org + "/CN=Example Hospital Lax Issuing CA",
                                 "two-tier", "issuing_ca_lax")
    dns = "DNS:" + PORTAL

    def leaf(stem, key="rsa2048", ca=issuing, section="server", san=dns, cn=PORTAL, **kw):
        return b.leaf(ca, stem, key, "%s/CN=%s" % (org, cn), "two-tier", section, san, **kw)

    out = {}

    def case(name, cert, key="rsa2048", intermediate=issuing, sent_root=False):
        sent = [cert] + ([intermediate.cert] if intermediate else []) + ([root.cert] if sent_root else [])
        out[name] = dict(ca=root.cert, sent=sent, key=key)

    good = leaf("two-tier-leaf")
    case("offline-root-intermediate", good)
    case("missing-intermediate", good, intermediate=None)
    case("chain-with-root", good, sent_root=True)
    for key in ("rsa2048", "rsa3072", "rsa4096", "p256", "p384"):
        case("leaf-%s" % key, leaf("leaf-%s" % key, key=key), key=key)
    case("leaf-rsa1024", leaf("leaf-rsa1024", key="rsa1024"), key="rsa1024")
    case("sha1-intermediate", leaf("sha1-int-leaf", ca=sha1_issuing), intermediate=sha1_issuing)
    case("sha1-leaf", leaf("sha1-leaf", md="sha1"))
    case("expired-leaf", leaf("expired-leaf", start=-400, end=-30))
    case("not-yet-valid-leaf", leaf("future-leaf", start=30, end=400))
    case("wrong-name", leaf("wrong-name-leaf", san="DNS:intranet." + DOMAIN, cn="intranet." + DOMAIN))
    case("no-san-cn-only", leaf("no-san-leaf", section="server_no_san"))
    case("ip-san", leaf("ip-leaf", san="IP:127.0.0.1", cn="127.0.0.1"))
    wildcard = leaf("wildcard-leaf", san="DNS:*." + DOMAIN, cn="*." + DOMAIN)
    case("wildcard-match", wildcard)
    case("wildcard-two-labels", wildcard)
    case("eku-client-auth-only", leaf("client-eku-leaf", section="client_only"))
    case("ca-basic-constraints-not-critical", leaf("lax-leaf", ca=lax_issuing), intermediate=lax_issuing)
    case("leaf-validity-3650-days", leaf("long-leaf", end=3650))
    return out


def _adcs(b):
    dc = "/DC=example/DC=hosp"
    root = b.root("adcs-root", "adcs-root", "/CN=Hospital Root CA", ext="adcs", section="adcs_root")
    issuing = b.intermediate(root, "adcs-issuing", "adcs-issuing", dc + "/CN=Hospital Issuing CA", "adcs",
                             "adcs_issuing")
    # the WebServer template's default validity is 2 years
    cert = b.leaf(issuing, "adcs-leaf", "rsa2048", "/CN=" + PORTAL, "adcs", "adcs_webserver",
                  "DNS:%s,DNS:portal" % PORTAL, end=2 * 365)
    return {"ad-cs": dict(ca=root.cert, sent=[cert, issuing.cert], key="rsa2048")}


def _cross(b):
    """Two roots and cross-signing, as public CAs did during root transitions and hospital CAs do when they
    replace an old root: a new root also certified by the old one, and an intermediate certified by two roots."""
    org = "/C=JP/O=Example Hospital"
    dns = "DNS:" + PORTAL
    old = b.root("old-root", "old-root", org + "/CN=Example Hospital Root CA 2015")
    new = b.root("new-root", "new-root", org + "/CN=Example Hospital Root CA G2")
    # the new root's key and name, certified by the old root (the cross certificate)
    cross_req = csr(b.dir, "new-root-cross", b.keys.path("new-root"), org + "/CN=Example Hospital Root CA G2")
    cross = old.issue(cross_req, b.dir / "new-root-by-old.pem", b.ext["two-tier"], "root_ca",
                      start=b.days(-365), end=b.days(5 * 365))
    g2 = b.intermediate(new, "g2-issuing", "g2-issuing", org + "/CN=Example Hospital Issuing CA G2", "two-tier",
                        "issuing_ca")
    leaf_g2 = b.leaf(g2, "g2-leaf", "p256", org + "/CN=" + PORTAL, "two-tier", "server", dns)
    # one issuing CA (one key, one name) certified by root A and by root B
    root_a = b.root("root-a", "root-a", org + "/CN=Example Hospital Root A")
    root_b = b.root("root-b", "root-b", org + "/CN=Example Hospital Root B")
    shared_req = csr(b.dir, "shared-issuing", b.keys.path("shared-issuing"), org + "/CN=Example Hospital Shared CA")
    by_a = root_a.issue(shared_req, b.dir / "shared-by-a.pem", b.ext["two-tier"], "issuing_ca",
                        start=b.days(-365), end=b.days(5 * 365))
    by_b = root_b.issue(shared_req, b.dir / "shared-by-b.pem", b.ext["two-tier"], "issuing_ca",
                        start=b.days(-365), end=b.days(5 * 365))
    shared = OpensslCa(b.dir, "shared", by_b, b.keys.path("shared-issuing"))
    leaf_shared = b.leaf(shared, "shared-leaf", "rsa2048", org + "/CN=" + PORTAL, "two-tier", "server", dns)
    return {
        "cross-signed-anchor-new-root": dict(ca=new.cert, sent=[leaf_g2, g2.cert, cross], key="p256"),
        "cross-signed-anchor-old-root": dict(ca=old.cert, sent=[leaf_g2, g2.cert, cross], key="p256"),
        "duplicate-intermediate-trusted-copy-first": dict(ca=root_b.cert, sent=[leaf_shared, by_b, by_a],
                                                          key="rsa2048"),
        "duplicate-intermediate-other-copy-first": dict(ca=root_b.cert, sent=[leaf_shared, by_a, by_b],
                                                        key="rsa2048"),
    }


def _odd_roots(b):
    """Roots that are old or weak themselves: a SHA-1 self-signature (never checked by clients), a
    1024-bit root key (checked), and an all-ECDSA P-384 PKI signed with SHA-384."""
    org = "/C=JP/O=Example Hospital"
    dns = "DNS:" + PORTAL
    out = {}
    for name, key, md in (("sha1-self-signed-root", "sha1-root", "sha1"), ("rsa1024-root", "weak-root", None),
                          ("ecdsa-p384-chain", "ec-root", "sha384")):
        root = b.root(name + "-ca", key, "%s/CN=Example Hospital %s" % (org, name), md=md)
        leaf_key = "p256" if name == "ecdsa-p384-chain" else "rsa2048"
        cert = b.leaf(root, name + "-leaf", leaf_key, org + "/CN=" + PORTAL, "two-tier", "server", dns, md=md
                      if name == "ecdsa-p384-chain" else None)
        out[name] = dict(ca=root.cert, sent=[cert], key=leaf_key)
    return out
