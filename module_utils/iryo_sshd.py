# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH server: the effective configuration, who may log in from where, the iryo-guard drop-in.

Standard library only, Python >= 3.8 (runs on managed hosts; the controller's tests import it
as a plain module).

- ``parse_effective(text)``: the output of ``sshd -T`` (one ``keyword value`` per line, array
  options repeated) -> {keyword: [values]}.
- ``login_decision(effective, user, groups, addr)``: would sshd let ``user`` from ``addr`` in,
  by the rules of auth.c allowed_user() (DenyUsers, AllowUsers, DenyGroups, AllowGroups, in that
  order), PermitRootLogin and the authentication methods left; patterns as in match.c.
- ``render_dropin(...)``: the one drop-in iryo-guard writes.
- ``candidate_tree(...)``: a temporary copy of the configuration with the candidate drop-in in
  place, so ``sshd -T -f`` shows what the new file would give before anything is written.
- ``ssh_connection(pid)``: the SSH connection this process runs under, found by walking the
  process ancestry (sudo resets the environment, the login shell above it keeps SSH_CONNECTION).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import ipaddress
import os
import re
import shutil

try:
    from ansible.module_utils.iryo_sockets import listening_sockets
except ImportError:  # unit tests import module_utils as plain modules
    from iryo_sockets import listening_sockets

# Keywords whose values sshd -T prints one per line and which accumulate.
ARRAY_KEYWORDS = ("listenaddress", "hostkey", "allowusers", "denyusers", "allowgroups", "denygroups",
                  "acceptenv", "setenv", "subsystem", "authorizedkeysfile", "port", "include", "permitopen",
                  "permitlisten", "channeltimeout")
ALGORITHM_KEYWORDS = {"kex": "kexalgorithms", "ciphers": "ciphers", "macs": "macs",
                      "host_key_algorithms": "hostkeyalgorithms"}
# What `ssh -Q` calls each list (the client of the same OpenSSH build knows the same names).
QUERY_NAMES = {"kex": "kex", "ciphers": "cipher", "macs": "mac", "host_key_algorithms": "key-sig"}
DIRECTIVE_NAMES = {"kex": "KexAlgorithms", "ciphers": "Ciphers", "macs": "MACs",
                   "host_key_algorithms": "HostKeyAlgorithms"}
# Documentation ranges (RFC 5737, RFC 3849): addresses of nobody, used to ask sshd what it does with
# a login from outside the declared networks.
OUTSIDE_PROBES = ("192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "2001:db8:ffff::1")
# Listening ports of other remote-access services a host may carry besides sshd.
OTHER_REMOTE_ACCESS_PORTS = {23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh", 3389: "rdp",
                             5900: "vnc", 5901: "vnc", 5902: "vnc", 5903: "vnc"}


class SshdError(Exception):
    """sshd could not show its configuration (its message is the text)."""


# `sshd -T -C user=U,host=H,addr=A` takes one argument that sshd splits at commas into key=value fields
# (servconf.c parse_server_match_testspec), so a comma in a value adds a field ("bob,addr=10.0.0.1" changes the
# address sshd evaluates), whitespace or a newline ends it, and the pattern characters * ? ! would be read as
# patterns by Match. Account names: the portable POSIX set (plus the trailing $ of Samba machine accounts);
# addresses: what Python's ipaddress parses, printed back in its normal form.
USER_NAME = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9._-]{0,31}\$?\Z")


def match_value_problem(kind, value):
    """Why ``value`` cannot be given to ``sshd -T -C`` as ``kind`` ('user' or 'addr'); None when it can."""
    if not isinstance(value, str):
        return "%s must be text, not %s" % (kind, type(value).__name__)
    if kind == "user":
        if not USER_NAME.match(value):
            return ("user name %r is not an account name sshd -T -C can take (letters, digits, . _ -, at most 32, "
                    "no comma, blank, newline or pattern character)" % value)
        return None
    try:
        parsed = ipaddress.ip_address(value)
    except ValueError:
        return "address %r is not an IP address" % value
    if str(parsed) != value:
        return "address %r is not in normal form (%s)" % (value, parsed)
    return None


def match_spec(user, addr):
    """The -C argument for user from addr; raises SshdError for values sshd would misread."""
    for kind, value in (("user", user), ("addr", addr)):
        problem = match_value_problem(kind, value)
        if problem:
            raise SshdError("refused to ask sshd -T -C: %s" % problem)
    return "user=%s,host=%s,addr=%s" % (user, addr, addr)


def parse_effective(text):
    """``sshd -T`` output -> {keyword: [value, ...]} (keywords lower-case, as sshd prints them)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or " " not in line:
            continue
        key, _, value = line.partition(" ")
        out.setdefault(key.lower(), []).append(value.strip())
    return out


def first(effective, key, default=None):
    values = effective.get(key)
    return values[0] if values else default


def algorithm_list(effective, kind):
    value = first(effective, ALGORITHM_KEYWORDS[kind], "")
    return [a for a in value.split(",") if a]


# ---------------------------------------------------------------------------------------------
# patterns (match.c)

def match_pattern(string, pattern):
    """OpenSSH match_pattern(): '*' any run, '?' any one character, everything else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.match("^%s$" % regex, string, re.S) is not None


def match_pattern_list(string, patterns, lower=False):
    """1 on a positive match, -1 when a negated (!) pattern matches, 0 otherwise."""
    if lower:
        string = string.lower()
    got = 0
    for pattern in [p for p in patterns.split(",") if p]:
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        if lower:
            pattern = pattern.lower()
        if match_pattern(string, pattern):
            if negate:
                return -1
            got = 1
    return got


def addr_in(addr, cidr):
    try:
        address = ipaddress.ip_address(addr)
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    if address.version != network.version:
        return False
    return address in network


def addr_match_list(addr, patterns):
    """OpenSSH addr_match_list(): CIDR entries (address/len or a bare address), '!' negation,
    wildcard entries matched as text. 1 match, -1 negated match, 0 none."""
    got = 0
    for pattern in [p for p in patterns.split(",") if p]:
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        hit = addr_in(addr, pattern)
        if hit is None:
            hit = match_pattern(addr, pattern)
        if hit:
            if negate:
                return -1
            got = 1
    return got


def match_user_pattern(user, host, addr, pattern):
    """auth.c/match.c match_user(): ``user`` or ``user@host`` where host is a host pattern or CIDR."""
    if "@" not in pattern:
        return match_pattern(user, pattern)
    user_part, _, host_part = pattern.partition("@")
    if not match_pattern(user, user_part):
        return False
    if re.match(r"^[0-9a-fA-F:.]+/\d+$", host_part) or addr_in(addr, host_part):
        return addr_match_list(addr, host_part) == 1
    return match_pattern_list(host, host_part, lower=True) == 1 or match_pattern_list(addr, host_part) == 1


def login_decision(effective, user, groups, addr, auth="publickey"):
    """Would sshd (with this effective configuration for user/addr) let ``user`` log in with ``auth``?

    Returns (allowed, [reasons it would not]). ``groups`` are the user's group names (None: unknown,
    then AllowGroups/DenyGroups count as refusing, to err on the side of not locking anyone out)."""
    reasons = []
    host = addr
    if first(effective, "refuseconnection", "no") == "yes":
        reasons.append("RefuseConnection yes applies to %s" % addr)
    for pattern in effective.get("denyusers", []):
        if match_user_pattern(user, host, addr, pattern):
            reasons.append("DenyUsers %s matches %s@%s" % (pattern, user, addr))
            break
    allow = effective.get("allowusers", [])
    if allow and not any(match_user_pattern(user, host, addr, p) for p in allow):
        reasons.append("AllowUsers (%s) does not include %s@%s" % (" ".join(allow), user, addr))
    deny_groups = effective.get("denygroups", [])
    allow_groups = effective.get("allowgroups", [])
    if (deny_groups or allow_groups) and groups is None:
        reasons.append("the groups of %s are unknown on this host and AllowGroups/DenyGroups are set" % user)
    elif groups is not None:
        hit = [g for g in groups if any(match_pattern(g, p) for p in deny_groups)]
        if hit:
            reasons.append("DenyGroups matches group %s of %s" % (hit[0], user))
        if allow_groups and not [g for g in groups if any(match_pattern(g, p) for p in allow_groups)]:
            reasons.append("AllowGroups (%s) includes no group of %s" % (" ".join(allow_groups), user))
    if user == "root":
        root = first(effective, "permitrootlogin", "without-password")
        if root == "no" or (root == "forced-commands-only"):
            reasons.append("PermitRootLogin %s refuses root" % root)
        elif root in ("without-password", "prohibit-password") and auth != "publickey":
            reasons.append("PermitRootLogin prohibit-password refuses root with %s" % auth)
    methods = auth_methods(effective)
    if auth not in methods["enabled"]:
        reasons.append("%s authentication is off" % auth)
    elif not methods_allow(first(effective, "authenticationmethods", "any"), auth):
        reasons.append("AuthenticationMethods %s needs more than %s"
                       % (first(effective, "authenticationmethods"), auth))
    return not reasons, reasons


def auth_methods(effective):
    enabled = []
    if first(effective, "pubkeyauthentication", "yes") == "yes":
        enabled.append("publickey")
    if first(effective, "passwordauthentication", "yes") == "yes":
        enabled.append("password")
    kbd = first(effective, "kbdinteractiveauthentication", first(effective, "challengeresponseauthentication", "yes"))
    if kbd == "yes":
        enabled.append("keyboard-interactive")
    if first(effective, "hostbasedauthentication", "no") == "yes":
        enabled.append("hostbased")
    if first(effective, "gssapiauthentication", "no") == "yes":
        enabled.append("gssapi-with-mic")
    if first(effective, "kerberosauthentication", "no") == "yes":
        enabled.append("kerberos(password)")
    return {"enabled": enabled, "authenticationmethods": first(effective, "authenticationmethods", "any")}


def methods_allow(spec, auth):
    """AuthenticationMethods: 'any', or space-separated lists; one list made of ``auth`` alone lets it in."""
    if not spec or spec == "any":
        return True
    for chain in spec.split():
        steps = [s.split(":")[0] for s in chain.split(",") if s]
        if steps and all(s == auth for s in steps):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# probes

def inside_probe(cidr):
    network = ipaddress.ip_network(cidr, strict=False)
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network.network_address + 1)


def outside_probes(networks):
    """Documentation addresses outside every declared network (one per address family)."""
    nets = [ipaddress.ip_network(n, strict=False) for n in networks]
    picked = {}
    for addr in OUTSIDE_PROBES:
        ip = ipaddress.ip_address(addr)
        if ip.version in picked:
            continue
        if not any(ip.version == n.version and ip in n for n in nets):
            picked[ip.version] = addr
    return [picked[v] for v in sorted(picked)]


def normalise_networks(networks):
    """Validate and canonicalise CIDRs ('10.1.2.3/8' -> '10.0.0.0/8'); raises ValueError naming the bad one."""
    out = []
    for item in networks or []:
        try:
            out.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError:
            raise ValueError("%r is not a network (use CIDR, e.g. 10.20.0.0/16)" % (item,)) from None
    return out


# ---------------------------------------------------------------------------------------------
# the drop-in

HEADER = """\
# Written by iryo-guard (MHLW GL 5.2 §6.11 D.1, sshd_hardening). Edit the inventory, not this file:
# the next run writes it again. sshd takes the FIRST value it reads for each keyword, and Debian's
# sshd_config includes sshd_config.d/*.conf at its top, so this file (sorting first) wins over
# sshd_config and every later drop-in.
"""


def render_dropin(password_auth=True, root_login=True, networks=None, algorithms=None):
    """The drop-in text. ``networks`` None: no source restriction; ``algorithms``: {kind: [names]}."""
    lines = [HEADER]
    enforced = []
    if password_auth:
        enforced += ["PasswordAuthentication no", "KbdInteractiveAuthentication no"]
    if root_login:
        enforced += ["PermitRootLogin no"]
    lines.extend(line + "\n" for line in enforced)
    for kind in ("kex", "ciphers", "macs", "host_key_algorithms"):
        if algorithms and algorithms.get(kind):
            lines.append("%s %s\n" % (DIRECTIVE_NAMES[kind], ",".join(algorithms[kind])))
    if networks:
        lines.append("\n# Logins only from the declared VPN/VDI networks: every user from anywhere else is denied.\n")
        lines.append("Match Address *,%s\n\tDenyUsers *\n" % ",".join("!" + n for n in networks))
    if enforced:
        # A Match block later in sshd_config (e.g. Match User x / PasswordAuthentication yes) would
        # override the global values; among matching blocks the first value wins, so this one does.
        lines.append("\n# Match blocks elsewhere cannot turn these back on: the first matching block's value wins.\n")
        lines.append("Match all\n" + "".join("\t%s\n" % line for line in enforced))
    return "".join(lines)


# ---------------------------------------------------------------------------------------------
# the candidate configuration

INCLUDE_RE = re.compile(r"^(\s*Include\s+)(.*?)\s*$", re.I)


def _split_words(text):
    return [w.strip('"') for w in re.findall(r'"[^"]*"|\S+', text)]


def candidate_tree(main_config, dropin_path, dropin_text, workdir):
    """Copy ``main_config`` and every file it includes into ``workdir``/tree with ``dropin_path``
    replaced by ``dropin_text`` (left out when None); returns the copied main file's path.

    Include patterns are rewritten to the same pattern inside the copy (relative ones resolve
    against the main file's folder, /etc/ssh, as sshd does), so ``sshd -T -f COPY`` globs the copy:
    the real tree is neither read for the old drop-in nor written."""
    etc = os.path.dirname(os.path.abspath(main_config))
    dropin_path = os.path.abspath(dropin_path)
    done = set()

    def copy_of(path):
        return os.path.join(workdir, "tree", path.lstrip("/"))

    def place(path, text, depth):
        if path in done:
            return
        done.add(path)
        target = copy_of(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write(rewrite(text, depth))

    def rewrite(text, depth):
        if depth > 16:
            raise SshdError("Include nested more than 16 levels deep")
        out = []
        for line in text.splitlines(True):
            found = INCLUDE_RE.match(line)
            if not found:
                out.append(line)
                continue
            patterns = []
            for pattern in _split_words(found.group(2)):
                absolute = pattern if os.path.isabs(pattern) else os.path.join(etc, pattern)
                patterns.append(copy_of(absolute))
                files = sorted(glob.glob(absolute)) if glob.has_magic(absolute) else [absolute]
                for item in files:
                    if item == dropin_path or not os.path.isfile(item):
                        continue
                    with open(item) as handle:
                        place(item, handle.read(), depth + 1)
                if dropin_text is not None and (
                        absolute == dropin_path
                        or (glob.has_magic(absolute) and os.path.dirname(absolute) == os.path.dirname(dropin_path)
                            and re.match(_glob_regex(os.path.basename(absolute)), os.path.basename(dropin_path)))):
                    place(dropin_path, dropin_text, depth + 1)
            out.append("%s%s\n" % (found.group(1), " ".join(patterns)))
        return "".join(out)

    with open(main_config) as handle:
        text = handle.read()
    main_copy = copy_of(os.path.abspath(main_config))
    os.makedirs(os.path.dirname(main_copy), exist_ok=True)
    content = rewrite(text, 0)
    with open(main_copy, "w") as handle:
        handle.write(content)
    return main_copy


def _glob_regex(pattern):
    return "^%s$" % "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def remove_tree(workdir):
    shutil.rmtree(workdir, ignore_errors=True)


def includes_dropin_dir_first(main_text, dropin_dir):
    """True when the first keyword line of sshd_config is an Include that covers ``dropin_dir``
    (otherwise values set before it win over the drop-in)."""
    for line in main_text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = INCLUDE_RE.match(stripped)
        return bool(found) and any(os.path.dirname(p if os.path.isabs(p) else os.path.join("/etc/ssh", p))
                                   == dropin_dir for p in _split_words(found.group(2)))
    return False


# ---------------------------------------------------------------------------------------------
# the connection this module runs under

def _environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError):
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode("latin-1")] = value.decode("latin-1")
    return env


def _status(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
    except (IOError, OSError):
        return None
    return {"ppid": int(fields.get("PPid", "0").strip() or 0), "uid": int(fields.get("Uid", "0").split()[0]),
            "name": fields.get("Name", "").strip()}


def ssh_connection(pid=None):
    """{source, source_port, local, local_port, user, pid} of the SSH connection above ``pid``
    (default: this process), or None when no ancestor has SSH_CONNECTION.

    Ansible with become runs the module under sudo, which resets the environment, so this
    process has no SSH_CONNECTION; the remote user's shell that started sudo still has it in
    /proc/PID/environ, which root may read."""
    import pwd
    pid = pid or os.getpid()
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        env = _environ(pid)
        status = _status(pid)
        value = env.get("SSH_CONNECTION")
        if value and len(value.split()) == 4:
            source, sport, local, lport = value.split()
            user = env.get("USER") or env.get("LOGNAME")
            if not user and status:
                try:
                    user = pwd.getpwuid(status["uid"]).pw_name
                except KeyError:
                    user = None
            return {"source": source, "source_port": int(sport), "local": local, "local_port": int(lport),
                    "user": user, "pid": pid}
        if not status:
            break
        pid = status["ppid"]
    return None


# ---------------------------------------------------------------------------------------------
# other remote-access listeners

def listening_ports(proc="/proc"):
    """[(address, port)] of TCP sockets in LISTEN state in this network namespace."""
    return sorted({(s["address"], s["port"]) for s in listening_sockets(proc, protos=("tcp",))})


# ---------------------------------------------------------------------------------------------
# authorized keys: would this user still get in once passwords are off?

KEY_LINE = re.compile(r"(?:^|\s)(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|sk-[a-z0-9-]+@openssh\.com"
                      r"|[a-z0-9-]+-cert-v01@openssh\.com)\s+AAAA[0-9A-Za-z+/]+=*(?:\s|$)")


def expand_keys_path(pattern, entry):
    """AuthorizedKeysFile tokens as sshd expands them (%% %h %u %U; relative paths start at the home folder)."""
    tokens = {"%": "%", "h": entry.pw_dir, "u": entry.pw_name, "U": str(entry.pw_uid)}
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern):
            token = pattern[i + 1]
            out.append(tokens.get(token, "%" + token))
            i += 2
            continue
        out.append(c)
        i += 1
    path = "".join(out)
    return path if path.startswith("/") else os.path.join(entry.pw_dir, path)


def _unsafe(path, st, uid):
    """sshd's StrictModes test (auth2-pubkeyfile.c auth_secure_path): owned by the user or root, not group/other
    writable."""
    if st.st_uid not in (0, uid):
        return "%s is owned by uid %d" % (path, st.st_uid)
    if st.st_mode & 0o022:
        return "%s is writable by group or others (mode %04o)" % (path, st.st_mode & 0o7777)
    return None


def authorized_key_status(effective, user):
    """(has_key, detail) for ``user`` under this effective configuration (sshd -T -C user=...).

    has_key is True when an AuthorizedKeysFile sshd would read holds at least one key and (with StrictModes)
    passes sshd's ownership test, or when an AuthorizedKeysCommand supplies keys (not verifiable here; said in
    the detail). False otherwise, with what is missing."""
    import pwd
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return False, "no account %s on this host" % user
    command = first(effective, "authorizedkeyscommand", "none")
    # sshd -T prints all AuthorizedKeysFile names on one line, blank-separated
    patterns = [p for value in effective.get("authorizedkeysfile", []) for p in value.split() if p != "none"]
    strict = first(effective, "strictmodes", "yes") == "yes"
    problems = []
    for pattern in patterns:
        path = expand_keys_path(pattern, entry)
        try:
            st = os.stat(path)
        except OSError:
            problems.append("%s absent" % path)
            continue
        unsafe = _unsafe(path, st, entry.pw_uid) if strict else None
        # the folders from the file's up to the home folder, as sshd walks them
        home, folder = entry.pw_dir.rstrip("/") or "/", os.path.dirname(path)
        while strict and not unsafe and (folder == home or folder.startswith(home + "/")):
            try:
                unsafe = _unsafe(folder, os.stat(folder), entry.pw_uid)
            except OSError:
                break
            if folder == home:
                break
            folder = os.path.dirname(folder)
        if unsafe:
            problems.append("%s ignored by StrictModes: %s" % (path, unsafe))
            continue
        try:
            with open(path, "rb") as handle:
                text = handle.read(1048576).decode("utf-8", "replace")
        except (IOError, OSError) as exc:
            problems.append("%s unreadable (%s)" % (path, exc.strerror))
            continue
        count = sum(1 for line in text.splitlines() if not line.lstrip().startswith("#") and KEY_LINE.search(line))
        if count:
            return True, "%d key(s) in %s" % (count, path)
        problems.append("%s holds no key" % path)
    if command != "none":
        return True, "keys come from AuthorizedKeysCommand %s (not checked)" % command
    return False, "; ".join(problems) or "AuthorizedKeysFile none"
