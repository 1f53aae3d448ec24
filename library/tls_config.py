#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tls_config
short_description: Audit and enforce the TLS configuration of nginx and Apache httpd (MHLW GL 5.2 §6.11 C.11)
description:
  - Reads the web server's configuration from its main file, following every C(include) /
    C(Include)/C(IncludeOptional) (globs, directories, symlinked sites), and finds every TLS server,
    that is an nginx C(server{}) in C(http{}) that listens with C(ssl) (or shares an address:port with one
    that does, or says C(ssl on)), an Apache C(<VirtualHost>) with C(SSLEngine on).
  - For each TLS server it works out where each setting takes effect (the server block itself, the
    nginx C(http{}) block or Apache's server-wide level it inherits from, or the built-in default)
    and compares it with the wanted value. Options left unset are neither audited nor changed.
  - Edits are minimal text edits that keep comments and layout. A directive is replaced where it
    lives, in the scope it takes effect from (e.g. Debian's C(ssl_protocols) in the C(http{}) block
    of C(nginx.conf)); duplicates at that level are commented out, because nginx merges duplicate
    C(ssl_protocols) instead of letting the second one narrow the first; a missing directive is
    added to the server block after its last C(ssl_*) directive.
  - O(state=audit) only reports. O(state=enforced) writes the changed files (after backing each
    up into O(backup_dir), atomically), validates the configuration (C(nginx -t), C(apache2ctl -t))
    and reloads the server. When validation fails every file is restored and the server is not
    reloaded; when the reload fails every file is restored and the server reloaded again, so it
    keeps serving the old configuration. Either way the task fails with the validator's message.
  - In check mode (and with O(state=audit)) nothing is written; C(diff) holds the exact change
    per file that O(state=enforced) would make.
  - Returns findings in the iryo-guard schema (check C(c11.tls.server_config)), one per TLS server,
    or one C(not_applicable) finding when the host has no TLS server.
version_added: "0.1.0"
author:
  - iryo-guard developers
options:
  server:
    description:
      - Which web server to handle. V(auto) handles every one whose main configuration file exists
        (C(/etc/nginx/nginx.conf), C(/etc/apache2/apache2.conf) or C(/etc/httpd/conf/httpd.conf)).
    type: str
    choices: [auto, nginx, apache]
    default: auto
  state:
    description:
      - V(audit) reports and never changes anything; V(enforced) makes the configuration match.
    type: str
    choices: [audit, enforced]
    default: audit
  config_root:
    description:
      - The main configuration file. Needs O(server=nginx) or O(server=apache).
      - Relative nginx includes resolve against its folder, Apache includes against C(ServerRoot).
    type: path
  protocols:
    description:
      - The protocol versions to allow, e.g. V([TLSv1.3]) or V([TLSv1.2, TLSv1.3]).
      - Compared as a set with what the server enables (nginx merges duplicate C(ssl_protocols)).
    type: list
    elements: str
  tls12_ciphers:
    description:
      - Suites for TLS 1.2 and below, in preference order. IANA names (V(TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        as in the profiles) are converted to OpenSSL names; OpenSSL names and cipher-string elements
        pass unchanged. Written as one OpenSSL cipher string (C(ssl_ciphers), C(SSLCipherSuite)).
      - The current value matches when it is the same string or selects the same suites in the same
        order with the host's OpenSSL (via Python's C(ssl) module).
    type: list
    elements: str
  tls13_ciphersuites:
    description:
      - TLS 1.3 suites in preference order (RFC 8446 names). nginx C(ssl_conf_command Ciphersuites)
        (nginx >= 1.19.4), Apache C(SSLCipherSuite TLSv1.3) (httpd >= 2.4.36).
    type: list
    elements: str
  groups:
    description:
      - Key exchange groups in preference order, TLS names (V(x25519), V(secp256r1), V(ffdhe2048)).
        Written as C(ssl_ecdh_curve) / C(SSLOpenSSLConfCmd Curves) with NIST spellings (V(P-256)).
    type: list
    elements: str
  dhparam:
    description:
      - Path of an existing DH parameters file for DHE suites (C(ssl_dhparam), C(SSLOpenSSLConfCmd
        DHParameters)). The module never generates one; a missing file is reported and not referenced.
    type: path
  prefer_server_ciphers:
    description: Server cipher preference (C(ssl_prefer_server_ciphers), C(SSLHonorCipherOrder)).
    type: bool
  session_tickets:
    description: TLS session tickets (C(ssl_session_tickets), C(SSLSessionTickets)).
    type: bool
  compression:
    description:
      - TLS compression (C(SSLCompression)). nginx always turns it off and has no directive.
    type: bool
  verify_client:
    description:
      - Client-certificate verification. V(required) is C(ssl_verify_client on) / C(SSLVerifyClient require).
      - With O(state=enforced), V(required) and V(optional) need O(client_ca_file).
    type: str
    choices: [required, optional, optional_no_ca, none]
  client_ca_file:
    description:
      - CA certificates that client certificates must chain to (C(ssl_client_certificate),
        C(SSLCACertificateFile)). A file that does not exist makes validation fail, and the
        enforcement is rolled back.
    type: path
  verify_depth:
    description:
      - How many CA certificates may sit between a client certificate and the CA in O(client_ca_file)
        (C(ssl_verify_depth), C(SSLVerifyDepth); both default to 1, i.e. no intermediate CA).
    type: int
  hsts:
    description:
      - The Strict-Transport-Security header value, e.g. V(max-age=63072000; includeSubDomains), or a
        number of seconds. nginx C(add_header ... always) (also in locations that have C(add_header)
        of their own, since those do not inherit it); Apache C(Header always set), needs mod_headers.
    type: str
  validate_command:
    description:
      - Command that validates the whole configuration (a list, or a string split like a shell).
      - Default C(nginx -t -c CONFIG_ROOT); C(apache2ctl -t) (or C(apachectl -t), C(httpd -t)),
        with C(-f CONFIG_ROOT) when the main file is not the default one.
    type: raw
  reload_command:
    description:
      - Command that makes the running server load the new configuration. Default
        C(systemctl try-reload-or-restart nginx) / C(apache2) / C(httpd) (reloads a running service,
        leaves a stopped one stopped). An empty string skips the reload.
    type: raw
  check_id:
    description:
      - The check id of the findings. V(c10.tls.server_config) for the web server of a patient-facing endpoint
        judged under clause C.10 (not a C.11 endpoint, e.g. a CRYPTREC profile); V(c11.tls.server_config) otherwise.
    type: str
    choices: [c11.tls.server_config, c10.tls.server_config]
    default: c11.tls.server_config
  backup_dir:
    description:
      - Where the original of every changed file is copied first, as C(BACKUP_DIR/TIMESTAMP/ABSOLUTE/PATH).
        Never next to the file, since C(include sites-enabled/*) would load the backup too.
    type: path
    default: /var/backups/iryo-guard/tls_config
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: C(diff) is a list with one entry per changed file (before and after text).
notes:
  - Conditional Apache sections other than C(<IfModule>) (C(<IfDefine>), C(<IfVersion>), ...) are read
    as true. nginx C(mail{}) and C(stream{}) servers are not handled.
  - nginx before 1.29.2 picks the protocol version before SNI, so the default server of an
    address:port decides the versions for every server on it; the report shows that as
    C(negotiated_by).
  - The line of a server block in a finding's target is its line at the time of the run; an edit
    above it in the same file moves it.
"""

EXAMPLES = r"""
- name: C.11 | AUDIT | c11.tls.server_config | TLS settings of nginx / Apache
  tls_config:
    protocols: [TLSv1.3]
    tls13_ciphersuites: [TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256]
    verify_client: required
    client_ca_file: /etc/ssl/hospital-client-ca.pem

- name: C.11 | HARDEN | c11.tls.server_config | Enforce the mhlw-c11-tls12 profile on nginx
  tls_config:
    server: nginx
    state: enforced
    protocols: [TLSv1.2, TLSv1.3]
    tls12_ciphers: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
    tls13_ciphersuites: [TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]
    groups: [x25519, secp256r1, secp384r1]
    prefer_server_ciphers: true
    session_tickets: false
    verify_client: required
    client_ca_file: /etc/ssl/hospital-client-ca.pem
    hsts: "max-age=63072000; includeSubDomains"

- name: A test tree, validated and reloaded with its own commands
  tls_config:
    server: nginx
    state: enforced
    config_root: /srv/nginx-test/conf/nginx.conf
    protocols: [TLSv1.3]
    validate_command: nginx -t -p /srv/nginx-test -c conf/nginx.conf
    reload_command: nginx -s reload -p /srv/nginx-test -c conf/nginx.conf
"""

RETURN = r"""
servers:
  description: One entry per TLS server block / virtual host, as found before any change.
  returned: always
  type: list
  elements: dict
  contains:
    server: {description: nginx or apache, type: str}
    file: {description: File of the server block (symlinks resolved), type: str}
    line: {description: Line of the block's opening, type: int}
    target: {description: The finding's target, C(nginx FILE:LINE NAME), type: str}
    server_name: {description: server_name / ServerName and ServerAlias values, type: list}
    listen: {description: listen arguments / VirtualHost addresses, type: list}
    settings:
      description: >-
        Per option: current, wanted, ok, level (server, http, vhost, global, default, built-in),
        set_at (FILE:LINE of the directives that decide it), and where relevant unfixable (why
        enforcement will not write it), overridden_in (nginx locations with their own add_header),
        negotiated_by (the default server that picks protocol versions for a shared address:port).
      type: dict
    mismatches: {description: Options whose current value does not match, type: list}
    unfixable: {description: Option -> reason enforcement leaves it alone, type: dict}
  sample:
    - server: nginx
      file: /etc/nginx/sites-available/portal-tls
      line: 5
      target: nginx /etc/nginx/sites-available/portal-tls:5 portal.lab.iryo
      settings:
        protocols: {current: [TLSv1, TLSv1.1, TLSv1.2], wanted: [TLSv1.3], ok: false, level: server,
                    set_at: ["/etc/nginx/sites-available/portal-tls:11"]}
      mismatches: [protocols]
changes:
  description: >-
    One entry per edit, C({file, line, setting, action, before, after}); action is C(replace),
    C(add) (C(line) is the original line the new one goes before) or C(comment_out_duplicate).
  returned: always
  type: list
  elements: dict
diff:
  description: Per changed file C(before_header), C(after_header), C(before), C(after) (full texts).
  returned: when an edit is or would be made
  type: list
  elements: dict
config_files:
  description: Every configuration file read (real paths).
  returned: always
  type: list
  elements: str
backup_files:
  description: C({path, backup}) for every file written.
  returned: when files were written
  type: list
  elements: dict
commands:
  description: The validation and reload commands run, with rc, stdout and stderr.
  returned: when files were written
  type: list
  elements: dict
findings:
  description: Findings in the iryo-guard schema; after a successful enforcement they describe the new files.
  returned: always
  type: list
  elements: dict
"""

import hashlib
import os
import shlex
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_findings import make_finding
from ansible.module_utils import iryo_apache, iryo_nginx
from ansible.module_utils.iryo_tlsconf import (SETTINGS, ConfigError, WantedError, build_wanted, encode_text,
                                               matches, plan)

CHECK = "c11.tls.server_config"
# The same check for the web servers of patient-facing endpoints outside C.11 (clause C.10): a CRYPTREC
# profile judged there must never read as a C.11 pass.
C10_CHECK = "c10.tls.server_config"
ENV = {"LANG": "C", "LC_ALL": "C"}
ADAPTERS = {"nginx": iryo_nginx.Adapter, "apache": iryo_apache.Adapter}


class EnforcementError(Exception):
    pass


def config_roots(module):
    server, root = module.params["server"], module.params["config_root"]
    if root:
        if server == "auto":
            module.fail_json(msg="config_root needs server=nginx or server=apache")
        if not os.path.isfile(root):
            module.fail_json(msg="config_root %s does not exist" % root)
        return [(server, root)]
    found = []
    if server in ("auto", "nginx") and os.path.isfile(iryo_nginx.DEFAULT_CONFIG):
        found.append(("nginx", iryo_nginx.DEFAULT_CONFIG))
    if server in ("auto", "apache"):
        apache = [p for p in iryo_apache.DEFAULT_CONFIGS if os.path.isfile(p)]
        if apache:
            found.append(("apache", apache[0]))
    if server != "auto" and not found:
        module.fail_json(msg="no %s configuration found (%s); set config_root" % (
            server, iryo_nginx.DEFAULT_CONFIG if server == "nginx" else " or ".join(iryo_apache.DEFAULT_CONFIGS)))
    return found


def as_argv(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return shlex.split(str(value))


def default_commands(module, kind, root):
    if kind == "nginx":
        validate = [module.get_bin_path("nginx") or "nginx", "-t", "-c", root]
        unit = "nginx"
    else:
        binary = next((b for b in (module.get_bin_path(n) for n in ("apache2ctl", "apachectl", "httpd")) if b),
                      "apache2ctl")
        validate = [binary, "-t"]
        if root not in iryo_apache.DEFAULT_CONFIGS:
            validate += ["-f", root]
        unit = "httpd" if root == iryo_apache.DEFAULT_CONFIGS[1] else "apache2"
    reload_cmd = [module.get_bin_path("systemctl") or "systemctl", "try-reload-or-restart", unit]
    return validate, reload_cmd


def run(module, argv, what):
    try:
        rc, out, err = module.run_command(argv, environ_update=ENV, handle_exceptions=False)
    except (OSError, IOError) as exc:
        rc, out, err = 127, "", "cannot run %s: %s" % (argv[0], exc)
    return {"what": what, "cmd": argv, "rc": rc, "stdout": out, "stderr": err}


def output(result):
    text = (result["stderr"] or "").strip() or (result["stdout"] or "").strip() or "no output"
    return "%s exited %d: %s" % (" ".join(result["cmd"]), result["rc"], text)


def sha1(data):
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - an integrity check of our own copy, not security


def write_atomic(module, path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".iryo-tls_config.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def backup(module, paths, backup_dir):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder, n = os.path.join(backup_dir, stamp), 0
    while os.path.exists(folder):
        n += 1
        folder = os.path.join(backup_dir, "%s-%d" % (stamp, n))
    os.makedirs(folder, 0o700)
    backups = {}
    for path in paths:
        target = os.path.join(folder, path.lstrip("/"))
        if not os.path.isdir(os.path.dirname(target)):
            os.makedirs(os.path.dirname(target), 0o700)
        with open(path, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
        os.chmod(target, 0o600)
        backups[path] = target
    return folder, backups


def restore(module, backups, originals):
    """Put every file back from its backup; returns the files whose bytes still differ."""
    bad = []
    for path, copy in backups.items():
        with open(copy, "rb") as handle:
            data = handle.read()
        write_atomic(module, path, data)
        with open(path, "rb") as handle:
            if sha1(handle.read()) != sha1(originals[path]):
                bad.append(path)
    return bad


def enforce(module, kind, root, edits, results):
    """Back up, write, validate, reload; on failure restore and raise EnforcementError."""
    originals = dict((path, encode_text(e.text)) for path, e in edits.items())
    for path in edits:  # the file must still be what was parsed
        with open(path, "rb") as handle:
            if handle.read() != originals[path]:
                raise EnforcementError("%s changed while the module ran; nothing was written" % path)
    validate, reload_cmd = default_commands(module, kind, root)
    if module.params["validate_command"] not in (None, "", []):
        validate = as_argv(module.params["validate_command"])
    if module.params["reload_command"] is not None:
        reload_cmd = as_argv(module.params["reload_command"])
    before = run(module, validate, "validate before")
    results["commands"].append(before)
    if before["rc"] != 0:
        raise EnforcementError("the %s configuration does not validate even before any change, so nothing was "
                               "written: %s" % (kind, output(before)))
    folder, backups = backup(module, sorted(edits), module.params["backup_dir"])
    results["backup_files"].extend({"path": p, "backup": b} for p, b in sorted(backups.items()))
    written = []
    try:
        for path, e in sorted(edits.items()):
            write_atomic(module, path, encode_text(e.apply()))
            written.append(path)
    except Exception as exc:
        bad = restore(module, dict((p, backups[p]) for p in written), originals)
        still = "; STILL DIFFERENT: %s" % ", ".join(bad) if bad else ""
        raise EnforcementError("writing %s failed (%s); restored %s%s"
                               % (path, exc, ", ".join(written) or "nothing", still)) from exc

    check = run(module, validate, "validate")
    results["commands"].append(check)
    if check["rc"] != 0:
        bad = restore(module, backups, originals)
        raise EnforcementError(
            "%s configuration did not validate, so it was not reloaded: %s. Restored %d file(s) from %s; "
            "the server still runs its previous configuration.%s" % (
                kind, output(check), len(backups), folder,
                " RESTORE FAILED for %s" % ", ".join(bad) if bad else ""))
    if reload_cmd:
        reloaded = run(module, reload_cmd, "reload")
        results["commands"].append(reloaded)
        if reloaded["rc"] != 0:
            bad = restore(module, backups, originals)
            again = run(module, reload_cmd, "reload previous configuration")
            results["commands"].append(again)
            raise EnforcementError(
                "%s reload failed: %s. Restored %d file(s) and reloaded the previous configuration (%s)%s" % (
                    kind, output(reloaded), len(backups),
                    "ok" if again["rc"] == 0 else "ALSO FAILED: " + output(again),
                    "; RESTORE FAILED for %s" % ", ".join(bad) if bad else ""))


# Words for a setting's value in a summary, where the directive itself would be a long list.
LIST_WORDS = {"tls12_ciphers": "TLS 1.2 suites", "tls13_ciphersuites": "TLS 1.3 suites",
              "groups": "key exchange groups"}
# What the engineer does about a setting enforcement leaves alone (the remediation has the whole reason).
UNFIXABLE_SHORT = {"hsts": "HSTS needs a2enmod headers",
                   "dhparam": "create the dhparam file (openssl dhparam)",
                   "compression": "nginx cannot turn TLS compression on"}
# A summary names at most two settings: the ones C.11 is about first (versions, client certificates).
SUMMARY_ORDER = ("protocols", "verify_client", "handshake_verify", "client_ca_file", "tls13_ciphersuites",
                 "tls12_ciphers", "groups")


def short_place(where):
    """'/etc/nginx/sites-available/portal:5' -> 'sites-available/portal:5' (folder and file are enough to find it)."""
    path, sep, line = where.rpartition(":")
    if not sep or not line.isdigit():
        path, line = where, ""
    return "/".join(path.split("/")[-2:]) + (":" + line if line else "")


def directive(adapter, setting, value):
    """The directive as written for ``value``, without nginx's ';' (in words when the server has none:
    nginx has no TLS compression directive)."""
    try:
        return adapter.render(setting, value).rstrip(";")
    except ValueError:
        return "%s %s" % (setting.replace("_", " "), "on" if value is True else "off" if value is False else value)


def seen(setting, entry, adapter):
    """What the server has for one mismatching setting, in a few words (no lists or dicts)."""
    current, wanted = entry["current"], entry["wanted"]
    # the directive that decides: the last one (httpd: the last one wins; nginx merges only ssl_protocols)
    place = " via %s" % short_place(entry["set_at"][-1]) if entry.get("set_at") else ""
    decided = entry.get("negotiated_by") or []
    if decided and matches(setting, current, wanted):
        # its own value is right, but clients get the default server's (nginx < 1.29.2, Apache groups)
        return "gets its %s from the default server %s" % (
            LIST_WORDS.get(setting, setting.replace("_", " ")), decided[0]["default_server"].split(" ")[-1])
    if entry.get("overridden_in") and matches(setting, current, wanted):
        return "has no %s in %s" % (directive(adapter, setting, wanted).split(" ")[0],
                                    short_place(entry["overridden_in"][0]["at"]))
    if setting == "protocols" and current:
        extra = [p for p in current if p not in wanted]
        if extra:
            return "enables %s%s" % (" ".join(extra), place)
        return "lacks %s%s" % (" ".join(p for p in wanted if p not in current), place)
    if setting == "verify_client" and current == "none":
        return "asks for no client certificate"
    if setting == "handshake_verify":
        return "lets clients without a certificate finish the handshake"
    if setting == "hsts":
        return "sends no HSTS header" if not current else "sends a weaker HSTS header (%s)%s" % (current, place)
    if current is None:
        return "lacks %s" % directive(adapter, setting, wanted).split(" ")[0]
    if setting in LIST_WORDS:
        return "uses other %s" % LIST_WORDS[setting]
    return "has %s" % directive(adapter, setting, current)


def summary(report, wanted, adapter):
    """One sentence an engineer acts on: the server, what it has against what is wanted, what enforce sets."""
    who = "%s %s %s (%s:%d)" % (adapter.kind, "vhost" if adapter.kind == "apache" else "server",
                                 report["target"].split(" ")[-1], report["file"].rsplit("/", 1)[-1], report["line"])
    settings = report["settings"]
    if not report["mismatches"]:
        return "%s has every audited TLS setting as wanted (%s)" % (
            who, ", ".join(directive(adapter, s, wanted[s]) for s in ("protocols", "verify_client") if s in wanted))
    rank = {}
    for i, name in enumerate(SUMMARY_ORDER + SETTINGS):
        rank.setdefault(name, i)
    mismatches = sorted(report["mismatches"], key=rank.get)
    text = "%s %s" % (who, " and ".join(seen(s, settings[s], adapter) for s in mismatches[:2]))
    fixable = [s for s in mismatches if s not in report["unfixable"]]
    if fixable:
        first = directive(adapter, fixable[0], wanted[fixable[0]])
        first = first if len(first) <= 30 else first.split(" ")[0]
        rest = len(fixable) - 1
        text += "; enforce sets %s%s" % (first, " and %d more" % rest if rest else "")
    unfixable = [s for s in mismatches if s in report["unfixable"]]
    if unfixable:
        text += "; %s" % UNFIXABLE_SHORT.get(unfixable[0], report["unfixable"][unfixable[0]])
    return text


def finding(report, wanted, adapter):
    settings = report["settings"]
    evidence = {
        "file": report["file"], "line": report["line"], "server_name": report["server_name"],
        "listen": report["listen"],
        "current": dict((s, e["current"]) for s, e in settings.items()),
        "set_at": dict((s, e["set_at"]) for s, e in settings.items() if e["set_at"]),
        "mismatches": report["mismatches"],
    }
    for s, e in settings.items():
        for extra in ("overridden_in", "negotiated_by"):
            if extra in e:
                evidence.setdefault(extra, {})[s] = e[extra]
    if report["unfixable"]:
        evidence["unfixable"] = report["unfixable"]
    expected = dict((s, wanted[s]) for s in SETTINGS if s in wanted)
    if not report["mismatches"]:
        return make_finding(CHECK, "pass", "high", report["target"], evidence, expected, "", True,
                            summary=summary(report, wanted, adapter))
    fixable = [s for s in report["mismatches"] if s not in report["unfixable"]]
    parts = []
    if fixable:
        parts.append("Enforce with tls_config state=enforced (C.11 hardening), which sets: %s"
                     % "  ".join(adapter.render(s, wanted[s]) for s in fixable))
    parts.extend(report["unfixable"][s] for s in report["mismatches"] if s in report["unfixable"])
    return make_finding(CHECK, "fail", "high", report["target"], evidence, expected, " ".join(parts),
                        not report["unfixable"], summary=summary(report, wanted, adapter))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            server=dict(type="str", default="auto", choices=["auto", "nginx", "apache"]),
            state=dict(type="str", default="audit", choices=["audit", "enforced"]),
            config_root=dict(type="path"),
            protocols=dict(type="list", elements="str"),
            tls12_ciphers=dict(type="list", elements="str"),
            tls13_ciphersuites=dict(type="list", elements="str"),
            groups=dict(type="list", elements="str"),
            dhparam=dict(type="path"),
            prefer_server_ciphers=dict(type="bool"),
            session_tickets=dict(type="bool"),
            compression=dict(type="bool"),
            verify_client=dict(type="str", choices=["required", "optional", "optional_no_ca", "none"]),
            client_ca_file=dict(type="path"),
            verify_depth=dict(type="int"),
            hsts=dict(type="str"),
            validate_command=dict(type="raw"),
            reload_command=dict(type="raw"),
            backup_dir=dict(type="path", default="/var/backups/iryo-guard/tls_config"),
            check_id=dict(type="str", default=CHECK, choices=[CHECK, C10_CHECK]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        wanted = build_wanted(params)
    except WantedError as exc:
        module.fail_json(msg="tls_config: %s" % exc)
    enforcing = params["state"] == "enforced"
    if enforcing and params["verify_client"] in ("required", "optional") and not params["client_ca_file"]:
        module.fail_json(msg="verify_client=%s needs client_ca_file (the CA client certificates must chain to)"
                         % params["verify_client"])
    if not wanted:
        module.fail_json(msg="tls_config: no setting to audit or enforce was given")

    roots = config_roots(module)
    if len(roots) > 1 and (params["validate_command"] or params["reload_command"] is not None):
        module.fail_json(msg="validate_command/reload_command need server=nginx or server=apache "
                             "(this host has both %s)" % " and ".join(k for k, _ in roots))
    results = {"servers": [], "changes": [], "diff": [], "config_files": [], "backup_files": [], "commands": []}
    findings, changed, failures = [], False, []
    for kind, root in roots:
        try:
            adapter = ADAPTERS[kind](root)
            reports, edits = plan(adapter, wanted)
        except ConfigError as exc:
            module.fail_json(msg="cannot read the %s configuration: %s" % (kind, exc), **results)
        results["config_files"].extend(sorted(adapter.texts))
        results["servers"].extend(reports)
        for path, e in sorted(edits.items()):
            results["changes"].extend(e.descriptions)
            results["diff"].append({"before_header": path, "after_header": path, "before": e.text,
                                    "after": e.apply()})
        if edits and enforcing and not module.check_mode:
            try:
                enforce(module, kind, root, edits, results)
            except EnforcementError as exc:
                failures.append(str(exc))
                findings.extend(finding(r, wanted, adapter) for r in reports)
                continue
            changed = True
            try:
                adapter = ADAPTERS[kind](root)
                reports, left = plan(adapter, wanted)
            except ConfigError as exc:
                failures.append("the %s configuration written cannot be read back: %s" % (kind, exc))
                continue
            if left:
                module.warn("%s: enforcement left edits undone in %s" % (kind, ", ".join(sorted(left))))
        elif edits and enforcing:
            changed = True
        findings.extend(finding(r, wanted, adapter) for r in reports)
        if not reports:
            findings.append(make_finding(
                CHECK, "not_applicable", "high", "%s %s" % (kind, adapter.config.main),
                {"config_files": sorted(adapter.texts), "tls_servers": 0},
                dict((s, wanted[s]) for s in SETTINGS if s in wanted), "", False,
                summary="%s configuration %s has no TLS server block (%d files read); nothing to audit"
                        % (kind, adapter.config.main, len(adapter.texts))))
    if not roots:
        findings.append(make_finding(
            CHECK, "not_applicable", "high", "tls_config",
            {"searched": [iryo_nginx.DEFAULT_CONFIG] + list(iryo_apache.DEFAULT_CONFIGS)}, {}, "", False,
            summary="no nginx or Apache configuration on this host (looked for %s)"
                    % ", ".join([iryo_nginx.DEFAULT_CONFIG] + list(iryo_apache.DEFAULT_CONFIGS))))
    if not results["diff"]:
        del results["diff"]
    for item in findings:
        item["check"] = params["check_id"]
    if failures:
        module.fail_json(msg=" ".join(failures), changed=changed, findings=findings, **results)
    module.exit_json(changed=changed, findings=findings, **results)


if __name__ == "__main__":
    main()
