#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_isolation
short_description: Patient-facing and internal services on separate hosts (MHLW GL 5.2 §6.11 C.10)
description:
  - C.10 asks that the system patients view information on cannot become a path into internal systems,
    e.g. by separating systems and applications. This module reports what the host really exposes and
    fails check C(c10.isolation.host_class) when
  - the host has no host class or more than one (from inventory groups, passed in as O(host_classes)), or
  - a host of a class in O(forbidden_classes) (default patient_facing) also runs an internal/clinical
    service from O(internal_services) (a listening port, a running systemd unit or a process).
  - Listening sockets come from C(/proc/net/tcp), C(tcp6), C(udp), C(udp6), mapped to processes through
    C(/proc/*/fd); running units from C(systemctl list-units). Read-only; nothing to enforce (separating
    services is a change project).
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  host_classes:
    description: The host's classes (its inventory groups that are host classes). Exactly one is expected.
    type: list
    elements: str
    default: []
  known_classes:
    description: Every host class there is.
    type: list
    elements: str
    default: [patient_facing, internal, remote_access_gateway]
  forbidden_classes:
    description: Classes on which an internal service is a finding.
    type: list
    elements: str
    default: [patient_facing]
  internal_services:
    description:
      - Internal/clinical services, each C({name, ports (list of "port/proto"), units (globs), processes}).
        The role passes data/c10_isolation.yml's list.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
"""

EXAMPLES = r"""
- name: C.10 | AUDIT | c10.isolation.host_class | Host class and the services it exposes
  host_isolation:
    host_classes: "{{ group_names | intersect(['patient_facing', 'internal', 'remote_access_gateway']) }}"
    internal_services:
      - {name: postgresql, ports: [5432/tcp], units: ["postgresql*"], processes: [postgres]}
"""

RETURN = r"""
listening:
  description: Listening sockets C({proto, address, port, processes}) (TCP LISTEN, bound UDP).
  returned: always
  type: list
  elements: dict
units:
  description: Running systemd services.
  returned: always
  type: list
  elements: str
internal_found:
  description: Internal services found on the host, with what matched.
  returned: always
  type: list
  elements: dict
findings:
  description: Findings in the iryo-guard schema (c10.isolation.host_class).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_host_isolation import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
