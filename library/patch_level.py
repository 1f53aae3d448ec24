#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: patch_level
short_description: Report pending OS security updates (MHLW GL 5.2 §6.11 C.12)
description:
  - Lists the package upgrades the host's configured repositories offer and classifies each as a
    security update or not, by the origin it comes from (label C(Debian-Security) or a suite ending
    in C(-security)), never by archive alias, since a release becomes C(oldstable) over time.
  - Works against whatever mirror the host uses, including a hospital's internal mirror on a
    closed network.
  - Uses python3-apt when the host's Python has it, else parses C(apt-get -s dist-upgrade).
  - Read-only; it never refreshes package lists unless O(update_cache=true), so an audit in check
    mode changes nothing. Stale package lists make the verdict an C(error), not a pass.
  - Returns findings in the iryo-guard findings schema for C(c12.patches.security_pending),
    C(c12.patches.reboot_required) (C(/run/reboot-required), running kernel against the newest
    installed one, C(needrestart -b) when present) and C(c12.patches.os_eol) (the release against
    the end-of-life table it is given).
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  backend:
    description:
      - How to compute pending upgrades. V(auto) uses python3-apt when importable, else C(apt-get -s);
        V(dnf) on the RHEL family (V(auto) picks it where apt-get is absent and dnf present).
    type: str
    choices: [auto, apt_pkg, apt-get, dnf]
    default: auto
  max_lists_age_hours:
    description:
      - Package lists older than this make the verdict untrustworthy; the finding is then an error.
    type: int
    default: 168
  max_security_age_days:
    description:
      - A pending security update the archive published more than this many days ago makes the
        finding C(critical) instead of C(high). Debian's indexes carry no per-package dates, so the
        age is a lower bound, from the C(Date:) of the oldest Release file that lists the candidate
        (returned per package as C(published) and C(pending_days_at_least)).
    type: int
    default: 14
  update_cache:
    description:
      - Refresh package lists (C(apt-get update)) first. Skipped in check mode.
    type: bool
    default: false
  apply:
    description:
      - V(none) only reports. V(security) installs the pending security updates, each pinned to its
        candidate version from the security origin, and nothing else; what they need comes along,
        as with the C(security) filter of dnf. An install that would remove a package is refused.
      - In check mode the result lists exactly the packages and versions that would be installed.
    type: str
    choices: [none, security]
    default: none
  eol_releases:
    description:
      - End-of-life table (the C(releases) mapping of C(data/os_eol.yml)) by distribution id and
        version, each with C(security_end) and C(regular_end) dates, source and confidence. The role
        passes it; without it C(c12.patches.os_eol) is not reported.
    type: dict
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
    details: The diff lists package versions before and after.
notes:
  - RHEL family (dnf 4 and dnf 5, V(backend=dnf), chosen automatically where apt-get is absent) -
    pending updates from C(dnf check-update) classified by dnf's own C(--security) filter and
    C(updateinfo) advisories, reboot from C(needs-restarting -r), enforcement with
    C(dnf upgrade --security) only. Parsers are tested against real captured output
    (tests/fixtures/dnf, docs/patch-level-rhel.md); no RHEL host runs in the lab.
"""

EXAMPLES = r"""
- name: C.12 | AUDIT | Pending security updates
  patch_level:
  register: c12_patch_level

- name: C.12 | PATCH | Install pending security updates only
  patch_level:
    apply: security

- name: Ad hoc, with the apt-get parser forced
  # ansible hospital -m patch_level -a backend=apt-get
  patch_level:
    backend: apt-get
"""

RETURN = r"""
pending:
  description: Every pending upgrade or new package.
  returned: success
  type: list
  elements: dict
  sample: [{package: less, installed: "590-2", candidate: "590-2.1~deb12u2", arch: amd64,
            origins: ["Debian-Security:bookworm-security"], security: true}]
security_pending:
  description: Names of the packages whose candidate comes from a security origin.
  returned: success
  type: list
  elements: str
lists_age_hours:
  description: Hours since apt last fetched release files; null when it never did.
  returned: success
  type: float
installed:
  description: With O(apply=security), what was (in check mode, would be) installed.
  returned: success
  type: list
  elements: dict
  sample: [{package: less, from: "590-2", to: "590-2+deb12u99lab1"}]
backend:
  description: The backend used (apt_pkg or apt-get).
  returned: success
  type: str
findings:
  description: Findings in the iryo-guard schema.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_patch_level import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
