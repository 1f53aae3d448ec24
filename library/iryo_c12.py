#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iryo_c12
short_description: Every C.12 check of a host in one call (MHLW GL 5.2 §6.11 C.12)
description:
  - Runs the C.12 check modules in one module call, in this order - M(iryo.guard.patch_level)
    (C(c12.patches.security_pending),
    C(c12.patches.reboot_required), C(c12.patches.os_eol)), M(iryo.guard.freshclam_config)
    (C(c12.antimalware.mirror_config))
    and M(iryo.guard.av_signatures) (C(c12.antimalware.signatures_fresh)) - each with its own options.
  - The order matters when enforcing. Security updates go first, so the reboot verdict sees what they
    installed; freshclam's configuration next, with its one update run from the mirror (M(iryo.guard.freshclam_config)
    O(iryo.guard.freshclam_config#module:update_now)); the signatures last, so their verdict is the one after that
    update. In
    enforce mode the call thus returns the findings of the state after the change.
  - A check module whose option is unset does not run. Each runs exactly as when called alone (same options,
    same validation and findings); one that fails gives C(error) findings for its checks while the others still
    run, and outside check mode the task then fails, naming it.
  - With C(--tags)/C(--skip-tags) only the check modules whose checks are selected run. In an unattended run
    (C(iryo_unattended)), a check module that would enforce a check the clause catalog does not mark
    C(unattended) only audits (every C.12 check is marked unattended-safe today).
version_added: "0.2.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  patch_level:
    description: The options of M(iryo.guard.patch_level); unset, it does not run.
    type: raw
  freshclam_config:
    description: The options of M(iryo.guard.freshclam_config); unset, it does not run.
    type: raw
  av_signatures:
    description: The options of M(iryo.guard.av_signatures); unset, it does not run.
    type: raw
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
notes:
  - Findings are the same as the separate modules return; docs/architecture.md explains the clause call.
"""

EXAMPLES = r"""
- name: "C.12 | c12.patches.*, c12.antimalware.* | Every C.12 check of the host (audit)"
  iryo_c12:
    patch_level: {apply: none, max_lists_age_hours: 168}
    freshclam_config: {state: audit, private_mirrors: [http://mirror.hospital.example/clamav]}
    av_signatures: {max_age_hours: 72}

- name: "C.12 | c12.patches.*, c12.antimalware.* | Enforce, then the findings of the state after it"
  iryo_c12:
    patch_level: {apply: security}
    freshclam_config:
      state: enforced
      private_mirrors: [http://mirror.hospital.example/clamav]
      update_now: true
    av_signatures: {max_age_hours: 72}
"""

RETURN = r"""
findings:
  description: Findings in the iryo-guard schema of every check that ran.
  returned: always
  type: list
  elements: dict
checks:
  description: The result of each check module that ran, by name (pending updates, freshclam's update run, databases).
  returned: always
  type: dict
diff:
  description: The diffs of the check modules that change something (packages, freshclam.conf).
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
from ansible.module_utils import iryo_check_av_signatures as av_signatures
from ansible.module_utils import iryo_check_freshclam_config as freshclam_config
from ansible.module_utils import iryo_check_patch_level as patch_level

# Order: patches (the reboot verdict follows what they installed), then freshclam's configuration and its
# update run, then the signatures, judged after that update.
CHECKS = [
    Check("patch_level", patch_level.ARGUMENT_SPEC, patch_level.run_module, patch_level.CHECKS,
          patch_level.MODULE_KWARGS),
    Check("freshclam_config", freshclam_config.ARGUMENT_SPEC, freshclam_config.run_module, freshclam_config.CHECKS,
          freshclam_config.MODULE_KWARGS),
    Check("av_signatures", av_signatures.ARGUMENT_SPEC, av_signatures.run_module, av_signatures.CHECKS,
          av_signatures.MODULE_KWARGS),
]


def main():
    module = AnsibleModule(argument_spec=clause_argument_spec(CHECKS), supports_check_mode=True)
    result = run_checks(module, CHECKS)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
