#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/iryo_gate.py,
# as ansible.builtin.debug does. This file lets ansible-doc show it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iryo_gate
short_description: Fail an audit run when any host has a failing or undecided check
description:
  - Judges the findings the iryo_report callback collected in this run (published to this task when it
    starts; never host facts, which a fact cache could fill with an older run's findings) and fails when
    any finding is C(fail) or C(error), or when a host has no findings at all (unreachable). Without the
    callback it fails, saying so. Runs on the controller only.
  - Fails with one short line - how many checks, on how many hosts, and the path of the run's
    report.html (reserved by the iryo_report callback when this task starts). The findings themselves
    are in report.json and report.html, not in the task result, since Ansible prints a failed task's
    whole result.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  hosts:
    description: The audited hosts whose findings decide.
    type: list
    elements: str
    required: true
  enabled:
    description: When false, report the problems but do not fail.
    type: bool
    default: true
  organisation:
    description:
      - Findings of the organisational items (the registered result of organisation_evidence);
        a C(fail) or C(error) among them fails the run too (for example a stale contract register).
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
- name: Gate | fail when anything failed
  iryo_gate:
    hosts: "{{ groups['all'] }}"
    enabled: "{{ iryo_audit_fail_on_findings | default(true) }}"
"""

RETURN = r"""
msg:
  description: One line - the number of failing or undecided checks, on how many hosts, and the report path.
  returned: always
  type: str
  sample: "12 check(s) failed or could not decide on 4 hosts; see reports/20261204T151307Z-audit/report.html;
    set iryo_audit_fail_on_findings=false to exit 0"
"""
