#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iryo_c10
short_description: Every C.10 host check of a host in one call (MHLW GL 5.2 §6.11 C.10)
description:
  - Runs the C.10 check modules in one module call, in this order, each with its own options -
    M(iryo.guard.host_isolation) (C(c10.isolation.host_class)), M(iryo.guard.nft_firewall)
    (C(c10.firewall.default_drop),
    C(c10.firewall.allowed_services)) and M(iryo.guard.access_logging) (C(c10.monitoring.access_logs),
    C(c10.monitoring.journal_persistent), C(c10.monitoring.log_forwarding)). Enforcement comes before any
    read of what it changed, so when M(iryo.guard.nft_firewall) and M(iryo.guard.access_logging) are given
    C(state=enforced) the
    findings are those of the state after the change.
  - A check module whose option is unset does not run. Each runs exactly as when called alone (same options,
    same validation, lockout guard, rollback and findings); one that fails gives C(error) findings for its
    checks while the others still run, and outside check mode the task then fails, naming it.
  - Commit confirmed. When M(iryo.guard.nft_firewall) applied a new table with a rollback timer armed, the action plugin
    opens a new connection to the host after the call and runs this module again with only
    O(nft_firewall) C(state=confirmed), which cancels the timer and persists the ruleset; the findings of the
    firewall checks are then those of that confirmation. If no new connection can be made, the host restores
    its previous table by itself.
  - With C(--tags)/C(--skip-tags) only the check modules whose checks are selected run. In an unattended run
    (C(iryo_unattended)), a check module that would enforce a check the clause catalog does not mark
    C(unattended) only audits (every C.10 check today).
version_added: "0.2.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  host_isolation:
    description: The options of M(iryo.guard.host_isolation); unset, it does not run.
    type: raw
  nft_firewall:
    description:
      - The options of M(iryo.guard.nft_firewall); unset, it does not run. C(confirm), C(connection) and
        C(connection_type) are filled in or read by the action plugin as for M(iryo.guard.nft_firewall) itself.
    type: raw
  access_logging:
    description: The options of M(iryo.guard.access_logging); unset, it does not run.
    type: raw
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
notes:
  - Findings are the same as the separate modules return; docs/firewall.md and docs/access-monitoring.md
    describe the checks.
"""

EXAMPLES = r"""
- name: "C.10 | c10.isolation.host_class, c10.firewall.*, c10.monitoring.* | Every C.10 check of the host"
  iryo_c10:
    host_isolation:
      host_classes: [patient_facing]
    nft_firewall:
      state: audit
      host_class: patient_facing
      services:
        - {name: https, port: 443, proto: tcp, sources: [any]}
      admin_sources: [10.20.0.0/24]
    access_logging:
      state: audit
      journald_min_retention_days: 365
      collector: {host: logs.hospital.example, port: 514, protocol: tcp}
"""

RETURN = r"""
findings:
  description: Findings in the iryo-guard schema of every check that ran.
  returned: always
  type: list
  elements: dict
checks:
  description:
    - The result of each check module, by name (its own return values, e.g. C(checks.nft_firewall.rendered),
      C(checks.nft_firewall.persistent), C(checks.access_logging.servers)). C(checks.nft_firewall.confirmation)
      says how a change was confirmed over a new connection.
  returned: always
  type: dict
diff:
  description: The diffs of every check module that would change or changed something.
  returned: when something would change or changed
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
from ansible.module_utils import iryo_check_access_logging as access_logging
from ansible.module_utils import iryo_check_host_isolation as host_isolation
from ansible.module_utils import iryo_check_nft_firewall as nft_firewall

# Order: what the host exposes first (read only), then the firewall (enforces, re-reads the live ruleset), then
# access monitoring (enforces, re-reads its files): each enforcing module reads back only what it changed itself.
CHECKS = [
    Check("host_isolation", host_isolation.ARGUMENT_SPEC, host_isolation.run_module, host_isolation.CHECKS,
          host_isolation.MODULE_KWARGS),
    Check("nft_firewall", nft_firewall.ARGUMENT_SPEC, nft_firewall.run_module, nft_firewall.CHECKS,
          nft_firewall.MODULE_KWARGS),
    Check("access_logging", access_logging.ARGUMENT_SPEC, access_logging.run_module, access_logging.CHECKS,
          access_logging.MODULE_KWARGS),
]


def main():
    module = AnsibleModule(argument_spec=clause_argument_spec(CHECKS), supports_check_mode=True)
    result = run_checks(module, CHECKS)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
