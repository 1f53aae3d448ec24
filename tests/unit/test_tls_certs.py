"""certs.py: the chain verdict follows OpenSSL's verifier; web-PKI observations are notes.

Certificates are made with the `openssl` command the way hospital and vendor CAs are (no
keyUsage on a plain `openssl req -x509` root), dated relative to now. Each expected verdict is
`openssl verify`'s own, run here beside ours (the live corpus in tests/integration/
test_tls_cert_corpus.py adds s_client and curl against real servers).
"""

import datetime
import socket
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from iryo_guard.tls import certrequest
from iryo_guard.tls.certs import build_path, certificate_facts, load_trust
from iryo_guard.tls.probe import ProbeRequest, probe

NAME = "portal.hospital.example"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """root (plain req -x509), an intermediate signed with SHA-256 and one with SHA-1, leaves."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem",
            "-days", "3650", "-subj", "/O=Example Hospital/CN=Example Hospital Root CA", cwd=d)
    (d / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                              "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    (d / "leaf.ext").write_text("subjectAltName=DNS:%s,IP:127.0.0.1\n" % NAME)
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\nsubjectAltName=DNS:%s\n" % NAME)
    for digest in ("sha256", "sha1"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int-%s.key" % digest, "-out", "int.csr",
                "-subj", "/CN=Issuing CA %s" % digest, cwd=d)
        openssl("x509", "-req", "-%s" % digest, "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key",
                "-CAcreateserial", "-days", "365", "-extfile", "ca.ext", "-out", "int-%s.pem" % digest, cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=%s" % NAME,
            cwd=d)
    for name, issuer, ext in (("leaf", "root", "leaf.ext"), ("leaf-int", "int-sha256", "leaf.ext"),
                              ("leaf-int-sha1", "int-sha1", "leaf.ext"), ("leaf-clientauth", "root", "client.ext"),
                              ("leaf-nosan", "root", None)):
        key = "root.key" if issuer == "root" else "%s.key" % issuer
        extra = ["-extfile", ext] if ext else []
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", "%s.pem" % issuer, "-CAkey", key, "-CAcreateserial",
                "-days", "397", *extra, "-out", "%s.pem" % name, cwd=d)
    return d


def der(path):
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def openssl_says(pki, leaf, untrusted=None, name=NAME):
    option = "-verify_ip" if name[0].isdigit() else "-verify_hostname"
    # as an OpenSSL client at Debian's default security level 2 decides
    argv = ["openssl", "verify", "-purpose", "sslserver", "-auth_level", "2", option, name,
            "-CAfile", str(pki / "root.pem")]
    if untrusted:
        argv += ["-untrusted", str(pki / untrusted)]
    return subprocess.run(argv + [str(pki / leaf)], capture_output=True, text=True).returncode == 0


@pytest.mark.parametrize("leaf,intermediates,name", [
    ("leaf.pem", [], NAME),
    ("leaf.pem", [], "127.0.0.1"),
    ("leaf.pem", [], "other.hospital.example"),
    ("leaf-int.pem", ["int-sha256.pem"], NAME),
    ("leaf-int.pem", [], NAME),                      # the server forgot its intermediate
    ("leaf-int-sha1.pem", ["int-sha1.pem"], NAME),   # refused at security level 2 (CA md too weak)
    ("leaf-clientauth.pem", [], NAME),               # EKU clientAuth only: not for a server
    ("leaf-nosan.pem", [], NAME),                    # OpenSSL falls back to the CN; the verdict's SAN rule fails it
])
def test_chain_validity_is_openssl_verify_s_own(pki, leaf, intermediates, name):
    facts = certificate_facts([der(pki / leaf)] + [der(pki / i) for i in intermediates], name, str(pki / "root.pem"))
    assert facts["chain_valid"] is openssl_says(pki, leaf, intermediates[0] if intermediates else None, name)


def test_a_plain_openssl_root_is_valid_and_its_missing_key_usage_is_a_note(pki):
    facts = certificate_facts([der(pki / "leaf.pem")], NAME, str(pki / "root.pem"))
    assert facts["chain_valid"] is True and facts["chain_error"] is None
    assert [p["role"] for p in facts["path"]] == ["leaf", "anchor"]
    notes = " | ".join(facts["notes"])
    assert "anchor 'CN=Example Hospital Root CA, O=Example Hospital' has no keyUsage extension" in notes
    assert "a web-PKI validator" in notes and "invalid extension: keyUsage" in notes  # what the old verdict failed on
    assert "{" not in notes and "Certificate(" not in notes
    assert "leaf 'CN=portal.hospital.example' has no extendedKeyUsage" in notes


def test_a_missing_intermediate_names_the_certificate_that_is_missing(pki):
    facts = certificate_facts([der(pki / "leaf-int.pem")], NAME, str(pki / "root.pem"))
    assert facts["chain_valid"] is False and facts["chain_error_code"] == 20
    assert "its issuer 'CN=Issuing CA sha256' is neither sent by the server nor in" in facts["chain_error"]
    assert "does not fetch missing intermediates" in facts["chain_error"]


def test_the_sha1_intermediate_is_placed_in_the_path_for_the_profile_to_judge(pki):
    facts = certificate_facts([der(pki / "leaf-int-sha1.pem"), der(pki / "int-sha1.pem")], NAME, str(pki / "root.pem"))
    assert facts["chain_error_code"] == 68  # CA signature digest too weak, as s_client and curl say
    assert not any("OpenSSL-based clients accept it" in note for note in facts["notes"])
    path = facts["path"]
    assert [p["role"] for p in path] == ["leaf", "intermediate", "anchor"]
    assert path[1]["signature_hash"] == "sha1" and path[2]["self_signed"] is True


def test_a_wrong_name_says_which_names_the_certificate_has(pki):
    facts = certificate_facts([der(pki / "leaf.pem")], "other.hospital.example", str(pki / "root.pem"))
    assert facts["chain_valid"] is False
    assert facts["chain_error"] == ("the certificate is not valid for other.hospital.example (it names "
                                    "DNS:portal.hospital.example, IP:127.0.0.1)")


def test_an_expired_leaf_at_the_validation_time(pki):
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=400)
    facts = certificate_facts([der(pki / "leaf.pem")], NAME, str(pki / "root.pem"), now=later)
    assert facts["chain_valid"] is False and facts["chain_error_code"] == 10
    assert "expired on" in facts["chain_error"]


@pytest.mark.parametrize("trusted_copy_first", [True, False])
def test_cross_signed_intermediates_as_openssl_orders_them(pki, tmp_path, trusted_copy_first):
    """The server sends the intermediate twice: issued by the trusted root and cross-signed by another
    root. OpenSSL takes the first copy that issued the leaf and does not backtrack, so the order decides
    (`openssl verify` judges beside us); the failing order's message names the copy and the fix."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "old.key", "-out", "old.pem", "-days", "30",
            "-subj", "/CN=Old Root", cwd=tmp_path)
    openssl("x509", "-x509toreq", "-in", str(pki / "int-sha256.pem"), "-signkey", str(pki / "int-sha256.key"),
            "-out", "int256.csr", cwd=tmp_path)
    openssl("x509", "-req", "-in", "int256.csr", "-CA", "old.pem", "-CAkey", "old.key", "-CAcreateserial", "-days",
            "30", "-extfile", str(pki / "ca.ext"), "-out", "cross.pem", cwd=tmp_path)
    copies = [pki / "int-sha256.pem", tmp_path / "cross.pem"]
    if not trusted_copy_first:
        copies.reverse()
    (tmp_path / "sent.pem").write_bytes(b"".join(p.read_bytes() for p in copies))
    facts = certificate_facts([der(pki / "leaf-int.pem")] + [der(p) for p in copies], NAME, str(pki / "root.pem"))
    assert facts["chain_valid"] is openssl_says(pki, "leaf-int.pem", tmp_path / "sent.pem") is trusted_copy_first
    if trusted_copy_first:
        assert facts["path"][-1]["subject_name"].startswith("CN=Example Hospital Root CA")
        assert any("outside the path" in n for n in facts["notes"])
    else:
        assert "sends a copy issued by 'CN=Example Hospital Root CA" in facts["chain_error"]
        assert "as issued by 'CN=Old Root'" in facts["chain_error"]
        assert facts["chain_advice"].startswith("Send the copy of 'CN=Issuing CA sha256' that leads to the trusted")


def test_build_path_prefers_trust_anchors(pki):
    anchors = load_trust(str(pki / "root.pem"))
    leaf = x509.load_pem_x509_certificate((pki / "leaf-int.pem").read_bytes())
    inter = x509.load_pem_x509_certificate((pki / "int-sha256.pem").read_bytes())
    path, complete = build_path(leaf, [inter], anchors)
    assert complete and path == [leaf, inter, anchors[0]]
    path, complete = build_path(leaf, [], anchors)
    assert not complete and path == [leaf]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_the_certificate_request_is_read_in_both_versions(pki, version):
    """A real OpenSSL server that requires a client certificate: what its CertificateRequest asks, as
    `openssl s_client` prints it (the independent reading)."""
    port = free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", str(pki / "leaf.pem"),
                               "-key", str(pki / "leaf.key"), "-Verify", "1", "-CAfile", str(pki / "root.pem"),
                               "-www", version], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        judge = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, version],
                               input="", capture_output=True, text=True, timeout=20).stdout
        facts = probe(ProbeRequest("127.0.0.1", port, NAME, ca_file=str(pki / "root.pem"), http_check=False))
    finally:
        server.terminate()
        server.wait(10)
    request = facts["client_auth"]["certificate_request"]
    assert request["error"] is None
    assert request["ca_names"] == ["CN=Example Hospital Root CA, O=Example Hospital"]
    assert "O = Example Hospital, CN = Example Hospital Root CA" in judge
    requested = next(line for line in judge.splitlines() if line.startswith("Requested Signature Algorithms"))
    assert len(request["signature_algorithms"]) == len(requested.split(":", 1)[1].strip().split(":"))
    assert request["weak_signature_algorithms"] == []   # OpenSSL 3's default security level drops SHA-1


def test_sha1_schemes_are_weak():
    body = bytes([1, 1]) + (6).to_bytes(2, "big") + bytes([2, 1, 2, 3, 4, 1]) + (0).to_bytes(2, "big")
    parsed = certrequest.parse(body, tls13=False)
    assert parsed["weak_signature_algorithms"] == ["rsa_pkcs1_sha1", "ecdsa_sha1"]
    assert parsed["signature_algorithms"][-1] == "rsa_pkcs1_sha256"
    assert certrequest.parse(b"\x05", tls13=True)["error"].startswith("cannot read the server's CertificateRequest")
