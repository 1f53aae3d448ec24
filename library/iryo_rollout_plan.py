#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/iryo_rollout_plan.py,
# as ansible.builtin.debug does. This file lets ansible-doc show it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iryo_rollout_plan
short_description: Order the hosts of a serial run so that no two members of a redundancy group share a batch
description:
  - Runs on the controller only, once (C(run_once)); no host is contacted.
  - Computes the batch sizes exactly as Ansible forms them for O(serial) (every percentage of the whole host count,
    at least one host; the last item repeated), then places the members of every redundancy group (host variable
    C(iryo_redundancy_group)) in different batches and fills the other places with the remaining hosts in
    inventory order. Without groups the order is the inventory order.
  - playbooks/harden.yml stores the order for its serial play, whose C(hosts) is that list, so Ansible's own
    slicing gives exactly these batches.
  - Fails, before any host is touched, when O(serial) is not a list of host counts (>= 1) and percentages
    (1-100%), when a host's C(iryo_redundancy_group) is not a plain name, or when a group has more members than the
    run can place in different batches.
version_added: "0.4.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  hosts:
    description: The play's hosts in inventory order (C(ansible_play_hosts) of the input play).
    type: list
    elements: str
    required: true
  serial:
    description: The serial play's batch sizes (C(iryo_harden_serial)) - a count, V(N%), or a list of them.
    type: raw
    default: 50%
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
notes:
  - docs/operations.md ("Rollout") explains the batches and the groups.
"""

EXAMPLES = r"""
- name: "ROLLOUT | Host order: members of a redundancy group in different batches"
  iryo_rollout_plan:
    hosts: "{{ ansible_play_hosts }}"
    serial: "{{ iryo_harden_serial | default('50%') }}"
  run_once: true
  register: iryo_rollout
"""

RETURN = r"""
order:
  description: The hosts in the order the serial play takes them.
  returned: success
  type: list
  elements: str
batches:
  description: The batches Ansible will form from that order.
  returned: success
  type: list
  elements: list
sizes:
  description: The batch sizes (as Ansible computes them for this serial and host count).
  returned: success
  type: list
  elements: int
groups:
  description: The redundancy groups with members among the hosts.
  returned: success
  type: dict
"""
