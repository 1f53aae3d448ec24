#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sshd_hardening
short_description: Audit and enforce the OpenSSH server for staff remote access (MHLW GL 5.2 §6.11 D.1)
description:
  - D.1 lets staff reach hospital systems from outside only through VPN combined with a virtual
    desktop. On each server the remaining administrative path, SSH, must then accept logins only
    from the declared VPN/VDI networks, only with keys, never as root, with strong algorithms.
  - Reads the B(effective) configuration with C(sshd -T), and with C(sshd -T -C user=U,host=A,addr=A)
    for every declared administrator, root and the connecting user, from one address inside each
    declared network and from documentation addresses outside all of them (RFC 5737/3849), so Match
    blocks count as sshd applies them.
  - "Checks: C(d1.ssh.password_auth) (PasswordAuthentication and KbdInteractiveAuthentication no for
    every probe), C(d1.ssh.root_login) (PermitRootLogin no), C(d1.ssh.sources) (every user from outside
    the declared networks is refused), C(d1.ssh.algorithms) (KexAlgorithms, Ciphers, MACs,
    HostKeyAlgorithms within the allowlists), C(d1.remote_access.paths) (the host's remote-access
    paths as evidence: sshd listen addresses, ports, authentication methods, the sources allowed, and
    other remote-access services listening; pass when every path is limited to the declared networks)."
  - O(state=enforced) writes one drop-in, O(dropin) (C(00-iryo-guard.conf) sorts first in
    C(sshd_config.d), which Debian includes at the top of C(sshd_config); sshd keeps the first value
    it reads). Before anything is written it builds a temporary copy of the configuration with the new
    drop-in and asks C(sshd -T) what it gives. The B(lockout guard) refuses the change when the
    connecting user from the connecting source would be refused, or when no declared administrator
    could log in from any declared network. Then C(sshd -t), backup, atomic write, C(sshd -t) of the
    real configuration, reload; the backup is restored (and sshd reloaded) when validation, reload or
    the check after the reload fails.
  - Check mode reports the diff (and a refusal) and writes nothing.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  state:
    description:
      - V(audit) only reports; V(enforced) writes the drop-in. V(confirmed) is sent by the action plugin over a NEW
        connection after an enforced change; it cancels the restore timer (O(rollback_timeout)) and reports.
    type: str
    choices: [audit, enforced, confirmed]
    default: audit
  rollback_timeout:
    description:
      - Over SSH, an enforced change arms a transient systemd timer (C(iryo-guard-sshd-rollback)) before the drop-in is
        written; unless the controller logs in again over a new connection and confirms within this many seconds,
        the host puts the previous drop-in back and reloads sshd with C(systemctl try-reload-or-restart). 0 turns
        this off (only from a console).
    type: int
    default: 120
  connection_password_source:
    description: Where the controller found a password for this connection (set by the action plugin; for messages).
    type: str
  allowed_networks:
    description:
      - The VPN/VDI networks administrators come from (CIDR). Empty means none is declared; then
        C(d1.ssh.sources) fails and enforcement writes no source restriction.
    type: list
    elements: str
    default: []
  admin_users:
    description:
      - Accounts that must keep an SSH path from the declared networks. The lockout guard refuses a
        change that leaves none of them able to log in. The connecting user is always added.
    type: list
    elements: str
    default: []
  password_auth:
    description: Audit and enforce C(d1.ssh.password_auth).
    type: bool
    default: true
  root_login:
    description: Audit and enforce C(d1.ssh.root_login).
    type: bool
    default: true
  sources:
    description: Audit and enforce C(d1.ssh.sources).
    type: bool
    default: true
  algorithms:
    description: Audit and enforce C(d1.ssh.algorithms).
    type: bool
    default: true
  kex_algorithms:
    description: Allowed key exchanges in preference order (default in the role from data/ssh_algorithms.yml).
    type: list
    elements: str
    default: []
  ciphers:
    description: Allowed ciphers in preference order.
    type: list
    elements: str
    default: []
  macs:
    description: Allowed MACs in preference order.
    type: list
    elements: str
    default: []
  host_key_algorithms:
    description: Allowed host key signature algorithms in preference order.
    type: list
    elements: str
    default: []
  connection_user:
    description:
      - The user Ansible logs in as (set by the action plugin from the play's remote user). Used
        when the connection cannot be found on the host.
    type: str
  connection_transport:
    description:
      - Ansible's connection plugin (set by the action plugin). For V(ssh)/V(paramiko_ssh) the
        module must find the connection's source on the host, or it refuses to enforce.
    type: str
  connection_auth:
    description: How Ansible authenticates (set by the action plugin).
    type: str
    choices: [publickey, password]
    default: publickey
  connection_source:
    description:
      - The address sshd sees the Ansible connection come from. Normally found on the host from
        C(SSH_CONNECTION) of the login process above this module (sudo resets the environment;
        the login shell keeps it); set it only where that cannot work.
    type: str
  sshd_config:
    description: sshd's main configuration file.
    type: path
    default: /etc/ssh/sshd_config
  dropin:
    description: The drop-in this module owns.
    type: path
    default: /etc/ssh/sshd_config.d/00-iryo-guard.conf
  reload_command:
    description:
      - Command that makes sshd read the new configuration (list or string). Default
        C(systemctl try-reload-or-restart ssh) (C(sshd) where there is no ssh.service). Empty skips.
    type: raw
  backup_dir:
    description: Where the previous drop-in is kept, as C(BACKUP_DIR/TIMESTAMP/PATH).
    type: path
    default: /var/backups/iryo-guard/sshd_hardening
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
notes:
  - Match blocks that test C(LocalAddress)/C(LocalPort) are evaluated without them (sshd -T -C is
    given the user, host and address only).
  - Reloading sshd keeps the sessions that are open; the guard is about the next login.
"""

EXAMPLES = r"""
- name: D.1 | AUDIT | d1.ssh.* | SSH server
  sshd_hardening:
    allowed_networks: [10.20.0.0/16]
    admin_users: [iryoadmin]
    kex_algorithms: [curve25519-sha256, ecdh-sha2-nistp256]
    ciphers: [aes256-gcm@openssh.com, aes128-gcm@openssh.com]
    macs: [hmac-sha2-256-etm@openssh.com]
    host_key_algorithms: [ssh-ed25519, rsa-sha2-512, rsa-sha2-256]

- name: D.1 | HARDEN | d1.ssh.* | SSH server
  sshd_hardening:
    state: enforced
    allowed_networks: [10.20.0.0/16]
    admin_users: [iryoadmin]
"""

RETURN = r"""
pending_confirmation:
  description: True when the change is live and the restore timer waits for state=confirmed over a new connection.
  returned: with state=enforced when the drop-in was written over SSH
  type: bool
confirmed:
  description: With state=confirmed, whether a waiting restore timer was cancelled.
  returned: with state=confirmed
  type: bool
effective:
  description: Global effective values of the keywords the checks read (from C(sshd -T)).
  returned: when sshd is installed
  type: dict
probes:
  description: Per user and address, the values that decide the checks and whether sshd would let the user in.
  returned: when sshd is installed
  type: list
  elements: dict
connection:
  description: The Ansible connection as found on the host (source, user, local address and port).
  returned: always
  type: dict
dropin:
  description: Path, whether it is current, and the wanted text.
  returned: always
  type: dict
guard:
  description: The lockout guard's verdict on the candidate configuration (allowed, reasons, admin paths).
  returned: with state=enforced when a change is due
  type: dict
commands:
  description: Validation and reload commands run, with rc, stdout, stderr.
  returned: when the drop-in was written
  type: list
  elements: dict
findings:
  description: Findings in the iryo-guard schema.
  returned: always
  type: list
  elements: dict
"""

import grp
import os
import pwd
import shlex
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_files import failure_line, write_text_atomically
from ansible.module_utils.iryo_findings import make_finding, some
from ansible.module_utils import iryo_sshd

CHECKS = {
    "password_auth": "d1.ssh.password_auth",
    "root_login": "d1.ssh.root_login",
    "sources": "d1.ssh.sources",
    "algorithms": "d1.ssh.algorithms",
}
PATHS = "d1.remote_access.paths"
ENV = {"LANG": "C", "LC_ALL": "C"}
ALGORITHM_PARAMS = {"kex": "kex_algorithms", "ciphers": "ciphers", "macs": "macs",
                    "host_key_algorithms": "host_key_algorithms"}
REPORTED = ("port", "listenaddress", "addressfamily", "passwordauthentication", "kbdinteractiveauthentication",
            "pubkeyauthentication", "permitrootlogin", "authenticationmethods", "allowusers", "denyusers",
            "allowgroups", "denygroups", "usepam", "kexalgorithms", "ciphers", "macs", "hostkeyalgorithms")


class Refused(Exception):
    """The change would lock administrators out or would not take effect; nothing was written."""


class Sshd:
    """Runs sshd -T / -t against one main configuration file."""

    def __init__(self, module, binary, config):
        self.module, self.binary, self.config = module, binary, config
        self.cache = {}

    def effective(self, user=None, addr=None):
        key = (user, addr)
        if key not in self.cache:
            argv = [self.binary, "-T", "-f", self.config]
            if user is not None:
                argv += ["-C", iryo_sshd.match_spec(user, addr)]
            rc, out, err = self.module.run_command(argv, environ_update=ENV)
            if rc != 0:
                raise iryo_sshd.SshdError("%s exited %d: %s" % (" ".join(argv), rc, (err or out).strip()))
            self.cache[key] = iryo_sshd.parse_effective(out)
        return self.cache[key]

    def validate(self):
        argv = [self.binary, "-t", "-f", self.config]
        rc, out, err = self.module.run_command(argv, environ_update=ENV)
        return {"cmd": argv, "rc": rc, "stdout": out, "stderr": err}


def user_groups(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    try:
        return sorted({grp.getgrgid(g).gr_name for g in os.getgrouplist(user, entry.pw_gid)})
    except (KeyError, OSError):
        return None


def evaluate(sshd, users, networks, extra_addrs=()):
    """Effective values for every user from every probe address; raises SshdError."""
    glob_eff = sshd.effective()
    inside = [iryo_sshd.inside_probe(n) for n in networks]
    outside = iryo_sshd.outside_probes(networks)
    addrs = []
    for addr in list(inside) + list(extra_addrs) + list(outside):
        if addr and addr not in addrs:
            addrs.append(addr)
    probes = []
    for user in users:
        groups = user_groups(user)
        for addr in addrs:
            eff = sshd.effective(user, addr)
            allowed, reasons = iryo_sshd.login_decision(eff, user, groups, addr)
            probes.append({
                "user": user, "addr": addr, "where": "outside" if addr in outside else "inside",
                "passwordauthentication": iryo_sshd.first(eff, "passwordauthentication"),
                "kbdinteractiveauthentication": iryo_sshd.first(eff, "kbdinteractiveauthentication"),
                "permitrootlogin": iryo_sshd.first(eff, "permitrootlogin"),
                "login_with_key": allowed, "refused_because": reasons,
            })
    return {"global": glob_eff, "probes": probes, "inside": inside, "outside": outside}


def judge_password(ev):
    bad = ["%s from %s: PasswordAuthentication %s, KbdInteractiveAuthentication %s"
           % (p["user"], p["addr"], p["passwordauthentication"], p["kbdinteractiveauthentication"])
           for p in ev["probes"] if p["passwordauthentication"] != "no" or p["kbdinteractiveauthentication"] != "no"]
    pw_auth = iryo_sshd.first(ev["global"], "passwordauthentication")
    kbd = iryo_sshd.first(ev["global"], "kbdinteractiveauthentication")
    if pw_auth != "no" or kbd != "no":
        bad.insert(0, "global: PasswordAuthentication %s, KbdInteractiveAuthentication %s" % (pw_auth, kbd))
    return bad


def judge_root(ev):
    bad = ["root from %s: PermitRootLogin %s" % (p["addr"], p["permitrootlogin"])
           for p in ev["probes"] if p["user"] == "root" and p["permitrootlogin"] != "no"]
    if iryo_sshd.first(ev["global"], "permitrootlogin") != "no":
        bad.insert(0, "global: PermitRootLogin %s" % iryo_sshd.first(ev["global"], "permitrootlogin"))
    return bad


def judge_sources(ev, networks):
    if not networks:
        return ["no VPN/VDI network is declared, so every source may log in"]
    return ["%s from %s (outside %s) would be let in" % (p["user"], p["addr"], ", ".join(networks))
            for p in ev["probes"] if p["where"] == "outside" and p["login_with_key"]]


def judge_algorithms(ev, allowed):
    bad = {}
    for kind in ("kex", "ciphers", "macs", "host_key_algorithms"):
        if kind not in allowed:
            continue
        extra = [a for a in iryo_sshd.algorithm_list(ev["global"], kind) if a not in allowed[kind]]
        if extra:
            bad[iryo_sshd.DIRECTIVE_NAMES[kind]] = extra
    return bad


def guard(ev, connection, admin_users, networks, auth):
    """The lockout guard on a candidate evaluation: list of reasons to refuse (empty: safe)."""
    refusals, paths = [], {}
    for p in ev["probes"]:
        if p["where"] == "inside" or (connection and p["addr"] == connection.get("source")):
            paths.setdefault(p["user"], {})[p["addr"]] = p["login_with_key"] or p["refused_because"]
    if connection and connection.get("source"):
        user, source = connection["user"], connection["source"]
        eff = [p for p in ev["probes"] if p["user"] == user and p["addr"] == source]
        if eff:
            groups = user_groups(user)
            allowed, reasons = iryo_sshd.login_decision(ev["effective_for"][(user, source)], user, groups, source,
                                                        auth=auth)
            if not allowed:
                refusals.append("the new configuration would refuse the current Ansible connection (%s from %s, "
                                "%s): %s. %s" % (user, source, auth, "; ".join(reasons), hint(reasons, user, source)))
    admins = [u for u in admin_users if u != "root"] or list(admin_users)
    if networks and admins:
        reachable = [u for u in admins if any(v is True for a, v in paths.get(u, {}).items() if a in ev["inside"])]
        if not reachable:
            refusals.append("no administrator (%s) could log in from any declared network (%s) afterwards; "
                            "declare an account with a key login in admin_users (d1_remote_access_admin_users)"
                            % (", ".join(admins), ", ".join(networks)))
    return refusals, paths


def hint(reasons, user, source):
    """What to declare so that the change can go ahead without cutting the connection."""
    text = " ".join(reasons)
    tips = []
    if "DenyUsers" in text or "AllowUsers" in text or "RefuseConnection" in text:
        tips.append("declare the network Ansible connects from (sshd sees %s) in allowed_networks "
                    "(d1_remote_access_allowed_networks)" % source)
    if "PermitRootLogin" in text:
        tips.append("let Ansible log in as an administrator with become (ansible_user, listed in "
                    "d1_remote_access_admin_users) instead of root")
    if "authentication is off" in text or "AuthenticationMethods" in text:
        tips.append("give %s a key login first (Ansible must authenticate with a key)" % user)
    if "Groups" in text:
        tips.append("put %s in a group that AllowGroups names" % user)
    return ("To proceed: %s." % "; ".join(tips)) if tips else ""


def other_listeners():
    found = []
    for addr, port in iryo_sshd.listening_ports():
        if port in iryo_sshd.OTHER_REMOTE_ACCESS_PORTS and not addr.startswith("127.") and addr != "::1":
            found.append({"service": iryo_sshd.OTHER_REMOTE_ACCESS_PORTS[port], "address": addr, "port": port})
    return found


def as_argv(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return shlex.split(str(value))


def reload_argv(module):
    value = module.params["reload_command"]
    if value is not None:
        return as_argv(value)
    return default_reload_argv(module)


def default_reload_argv(module):
    systemctl = module.get_bin_path("systemctl") or "systemctl"
    unit = "ssh"
    if not any(os.path.exists(os.path.join(d, "ssh.service")) for d in
               ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")):
        unit = "sshd"
    return [systemctl, "try-reload-or-restart", unit]


def supported(module, kind):
    ssh = module.get_bin_path("ssh")
    if not ssh:
        return None
    rc, out, _ = module.run_command([ssh, "-Q", iryo_sshd.QUERY_NAMES[kind]], environ_update=ENV)
    return set(out.split()) if rc == 0 else None


def password_summary(ev, bad):
    g = ev["global"]
    if not bad:
        return ("password and keyboard-interactive logins are off globally and for every user and source probed (%d)"
                % len(ev["probes"]))
    per_probe = len([b for b in bad if not b.startswith("global:")])
    return ("password logins allowed (PasswordAuthentication %s, KbdInteractiveAuthentication %s globally; %d of %d "
            "user/source probes); required: no for every user and source"
            % (iryo_sshd.first(g, "passwordauthentication"), iryo_sshd.first(g, "kbdinteractiveauthentication"),
               per_probe, len(ev["probes"])))


def root_summary(ev, bad):
    value = iryo_sshd.first(ev["global"], "permitrootlogin")
    if not bad:
        return "PermitRootLogin no, globally and for root from every source probed"
    sources = [p["addr"] for p in ev["probes"] if p["user"] == "root" and p["permitrootlogin"] != "no"]
    return ("root may log in: PermitRootLogin %s globally%s; required: PermitRootLogin no"
            % (value, "; from %s" % some(sources, 3) if sources else ""))


def sources_summary(ev, networks, bad):
    if not networks:
        return "no VPN/VDI network is declared, so sshd lets every source log in; required: logins only from them"
    allowed = some(networks, 3)
    if not bad:
        return "sshd refuses every user from outside %s (probed from %s)" % (allowed, some(ev["outside"], 3))
    users = sorted({p["user"] for p in ev["probes"] if p["where"] == "outside" and p["login_with_key"]})
    addrs = sorted({p["addr"] for p in ev["probes"] if p["where"] == "outside" and p["login_with_key"]})
    return ("sshd lets %s log in from outside %s (probed from %s); required: logins only from %s"
            % (some(users, 3), allowed, some(addrs, 3), allowed))


def algorithms_summary(allowed, bad):
    if not bad:
        return "%s offer only allowed algorithms (data/ssh_algorithms.yml)" % ", ".join(
            iryo_sshd.DIRECTIVE_NAMES[k] for k in allowed)
    listed = "; ".join("%s %s" % (name, some(extra, 2)) for name, extra in sorted(bad.items()))
    return "sshd offers algorithms outside the allowlist: %s; required: data/ssh_algorithms.yml only" % listed


def build_findings(params, ev, networks, allowed, paths_evidence):
    findings = []
    g = ev["global"]
    target = "sshd %s" % params["sshd_config"]
    if params["password_auth"]:
        bad = judge_password(ev)
        findings.append(make_finding(
            CHECKS["password_auth"], "fail" if bad else "pass", "high", target,
            {"global": {"PasswordAuthentication": iryo_sshd.first(g, "passwordauthentication"),
                        "KbdInteractiveAuthentication": iryo_sshd.first(g, "kbdinteractiveauthentication")},
             "violations": bad},
            {"PasswordAuthentication": "no", "KbdInteractiveAuthentication": "no", "for": "every user and source"},
            "Turn password and keyboard-interactive logins off (sshd_hardening state=enforced); staff log in "
            "with keys through the VPN/VDI." if bad else "", True, summary=password_summary(ev, bad)))
    if params["root_login"]:
        bad = judge_root(ev)
        findings.append(make_finding(
            CHECKS["root_login"], "fail" if bad else "pass", "high", target,
            {"global": {"PermitRootLogin": iryo_sshd.first(g, "permitrootlogin")}, "violations": bad},
            {"PermitRootLogin": "no"},
            "Set PermitRootLogin no; administrators log in as themselves and use sudo (declare them in "
            "d1_remote_access_admin_users)." if bad else "", True, summary=root_summary(ev, bad)))
    if params["sources"]:
        bad = judge_sources(ev, networks)
        findings.append(make_finding(
            CHECKS["sources"], "fail" if bad else "pass", "high", target,
            {"allowed_networks": networks, "outside_probes": ev["outside"], "violations": bad,
             "refusals": {"%s@%s" % (p["user"], p["addr"]): p["refused_because"]
                          for p in ev["probes"] if p["where"] == "outside"}},
            {"logins_only_from": networks or "the declared VPN/VDI networks"},
            ("Declare the VPN/VDI networks (d1_remote_access_allowed_networks) and enforce; sshd then denies "
             "every user from elsewhere (Match Address ... DenyUsers *).") if bad else "", bool(networks),
            summary=sources_summary(ev, networks, bad)))
    if params["algorithms"]:
        bad = judge_algorithms(ev, allowed)
        current = {iryo_sshd.DIRECTIVE_NAMES[k]: iryo_sshd.algorithm_list(g, k) for k in allowed}
        findings.append(make_finding(
            CHECKS["algorithms"], "fail" if bad else "pass", "medium", target,
            {"current": current, "not_allowed": bad},
            {iryo_sshd.DIRECTIVE_NAMES[k]: v for k, v in allowed.items()},
            "Restrict %s to the allowlist (data/ssh_algorithms.yml) with sshd_hardening state=enforced."
            % ", ".join(sorted(bad)) if bad else "", True, summary=algorithms_summary(allowed, bad)))
    sources_ok = bool(networks) and not judge_sources(ev, networks)
    others = paths_evidence["other_services"]
    problems = []
    if not sources_ok:
        problems.append("sshd accepts logins from outside the declared networks")
    problems += ["%s listens on %s:%d (not limited by sshd_hardening)" % (o["service"], o["address"], o["port"])
                 for o in others]
    paths_evidence = dict(paths_evidence, allowed_sources=networks if sources_ok else ["any"], problems=problems)
    limit = some(networks, 3) if networks else "the declared VPN/VDI networks"
    if problems:
        summary = "remote access not limited: %s; required: every path only from %s" % (
            some(problems, 2, sep="; ", width=150), limit)
    else:
        summary = "sshd is the only remote-access path and lets users in only from %s" % limit
    findings.append(make_finding(
        PATHS, "fail" if problems else "pass", "high", "remote access",
        paths_evidence, {"every_path_limited_to": networks or "the declared VPN/VDI networks"},
        "Limit every remote-access path to the VPN/VDI networks: %s." % "; ".join(problems) if problems else "",
        not others, summary=summary))
    return findings


def paths_of(ev, connection):
    g = ev["global"]
    admins = {}
    for p in ev["probes"]:
        if p["where"] == "inside":
            admins.setdefault(p["user"], {})[p["addr"]] = "key login allowed" if p["login_with_key"] else \
                "refused: " + "; ".join(p["refused_because"])
    return {
        "sshd": {"ports": g.get("port", []), "listen": g.get("listenaddress", []),
                 "auth_methods": iryo_sshd.auth_methods(g),
                 "users_from_declared_networks": admins},
        "connection": connection,
        "other_services": other_listeners(),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="audit", choices=["audit", "enforced", "confirmed"]),
            allowed_networks=dict(type="list", elements="str", default=[]),
            admin_users=dict(type="list", elements="str", default=[]),
            password_auth=dict(type="bool", default=True, no_log=False),
            root_login=dict(type="bool", default=True),
            sources=dict(type="bool", default=True),
            algorithms=dict(type="bool", default=True),
            kex_algorithms=dict(type="list", elements="str", default=[]),
            ciphers=dict(type="list", elements="str", default=[]),
            macs=dict(type="list", elements="str", default=[]),
            host_key_algorithms=dict(type="list", elements="str", default=[]),
            connection_user=dict(type="str"),
            connection_transport=dict(type="str"),
            connection_auth=dict(type="str", default="publickey", choices=["publickey", "password"]),
            connection_password_source=dict(type="str", no_log=False),
            rollback_timeout=dict(type="int", default=120),
            connection_source=dict(type="str"),
            sshd_config=dict(type="path", default="/etc/ssh/sshd_config"),
            dropin=dict(type="path", default="/etc/ssh/sshd_config.d/00-iryo-guard.conf"),
            reload_command=dict(type="raw"),
            backup_dir=dict(type="path", default="/var/backups/iryo-guard/sshd_hardening"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    confirmation = None
    if params["state"] == "confirmed":
        # The controller got in over a NEW connection after the change: cancel the host's restore timer.
        confirmation = {"confirmed": disarm(module) if not module.check_mode else False}
    try:
        networks = iryo_sshd.normalise_networks(params["allowed_networks"])
    except ValueError as exc:
        module.fail_json(msg="allowed_networks: %s" % exc)
    # Every value that ends up in `sshd -T -C user=...,addr=...` (issue 16 item 5), checked before anything runs.
    bad = [iryo_sshd.match_value_problem("user", u) for u in params["admin_users"]]
    if params["connection_user"] is not None:
        bad.append(iryo_sshd.match_value_problem("user", params["connection_user"]))
    if params["connection_source"]:
        bad.append(iryo_sshd.match_value_problem("addr", params["connection_source"]))
    bad = [b for b in bad if b]
    if bad:
        module.fail_json(msg="refused, nothing run: %s" % "; ".join(bad))

    found = iryo_sshd.ssh_connection()
    connection = dict(found) if found else {}
    if params["connection_source"]:
        connection["source"] = params["connection_source"]
    if params["connection_user"]:
        connection["user"] = params["connection_user"]
    connection["transport"] = params["connection_transport"]
    connection["found_on_host"] = bool(found)

    sshd_bin = module.get_bin_path("sshd", opt_dirs=["/usr/sbin", "/sbin"])
    if not sshd_bin or not os.path.isfile(params["sshd_config"]):
        evidence = {"sshd": sshd_bin, "sshd_config": params["sshd_config"], "other_services": other_listeners()}
        absent = ("no sshd on this host (%s)" % ("no sshd program" if not sshd_bin
                                                 else "%s missing" % params["sshd_config"]))
        findings = [make_finding(CHECKS[k], "not_applicable", "high", "sshd", evidence, {}, "", False,
                                 summary=absent) for k in CHECKS if params[k]]
        problems = ["%s listens on %s:%d" % (o["service"], o["address"], o["port"]) for o in evidence["other_services"]]
        limit = some(networks, 3) if networks else "the declared networks"
        summary = ("%s, but other remote-access services listen: %s; required: every path only from %s"
                   % (absent, some(problems, 3, sep="; ", width=120), limit)
                   if problems else "%s and no other remote-access service listens" % absent)
        findings.append(make_finding(PATHS, "fail" if problems else "pass", "high", "remote access",
                                     dict(evidence, problems=problems), {"every_path_limited_to": networks},
                                     "; ".join(problems), False, summary=summary))
        module.exit_json(changed=False, connection=connection, findings=findings, dropin={"path": params["dropin"]})

    allowed, wanted_algorithms = {}, {}
    if params["algorithms"]:
        for kind, name in ALGORITHM_PARAMS.items():
            if params[name]:
                allowed[kind] = list(params[name])
                known = supported(module, kind)
                wanted_algorithms[kind] = [a for a in params[name] if known is None or a in known]
                if not wanted_algorithms[kind]:
                    module.fail_json(msg="none of the allowed %s is supported by this OpenSSH (ssh -Q %s)"
                                     % (name, iryo_sshd.QUERY_NAMES[kind]))

    users = []
    for user in list(params["admin_users"]) + [connection.get("user"), "root"]:
        if user and user not in users:
            users.append(user)
    extra = [connection["source"]] if connection.get("source") else []

    sshd = Sshd(module, sshd_bin, params["sshd_config"])
    try:
        ev = evaluate(sshd, users, networks, extra)
    except iryo_sshd.SshdError as exc:
        module.fail_json(msg="cannot read sshd's effective configuration: %s" % exc, connection=connection)

    wanted = iryo_sshd.render_dropin(password_auth=params["password_auth"], root_login=params["root_login"],
                                     networks=networks if params["sources"] else None,
                                     algorithms=wanted_algorithms)
    current = None
    if os.path.exists(params["dropin"]):
        with open(params["dropin"]) as handle:
            current = handle.read()
    result = {"changed": False, "connection": connection,
              "dropin": {"path": params["dropin"], "current": current == wanted, "wanted": wanted}}
    if confirmation is not None:
        result.update(confirmation)

    if params["state"] == "enforced" and current != wanted:
        result["changed"] = True
        result["diff"] = {"before_header": params["dropin"], "after_header": params["dropin"],
                          "before": current or "", "after": wanted}
        try:
            verdict = check_candidate(module, sshd_bin, params, wanted, users, networks, extra, connection,
                                      allowed)
        except iryo_sshd.SshdError as exc:
            module.fail_json(msg="refused: the new sshd configuration does not load: %s" % exc, **result)
        result["guard"] = verdict
        if verdict["refusals"]:
            module.fail_json(msg="refused, nothing written: %s" % " ".join(verdict["refusals"]), **result)
        if not module.check_mode:
            commands = []
            result["commands"] = commands
            rollback = rollback_seconds(params, connection)
            try:
                apply(module, sshd, params, current, wanted, commands, connection, rollback)
            except Refused as exc:
                result["changed"] = False
                module.fail_json(msg=str(exc), **result)
            if rollback:
                result["pending_confirmation"] = True
                result["rollback"] = {"unit": ROLLBACK_UNIT, "timeout": rollback}
            sshd.cache.clear()
            ev = evaluate(sshd, users, networks, extra)

    ev_paths = paths_of(ev, connection)
    result["findings"] = build_findings(params, ev, networks, allowed, ev_paths)
    result["effective"] = {k: ev["global"].get(k) for k in REPORTED if k in ev["global"]}
    result["probes"] = ev["probes"]
    module.exit_json(**result)


def check_candidate(module, sshd_bin, params, wanted, users, networks, extra, connection, allowed):
    """Evaluate the configuration the new drop-in would give, in a temporary copy; the guard's verdict."""
    refusals, keys = [], {}
    transport = (connection.get("transport") or "").split(".")[-1]
    if transport in ("ssh", "paramiko", "paramiko_ssh", "smart") and not connection.get("source"):
        refusals.append("Ansible connects over %s but the connection's source address could not be found on the "
                        "host (no SSH_CONNECTION above this process); set connection_source "
                        "(d1_remote_access_connection_source) to the address sshd sees" % transport)
    if connection.get("source") and not connection.get("user"):
        refusals.append("the connecting user is unknown; set connection_user")
    if params["password_auth"] and params["connection_auth"] == "password":
        # Decided by the controller from the real connection (play context, connection options, every password
        # variable); a connection that may authenticate with a password would be cut by PasswordAuthentication no.
        refusals.append("Ansible logs in to this host as %s with a password (%s), and this change turns password "
                        "logins off: give %s an authorized key and connect with the key only, or set "
                        "d1_remote_access_password_auth: false"
                        % (connection.get("user") or "?", params.get("connection_password_source") or "password set",
                           connection.get("user") or "that account"))
    workdir = tempfile.mkdtemp(prefix="iryo-sshd-")
    try:
        main_copy = iryo_sshd.candidate_tree(params["sshd_config"], params["dropin"], wanted, workdir)
        cand = Sshd(module, sshd_bin, main_copy)
        test = cand.validate()
        if test["rc"] != 0:
            raise iryo_sshd.SshdError((test["stderr"] or test["stdout"]).strip())
        ev = evaluate(cand, users, networks, extra)
        ev["effective_for"] = cand.cache
        admins = list(params["admin_users"]) or ([connection["user"]] if connection.get("user") else [])
        more, paths = guard(ev, connection if connection.get("source") and connection.get("user") else None,
                            admins, networks, params["connection_auth"])
        refusals += more
        keys = {}
        if params["password_auth"]:
            # Every declared administrator (and the account Ansible uses) must keep a key login once passwords
            # are off: an AuthorizedKeysFile sshd would read for them, under the new configuration, with a key.
            must_keep = [u for u in list(params["admin_users"]) + [connection.get("user")] if u and u != "root"]
            probe_addr = connection.get("source") or (ev["inside"][0] if ev["inside"] else None)
            for user in dict.fromkeys(must_keep):
                eff = cand.effective(user, probe_addr) if probe_addr else cand.effective()
                keys[user] = iryo_sshd.authorized_key_status(eff, user)
            without = ["%s (%s)" % (u, detail) for u, (ok, detail) in keys.items() if not ok]
            if without:
                refusals.append("turning password logins off would lock out %s: no authorized key sshd would "
                                "accept; install a key for each first, or remove the account from admin_users "
                                "(d1_remote_access_admin_users)" % "; ".join(without))
        # The drop-in must take effect: sshd_config that sets values before its Include wins over it.
        not_effective = []
        if params["password_auth"] and judge_password(ev):
            not_effective += judge_password(ev)
        if params["root_login"] and judge_root(ev):
            not_effective += judge_root(ev)
        if params["sources"] and networks and judge_sources(ev, networks):
            not_effective += judge_sources(ev, networks)
        if allowed and judge_algorithms(ev, allowed):
            not_effective.append("algorithms: %s" % judge_algorithms(ev, allowed))
        if not_effective:
            refusals.append("the drop-in would not take effect (does %s include %s at its top, before any "
                            "other keyword?): %s" % (params["sshd_config"], os.path.dirname(params["dropin"]),
                                                     "; ".join(not_effective)))
    finally:
        iryo_sshd.remove_tree(workdir)
    return {"refusals": refusals, "admin_paths": paths, "connection": connection,
            "authorized_keys": {u: {"has_key": ok, "detail": d} for u, (ok, d) in keys.items()}}


def backup(params, current):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = os.path.join(params["backup_dir"], stamp)
    n = 0
    while os.path.exists(folder):
        n += 1
        folder = os.path.join(params["backup_dir"], "%s-%d" % (stamp, n))
    os.makedirs(folder, 0o700)
    path = os.path.join(folder, params["dropin"].lstrip("/"))
    os.makedirs(os.path.dirname(path), 0o700)
    if current is None:
        path += ".absent"
        open(path, "w").close()
    else:
        shutil.copy2(params["dropin"], path)
    return path


def run(module, argv, what):
    try:
        rc, out, err = module.run_command(argv, environ_update=ENV)
    except (OSError, IOError) as exc:
        rc, out, err = 127, "", str(exc)
    return {"what": what, "cmd": argv, "rc": rc, "stdout": out, "stderr": err}


ROLLBACK_UNIT = "iryo-guard-sshd-rollback"
SSH_TRANSPORTS = ("ssh", "paramiko", "paramiko_ssh", "smart")


def rollback_seconds(params, connection):
    """Seconds of the restore timer for this change; 0 when no SSH connection can be cut by it."""
    transport = (connection.get("transport") or "").split(".")[-1]
    if params["rollback_timeout"] <= 0 or transport not in SSH_TRANSPORTS:
        return 0
    return params["rollback_timeout"]


def restore_script(module, params, current, saved):
    """What the timer runs: the previous drop-in back, then sshd reloaded by the SYSTEM's reload (never
    reload_command, an input that may be what broke the login)."""
    q = shlex.quote
    dropin = params["dropin"]
    if current is None:
        put_back = "rm -f -- %s" % q(dropin)
    else:
        put_back = "cp -p -- %s %s && mv -f -- %s %s" % (q(saved), q(dropin + ".iryo-rollback"),
                                                         q(dropin + ".iryo-rollback"), q(dropin))
    reload_cmd = " ".join(q(a) for a in default_reload_argv(module))
    return ("#!/bin/sh\n# iryo-guard sshd_hardening: the change was not confirmed over a new SSH connection; put the "
            "previous drop-in back.\n%s\n%s\n" % (put_back, reload_cmd))


def arm(module, params, current, saved, seconds, commands):
    """A transient systemd timer that restores the previous drop-in unless disarm() runs first (nft_firewall's
    "commit confirmed"): armed BEFORE the new drop-in is written, so a connection lost in the middle of the change
    is covered too."""
    systemd_run = module.get_bin_path("systemd-run")
    if not systemd_run or not module.get_bin_path("systemctl"):
        raise Refused("rollback_timeout=%d needs systemd-run for the restore timer and it is not here; nothing "
                      "written (rollback_timeout=0 applies without it, only from a console)" % seconds)
    disarm(module)
    script = os.path.join(params["backup_dir"], "rollback.sh")
    write_text_atomically(module, script, restore_script(module, params, current, saved), new_mode=0o700)
    done = run(module, [systemd_run, "--unit", ROLLBACK_UNIT, "--on-active=%ds" % seconds,
                        "--timer-property=AccuracySec=1s",
                        "--description=iryo-guard: restore the previous sshd drop-in unless the change is confirmed",
                        "/bin/sh", script], "arm restore timer (%d s)" % seconds)
    commands.append(done)
    if done["rc"] != 0:
        raise Refused("cannot arm the restore timer (%s); nothing written" % (done["stderr"] or done["stdout"]).strip())


def disarm(module):
    """Stop the restore timer; True when it was still waiting (the change is now confirmed)."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return False
    rc, _, _ = module.run_command([systemctl, "is-active", "--quiet", ROLLBACK_UNIT + ".timer"])
    module.run_command([systemctl, "stop", ROLLBACK_UNIT + ".timer"])
    module.run_command([systemctl, "reset-failed", ROLLBACK_UNIT + ".timer", ROLLBACK_UNIT + ".service"])
    return rc == 0


def apply(module, sshd, params, current, wanted, commands, connection, rollback=0):
    """Back up, (arm the restore timer,) write, validate, reload, check; restore on any failure (raises Refused)."""
    saved = backup(params, current)
    commands.append({"what": "backup", "cmd": [], "rc": 0, "stdout": saved, "stderr": ""})
    if rollback:
        arm(module, params, current, saved, rollback, commands)

    def restore(why):
        if rollback:
            disarm(module)
        if current is None:
            if os.path.exists(params["dropin"]):
                os.unlink(params["dropin"])
        else:
            write_text_atomically(module, params["dropin"], current)
        note = ""
        if reload_cmd:
            again = run(module, reload_cmd, "reload previous configuration")
            commands.append(again)
            note = " sshd reloaded with the previous configuration (rc %d)." % again["rc"]
        raise Refused("%s; the previous drop-in was restored (backup %s).%s" % (why, saved, note))

    os.makedirs(os.path.dirname(params["dropin"]), exist_ok=True)
    reload_cmd = None
    try:
        write_text_atomically(module, params["dropin"], wanted, new_mode=0o644)
    except (IOError, OSError) as exc:
        # temporary file + rename: a failed write (full disk, read-only folder) leaves the drop-in as it was
        if rollback:
            disarm(module)
        raise Refused("%s; the previous drop-in is unchanged, sshd not reloaded"
                      % failure_line(params["dropin"], exc)) from None
    check = sshd.validate()
    check["what"] = "validate"
    commands.append(check)
    if check["rc"] != 0:
        restore("sshd -t refused the configuration: %s" % (check["stderr"] or check["stdout"]).strip())
    reload_cmd = reload_argv(module)
    if reload_cmd:
        done = run(module, reload_cmd, "reload")
        commands.append(done)
        if done["rc"] != 0:
            restore("%s failed: %s" % (" ".join(reload_cmd), (done["stderr"] or done["stdout"]).strip()))
    if connection.get("source") and connection.get("user"):
        sshd.cache.clear()
        try:
            eff = sshd.effective(connection["user"], connection["source"])
        except iryo_sshd.SshdError as exc:
            restore("sshd -T failed after the reload: %s" % exc)
        allowed, reasons = iryo_sshd.login_decision(eff, connection["user"], user_groups(connection["user"]),
                                                    connection["source"], auth=params["connection_auth"])
        if not allowed:
            restore("after the reload sshd would refuse %s from %s: %s"
                    % (connection["user"], connection["source"], "; ".join(reasons)))


if __name__ == "__main__":
    main()
