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
    C(freshclam --config-file=FILE --version) (freshclam parses the whole file first and exits 2 on an unknown
    option, a bad value or a missing argument, measured with ClamAV 1.4.3 and 1.4.6 in
    tests/integration/test_hostile_input_lab.py; it does not contact a mirror), parses it back, keeps a backup and
    replaces the
    file atomically. Check mode reports the exact diff and changes nothing.
  - Refuses a result without any C(PrivateMirror) or C(DatabaseMirror) line, since freshclam 1.4 then
    refuses to run at all, also for custom databases only.
  - Also reports whether the C(clamav-freshclam) service is enabled and active (systemctl) and when
    freshclam last succeeded, read from its C(UpdateLogFile) (lines with LogTime stamps that end an
    update without error). This does not decide the finding; signature age is check
    C(c12.antimalware.signatures_fresh).
  - With O(state=enforced) and O(update_now=true) it then runs C(freshclam) once from the configured mirror,
    only when the configuration changed or the ClamAV signatures in O(database_dir) are missing, broken or
    older than O(max_age_hours) (judged from the database headers and custom databases' times, as
    M(iryo.guard.av_signatures) judges them), and never in check mode (the result says what would run). An active
    C(clamav-freshclam) daemon holds freshclam's log lock, so it is stopped for the run and started again
    afterwards (which also makes it read a changed configuration). A run that fails fails the module with
    freshclam's errors; the daemon is started again in any case.
  - Secrets never leave the host. The value of C(HTTPProxyPassword) and the password (or bare token) of a URL
    with credentials (C(https://user:pass@mirror/)), in the file or in O(private_mirrors) / O(custom_urls),
    are shown as C(********) in the diff, the findings, messages and the echoed arguments; the file keeps them.
  - A URL with blanks or control characters (a newline would add an option line) is refused before the file is
    read. Bytes that are not UTF-8 (a Shift_JIS comment) are kept byte for byte.
  - Returns a finding for check C(c12.antimalware.mirror_config).
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
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
  update_now:
    description:
      - With O(state=enforced), update the signatures once (C(freshclam)) when the configuration changed or
        they are not fresh, so that a M(iryo.guard.av_signatures) call after this one judges the updated databases.
      - Ignored with O(state=audit) and in check mode.
    type: bool
    default: false
  update_db:
    description:
      - Databases the run updates (C(--update-db) each, e.g. V(custom) for a mirror that serves only the
        hospital's own databases); empty updates every database freshclam is configured for.
    type: list
    elements: str
    default: []
  database_dir:
    description:
      - ClamAV's database folder, whose freshness decides whether O(update_now) runs. Default the file's
        C(DatabaseDirectory), else C(/var/lib/clamav).
    type: path
  max_age_hours:
    description: Signatures older than this many hours make O(update_now) run.
    type: int
    default: 72
  service_dropin:
    description:
      - The content the freshclam service's drop-in C(/etc/systemd/system/clamav-freshclam.service.d/iryo-guard.conf)
        should have ("" for none). Only compared, never written - the result's C(needs) says whether the role's
        tasks must write it. Unset, not compared.
    type: str
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
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
    update_now: true
    update_db: [custom]
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
update:
  description:
    - With O(update_now) and O(state=enforced) - whether an update was due (C(due)) and why (C(reason)), whether
      freshclam ran (C(ran); never in check mode), its command (C(cmd)), return code (C(rc)), the databases it
      updated (C(updated)), the last lines it printed (C(output)) and whether the daemon was stopped for the run
      and started again (C(service_restarted)).
  returned: with update_now and state=enforced
  type: dict
  sample: {due: true, reason: the configuration changed, ran: true, rc: 0, updated: [hospital-local.hdb],
           cmd: [/usr/bin/freshclam, --stdout, --config-file=/etc/clamav/freshclam.conf, --update-db=custom],
           service_restarted: false}
needs:
  description:
    - What the role's builtin tasks still have to do for freshclam to update from the mirror - C(packages)
      (ClamAV not installed), C(dropin) (the service's drop-in differs from O(service_dropin)), C(service) (not
      enabled and running). Empty when nothing is needed, so a nightly skips those tasks.
  returned: always
  type: list
  elements: str
findings:
  description: Findings in the iryo-guard schema.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_freshclam_config import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
