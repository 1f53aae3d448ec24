#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: backup_freshness
short_description: A recent backup exists (MHLW cybersecurity checklist, バックアップの実施)
description:
  - The inspection checklist asks that the data and systems needed to continue care are backed up and that the
    restore procedure is confirmed (データやシステムのバックアップの実施と復旧手順を確認している). This module reports
    check C(cl.backups.recent) - the backup part a server can show. The restore test is evidence the hospital
    records (C(cl.manual.restore_test) in the evidence register), not this module's.
  - O(paths) - the newest backup artefact (by modification time) under the declared paths (shell globs; a
    folder is walked) must be younger than O(max_age_hours). Files smaller than O(min_size) do not count (an
    empty file is a failed backup).
  - O(systemd_unit) - the declared backup job's last run, as systemd recorded it
    (C(systemctl show -p Result,ExecMainStatus,ExecMainExitTimestamp,...)), must have succeeded within
    O(max_age_hours). A C(.timer) is followed to the service it starts. systemd keeps the record only until it
    restarts - a job that has not run since a recent reboot is C(error) (cannot decide), one that has not run
    for longer than the threshold fails.
  - Each declared source is judged; the check passes when every one does. Nothing declared fails (declare the
    backup, or leave a host that holds no data out of the check).
  - Report only; it changes nothing.
version_added: "0.3.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  paths:
    description: Where the backup artefacts land, as shell globs (C(/var/backups/ehr/*.sql.gz)) or folders.
    type: list
    elements: str
    default: []
  systemd_unit:
    description: The backup job (a service, or the timer that starts it).
    type: str
  max_age_hours:
    description: The newest backup must be younger than this (26 by default - a daily backup with a margin).
    type: int
    default: 26
  min_size:
    description: Artefacts smaller than this many bytes do not count.
    type: int
    default: 1
  max_files:
    description: Stop walking folders after this many files (the evidence says when it did).
    type: int
    default: 100000
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
notes:
  - docs/checklist-host-checks.md explains what is read and why.
"""

EXAMPLES = r"""
- name: "CL | cl.backups.recent | The newest database dump is younger than a day"
  backup_freshness:
    paths: [/var/backups/ehr/*.sql.gz]
    max_age_hours: 26

- name: "CL | cl.backups.recent | The backup job's last run succeeded within a day"
  backup_freshness:
    systemd_unit: files-backup.timer
    paths: [/srv/backup/files]
"""

RETURN = r"""
findings:
  description: Findings in the iryo-guard schema (cl.backups.recent), with the newest artefact and the job's last run.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_backup_freshness import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
