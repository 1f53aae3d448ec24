#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/organisation_evidence.py,
# as ansible.builtin.debug does. This file lets ansible-doc show it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: organisation_evidence
short_description: Report the organisational items of the clause catalog
description:
  - Emits one C(manual) finding per organisational item of the catalog (contracts, policies,
    explanations) under the pseudo-host C(_organisation), naming the evidence an auditor needs. Runs
    on the controller only.
version_added: "0.1.0"
author:
  - iryo-guard developers
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Organisational items as manual findings
  organisation_evidence:
"""

RETURN = r"""
findings:
  description: One manual finding per organisational item, in the iryo-guard findings schema.
  returned: always
  type: list
  elements: dict
"""
