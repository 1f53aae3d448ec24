#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: freshclam_config
short_description: Point freshclam at the hospital's signature mirror (MHLW GL 5.2 §6.11 C.12)
description:
  - C.12 asks for current malware pattern files also on closed networks. A closed network reaches
    signature updates only through an internal mirror, so freshclam must be told to use it.
  - Reads the freshclam configuration and compares its C(PrivateMirror) and C(DatabaseCustomURL) lines
    with O(private_mirrors) and O(custom_urls) (each list is exact; other listed values are removed),
    and, with O(remove_public_mirror), requires that no C(DatabaseMirror) line names a host under clamav.net.
  - With O(state=enforced) makes minimal line edits (public C(DatabaseMirror) lines are commented out,
    missing lines are added next to lines of the same option), checks the new file with
    C(freshclam --config-file=FILE --version) (freshclam parses the whole file and stops on an unknown
    option or a bad value; it does not contact a mirror), parses it back, keeps a backup and replaces the
    file atomically. Check mode reports the exact diff and changes nothing.
  - Refuses a result without any C(PrivateMirror) or C(DatabaseMirror) line, since freshclam 1.4 then
    refuses to run at all, also for custom databases only.
  - Also reports whether the C(clamav-freshclam) service is enabled and active (systemctl) and when
    freshclam last succeeded, read from its C(UpdateLogFile) (lines with LogTime stamps that end an
    update without error). This does not decide the finding; signature age is check
    C(c12.antimalware.signatures_fresh).
  - Returns a finding for check C(c12.antimalware.mirror_config).
version_added: "0.1.0"
author:
  - iryo-guard developers
options:
  state:
    description:
      - V(audit) only reports; V(enforced) writes the configuration.
    type: str
    choices: [audit, enforced]
    default: audit
  private_mirrors:
    description:
      - URLs of the hospital's mirrors of the official databases, one C(PrivateMirror) line each.
    type: list
    elements: str
    default: []
  custom_urls:
    description:
      - URLs of local (custom) databases, one C(DatabaseCustomURL) line each.
    type: list
    elements: str
    default: []
  remove_public_mirror:
    description:
      - Comment out C(DatabaseMirror) lines that name clamav.net hosts (the public mirror).
      - Default true when O(private_mirrors) or O(custom_urls) is set, else false.
    type: bool
  path:
    description: The freshclam configuration file.
    type: path
    default: /etc/clamav/freshclam.conf
  backup:
    description: Keep a time-stamped copy of the file before replacing it.
    type: bool
    default: true
  validate:
    description:
      - Check the new file with freshclam before replacing it (skipped, and noted, when freshclam is not installed).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: C.12 | AUDIT | c12.antimalware.mirror_config
  freshclam_config:
    private_mirrors: [http://mirror.hospital.example/clamav]

- name: C.12 | PATCH | c12.antimalware.mirror_config | freshclam uses the hospital mirror
  freshclam_config:
    state: enforced
    private_mirrors: [http://mirror.hospital.example/clamav]
    custom_urls: [http://mirror.hospital.example/clamav/hospital-local.hdb]
"""

RETURN = r"""
configured:
  description: What the file configures now (after enforcement), by option name.
  returned: always
  type: dict
service:
  description: The clamav-freshclam service, enabled and active as systemctl reports them (null without systemctl).
  returned: always
  type: dict
last_success:
  description: Time stamp of the last update that ended without error in freshclam's log, or null.
  returned: always
  type: str
backup_file:
  description: The backup made before replacing the file.
  returned: when changed and not in check mode and backup is true
  type: str
findings:
  description: Findings in the iryo-guard schema.
  returned: always
  type: list
  elements: dict
"""

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_findings import make_finding, some

CHECK = "c12.antimalware.mirror_config"
OPTIONS = ("PrivateMirror", "DatabaseCustomURL", "DatabaseMirror")
MARK = "# iryo-guard (C.12): public mirror off, updates come from the hospital mirror: "
LOG_STAMP = re.compile(r"^(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}) -> ")
LOG_OK = re.compile(r"( updated \(version| is up-to-date \(version)")
LOG_STARTED = "ClamAV update process started"


def split_option(line):
    """(name, value) of an active option line, else None."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split(None, 1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def is_public(value):
    host = re.sub(r"^[a-z]+://", "", value.strip().lower()).split("/")[0].split(":")[0]
    return host == "clamav.net" or host.endswith(".clamav.net")


def parse(text):
    configured = {name: [] for name in OPTIONS}
    other = {}
    for line in text.splitlines():
        option = split_option(line)
        if option is None:
            continue
        if option[0] in configured:
            configured[option[0]].append(option[1])
        else:
            other[option[0]] = option[1]
    configured["UpdateLogFile"] = other.get("UpdateLogFile")
    return configured


def edit(text, private_mirrors, custom_urls, remove_public):
    """The new text: minimal line edits. Lists are exact for PrivateMirror and DatabaseCustomURL."""
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    wanted = {"PrivateMirror": list(private_mirrors), "DatabaseCustomURL": list(custom_urls)}
    out, seen = [], {name: [] for name in wanted}
    for line in lines:
        option = split_option(line)
        if option and option[0] in wanted:
            if option[1] in wanted[option[0]] and option[1] not in seen[option[0]]:
                seen[option[0]].append(option[1])
                out.append(line)
            continue  # not listed (or a duplicate): removed
        if option and option[0] == "DatabaseMirror" and remove_public and is_public(option[1]):
            out.append(MARK + line.lstrip())
            continue
        out.append(line)
    for name in ("PrivateMirror", "DatabaseCustomURL"):
        missing = ["%s %s\n" % (name, value) for value in wanted[name] if value not in seen[name]]
        if not missing:
            continue
        anchors = [i for i, line in enumerate(out) if (split_option(line) or ("",))[0] == name]
        if not anchors:
            anchors = [i for i, line in enumerate(out)
                       if (split_option(line) or ("",))[0] in ("PrivateMirror", "DatabaseMirror")
                       or line.startswith(MARK)]
        at = anchors[-1] + 1 if anchors else len(out)
        out[at:at] = missing
    return "".join(out)


def problems_of(configured, private_mirrors, custom_urls, remove_public):
    found = []
    for name, wanted in (("PrivateMirror", private_mirrors), ("DatabaseCustomURL", custom_urls)):
        if sorted(set(configured[name])) != sorted(set(wanted)):
            # Plain words, not Python lists: these lines are shown to people in the report.
            found.append("%s is %s, expected %s" % (name, ", ".join(configured[name]) or "not set",
                                                    ", ".join(wanted) or "not set"))
    public = [m for m in configured["DatabaseMirror"] if is_public(m)]
    if remove_public and public:
        found.append("DatabaseMirror still names the public mirror (%s)" % ", ".join(public))
    if not private_mirrors and not custom_urls and not configured["PrivateMirror"] and public:
        found.append("freshclam updates only from the public mirror (%s), unreachable on a closed network; "
                     "no hospital mirror declared" % ", ".join(public))
    return found


def mirror_finding(path, evidence, expected, problems, declared, remove_public):
    """The finding on freshclam.conf as read (evidence: path, configured, service, last_success)."""
    if problems:
        return make_finding(CHECK, "fail", "medium", path, dict(evidence, problems=problems), expected,
                            "Point freshclam at the hospital's mirror: PrivateMirror for the official databases, "
                            "DatabaseCustomURL for local ones, public DatabaseMirror lines off "
                            "(c12_patches_antimalware_private_mirrors / _custom_urls, then harden).", declared,
                            summary="freshclam: %s" % some(problems, 3, sep="; ", width=225))
    configured = evidence["configured"]
    sources = configured["PrivateMirror"] + configured["DatabaseCustomURL"]
    return make_finding(CHECK, "pass", "medium", path, evidence, expected, "", True,
                        summary="freshclam updates from %s%s; clamav-freshclam is %s" % (
                            some(sources, 2) if sources else some(configured["DatabaseMirror"], 2),
                            ", no public mirror" if remove_public else "",
                            evidence["service"].get("active") or "not known (no systemctl)"))


def last_success(log_path):
    """Stamp of the last update run in freshclam's log that reported a database and no error."""
    if not log_path:
        return None
    try:
        with open(log_path, errors="replace") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    result, stamp, ok, error = None, None, False, False
    for line in lines + [LOG_STARTED]:
        if LOG_STARTED in line:
            if stamp and ok and not error:
                result = stamp
            stamp, ok, error = None, False, False
            match = LOG_STAMP.match(line)
            stamp = match.group(1) if match else None
            continue
        if "ERROR:" in line:
            error = True
        elif LOG_OK.search(line):
            ok = True
            match = LOG_STAMP.match(line)
            stamp = match.group(1) if match else stamp
    return result


def service_state(module):
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return {"enabled": None, "active": None}
    state = {}
    for key, verb in (("enabled", "is-enabled"), ("active", "is-active")):
        _, out, _ = module.run_command([systemctl, verb, "clamav-freshclam.service"])
        state[key] = out.strip() or None
    return state


def validate(module, path):
    freshclam = module.get_bin_path("freshclam")
    if not freshclam:
        return "freshclam not installed: the new file was parsed back only"
    rc, out, err = module.run_command([freshclam, "--config-file=%s" % path, "--version"])
    if rc != 0:
        module.fail_json(msg="freshclam refuses the new configuration, file left unchanged: %s"
                         % (err or out).strip(), rc=rc)
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="audit", choices=["audit", "enforced"]),
            private_mirrors=dict(type="list", elements="str", default=[]),
            custom_urls=dict(type="list", elements="str", default=[]),
            remove_public_mirror=dict(type="bool"),
            path=dict(type="path", default="/etc/clamav/freshclam.conf"),
            backup=dict(type="bool", default=True),
            validate=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path, mirrors, urls = params["path"], params["private_mirrors"], params["custom_urls"]
    remove_public = params["remove_public_mirror"]
    if remove_public is None:
        remove_public = bool(mirrors or urls)
    expected = {"PrivateMirror": mirrors, "DatabaseCustomURL": urls,
                "public DatabaseMirror": "none" if remove_public else "allowed"}

    if not os.path.exists(path):
        finding = make_finding(CHECK, "fail", "medium", path, {"exists": False}, expected,
                               "Install clamav-freshclam and point it at the hospital mirror.", True,
                               summary="%s does not exist (freshclam not installed); required: freshclam updating "
                                       "from %s" % (path, some(mirrors + urls, 2) if mirrors or urls
                                                    else "the hospital mirror"))
        if params["state"] == "enforced":
            module.fail_json(msg="%s does not exist: install clamav-freshclam first" % path, findings=[finding])
        module.exit_json(changed=False, configured={}, service=service_state(module), last_success=None,
                         findings=[finding])
    with open(path) as handle:
        current = handle.read()

    changed, diff, result = False, [], {}
    notes = []
    text = current
    if params["state"] == "enforced":
        wanted = edit(current, mirrors, urls, remove_public)
        after = parse(wanted)
        if not after["PrivateMirror"] and not after["DatabaseMirror"]:
            module.fail_json(msg="the result would have no PrivateMirror or DatabaseMirror line, and freshclam 1.4 "
                                 "then refuses to run (also for custom databases only): set private_mirrors")
        if wanted != current:
            changed = True
            diff.append({"before_header": path, "after_header": path, "before": current, "after": wanted})
            if not module.check_mode:
                folder = os.path.dirname(path) or "."
                fd, tmp = tempfile.mkstemp(prefix=".freshclam.conf.", dir=folder)
                try:
                    with os.fdopen(fd, "w") as handle:
                        handle.write(wanted)
                    if params["validate"]:
                        note = validate(module, tmp)
                        if note:
                            notes.append(note)
                    with open(tmp) as handle:
                        if problems_of(parse(handle.read()), mirrors, urls, remove_public):
                            module.fail_json(msg="the new file does not parse back as intended, left unchanged")
                    if params["backup"]:
                        result["backup_file"] = module.backup_local(path)
                    module.atomic_move(tmp, path)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                with open(path) as handle:
                    text = handle.read()

    configured = parse(text)
    service = service_state(module)
    success = last_success(configured.pop("UpdateLogFile") or "/var/log/clamav/freshclam.log")
    evidence = {"path": path, "configured": configured, "service": service, "last_success": success}
    if notes:
        evidence["notes"] = notes
    if module.check_mode and changed:
        evidence["would_change"] = True
    finding = mirror_finding(path, evidence, expected, problems_of(configured, mirrors, urls, remove_public),
                             bool(mirrors or urls), remove_public)
    module.exit_json(changed=changed, diff=diff, configured=configured, service=service, last_success=success,
                     findings=[finding], **result)


if __name__ == "__main__":
    main()
