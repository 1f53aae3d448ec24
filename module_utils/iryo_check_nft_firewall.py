# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the nft_firewall module (library/nft_firewall.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile
import time

from ansible.module_utils.iryo_files import write_text_atomically
from ansible.module_utils.iryo_findings import make_finding, some
from ansible.module_utils import iryo_nft

CHECK_DROP = "c10.firewall.default_drop"
CHECK_SERVICES = "c10.firewall.allowed_services"
CHECKS = (CHECK_DROP, CHECK_SERVICES)
TIMER_UNIT = "iryo-guard-fw-rollback"
TABLE = "%s %s" % (iryo_nft.TABLE_FAMILY, iryo_nft.TABLE_NAME)
FIREWALL_SERVICES = ("nftables", "firewalld", "netfilter-persistent", "ufw", "iptables")
HEADER = ["Managed by iryo-guard (MHLW GL 5.2 §6.11 C.10): default-drop inbound for this host class.",
          "Do not edit: change the inventory (c10_isolation_*) and run harden. Applied atomically with nft -f;",
          "the first two lines make re-applying replace this table only, never other tables."]


class Failure(Exception):
    pass


def run(module, argv, check=True, data=None):
    rc, out, err = module.run_command(argv, data=data, binary_data=data is not None)
    if check and rc != 0:
        raise Failure("%s exited %d: %s" % (" ".join(argv), rc, (err or out).strip()))
    return rc, out, err


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


class Host:
    """The host's nftables and systemd, through their command-line tools."""

    def __init__(self, module):
        self.module = module
        self.nft = module.get_bin_path("nft")
        self.systemctl = module.get_bin_path("systemctl")
        if not self.nft:
            module.fail_json(msg="nft not found: nftables is not installed, so the firewall cannot be read "
                                 "(install the nftables package)")

    def ruleset_json(self):
        return run(self.module, [self.nft, "-j", "list", "ruleset"])[1]

    def ruleset_text(self):
        return run(self.module, [self.nft, "list", "ruleset"])[1]

    def table_text(self):
        rc, out, _ = run(self.module, [self.nft, "list", "table", iryo_nft.TABLE_FAMILY, iryo_nft.TABLE_NAME],
                         check=False)
        return out if rc == 0 else None

    def check_file(self, path):
        rc, out, err = run(self.module, [self.nft, "-c", "-f", path], check=False)
        return rc, (err or out).strip()

    def apply_file(self, path):
        return run(self.module, [self.nft, "-f", path], check=False)

    def unit_state(self, unit):
        if not self.systemctl:
            return {"enabled": None, "active": None}
        enabled = run(self.module, [self.systemctl, "is-enabled", unit], check=False)[1].strip() or "not-found"
        active = run(self.module, [self.systemctl, "is-active", unit], check=False)[1].strip()
        return {"enabled": enabled, "active": active}


def include_line(path):
    return 'include "%s"' % path


def wanted_conf(current, ruleset_path):
    """nftables.conf with our include appended once (the rest of the file is kept as it is)."""
    line = include_line(ruleset_path)
    current = current or "#!/usr/sbin/nft -f\n\nflush ruleset\n"
    if any(raw.strip() == line for raw in current.splitlines()):
        return current
    if not current.endswith("\n"):
        current += "\n"
    return current + "\n# iryo-guard C.10: the default-drop inbound table (see %s)\n%s\n" % (ruleset_path, line)


def persistence(host, params):
    units = {name: host.unit_state(name + ".service") for name in FIREWALL_SERVICES}
    conf = read(params["nftables_conf"])
    return {
        "services": dict((n, u) for n, u in units.items() if u["enabled"] not in ("not-found", None, "")),
        "enabled_firewall_service": sorted(n for n, u in units.items() if u["enabled"] == "enabled"),
        "nftables_conf": params["nftables_conf"],
        "includes_owned_table": bool(conf and include_line(params["ruleset_path"]) in conf),
        "owned_file": params["ruleset_path"] if os.path.exists(params["ruleset_path"]) else None,
    }


FAMILY_NAMES = {"ipv4": "IPv4", "ipv6": "IPv6"}
EVERY_SOURCE = ("0.0.0.0/0", "::/0", "any")


def families_text(families):
    """("ipv4", "ipv6") -> "IPv4 and IPv6"."""
    names = [FAMILY_NAMES.get(f, f) for f in iryo_nft.FAMILIES if f in families]
    return " and ".join(names)


def sources_text(sources):
    """Source networks as read: "every source" for the whole address space of a family."""
    sources = [str(s) for s in sources]
    if not sources or all(s in EVERY_SOURCE for s in sources):
        return "every source"
    if len(sources) == 2:
        return " and ".join(sources)
    return some(sources, 2)


def declared_text(declared_view):
    if not declared_view:
        return "nothing"
    return some(["%s/%s from %s" % (d["proto"], d["port"], sources_text(d["sources"])) for d in declared_view], 4,
                width=110)


def drop_summary(families, not_dropping, chains, persist):
    """One sentence for c10.firewall.default_drop: what drops inbound traffic, and whether it survives a reboot."""
    boot = ", ".join(persist["enabled_firewall_service"]) or None
    if not_dropping:
        input_chains = chains or []  # iryo_nft.analyse lists the chains hooked to input only
        if not input_chains:
            seen = "no nftables input chain with policy drop (%s)" % families_text(not_dropping)
        else:
            seen = "%s inbound not dropped by default (input chains: %s)" % (
                families_text(not_dropping),
                some(["%s policy %s%s" % (c.get("chain"), c.get("policy"),
                                             "" if c.get("ends_in") == "policy" else ", ends in %s" % c.get("ends_in"))
                      for c in input_chains], 3, sep="; ", width=100))
        if not boot:
            seen += " and no firewall service enabled at boot"
        return seen + "; required: inbound dropped by default, loaded at boot"
    if not boot:
        return ("%s inbound dropped by default now, but no firewall service is enabled, so the ruleset is lost "
                "at reboot" % families_text(families))
    return "%s inbound dropped by default; %s loads the ruleset at boot" % (families_text(families), boot)


def services_summary(violations, families, declared_view):
    """One sentence for c10.firewall.allowed_services: what is open beyond the declared services."""
    declared = "declared: %s" % declared_text(declared_view)
    if not violations:
        return "inbound open only as declared (%s); %s" % (families_text(families), declared)
    no_drop = {v["family"] for v in violations if v["why"].startswith("no default drop")}
    groups = []  # [[(proto, ports, sources, why), families]] in the order first seen
    for v in violations:
        if v["family"] in no_drop:
            continue  # without a default drop every port is open to every source: said once below
        why = "not declared" if v["why"] == "accepted but not declared" else "wider than declared"
        key = (v["proto"], v["ports"], sources_text(v["sources"]), why)
        for entry in groups:
            if entry[0] == key:
                entry[1].add(v["family"])
                break
        else:
            groups.append([key, {v["family"]}])
    everywhere = {f for _, fams in groups for f in fams} | no_drop
    same = all(fams == everywhere for _, fams in groups) and (not no_drop or no_drop == everywhere)
    parts = []
    if no_drop:
        parts.append("every port from every source (%sno default drop)"
                     % ("" if same else families_text(no_drop) + ": "))
    for (proto, ports, sources, why), fams in groups:
        label = "" if same else " (%s)" % families_text(fams)
        parts.append("%s/%s%s from %s (%s)" % (proto, ports, label, sources, why))
    suffix = " in %s" % families_text(everywhere) if same else ""
    budget = 238 - len(declared) - len(suffix) - len("accepts ; ")
    return "accepts %s%s; %s" % (some(parts, 4, width=budget), suffix, declared)


def findings(analysis, violations, persist, params, declared, would_change):
    fams = analysis["families"]
    not_dropping = [f for f in iryo_nft.FAMILIES if f in params["_families"] and not fams[f]["default_drop"]]
    evidence = {
        "host_class": params["host_class"],
        "families": dict((f, {"default_drop": fams[f]["default_drop"], "dropping_chains": fams[f]["dropping_chains"]})
                         for f in params["_families"]),
        "input_chains": analysis["chains"],
        "tables": analysis["tables"],
        "persistent": persist,
    }
    if would_change:
        evidence["would_change"] = True
    expected = {"inbound": "dropped by default for IPv4%s" % (" and IPv6" if "ipv6" in params["_families"] else ""),
                "persistent": "an enabled firewall service loads it at boot"}
    problems = ["%s inbound is not dropped by default" % f for f in not_dropping]
    if not persist["enabled_firewall_service"]:
        problems.append("no firewall service is enabled, so the ruleset is lost at reboot")
    summary = drop_summary(params["_families"], not_dropping, analysis["chains"], persist)
    if problems:
        drop = make_finding(CHECK_DROP, "fail", "high", "nftables", dict(evidence, problems=problems), expected,
                            "Enforce the C.10 firewall (harden, c10_isolation_mode=enforce): table inet iryo_guard "
                            "with policy drop, persisted and loaded by nftables.service at boot.", True,
                            summary=summary)
    else:
        drop = make_finding(CHECK_DROP, "pass", "high", "nftables", evidence, expected, "", True, summary=summary)

    open_now = []
    for fam in params["_families"]:
        open_now.extend(iryo_nft.public_grants(fams[fam]["grants"]))
    declared_view = [{"name": d["name"], "proto": d["proto"], "port": d["port"],
                      "sources": [str(n) for n in d["sources"]]} for d in declared]
    evidence = {"host_class": params["host_class"], "accepted": open_now,
                "violations": [v for v in violations if v["family"] in params["_families"]]}
    if would_change:
        evidence["would_change"] = True
    summary = services_summary(evidence["violations"], params["_families"], declared_view)
    if evidence["violations"]:
        listed = "; ".join("%s/%s from %s (%s)" % (v["proto"], v["ports"], ", ".join(v["sources"]), v["why"])
                           for v in evidence["violations"][:6])
        svc = make_finding(CHECK_SERVICES, "fail", "high", "nftables", evidence, {"declared": declared_view},
                           "Close what is not declared, or declare it for this host class "
                           "(c10_isolation_services / c10_isolation_admin_sources): %s" % listed, True,
                           summary=summary)
    else:
        svc = make_finding(CHECK_SERVICES, "pass", "high", "nftables", evidence, {"declared": declared_view}, "", True,
                           summary=summary)
    return [drop, svc]


def ipv6_enabled():
    value = read("/proc/sys/net/ipv6/conf/all/disable_ipv6")
    return os.path.exists("/proc/net/if_inet6") and (value or "0").strip() != "1"


def connection_seen(params):
    value = params["connection"] or os.environ.get("SSH_CONNECTION")
    seen = iryo_nft.parse_ssh_connection(value)
    source = "action plugin (SSH_CONNECTION before become)" if params["connection"] else "SSH_CONNECTION"
    if seen is None and os.environ.get("SSH_CLIENT"):
        parts = os.environ["SSH_CLIENT"].split()
        if len(parts) == 3:
            seen = iryo_nft.parse_ssh_connection("%s %s 0.0.0.0 %s" % tuple(parts))
            source = "SSH_CLIENT"
    return seen, source


def lockout_guard(params, declared):
    """Raise Failure when the new ruleset would cut Ansible's connection or every administrative path."""
    seen, source = connection_seen(params)
    ssh_ports = {params["ssh_port"]}
    if seen:
        ssh_ports.add(seen["server_port"])
    admin = iryo_nft.admin_paths(declared, ssh_ports)
    report = {"connection": seen, "connection_from": source if seen else None,
              "connection_type": params["connection_type"],
              "admin_paths": [{"name": a["name"], "port": a["port"], "sources": [str(n) for n in a["sources"]]}
                              for a in admin]}
    if not admin:
        raise Failure("lockout guard: refused. The new ruleset leaves no administrative path: nothing accepts "
                      "tcp/%s (SSH). Set c10_isolation_admin_sources to the networks administrators connect from."
                      % "/".join(str(p) for p in sorted(ssh_ports)), report)
    if seen is None:
        if params["connection_type"] in ("local",):
            report["keeps_connection"] = "local connection: no network path to keep"
            return report
        raise Failure("lockout guard: refused. The address Ansible is connected from is unknown (no SSH_CONNECTION "
                      "from the %s connection), so the module cannot prove the new ruleset keeps it. Run through "
                      "the nft_firewall action plugin over ssh or paramiko, or from the console with "
                      "ansible_connection=local." % (params["connection_type"] or "unknown"), report)
    ok, how = iryo_nft.guard(declared, seen["client_ip"], seen["server_port"])
    report["keeps_connection"] = how
    if not ok:
        raise Failure("lockout guard: refused. The new ruleset drops %s → tcp/%d, the address Ansible is connected "
                      "from (%s); add it to c10_isolation_admin_sources (now: %s) or connect from an allowed "
                      "network. Nothing was changed."
                      % (seen["client_ip"], seen["server_port"], source,
                         ", ".join(report["admin_paths"][0]["sources"]) if report["admin_paths"] else "none"),
                      report)
    return report


def stamp():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def write_private(module, path, text):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o700)
    write_text_atomically(module, path, text, new_mode=0o600)


def disarm(module, host):
    if not host.systemctl:
        return
    run(module, [host.systemctl, "stop", TIMER_UNIT + ".timer"], check=False)
    run(module, [host.systemctl, "reset-failed", TIMER_UNIT + ".timer", TIMER_UNIT + ".service"], check=False)


def timer_armed(module, host):
    if not host.systemctl:
        return False
    return run(module, [host.systemctl, "is-active", TIMER_UNIT + ".timer"], check=False)[1].strip() == "active"


def arm(module, host, rollback_file, seconds):
    systemd_run = module.get_bin_path("systemd-run")
    if not systemd_run or not host.systemctl:
        raise Failure("rollback_timeout=%d needs systemd-run to arm the rollback timer, and it is not here. "
                      "Apply with rollback_timeout=0 only from a console." % seconds)
    disarm(module, host)
    run(module, [systemd_run, "--unit", TIMER_UNIT, "--on-active=%ds" % seconds,
                 "--timer-property=AccuracySec=1s",
                 "--description=iryo-guard: restore the previous nftables table unless the change is confirmed",
                 host.nft, "-f", rollback_file])


def apply_live(module, host, params, rendered, state, result):
    """Validate, back up, arm the rollback, apply. Returns True when the new table is live."""
    folder = params["state_dir"]
    when = stamp()
    candidate = os.path.join(folder, "candidate.nft")
    write_private(module, candidate, rendered)
    rc, out = host.check_file(candidate)
    if rc != 0:
        raise Failure("nft -c rejected the rendered ruleset, nothing was applied: %s" % out)
    backup = os.path.join(folder, "ruleset-before-%s.nft" % when)
    write_private(module, backup, host.ruleset_text())
    result["backup"] = backup
    # The rollback puts back exactly our table as it was (or removes it), leaving every other table,
    # and whatever fail2ban or a container runtime changed there meanwhile, alone.
    rollback = os.path.join(folder, "rollback.nft")
    previous = state["live_table"] or ""
    write_private(module, rollback, "table %s\ndelete table %s\n%s" % (TABLE, TABLE, previous))
    rc, out = host.check_file(rollback)
    if rc != 0:
        raise Failure("the rollback file for the previous table does not validate, so nothing was applied: %s" % out)
    result["rollback_file"] = rollback
    if params["rollback_timeout"] > 0:
        arm(module, host, rollback, params["rollback_timeout"])
        result["rollback_armed_until"] = time.time() + params["rollback_timeout"]
    rc, out, err = host.apply_file(candidate)
    if rc != 0:
        disarm(module, host)
        raise Failure("nft -f failed, the transaction was not applied (the previous ruleset stays): %s"
                      % (err or out).strip())
    live = host.table_text()
    after = iryo_nft.analyse(host.ruleset_json())
    missing = [f for f in params["_families"] if not after["families"][f]["default_drop"]]
    if missing:
        host.apply_file(rollback)
        disarm(module, host)
        raise Failure("after applying, %s inbound is still not dropped by default; the previous table was restored"
                      % ", ".join(missing))
    write_private(module, os.path.join(folder, "applied.nft"), rendered)
    write_private(module, os.path.join(folder, "applied.list"), live or "")
    return True


def persist(module, host, params, rendered, result):
    path, conf_path = params["ruleset_path"], params["nftables_conf"]
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path), 0o755)
    old_rules = read(path)
    if old_rules != rendered:
        write_text_atomically(module, path, rendered, new_mode=0o600)
    conf = read(conf_path)
    new_conf = wanted_conf(conf, path)
    if new_conf != conf:
        handle, tmp = tempfile.mkstemp(dir=module.tmpdir, suffix=".nft")
        with os.fdopen(handle, "w") as out:
            out.write(new_conf)
        rc, out = host.check_file(tmp)
        if rc != 0:
            if old_rules is None:
                os.unlink(path)
            elif old_rules != rendered:
                write_text_atomically(module, path, old_rules, new_mode=0o600)
            raise Failure("%s with the include does not validate (nft -c), left unchanged: %s" % (conf_path, out))
        write_text_atomically(module, conf_path, new_conf, backup=True, new_mode=0o755)
    if host.systemctl and host.unit_state("nftables.service")["enabled"] != "enabled":
        run(module, [host.systemctl, "enable", "nftables.service"])
    result["persisted"] = True


def current_state(host, params, rendered):
    folder = params["state_dir"]
    live_table = host.table_text()
    applied_nft, applied_list = read(os.path.join(folder, "applied.nft")), read(os.path.join(folder, "applied.list"))
    live_changes = live_table is None or applied_nft != rendered or applied_list != live_table
    conf = read(params["nftables_conf"])
    persist_changes = {
        "file": read(params["ruleset_path"]) != rendered,
        "include": wanted_conf(conf, params["ruleset_path"]) != conf,
        "service": bool(host.systemctl) and host.unit_state("nftables.service")["enabled"] != "enabled",
    }
    return {"live_table": live_table, "live_changes": live_changes, "persist_changes": persist_changes,
            "conf": conf}


def diffs(params, state, rendered):
    out = []
    if state["live_changes"]:
        out.append({"before_header": "live: nft list table %s" % TABLE,
                    "after_header": "live: %s (applied with nft -f)" % params["ruleset_path"],
                    "before": state["live_table"] or "", "after": rendered})
    if state["persist_changes"]["file"]:
        out.append({"before_header": params["ruleset_path"], "after_header": params["ruleset_path"],
                    "before": read(params["ruleset_path"]) or "", "after": rendered})
    if state["persist_changes"]["include"]:
        out.append({"before_header": params["nftables_conf"], "after_header": params["nftables_conf"],
                    "before": state["conf"] or "", "after": wanted_conf(state["conf"], params["ruleset_path"])})
    if state["persist_changes"]["service"]:
        out.append({"before_header": "nftables.service", "after_header": "nftables.service",
                    "before": "disabled\n", "after": "enabled (not started: it would flush every table)\n"})
    return out


ARGUMENT_SPEC = dict(
    state=dict(type="str", default="audit", choices=["audit", "enforced", "confirmed"]),
    host_class=dict(type="str"),
    services=dict(type="list", elements="dict", default=[]),
    admin_sources=dict(type="list", elements="str", default=[]),
    ssh_port=dict(type="int", default=22),
    icmp_echo=dict(type="bool", default=True),
    rollback_timeout=dict(type="int", default=120),
    confirm=dict(type="bool", default=True),
    connection=dict(type="str"),
    connection_type=dict(type="str"),
    ruleset_path=dict(type="path", default="/etc/nftables.d/iryo-guard.nft"),
    nftables_conf=dict(type="path", default="/etc/nftables.conf"),
    state_dir=dict(type="path", default="/var/lib/iryo-guard/firewall"),
)
MODULE_KWARGS = {}


def run_module(module):
    params = module.params
    params["_families"] = ("ipv4", "ipv6") if ipv6_enabled() else ("ipv4",)
    try:
        declared = iryo_nft.normalise_services(params["services"], params["admin_sources"], params["ssh_port"])
    except iryo_nft.PolicyError as exc:
        module.fail_json(msg="c10 firewall policy: %s" % exc)
    header = HEADER + ["host class: %s" % (params["host_class"] or "unknown")]
    rendered = iryo_nft.render(declared, icmp_echo=params["icmp_echo"], header=header)
    host = Host(module)
    result = {"changed": False, "rendered": rendered, "diff": []}

    try:
        if params["state"] in ("enforced", "confirmed"):
            result["guard"] = lockout_guard(params, declared)
            state = current_state(host, params, rendered)
            if params["state"] == "enforced":
                result["diff"] = diffs(params, state, rendered)
                result["changed"] = bool(result["diff"])
                result["pending_confirmation"] = False
                if not module.check_mode:
                    # Only this process can see that nft -c accepts the file in check mode too.
                    if state["live_changes"]:
                        apply_live(module, host, params, rendered, state, result)
                        result["pending_confirmation"] = params["rollback_timeout"] > 0
                    if not result["pending_confirmation"] and any(state["persist_changes"].values()):
                        persist(module, host, params, rendered, result)
                else:
                    handle, tmp = tempfile.mkstemp(dir=module.tmpdir, suffix=".nft")
                    with os.fdopen(handle, "w") as out:
                        out.write(rendered)
                    rc, out = host.check_file(tmp)
                    if rc != 0:
                        raise Failure("nft -c rejects the rendered ruleset: %s" % out)
            else:  # confirmed: a new connection reached the host, so the new table lets us in
                armed = timer_armed(module, host)
                if not module.check_mode:
                    # Disarm first, then look: if the timer fired in between, the live table is the old
                    # one again and the check below refuses to persist the new one.
                    disarm(module, host)
                    state = current_state(host, params, rendered)
                if state["live_changes"]:
                    raise Failure("confirmation came too late or the table changed: the live table is not the one "
                                  "applied (the rollback timer %s). Nothing was persisted."
                                  % ("is still armed" if armed else "has fired or was never armed"))
                if not module.check_mode:
                    if any(state["persist_changes"].values()):
                        result["diff"] = diffs(params, state, rendered)
                        persist(module, host, params, rendered, result)
                        result["changed"] = True
                result["confirmed"] = armed
    except Failure as exc:
        extra = exc.args[1] if len(exc.args) > 1 else None
        module.fail_json(msg=str(exc.args[0]), guard=extra, rendered=rendered, **dict(
            (k, v) for k, v in result.items() if k in ("backup", "rollback_file")))

    try:
        analysis = iryo_nft.analyse(host.ruleset_json())
    except (ValueError, KeyError, Failure) as exc:
        module.fail_json(msg="cannot read the live ruleset: %s" % exc)
    violations = iryo_nft.judge(analysis, declared)
    persist_state = persistence(host, params)
    would_change = module.check_mode and result["changed"]
    result["findings"] = findings(analysis, violations, persist_state, params, declared, would_change)
    result["analysis"] = {"chains": analysis["chains"], "tables": analysis["tables"], "families": dict(
        (f, {"default_drop": analysis["families"][f]["default_drop"],
             "dropping_chains": analysis["families"][f]["dropping_chains"],
             "grants": iryo_nft.public_grants(analysis["families"][f]["grants"])}) for f in iryo_nft.FAMILIES)}
    result["violations"] = violations
    result["persistent"] = persist_state
    result["ipv6"] = "ipv6" in params["_families"]
    module.exit_json(**result)

