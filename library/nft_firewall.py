#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nft_firewall
short_description: Default-drop inbound firewall per host class, from the live nftables ruleset (MHLW GL 5.2 §6.11 C.10)
description:
  - C.10 asks that a patient-facing system cannot become a path into the hospital's internal systems, among
    other means by a firewall. This module judges the B(live) ruleset (C(nft -j list ruleset)), not files.
  - Check C(c10.firewall.default_drop) fails when inbound IPv4 or IPv6 traffic is not dropped by default
    (no base chain on the input hook with policy drop or a final unconditional drop/reject), or when the
    firewall would not survive a reboot (no enabled firewall service).
  - Check C(c10.firewall.allowed_services) fails when TCP/UDP ports are accepted beyond the declared services,
    or from sources wider than declared. Conditions the model cannot evaluate make a grant wider, never
    narrower, so a false alarm is possible and a false pass is not.
  - With O(state=enforced) renders one complete table C(inet iryo_guard) (policy drop; established/related,
    loopback, needed ICMP/ICMPv6, the declared services from their sources), checks it with C(nft -c -f),
    saves the previous ruleset, and replaces the table in one C(nft -f) transaction. Other tables are left alone.
  - Lockout guard. Before anything is applied, the rendered ruleset is evaluated against the address the
    controller is connected from (O(connection), filled in by the action plugin from the SSH session before
    become, or C(SSH_CONNECTION) in the module's environment); the module refuses a ruleset that would drop
    that connection or that leaves no administrative (SSH) path at all.
  - Automatic rollback ("commit confirmed"). With O(rollback_timeout) > 0 a transient systemd timer is armed
    before the new table goes live; it puts the previous table back after that many seconds. The action
    plugin then opens a B(new) connection to the host and calls the module with O(state=confirmed), which
    cancels the timer and only then makes the ruleset persistent. If the controller cannot reconnect, the
    host restores itself and nothing persistent was changed.
  - Persistence. The file O(ruleset_path) is included from O(nftables_conf) and C(nftables.service) is enabled.
    The service is never started or restarted here, since Debian's nftables.conf begins with C(flush ruleset),
    which would drop every other table (container NAT, fail2ban) on a running server.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  state:
    description:
      - V(audit) only reports. V(enforced) applies the declared policy (and, with O(rollback_timeout), leaves
        it pending confirmation). V(confirmed) cancels the rollback timer and persists the ruleset; the action
        plugin calls it over a new connection.
    type: str
    choices: [audit, enforced, confirmed]
    default: audit
  host_class:
    description: Host class from inventory (patient_facing, internal, remote_access_gateway); shown in evidence.
    type: str
  services:
    description:
      - Declared inbound services. Each is C({name, port, proto (tcp|udp, default tcp), sources}); C(sources) is a
        list of CIDRs, empty or V(any) meaning from anywhere.
    type: list
    elements: dict
    default: []
  admin_sources:
    description: Networks administrators (and Ansible) reach SSH from. Rendered as SSH on O(ssh_port) from these.
    type: list
    elements: str
    default: []
  ssh_port:
    description: Port sshd listens on.
    type: int
    default: 22
  icmp_echo:
    description:
      - Accept ICMP/ICMPv6 echo requests (monitoring pings). Error ICMP and neighbour discovery are always accepted.
    type: bool
    default: true
  rollback_timeout:
    description:
      - Seconds after which the host restores the previous table unless the change was confirmed over a new
        connection. V(0) applies and persists at once without a safety net (for use from a console).
    type: int
    default: 120
  confirm:
    description:
      - Read by the action plugin only. V(false) skips the reconnect-and-confirm step, so the rollback timer
        fires; the lab test uses this to prove the rollback. Never set it on a real host.
    type: bool
    default: true
  connection:
    description:
      - The controller's SSH session as the host sees it, C(client_ip client_port server_ip server_port)
        (the value of C(SSH_CONNECTION) before become). Set by the action plugin; when empty the module reads
        C(SSH_CONNECTION)/C(SSH_CLIENT) from its own environment, which sudo usually clears.
    type: str
  connection_type:
    description: The Ansible connection plugin in use (set by the action plugin); V(local) skips the source check.
    type: str
  ruleset_path:
    description: The persistent copy of the owned table, included from O(nftables_conf).
    type: path
    default: /etc/nftables.d/iryo-guard.nft
  nftables_conf:
    description: The file nftables.service loads at boot.
    type: path
    default: /etc/nftables.conf
  state_dir:
    description: Where backups of the previous ruleset, the rollback file and the applied state are kept.
    type: path
    default: /var/lib/iryo-guard/firewall
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
notes:
  - Runs C(nft), C(systemctl) and C(systemd-run). Needs CAP_NET_ADMIN (root).
"""

EXAMPLES = r"""
- name: C.10 | AUDIT | c10.firewall.* | Live ruleset against the policy of the host class
  nft_firewall:
    host_class: patient_facing
    services:
      - {name: https, port: 443, proto: tcp, sources: [any]}
    admin_sources: [10.20.0.0/24]

- name: C.10 | PATCH | c10.firewall.* | Default-drop inbound, rollback unless confirmed within 120 s
  nft_firewall:
    state: enforced
    host_class: internal
    services:
      - {name: dicom, port: 104, sources: [10.30.0.0/16]}
    admin_sources: [10.20.0.0/24]
    rollback_timeout: 120
"""

RETURN = r"""
analysis:
  description: The live ruleset per family (default drop, dropping chains, effective grants) and its input chains.
  returned: always
  type: dict
violations:
  description: Grants beyond the declared services (family, proto, ports, sources, why, rule).
  returned: always
  type: list
  elements: dict
rendered:
  description: The complete file for table inet iryo_guard that enforcement applies.
  returned: always
  type: str
guard:
  description: The lockout guard's view (connection seen, whether the new ruleset keeps it, administrative paths).
  returned: when state is enforced or confirmed
  type: dict
pending_confirmation:
  description: True when the new table is live and the rollback timer is armed, waiting for state=confirmed.
  returned: when state is enforced
  type: bool
backup:
  description: The saved previous ruleset (C(nft list ruleset)) of this change.
  returned: when the live table changed
  type: str
persistent:
  description: Persistence of the firewall (the included file, nftables.service and other firewall services).
  returned: always
  type: dict
findings:
  description: Findings in the iryo-guard schema (c10.firewall.default_drop, c10.firewall.allowed_services).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_nft_firewall import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
