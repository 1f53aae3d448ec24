"""key_protection and module_utils/iryo_keys.py against real keys made by this machine's openssl,
a real softhsm2 token (pkcs11-tool), and the module run ad hoc through Ansible."""

import base64
import binascii
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import iryo_keys
import testkit
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
PIN = "735119"
SO_PIN = "99887766"


def sh(*argv, **kwargs):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, "%s: %s" % (" ".join(map(str, argv)), done.stderr)
    return done.stdout


def openssl(*argv):
    return sh("openssl", *argv)


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Every key format the module must recognise, made by openssl / ssh-keygen (all 0600)."""
    d = tmp_path_factory.mktemp("keys")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", d / "rsa2048.pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", d / "rsa3072.pem")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", d / "ec256.pem")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", d / "ec384.pem")
    openssl("genpkey", "-algorithm", "ED25519", "-out", d / "ed25519.pem")
    openssl("genpkey", "-algorithm", "ED448", "-out", d / "ed448.pem")
    openssl("pkey", "-in", d / "rsa2048.pem", "-traditional", "-out", d / "rsa2048-pkcs1.pem")
    openssl("ec", "-in", d / "ec256.pem", "-out", d / "ec256-sec1.pem")
    openssl("pkey", "-in", d / "rsa2048.pem", "-aes256", "-passout", "pass:secret", "-out", d / "rsa-enc-pkcs8.pem")
    openssl("pkcs8", "-topk8", "-in", d / "ec256.pem", "-v2", "aes-256-cbc", "-passout", "pass:x", "-outform", "DER",
            "-out", d / "ec-enc-pkcs8.der")
    openssl("pkey", "-in", d / "ec384.pem", "-aes256", "-passout", "pass:secret", "-traditional",
            "-out", d / "ec-legacy-enc.pem")
    openssl("rsa", "-in", d / "rsa2048.pem", "-aes128", "-passout", "pass:secret", "-traditional",
            "-out", d / "rsa-legacy-enc.pem")
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", d / "rsa3072.pem", "-outform", "DER", "-out", d / "rsa3072-pkcs8.der")
    openssl("pkey", "-in", d / "rsa3072.pem", "-outform", "DER", "-out", d / "rsa3072.der")
    openssl("pkey", "-in", d / "ec256.pem", "-outform", "DER", "-out", d / "ec256.der")
    openssl("req", "-new", "-x509", "-key", d / "rsa2048.pem", "-subj", "/CN=iryo-test", "-days", "1",
            "-out", d / "cert.pem")
    openssl("pkcs12", "-export", "-in", d / "cert.pem", "-inkey", d / "rsa2048.pem", "-passout", "pass:secret",
            "-out", d / "enc.p12")
    openssl("pkcs12", "-export", "-in", d / "cert.pem", "-inkey", d / "rsa2048.pem", "-keypbe", "NONE",
            "-certpbe", "NONE", "-nomac", "-passout", "pass:", "-out", d / "plain.p12")
    openssl("x509", "-in", d / "cert.pem", "-outform", "DER", "-out", d / "cert.der")
    ssh_keygen = testkit.tool("ssh-keygen")
    sh(ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", d / "ssh_ed25519")
    sh(ssh_keygen, "-q", "-t", "rsa", "-b", "3072", "-N", "pw", "-C", "", "-f", d / "ssh_rsa_enc")
    for path in d.iterdir():
        path.chmod(0o600)
    return d


EXPECTED = {
    "rsa2048.pem": ("pem-pkcs8", "RSA", 2048, None, False),
    "rsa3072.pem": ("pem-pkcs8", "RSA", 3072, None, False),
    "ec256.pem": ("pem-pkcs8", "EC", 256, "P-256", False),
    "ec384.pem": ("pem-pkcs8", "EC", 384, "P-384", False),
    "ed25519.pem": ("pem-pkcs8", "Ed25519", 256, None, False),
    "ed448.pem": ("pem-pkcs8", "Ed448", 456, None, False),  # OpenSSL's EVP_PKEY_get_bits says 456 too
    "rsa2048-pkcs1.pem": ("pem-pkcs1", "RSA", 2048, None, False),
    "ec256-sec1.pem": ("pem-sec1", "EC", 256, "P-256", False),
    "rsa-enc-pkcs8.pem": ("pem-encrypted-pkcs8", None, None, None, True),
    "ec-enc-pkcs8.der": ("der-encrypted-pkcs8", None, None, None, True),
    "ec-legacy-enc.pem": ("pem-legacy-encrypted", "EC", None, None, True),
    "rsa-legacy-enc.pem": ("pem-legacy-encrypted", "RSA", None, None, True),
    "rsa3072-pkcs8.der": ("der-pkcs8", "RSA", 3072, None, False),
    "rsa3072.der": (None, "RSA", 3072, None, False),
    "ec256.der": (None, "EC", 256, "P-256", False),
    "enc.p12": ("pkcs12", None, None, None, True),
    "plain.p12": ("pkcs12", "RSA", 2048, None, False),
    "ssh_ed25519": ("openssh", "Ed25519", 256, None, False),
    "ssh_rsa_enc": ("openssh", "RSA", 3072, None, True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_format_is_recognised(keys, name):
    found, problem = iryo_keys.describe_bytes((keys / name).read_bytes())
    assert problem is None and len(found) == 1
    fmt, key_type, bits, curve, encrypted = EXPECTED[name]
    key = found[0]
    if fmt:
        assert key["format"] == fmt
    assert (key["type"], key["bits"], key.get("curve"), key["encrypted"]) == (key_type, bits, curve, encrypted)


def test_bits_agree_with_openssl(keys):
    for name in ("rsa2048.pem", "rsa3072.pem", "ec256.pem", "ec384.pem"):  # Ed25519 prints no size
        text = openssl("pkey", "-in", keys / name, "-noout", "-text_pub")
        bits = int(re.search(r"\((\d+) bit\)", text).group(1))
        assert iryo_keys.describe_bytes((keys / name).read_bytes())[0][0]["bits"] == bits, name


def test_encryption_details_are_reported(keys):
    (key,), _ = iryo_keys.describe_bytes((keys / "rsa-enc-pkcs8.pem").read_bytes())
    assert key["encryption"]["scheme"] == "PBES2" and key["encryption"]["cipher"] == "AES-256-CBC"
    assert key["encryption"]["kdf"] == "PBKDF2" and key["encryption"]["iterations"] >= 2048
    (p12,), _ = iryo_keys.describe_bytes((keys / "enc.p12").read_bytes())
    assert p12["shrouded_key_bags"] == 1 and p12["key_bags"] == 0 and p12["encrypted_contents"] == 1
    (plain,), _ = iryo_keys.describe_bytes((keys / "plain.p12").read_bytes())
    assert plain["key_bags"] == 1 and plain["shrouded_key_bags"] == 0 and plain["certificates"] == 1


def test_certificates_and_public_keys_are_not_keys(keys, tmp_path):
    pub = tmp_path / "pub.pem"
    openssl("pkey", "-in", keys / "rsa2048.pem", "-pubout", "-out", pub)
    for data in ((keys / "cert.pem").read_bytes(), (keys / "cert.der").read_bytes(), pub.read_bytes(),
                 b"server { listen 443 ssl; }\n"):
        assert iryo_keys.describe_bytes(data) == ([], None)


def test_bundle_with_certificate_and_key(keys):
    data = (keys / "cert.pem").read_bytes() + (keys / "ec256.pem").read_bytes()
    found, problem = iryo_keys.describe_bytes(data)
    assert problem is None and [k["type"] for k in found] == ["EC"]


def test_truncated_and_garbage_input_never_raises_and_never_reads_as_a_clean_key(keys):
    """Every prefix of real keys, flipped bytes and random data: no exception, and a truncated PEM key
    is reported as a problem, never as a readable key."""
    for name in ("rsa2048.pem", "ec256-sec1.pem", "rsa-enc-pkcs8.pem", "enc.p12", "plain.p12", "rsa3072.der"):
        data = (keys / name).read_bytes()
        for cut in range(0, len(data), 7):
            found, problem = iryo_keys.describe_bytes(data[:cut])
            if name.endswith(".pem") and cut > 40:
                assert problem and all(k["encrypted"] is None for k in found), (name, cut)
        for position in range(0, len(data), 13):
            mangled = bytearray(data)
            mangled[position] ^= 0xA5
            iryo_keys.describe_bytes(bytes(mangled))
    for seed in range(50):
        iryo_keys.describe_bytes(os.urandom(64 + seed * 40))
        iryo_keys.describe_bytes(b"\x30\x80" * (seed + 1) + os.urandom(seed))
    deep = b"\x30\x80" * 5000  # indefinite-length nesting bomb
    assert iryo_keys.describe_bytes(deep) == ([], None)


# --- the module, ad hoc through Ansible ------------------------------------------------------

def adhoc(tmp_path, module, args, check=False, diff=False, env_extra=None):
    tree = tmp_path / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false",
               **(env_extra or {}))
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", module, "-a", json.dumps(args)]
    done = subprocess.run(cmd + (["--check"] if check else []) + (["--diff"] if diff else []), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert (tree / "localhost").exists(), done.stdout + done.stderr
    return done, json.loads((tree / "localhost").read_text())


def by_target(result, check):
    return {f["target"]: f for f in result["findings"] if f["check"] == check}


@pytest.fixture()
def keydir(keys, tmp_path):
    d = tmp_path / "ssl"
    shutil.copytree(keys, d)
    for path in d.iterdir():
        path.chmod(0o600)
    return d


def test_adhoc_reports_every_key_and_fails_a_world_readable_one(keydir, tmp_path):
    (keydir / "rsa2048.pem").chmod(0o644)
    done, result = adhoc(tmp_path, "key_protection", {"paths": [str(keydir)], "pkcs11": False})
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["compliant"] is False
    names = {os.path.basename(k["path"]) for k in result["keys"]}
    assert set(n for n in EXPECTED if (keydir / n).exists()) <= names
    assert "cert.pem" not in names and "cert.der" not in names
    perms = by_target(result, "c13.keys.permissions")
    bad = perms[str(keydir / "rsa2048.pem")]
    assert bad["status"] == "fail" and bad["clause"] == "C.13" and bad["fixable"] is True
    assert "others can read it" in " ".join(bad["evidence"]["problems"])
    assert all(f["status"] == "pass" for t, f in perms.items() if not t.endswith("rsa2048.pem"))
    entry = next(k for k in result["keys"] if k["path"].endswith("/rsa2048.pem"))
    assert (entry["owner"], entry["group"], entry["mode"], entry["type"], entry["bits"]) == ("root", "root", "0644",
                                                                                           "RSA", 2048)
    signing = by_target(result, "c13.keys.signing_key_protected")
    assert signing["signing_keys"]["status"] == "not_applicable"


def test_group_read_needs_a_declared_group_and_owner_must_be_allowed(keydir, tmp_path):
    key = keydir / "ec256.pem"
    key.chmod(0o640)
    os.chown(key, 0, 65534)  # group nogroup
    args = {"paths": [str(key)], "pkcs11": False}
    _, result = adhoc(tmp_path, "key_protection", args)
    finding = by_target(result, "c13.keys.permissions")[str(key)]
    assert finding["status"] == "fail" and "no group_readable rule" in finding["evidence"]["problems"][0]
    group = "nogroup"
    _, result = adhoc(tmp_path, "key_protection", dict(args, group_readable=[
        {"path": str(keydir / "*.pem"), "group": group, "reason": "test"}]))
    assert by_target(result, "c13.keys.permissions")[str(key)]["status"] == "pass"
    os.chown(key, 65534, 65534)  # owner nobody
    _, result = adhoc(tmp_path, "key_protection", dict(args, group_readable=[
        {"path": str(keydir / "*.pem"), "group": group, "reason": "test"}]))
    finding = by_target(result, "c13.keys.permissions")[str(key)]
    assert finding["status"] == "fail" and "owned by nobody" in " ".join(finding["evidence"]["problems"])


def snapshot(folder):
    return {p.name: (p.stat().st_mode, p.stat().st_uid, p.stat().st_gid, p.read_bytes())
            for p in sorted(folder.iterdir())}


def test_enforce_check_mode_changes_nothing_then_enforce_then_idempotent(keydir, tmp_path):
    (keydir / "rsa2048.pem").chmod(0o644)
    (keydir / "ec256.pem").chmod(0o660)
    os.chown(keydir / "ed25519.pem", 65534, 0)
    before = snapshot(keydir)
    args = {"paths": [str(keydir)], "pkcs11": False, "state": "enforced"}
    done, result = adhoc(tmp_path, "key_protection", args, check=True, diff=True)
    assert done.returncode == 0, done.stdout
    assert result["changed"] is True and snapshot(keydir) == before
    diffs = {d["before_header"]: d for d in result["permission_changes"]}
    assert diffs[str(keydir / "rsa2048.pem")]["before"] == "owner: root\ngroup: root\nmode: 0644\n"
    assert diffs[str(keydir / "rsa2048.pem")]["after"] == "owner: root\ngroup: root\nmode: 0600\n"
    assert diffs[str(keydir / "ed25519.pem")]["before"].startswith("owner: nobody")
    assert "mode: 0644" in done.stdout  # --diff shows it
    assert by_target(result, "c13.keys.permissions")[str(keydir / "rsa2048.pem")]["evidence"]["would_change"]

    done, result = adhoc(tmp_path, "key_protection", args, diff=True)
    assert done.returncode == 0 and result["changed"] is True
    after = snapshot(keydir)
    for name in ("rsa2048.pem", "ec256.pem", "ed25519.pem"):
        assert stat.S_IMODE(after[name][0]) == 0o600 and after[name][1] == 0, name
        assert after[name][3] == before[name][3], "content must never change"
    assert result["compliant"] is True
    # The enforcing call is the role's only call in harden: its findings must be of the files after the change.
    perms = by_target(result, "c13.keys.permissions")
    for name in ("rsa2048.pem", "ec256.pem", "ed25519.pem"):
        finding = perms[str(keydir / name)]
        assert finding["status"] == "pass" and finding["evidence"]["mode"] == "0600", finding
        assert finding["evidence"]["owner"] == "root" and "would_change" not in finding["evidence"]
    _, again = adhoc(tmp_path, "key_protection", args)
    assert again["changed"] is False and again["permission_changes"] == [] and again["compliant"] is True


def test_signing_keys_encrypted_pass_plain_fail_missing_fail(keydir, tmp_path):
    args = {"paths": [str(keydir)], "pkcs11": False,
            "signing_keys": [str(keydir / "rsa-enc-pkcs8.pem"), str(keydir / "ec-legacy-enc.pem"),
                             str(keydir / "ed25519.pem"), str(keydir / "enc.p12"), str(keydir / "plain.p12"),
                             str(keydir / "gone.key")]}
    _, result = adhoc(tmp_path, "key_protection", args)
    signing = {os.path.basename(t): f["status"] for t, f in by_target(result, "c13.keys.signing_key_protected").items()}
    assert signing == {"rsa-enc-pkcs8.pem": "pass", "ec-legacy-enc.pem": "pass", "enc.p12": "pass",
                       "ed25519.pem": "fail", "plain.p12": "fail", "gone.key": "fail"}
    assert [k["signing"] for k in result["keys"] if k["path"].endswith("ed25519.pem")] == [True]


def test_truncated_and_garbage_files_never_pass(keydir, tmp_path):
    data = (keydir / "rsa2048.pem").read_bytes()
    (keydir / "truncated.pem").write_bytes(data[: len(data) // 2])
    (keydir / "garbage.key").write_bytes(os.urandom(3000))
    (keydir / "garbage-pem.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\n%%%%notbase64\n-----END PRIVATE KEY-----\n")
    for name in ("truncated.pem", "garbage.key", "garbage-pem.key"):
        (keydir / name).chmod(0o600)
    done, result = adhoc(tmp_path, "key_protection", {
        "paths": [str(keydir / "truncated.pem"), str(keydir / "garbage.key"), str(keydir / "garbage-pem.key")],
        "pkcs11": False, "signing_keys": [str(keydir / "truncated.pem")]})
    assert done.returncode == 0, done.stdout + done.stderr
    perms = by_target(result, "c13.keys.permissions")
    assert {os.path.basename(t): f["status"] for t, f in perms.items()} == {
        "truncated.pem": "error", "garbage.key": "error", "garbage-pem.key": "error"}
    assert by_target(result, "c13.keys.signing_key_protected")[str(keydir / "truncated.pem")]["status"] == "error"
    assert result["compliant"] is False


def test_walk_skips_fifos_devices_symlinks_out_and_large_files(keydir, tmp_path):
    outside = tmp_path / "outside.pem"
    shutil.copy(keydir / "ec256.pem", outside)
    outside.chmod(0o644)
    walk = tmp_path / "walk"
    walk.mkdir()
    os.symlink(outside, walk / "link-out.pem")
    shutil.copy(keydir / "ec384.pem", walk / "inside.pem")
    os.symlink(walk / "inside.pem", walk / "link-in.pem")
    os.mkfifo(walk / "fifo.pem")  # opening it would block forever
    (walk / "big.pem").write_bytes(b"x" * 5000)
    done, result = adhoc(tmp_path, "key_protection", {"search_dirs": [str(walk)], "pkcs11": False,
                                                      "max_file_size": 4096, "web_servers": False})
    assert done.returncode == 0, done.stdout + done.stderr
    assert [k["real_path"] if "real_path" in k else k["path"] for k in result["keys"]] == [str(walk / "inside.pem")]
    assert str(walk / "link-out.pem") in result["not_opened"]["symlink_outside"]
    assert str(walk / "fifo.pem") in result["not_opened"]["special"]
    assert str(walk / "big.pem") in result["not_opened"]["too_large"]


def test_keys_named_by_nginx_and_apache_configs(keydir, tmp_path):
    etc = tmp_path / "etc"
    (etc / "nginx" / "sites").mkdir(parents=True)
    (etc / "nginx" / "nginx.conf").write_text("events {}\nhttp {\n  include sites/*;\n}\n")
    (etc / "nginx" / "sites" / "portal").write_text(
        "server {\n  listen 443 ssl;\n  ssl_certificate %s;\n  ssl_certificate_key ssl/portal.key;\n}\n"
        "server {\n  listen 8443 ssl;\n  ssl_certificate_key \"engine:pkcs11:pkcs11:token=web;object=tls\";\n}\n"
        % (keydir / "cert.pem"))
    (etc / "nginx" / "ssl").mkdir()
    shutil.copy(keydir / "rsa2048.pem", etc / "nginx" / "ssl" / "portal.key")
    (etc / "nginx" / "ssl" / "portal.key").chmod(0o644)
    (etc / "apache2").mkdir()
    (etc / "apache2" / "apache2.conf").write_text(
        "ServerRoot %s\n<VirtualHost *:443>\n  SSLEngine on\n  SSLCertificateFile %s\n"
        "  SSLCertificateKeyFile %s\n</VirtualHost>\n"
        "<VirtualHost *:9443>\n  SSLCertificateKeyFile /nonexistent/ehr.key\n</VirtualHost>\n"
        % (etc / "apache2", keydir / "cert.pem", keydir / "ec256.pem"))
    done, result = adhoc(tmp_path, "key_protection", {
        "nginx_config": str(etc / "nginx" / "nginx.conf"), "apache_config": str(etc / "apache2" / "apache2.conf"),
        "pkcs11": False})
    assert done.returncode == 0, done.stdout + done.stderr
    found = {k["path"]: k for k in result["keys"]}
    portal = found[str(etc / "nginx" / "ssl" / "portal.key")]
    assert portal["sources"][0].startswith("nginx %s:4" % (etc / "nginx" / "sites" / "portal"))
    assert found[str(keydir / "ec256.pem")]["sources"][0].startswith("apache")
    assert found["engine:pkcs11:pkcs11:token=web;object=tls"]["on_token"] is True
    perms = by_target(result, "c13.keys.permissions")
    assert perms[str(etc / "nginx" / "ssl" / "portal.key")]["status"] == "fail"
    assert perms[str(keydir / "ec256.pem")]["status"] == "pass"
    assert perms["/nonexistent/ehr.key"]["status"] == "error"
    assert str(keydir / "cert.pem") not in found  # named as a certificate and holds no key


# --- unreadable keys: the module really runs as an unprivileged user -------------------------

def run_as_nobody(code):
    """Run Python as nobody (setpriv), with the library module loaded as in the other tests."""
    prelude = ("import sys; sys.path[:0] = [%r, %r, %r]\n" % (str(REPO), str(REPO / "module_utils"),
                                                              str(REPO / "tests"))
               + "from library_loader import load_library_module\nmod = load_library_module('key_protection')\n")
    done = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           str(REPO / ".venv" / "bin" / "python"), "-c", prelude + code],
                          capture_output=True, text=True, timeout=120, env={"PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


PARAMS = ("params = dict(paths=[], search_dirs=[], web_servers=False, max_file_size=1048576, max_files=100, "
          "max_depth=5, allowed_owners=['root'], group_readable=[], signing_keys=[], pkcs11=False)\n")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="missing capability: root with setpriv (util-linux), to read the keys as nobody")
def test_unreadable_keys_are_never_a_pass(keys):
    # Not under pytest's tmp_path: /tmp/pytest-of-root is 0700, so nobody could not even stat a file there.
    base = Path(tempfile.mkdtemp(prefix="iryo-unreadable-"))
    base.chmod(0o755)
    good = base / "root-only.key"  # correct permissions, but nobody cannot read it
    shutil.copy(keys / "ec256.pem", good)
    good.chmod(0o600)
    bad = base / "group-write.key"  # wrong permissions and unreadable: fail (the mode is visible)
    shutil.copy(keys / "ec256.pem", bad)
    bad.chmod(0o620)
    hidden = base / "private"  # a folder nobody cannot list
    hidden.mkdir(mode=0o700)
    shutil.copy(keys / "ec256.pem", hidden / "inside.key")
    code = PARAMS + (
        "c = mod.Candidates()\n"
        "for p in (%r, %r): c.add(p, 'paths', required=True)\n"
        "mod.walk(%r, c, params, 'search_dirs')\n"
        "keys = [e for e in (mod.inspect(v, params) for v in c.files.values()) if e]\n"
        "import json; print(json.dumps({'keys': keys, 'findings': mod.build_findings(keys, c, params, False)}))\n"
        % (str(good), str(bad), str(hidden)))
    out = run_as_nobody(code)
    entries = {k["path"]: k for k in out["keys"]}
    assert entries[str(good)]["unreadable"] is True and entries[str(good)]["mode"] == "0600"
    statuses = {f["target"]: f["status"] for f in out["findings"] if f["check"] == "c13.keys.permissions"}
    assert statuses[str(good)] == "error"
    assert statuses[str(bad)] == "fail"
    assert statuses[str(hidden)] == "error"  # the walk could not look inside: never a silent pass
    assert "pass" not in statuses.values()
    shutil.rmtree(base)


# --- token-held keys (softhsm2) ---------------------------------------------------------------

SOFTHSM = next((p for p in ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
                if os.path.exists(p)), None)


@pytest.fixture()
def token(tmp_path, keys):
    testkit.tool("softhsm2-util")
    testkit.tool("pkcs11-tool")
    assert SOFTHSM, testkit.setup_message("libsofthsm2.so", "softhsm2")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                    % (tmp_path / "tokens"))
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    sh("softhsm2-util", "--init-token", "--free", "--label", "signing", "--so-pin", SO_PIN, "--pin", PIN, env=env)
    sh("pkcs11-tool", "--module", SOFTHSM, "--token-label", "signing", "--login", "--pin", PIN, "--keypairgen",
       "--key-type", "EC:prime256v1", "--label", "doctor-sign", "--id", "01", env=env)
    # An existing RSA key imported onto the token (softhsm2-util reads PKCS#8).
    sh("softhsm2-util", "--import", keys / "rsa2048.pem", "--token", "signing", "--label", "imported", "--id", "02",
       "--pin", PIN, env=env)
    return conf


def test_token_keys_with_pin_are_listed_and_a_token_signing_key_passes(tmp_path, token):
    args = {"paths": [], "web_servers": False, "pkcs11_modules": [SOFTHSM], "softhsm2_conf": str(token),
            "pkcs11_pins": {"signing": PIN},
            "signing_keys": ["pkcs11:token=signing;object=doctor-sign", "pkcs11:token=signing;object=absent"]}
    done, result = adhoc(tmp_path, "key_protection", args)
    assert done.returncode == 0, done.stdout + done.stderr
    (tok,) = result["tokens"]
    assert tok["label"] == "signing" and tok["private_objects_listed"] is True and tok["private_keys"] == 2
    on_token = {k["label"]: k for k in result["keys"] if k["on_token"]}
    assert on_token["doctor-sign"]["type"] == "EC" and on_token["doctor-sign"]["curve"] == "P-256"
    assert "never extractable" in on_token["doctor-sign"]["access"]
    assert on_token["imported"]["type"] == "RSA" and on_token["imported"]["bits"] == 2048
    assert on_token["doctor-sign"]["signing"] is True
    signing = by_target(result, "c13.keys.signing_key_protected")
    assert signing["pkcs11:token=signing;object=doctor-sign"]["status"] == "pass"
    assert signing["pkcs11:token=signing;object=absent"]["status"] == "fail"
    everything = done.stdout + done.stderr + json.dumps(result)
    everything += "".join(p.read_text() for p in (tmp_path / "reports").rglob("*") if p.is_file()
                          and p.suffix in (".json", ".html", ".xml"))
    assert PIN not in everything


def test_token_without_pin_shows_public_halves_only_and_cannot_confirm_a_signing_key(tmp_path, token):
    args = {"web_servers": False, "pkcs11_modules": [SOFTHSM], "softhsm2_conf": str(token),
            "signing_keys": ["pkcs11:token=signing;object=doctor-sign"]}
    _, result = adhoc(tmp_path, "key_protection", args)
    (tok,) = result["tokens"]
    assert tok["private_objects_listed"] is False and tok["public_keys"] == 2
    assert by_target(result, "c13.keys.signing_key_protected")["pkcs11:token=signing;object=doctor-sign"]["status"] \
        == "error"


# --- key material never leaves the host -------------------------------------------------------

def secrets_of(path):
    """Strings that would betray key material: every base64 line of each PEM body, the base64 of the
    whole DER, and hex of 16-byte windows of the key bytes (as openssl -text would print them)."""
    data = path.read_bytes()
    found = []
    bodies = re.findall(rb"-----BEGIN [A-Z ]+-----\n(.*?)-----END", data, re.S)
    raws = []
    for body in bodies:
        lines = [line for line in body.split(b"\n") if line and b":" not in line]
        found += [line.decode() for line in lines if len(line) >= 20]
        raws.append(binascii.a2b_base64(b"".join(lines)))
    if not bodies:
        raws.append(data)
        found.append(base64.b64encode(data).decode()[:40])
    for raw in raws:
        for start in range(0, max(1, len(raw) - 16), 16):
            window = raw[start:start + 16]
            found += [window.hex(), window.hex().upper(), ":".join("%02x" % b for b in window)]
    return found


def test_no_key_material_in_result_output_or_report(keydir, tmp_path):
    (keydir / "rsa2048.pem").chmod(0o644)
    done, result = adhoc(tmp_path, "key_protection", {"paths": [str(keydir)], "pkcs11": False, "state": "enforced",
                                                      "signing_keys": [str(keydir / "rsa2048.pem")]},
                         check=True, diff=True)
    assert done.returncode == 0 and result["keys"]
    reports = [p for p in (tmp_path / "reports").rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".xml")]
    assert reports, "the report callback wrote nothing"
    everything = done.stdout + done.stderr + json.dumps(result) + "".join(p.read_text() for p in reports)
    checked = 0
    for name in EXPECTED:
        if (keydir / name).exists():
            for secret in secrets_of(keydir / name):
                assert secret not in everything, "key material of %s leaked" % name
                checked += 1
    assert checked > 500
    # The check is able to see a leak: the same search finds the key in the key file itself.
    assert secrets_of(keydir / "rsa2048.pem")[0] in (keydir / "rsa2048.pem").read_text()


def test_module_functions_are_loadable():
    mod = load_library_module("key_protection")
    assert mod.PERMISSIONS == "c13.keys.permissions" and mod.SIGNING == "c13.keys.signing_key_protected"


# --- issue 16 item 1: a key swapped between scan and enforce, inside one call -----------------------------------
# The module lists PKCS#11 tokens (pkcs11-tool -L, which makes softhsm2 read SOFTHSM2_CONF) after the file scan and
# before it enforces. With softhsm2_conf a FIFO, softhsm2's open of it is the signal: the scan is over, enforce has
# not started. Only then the helper swaps the key and lets softhsm2 read a valid (empty) configuration. So the
# swap lands between scan and enforce every time, not by luck of timing.

def swap_when_read(fifo, action, tokendir, done):
    deadline = time.monotonic() + 120
    while True:
        try:
            fd = os.open(str(fifo), os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until a reader opened it
            break
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
    try:
        action()
        done.append("swapped")
        os.set_blocking(fd, True)
        os.write(fd, ("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                      % tokendir).encode())
    finally:
        os.close(fd)


@pytest.mark.parametrize("swap", ["symlink", "other_file"])
def test_a_key_swapped_between_scan_and_enforce_is_refused_and_nothing_changes(keys, tmp_path, swap):
    testkit.tool("pkcs11-tool")
    assert SOFTHSM, testkit.setup_message("libsofthsm2.so", "softhsm2")
    folder = tmp_path / "svc-keys"         # stands for a folder a service account can write
    folder.mkdir()
    key = folder / "tls.key"
    shutil.copy(keys / "ec256.pem", key)
    key.chmod(0o644)
    canary = tmp_path / "canary"           # stands for /etc/shadow: must keep owner and mode
    canary.write_text("not a key\n")
    canary.chmod(0o644)
    os.chown(canary, 65534, 65534)
    other = folder / ".other"
    shutil.copy(keys / "rsa2048.pem", other)
    other.chmod(0o644)
    (tmp_path / "tokens").mkdir()
    fifo = tmp_path / "softhsm2.conf"
    os.mkfifo(fifo)

    def action():
        if swap == "symlink":
            (folder / ".link").symlink_to(canary)
            os.rename(folder / ".link", key)
        else:
            os.rename(other, key)

    done = []
    helper = threading.Thread(target=swap_when_read, args=(fifo, action, tmp_path / "tokens", done), daemon=True)
    helper.start()
    run, result = adhoc(tmp_path, "key_protection", {"paths": [str(key)], "web_servers": False, "state": "enforced",
                                                     "pkcs11_modules": [SOFTHSM], "softhsm2_conf": str(fifo)})
    helper.join(10)
    assert done == ["swapped"], "the helper never saw softhsm2 read its configuration: %s" % run.stdout[-2000:]
    st = canary.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 65534, 65534)
    if swap == "other_file":
        assert stat.S_IMODE(key.stat().st_mode) == 0o644          # the file put in its place is untouched too
    assert result["changed"] is False and result["permission_changes"] == []
    finding = by_target(result, "c13.keys.permissions")[str(key)]
    assert finding["status"] == "error"
    why = "it is now a symbolic link" if swap == "symlink" else "another file than the one the scan read"
    assert why in finding["summary"] and "refused to chown" in finding["summary"], finding["summary"]
    assert "{" not in finding["summary"] and "\n" not in finding["summary"]
