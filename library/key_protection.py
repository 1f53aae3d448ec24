#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: key_protection
short_description: Find private keys and judge how they are protected (MHLW GL 5.2 §6.11 C.13)
description:
  - C.13 asks that private keys used for electronic signatures be managed to the key-management
    requirements of the CA's certificate policy. Every CP asks at least that nobody but the key's
    holder can read the key, and that a signing key is protected by a token or a passphrase.
  - Finds private keys in the files and folders of O(paths) and O(search_dirs) (a bounded walk that
    never follows a symlink out of the folder and never opens FIFOs, devices or sockets), the keys
    that nginx (C(ssl_certificate_key), C(proxy_ssl_certificate_key), ...) and Apache
    (C(SSLCertificateKeyFile), C(SSLCertificateFile)) configurations name, and the keys on PKCS#11
    tokens (softhsm2, smart cards through OpenSC; listed with C(pkcs11-tool)).
  - Recognises PEM, DER, PKCS#1, SEC1, PKCS#8 (plain and encrypted), legacy encrypted PEM
    (C(Proc-Type 4,ENCRYPTED)), PKCS#12 and OpenSSH keys by reading their ASN.1 itself (no crypto
    library) and reports type (RSA, EC, Ed25519, Ed448, DSA), size or curve, whether and how the key
    is encrypted, owner, group and mode. Key material never appears in the result, a log or a diff.
  - "Check C(c13.keys.permissions): a key file readable or writable by others, readable by its group
    unless O(group_readable) declares that group for that path, writable by its group, or owned by
    someone not in O(allowed_owners) fails."
  - "Check C(c13.keys.signing_key_protected): a key declared in O(signing_keys) that is stored in a file
    without encryption (or with a broken cipher such as single DES) fails; on a PKCS#11 token or
    encrypted it passes."
  - With O(state=enforced) the owner and mode of failing key files are set (0600, or 0640 with the
    declared group); the diff shows owner, group and mode before and after. Nothing else is ever
    done to a key - it is never re-encrypted, moved or deleted (that is a decision for a person, with
    the CA's CP in hand). Check mode reports the same diff and changes nothing.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  paths:
    description:
      - Files and folders to look at. A folder is walked like O(search_dirs). A file named here that
        holds no private key, or does not exist, is reported as an C(error).
    type: list
    elements: path
    default: []
  search_dirs:
    description: Folders walked for key files (PEM, DER, PKCS#12, OpenSSH), recognised by content.
    type: list
    elements: path
    default: []
  web_servers:
    description: Read the nginx and Apache configurations that exist and check the keys they name.
    type: bool
    default: true
  nginx_config:
    description: nginx's main configuration file.
    type: path
    default: /etc/nginx/nginx.conf
  apache_config:
    description:
      - Apache's main configuration file; default the first of C(/etc/apache2/apache2.conf) and
        C(/etc/httpd/conf/httpd.conf) that exists.
    type: path
  max_file_size:
    description:
      - Files larger than this (bytes) are not opened by the walk (keys are a few KiB; PKCS#12 bundles
        rarely exceed 100 KiB).
    type: int
    default: 1048576
  max_files:
    description:
      - The walk stops after this many files per folder and reports an C(error) (it could not look at
        everything).
    type: int
    default: 20000
  max_depth:
    description: How deep the walk descends below each folder.
    type: int
    default: 12
  allowed_owners:
    description: Users that may own a key file (the web servers read their keys as root before dropping privileges).
    type: list
    elements: str
    default: [root]
  group_readable:
    description:
      - Key files that their group may read, each C({path, group, reason}) with an optional C(owner)
        (the service user that reads the key itself, e.g. C(postgres)). C(path) is a glob.
      - Others may never read a key; write access for the group is never allowed.
    type: list
    elements: dict
    default: []
  signing_keys:
    description:
      - Keys used for electronic signatures (C.13). Globs of file paths, or PKCS#11 URIs
        (C(pkcs11:token=...;object=...)) of keys held on a token.
    type: list
    elements: str
    default: []
  pkcs11:
    description: List the keys on PKCS#11 tokens.
    type: bool
    default: true
  pkcs11_modules:
    description: PKCS#11 modules to ask; default every known one present (softhsm2, OpenSC, p11-kit registrations).
    type: list
    elements: path
    default: []
  pkcs11_pins:
    description:
      - User PINs by token label. Without a PIN a token shows only its public objects, so its private
        keys are not listed (their public halves are). Passed to pkcs11-tool through the environment,
        never on a command line; never returned or logged.
    type: dict
    default: {}
  softhsm2_conf:
    description: SOFTHSM2_CONF for softhsm2 (default its own, C(/etc/softhsm/softhsm2.conf)).
    type: path
  state:
    description: V(audit) only reports; V(enforced) sets owner and mode of failing key files.
    type: str
    choices: [audit, enforced]
    default: audit
  enforce_owner:
    description: Owner given to a key file whose owner is not allowed (O(state=enforced)).
    type: str
    default: root
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
notes:
  - An encrypted PKCS#8 or PKCS#12 key with an empty passphrase reads as encrypted; the module does
    not try passwords.
  - A PKCS#12 file whose contents are all encrypted may hold only certificates; it is reported as a
    key container with C(keys_visible=false), so its permissions are judged as a key's.
"""

EXAMPLES = r"""
- name: C.13 | AUDIT | c13.keys.permissions | Private keys and their protection
  key_protection:
    search_dirs: [/etc/ssl/private, /etc/nginx, /etc/apache2]
    group_readable:
      - {path: /etc/ssl/private/*, group: ssl-cert, reason: Debian ssl-cert convention}
    signing_keys: ["/etc/hospital/sign/*.key", "pkcs11:token=signing;object=doctor-sign"]

- name: C.13 | PATCH | c13.keys.permissions | Owner and mode of key files
  key_protection:
    search_dirs: [/etc/ssl/private]
    state: enforced
"""

RETURN = r"""
compliant:
  description: True when no check failed or could not decide.
  returned: always
  type: bool
keys:
  description:
    - One entry per key file or token key - path (or PKCS#11 URI), sources (how it was found), format,
      type, bits, curve, encrypted, encryption (scheme, kdf, cipher, iterations), owner, group, mode,
      group_members, on_token, signing. Never any key material.
  returned: always
  type: list
  elements: dict
permission_changes:
  description: The owner/group/mode changes made (or, in check mode, that would be made), as in the diff.
  returned: always
  type: list
  elements: dict
token_problems:
  description:
    - PKCS#11 modules or tokens that could not be asked (e.g. OpenSC without pcscd); they decide only
      signing keys declared on a token.
  returned: always
  type: list
  elements: str
tokens:
  description: PKCS#11 tokens seen - module, slot, label, serial, model, whether private objects were listed.
  returned: always
  type: list
  elements: dict
not_opened:
  description: What the walk did not open and why (symlinks leaving the folder, special files, too large).
  returned: always
  type: dict
findings:
  description: Findings in the iryo-guard schema (c13.keys.permissions, c13.keys.signing_key_protected).
  returned: always
  type: list
  elements: dict
"""

import errno
import fnmatch
import grp
import os
import pwd
import stat
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_findings import make_finding, some
from ansible.module_utils.iryo_keys import (describe_bytes, find_pkcs11_modules, merge_key_objects,
                                            parse_objects, parse_pkcs11_uri, parse_slots, pkcs11_uri)

PERMISSIONS = "c13.keys.permissions"
SIGNING = "c13.keys.signing_key_protected"
NGINX_KEY_DIRECTIVES = ("ssl_certificate_key", "proxy_ssl_certificate_key", "grpc_ssl_certificate_key",
                        "uwsgi_ssl_certificate_key", "ssl_stapling_file")
NGINX_CERT_DIRECTIVES = ("ssl_certificate", "proxy_ssl_certificate", "grpc_ssl_certificate", "uwsgi_ssl_certificate")
APACHE_KEY_DIRECTIVES = ("sslcertificatekeyfile",)
APACHE_CERT_DIRECTIVES = ("sslcertificatefile", "sslproxymachinecertificatefile")
APACHE_DEFAULT_CONFIGS = ("/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf")
PIN_ENV = "IRYO_GUARD_PKCS11_PIN"
COMMAND_TIMEOUT = 60


# ---------------------------------------------------------------------------------------------
# where keys are

class Candidates:
    """Files to inspect, keyed by real path, remembering every way each one was found."""

    def __init__(self):
        self.files = {}
        self.token_refs = []
        self.problems = []  # (target, message): things that stop a verdict
        self.skipped = {"symlink_outside": [], "special": [], "too_large": [], "limit": []}

    def add(self, path, source, required):
        real = os.path.realpath(path)
        entry = self.files.setdefault(real, {"path": path, "real_path": real, "sources": [], "required": False})
        if source not in entry["sources"]:
            entry["sources"].append(source)
        entry["required"] = entry["required"] or required
        if path != real and entry["path"] == real:
            entry["path"] = path


def _inside(path, top):
    try:
        return os.path.commonpath([path, top]) == top
    except ValueError:
        return False


def walk(top, candidates, params, source):
    """Regular files under ``top``; symlinks only when they stay inside; bounded."""
    top_real = os.path.realpath(top)
    count, unreadable = 0, []
    base_depth = top_real.rstrip(os.sep).count(os.sep)

    def onerror(exc):
        unreadable.append("%s (%s)" % (getattr(exc, "filename", "?"), exc.strerror or exc))

    for folder, dirs, names in os.walk(top_real, onerror=onerror, followlinks=False):
        dirs.sort()
        if folder.count(os.sep) - base_depth >= params["max_depth"]:
            dirs[:] = []
        for name in sorted(names):
            path = os.path.join(folder, name)
            count += 1
            if count > params["max_files"]:
                candidates.skipped["limit"].append(top)
                candidates.problems.append((top, "stopped after %d files (max_files); not every file was looked at"
                                            % params["max_files"]))
                return
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    real = os.path.realpath(path)
                    if not _inside(real, top_real):
                        candidates.skipped["symlink_outside"].append(path)
                        continue
                    st = os.stat(real)
            except OSError as exc:
                unreadable.append("%s (%s)" % (path, exc.strerror))
                continue
            if not stat.S_ISREG(st.st_mode):
                candidates.skipped["special"].append(path)
                continue
            if st.st_size > params["max_file_size"]:
                candidates.skipped["too_large"].append(path)
                continue
            candidates.add(path, source, required=False)
    for item in unreadable:
        candidates.problems.append((top, "cannot read %s; keys there cannot be judged" % item))


def _all_nodes(node):
    for child in node.children or ():
        yield child
        for inner in _all_nodes(child):
            yield inner


def _reference(candidates, value, base, where, kind, required):
    if value.startswith("data:"):
        # The key is inline: the configuration file itself holds key material.
        candidates.add(where.rsplit(":", 1)[0], "%s inline key (%s)" % (kind, where), required=True)
        return
    if value.startswith(("pkcs11:", "engine:", "store:")):
        uri = value.split(":", 1)[1] if value.startswith(("engine:", "store:")) else value
        if value.startswith("engine:"):  # engine:<name>:<key id>
            uri = value.split(":", 2)[2] if value.count(":") >= 2 else value
        candidates.token_refs.append({"reference": value, "uri": uri, "source": "%s %s" % (kind, where)})
        return
    if "$" in value:
        candidates.problems.append((value, "%s key path uses a variable (%s); the files it can name are not known"
                                    % (kind, where)))
        return
    path = value if os.path.isabs(value) else os.path.join(base, value)
    candidates.add(path, "%s %s" % (kind, where), required=required)


def web_server_keys(candidates, params):
    """Keys named by nginx and Apache configurations (every file they include)."""
    from ansible.module_utils.iryo_apache import Config as ApacheConfig
    from ansible.module_utils.iryo_nginx import Config as NginxConfig
    from ansible.module_utils.iryo_tlsconf import ConfigError

    servers = []
    if os.path.exists(params["nginx_config"]):
        servers.append(("nginx", params["nginx_config"]))
    apache = params["apache_config"] or next((p for p in APACHE_DEFAULT_CONFIGS if os.path.exists(p)), None)
    if apache and os.path.exists(apache):
        servers.append(("apache", apache))
    for kind, main in servers:
        try:
            config = NginxConfig(main) if kind == "nginx" else ApacheConfig(main)
        except ConfigError as exc:
            candidates.problems.append((main, "cannot parse the %s configuration: %s" % (kind, exc)))
            continue
        base = config.prefix if kind == "nginx" else config.server_root
        keys = NGINX_KEY_DIRECTIVES if kind == "nginx" else APACHE_KEY_DIRECTIVES
        certs = NGINX_CERT_DIRECTIVES if kind == "nginx" else APACHE_CERT_DIRECTIVES
        for node in _all_nodes(config.root):
            name = node.name if kind == "nginx" else node.lname
            if node.kind != "directive" or not node.args or (name not in keys and name not in certs):
                continue
            # A certificate file may carry the key too (no separate key directive); only then is it a key file.
            _reference(candidates, node.args[0], base, node.where(), kind, required=name in keys)


# ---------------------------------------------------------------------------------------------
# one file

def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def owner_info(st):
    group = _name(grp.getgrgid, st.st_gid)
    try:
        members = sorted(grp.getgrgid(st.st_gid).gr_mem)
    except KeyError:
        members = []
    # Users whose primary group it is can read too.
    members = sorted(set(members) | {p.pw_name for p in pwd.getpwall() if p.pw_gid == st.st_gid})
    return {"owner": _name(pwd.getpwuid, st.st_uid), "group": group, "uid": st.st_uid, "gid": st.st_gid,
            "mode": "%04o" % stat.S_IMODE(st.st_mode), "group_members": members}


# Opening a key file, in the scan and in enforce: never through a symlink in the last component (the scan works
# on resolved paths, so a symlink there appeared after resolving), never blocking on a FIFO, never taking a tty.
OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
              | getattr(os, "O_CLOEXEC", 0))


def read_limited(path, limit, seen=None):
    """Read a regular file without following it into a FIFO or device and without blocking.

    `seen` (a dict) receives the file's (device, inode) as read, which enforce compares before it changes anything."""
    fd = os.open(path, OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if seen is not None:
            seen["identity"] = (st.st_dev, st.st_ino)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:limit + 1]
    finally:
        os.close(fd)


def inspect(candidate, params):
    """Key description plus ownership of one candidate file; None when it holds no key."""
    path = candidate["real_path"]
    entry = {"path": candidate["path"], "sources": candidate["sources"], "on_token": False}
    if candidate["path"] != path:
        entry["real_path"] = path
    try:
        st = os.stat(path)
    except OSError as exc:
        if candidate["required"]:
            return dict(entry, missing=True, problem="cannot stat: %s" % exc.strerror)
        return None
    if not stat.S_ISREG(st.st_mode):
        return dict(entry, problem="not a regular file") if candidate["required"] else None
    seen = {}
    try:
        data = read_limited(path, params["max_file_size"], seen)
    except OSError as exc:
        # We could not read it: say what we can see (owner, mode), never guess what it holds.
        return dict(entry, unreadable=True, problem="cannot read: %s" % exc.strerror, **owner_info(st))
    if len(data) > params["max_file_size"]:
        return dict(entry, problem="larger than max_file_size", **owner_info(st)) if candidate["required"] else None
    keys, problem = describe_bytes(data)
    del data
    if not keys:
        if candidate["required"]:
            return dict(entry, problem="named as a key file but no private key recognised in it", **owner_info(st))
        return None
    first = keys[0]
    entry.update({k: first.get(k) for k in ("format", "type", "bits", "curve", "encrypted")})
    for extra in ("encryption", "keys_visible", "key_bags", "shrouded_key_bags", "encrypted_contents",
                  "certificates", "label"):
        if extra in first:
            entry[extra] = first[extra]
    if len(keys) > 1:
        entry["other_keys"] = [{k: v for k, v in key.items() if k != "unreadable_reason"} for key in keys[1:]]
    if problem:
        entry["problem"] = problem
    entry.update(owner_info(st))
    if seen.get("identity") != (st.st_dev, st.st_ino):
        # replaced between stat and read: what we judged is not what the owner/mode describe
        entry["problem"] = "the file was replaced while it was examined"
    IDENTITIES[id(entry)] = seen.get("identity")
    return entry


# ---------------------------------------------------------------------------------------------
# judging

def allowance(entry, params):
    for rule in params["group_readable"]:
        pattern = rule.get("path")
        if pattern and any(fnmatch.fnmatch(p, pattern) for p in (entry["path"], entry.get("real_path", ""))):
            return rule
    return None


def permission_problems(entry, params):
    mode = int(entry["mode"], 8)
    rule = allowance(entry, params)
    problems = []
    if mode & 0o007:
        problems.append("others can %s it (mode %s)" % ("read" if mode & 0o004 else "access", entry["mode"]))
    if mode & 0o020:
        problems.append("group %s can write it (mode %s)" % (entry["group"], entry["mode"]))
    if mode & 0o040:
        if not rule:
            problems.append("group %s (%s) can read it and no group_readable rule covers it"
                            % (entry["group"], ", ".join(entry["group_members"]) or "no members"))
        elif rule.get("group") != entry["group"]:
            problems.append("group %s can read it but the rule for %s declares group %s"
                            % (entry["group"], rule["path"], rule.get("group")))
    owners = list(params["allowed_owners"]) + ([rule["owner"]] if rule and rule.get("owner") else [])
    if entry["owner"] not in owners:
        problems.append("owned by %s (allowed: %s)" % (entry["owner"], ", ".join(owners)))
    return problems


def wanted_state(entry, params):
    """(owner name, group name, mode) that enforced would set."""
    rule = allowance(entry, params)
    owners = list(params["allowed_owners"]) + ([rule["owner"]] if rule and rule.get("owner") else [])
    owner = entry["owner"] if entry["owner"] in owners else (rule.get("owner") if rule and rule.get("owner")
                                                             else params["enforce_owner"])
    if rule and rule.get("group"):
        return owner, rule["group"], "0640"
    return owner, entry["group"], "0600"


def _state_text(owner, group, mode):
    return "owner: %s\ngroup: %s\nmode: %s\n" % (owner, group, mode)


# (device, inode) of each key file as the scan read it, by id() of its entry: kept out of the entries, which
# are returned and reported.
IDENTITIES = {}


def enforce_one(module, entry, owner, group, mode):
    """Set owner and mode of the file the scan judged, through a descriptor (issue 16 item 1).

    The path was resolved during the scan; a key in a folder another account can write may since have been
    swapped for a symlink (root would then chown/chmod its target, e.g. /etc/shadow) or another file. So: open
    with O_NOFOLLOW, check on the descriptor that it is a regular file with the device and inode the scan read,
    and change it with fchmod/fchown. Returns (None, stat after the change), or (why it was refused, None);
    nothing is changed when refused."""
    path = entry.get("real_path", entry["path"])
    try:
        uid = pwd.getpwnam(owner).pw_uid
        gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    except KeyError as exc:
        module.fail_json(msg="cannot set %s to %s:%s: %s does not exist on this host" % (path, owner, group, exc))
    expected = IDENTITIES.get(id(entry))
    if expected is None:
        return "the scan did not record which file it read", None
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "it is now a symbolic link (replaced after the scan)", None
        return "it cannot be opened any more (%s)" % exc.strerror, None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "it is no longer a regular file (replaced after the scan)", None
        if (st.st_dev, st.st_ino) != expected:
            return "it is another file than the one the scan read (replaced after the scan)", None
        try:
            # Narrow the mode first, so the file is never readable by the new owner's group in between.
            os.fchmod(fd, int(mode, 8) & stat.S_IMODE(st.st_mode))
            os.fchown(fd, uid, gid)
            os.fchmod(fd, int(mode, 8))
        except OSError as exc:
            module.fail_json(msg="cannot set owner/mode of %s: %s" % (path, exc.strerror))
        return None, os.fstat(fd)
    finally:
        os.close(fd)


def is_declared(entry, pattern):
    """Does the signing-key declaration ``pattern`` (a path glob or a PKCS#11 URI) name this key?"""
    if pattern.startswith("pkcs11:"):
        if not entry.get("on_token") or "token" not in entry:
            return False
        wanted = parse_pkcs11_uri(pattern)
        return ((not wanted.get("token") or entry.get("token") == wanted["token"])
                and (not wanted.get("object") or entry.get("label") == wanted["object"])
                and (not wanted.get("id") or (entry.get("id") or "").lower() == wanted["id"].lower()))
    if entry.get("on_token"):
        return False
    return fnmatch.fnmatch(entry["path"], pattern) or fnmatch.fnmatch(entry.get("real_path", ""), pattern)


def signing_verdict(pattern, keys):
    """Finding pieces for one declared signing key: (status, evidence, message)."""
    if pattern.startswith("pkcs11:"):
        matches = [k for k in keys if is_declared(k, pattern) and k.get("class") == "private_key"]
        if matches:
            key = matches[0]
            return "pass", {"declared": pattern, "on_token": True, "token": key.get("token"),
                            "type": key.get("type"), "bits": key.get("bits"), "curve": key.get("curve"),
                            "access": key.get("access")}, ""
        if any(is_declared(k, pattern) and k.get("class") == "public_key" for k in keys):
            return "error", {"declared": pattern, "public_half_seen": True}, (
                "Only the public half is visible: give the token's user PIN (pkcs11_pins) so that the private "
                "key can be listed.")
        return "fail", {"declared": pattern, "found": False}, (
            "The declared signing key is not on any token this host can see; check the token and its module.")
    return [k for k in keys if is_declared(k, pattern)]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            search_dirs=dict(type="list", elements="path", default=[]),
            web_servers=dict(type="bool", default=True),
            nginx_config=dict(type="path", default="/etc/nginx/nginx.conf"),
            apache_config=dict(type="path"),
            max_file_size=dict(type="int", default=1048576),
            max_files=dict(type="int", default=20000),
            max_depth=dict(type="int", default=12),
            allowed_owners=dict(type="list", elements="str", default=["root"]),
            group_readable=dict(type="list", elements="dict", default=[]),
            signing_keys=dict(type="list", elements="str", default=[]),
            pkcs11=dict(type="bool", default=True),
            pkcs11_modules=dict(type="list", elements="path", default=[]),
            pkcs11_pins=dict(type="dict", default={}, no_log=True),
            softhsm2_conf=dict(type="path"),
            state=dict(type="str", default="audit", choices=["audit", "enforced"]),
            enforce_owner=dict(type="str", default="root"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    for rule in params["group_readable"]:
        if not rule.get("path") or not rule.get("group"):
            module.fail_json(msg="every group_readable entry needs a path and a group, got keys %s"
                             % ", ".join(sorted(rule)))

    candidates = Candidates()
    for path in params["paths"]:
        if os.path.isdir(path):
            walk(path, candidates, params, "paths %s" % path)
        else:
            candidates.add(path, "paths", required=True)
    for folder in params["search_dirs"]:
        if os.path.isdir(folder):
            walk(folder, candidates, params, "search_dirs %s" % folder)
    if params["web_servers"]:
        web_server_keys(candidates, params)

    keys = []
    for real in sorted(candidates.files):
        entry = inspect(candidates.files[real], params)
        if entry is not None:
            keys.append(entry)

    tokens, token_keys, token_problems = [], [], []
    if params["pkcs11"]:
        # A module that cannot start (OpenSC without pcscd, no reader) is not a file-permission problem:
        # it is reported with the tokens, and decides only a signing key declared on a token.
        tokens, token_keys, token_problems = list_token_keys(params)
    for ref in candidates.token_refs:
        wanted = parse_pkcs11_uri(ref["uri"]) if ref["uri"].startswith("pkcs11:") else {}
        found = [k for k in token_keys if wanted and (not wanted.get("token") or k["token"] == wanted["token"])
                 and (not wanted.get("object") or k.get("label") == wanted["object"])]
        keys.append({"path": ref["reference"], "sources": [ref["source"]], "on_token": True,
                     "found_on_token": bool(found) if wanted else None})
    keys.extend(token_keys)

    for entry in keys:
        entry["signing"] = any(is_declared(entry, pattern) for pattern in params["signing_keys"])

    changed, diff = False, []
    if params["state"] == "enforced":
        for entry in keys:
            if entry.get("on_token") or "mode" not in entry or entry.get("missing"):
                continue
            if not permission_problems(entry, params):
                continue
            owner, group, mode = wanted_state(entry, params)
            before = _state_text(entry["owner"], entry["group"], entry["mode"])
            after = _state_text(owner, group, mode)
            if before == after:
                continue
            target = entry.get("real_path", entry["path"])
            entry["enforced"] = {"before": before, "after": after, "applied": not module.check_mode}
            if not module.check_mode:
                refused, st = enforce_one(module, entry, owner, group, mode)
                if refused:
                    # nothing changed: no diff, and the finding says why (build_findings)
                    entry["enforced"]["applied"] = False
                    entry["enforce_refused"] = refused
                    continue
                entry.update(owner_info(st))
            changed = True
            diff.append({"before_header": target, "after_header": target, "before": before, "after": after})

    findings = build_findings(keys, candidates, params, module.check_mode and changed, token_problems)
    compliant = not any(f["status"] in ("fail", "error") for f in findings)
    module.exit_json(changed=changed, diff=diff, permission_changes=diff, compliant=compliant, keys=keys,
                     tokens=tokens, token_problems=["%s: %s" % problem for problem in token_problems],
                     not_opened={k: v[:50] for k, v in candidates.skipped.items()}, findings=findings)


def key_text(entry):
    """What kind of key it is, never anything of its material: "RSA 2048 key", "EC secp384r1 key"."""
    kind = " ".join(str(v) for v in (entry.get("type"), entry.get("curve") or entry.get("bits")) if v)
    return "%s key" % kind if kind else "key"


def file_state(entry):
    return "%s:%s mode %s" % (entry.get("owner"), entry.get("group"), entry.get("mode"))


def build_findings(keys, candidates, params, would_change, token_problems=()):
    findings = []
    expected = {"mode": "0600 (0640 with a declared group)", "others": "no access",
                "owners": params["allowed_owners"]}
    required = "required: mode 0600 (0640 with a declared group), owner %s" % " or ".join(params["allowed_owners"])
    file_keys = [k for k in keys if not k.get("on_token")]
    for entry in file_keys:
        evidence = {k: v for k, v in entry.items() if k not in ("sources",)}
        evidence["found_by"] = entry["sources"]
        if entry.get("missing") or "mode" not in entry:
            findings.append(make_finding(PERMISSIONS, "error", "high", entry["path"], evidence, expected,
                                         "The key file named here does not exist or cannot be examined (%s); "
                                         "fix the reference or the path." % entry.get("problem"), False,
                                         summary="could not decide: the key file named by %s cannot be examined (%s)"
                                                 % (some(entry["sources"], 1), entry.get("problem") or "missing")))
            continue
        if entry.get("enforce_refused"):
            owner, group, mode = wanted_state(entry, params)
            evidence["problems"] = permission_problems(entry, params)
            findings.append(make_finding(
                PERMISSIONS, "error", "high", entry["path"], evidence, expected,
                "Nothing was changed: %s. Look at who can write %s, move the key to a folder only root can write, "
                "then harden again." % (entry["enforce_refused"], os.path.dirname(entry.get("real_path",
                                                                                          entry["path"]))), False,
                summary="refused to chown %s:%s / chmod %s %s: %s; required: the file the scan read, unchanged, "
                        "in a folder only root can write" % (owner, group, mode, entry.get("real_path", entry["path"]),
                                                             entry["enforce_refused"])))
            continue
        problems = permission_problems(entry, params)
        if problems:
            owner, group, mode = wanted_state(entry, params)
            evidence["problems"] = problems
            if would_change and "enforced" in entry:
                evidence["would_change"] = True
            findings.append(make_finding(
                PERMISSIONS, "fail", "high", entry["path"], evidence, expected,
                "Restrict the key file: chown %s:%s and chmod %s (harden does this), or declare the group that "
                "must read it in group_readable." % (owner, group, mode), True,
                summary="%s is %s: %s; %s" % (key_text(entry), file_state(entry),
                                             some(problems, 2, sep="; ", width=120), required)))
        elif entry.get("problem"):
            # Permissions look right, but what the file holds is unknown: never a pass.
            findings.append(make_finding(PERMISSIONS, "error", "high", entry["path"], evidence, expected,
                                         "Look at this file: %s." % entry["problem"], False,
                                         summary="could not decide: %s looks like a key file but cannot be read "
                                                 "as one (%s)" % (file_state(entry), entry["problem"])))
        else:
            findings.append(make_finding(PERMISSIONS, "pass", "high", entry["path"], evidence, expected, "", True,
                                         summary="%s is %s: no access for others, owner allowed"
                                                 % (key_text(entry), file_state(entry))))
    for target, message in candidates.problems:
        findings.append(make_finding(PERMISSIONS, "error", "high", target, {"error": message}, expected,
                                     "Fix what stopped the check (run with become, or narrow the folders), "
                                     "then audit again.", False, summary="could not decide: %s" % message))
    if not file_keys and not candidates.problems:
        looked = list(params["paths"]) + list(params["search_dirs"])
        findings.append(make_finding(PERMISSIONS, "not_applicable", "high", "keys",
                                     {"looked_at": {"paths": params["paths"], "search_dirs": params["search_dirs"],
                                                    "web_servers": params["web_servers"]},
                                      "token_keys": len([k for k in keys if k.get("on_token")])},
                                     expected, "No private key file found.", False,
                                     summary="no private key file found (looked in %s%s)"
                                             % (some(looked, 3, width=150),
                                                " and the web server configurations" if params["web_servers"] else "")))

    sign_expected = {"signing_key": "on a PKCS#11 token, or encrypted with a sound cipher"}
    sign_required = "required: on a PKCS#11 token, or encrypted with a sound cipher"
    if not params["signing_keys"]:
        findings.append(make_finding(SIGNING, "not_applicable", "high", "signing_keys",
                                     {"declared_signing_keys": []}, sign_expected,
                                     "No signing key is declared for this host (c13_key_protection_signing_keys).",
                                     False, summary="no signing key is declared for this host "
                                                    "(c13_key_protection_signing_keys)"))
    for pattern in params["signing_keys"]:
        verdict = signing_verdict(pattern, keys)
        if isinstance(verdict, tuple):
            status, evidence, remediation = verdict
            if status == "pass":
                summary = "signing key %s is on PKCS#11 token %s (%s)" % (
                    pattern, evidence.get("token"), key_text(evidence))
            elif status == "error":
                summary = ("could not decide: only the public half of signing key %s is visible on the token "
                           "(no user PIN given)" % pattern)
            else:
                summary = "declared signing key %s is on no PKCS#11 token this host can see; %s" % (
                    pattern, sign_required)
            if status != "pass" and token_problems:
                evidence = dict(evidence, token_problems=["%s: %s" % problem for problem in token_problems])
                if status == "fail":  # a token we could not ask decides nothing
                    status = "error"
                    summary = ("could not decide: signing key %s not seen, and a PKCS#11 token could not be "
                               "asked (%s)" % (pattern, some(["%s: %s" % p for p in token_problems], 1)))
            findings.append(make_finding(SIGNING, status, "high", pattern, evidence, sign_expected, remediation, False,
                                         summary=summary))
            continue
        if not verdict:
            findings.append(make_finding(SIGNING, "fail", "high", pattern, {"declared": pattern, "found": False},
                                         sign_expected, "The declared signing key was not found; update the "
                                         "declaration or find where the key went.", False,
                                         summary="declared signing key %s not found on this host; %s"
                                                 % (pattern, sign_required)))
            continue
        for entry in verdict:
            evidence = {k: entry.get(k) for k in ("path", "format", "type", "bits", "curve", "encrypted",
                                                  "encryption", "owner", "mode")}
            encryption = entry.get("encryption") or {}
            if entry.get("encrypted") is None:
                findings.append(make_finding(SIGNING, "error", "high", entry["path"], evidence, sign_expected,
                                             "Cannot tell whether this signing key is encrypted (%s)."
                                             % entry.get("problem", "unreadable"), False,
                                             summary="could not decide whether this signing key is encrypted (%s)"
                                                     % entry.get("problem", "unreadable")))
            elif not entry["encrypted"]:
                findings.append(make_finding(
                    SIGNING, "fail", "high", entry["path"], evidence, sign_expected,
                    "This signing key is stored unencrypted in a file. Move it to a PKCS#11 token/HSM or protect it "
                    "with a passphrase as the CA's CP requires; iryo-guard never re-encrypts or moves keys.", False,
                    summary="signing %s stored unencrypted in a file (%s); %s"
                            % (key_text(entry), file_state(entry), sign_required)))
            elif encryption.get("broken"):
                findings.append(make_finding(
                    SIGNING, "fail", "high", entry["path"], evidence, sign_expected,
                    "This signing key is encrypted with %s, which no longer protects it; re-protect it (AES-256 "
                    "with PBKDF2 or scrypt) or move it to a token." % encryption.get("cipher"), False,
                    summary="signing %s encrypted with %s, which no longer protects it; %s"
                            % (key_text(entry), encryption.get("cipher"), sign_required)))
            else:
                findings.append(make_finding(SIGNING, "pass", "high", entry["path"], evidence, sign_expected,
                                             "", False,
                                             summary="signing %s encrypted in its file (%s%s)"
                                                     % (key_text(entry), encryption.get("cipher") or "cipher unknown",
                                                        ", " + encryption["kdf"] if encryption.get("kdf") else "")))
    return findings


# ---------------------------------------------------------------------------------------------
# PKCS#11

def run(argv, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              timeout=COMMAND_TIMEOUT, universal_newlines=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def list_token_keys(params):
    """Tokens and their keys, via pkcs11-tool. Returns (tokens, keys, problems)."""
    modules = find_pkcs11_modules(params["pkcs11_modules"])
    env = {"SOFTHSM2_CONF": params["softhsm2_conf"]} if params["softhsm2_conf"] else {}
    tokens, keys, problems = [], [], []
    if not modules:
        return tokens, keys, problems
    tool = next((os.path.join(d, "pkcs11-tool") for d in ("/usr/bin", "/usr/local/bin", "/bin")
                 if os.path.exists(os.path.join(d, "pkcs11-tool"))), None)
    if tool is None:
        problems.append(("pkcs11", "PKCS#11 modules are installed (%s) but pkcs11-tool (OpenSC) is not, so token "
                                   "keys cannot be listed" % ", ".join(modules)))
        return tokens, keys, problems
    for module_path in modules:
        rc, out, err = run([tool, "--module", module_path, "-L"], env)
        if rc != 0 and "No slots" not in out + err:
            problems.append((module_path, "pkcs11-tool -L failed: %s" % (err.strip() or out.strip())[:300]))
            continue
        for slot in parse_slots(out):
            if not slot["initialized"] or not slot["label"]:
                continue
            pin = params["pkcs11_pins"].get(slot["label"])
            argv = [tool, "--module", module_path, "--slot", slot["slot"], "-O"]
            slot_env = dict(env)
            if pin is not None:
                argv += ["--pin", "env:%s" % PIN_ENV]
                slot_env[PIN_ENV] = str(pin)
            rc, out_objects, err = run(argv, slot_env)
            token = {"module": module_path, "slot": slot["slot"], "label": slot["label"], "serial": slot["serial"],
                     "model": slot["model"], "manufacturer": slot["manufacturer"],
                     "private_objects_listed": pin is not None and rc == 0}
            if rc != 0:
                problems.append(("pkcs11:token=%s" % slot["label"], "listing objects failed%s: %s"
                                 % (" (wrong PIN?)" if pin is not None else "", (err.strip() or "rc %d" % rc)[:300])))
                tokens.append(token)
                continue
            objects = parse_objects(out_objects)
            private = merge_key_objects(objects)
            token["private_keys"] = len(private)
            token["public_keys"] = len([o for o in objects if o["class"] == "public_key"])
            tokens.append(token)
            listed = private if pin is not None else private + [o for o in objects if o["class"] == "public_key"]
            for obj in listed:
                keys.append({"path": pkcs11_uri(slot["label"], obj["label"], obj["id"],
                                                "private" if obj["class"] == "private_key" else "public"),
                             "sources": ["pkcs11 %s" % module_path], "on_token": True, "token": slot["label"],
                             "class": obj["class"], "label": obj["label"], "id": obj["id"], "type": obj["type"],
                             "bits": obj["bits"], "curve": obj["curve"], "usage": obj["usage"],
                             "access": obj["access"], "encrypted": None})
    return tokens, keys, problems


if __name__ == "__main__":
    main()
