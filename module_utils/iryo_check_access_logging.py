# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the access_logging module (library/access_logging.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import time

from ansible.module_utils.iryo_findings import make_finding, some
from ansible.module_utils.iryo_files import write_text_atomically
from ansible.module_utils import iryo_apache, iryo_journald, iryo_nginx
from ansible.module_utils.iryo_tlsconf import ConfigError, TextEdits

ACCESS = "c10.monitoring.access_logs"
JOURNAL = "c10.monitoring.journal_persistent"
FORWARD = "c10.monitoring.log_forwarding"
CHECKS = (ACCESS, JOURNAL, FORWARD)
ENV = {"LANG": "C", "LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}
JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/60-iryo-guard.conf"
RSYSLOG_DROPIN = "/etc/rsyslog.d/60-iryo-guard-forward.conf"
NGINX_LOG = "access_log /var/log/nginx/access.log;"


class Failed(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# web servers

def locations_off(block, found=None):
    """nginx location/if blocks below ``block`` that turn the access log off (evidence only)."""
    found = [] if found is None else found
    for node in iryo_nginx.scope(block):
        if node.kind == "block" and node.name in ("location", "if"):
            if any(n.name == "access_log" and n.args[:1] == ["off"] for n in iryo_nginx.scope(node)):
                found.append("%s %s (%s)" % (node.name, " ".join(node.args), node.where()))
            locations_off(node, found)
    return found


def nginx_servers(root):
    """[(report, edit plan)] for every TLS server of nginx."""
    adapter = iryo_nginx.Adapter(root)
    out = []
    for server in adapter.servers:
        own = [n for n in iryo_nginx.scope_list(server.node) if n.kind == "directive" and n.name == "access_log"]
        http = [n for n in iryo_nginx.scope_list(server.http) if n.kind == "directive" and n.name == "access_log"]
        nodes, level = (own, "server") if own else ((http, "http") if http else ([], "default"))
        off_nodes = [n for n in nodes if n.args[:1] == ["off"] or n.args[:1] == ["/dev/null"]]
        # nginx: `off` cancels every access_log of its level; /dev/null logs nothing.
        off = any(n.args[:1] == ["off"] for n in nodes) or (nodes and len(off_nodes) == len(nodes))
        locations = locations_off(server.node)
        report = {"server": "nginx", "target": server.target(), "server_name": server.names,
                  "access_log": [" ".join(n.args) for n in nodes] or ["logs/access.log combined (built-in)"],
                  "level": level, "set_at": [n.where() for n in nodes], "on": not off, "locations_off": locations}
        plan = None
        if off:
            plan = ("replace", off_nodes) if level == "server" else ("insert", server.node)
        out.append((report, plan))
    return adapter, out


def apache_servers(root):
    adapter = iryo_apache.Adapter(root)
    names = ("customlog", "transferlog")
    out = []
    global_logs = [n for n in iryo_apache.scope_list(adapter.config.root) if n.kind == "directive" and n.lname in names]
    for vhost in adapter.servers:
        own = [n for n in iryo_apache.scope_list(vhost.node) if n.kind == "directive" and n.lname in names]
        nodes, level = (own, "vhost") if own else ((global_logs, "global") if global_logs else ([], "none"))
        null = [n for n in nodes if n.args[:1] == ["/dev/null"]]
        on = bool(nodes) and len(null) < len(nodes)
        report = {"server": "apache", "target": vhost.target(), "server_name": vhost.names,
                  "access_log": [" ".join(n.args) for n in nodes], "level": level,
                  "set_at": [n.where() for n in nodes], "on": on, "locations_off": []}
        plan = None
        if not on:
            plan = ("replace", null) if level == "vhost" and null else ("insert", vhost.node)
        out.append((report, plan))
    return adapter, out


def apache_log_line(root):
    if root.startswith("/etc/apache2"):
        return "CustomLog ${APACHE_LOG_DIR}/ssl_access.log combined"
    return "CustomLog logs/ssl_access_log combined"


def _edits_for(edits, adapter):
    def edits_for(path):
        if path not in edits:
            edits[path] = TextEdits(path, adapter.texts[path])
        return edits[path]
    return edits_for


def web_plans(module, kinds):
    """{kind: (root, adapter, reports, {path: TextEdits})}"""
    found = {}
    if "nginx" in kinds and os.path.isfile(iryo_nginx.DEFAULT_CONFIG):
        adapter, servers = nginx_servers(iryo_nginx.DEFAULT_CONFIG)
        found["nginx"] = (iryo_nginx.DEFAULT_CONFIG, adapter, servers)
    if "apache" in kinds:
        root = next((p for p in iryo_apache.DEFAULT_CONFIGS if os.path.isfile(p)), None)
        if root:
            adapter, servers = apache_servers(root)
            found["apache"] = (root, adapter, servers)
    plans = {}
    for kind, (root, adapter, servers) in found.items():
        edits = {}
        edits_for = _edits_for(edits, adapter)
        line = NGINX_LOG if kind == "nginx" else apache_log_line(root)
        for _report, plan in servers:
            if not plan:
                continue
            action, what = plan
            if action == "replace":
                for node in what:
                    edits_for(node.path).replace(node.start, node.end, line.rstrip(";") + (";" if kind == "nginx"
                                                                                            else ""),
                                                 {"setting": "access_log", "action": "replace"})
            else:
                adapter.insert(edits_for, what, line, {"setting": "access_log", "action": "add"})
        plans[kind] = (root, [r for r, _ in servers], edits)
    return plans


def web_commands(module, kind, root):
    systemctl = module.get_bin_path("systemctl") or "systemctl"
    if kind == "nginx":
        return [module.get_bin_path("nginx") or "nginx", "-t", "-c", root], [systemctl, "try-reload-or-restart",
                                                                              "nginx"]
    binary = next((b for b in (module.get_bin_path(n) for n in ("apache2ctl", "apachectl")) if b), "apache2ctl")
    unit = "apache2" if root.startswith("/etc/apache2") else "httpd"
    return [binary, "-t"], [systemctl, "try-reload-or-restart", unit]


# ---------------------------------------------------------------------------------------------
# common: backup, write, validate, restart, restore

def run(module, argv, what):
    try:
        rc, out, err = module.run_command(argv, environ_update=ENV)
    except (OSError, IOError) as exc:
        rc, out, err = 127, "", str(exc)
    return {"what": what, "cmd": argv, "rc": rc, "stdout": out, "stderr": err}


def text(result):
    return "%s exited %d: %s" % (" ".join(result["cmd"]), result["rc"],
                                 (result["stderr"] or result["stdout"] or "no output").strip()[-2000:])


def change_files(module, params, files, validate, restart, commands):
    """files: {path: (old text or None, new text)}. Write all, validate, restart; restore on failure."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder, n = os.path.join(params["backup_dir"], stamp), 0
    while os.path.exists(folder):
        n += 1
        folder = os.path.join(params["backup_dir"], "%s-%d" % (stamp, n))
    for path, (old, _) in files.items():
        if old is not None:
            target = os.path.join(folder, path.lstrip("/"))
            os.makedirs(os.path.dirname(target), 0o700, exist_ok=True)
            shutil.copy2(path, target)

    def restore(why, which=None):
        which = files if which is None else which
        for path, (old, _) in which.items():
            if old is None:
                if os.path.exists(path):
                    os.unlink(path)
            else:
                write_text_atomically(module, path, old)
        if restart and why.startswith("restart"):
            commands.append(run(module, restart, "restart with the previous configuration"))
        raise Failed("%s; restored the previous %s (backup %s)" % (why, ", ".join(sorted(files)), folder))

    written = {}
    for path, (old, new) in files.items():
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_text_atomically(module, path, new, new_mode=0o644)
        except (IOError, OSError) as exc:
            # This file is untouched (temporary file + rename); the ones written before it go back.
            restore("cannot write %s (%s)" % (path, exc.strerror or exc), written)
        written[path] = (old, new)
    if validate:
        check = run(module, validate, "validate")
        commands.append(check)
        if check["rc"] != 0:
            restore("validation failed: %s" % text(check))
    if restart:
        done = run(module, restart, "restart")
        commands.append(done)
        if done["rc"] != 0:
            restore("restart failed: %s" % text(done))


# ---------------------------------------------------------------------------------------------
# journald, rsyslog

def journald_state(module):
    analyze = module.get_bin_path("systemd-analyze")
    sequence, source = None, "files"
    if analyze:
        rc, out, _ = module.run_command([analyze, "cat-config", "systemd/journald.conf"], environ_update=ENV)
        if rc == 0 and out.strip():
            sequence, source = iryo_journald.split_cat_config(out), "systemd-analyze cat-config"
    if sequence is None:
        sequence = []
        for path in iryo_journald.journald_files():
            with open(path) as handle:
                sequence.append((path, handle.read()))
    values = iryo_journald.parse_journald(sequence)
    exists = os.path.isdir("/var/log/journal")
    return {"values": values, "journal_dir": exists, "read_from": source,
            "files": [p for p, _ in sequence], "storage": iryo_journald.journald_storage(values, exists)}


def rsyslog_state(module):
    binary = module.get_bin_path("rsyslogd", opt_dirs=["/usr/sbin", "/sbin"])
    sequence = []
    for path in iryo_journald.rsyslog_files():
        with open(path) as handle:
            sequence.append((path, handle.read()))
    return {"rsyslogd": binary, "forwards": iryo_journald.forwards(sequence)}


def online_journals(module, journalctl, commands):
    """The journal files journald has open now (State: ONLINE in `journalctl --header`): where it
    really writes, whatever the configuration files say."""
    done = run(module, [journalctl, "--header", "--system"], "runtime storage")
    # The header dump of every file is long; the verdict below is what the result needs.
    commands.append(dict(done, stdout=""))
    online, path = [], None
    for line in done["stdout"].splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "File path":
            path = value.strip()
        elif key.strip() == "State" and value.strip() == "ONLINE" and path:
            online.append(path)
    return online, done


def verify_journal_on_disk(module, journalctl, systemctl, old, written, commands):
    """After the restart journald must write its system journal under /var/log/journal. If it still
    writes to /run (it could not use /var/log/journal, or did not take the drop-in), the drop-in
    promises something journald does not do: put the previous drop-in back, restart, and fail."""
    online, done = online_journals(module, journalctl, commands)
    if any(p.startswith("/var/log/journal/") and os.path.basename(p) == "system.journal" for p in online):
        return
    seen = ", ".join(online) or "no open journal file (%s)" % text(done)
    if written:
        if old is None:
            if os.path.exists(JOURNALD_DROPIN):
                os.unlink(JOURNALD_DROPIN)
            undo = "removed %s" % JOURNALD_DROPIN
        else:
            write_text_atomically(module, JOURNALD_DROPIN, old)
            undo = "restored the previous %s" % JOURNALD_DROPIN
        again = run(module, [systemctl, "restart", "systemd-journald"], "restart with the previous configuration")
        commands.append(again)
        if again["rc"] != 0:
            undo += " (restarting journald with it failed: %s)" % text(again)
    else:
        undo = "%s left as it was" % JOURNALD_DROPIN
    raise Failed("after the restart systemd-journald writes its system journal to %s, not under /var/log/journal "
                 "(required: Storage=persistent in effect); %s" % (seen, undo))


def read(path):
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


ARGUMENT_SPEC = dict(
    state=dict(type="str", default="audit", choices=["audit", "enforced"]),
    journald_min_retention_days=dict(type="int", default=365),
    journald_system_max_use=dict(type="str"),
    collector=dict(type="dict", options=dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=514),
        protocol=dict(type="str", default="tcp", choices=["tcp", "udp"]))),
    web_servers=dict(type="list", elements="str", default=["auto"]),
    access_logs=dict(type="bool", default=True),
    journal_persistent=dict(type="bool", default=True),
    log_forwarding=dict(type="bool", default=True),
    backup_dir=dict(type="path", default="/var/backups/iryo-guard/access_logging"),
)
MODULE_KWARGS = {}


def run_module(module):
    p = module.params
    kinds = set()
    for item in p["web_servers"]:
        if item == "auto":
            kinds |= {"nginx", "apache"}
        elif item in ("nginx", "apache"):
            kinds.add(item)
        else:
            module.fail_json(msg="web_servers: %r is not nginx, apache or auto" % item)
    if p["journald_min_retention_days"] < 1:
        module.fail_json(msg="journald_min_retention_days must be at least 1")
    enforce = p["state"] == "enforced"
    write = enforce and not module.check_mode
    result = {"changed": False, "diff": [], "commands": [], "servers": []}
    failures = []

    # web servers ---------------------------------------------------------------------------
    if p["access_logs"]:
        try:
            plans = web_plans(module, kinds)
        except ConfigError as exc:
            module.fail_json(msg="cannot read the web server configuration: %s" % exc)
        for kind, (root, reports, edits) in sorted(plans.items()):
            result["servers"].extend(reports)
            if enforce and edits:
                result["changed"] = True
                files = {}
                for path, e in sorted(edits.items()):
                    result["diff"].append({"before_header": path, "after_header": path, "before": e.text,
                                           "after": e.apply()})
                    files[path] = (e.text, e.apply())
                if write:
                    validate, reload_cmd = web_commands(module, kind, root)
                    try:
                        change_files(module, p, files, validate, reload_cmd, result["commands"])
                    except Failed as exc:
                        failures.append("%s: %s" % (kind, exc))
                        continue
                    reports[:] = web_plans(module, {kind})[kind][1]
                    result["servers"] = [r for r in result["servers"] if r["server"] != kind] + reports

    # journald ------------------------------------------------------------------------------
    journal = journald_state(module)
    if p["journal_persistent"] and enforce:
        problems = iryo_journald.judge_journald(journal["values"], journal["journal_dir"],
                                                p["journald_min_retention_days"])
        if problems:
            current = journal["values"].get("MaxRetentionSec", {})
            seconds = iryo_journald.parse_timespan(current.get("value")) if current.get("file") != JOURNALD_DROPIN \
                else None
            wanted = iryo_journald.journald_dropin(p["journald_min_retention_days"], seconds,
                                                   p["journald_system_max_use"])
            old = read(JOURNALD_DROPIN)
            if old != wanted or not journal["journal_dir"]:
                result["changed"] = True
                result["diff"].append({"before_header": JOURNALD_DROPIN, "after_header": JOURNALD_DROPIN,
                                       "before": old or "", "after": wanted})
                if not journal["journal_dir"]:
                    result["diff"].append({"before_header": "/var/log/journal", "after_header": "/var/log/journal",
                                           "before": "(absent)\n", "after": "(directory)\n"})
                if write:
                    systemctl = module.get_bin_path("systemctl") or "systemctl"
                    journalctl = module.get_bin_path("journalctl")
                    try:
                        if old != wanted:
                            change_files(module, p, {JOURNALD_DROPIN: (old, wanted)}, None, None, result["commands"])
                        tmpfiles = module.get_bin_path("systemd-tmpfiles")
                        if not journal["journal_dir"]:
                            os.makedirs("/var/log/journal", 0o2755, exist_ok=True)
                            if tmpfiles:
                                result["commands"].append(run(module, [tmpfiles, "--create", "--prefix",
                                                                       "/var/log/journal"], "journal directory"))
                        done = run(module, [systemctl, "restart", "systemd-journald"], "restart")
                        result["commands"].append(done)
                        if done["rc"] != 0:
                            raise Failed("systemd-journald restart failed: %s" % text(done))
                        if journalctl:
                            result["commands"].append(run(module, [journalctl, "--flush"], "flush"))
                            verify_journal_on_disk(module, journalctl, systemctl, old, old != wanted,
                                                   result["commands"])
                    except Failed as exc:
                        failures.append("journald: %s" % exc)
                    journal = journald_state(module)
                    left = iryo_journald.judge_journald(journal["values"], journal["journal_dir"],
                                                        p["journald_min_retention_days"])
                    # After a failure the previous drop-in is back on purpose: that is no override.
                    if left and not any(f.startswith("journald: ") for f in failures):
                        failures.append("journald: after writing %s still: %s (a later drop-in overrides it?)"
                                        % (JOURNALD_DROPIN, "; ".join(left)))

    # rsyslog -------------------------------------------------------------------------------
    rsyslog = rsyslog_state(module)
    collector = p["collector"]
    if p["log_forwarding"] and collector and enforce and rsyslog["rsyslogd"]:
        if not any(iryo_journald.collector_matches(f, collector) for f in rsyslog["forwards"]):
            wanted = iryo_journald.rsyslog_dropin(collector)
            old = read(RSYSLOG_DROPIN)
            if old != wanted:
                result["changed"] = True
                result["diff"].append({"before_header": RSYSLOG_DROPIN, "after_header": RSYSLOG_DROPIN,
                                       "before": old or "", "after": wanted})
                if write:
                    systemctl = module.get_bin_path("systemctl") or "systemctl"
                    try:
                        change_files(module, p, {RSYSLOG_DROPIN: (old, wanted)},
                                     [rsyslog["rsyslogd"], "-N1", "-f", iryo_journald.RSYSLOG_MAIN],
                                     [systemctl, "restart", "rsyslog"], result["commands"])
                    except Failed as exc:
                        failures.append("rsyslog: %s" % exc)
                    rsyslog = rsyslog_state(module)

    result["journald"] = journal
    result["forwards"] = rsyslog["forwards"]
    result["findings"] = findings(module, p, result["servers"], journal, rsyslog, collector,
                                  [k for k in ("nginx", "apache") if k in kinds])
    if not result["diff"]:
        del result["diff"]
    if failures:
        module.fail_json(msg=" ".join(failures), **result)
    module.exit_json(**result)


def forwards_text(forwards):
    return some(["%s:%s/%s" % (f["target"], f["port"], f["protocol"]) for f in forwards], 3)


def access_summary(s):
    """One sentence for c10.monitoring.access_logs on one TLS virtual host."""
    names = some(s["server_name"], 2) if s["server_name"] else s["target"]
    what = "%s TLS %s %s" % (s["server"], "server" if s["server"] == "nginx" else "virtual host", names)
    where = " (%s)" % some(s["set_at"], 2) if s["set_at"] else ""
    if s["on"]:
        text = "%s logs access: %s%s" % (what, some(s["access_log"], 2, sep="; "), where)
        if s["locations_off"]:
            text += "; off in %s" % some(s["locations_off"], 2, sep="; ")
        return text
    if not s["access_log"]:
        return "%s has no access log (none in the virtual host or globally); required: an access log" % what
    return "%s has its access log off: %s%s; required: on" % (what, some(s["access_log"], 2, sep="; "), where)


def journal_summary(journal, problems, min_days):
    if problems:
        return "%s; required: Storage=persistent, MaxRetentionSec at least %d days" % (
            some(problems, 2, sep="; ", width=170), min_days)
    retention = journal["values"].get("MaxRetentionSec", {}).get("value")
    return "journal kept on disk (Storage=%s) with MaxRetentionSec=%s (at least %d days)" % (
        journal["storage"], retention, min_days)


def findings(module, p, servers, journal, rsyslog, collector, kinds):
    out = []
    if p["access_logs"]:
        for s in servers:
            evidence = {k: s[k] for k in ("server_name", "access_log", "level", "set_at", "locations_off")}
            if s["on"]:
                out.append(make_finding(ACCESS, "pass", "medium", s["target"], evidence, {"access_log": "on"}, "",
                                        True, summary=access_summary(s)))
            else:
                out.append(make_finding(
                    ACCESS, "fail", "medium", s["target"], evidence, {"access_log": "on"},
                    "Turn the access log on for this TLS virtual host (access_logging state=enforced writes %s)."
                    % ("`%s`" % NGINX_LOG if s["server"] == "nginx" else "a CustomLog"), True,
                    summary=access_summary(s)))
        if not servers:
            out.append(make_finding(ACCESS, "not_applicable", "medium", "web servers",
                                    {"checked": kinds, "tls_virtual_hosts": 0}, {}, "", False,
                                    summary="no TLS virtual host found (looked at: %s)" % (", ".join(kinds) or
                                                                                          "no web server installed")))
    if p["journal_persistent"]:
        problems = iryo_journald.judge_journald(journal["values"], journal["journal_dir"],
                                                p["journald_min_retention_days"])
        evidence = {"storage": journal["storage"], "journal_dir": journal["journal_dir"],
                    "settings": {k: v for k, v in journal["values"].items()
                                 if k in ("Storage", "MaxRetentionSec", "SystemMaxUse", "SystemKeepFree",
                                          "MaxFileSec", "ForwardToSyslog")},
                    "read_from": journal["read_from"], "problems": problems}
        out.append(make_finding(
            JOURNAL, "fail" if problems else "pass", "medium", "systemd-journald", evidence,
            {"Storage": "persistent", "MaxRetentionSec_days_min": p["journald_min_retention_days"]},
            ("Keep the journal on disk with a declared retention (access_logging state=enforced writes %s)."
             % JOURNALD_DROPIN) if problems else "", True,
            summary=journal_summary(journal, problems, p["journald_min_retention_days"])))
    if p["log_forwarding"]:
        if not collector:
            out.append(make_finding(FORWARD, "not_applicable", "medium", "rsyslog",
                                    {"collector": None, "forwards": rsyslog["forwards"]}, {},
                                    "", False,
                                    summary="no log collector declared (c10_isolation_monitoring_collector), so "
                                            "forwarding is not required; rsyslog forwards to: %s"
                                            % forwards_text(rsyslog["forwards"])))
        else:
            target = "%s:%d/%s" % (collector["host"], collector["port"], collector["protocol"])
            evidence = {"collector": collector, "forwards": rsyslog["forwards"], "rsyslogd": rsyslog["rsyslogd"]}
            problems = []
            if not rsyslog["rsyslogd"]:
                problems.append("rsyslog is not installed")
            else:
                check = run(module, [rsyslog["rsyslogd"], "-N1", "-f", iryo_journald.RSYSLOG_MAIN], "validate")
                evidence["validation"] = {"rc": check["rc"],
                                          "output": (check["stderr"] or check["stdout"]).strip()[-500:]}
                if check["rc"] != 0:
                    problems.append("rsyslogd -N1 rejects the configuration")
                if not any(iryo_journald.collector_matches(f, collector) for f in rsyslog["forwards"]):
                    problems.append("no forwarding action to %s" % target)
            evidence["problems"] = problems
            if problems:
                summary = "%s (rsyslog forwards to: %s); required: every message forwarded to %s" % (
                    "; ".join(problems), forwards_text(rsyslog["forwards"]), target)
            else:
                summary = "rsyslog forwards to the declared collector %s and rsyslogd -N1 accepts the configuration" \
                    % target
            out.append(make_finding(
                FORWARD, "fail" if problems else "pass", "medium", "rsyslog -> " + target, evidence,
                {"forward_to": collector},
                ("Forward the logs to the collector (access_logging state=enforced writes %s%s)."
                 % (RSYSLOG_DROPIN, "; install rsyslog first" if not rsyslog["rsyslogd"] else ""))
                if problems else "", bool(rsyslog["rsyslogd"]), summary=summary))
    return out
