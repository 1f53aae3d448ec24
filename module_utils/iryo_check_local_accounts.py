# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the local_accounts module (library/local_accounts.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module).

Reads /etc/passwd, /etc/shadow, /etc/login.defs, /etc/shells, the accounts' authorized_keys files and the login
records (lastlog, wtmp, and util-linux's lastlog2 / wtmpdb databases where a host has them). No password hash
ever leaves this file: an account's password is described by its state only (usable, locked, none, empty).
Standard library only; Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import platform
import struct
import time
from urllib.parse import quote

from ansible.module_utils.iryo_findings import make_finding, some

CHECK_UNEXPECTED = "cl.accounts.unexpected"
CHECK_UNUSED = "cl.accounts.unused"
CHECK_UID0 = "cl.accounts.shared_uid0"
CHECK_REMOVAL = "cl.accounts.removal_locked"
CHECKS = (CHECK_UNEXPECTED, CHECK_UNUSED, CHECK_UID0, CHECK_REMOVAL)

DAY = 86400
NO_LOGIN_SHELLS = ("nologin", "false")
# Shells that are no login shell when a host has no /etc/shells to say which are.
NOT_SHELLS = NO_LOGIN_SHELLS + ("sync", "halt", "shutdown")

# Binary login records are C structs whose time fields depend on the architecture (glibc bits/utmp.h,
# __WORDSIZE_TIME64_COMPAT32): 32-bit times on x86 (64- and 32-bit) and 32-bit ARM, 64-bit on aarch64.
# lastlog: time, ll_line[32], ll_host[256]. utmp: ut_type, pid, line[32], id[4], user[32], host[256], exit,
# session, tv_sec, tv_usec, addr_v6[16], unused[20]. Another architecture: these two sources are skipped and
# the evidence says so (the lastlog2 / wtmpdb databases are read everywhere).
LAYOUTS = {
    "time32": {"lastlog": "=i32s256s", "utmp": "=h2xi32s4s32s256shhiii16s20s"},
    "time64": {"lastlog": "=q32s256s", "utmp": "=h2xi32s4s32s256shhqqq16s20s4x"},
}
MACHINES = {"x86_64": "time32", "amd64": "time32", "i386": "time32", "i486": "time32", "i586": "time32",
            "i686": "time32", "armv7l": "time32", "armv6l": "time32", "aarch64": "time64", "arm64": "time64"}
# passwd's second field when the hash is in /etc/shadow.
SHADOWED = ("x",)
# Password states that let an account in, and how the evidence names them.
LOGIN_BY_PASSWORD = {"usable": "password", "empty": "empty password"}
USER_PROCESS = 7  # utmp ut_type of a login (wtmpdb calls it 3, see read_wtmpdb)


def layout(machine=None):
    return LAYOUTS.get(MACHINES.get(machine or platform.machine()))


def under(root, path):
    """`path` read under `root` (the host's / by default; a mounted image or a test tree otherwise)."""
    return os.path.join(root, path.lstrip("/")) if root and root != "/" else path


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


# --- account databases -------------------------------------------------------------------------------------------

def parse_passwd(text):
    accounts = []
    for line in (text or "").splitlines():
        fields = line.split(":")
        if len(fields) < 7 or not fields[0] or line.startswith(("#", "+", "-")):
            continue
        try:
            uid = int(fields[2])
        except ValueError:
            continue
        accounts.append({"name": fields[0], "passwd_field": fields[1], "uid": uid, "home": fields[5],
                         "shell": fields[6]})
    return accounts


def _day(value):
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() else None


def parse_shadow(text):
    """{name: {password, lastchg, expire}}; `password` is the raw field and never leaves this module."""
    entries = {}
    for line in (text or "").splitlines():
        fields = line.split(":")
        if len(fields) < 8 or not fields[0]:
            continue
        entries[fields[0]] = {"password": fields[1], "lastchg": _day(fields[2]), "expire": _day(fields[7])}
    return entries


def login_defs(text):
    values = {"UID_MIN": 1000, "UID_MAX": 60000}
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in values and fields[1].isdigit():
            values[fields[0]] = int(fields[1])
    return values


def parse_shells(text):
    if text is None:
        return None
    return {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}


def password_state(field):
    """What a password field allows, without the hash: usable, locked (!...), none (* or similar), empty."""
    if field is None:
        return "none"
    if field == "":
        return "empty"  # no password at all: a login without one wherever PAM allows nullok
    if field.startswith("!"):
        return "locked"
    if field.startswith("*") or len(field) < 13:
        return "none"  # `*`, `x` without a shadow entry, or too short to be any crypt(3) hash
    return "usable"


def is_login_shell(shell, shells):
    base = os.path.basename(shell or "")
    if not shell or base in NO_LOGIN_SHELLS:
        return False
    if shells is not None:
        return shell in shells
    return base not in NOT_SHELLS


def expired(expire, today):
    """shadow(5): the account is disabled from day `expire` on. 0 is ambiguous (no expiry for shadow's own tools,
    expired for pam_unix), so it never counts as expired here: a lock must not rest on it."""
    return expire is not None and expire > 0 and today >= expire


def key_files(account, patterns):
    """The account's authorized_keys paths: sshd's AuthorizedKeysFile tokens %h, %u and %% expanded, relative
    paths from the home directory."""
    files = []
    for pattern in patterns:
        path = pattern.replace("%%", "\0").replace("%h", account["home"]).replace("%u", account["name"])
        path = path.replace("\0", "%")
        if not path.startswith("/"):
            path = os.path.join(account["home"], path)
        files.append(path)
    return files


def authorized_keys(root, account, patterns):
    """(number of key lines, files that could not be read) over the account's authorized_keys files."""
    count, unreadable = 0, []
    for path in key_files(account, patterns):
        full = under(root, path)
        if not os.path.lexists(full):
            continue
        try:
            with open(full, encoding="utf-8", errors="replace") as handle:
                count += sum(1 for line in handle if line.strip() and not line.lstrip().startswith("#"))
        except (IOError, OSError):
            unreadable.append(path)
    return count, unreadable


def describe_expire(expire):
    if expire is None or expire < 0:
        return "never"
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=expire)).isoformat()


def evaluate(passwd, shadow, shells, root, key_patterns, today):
    """Every account with what lets it log in (never the hash)."""
    out = []
    for account in passwd:
        entry = shadow.get(account["name"])
        legacy = account["passwd_field"] if account["passwd_field"] not in SHADOWED else None
        field = entry["password"] if entry else legacy
        keys, unreadable = authorized_keys(root, account, key_patterns)
        info = {
            "name": account["name"], "uid": account["uid"], "shell": account["shell"],
            "login_shell": is_login_shell(account["shell"], shells), "password": password_state(field),
            "authorized_keys": keys, "expires": describe_expire(entry["expire"] if entry else None),
            "expired": expired(entry["expire"] if entry else None, today),
            "password_changed_day": entry["lastchg"] if entry else None,
        }
        if unreadable:
            info["authorized_keys_unreadable"] = unreadable
        ways = []
        if info["password"] in LOGIN_BY_PASSWORD:
            ways.append(LOGIN_BY_PASSWORD[info["password"]])
        if keys:
            ways.append("%d authorized key%s" % (keys, "" if keys == 1 else "s"))
        if unreadable:
            ways.append("authorized_keys unreadable")  # cannot prove it is unused: counted as a way in
        info["login_ways"] = ways
        info["login_capable"] = bool(ways) and info["login_shell"] and not info["expired"]
        out.append(info)
    return out


def is_locked(info):
    """Locked for removal: no usable (or empty) password and the account expired."""
    return info["password"] in ("locked", "none") and info["expired"]


def shadow_line(info):
    """The shadow fields a lock changes, for the diff: never the hash."""
    return "%s: password %s, expires %s, shell %s" % (info["name"], info["password"], info["expires"], info["shell"])


# --- login records -------------------------------------------------------------------------------------------------

def _text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def read_lastlog(path, accounts, fmt):
    """{name: (time, line, host)} from the binary lastlog, one record per UID at offset uid * record size."""
    size = struct.calcsize(fmt)
    found = {}
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        for account in accounts:
            offset = account["uid"] * size
            if account["uid"] < 0 or offset + size > total:
                continue
            handle.seek(offset)
            when, line, host = struct.unpack(fmt, handle.read(size))
            if when > 0:
                found[account["name"]] = (when, _text(line), _text(host))
    return found


def read_wtmp(path, fmt):
    """{user: (time, line, host)}: each user's newest login (USER_PROCESS) in a wtmp file."""
    size = struct.calcsize(fmt)
    found = {}
    with open(path, "rb") as handle:
        while True:
            record = handle.read(size)
            if len(record) < size:
                break
            fields = struct.unpack(fmt, record)
            kind, line, user, host, when = fields[0], fields[2], fields[4], fields[5], fields[9]
            name = _text(user)
            if kind == USER_PROCESS and name and when > found.get(name, (0,))[0]:
                found[name] = (when, _text(line), _text(host))
    return found


def _sqlite(path, query):
    try:
        import sqlite3  # stdlib, but a minimal Python may lack it: then this source is skipped
    except ImportError:
        raise OSError("Python's sqlite3 module is not installed") from None
    # Read-only, so that reading never creates or locks the database a PAM module writes.
    connection = sqlite3.connect("file:%s?mode=ro" % quote(path), uri=True)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def read_lastlog2(path):
    """util-linux lastlog2 (pam_lastlog2): table Lastlog2(Name, Time [s], TTY, RemoteHost, Service)."""
    rows = _sqlite(path, "SELECT Name, Time, TTY, RemoteHost FROM Lastlog2")
    return dict((name, (int(when), tty or "", host or "")) for name, when, tty, host in rows if when)


def read_wtmpdb(path):
    """wtmpdb (pam_wtmpdb, Debian 13): table wtmp(ID, Type, User, Login [us], Logout, TTY, RemoteHost, Service);
    Type 3 is a user login."""
    rows = _sqlite(path, "SELECT User, MAX(Login), TTY, RemoteHost FROM wtmp WHERE Type = 3 GROUP BY User")
    return dict((user, (int(login) // 1000000, tty or "", host or "")) for user, login, tty, host in rows if login)


def last_logins(params, root, accounts):
    """({name: {time, source, line, host}}, [source reports]): every account's newest login over every source."""
    fmt = layout()
    newest, sources = {}, []

    def take(kind, path, reader):
        full = under(root, path)
        if not os.path.exists(full):
            return
        report = {"kind": kind, "path": path}
        try:
            found = reader(full)
        except (IOError, OSError, ValueError, struct.error) as exc:
            report["error"] = str(exc)
            sources.append(report)
            return
        except Exception as exc:  # noqa: BLE001 - sqlite3.Error and friends: a broken database is one source less
            report["error"] = "%s: %s" % (type(exc).__name__, exc)
            sources.append(report)
            return
        report["logins"] = len(found)
        sources.append(report)
        for name, (when, line, host) in found.items():
            if when > newest.get(name, {}).get("time", 0):
                newest[name] = {"time": when, "source": path, "line": line, "host": host}

    for path in [params["lastlog_file"]] if params["lastlog_file"] else []:
        if fmt:
            take("lastlog", path, lambda full: read_lastlog(full, accounts, fmt["lastlog"]))
        elif os.path.exists(under(root, path)):
            sources.append({"kind": "lastlog", "path": path,
                            "error": "record layout unknown on %s: not read" % platform.machine()})
    for path in params["wtmp_files"]:
        if fmt:
            take("wtmp", path, lambda full: read_wtmp(full, fmt["utmp"]))
        elif os.path.exists(under(root, path)):
            sources.append({"kind": "wtmp", "path": path,
                            "error": "record layout unknown on %s: not read" % platform.machine()})
    for path in params["lastlog2_files"]:
        take("lastlog2", path, read_lastlog2)
    for path in params["wtmpdb_files"]:
        take("wtmpdb", path, read_wtmpdb)
    return newest, sources


# --- findings --------------------------------------------------------------------------------------------------

def _who(info):
    return "%s (%s)" % (info["name"], ", ".join(info["login_ways"]))


def _public(info):
    keep = ("name", "uid", "shell", "password", "authorized_keys", "expires", "login_ways",
            "authorized_keys_unreadable")
    return dict((k, info[k]) for k in keep if k in info)


def finding_unexpected(accounts, expected, remove, uid_min):
    capable = [a for a in accounts if a["login_capable"]]
    unexpected = [a for a in capable if a["name"] not in expected and a["name"] not in remove]
    names = set(a["name"] for a in accounts)
    evidence = {"login_capable": [_public(a) for a in capable], "unexpected": [_public(a) for a in unexpected],
                "declared_but_absent": sorted(set(expected) - names), "uid_min": uid_min}
    expected_ = {"login_capable_accounts": "only the declared ones (expected), accounts marked for removal aside",
                 "declared": sorted(expected)}
    if unexpected:
        return make_finding(
            CHECK_UNEXPECTED, "fail", "high", "local accounts", evidence, expected_,
            "A person decides for each account: remove it (userdel) or lock it if nobody needs it, or declare it in "
            "the inventory's expected accounts (cl_checklist_expected_accounts) if it is needed.", False,
            summary="%d login-capable account%s nobody declared: %s; required: only the declared accounts (%s) "
                    "can log in" % (len(unexpected), "" if len(unexpected) == 1 else "s",
                                    some([_who(a) for a in unexpected], 3, width=130), some(sorted(expected), 4)))
    summary = ("%d login-capable account%s, all declared: %s" % (
        len(capable), "" if len(capable) == 1 else "s", some([a["name"] for a in capable], 6)) if capable
        else "no local account can log in (%d accounts, none with a usable password or key and a login shell)"
        % len(accounts))
    return make_finding(CHECK_UNEXPECTED, "pass", "high", "local accounts", evidence, expected_, "", False,
                        summary=summary)


def finding_unused(accounts, logins, sources, max_days, exempt, remove, now, today):
    judged = [a for a in accounts if a["login_capable"] and a["name"] not in exempt and a["name"] not in remove]
    read = [s for s in sources if "error" not in s]
    evidence = {"sources": sources, "max_unused_days": max_days, "exempt": sorted(exempt), "accounts": []}
    expected_ = {"last_login_within_days": max_days}
    if judged and not read:
        return make_finding(
            CHECK_UNUSED, "error", "medium", "login records", evidence, expected_,
            "Keep a login record (lastlog, wtmp, lastlog2 or wtmpdb) on the host, then run the audit again.", False,
            summary="could not decide: no login record could be read (%s)"
                    % (some(["%s: %s" % (s["path"], s["error"]) for s in sources], 2, width=150)
                       if sources else "no lastlog, wtmp, lastlog2 or wtmpdb file on the host"))
    unused = []
    for info in judged:
        login = logins.get(info["name"])
        row = {"name": info["name"]}
        if login:
            age = int((now - login["time"]) // DAY)
            row.update(last_login=datetime.datetime.fromtimestamp(login["time"], datetime.timezone.utc)
                       .strftime("%Y-%m-%dT%H:%M:%SZ"), source=login["source"], days=age)
            text = "last login %d days ago, %s" % (age, login["source"])
        else:
            row["last_login"] = "never"
            changed = info["password_changed_day"]
            if changed and changed > 0:
                # An account that never logged in counts from its creation, which shadow's date of the last
                # password change gives for an account whose password was set once (useradd, chpasswd).
                age = today - changed
                row.update(counted_from="password last changed %s (shadow)" % describe_expire(changed), days=age)
                text = "never logged in, password set %d days ago" % age
            else:
                age = None
                row["counted_from"] = "unknown (shadow has no date)"
                text = "never logged in, creation date unknown"
        evidence["accounts"].append(row)
        if age is None or age > max_days:
            unused.append("%s (%s)" % (info["name"], text))
    if unused:
        return make_finding(
            CHECK_UNUSED, "fail", "medium", "login records", evidence, expected_,
            "A person decides: lock or remove the account if it is no longer needed (or mark it for removal in the "
            "inventory so harden locks it), or record why it is kept and exempt it.", False,
            summary="%d login-capable account%s unused for more than %d days: %s; required: used within %d days "
                    "or locked" % (len(unused), "" if len(unused) == 1 else "s", max_days,
                                   some(unused, 2, width=140), max_days))
    exempt_text = "; exempt: %s" % some(sorted(exempt), 3) if exempt else ""
    if not judged:
        summary = "no login-capable account to judge%s" % exempt_text
    else:
        summary = "%d login-capable account%s used within %d days (%s)%s" % (
            len(judged), "" if len(judged) == 1 else "s", max_days, some([s["path"] for s in read], 3), exempt_text)
    return make_finding(CHECK_UNUSED, "pass", "medium", "login records", evidence, expected_, "", False,
                        summary=summary)


def finding_uid0(accounts):
    shared = [a for a in accounts if a["uid"] == 0 and a["name"] != "root"]
    evidence = {"uid0_accounts": [_public(a) for a in accounts if a["uid"] == 0]}
    expected_ = {"uid0_accounts": ["root"]}
    if shared:
        return make_finding(
            CHECK_UID0, "fail", "high", "local accounts", evidence, expected_,
            "Give each person their own account and administrator rights through sudo; remove the extra UID 0 "
            "account (or give it its own UID) after checking what uses it.", False,
            summary="account%s other than root with UID 0: %s; required: root is the only UID 0 account"
                    % ("" if len(shared) == 1 else "s", some([a["name"] for a in shared], 4)))
    return make_finding(CHECK_UID0, "pass", "high", "local accounts", evidence, expected_, "", False,
                        summary="root is the only account with UID 0")


def finding_removal(accounts, remove, locked_now):
    by_name = dict((a["name"], a) for a in accounts)
    rows, open_ = [], []
    for name in remove:
        info = by_name.get(name)
        if info is None:
            rows.append({"name": name, "state": "absent"})
            continue
        state = "locked" if is_locked(info) else "can log in" if info["login_capable"] else "not locked"
        row = dict(_public(info), state=state)
        if name in locked_now:
            row["locked_by_this_run"] = True
        rows.append(row)
        if not is_locked(info):
            open_.append(info)
    evidence = {"marked_for_removal": rows}
    expected_ = {"marked_for_removal": "password locked (!) and account expired; the account and its files kept"}
    if open_:
        return make_finding(
            CHECK_REMOVAL, "fail", "high", "accounts marked for removal", evidence, expected_,
            "Lock the accounts (harden runs usermod -L -e 1: password locked, account expired, nothing deleted); "
            "remove them later with userdel once their files are handed over.", True,
            summary="%d of %d account%s marked for removal not locked: %s; required: password locked and "
                    "account expired" % (len(open_), len(remove), "" if len(remove) == 1 else "s",
                                         some(["%s (password %s, expires %s)" % (a["name"], a["password"], a["expires"])
                                               for a in open_], 3, width=140)))
    if not remove:
        summary = "no account is marked for removal (remove), so none needs locking"
    else:
        absent = [r["name"] for r in rows if r["state"] == "absent"]
        summary = "every account marked for removal is locked and expired or gone: %s" % some(
            ["%s (%s)" % (r["name"], "removed" if r["name"] in absent else "locked") for r in rows], 4)
    return make_finding(CHECK_REMOVAL, "pass", "high", "accounts marked for removal", evidence, expected_, "", False,
                        summary=summary)


# --- module ------------------------------------------------------------------------------------------------------

ARGUMENT_SPEC = dict(
    state=dict(type="str", default="audit", choices=["audit", "enforced"]),
    expected=dict(type="list", elements="str", default=[]),
    remove=dict(type="list", elements="str", default=[]),
    max_unused_days=dict(type="int", default=90),
    unused_exempt=dict(type="list", elements="str", default=["root"]),
    checks=dict(type="list", elements="str", default=list(CHECKS), choices=list(CHECKS)),
    root=dict(type="path", default="/"),
    authorized_keys_files=dict(type="list", elements="str", default=[".ssh/authorized_keys", ".ssh/authorized_keys2"]),
    lastlog_file=dict(type="str", default="/var/log/lastlog"),
    wtmp_files=dict(type="list", elements="str", default=["/var/log/wtmp", "/var/log/wtmp.1"]),
    lastlog2_files=dict(type="list", elements="str", default=["/var/lib/lastlog/lastlog2.db"]),
    wtmpdb_files=dict(type="list", elements="str", default=["/var/lib/wtmpdb/wtmp.db"]),
)
MODULE_KWARGS = {}


def read_accounts(module, today):
    params, root = module.params, module.params["root"]
    passwd_text = read_text(under(root, "/etc/passwd"))
    if passwd_text is None:
        module.fail_json(msg="cannot read %s" % under(root, "/etc/passwd"))
    shadow_path = under(root, "/etc/shadow")
    shadow_text = read_text(shadow_path)
    if shadow_text is None and os.path.exists(shadow_path):
        module.fail_json(msg="cannot read %s (the module needs root: become)" % shadow_path)
    defs = login_defs(read_text(under(root, "/etc/login.defs")))
    accounts = evaluate(parse_passwd(passwd_text), parse_shadow(shadow_text), parse_shells(
        read_text(under(root, "/etc/shells"))), root, params["authorized_keys_files"], today)
    return accounts, defs


def lock_command(module, name):
    root = module.params["root"]
    chroot = ["-R", root] if root not in ("/", "") else []
    usermod = module.get_bin_path("usermod")
    if usermod:
        # One call: `!` before the hash (password locked) and expiry on day 1 (1970-01-02), which also stops
        # key logins (sshd and PAM refuse an expired account). The shell and the files stay as they are.
        return [[usermod] + chroot + ["-L", "-e", "1", name]]
    passwd, chage = module.get_bin_path("passwd"), module.get_bin_path("chage")
    if passwd and chage:
        return [[passwd] + chroot + ["-l", name], [chage] + chroot + ["-E", "1", name]]
    module.fail_json(msg="neither usermod nor passwd and chage found: cannot lock %s" % name)


def run_module(module):
    params = module.params
    now = time.time()
    today = int(now // DAY)
    selected = set(params["checks"])
    expected, remove = set(params["expected"]), list(dict.fromkeys(params["remove"]))
    accounts, defs = read_accounts(module, today)

    to_lock = [a for a in accounts if a["name"] in remove and not is_locked(a)] if CHECK_REMOVAL in selected else []
    enforce = params["state"] == "enforced"
    result = {"changed": False}
    locked_now = []
    if enforce and to_lock:
        before = dict((a["name"], shadow_line(a)) for a in to_lock)
        if not module.check_mode:
            for info in to_lock:
                for argv in lock_command(module, info["name"]):
                    rc, out, err = module.run_command(argv)
                    if rc != 0:
                        module.fail_json(msg="%s failed (exit %d): %s" % (" ".join(argv), rc, (err or out).strip()),
                                         locked=locked_now)
                locked_now.append(info["name"])
            # Findings of the state after the change: read everything again.
            accounts, defs = read_accounts(module, today)
        after_by_name = dict((a["name"], a) for a in accounts)
        after = {}
        for info in to_lock:
            if module.check_mode:
                preview = dict(info, password="locked" if info["password"] in ("usable", "empty") else info["password"],
                               expires=describe_expire(1))
                after[info["name"]] = shadow_line(preview)
            else:
                after[info["name"]] = shadow_line(after_by_name.get(info["name"], info))
        result["changed"] = True
        result["diff"] = {"before_header": "/etc/shadow (accounts marked for removal)",
                          "after_header": "/etc/shadow (accounts marked for removal)",
                          "before": "".join(before[n] + "\n" for n in sorted(before)),
                          "after": "".join(after[n] + "\n" for n in sorted(after))}
        if module.check_mode:
            result["would_lock"] = sorted(before)
        else:
            result["locked"] = locked_now

    findings = []
    if CHECK_UNEXPECTED in selected:
        findings.append(finding_unexpected(accounts, expected, set(remove), defs["UID_MIN"]))
    if CHECK_UNUSED in selected:
        logins, sources = last_logins(params, params["root"], accounts)
        findings.append(finding_unused(accounts, logins, sources, params["max_unused_days"],
                                       set(params["unused_exempt"]), set(remove), now, today))
    if CHECK_UID0 in selected:
        findings.append(finding_uid0(accounts))
    if CHECK_REMOVAL in selected:
        findings.append(finding_removal(accounts, remove, locked_now))
    result["accounts"] = [_public(a) for a in accounts if a["login_capable"]]
    result["regular_accounts_not_login_capable"] = sorted(
        a["name"] for a in accounts if defs["UID_MIN"] <= a["uid"] <= defs["UID_MAX"] and not a["login_capable"])
    result["findings"] = findings
    module.exit_json(**result)
