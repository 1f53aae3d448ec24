# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the patch_level module (library/patch_level.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import glob
import os
import time
import sys

from ansible.module_utils.iryo_apt import (annotate_published, lists_age_hours, parse_simulation,
                                           pending_with_apt_pkg, release_dates)
from ansible.module_utils.iryo_dnf import (DnfError, apply_security_upgrade, pending_updates as dnf_pending,
                                           reboot_required as dnf_reboot_required, security_upgrade_plan)
from ansible.module_utils.iryo_findings import make_finding, some

CHECK = "c12.patches.security_pending"
REBOOT_CHECK = "c12.patches.reboot_required"
EOL_CHECK = "c12.patches.os_eol"
CHECKS = (CHECK, REBOOT_CHECK, EOL_CHECK)
APT_ENV = {"LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}


DNF_CACHE_GLOBS = ("/var/cache/dnf/*/repodata/repomd.xml", "/var/cache/libdnf5/*/repodata/repomd.xml")


def choose_backend(module):
    """apt on Debian/Ubuntu, dnf on the RHEL family; an explicit backend is taken as given."""
    backend = module.params["backend"]
    if backend != "auto":
        return backend
    if module.get_bin_path("apt-get") is None and module.get_bin_path("dnf") is not None:
        return "dnf"
    return "auto"


def dnf_metadata_age_hours(now=None):
    """Hours since dnf last fetched repository metadata (newest repomd.xml), None if never."""
    stamps = [os.path.getmtime(p) for pattern in DNF_CACHE_GLOBS for p in glob.glob(pattern)]
    if not stamps:
        return None
    return round(((now or time.time()) - max(stamps)) / 3600.0, 1)


def dnf_apply_security(module):
    """RHEL family: dnf's --security filter only, after checking its plan removes nothing."""
    try:
        plan = security_upgrade_plan(module)
    except DnfError as exc:
        module.fail_json(msg="dnf could not plan the security upgrade: %s" % exc)
    refused = [p["package"] for p in plan["packages"] if p["action"] in ("remove", "remove-dep", "downgrade")]
    if refused:
        module.fail_json(msg="refusing a security upgrade that would remove or downgrade: %s" % ", ".join(refused))
    installed = [{"package": p["package"], "from": None, "to": p["version"]} for p in plan["packages"]
                 if p["action"] in ("upgrade", "install", "install-dep", "install-weak")]
    diff = {"before_header": "packages", "after_header": "packages",
            "before": "".join("%s (installed)\n" % i["package"] for i in installed),
            "after": "".join("%s %s\n" % (i["package"], i["to"]) for i in installed)}
    if installed and not module.check_mode:
        try:
            apply_security_upgrade(module)
        except DnfError as exc:
            module.fail_json(msg="dnf upgrade --security failed: %s" % exc, planned=installed)
    return installed, diff


def load_apt_pkg(backend, module):
    if backend in ("apt-get", "dnf"):
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
        module.fail_json(msg="apt-get -s dist-upgrade failed (rc=%d): %s" % (rc, apt_error(err, out)),
                         stdout=out[-4000:], stderr=err[-4000:])
    return parse_simulation(out), "apt-get"


def verdict(pending, age, max_age, max_security_age_days=14):
    security = [p for p in pending if p["security"]]
    known_ages = [p["pending_days_at_least"] for p in security if p.get("pending_days_at_least") is not None]
    oldest = max(known_ages) if known_ages else None
    evidence = {
        "pending_security": [dict(p, origins=list(p["origins"])) for p in security],
        "pending_other": sorted(p["package"] for p in pending if not p["security"]),
        "lists_age_hours": age,
        "oldest_security_pending_days_at_least": oldest,
    }
    expected = {"pending_security": [], "lists_age_hours_max": max_age,
                "security_pending_days_max": max_security_age_days}
    if age is None or age > max_age:
        why = ("package lists (apt) or repository metadata (dnf) were never fetched" if age is None
               else "package lists are %.0f hours old (limit %d)" % (age, max_age))
        return make_finding(CHECK, "error", "high", "apt", dict(evidence, error=why), expected,
                            "Let the host refresh its package lists from the hospital's mirror "
                            "(apt-daily.timer or apt-get update), then audit again.", False,
                            summary="could not decide: %s, so pending updates are unknown" % why)
    if security:
        overdue = oldest is not None and oldest > max_security_age_days
        # Overdue security fixes outrank a fresh one: the archive published them more than
        # max_security_age_days ago and the host still runs the vulnerable builds.
        return make_finding(CHECK, "fail", "critical" if overdue else "high", "apt", evidence, expected,
                            "Install the pending security updates (%s) from the security origin, "
                            "in a maintenance window (iryo-guard harden does this).%s"
                            % (", ".join(p["package"] for p in security),
                               " The oldest has been published for at least %d days (limit %d)."
                               % (oldest, max_security_age_days) if overdue else ""), True,
                            summary="%d security update%s pending (%s)%s; required: none pending"
                                    % (len(security), "" if len(security) == 1 else "s",
                                       some([p["package"] for p in security], 5),
                                       ", the oldest published at least %d days ago (limit %d)"
                                       % (oldest, max_security_age_days) if oldest is not None else ""))
    return make_finding(CHECK, "pass", "high", "apt", evidence, expected, "", True,
                        summary="no security update pending (package lists %.1f hours old; %d other update%s pending)"
                                % (age, len(evidence["pending_other"]),
                                   "" if len(evidence["pending_other"]) == 1 else "s"))


def newest_kernel(module, kernels):
    newest = kernels[0]
    for kernel in kernels[1:]:
        rc, _, _ = module.run_command(["dpkg", "--compare-versions", kernel, "gt", newest])
        if rc == 0:
            newest = kernel
    return newest


def reboot_summary(reasons, required, checked):
    if required:
        return "reboot required: %s; required: the installed updates running (reboot in the maintenance window)" % (
            some(reasons, 2, sep="; ", width=140) if reasons else "needs-restarting -r says so")
    return "no reboot pending (checked %s)" % checked


def reboot_finding(module, backend="apt-get"):
    """Does the host need a reboot to run what is installed? (Debian policy 9.12, kernel, needrestart;
    on the RHEL family `needs-restarting -r`, which compares boot time with package install times)"""
    if backend == "dnf":
        try:
            required, reasons = dnf_reboot_required(module)
        except DnfError as exc:
            return make_finding(REBOOT_CHECK, "error", "medium", "reboot", {"error": str(exc)}, {"reasons": []},
                                "Install dnf-utils / the needs-restarting plugin so the host can tell.", False,
                                summary="could not decide: %s" % exc)
        evidence = {"running_kernel": os.uname()[2], "reasons": reasons, "tool": "needs-restarting -r"}
        return make_finding(REBOOT_CHECK, "fail" if required else "pass", "medium", "reboot", evidence,
                            {"reasons": []}, "Reboot the host in its maintenance window so that the installed "
                            "updates run." if required else "", False,
                            summary=reboot_summary(reasons, required, "needs-restarting -r"))
    reasons = []
    if os.path.exists("/run/reboot-required"):
        packages = ""
        if os.path.exists("/run/reboot-required.pkgs"):
            with open("/run/reboot-required.pkgs") as handle:
                packages = " ".join(handle.read().split())
        reasons.append("/run/reboot-required exists" + (" (%s)" % packages if packages else ""))
    running = os.uname()[2]
    kernels = sorted(os.path.basename(p)[len("vmlinuz-"):] for p in glob.glob("/boot/vmlinuz-*"))
    newest = newest_kernel(module, kernels) if kernels else None
    if newest and newest != running:
        reasons.append("running kernel %s, newest installed %s" % (running, newest))
    needrestart = module.get_bin_path("needrestart")
    if needrestart:
        rc, out, _ = module.run_command([needrestart, "-b", "-k"])
        for line in out.splitlines():
            if line.startswith("NEEDRESTART-KSTA:") and line.split(":", 1)[1].strip() in ("2", "3"):
                reasons.append("needrestart: a kernel upgrade is pending (KSTA %s)" % line.split(":", 1)[1].strip())
    evidence = {"running_kernel": running, "installed_kernels": kernels, "reasons": reasons}
    if not kernels:
        evidence["note"] = "no kernel image in /boot (a container or a host booted elsewhere)"
    checked = "/run/reboot-required, %s%s" % ("kernel %s" % running if kernels else "no kernel in /boot",
                                              ", needrestart" if needrestart else "")
    if reasons:
        return make_finding(REBOOT_CHECK, "fail", "medium", "reboot", evidence, {"reasons": []},
                            "Reboot the host in its maintenance window so that the installed updates run.", False,
                            summary=reboot_summary(reasons, True, checked))
    return make_finding(REBOOT_CHECK, "pass", "medium", "reboot", evidence, {"reasons": []}, "", False,
                        summary=reboot_summary(reasons, False, checked))


def os_release(path="/etc/os-release"):
    values = {}
    with open(path) as handle:
        for line in handle:
            key, sep, value = line.strip().partition("=")
            if sep:
                values[key] = value.strip().strip('"')
    return values


def eol_finding(releases, today=None):
    """Does the OS release still receive security updates, per the end-of-life table?"""
    today = today or datetime.date.today()
    osr = os_release()
    distro, version = osr.get("ID", "?"), osr.get("VERSION_ID", "?")
    entry = (releases.get(distro) or {}).get(version)
    target = "%s %s" % (distro, version)
    if not entry:
        return make_finding(EOL_CHECK, "error", "high", target, {"os_release": osr.get("PRETTY_NAME"),
                                                                 "error": "release not in data/os_eol.yml"},
                            {"security_end": "a known future date"},
                            "Add the release and its end-of-life dates (with their source) to data/os_eol.yml.",
                            False, summary="could not decide: %s (%s) is not in data/os_eol.yml"
                                           % (target, osr.get("PRETTY_NAME")))
    end = datetime.date(*[int(x) for x in str(entry["security_end"]).split("-")])
    regular_end = datetime.date(*[int(x) for x in str(entry["regular_end"]).split("-")])
    evidence = {"os_release": osr.get("PRETTY_NAME"), "codename": entry.get("codename"),
                "regular_end": str(regular_end), "security_end": str(end), "days_left": (end - today).days,
                "phase": "regular" if today <= regular_end else "extended (LTS)",
                "source": entry.get("source"), "confidence": entry.get("confidence")}
    expected = {"security_end": "after %s" % today}
    if today > end:
        return make_finding(EOL_CHECK, "fail", "high", target, evidence, expected,
                            "Upgrade to a supported release: %s %s gets no security updates since %s."
                            % (distro, version, end), False,
                            summary="%s gets no security updates since %s; required: a release still supported"
                                    % (osr.get("PRETTY_NAME") or target, end))
    return make_finding(EOL_CHECK, "pass", "high", target, evidence, expected, "", False,
                        summary="%s gets security updates until %s (%d days left, %s phase%s)"
                                % (osr.get("PRETTY_NAME") or target, end, (end - today).days, evidence["phase"],
                                   "; date %s" % entry.get("confidence") if entry.get("confidence") != "confirmed"
                                   else ""))


def apt_error(err, out):
    """apt's first meaningful error line ("E: Could not get lock /var/lib/dpkg/lock-frontend ..."), one line.

    apt prints progress, notes ("N: Be aware ...") and warnings before its errors; the whole output stays
    in the result (stdout/stderr), the message carries the line that names the folder or lock."""
    lines = [" ".join(line.split()) for line in ((err or "") + "\n" + (out or "")).splitlines() if line.strip()]
    for prefix in ("E: ", "W: ", "dpkg: error", "dpkg:"):
        for line in lines:
            if line.startswith(prefix):
                return line
    return lines[-1] if lines else "no output"


def install_plan(module, security):
    """What `apt-get install` of the pinned security candidates would do: (installs, removals)."""
    pins = ["%s=%s" % (p["package"], p["candidate"]) for p in security]
    rc, out, err = module.run_command(["apt-get", "-s", "-o", "Debug::NoLocking=true", "install", "--only-upgrade"]
                                      + pins, environ_update=APT_ENV)
    if rc != 0:
        module.fail_json(msg="apt-get -s install failed (rc=%d): %s" % (rc, apt_error(err, out)),
                         stdout=out[-4000:], stderr=err[-4000:])
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
            module.fail_json(msg="apt-get install of security updates failed (rc=%d): %s" % (rc, apt_error(err, out)),
                             planned=installed, stdout=out[-4000:], stderr=err[-4000:])
    return installed, diff


def run_dnf(module):
    """The RHEL family (dnf 4 and dnf 5): same findings, same result keys as on Debian."""
    try:
        pending = dnf_pending(module)
    except DnfError as exc:
        module.fail_json(msg="dnf could not list pending updates: %s" % exc)
    installed, diff, changed = [], [], False
    if module.params["apply"] == "security" and any(p["security"] for p in pending):
        installed, package_diff = dnf_apply_security(module)
        changed, diff = bool(installed), [package_diff]
        if installed and not module.check_mode:
            pending = dnf_pending(module)
    age = dnf_metadata_age_hours()
    finding = verdict(pending, age, module.params["max_lists_age_hours"], module.params["max_security_age_days"])
    finding["target"] = "dnf"
    findings = [finding, reboot_finding(module, "dnf")]
    if module.params["eol_releases"]:
        findings.append(eol_finding(module.params["eol_releases"]))
    module.exit_json(changed=changed, diff=diff, installed=installed, pending=pending, backend="dnf",
                     lists_age_hours=age, security_pending=[p["package"] for p in pending if p["security"]],
                     findings=findings)


ARGUMENT_SPEC = dict(
    backend=dict(type="str", default="auto", choices=["auto", "apt_pkg", "apt-get", "dnf"]),
    max_lists_age_hours=dict(type="int", default=168),
    max_security_age_days=dict(type="int", default=14),
    update_cache=dict(type="bool", default=False),
    apply=dict(type="str", default="none", choices=["none", "security"]),
    eol_releases=dict(type="dict"),
)
MODULE_KWARGS = {}


def run_module(module):
    if choose_backend(module) == "dnf":
        run_dnf(module)
    changed = False
    if module.params["update_cache"] and not module.check_mode:
        rc, out, err = module.run_command(["apt-get", "update", "-q"], environ_update=APT_ENV)
        if rc != 0:
            module.fail_json(msg="apt-get update failed: %s" % apt_error(err, out), stdout=out[-4000:],
                             stderr=err[-4000:])
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
    annotate_published(pending, release_dates())
    findings = [verdict(pending, age, module.params["max_lists_age_hours"], module.params["max_security_age_days"]),
                reboot_finding(module)]
    if module.params["eol_releases"]:
        findings.append(eol_finding(module.params["eol_releases"]))
    module.exit_json(changed=changed, diff=diff, installed=installed, pending=pending, backend=backend,
                     lists_age_hours=age, security_pending=[p["package"] for p in pending if p["security"]],
                     findings=findings)

