#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/iryo_validate_inputs.py,
# as ansible.builtin.debug does. This file lets ansible-doc show it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iryo_validate_inputs
short_description: Validate iryo-guard inventory input on the controller
description:
  - Checks C(iryo_exceptions) of each host. Every entry must name a check of the clause catalog and have
    a reason, an approver and an expiry date (YYYY-MM-DD). Fails with a clear message otherwise.
    Runs on the controller only; the host is never contacted.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options: {}
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
"""

EXAMPLES = r"""
- name: Refuse malformed exceptions before any host is touched
  iryo_validate_inputs:
"""

RETURN = r"""
exceptions:
  description: The host's exceptions, normalised (expires as YYYY-MM-DD, target defaulting to *).
  returned: success
  type: list
  elements: dict
"""
