# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the ip_forwarding module (library/ip_forwarding.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

from ansible.module_utils.iryo_files import write_text_atomically
from ansible.module_utils.iryo_findings import make_finding, some

CHECK = "c11.session_crossing.ip_forwarding"
CHECKS = (CHECK,)
KEYS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")
# systemd-sysctl: files from these folders, ordered by file name (first folder wins a name),
# then applied in that order, so the last assignment of a key is its boot value.
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")


def proc_path(key):
    return "/proc/sys/" + key.replace(".", "/")


def read_runtime(key):
    try:
        with open(proc_path(key)) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def sysctl_files():
    by_name = {}
    for folder in SYSCTL_DIRS:
        for path in glob.glob(os.path.join(folder, "*.conf")):
            by_name.setdefault(os.path.basename(path), path)
    files = [by_name[name] for name in sorted(by_name)]
    if os.path.exists("/etc/sysctl.conf") and not any(os.path.realpath(f) == "/etc/sysctl.conf" for f in files):
        files.append("/etc/sysctl.conf")
    return files


def parse_assignments(text):
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().lstrip("-").replace("/", ".")] = value.strip()
    return values


def read_persistent():
    persistent = {key: {"value": None, "file": None} for key in KEYS}
    for path in sysctl_files():
        try:
            with open(path) as handle:
                values = parse_assignments(handle.read())
        except (IOError, OSError):
            continue
        for key in KEYS:
            if key in values:
                persistent[key] = {"value": values[key], "file": path}
    return persistent


def dropin_content():
    return ("# Written by iryo-guard (MHLW GL 5.2 §6.11 C.11: no session crossing through this host).\n"
            "# Sorts after every other sysctl file, so these values win at boot.\n"
            + "".join("%s = 0\n" % key for key in KEYS))


def violations(runtime, persistent):
    found = []
    for key in KEYS:
        if runtime[key] not in (None, "0"):
            found.append("%s is %s now" % (key, runtime[key]))
        if persistent[key]["value"] not in (None, "0"):
            found.append("%s = %s at boot (%s)" % (key, persistent[key]["value"], persistent[key]["file"]))
    return found


def forwarding_finding(evidence, problems):
    """The finding for a host that is not a declared router: fail while forwarding is on now or at boot."""
    expected = {key: "0 (now and at boot)" for key in KEYS}
    if problems:
        return make_finding(CHECK, "fail", "medium", "sysctl", dict(evidence, violations=problems), expected,
                            "Turn IP forwarding off on this TLS/VPN endpoint (sysctl net.ipv4.ip_forward=0, "
                            "net.ipv6.conf.all.forwarding=0), or declare the host a router.", True,
                            summary="IP forwarding is on: %s; required: 0 now and at boot"
                                    % some(problems, 3, sep="; ", width=180))
    runtime = evidence["runtime"]
    return make_finding(CHECK, "pass", "medium", "sysctl", evidence, expected, "", True,
                        summary="IP forwarding is off now and at boot (%s)"
                                % ", ".join("%s = %s" % (k, runtime[k]) for k in KEYS if runtime[k] is not None))


def write_runtime(key):
    """Set a key to 0 in the running kernel; the error text, or None when the write went through."""
    try:
        with open(proc_path(key), "w") as handle:
            handle.write("0\n")
    except (IOError, OSError) as exc:
        return exc.strerror or str(exc)
    return None


def restore_dropin(module, dropin, existed, old_text, written, refused, runtime, errors):
    """The running value did not become 0: put the previous drop-in back (remove a new one), so that
    what the host runs and what it boots with are not silently made to differ, and fail."""
    if written:
        if existed:
            write_text_atomically(module, dropin, old_text)
        elif os.path.exists(dropin):
            os.unlink(dropin)
    seen = "; ".join("%s is %s in %s%s" % (key, runtime[key], proc_path(key),
                                            " (write refused: %s)" % errors[key] if errors.get(key) else "")
                     for key in refused)
    hint = (" In a container the runtime owns this value (e.g. podman --sysctl net.ipv4.ip_forward=0)."
            if any(errors.get(key) for key in refused) else "")
    undo = ("restored the previous %s" % dropin if existed else "removed the new %s" % dropin) if written \
        else "%s left as it was" % dropin
    module.fail_json(msg="IP forwarding still on after setting it off: %s (required 0); %s.%s"
                     % (seen, undo, hint), runtime=runtime, dropin=dropin)


ARGUMENT_SPEC = dict(
    state=dict(type="str", default="audit", choices=["audit", "disabled"]),
    router=dict(type="bool", default=False),
    dropin=dict(type="path", default="/etc/sysctl.d/99-zz-iryo-guard-forwarding.conf"),
)
MODULE_KWARGS = {}


def run_module(module):
    params = module.params
    runtime = {key: read_runtime(key) for key in KEYS}
    persistent = read_persistent()
    evidence = {"runtime": runtime, "persistent": persistent}
    if params["router"]:
        finding = make_finding(CHECK, "not_applicable", "medium", "sysctl", evidence, {"router": True},
                               "Declared router: forwarding is its job.", False,
                               summary="declared a router (router=true), so IP forwarding is not judged; "
                                       "net.ipv4.ip_forward is %s now" % runtime.get("net.ipv4.ip_forward"))
        module.exit_json(changed=False, runtime=runtime, persistent=persistent, findings=[finding])

    changed, diff = False, []
    if params["state"] == "disabled":
        wanted = dropin_content()
        current = ""
        if os.path.exists(params["dropin"]):
            with open(params["dropin"]) as handle:
                current = handle.read()
        if current != wanted:
            changed = True
            diff.append({"before_header": params["dropin"], "after_header": params["dropin"],
                         "before": current, "after": wanted})
        stale_runtime = [key for key in KEYS if runtime[key] not in (None, "0")]
        if stale_runtime:
            changed = True
            diff.append({"before_header": "runtime", "after_header": "runtime",
                         "before": "".join("%s = %s\n" % (k, runtime[k]) for k in stale_runtime),
                         "after": "".join("%s = 0\n" % k for k in stale_runtime)})
        if changed and not module.check_mode:
            existed = os.path.exists(params["dropin"])
            if current != wanted:
                try:
                    write_text_atomically(module, params["dropin"], wanted)
                except (IOError, OSError) as exc:
                    # The new text goes to a temporary file renamed over the old one: a failed write
                    # (full disk, read-only folder) leaves the previous drop-in as it was.
                    module.fail_json(msg="cannot write %s (%s); the previous file is unchanged and forwarding "
                                         "was not touched" % (params["dropin"], exc.strerror or exc))
            errors = {key: write_runtime(key) for key in stale_runtime}
            runtime = {key: read_runtime(key) for key in KEYS}
            # The kernel's answer, not our write, says whether forwarding is off: a write can fail
            # (a read-only /proc/sys in a container) or be undone at once (a network manager).
            refused = [key for key in KEYS if runtime[key] not in (None, "0")]
            if refused:
                restore_dropin(module, params["dropin"], existed, current, current != wanted, refused,
                               runtime, errors)
            persistent = read_persistent()
            evidence = {"runtime": runtime, "persistent": persistent}

    problems = violations(runtime, persistent)
    if problems and module.check_mode and changed:
        evidence["would_change"] = True
    finding = forwarding_finding(evidence, problems)
    module.exit_json(changed=changed, diff=diff, runtime=runtime, persistent=persistent, findings=[finding])

