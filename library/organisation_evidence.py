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
short_description: Report the evidence register and the organisational items of the clause catalog
description:
  - Runs on the controller only; every finding goes under the pseudo-host C(_organisation).
  - "Check C(c09.contracts.evidence): the contracts declared in inventory (C(iryo_contracts): provider,
    service, threat_responsibility_scope, availability_sla, last_confirmed, confirms, evidence_ref).
    No register, a missing field, a contract whose C(confirms) lacks C.1 or C.4, or one last confirmed
    more than C(iryo_evidence_max_age_months) (default from data/thresholds.yml, 12) ago fails; a
    complete, current register passes with its content as evidence."
  - Every organisational (manual) item of the catalog is reported C(manual), naming the evidence an
    auditor needs, unless C(iryo_evidence) records that evidence (evidence_ref, confirmed_by,
    last_confirmed); then it passes with it, or fails when the confirmation is too old.
  - The register's structure (dates, clause ids, known fields) is validated by the iryo_inputs role
    before any host is touched. See docs/evidence-register.md.
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
- name: Evidence register and organisational items
  organisation_evidence:
"""

RETURN = r"""
findings:
  description: The c09.contracts.evidence finding and one per organisational item (iryo-guard findings schema).
  returned: always
  type: list
  elements: dict
"""
