# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the host_isolation module (library/host_isolation.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import os

from ansible.module_utils.iryo_findings import make_finding, some
# The readers are shared with unneeded_services (module_utils/iryo_sockets.py): both see a host the same way.
from ansible.module_utils.iryo_sockets import listening, running_units

CHECK = "c10.isolation.host_class"
CHECKS = (CHECK,)


def match_internal(services, sockets, units, processes):
    found = []
    for svc in services:
        why = []
        for spec in svc.get("ports") or []:
            port, _, proto = str(spec).partition("/")
            proto = proto or "tcp"
            for sock in sockets:
                if sock["proto"] == proto and str(sock["port"]) == port:
                    why.append("listens on %s/%s (%s%s)" % (port, proto, sock["address"],
                                                             ", " + ",".join(sock["processes"]) if sock["processes"]
                                                             else ""))
        for pattern in svc.get("units") or []:
            why.extend("unit %s running" % u for u in units or [] if fnmatch.fnmatch(u, pattern))
        for name in svc.get("processes") or []:
            if name in processes:
                why.append("process %s running" % name)
        if why:
            found.append({"name": svc.get("name"), "matched": sorted(set(why))})
    return found


def process_names(proc="/proc"):
    names = set()
    for path in glob.glob(os.path.join(proc, "[0-9]*", "comm")):
        try:
            with open(path) as handle:
                names.add(handle.read().strip())
        except (IOError, OSError):
            continue
    return names


def verdict(classes, known, forbidden, found, sockets, units):
    evidence = {"host_classes": classes, "listening": [
        {"proto": s["proto"], "address": s["address"], "port": s["port"], "processes": s["processes"]}
        for s in sockets], "running_units": units, "internal_services_found": found}
    expected = {"host_classes": "exactly one of %s" % ", ".join(known),
                "internal_services_on": "none of %s" % ", ".join(forbidden)}
    unknown = [c for c in classes if c not in known]
    mine = [c for c in classes if c in known]
    if unknown:
        evidence["unknown_classes"] = unknown
    if not mine:
        return make_finding(CHECK, "fail", "high", "host class", evidence, expected,
                            "Put the host into exactly one host-class group in inventory (%s)." % ", ".join(known),
                            False,
                            summary="the host is in no host-class group%s; required: exactly one of %s"
                                    % (" (unknown: %s)" % some(unknown, 3) if unknown else "", ", ".join(known)))
    if len(mine) > 1:
        return make_finding(CHECK, "fail", "high", "host class", evidence, expected,
                            "The host is in %s at once: a host is either patient-facing or internal or a remote-"
                            "access gateway. Split the roles onto separate hosts, then fix the inventory."
                            % " and ".join(mine), False,
                            summary="the host is in %d host classes at once (%s); required: exactly one"
                                    % (len(mine), " and ".join(mine)))
    if mine[0] in forbidden and found:
        seen = some(["%s (%s)" % (f["name"], some(f["matched"], 2, width=70)) for f in found], 3, width=170)
        return make_finding(CHECK, "fail", "high", "host class", evidence, expected,
                            "This %s host also runs internal/clinical services (%s). Move them to an internal host "
                            "behind the firewall (C.10: separate systems and applications)."
                            % (mine[0], ", ".join(f["name"] for f in found)), False,
                            summary="%s host runs internal services: %s; required: none on a %s host"
                                    % (mine[0], seen, mine[0]))
    checked = ("no internal service among %d listening sockets and %d running units"
               % (len(sockets), len(units or [])) if mine[0] in forbidden
               else "internal services are allowed on this class")
    return make_finding(CHECK, "pass", "high", "host class", evidence, expected, "", False,
                        summary="one host class, %s; %s" % (mine[0], checked))


ARGUMENT_SPEC = dict(
    host_classes=dict(type="list", elements="str", default=[]),
    known_classes=dict(type="list", elements="str",
                       default=["patient_facing", "internal", "remote_access_gateway"]),
    forbidden_classes=dict(type="list", elements="str", default=["patient_facing"]),
    internal_services=dict(type="list", elements="dict", default=[]),
)
MODULE_KWARGS = {}


def run_module(module):
    params = module.params
    sockets = listening()
    units = running_units(module)
    found = match_internal(params["internal_services"], sockets, units, process_names())
    finding = verdict(params["host_classes"], params["known_classes"], params["forbidden_classes"], found,
                      sockets, units)
    module.exit_json(changed=False, listening=sockets, units=units or [], internal_found=found, findings=[finding])

