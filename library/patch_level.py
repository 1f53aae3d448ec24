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
  - Returns findings in the iryo-guard findings schema (check C(c12.patches.security_pending)).
version_added: "0.1.0"
author:
  - iryo-guard developers
options:
  backend:
    description:
      - How to compute pending upgrades. V(auto) uses python3-apt when importable.
    type: str
    choices: [auto, apt_pkg, apt-get]
    default: auto
  max_lists_age_hours:
    description:
      - Package lists older than this make the verdict untrustworthy; the finding is then an error.
    type: int
    default: 168
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
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff lists package versions before and after.
notes:
  - RHEL family support (dnf updateinfo) comes with the C.12 issue; on such hosts the module fails
    with a clear message, which the audit reports as C(error).
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

import sys

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_apt import lists_age_hours, parse_simulation, pending_with_apt_pkg
from ansible.module_utils.iryo_findings import make_finding

CHECK = "c12.patches.security_pending"
APT_ENV = {"LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}


def load_apt_pkg(backend, module):
    if backend == "apt-get":
        return None
    try:
        import apt_pkg  # Debian's python3-apt; not installable from PyPI
    except ImportError:
        if backend == "apt_pkg":
            module.fail_json(msg="backend=apt_pkg but python3-apt is not installed for %s"
                             % sys.executable)
        return None
    return apt_pkg


def pending_upgrades(module, apt_pkg):
    if apt_pkg is not None:
        try:
            return pending_with_apt_pkg(apt_pkg), "apt_pkg"
        except SystemError as exc:  # apt_pkg reports broken sources and caches this way
            module.fail_json(msg="python3-apt could not read the package cache: %s" % str(exc).strip())
    apt_get = module.get_bin_path("apt-get")
    if apt_get is None:
        module.fail_json(msg="no supported package manager: apt-get not found "
                             "(RHEL support comes with the C.12 issue)")
    rc, out, err = module.run_command([apt_get, "-s", "-o", "Debug::NoLocking=true", "dist-upgrade"],
                                      environ_update=APT_ENV)
    if rc != 0:
        module.fail_json(msg="apt-get -s dist-upgrade failed (rc=%d): %s" % (rc, err.strip() or out.strip()))
    return parse_simulation(out), "apt-get"


def verdict(pending, age, max_age):
    security = [p for p in pending if p["security"]]
    evidence = {
        "pending_security": [dict(p, origins=list(p["origins"])) for p in security],
        "pending_other": sorted(p["package"] for p in pending if not p["security"]),
        "lists_age_hours": age,
    }
    expected = {"pending_security": [], "lists_age_hours_max": max_age}
    if age is None or age > max_age:
        why = ("apt has never fetched package lists" if age is None
               else "package lists are %.0f hours old (limit %d)" % (age, max_age))
        return make_finding(CHECK, "error", "high", "apt", dict(evidence, error=why), expected,
                            "Let the host refresh its package lists from the hospital's mirror "
                            "(apt-daily.timer or apt-get update), then audit again.", False)
    if security:
        return make_finding(CHECK, "fail", "high", "apt", evidence, expected,
                            "Install the pending security updates (%s) from the security origin, "
                            "in a maintenance window (iryo-guard harden does this)."
                            % ", ".join(p["package"] for p in security), True)
    return make_finding(CHECK, "pass", "high", "apt", evidence, expected, "", True)


def install_plan(module, security):
    """What `apt-get install` of the pinned security candidates would do: (installs, removals)."""
    pins = ["%s=%s" % (p["package"], p["candidate"]) for p in security]
    rc, out, err = module.run_command(["apt-get", "-s", "-o", "Debug::NoLocking=true", "install", "--only-upgrade"]
                                      + pins, environ_update=APT_ENV)
    if rc != 0:
        module.fail_json(msg="apt-get -s install failed (rc=%d): %s" % (rc, err.strip() or out.strip()))
    removals = sorted(line.split()[1] for line in out.splitlines() if line.startswith("Remv "))
    return parse_simulation(out), removals, pins


def apply_security(module, security):
    """Install exactly the planned security updates; returns (installed, diff)."""
    plan, removals, pins = install_plan(module, security)
    if removals:
        module.fail_json(msg="refusing to install security updates that would remove packages: %s"
                         % ", ".join(removals))
    installed = [{"package": p["package"], "from": p["installed"], "to": p["candidate"]} for p in plan]
    diff = {"before_header": "packages", "after_header": "packages",
            "before": "".join("%s %s\n" % (i["package"], i["from"] or "(not installed)") for i in installed),
            "after": "".join("%s %s\n" % (i["package"], i["to"]) for i in installed)}
    if not module.check_mode:
        rc, out, err = module.run_command(
            ["apt-get", "install", "-y", "-q", "--only-upgrade", "-o", "Dpkg::Options::=--force-confdef",
             "-o", "Dpkg::Options::=--force-confold"] + pins, environ_update=APT_ENV)
        if rc != 0:
            module.fail_json(msg="apt-get install of security updates failed (rc=%d): %s"
                             % (rc, err.strip() or out.strip()[-2000:]), planned=installed)
    return installed, diff


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", default="auto", choices=["auto", "apt_pkg", "apt-get"]),
            max_lists_age_hours=dict(type="int", default=168),
            update_cache=dict(type="bool", default=False),
            apply=dict(type="str", default="none", choices=["none", "security"]),
        ),
        supports_check_mode=True,
    )
    changed = False
    if module.params["update_cache"] and not module.check_mode:
        rc, out, err = module.run_command(["apt-get", "update", "-q"], environ_update=APT_ENV)
        if rc != 0:
            module.fail_json(msg="apt-get update failed: %s" % (err.strip() or out.strip()))
        changed = True
    apt_pkg = load_apt_pkg(module.params["backend"], module)
    pending, backend = pending_upgrades(module, apt_pkg)
    installed, diff = [], []
    security = [p for p in pending if p["security"]]
    if module.params["apply"] == "security" and security:
        installed, package_diff = apply_security(module, security)
        changed, diff = True, [package_diff]
        if not module.check_mode:
            # python3-apt caches state in-process; the apt-get parser reads the new state for sure.
            pending, backend = pending_upgrades(module, None)
    age = lists_age_hours()
    finding = verdict(pending, age, module.params["max_lists_age_hours"])
    module.exit_json(changed=changed, diff=diff, installed=installed, pending=pending, backend=backend,
                     lists_age_hours=age, security_pending=[p["package"] for p in pending if p["security"]],
                     findings=[finding])


if __name__ == "__main__":
    main()
