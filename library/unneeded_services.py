#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: unneeded_services
short_description: No unneeded services running, starting at boot or listening (MHLW cybersecurity checklist)
description:
  - The inspection checklist asks that unneeded software and services running in the background are stopped
    (バックグラウンドで動作している不要なソフトウェア及びサービスを停止している, servers and terminal PCs). This module
    reports check C(cl.services.unneeded) for a server.
  - It reads the systemd units that run (C(systemctl list-units --all --plain --no-legend), services whose
    sub-state is running and sockets that are active), the unit files enabled to start at boot
    (C(systemctl list-unit-files --plain --no-legend), state enabled or enabled-runtime) and the listening sockets
    (C(/proc/net/tcp), C(tcp6), C(udp), C(udp6)), each with the processes holding it and their systemd unit
    (C(/proc/PID/cgroup)). The readers are the ones M(iryo.guard.host_isolation) uses (module_utils/iryo_sockets.py).
  - Pass when every running or enabled unit matches O(allowed_units) or O(baseline_units) (shell-style globs)
    and every listening port not bound to loopback is in O(allowed_ports) or O(baseline_ports); fail naming each
    unit and port that is not.
  - Report only; stopping a service is a decision for a person (the finding says how).
version_added: "0.3.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  allowed_units:
    description: Units the host's class declares (globs, e.g. C(nginx.service), C(postgresql@*.service)).
    type: list
    elements: str
    default: []
  baseline_units:
    description:
      - System units every host runs (globs). The role passes its documented default (C(systemd-*), dbus, cron,
        ssh, rsyslog, getty and the like, plus what iryo-guard's other clauses install).
    type: list
    elements: str
    default: []
  allowed_ports:
    description: Ports the host's class declares, C(PORT/tcp) or C(PORT/udp) (a bare number is tcp).
    type: list
    elements: raw
    default: []
  baseline_ports:
    description: Ports every host may listen on (the role's default - SSH and the DHCP clients).
    type: list
    elements: raw
    default: []
  unit_types:
    description: The unit types judged.
    type: list
    elements: str
    default: [service, socket]
  include_enabled:
    description: Judge the unit files enabled at boot as well as the running units.
    type: bool
    default: true
  include_loopback:
    description: Judge sockets bound to loopback (127.0.0.0/8, ::1) too; by default only reachable ones are.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
notes:
  - docs/checklist-host-checks.md explains what is read and why.
"""

EXAMPLES = r"""
- name: "CL | cl.services.unneeded | Running, enabled and listening services"
  unneeded_services:
    allowed_units: [nginx.service, clamav-daemon.service]
    baseline_units: ["systemd-*", dbus.service, dbus.socket, cron.service, ssh.service, rsyslog.service]
    allowed_ports: [443/tcp]
    baseline_ports: [22/tcp]
"""

RETURN = r"""
findings:
  description: Findings in the iryo-guard schema (cl.services.unneeded).
  returned: always
  type: list
  elements: dict
running_units:
  description: Running services and active sockets.
  returned: always
  type: list
  elements: str
enabled_units:
  description: Unit files enabled to start at boot.
  returned: always
  type: list
  elements: str
listening:
  description: Listening sockets with the processes and units holding them.
  returned: always
  type: list
  elements: dict
unneeded_units:
  description: Units neither declared nor in the baseline, each with whether it runs and whether it is enabled.
  returned: always
  type: list
  elements: dict
unneeded_listeners:
  description: Listening sockets on ports neither declared nor in the baseline.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_unneeded_services import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
