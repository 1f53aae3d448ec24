#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nightly_health
short_description: After the nightly changed a host, the host still serves what it served before
description:
  - Reports check C(ops.nightly.health) (iryo-guard's own operational check, clause OPS of the catalog; not
    guideline text). playbooks/harden.yml calls it twice per host when the run is unattended (the nightly) - with
    O(phase=before) first in the host's turn, before any role changes it, and with O(phase=after) after the
    clause roles and their handlers.
  - On the host this module only reads what listens (TCP listeners and bound UDP sockets from C(/proc/net), with
    the processes holding them) and the kernel's ephemeral port range. The action plugin does the rest on the
    controller - one full TLS handshake with the local OpenSSL to every declared endpoint, the comparison, and
    a new SSH connection (the connection is reset and C(ansible.builtin.ping) runs over a new one).
  - After the change, every TCP port that listened before must still listen (a port from the ephemeral range only
    when it is declared), every declared UDP service that was bound must still be, every endpoint whose
    handshake completed before must still complete one, and sshd must accept the controller. Services restart when
    their packages are upgraded, so the comparison is repeated for up to O(wait) seconds before it fails.
  - With O(phase=before) it also refuses a host whose turn comes after a host that did not pass, without
    contacting it (an unreachable host must stop the night as a failed one does).
  - The result's C(iryo_nightly_health.line) is the one line the play fails the host with.
  - Reads only, in check mode too.
version_added: "0.4.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  phase:
    description: V(before) records what the host serves; V(after) compares with O(before).
    type: str
    choices: [before, after]
    required: true
  before:
    description: The registered result of the O(phase=before) call of the same host.
    type: dict
  endpoints:
    description:
      - The host's declared TLS endpoints (C(c11_tls_endpoints)); C(probe_host), C(probe_port) and C(server_name)
        are used.
    type: list
    elements: dict
    default: []
  services:
    description: The host's declared inbound services (C(c10_isolation_services)), on top of its host class's.
    type: list
    elements: dict
    default: []
  ssh_port:
    description: The port sshd listens on (declared, so it is watched even in the ephemeral range).
    type: int
    default: 22
  client_cert:
    description: Client certificate presented in the handshakes (an endpoint may require one).
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  timeout:
    description: Seconds one TLS handshake may take.
    type: float
    default: 5
  wait:
    description: Seconds the O(phase=after) comparison is repeated before it fails.
    type: int
    default: 60
  run_name:
    description: How the one line names the run that made the change.
    type: str
    default: the nightly
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
    details: It changes nothing, so there is nothing to show.
notes:
  - docs/operations.md ("Rollout", "Health check") explains when it runs and what stops the night.
"""

EXAMPLES = r"""
- name: "HEALTH | ops.nightly.health | What the host serves before the night changes it"
  nightly_health:
    phase: before
    endpoints: "{{ c11_tls_endpoints | default([]) }}"
    services: "{{ c10_isolation_services | default([]) }}"
  register: iryo_nightly_health_before

- name: "HEALTH | ops.nightly.health | It still serves it after the change"
  nightly_health:
    phase: after
    before: "{{ iryo_nightly_health_before }}"
    endpoints: "{{ c11_tls_endpoints | default([]) }}"
    services: "{{ c10_isolation_services | default([]) }}"
  register: iryo_nightly_health_after
"""

RETURN = r"""
findings:
  description: With O(phase=after), one finding of check ops.nightly.health (pass, or fail naming what broke).
  returned: always
  type: list
  elements: dict
iryo_nightly_health:
  description: C(ok), and C(line) (the one line to fail with) or, with O(phase=before), C(snapshot).
  returned: success
  type: dict
listening:
  description: Module only (the action plugin consumes it) - every listening socket, with its processes.
  returned: success
  type: list
  elements: dict
ephemeral_ports:
  description: Module only - the kernel's ephemeral port range (net.ipv4.ip_local_port_range).
  returned: success
  type: list
  elements: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_sockets import listening


def ephemeral_ports(path="/proc/sys/net/ipv4/ip_local_port_range"):
    """[low, high] of the ports the kernel hands out (a daemon without a fixed port gets one), or None."""
    try:
        with open(path) as handle:
            low, high = handle.read().split()[:2]
        return [int(low), int(high)]
    except (IOError, OSError, ValueError):
        return None


def main():
    # The options are the action plugin's; the module itself only reads the host.
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    sockets = [{"proto": s["proto"], "address": s["address"], "port": s["port"], "processes": s["processes"]}
               for s in listening()]
    module.exit_json(changed=False, listening=sockets, ephemeral_ports=ephemeral_ports())


if __name__ == "__main__":
    main()
