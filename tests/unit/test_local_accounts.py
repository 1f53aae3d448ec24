"""local_accounts: the four cl.accounts.* checks on account trees built here, dated relative to now.

A tree is a small root (etc/passwd, shadow, group, gshadow, login.defs, shells, home directories with
authorized_keys, var/log/lastlog and wtmp) that the module reads through its `root` option. Password hashes are
real SHA-512 crypt hashes made by `openssl passwd -6`. What the login records say is judged by the tools that read
them for a living: `lastlog --root` (shadow's lastlog) and `last -f` (util-linux) must see the same logins as the
module; the lock is made by the real `usermod --root` and judged by `passwd --status` and `chage --list`. Check
mode is judged by checksums, and no hash may appear in any output (module result, diff, Ansible's stdout).
"""

import datetime
import hashlib
import json
import os
import re
import sqlite3
import struct
import subprocess
import time
from pathlib import Path

import pytest

from iryo_guard.schema import MAX_SUMMARY
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
DAY = 86400
NOW = time.time()
TODAY = int(NOW // DAY)
# x86_64 glibc layouts (the machine the tests run on); the module picks them by platform.machine().
LASTLOG = "=i32s256s"
UTMP = "=h2xi32s4s32s256shhiii16s20s"
USER_PROCESS = 7

pytestmark = pytest.mark.requires_tools("openssl", "usermod", "lastlog", "last", "passwd", "chage")


@pytest.fixture(scope="module")
def la():
    return load_library_module("local_accounts")


def crypt_hash():
    """A real SHA-512 crypt hash of a random password (openssl makes it; the tests never know the password)."""
    password = os.urandom(12).hex()
    done = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                          check=True, timeout=30)
    return done.stdout.strip()


class Tree:
    """An account tree under tmp_path/root: accounts with passwords, keys, shells, expiry and login records."""

    def __init__(self, base):
        self.root = base / "root"
        for folder in ("etc", "var/log", "home"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.accounts = []
        self.hashes = []
        self.lastlog = {}
        self.wtmp = []
        (self.root / "etc" / "login.defs").write_text("# login.defs\nUID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n")
        (self.root / "etc" / "shells").write_text("# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\n"
                                                  "/usr/bin/bash\n")

    def add(self, name, uid, password="hash", shell="/bin/bash", keys=0, changed_days_ago=30, expire=None):
        field = {"hash": None, "locked": "!", "none": "*", "empty": ""}.get(password, password)
        if field is None:
            field = crypt_hash()
            self.hashes.append(field)
        home = "/home/%s" % name if uid >= 1000 else ("/root" if uid == 0 else "/usr/sbin")
        if keys:
            ssh = self.root / home.lstrip("/") / ".ssh"
            ssh.mkdir(parents=True, exist_ok=True)
            (ssh / "authorized_keys").write_text("# keys\n" + "".join(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%040d %s@lab\n" % (i, name) for i in range(keys)))
        changed = "" if changed_days_ago is None else str(TODAY - changed_days_ago)
        self.accounts.append((name, uid, field, shell, home, changed, "" if expire is None else str(expire)))
        return self

    def login(self, name, days_ago, wtmp=False, host="10.89.0.1"):
        uid = [a[1] for a in self.accounts if a[0] == name][0]
        when = int(NOW - days_ago * DAY)
        if wtmp:
            self.wtmp.append((name, when, host))
        else:
            self.lastlog[uid] = (when, host)
        return self

    def write(self):
        etc = self.root / "etc"
        etc.joinpath("passwd").write_text("".join("%s:x:%d:%d::%s:%s\n" % (n, u, u, h, s)
                                                  for n, u, _, s, h, _, _ in self.accounts))
        etc.joinpath("shadow").write_text("".join("%s:%s:%s:0:99999:7::%s:\n" % (n, f, c, e)
                                                  for n, _, f, _, _, c, e in self.accounts))
        os.chmod(etc / "shadow", 0o640)
        etc.joinpath("group").write_text("".join("%s:x:%d:\n" % (n, u) for n, u, *_ in self.accounts))
        etc.joinpath("gshadow").write_text("".join("%s:!::\n" % n for n, *_ in self.accounts))
        size = struct.calcsize(LASTLOG)
        with open(self.root / "var" / "log" / "lastlog", "wb") as handle:
            for uid, (when, host) in sorted(self.lastlog.items()):
                handle.seek(uid * size)
                handle.write(struct.pack(LASTLOG, when, b"pts/0", host.encode()))
        with open(self.root / "var" / "log" / "wtmp", "wb") as handle:
            for i, (name, when, host) in enumerate(sorted(self.wtmp, key=lambda w: w[1])):
                handle.write(struct.pack(UTMP, USER_PROCESS, 4000 + i, b"pts/1", b"ts/1", name.encode(),
                                         host.encode(), 0, 0, 0, when, 0, b"\0" * 16, b"\0" * 20))
        return self

    def checksums(self):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((self.root / "etc").iterdir())}


def hospital(tmp_path):
    """The lab's `files` host in small: administrators, a stranger, a leaver, an unused and a fresh account."""
    return (Tree(tmp_path)
            .add("root", 0, keys=1, changed_days_ago=400)
            .add("daemon", 1, password="none", shell="/usr/sbin/nologin")
            .add("sshd", 100, password="none", shell="/usr/sbin/nologin", changed_days_ago=None)
            .add("iryoadmin", 1000, password="locked", keys=2, changed_days_ago=400)
            .add("suzuki", 1001, changed_days_ago=250)
            .add("tanaka", 1002, changed_days_ago=3)
            .add("sato", 1003, keys=1)
            .add("kato", 1004, changed_days_ago=120)
            .add("svc", 1005, password="locked", keys=1, shell="/usr/sbin/nologin")
            .add("yamada", 1006, expire=TODAY - 10)
            .add("nobody", 65534, password="none", shell="/usr/sbin/nologin")
            .login("iryoadmin", 1).login("suzuki", 200).login("suzuki", 150, wtmp=True).login("sato", 2)
            .write())


def args(tree, **extra):
    base = {"root": str(tree.root), "expected": ["root", "iryoadmin", "suzuki", "kato"], "remove": ["sato"],
            "max_unused_days": 90}
    base.update(extra)
    return base


class Module:
    """Stands in for AnsibleModule for direct calls of run_module (the Ansible runs are below)."""

    def __init__(self, params, check_mode=False):
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
        validated = ArgumentSpecValidator(load_library_module("local_accounts").ARGUMENT_SPEC).validate(params)
        assert not validated.error_messages, validated.error_messages
        self.params = validated.validated_parameters
        self.check_mode = check_mode
        self._diff = True
        self.commands = []

    def get_bin_path(self, name):
        for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            if os.path.exists(os.path.join(folder, name)):
                return os.path.join(folder, name)
        return None

    def run_command(self, argv):
        self.commands.append(argv)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    def exit_json(self, **result):
        raise SystemExit(result)

    def fail_json(self, **result):
        raise AssertionError(result)


def run(params, check_mode=False):
    module = Module(params, check_mode)
    with pytest.raises(SystemExit) as done:
        load_library_module("local_accounts").run_module(module)
    result = done.value.args[0]
    return result, {f["check"]: f for f in result["findings"]}, module


def said(finding, status, *words):
    summary = finding["summary"]
    assert finding["status"] == status, (finding["status"], summary)
    assert summary and "\n" not in summary and len(summary) <= MAX_SUMMARY
    for word in words:
        assert word in summary, (word, summary)
    for repr_mark in ("{'", "['", "[]", "{}", "': ", "None", "True", "False"):
        assert repr_mark not in summary, (repr_mark, summary)
    return summary


# --- what lets an account log in -----------------------------------------------------------------------------

@pytest.mark.parametrize("field,state", [("$6$salt$" + "x" * 86, "usable"), ("$y$j9T$salt$" + "y" * 43, "usable"),
                                         ("!$6$salt$" + "x" * 86, "locked"), ("!", "locked"), ("!!", "locked"),
                                         ("*", "none"), ("", "empty"), (None, "none")])
def test_password_states_never_carry_the_hash(la, field, state):
    assert la.password_state(field) == state


def test_who_can_log_in(tmp_path, la):
    tree = hospital(tmp_path)
    result, _, _ = run(args(tree))
    capable = {a["name"]: a["login_ways"] for a in result["accounts"]}
    assert capable == {"root": ["password", "1 authorized key"], "iryoadmin": ["2 authorized keys"],
                       "suzuki": ["password"], "tanaka": ["password"], "sato": ["password", "1 authorized key"],
                       "kato": ["password"]}
    # svc has a key but no login shell, yamada a password but expired ten days ago, daemon neither
    assert result["regular_accounts_not_login_capable"] == ["svc", "yamada"]


def test_an_empty_password_is_a_way_in(tmp_path):
    tree = Tree(tmp_path).add("root", 0, password="none").add("guest", 1001, password="empty").write()
    _, found, _ = run(args(tree, expected=["root"], remove=[]))
    said(found["cl.accounts.unexpected"], "fail", "guest (empty password)")


# --- the four checks -----------------------------------------------------------------------------------------

def test_the_seeded_weaknesses_fail_and_say_what_to_do(tmp_path):
    tree = hospital(tmp_path)
    _, found, _ = run(args(tree))
    said(found["cl.accounts.unexpected"], "fail", "1 login-capable account nobody declared", "tanaka (password)",
         "required: only the declared accounts")
    assert [a["name"] for a in found["cl.accounts.unexpected"]["evidence"]["unexpected"]] == ["tanaka"]
    # suzuki: lastlog 200 days ago, wtmp 150 days ago: the newer counts and its file is named
    unused = said(found["cl.accounts.unused"], "fail", "2 login-capable accounts unused for more than 90 days",
                  "suzuki (last login 150 days ago, /var/log/wtmp)", "required: used within 90 days")
    assert "kato" in unused and "tanaka" not in unused and "iryoadmin" not in unused
    rows = {r["name"]: r for r in found["cl.accounts.unused"]["evidence"]["accounts"]}
    assert rows["kato"]["last_login"] == "never" and rows["kato"]["days"] == 120
    assert rows["tanaka"]["days"] == 3 and rows["iryoadmin"]["source"] == "/var/log/lastlog"
    assert "root" not in rows  # exempt by default
    said(found["cl.accounts.shared_uid0"], "pass", "root is the only account with UID 0")
    removal = found["cl.accounts.removal_locked"]
    said(removal, "fail", "1 of 1 account marked for removal not locked", "sato (password usable, expires never)",
         "required: password locked and account expired")
    assert removal["fixable"] is True


def test_declared_everything_passes(tmp_path):
    tree = Tree(tmp_path).add("root", 0, password="none", keys=1).add("iryoadmin", 1000, password="locked", keys=1) \
        .add("suzuki", 1001, changed_days_ago=400).login("suzuki", 10).login("iryoadmin", 0.5).write()
    _, found, _ = run(args(tree, expected=["root", "iryoadmin", "suzuki"], remove=[]))
    said(found["cl.accounts.unexpected"], "pass", "3 login-capable accounts, all declared: root, iryoadmin, suzuki")
    said(found["cl.accounts.unused"], "pass", "2 login-capable accounts used within 90 days", "/var/log/lastlog",
         "exempt: root")
    said(found["cl.accounts.removal_locked"], "pass", "no account is marked for removal")


def test_a_second_uid0_account_fails(tmp_path):
    tree = Tree(tmp_path).add("root", 0, password="none").add("toor", 0, password="locked", shell="/bin/sh").write()
    _, found, _ = run(args(tree, expected=["root"], remove=[]))
    said(found["cl.accounts.shared_uid0"], "fail", "account other than root with UID 0: toor",
         "required: root is the only UID 0 account")


def test_a_system_account_that_can_log_in_must_be_declared(tmp_path):
    # below UID_MIN and no declaration needed - until it gets a password and a shell
    tree = Tree(tmp_path).add("root", 0, password="none").add("backup", 34, shell="/bin/sh").write()
    _, found, _ = run(args(tree, expected=["root"], remove=[]))
    said(found["cl.accounts.unexpected"], "fail", "backup (password)")


def test_never_logged_in_without_a_creation_date_is_reported_as_such(tmp_path):
    tree = Tree(tmp_path).add("root", 0, password="none").add("ghost", 1001, changed_days_ago=None).write()
    _, found, _ = run(args(tree, expected=["root", "ghost"], remove=[]))
    said(found["cl.accounts.unused"], "fail", "ghost (never logged in, creation date unknown)")


def test_no_login_record_at_all_is_an_error_not_a_pass(tmp_path):
    tree = Tree(tmp_path).add("root", 0, password="none").add("suzuki", 1001).write()
    for name in ("lastlog", "wtmp"):
        (tree.root / "var" / "log" / name).unlink()
    _, found, _ = run(args(tree, expected=["root", "suzuki"], remove=[]))
    said(found["cl.accounts.unused"], "error", "no login record could be read")


def test_removed_and_locked_leavers_pass(tmp_path):
    tree = Tree(tmp_path).add("root", 0, password="none").add("sato", 1003, password="locked", expire=1).write()
    _, found, _ = run(args(tree, expected=["root"], remove=["sato", "ito"]))
    said(found["cl.accounts.removal_locked"], "pass", "sato (locked)", "ito (removed)")


def test_a_locked_password_that_never_expires_is_not_locked_enough(tmp_path):
    # keys still work for an account that is not expired: the lock must expire it too
    tree = Tree(tmp_path).add("root", 0, password="none").add("sato", 1003, password="locked", keys=1).write()
    _, found, _ = run(args(tree, expected=["root"], remove=["sato"]))
    said(found["cl.accounts.removal_locked"], "fail", "sato (password locked, expires never)")


def test_sqlite_login_databases_are_read(tmp_path, la):
    """lastlog2 (util-linux liblastlog2's schema) and wtmpdb (the schema read from the lab's Debian 13 host,
    wtmpdb 0.73.0): an account whose only record is there is judged from it."""
    tree = Tree(tmp_path).add("root", 0, password="none").add("kimura", 1001, changed_days_ago=500) \
        .add("mori", 1002, changed_days_ago=500).write()
    db = tree.root / "var" / "lib" / "lastlog"
    db.mkdir(parents=True)
    with sqlite3.connect(db / "lastlog2.db") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS Lastlog2(Name TEXT PRIMARY KEY, Time INTEGER, TTY TEXT, "
                     "RemoteHost TEXT, Service TEXT)")
        conn.execute("INSERT INTO Lastlog2 VALUES (?, ?, 'pts/0', '10.0.0.9', 'sshd')", ("kimura", int(NOW - 5 * DAY)))
    wtmpdb = tree.root / "var" / "lib" / "wtmpdb"
    wtmpdb.mkdir(parents=True)
    with sqlite3.connect(wtmpdb / "wtmp.db") as conn:
        conn.execute("CREATE TABLE wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT NOT NULL, Login INTEGER, "
                     "Logout INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT) STRICT")
        conn.execute("INSERT INTO wtmp (Type, User, Login, Logout, TTY) VALUES (3, 'mori', ?, NULL, 'pts/1')",
                     (int((NOW - 200 * DAY) * 1e6),))
        conn.execute("INSERT INTO wtmp (Type, User, Login, Logout, TTY) VALUES (1, 'reboot', ?, NULL, '~')",
                     (int(NOW * 1e6),))
    _, found, _ = run(args(tree, expected=["root", "kimura", "mori"], remove=[]))
    rows = {r["name"]: r for r in found["cl.accounts.unused"]["evidence"]["accounts"]}
    assert rows["kimura"]["source"] == "/var/lib/lastlog/lastlog2.db" and rows["kimura"]["days"] == 5
    assert rows["mori"]["source"] == "/var/lib/wtmpdb/wtmp.db" and rows["mori"]["days"] == 200
    said(found["cl.accounts.unused"], "fail", "mori (last login 200 days ago, /var/lib/wtmpdb/wtmp.db)")


# --- the login records, as the tools that own them read them -------------------------------------------------

def test_lastlog_reads_as_shadows_lastlog_reads_it(tmp_path):
    tree = hospital(tmp_path)
    result, found, _ = run(args(tree))
    rows = {r["name"]: r for r in found["cl.accounts.unused"]["evidence"]["accounts"]}
    for name in ("iryoadmin", "sato"):
        done = subprocess.run(["lastlog", "--root", str(tree.root), "--user", name], capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0, done.stderr
        line = done.stdout.splitlines()[1]
        assert line.split()[0] == name and "10.89.0.1" in line
        seen = datetime.datetime.strptime(" ".join(line.split()[-6:]), "%a %b %d %H:%M:%S %z %Y")
        if name == "iryoadmin":
            ours = datetime.datetime.strptime(rows[name]["last_login"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            assert seen == ours, (seen, ours)
    done = subprocess.run(["lastlog", "--root", str(tree.root), "--user", "tanaka"], capture_output=True, text=True,
                          timeout=30)
    assert "**Never logged in**" in done.stdout  # and the module counts tanaka from its password date instead
    assert rows["tanaka"]["last_login"] == "never"


def test_wtmp_reads_as_util_linux_last_reads_it(tmp_path):
    tree = hospital(tmp_path)
    _, found, _ = run(args(tree))
    done = subprocess.run(["last", "--fullnames", "--time-format", "iso", "--file",
                           str(tree.root / "var" / "log" / "wtmp")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    logins = [line.split() for line in done.stdout.splitlines() if line.startswith("suzuki")]
    assert len(logins) == 1, done.stdout
    seen = datetime.datetime.fromisoformat(logins[0][3])
    rows = {r["name"]: r for r in found["cl.accounts.unused"]["evidence"]["accounts"]}
    ours = datetime.datetime.strptime(rows["suzuki"]["last_login"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert seen == ours and rows["suzuki"]["source"] == "/var/log/wtmp"


# --- locking, through Ansible: usermod does it, passwd and chage judge it ---------------------------------------

def env_for(tmp_path):
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
                IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
                ANSIBLE_CALLBACK_TREE_DIR=str(tmp_path / "tree"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")


def adhoc(tmp_path, module, module_args, check=False):
    tree = tmp_path / "tree" / "localhost"
    if tree.exists():
        tree.unlink()
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-c", "local", "-m", module, "-a",
           json.dumps(module_args), "--diff"] + (["--check"] if check else [])
    done = subprocess.run(cmd, cwd=REPO, env=env_for(tmp_path), capture_output=True, text=True, timeout=300)
    return done, json.loads(tree.read_text())


def shadow_status(tree, name):
    status = subprocess.run(["passwd", "--root", str(tree.root), "--status", name], capture_output=True, text=True,
                            timeout=30)
    chage = subprocess.run(["chage", "--root", str(tree.root), "--list", name], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, LC_ALL="C"))
    assert status.returncode == 0 and chage.returncode == 0, status.stderr + chage.stderr
    expires = re.search(r"^Account expires\s*:\s*(.+)$", chage.stdout, re.M).group(1).strip()
    return status.stdout.split()[1], expires


def no_hash_in(tree, *texts):
    for text in texts:
        for value in tree.hashes:
            assert value not in text
            assert value.split("$")[2] not in text  # not even the salt


def test_check_mode_changes_nothing_and_shows_the_lock_it_would_make(tmp_path):
    tree = hospital(tmp_path)
    before = tree.checksums()
    done, result = adhoc(tmp_path, "local_accounts", args(tree, state="enforced"), check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree.checksums() == before
    assert result["changed"] is True and result["would_lock"] == ["sato"]
    assert "-sato: password usable, expires never, shell /bin/bash" in done.stdout
    assert "+sato: password locked, expires 1970-01-02, shell /bin/bash" in done.stdout
    assert shadow_status(tree, "sato") == ("P", "never")
    no_hash_in(tree, done.stdout, done.stderr, json.dumps(result))


def test_enforce_locks_exactly_the_leavers_and_reports_the_state_after(tmp_path):
    tree = hospital(tmp_path)
    shadow_before = (tree.root / "etc" / "shadow").read_text().splitlines()
    done, result = adhoc(tmp_path, "local_accounts", args(tree, state="enforced"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is True and result["locked"] == ["sato"]
    # usermod did it, passwd and chage say so
    assert shadow_status(tree, "sato") == ("L", "Jan 02, 1970")
    assert shadow_status(tree, "tanaka") == ("P", "never")  # not marked for removal: untouched
    shadow_after = (tree.root / "etc" / "shadow").read_text().splitlines()
    changed = [(a, b) for a, b in zip(shadow_before, shadow_after) if a != b]
    assert len(changed) == 1 and changed[0][0].startswith("sato:")
    old, new = changed[0][0].split(":"), changed[0][1].split(":")
    assert new[1] == "!" + old[1] and new[7] == "1"  # the hash kept behind `!`, expiry day 1
    passwd = (tree.root / "etc" / "passwd").read_text()
    assert "sato:x:1003:1003::/home/sato:/bin/bash" in passwd and (tree.root / "home" / "sato").is_dir()
    found = {f["check"]: f for f in result["findings"]}
    said(found["cl.accounts.removal_locked"], "pass", "sato (locked)")
    assert found["cl.accounts.removal_locked"]["evidence"]["marked_for_removal"][0]["locked_by_this_run"] is True
    said(found["cl.accounts.unexpected"], "fail", "tanaka")  # a person decides about tanaka
    no_hash_in(tree, done.stdout, done.stderr, json.dumps(result))

    before = tree.checksums()
    done, result = adhoc(tmp_path, "local_accounts", args(tree, state="enforced"))
    assert done.returncode == 0 and result["changed"] is False and "locked" not in result
    assert tree.checksums() == before


def test_audit_never_locks(tmp_path):
    tree = hospital(tmp_path)
    before = tree.checksums()
    done, result = adhoc(tmp_path, "local_accounts", args(tree))
    assert done.returncode == 0 and result["changed"] is False
    assert tree.checksums() == before


def test_without_the_removal_check_nothing_is_locked(tmp_path):
    tree = hospital(tmp_path)
    before = tree.checksums()
    result, found, module = run(args(tree, state="enforced", checks=["cl.accounts.unexpected"]))
    assert result["changed"] is False and module.commands == [] and set(found) == {"cl.accounts.unexpected"}
    assert tree.checksums() == before
