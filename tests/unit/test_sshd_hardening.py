"""sshd_hardening: effective-config parsing, login decisions, the drop-in and the lockout guard.

Parsing tests read real `sshd -T` output captured from the lab images (tests/fixtures/sshd/capture.sh).
Everything that needs sshd itself runs the REAL sshd of Debian 12 (OpenSSH 9.2) and Debian 13
(OpenSSH 10.0) in a throwaway container from this checkout's lab image (the controller has no
openssh-server; the session fixture lab_images builds the images first, tests/conftest.py): the
test's temporary folder is bind-mounted at the same path, so `sshd -T -f TMP/...` reads the same
files the test wrote.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import iryo_sshd
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sshd"
PODMAN_ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"))
ALGOS = yaml.safe_load((REPO / "data" / "ssh_algorithms.yml").read_text())
STRONG = {k: [e["name"] for e in ALGOS["profiles"]["strong"][k]] for k in ("kex", "ciphers", "macs",
                                                                           "host_key_algorithms")}


@pytest.fixture(scope="module")
def mod():
    return load_library_module("sshd_hardening")


def effective(name):
    return iryo_sshd.parse_effective((FIXTURES / name).read_text())


# ---------------------------------------------------------------------------------------------
# captured sshd -T output

@pytest.mark.parametrize("codename", ["bookworm", "trixie"])
def test_lab_default_effective_config_is_parsed(codename):
    eff = effective("%s-sshd-T.txt" % codename)
    # the lab's seeded drop-in: root logs in with keys, sshd -T prints prohibit-password's old name
    assert iryo_sshd.first(eff, "permitrootlogin") == "without-password"
    assert iryo_sshd.first(eff, "passwordauthentication") == "no"
    assert eff["listenaddress"] == ["[::]:22", "0.0.0.0:22"]
    assert eff["hostkey"] == ["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key",
                              "/etc/ssh/ssh_host_ed25519_key"]
    assert "curve25519-sha256" in iryo_sshd.algorithm_list(eff, "kex")
    assert iryo_sshd.auth_methods(eff) == {"enabled": ["publickey"], "authenticationmethods": "any"}


def test_default_algorithms_against_the_strong_allowlist(mod):
    allowed = STRONG
    bookworm = mod.judge_algorithms({"global": effective("bookworm-sshd-T.txt")}, allowed)
    trixie = mod.judge_algorithms({"global": effective("trixie-sshd-T.txt")}, allowed)
    # OpenSSH 9.2 still offers group exchange and the 2048-bit group; 10.0 dropped finite-field DH from its default
    assert bookworm["KexAlgorithms"] == ["diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256"]
    assert "KexAlgorithms" not in trixie
    for found in (bookworm, trixie):
        assert set(found["MACs"]) == {"umac-64-etm@openssh.com", "umac-128-etm@openssh.com",
                                      "hmac-sha1-etm@openssh.com", "umac-64@openssh.com", "umac-128@openssh.com",
                                      "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1"}
        assert "Ciphers" not in found and "HostKeyAlgorithms" not in found


@pytest.mark.parametrize("codename", ["bookworm", "trixie"])
def test_every_allowlisted_algorithm_exists_in_some_openssh_or_is_newer(codename):
    text = (FIXTURES / ("%s-ssh-Q.txt" % codename)).read_text()
    known = set(text.split())
    for kind, names in STRONG.items():
        missing = [n for n in names if n not in known]
        # only the ML-KEM hybrid is missing on bookworm (OpenSSH 9.9+); the module intersects with ssh -Q
        assert missing == ([] if codename == "trixie" or kind != "kex" else ["mlkem768x25519-sha256"]), (kind, missing)


def test_algorithm_data_marks_every_entry():
    assert ALGOS["confidence"] == "not_from_guideline"
    for profile in ALGOS["profiles"].values():
        for kind in STRONG:
            for entry in profile[kind]:
                assert entry["confidence"] == "not_from_guideline" and entry["basis"] and entry["openssh"]
    weak = {"diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "ssh-rsa", "ssh-dss", "hmac-sha1",
            "3des-cbc", "aes128-cbc", "hmac-md5", "umac-64@openssh.com"}
    for profile in ALGOS["profiles"].values():
        assert not weak & {e["name"] for kind in STRONG for e in profile[kind]}


# ---------------------------------------------------------------------------------------------
# login decisions (auth.c allowed_user semantics)

BASE = {"pubkeyauthentication": ["yes"], "passwordauthentication": ["no"], "kbdinteractiveauthentication": ["no"],
        "permitrootlogin": ["no"], "authenticationmethods": ["any"]}


def test_deny_and_allow_users_with_cidr_patterns():
    eff = dict(BASE, allowusers=["iryoadmin@10.20.0.0/16", "backup@192.168.1.5"])
    assert iryo_sshd.login_decision(eff, "iryoadmin", [], "10.20.3.4")[0]
    allowed, reasons = iryo_sshd.login_decision(eff, "iryoadmin", [], "10.21.0.1")
    assert not allowed and "AllowUsers" in reasons[0]
    assert iryo_sshd.login_decision(eff, "backup", [], "192.168.1.5")[0]
    assert not iryo_sshd.login_decision(dict(BASE, denyusers=["*"]), "iryoadmin", [], "10.20.3.4")[0]
    assert not iryo_sshd.login_decision(dict(BASE, denyusers=["ir?oad*"]), "iryoadmin", [], "10.20.3.4")[0]
    assert iryo_sshd.login_decision(dict(BASE, denyusers=["bob"]), "iryoadmin", [], "10.20.3.4")[0]


def test_groups_root_and_methods():
    assert not iryo_sshd.login_decision(dict(BASE, allowgroups=["ssh-users"]), "a", ["a"], "10.0.0.1")[0]
    assert iryo_sshd.login_decision(dict(BASE, allowgroups=["ssh-*"]), "a", ["a", "ssh-users"], "10.0.0.1")[0]
    assert not iryo_sshd.login_decision(dict(BASE, denygroups=["staff"]), "a", ["staff"], "10.0.0.1")[0]
    # unknown groups with a group rule: refuse rather than guess (the guard errs towards "would lock out")
    assert not iryo_sshd.login_decision(dict(BASE, allowgroups=["x"]), "a", None, "10.0.0.1")[0]
    assert not iryo_sshd.login_decision(BASE, "root", [], "10.0.0.1")[0]
    assert iryo_sshd.login_decision(dict(BASE, permitrootlogin=["without-password"]), "root", [], "10.0.0.1")[0]
    assert not iryo_sshd.login_decision(dict(BASE, permitrootlogin=["without-password"]), "root", [], "10.0.0.1",
                                        auth="password")[0]
    assert not iryo_sshd.login_decision(dict(BASE, pubkeyauthentication=["no"]), "a", [], "10.0.0.1")[0]
    assert not iryo_sshd.login_decision(dict(BASE, authenticationmethods=["publickey,password"]), "a", [],
                                        "10.0.0.1")[0]
    assert iryo_sshd.login_decision(dict(BASE, authenticationmethods=["publickey,password publickey"]), "a", [],
                                    "10.0.0.1")[0]


def test_probes_avoid_declared_networks():
    assert iryo_sshd.outside_probes(["10.0.0.0/8"]) == ["192.0.2.1", "2001:db8::1"]
    assert iryo_sshd.outside_probes(["192.0.2.0/24", "2001:db8::/32"]) == ["198.51.100.1"]
    assert iryo_sshd.inside_probe("10.89.1.1/32") == "10.89.1.1"
    assert iryo_sshd.inside_probe("10.20.0.0/16") == "10.20.0.1"
    assert iryo_sshd.normalise_networks(["10.20.3.4/16"]) == ["10.20.0.0/16"]
    with pytest.raises(ValueError, match="not a network"):
        iryo_sshd.normalise_networks(["vpn"])


def test_render_dropin():
    text = iryo_sshd.render_dropin(networks=["10.20.0.0/16", "fd00::/8"],
                                   algorithms={"macs": ["hmac-sha2-512-etm@openssh.com"]})
    assert "Match Address *,!10.20.0.0/16,!fd00::/8\n\tDenyUsers *\n" in text
    assert "MACs hmac-sha2-512-etm@openssh.com\n" in text
    assert text.index("PasswordAuthentication no") < text.index("Match Address")
    assert text.rstrip().endswith("Match all\n\tPasswordAuthentication no\n\tKbdInteractiveAuthentication no\n"
                                  "\tPermitRootLogin no".rstrip())
    bare = iryo_sshd.render_dropin(password_auth=False, root_login=False)
    assert "Match" not in bare and "PermitRootLogin" not in bare


def test_includes_dropin_dir_first():
    debian = (FIXTURES / "bookworm-sshd_config").read_text()
    assert iryo_sshd.includes_dropin_dir_first(debian, "/etc/ssh/sshd_config.d")
    assert not iryo_sshd.includes_dropin_dir_first("Port 22\n" + debian, "/etc/ssh/sshd_config.d")


def test_action_plugin_reads_the_login_sessions_ssh_connection():
    sys.path.insert(0, str(REPO / "plugins" / "action"))
    try:
        plugin = __import__("sshd_hardening")
    finally:
        sys.path.pop(0)
    assert plugin.parse_probe("IRYO-CONN|10.89.1.1 53382 10.89.1.5 22|iryoadmin\n") == ("10.89.1.1", "iryoadmin")
    assert plugin.parse_probe("motd\nIRYO-CONN||root\n") == (None, "root")
    assert plugin.parse_probe("") == (None, None)
    # the probe really prints that line in a shell
    done = subprocess.run(["sh", "-c", plugin.PROBE], env=dict(os.environ, SSH_CONNECTION="192.0.2.7 1 192.0.2.8 22"),
                          capture_output=True, text=True, check=True)
    assert plugin.parse_probe(done.stdout)[0] == "192.0.2.7"


def test_ssh_connection_is_found_above_a_process_without_it():
    """Like sudo: the child has no SSH_CONNECTION, its parent (the login shell) has."""
    code = ("import sys; sys.path.insert(0, %r); import iryo_sshd, json; print(json.dumps(iryo_sshd.ssh_connection()))"
            % str(REPO / "module_utils"))
    env = dict(os.environ, SSH_CONNECTION="198.51.100.9 40000 10.0.0.5 22", USER="iryoadmin")
    # the inner python runs with an emptied environment, as sudo's env_reset leaves it
    done = subprocess.run(["sh", "-c", "env -i %s -c %s; true" % (sys.executable, json.dumps(code))], env=env,
                          capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found["source"] == "198.51.100.9" and found["local_port"] == 22 and found["user"] == "iryoadmin"


def test_listening_ports_sees_a_real_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        assert ("127.0.0.1", sock.getsockname()[1]) in iryo_sshd.listening_ports()


# ---------------------------------------------------------------------------------------------
# the real sshd (9.2 and 10.0) in a throwaway container

def podman(*args, check=True, timeout=120):
    done = subprocess.run(["podman", *map(str, args)], env=PODMAN_ENV, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError("podman %s: %s" % (" ".join(map(str, args)), done.stderr))
    return done


class Box:
    """A container with real sshd; run_command() stands in for AnsibleModule's (the command really runs)."""

    def __init__(self, cid, codename):
        self.cid, self.codename = cid, codename

    def run_command(self, argv, environ_update=None):
        done = podman("exec", self.cid, *argv, check=False, timeout=60)
        return done.returncode, done.stdout, done.stderr

    def get_bin_path(self, name, opt_dirs=None):
        return {"ssh": "/usr/bin/ssh", "sshd": "/usr/sbin/sshd"}.get(name)

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs["msg"])


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def box(request, tmp_path_factory, lab_images):
    image = lab_images[request.param]  # exactly this checkout's image, never another tag of the same codename
    shared = tmp_path_factory.mktemp("sshd-%s" % request.param)
    name = "iryo-test-sshd-%s-%s" % (request.param, secrets.token_hex(3))
    cid = podman("run", "-d", "--rm", "--name", name, "-v", "%s:%s" % (shared, shared), image,
                 "sleep", "900").stdout.strip()
    try:
        podman("exec", cid, "sh", "-c", "ssh-keygen -A >/dev/null && mkdir -p /run/sshd")
        b = Box(cid, request.param)
        b.shared = shared
        yield b
    finally:
        podman("rm", "-f", "-t", "0", cid, check=False)


def tree(box, main_text, dropins):
    """An sshd configuration tree under the shared folder: main file + sshd_config.d drop-ins."""
    root = Path(box.shared) / ("etc-%s" % secrets.token_hex(3))
    (root / "sshd_config.d").mkdir(parents=True)
    (root / "sshd_config").write_text(main_text.replace("/etc/ssh/sshd_config.d", str(root / "sshd_config.d")))
    for name, text in dropins.items():
        (root / "sshd_config.d" / name).write_text(text)
    return root


def debian_main(box):
    return (FIXTURES / ("%s-sshd_config" % box.codename)).read_text()


LAB_DROPIN = "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"


def test_candidate_tree_shows_the_new_dropin_and_hides_the_old(box, mod):
    root = tree(box, debian_main(box) + "\nMatch User bob\n\tPasswordAuthentication yes\n",
                {"iryo-lab.conf": LAB_DROPIN, "00-iryo-guard.conf": "PermitRootLogin yes\n"})
    wanted = iryo_sshd.render_dropin(networks=["10.20.0.0/16"])
    work = Path(box.shared) / ("work-%s" % secrets.token_hex(3))
    main_copy = iryo_sshd.candidate_tree(str(root / "sshd_config"), str(root / "sshd_config.d" / "00-iryo-guard.conf"),
                                         wanted, str(work))
    cand = mod.Sshd(box, "/usr/sbin/sshd", main_copy)
    assert cand.validate()["rc"] == 0
    ev = mod.evaluate(cand, ["bob", "root"], ["10.20.0.0/16"])
    assert mod.judge_password(ev) == []          # Match all beats the later Match User bob
    assert mod.judge_root(ev) == []              # the old drop-in's "PermitRootLogin yes" is gone
    assert mod.judge_sources(ev, ["10.20.0.0/16"]) == []
    inside = [p for p in ev["probes"] if p["user"] == "bob" and p["where"] == "inside"]
    assert inside and all(p["login_with_key"] for p in inside)
    # the real tree is untouched, and without the new drop-in the old weaknesses show
    assert (root / "sshd_config.d" / "00-iryo-guard.conf").read_text() == "PermitRootLogin yes\n"
    real = mod.evaluate(mod.Sshd(box, "/usr/sbin/sshd", str(root / "sshd_config")), ["bob", "root"], ["10.20.0.0/16"])
    assert any("bob" in v for v in mod.judge_password(real))
    assert mod.judge_root(real) and mod.judge_sources(real, ["10.20.0.0/16"])


def test_unsupported_algorithm_is_what_sshd_t_rejects(box, mod):
    """Why the module intersects with ssh -Q: OpenSSH 9.2 refuses the ML-KEM name outright."""
    root = tree(box, debian_main(box), {"00-iryo-guard.conf": iryo_sshd.render_dropin(algorithms=STRONG)})
    result = mod.Sshd(box, "/usr/sbin/sshd", str(root / "sshd_config")).validate()
    if box.codename == "bookworm":
        assert result["rc"] != 0 and "mlkem768x25519-sha256" in result["stderr"] + result["stdout"]
    else:
        assert result["rc"] == 0, result
    known = set(box.run_command(["ssh", "-Q", "kex"])[1].split())
    fitted = dict(STRONG, kex=[a for a in STRONG["kex"] if a in known])
    root = tree(box, debian_main(box), {"00-iryo-guard.conf": iryo_sshd.render_dropin(algorithms=fitted)})
    sshd = mod.Sshd(box, "/usr/sbin/sshd", str(root / "sshd_config"))
    assert sshd.validate()["rc"] == 0
    assert mod.judge_algorithms({"global": sshd.effective()}, STRONG) == {}


def test_settings_before_the_include(box, mod):
    """sshd keeps the first value it reads: a main file that sets a keyword BEFORE its Include beats the
    drop-in's global line. Keywords allowed in Match are still ours (the drop-in's `Match all` overrides
    global values); KexAlgorithms cannot go in a Match block, so that one is lost, and the module's check
    of the candidate's effect (not of the file) catches it."""
    root = tree(box, "PasswordAuthentication yes\nKexAlgorithms diffie-hellman-group14-sha256\n" + debian_main(box), {})
    work = Path(box.shared) / ("work-%s" % secrets.token_hex(3))
    main_copy = iryo_sshd.candidate_tree(str(root / "sshd_config"), str(root / "sshd_config.d" / "00-iryo-guard.conf"),
                                         iryo_sshd.render_dropin(algorithms={"kex": ["curve25519-sha256"]}),
                                         str(work))
    ev = mod.evaluate(mod.Sshd(box, "/usr/sbin/sshd", main_copy), ["iryoadmin"], [])
    assert mod.judge_password(ev) == []
    assert mod.judge_algorithms(ev, {"kex": ["curve25519-sha256"]}) == {
        "KexAlgorithms": ["diffie-hellman-group14-sha256"]}


@pytest.mark.parametrize("case", ["root_connection", "outside_source", "allowusers_without_admin", "safe"])
def test_lockout_guard(box, mod, case):
    networks = ["10.89.1.0/24"]
    main = debian_main(box)
    connection = {"user": "iryoadmin", "source": "10.89.1.1"}
    admins = ["iryoadmin"]
    if case == "root_connection":
        connection = {"user": "root", "source": "10.89.1.1"}
    elif case == "outside_source":
        connection = {"user": "iryoadmin", "source": "172.16.5.5"}
    elif case == "allowusers_without_admin":
        main = main + "\nAllowUsers backup\n"
        admins = ["iryoadmin"]
    root = tree(box, main, {"iryo-lab.conf": LAB_DROPIN})
    work = Path(box.shared) / ("work-%s" % secrets.token_hex(3))
    main_copy = iryo_sshd.candidate_tree(str(root / "sshd_config"), str(root / "sshd_config.d" / "00-iryo-guard.conf"),
                                         iryo_sshd.render_dropin(networks=networks), str(work))
    cand = mod.Sshd(box, "/usr/sbin/sshd", main_copy)
    users = sorted(set(admins + [connection["user"], "root"]))
    ev = mod.evaluate(cand, users, networks, [connection["source"]])
    ev["effective_for"] = cand.cache
    refusals, _ = mod.guard(ev, connection, admins, networks, "publickey")
    if case == "safe":
        assert refusals == []
    elif case == "root_connection":
        assert len(refusals) == 1 and "PermitRootLogin no refuses root" in refusals[0]
        assert "instead of root" in refusals[0]
    elif case == "outside_source":
        assert "DenyUsers * matches iryoadmin@172.16.5.5" in refusals[0]
        assert "d1_remote_access_allowed_networks" in refusals[0]
    else:
        assert any("AllowUsers (backup) does not include iryoadmin@10.89.1.1" in r for r in refusals)
        assert any("no administrator (iryoadmin) could log in" in r for r in refusals)


# ---------------------------------------------------------------------------------------------
# issue 16 item 5: values joined into `sshd -T -C user=...,host=...,addr=...`

INJECTED = "bob,lport=2222"


def test_a_comma_in_a_user_name_cannot_add_a_match_field(box, mod):
    # A Match block only a LocalPort field selects: the injected ",lport=2222" would make sshd evaluate it (the old
    # code joined the user into the -C argument as it came, and sshd reported PasswordAuthentication yes for it).
    root = tree(box, debian_main(box) + "\nMatch LocalPort 2222\n\tPasswordAuthentication yes\n",
                {"iryo-lab.conf": LAB_DROPIN})
    sshd = mod.Sshd(box, "/usr/sbin/sshd", str(root / "sshd_config"))
    with pytest.raises(iryo_sshd.SshdError, match="not an account name"):
        sshd.effective(INJECTED, "10.20.0.5")


def test_a_comma_in_an_address_cannot_change_the_user(box, mod):
    # "addr" is given twice (host= and addr=); ",user=root" in it would make sshd evaluate root instead of bob.
    root = tree(box, debian_main(box) + "\nMatch User root\n\tPasswordAuthentication yes\n",
                {"iryo-lab.conf": LAB_DROPIN})
    sshd = mod.Sshd(box, "/usr/sbin/sshd", str(root / "sshd_config"))
    assert iryo_sshd.first(sshd.effective("bob", "10.20.0.5"), "passwordauthentication") == "no"
    with pytest.raises(iryo_sshd.SshdError, match="not an IP address"):
        sshd.effective("bob", "10.20.0.5,user=root")


@pytest.mark.parametrize("kind, value", [
    ("user", INJECTED), ("user", "bob alice"), ("user", "bob\nPasswordAuthentication yes"), ("user", "*"),
    ("user", "!root"), ("user", "-oops"), ("user", ""), ("user", "a" * 33), ("user", None),
    ("addr", "10.0.0.1,user=root"), ("addr", "10.0.0.0/8"), ("addr", " 10.0.0.1"), ("addr", "host.example"),
    ("addr", "2001:DB8::1"),
])
def test_match_values_sshd_would_misread_are_refused(kind, value):
    assert iryo_sshd.match_value_problem(kind, value)


@pytest.mark.parametrize("kind, value", [("user", "iryoadmin"), ("user", "svc.backup-1"), ("user", "HOST$"),
                                         ("addr", "10.20.0.5"), ("addr", "2001:db8::1")])
def test_ordinary_match_values_pass(kind, value):
    assert iryo_sshd.match_value_problem(kind, value) is None


def test_the_input_validation_refuses_them_before_any_role_runs():
    from iryo_guard.controller_actions import sshd_match_problems
    assert sshd_match_problems(["iryoadmin"], "10.20.0.5") == []
    problems = sshd_match_problems(["iryoadmin", INJECTED], "10.20.0.5,lport=2222")
    assert len(problems) == 2
    assert "d1_remote_access_admin_users" in problems[0] and "d1_remote_access_connection_source" in problems[1]


# ---------------------------------------------------------------------------------------------
# issue 16 item C: the controller decides password-vs-key from the real connection

class _Ctx:
    def __init__(self, password=None):
        self.password = password


class _Conn:
    def __init__(self, password=None):
        self.options = {"password": password}

    def get_option(self, name):
        return self.options[name]


def test_password_source_sees_every_way_a_password_reaches_the_connection():
    sys.path.insert(0, str(REPO / "plugins" / "action"))
    try:
        plugin = __import__("sshd_hardening")
    finally:
        sys.path.pop(0)
    find = plugin.password_source
    assert find(_Ctx(), _Conn(), {}) is None
    assert find(_Ctx("typed"), _Conn(), {}) == "--ask-pass / connection_password"      # --ask-pass
    assert find(_Ctx(), _Conn("x"), {}) == "the connection's password option"
    for name in ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_paramiko_pass"):
        assert find(_Ctx(), _Conn(), {name: "x"}) == name
