#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iryo_cl
short_description: The inspection checklist's host checks of a host in one call (MHLW cybersecurity checklist)
description:
  - Runs the host checks of clause CL in one module call. CL groups the items of the MHLW
    医療機関におけるサイバーセキュリティ対策チェックリスト
    that no §6.11 check answers. The order is M(iryo.guard.local_accounts) (C(cl.accounts.unexpected),
    C(cl.accounts.unused), C(cl.accounts.shared_uid0), C(cl.accounts.removal_locked)), M(iryo.guard.unneeded_services)
    (C(cl.services.unneeded)) and M(iryo.guard.backup_freshness) (C(cl.backups.recent)) - each with its own options.
  - Only M(iryo.guard.local_accounts) changes anything (it locks the accounts marked for removal in enforce mode), and
    it runs
    first, so the call returns the findings of the accounts after the change.
  - A check module whose option is unset does not run. Each runs exactly as when called alone (same options,
    same validation and findings); one that fails gives C(error) findings for its checks while the others still
    run, and outside check mode the task then fails, naming it.
  - With C(--tags)/C(--skip-tags) only the check modules whose checks are selected run. In an unattended run
    (C(iryo_unattended)), M(iryo.guard.local_accounts) only audits (locking an account is not marked unattended-safe).
version_added: "0.3.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  local_accounts:
    description: The options of M(iryo.guard.local_accounts); unset, it does not run.
    type: raw
  unneeded_services:
    description: The options of M(iryo.guard.unneeded_services); unset, it does not run.
    type: raw
  backup_freshness:
    description: The options of M(iryo.guard.backup_freshness); unset, it does not run.
    type: raw
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
notes:
  - Findings are the same as the separate modules return; docs/checklist-host-checks.md explains each check.
"""

EXAMPLES = r"""
- name: "CL | cl.accounts.*, cl.services.unneeded, cl.backups.recent | Checklist host checks (audit)"
  iryo_cl:
    local_accounts: {state: audit, expected: [root, iryoadmin], remove: [sato], max_unused_days: 90}
    unneeded_services: {allowed_units: [nginx.service], baseline_units: ["systemd-*", ssh.service],
                        allowed_ports: [443/tcp], baseline_ports: [22/tcp]}
    backup_freshness: {paths: [/var/backups/portal/*.tar.gz], max_age_hours: 26}

- name: "CL | cl.accounts.removal_locked | Lock the leavers' accounts, then the findings of the state after it"
  iryo_cl:
    local_accounts: {state: enforced, expected: [root, iryoadmin], remove: [sato]}
"""

RETURN = r"""
findings:
  description: Findings in the iryo-guard schema of every check that ran.
  returned: always
  type: list
  elements: dict
checks:
  description: The result of each check module that ran, by name (accounts, units and listeners, backups).
  returned: always
  type: dict
diff:
  description: The diffs of the check modules that change something (the shadow fields of locked accounts).
  returned: when a check module would change something
  type: list
  elements: dict
failed_checks:
  description: The check modules that failed, each with its message.
  returned: when one failed
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_clause import Check, clause_argument_spec, run_checks
from ansible.module_utils import iryo_check_backup_freshness as backup_freshness
from ansible.module_utils import iryo_check_local_accounts as local_accounts
from ansible.module_utils import iryo_check_unneeded_services as unneeded_services

# Order: the accounts first (the only part that changes anything, so the call reports the state after it), then
# the services and the backups, which only read.
CHECKS = [
    Check("local_accounts", local_accounts.ARGUMENT_SPEC, local_accounts.run_module, local_accounts.CHECKS,
          local_accounts.MODULE_KWARGS),
    Check("unneeded_services", unneeded_services.ARGUMENT_SPEC, unneeded_services.run_module,
          unneeded_services.CHECKS, unneeded_services.MODULE_KWARGS),
    Check("backup_freshness", backup_freshness.ARGUMENT_SPEC, backup_freshness.run_module, backup_freshness.CHECKS,
          backup_freshness.MODULE_KWARGS),
]


def main():
    module = AnsibleModule(argument_spec=clause_argument_spec(CHECKS), supports_check_mode=True)
    result = run_checks(module, CHECKS)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
