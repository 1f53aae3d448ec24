# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the tls_config module (library/tls_config.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import shlex
import tempfile
import time

from ansible.module_utils.iryo_findings import make_finding
from ansible.module_utils import iryo_apache, iryo_nginx
from ansible.module_utils.iryo_tlsconf import (SETTINGS, ConfigError, WantedError, build_wanted, encode_text,
                                               matches, plan)

CHECK = "c11.tls.server_config"
# The same check for the web servers of patient-facing endpoints outside C.11 (clause C.10): a CRYPTREC
# profile judged there must never read as a C.11 pass.
C10_CHECK = "c10.tls.server_config"
CHECKS = (CHECK, C10_CHECK)
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
    text = " ".join(text.split())  # one line: the error is a summary, the whole output stays in "commands"
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
            # Again just before the rename: another writer may have changed it since (e.g. while
            # "validate before" ran); renaming ours over it would drop that edit silently.
            with open(path, "rb") as handle:
                if handle.read() != originals[path]:
                    raise EnforcementError("%s changed by another writer while the module ran, left as that writer "
                                           "made it; restored %s" % (path, ", ".join(written) or "nothing else"))
            write_atomic(module, path, encode_text(e.apply()))
            written.append(path)
    except EnforcementError as exc:
        bad = restore(module, dict((p, backups[p]) for p in written), originals)
        if bad:
            raise EnforcementError("%s; STILL DIFFERENT: %s" % (exc, ", ".join(bad))) from None
        raise
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
            "%s configuration did not validate, so it was not reloaded: %s. Restored %d file(s) (%s) from %s; "
            "the server still runs its previous configuration.%s" % (
                kind, output(check), len(backups), ", ".join(sorted(backups)), folder,
                " RESTORE FAILED for %s" % ", ".join(bad) if bad else ""))
    if reload_cmd:
        reloaded = run(module, reload_cmd, "reload")
        results["commands"].append(reloaded)
        if reloaded["rc"] != 0:
            bad = restore(module, backups, originals)
            again = run(module, reload_cmd, "reload previous configuration")
            results["commands"].append(again)
            raise EnforcementError(
                "%s reload failed: %s. Restored %d file(s) (%s) and reloaded the previous configuration (%s)%s" % (
                    kind, output(reloaded), len(backups), ", ".join(sorted(backups)),
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


ARGUMENT_SPEC = dict(
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
)
MODULE_KWARGS = {}


def run_module(module):
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

