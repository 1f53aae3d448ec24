# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the unneeded_services module (library/unneeded_services.py documents it), importable by clause
modules (module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module).

What runs, what starts at boot and what listens, against what the host's class declares plus a baseline of
system units. It reads the host the way host_isolation does, through the same readers (module_utils/iryo_sockets.py).
Report only. Standard library only; Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch

from ansible.module_utils.iryo_findings import make_finding, some
from ansible.module_utils.iryo_sockets import listening, systemd_units, unit_of_pid

CHECK = "cl.services.unneeded"
CHECKS = (CHECK,)

# Unit-file states that start a unit at boot (or on its socket / timer): `list-unit-files --state`.
ENABLED_STATES = ("enabled", "enabled-runtime")


class PortSpecError(ValueError):
    pass


def port_spec(value):
    """443, "443", "443/tcp", "53/udp" -> (port, proto)."""
    text = str(value).strip().lower()
    port, _, proto = text.partition("/")
    proto = proto or "tcp"
    if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("tcp", "udp"):
        raise PortSpecError("%r is not a port: write PORT/tcp or PORT/udp, e.g. 443/tcp" % (value,))
    return int(port), proto


def is_loopback(address):
    return address.startswith("127.") or address == "::1" or address.startswith("::ffff:127.")


def allowed_unit(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def active_units(listed):
    """Services that run (SUB=running) and sockets that are active (listening or passing a connection on)."""
    out = []
    for unit in listed:
        if unit["unit"].endswith(".service") and unit["sub"] == "running":
            out.append(unit["unit"])
        elif not unit["unit"].endswith(".service") and unit["active"] == "active":
            out.append(unit["unit"])
    return sorted(set(out))


def socket_units(sockets, unit_for):
    for sock in sockets:
        sock["units"] = sorted({u for u in (unit_for(pid) for pid in sock.get("pids") or []) if u})
    return sockets


def judge(running, enabled, sockets, allowed_units, allowed_ports, include_loopback):
    """(unneeded units [{unit, active, enabled}], unneeded sockets [...], sockets judged)."""
    units = {}
    for name in running:
        if not allowed_unit(name, allowed_units):
            units.setdefault(name, {"unit": name, "active": False, "enabled": False})["active"] = True
    for name in enabled:
        if not allowed_unit(name, allowed_units):
            units.setdefault(name, {"unit": name, "active": False, "enabled": False})["enabled"] = True
    judged = [s for s in sockets if include_loopback or not is_loopback(s["address"])]
    ports = [s for s in judged if (s["port"], s["proto"]) not in allowed_ports]
    return [units[n] for n in sorted(units)], ports, judged


def describe_unit(entry):
    states = []
    if entry["active"]:
        states.append("running" if entry["unit"].endswith(".service") else "listening")
    if entry["enabled"]:
        states.append("enabled")
    return "%s (%s)" % (entry["unit"], " and ".join(states))


def describe_socket(sock):
    owners = sock.get("processes", []) + [u for u in sock.get("units", []) if u != "init.scope"]
    if not owners and sock.get("user"):
        owners = ["user %s" % sock["user"]]  # the process is not readable (no CAP_SYS_PTRACE); its owner is
    return "%d/%s on %s%s" % (sock["port"], sock["proto"], sock["address"],
                              " (%s)" % ", ".join(owners) if owners else "")


def public_socket(sock):
    return {"proto": sock["proto"], "address": sock["address"], "port": sock["port"], "user": sock.get("user"),
            "processes": sock.get("processes", []), "units": sock.get("units", [])}


def verdict(units_seen, running, enabled, sockets, judged, bad_units, bad_ports, params, allowed_ports):
    evidence = {
        "running_units": running, "enabled_units": enabled,
        "listening": [public_socket(s) for s in sockets],
        "unneeded_units": bad_units,
        "unneeded_listeners": [public_socket(s) for s in bad_ports],
        "loopback_listeners_judged": params["include_loopback"],
    }
    if not units_seen:
        evidence["systemd"] = "no systemctl on this host: only listening sockets were judged"
    expected = {"units": "running or enabled only when declared for the host (allowed_units) or in the baseline",
                "allowed_units": params["allowed_units"], "baseline_units": params["baseline_units"],
                "listening_ports": sorted("%d/%s" % p for p in allowed_ports)}
    if bad_units or bad_ports:
        parts = [describe_unit(u) for u in bad_units] + [describe_socket(s) for s in bad_ports]
        return make_finding(
            CHECK, "fail", "medium", "services", evidence, expected,
            "Stop and disable what the host does not need (systemctl disable --now UNIT, or remove its package); "
            "if it is needed, declare it for the host (cl_checklist_allowed_units / cl_checklist_allowed_ports).",
            False,
            summary="not declared for this host: %s; required: only the host's declared services and the system "
                    "baseline run, start at boot or listen" % some(parts, 4, sep="; ", width=170))
    return make_finding(
        CHECK, "pass", "medium", "services", evidence, expected, "", False,
        summary="%d running and %d enabled units and %d listening port%s, all declared for the host or in the "
                "baseline" % (len(running), len(enabled), len(judged), "" if len(judged) == 1 else "s"))


ARGUMENT_SPEC = dict(
    allowed_units=dict(type="list", elements="str", default=[]),
    baseline_units=dict(type="list", elements="str", default=[]),
    allowed_ports=dict(type="list", elements="raw", default=[]),
    baseline_ports=dict(type="list", elements="raw", default=[]),
    unit_types=dict(type="list", elements="str", default=["service", "socket"]),
    include_enabled=dict(type="bool", default=True),
    include_loopback=dict(type="bool", default=False),
)
MODULE_KWARGS = {}


def run_module(module):
    params = module.params
    try:
        allowed_ports = set(port_spec(p) for p in params["allowed_ports"] + params["baseline_ports"])
    except PortSpecError as exc:
        module.fail_json(msg=str(exc))
    try:
        units = systemd_units(module, params["unit_types"])
    except RuntimeError as exc:
        module.fail_json(msg=str(exc))
    if units is None:
        running, enabled = [], []
    else:
        running = active_units(units["units"])
        enabled = sorted(name for name, state in units["unit_files"].items() if state in ENABLED_STATES) \
            if params["include_enabled"] else []
    sockets = socket_units(listening(), unit_of_pid)
    patterns = params["allowed_units"] + params["baseline_units"]
    bad_units, bad_ports, judged = judge(running, enabled, sockets, patterns, allowed_ports,
                                         params["include_loopback"])
    finding = verdict(units is not None, running, enabled, sockets, judged, bad_units, bad_ports, params,
                      allowed_ports)
    module.exit_json(changed=False, running_units=running, enabled_units=enabled, listening=sockets,
                     unneeded_units=bad_units, unneeded_listeners=bad_ports, findings=[finding])
