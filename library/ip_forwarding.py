#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ip_forwarding
short_description: Keep IP forwarding off on TLS/VPN endpoints (MHLW GL 5.2 §6.11 C.11, session crossing)
description:
  - C.11 asks for countermeasures against session crossing (セッション間の回り込み), i.e. traffic from one
    session reaching a closed session by a route that is not the regular one. A TLS or VPN endpoint that
    is not a declared router must not forward packets between its interfaces.
  - Reads the running values (C(/proc/sys)) and the persistent ones (sysctl.d files in the order
    systemd-sysctl applies them) of C(net.ipv4.ip_forward) and C(net.ipv6.conf.all.forwarding).
  - With O(state=disabled) writes one drop-in that sorts after every other file, so it wins at boot,
    and sets the running values. Check mode reports the exact diff and changes nothing.
  - Returns a finding for check C(c11.session_crossing.ip_forwarding).
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  state:
    description:
      - V(audit) only reports; V(disabled) enforces forwarding off.
    type: str
    choices: [audit, disabled]
    default: audit
  router:
    description:
      - The host is a declared router; forwarding is its job and the check does not apply.
    type: bool
    default: false
  dropin:
    description: The drop-in file written by O(state=disabled).
    type: path
    default: /etc/sysctl.d/99-zz-iryo-guard-forwarding.conf
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
"""

EXAMPLES = r"""
- name: C.11 | AUDIT | c11.session_crossing.ip_forwarding
  ip_forwarding:

- name: C.11 | PATCH | IP forwarding off
  ip_forwarding:
    state: disabled
"""

RETURN = r"""
runtime:
  description: Running values, by sysctl key ("1"/"0"; null when the key does not exist).
  returned: always
  type: dict
persistent:
  description: Value each key gets at boot and the file that sets it last.
  returned: always
  type: dict
findings:
  description: Findings in the iryo-guard schema.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_ip_forwarding import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
