#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_accounts
short_description: Unneeded local accounts (MHLW cybersecurity checklist, 不要なアカウントの削除)
description:
  - The inspection checklist asks that unneeded accounts, such as leavers' and unused ones, are removed
    (不要なアカウント（退職者や使用していないアカウント）の削除). This module reads the host's local accounts and
    reports four checks.
  - An account B(can log in) when it has a usable password hash in C(/etc/shadow) (or an empty password), or an
    C(authorized_keys) file with a key, B(and) a login shell (listed in C(/etc/shells), not nologin or false),
    B(and) it has not expired.
  - C(cl.accounts.unexpected) - every account that can log in is declared in O(expected) (or marked for removal
    in O(remove)). System accounts below C(UID_MIN) of C(/etc/login.defs) need no declaration as long as they
    cannot log in; one that can (root with a password or a key) must be declared too.
  - C(cl.accounts.unused) - every account that can log in (except O(unused_exempt) and O(remove)) logged in within
    O(max_unused_days). Last logins come from the binary C(/var/log/lastlog) (one record per UID), the wtmp files
    (login records), and util-linux's C(lastlog2) and C(wtmpdb) databases where the host has them; the newest
    wins and the evidence names the file. An account that never logged in counts from its creation, taken from
    shadow's date of the last password change; without that date it fails as "never logged in".
  - C(cl.accounts.shared_uid0) - root is the only account with UID 0.
  - C(cl.accounts.removal_locked) - every account in O(remove) (leavers) is locked - password locked with C(!) and
    account expired - or gone. With O(state=enforced) the module locks exactly those with C(usermod -L -e 1) (or
    C(passwd -l) and C(chage -E 1) without usermod), never deletes an account or changes its shell or files, and
    returns the findings of the accounts after the change.
  - No password hash appears in any output (findings, diff, results); a password is described as usable,
    locked, none or empty.
version_added: "0.3.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  state:
    description: C(audit) only reports; C(enforced) locks the accounts in O(remove) that are not locked yet.
    type: str
    choices: [audit, enforced]
    default: audit
  expected:
    description: Names of the accounts that may log in on this host (administrators, staff, service logins).
    type: list
    elements: str
    default: []
  remove:
    description: Accounts marked for removal (leavers). They must be locked; enforced mode locks them.
    type: list
    elements: str
    default: []
  max_unused_days:
    description: An account that can log in and has not logged in for longer than this many days is unused.
    type: int
    default: 90
  unused_exempt:
    description:
      - Accounts C(cl.accounts.unused) does not judge. root by default - administrators reach it through sudo,
        which the login records do not show, and D.1 judges its remote login.
    type: list
    elements: str
    default: [root]
  checks:
    description: The checks to report (all four by default); C(cl.accounts.removal_locked) must be among them to lock.
    type: list
    elements: str
    choices: [cl.accounts.unexpected, cl.accounts.unused, cl.accounts.shared_uid0, cl.accounts.removal_locked]
    default: [cl.accounts.unexpected, cl.accounts.unused, cl.accounts.shared_uid0, cl.accounts.removal_locked]
  root:
    description:
      - Read the account files under this directory instead of C(/) (a mounted image, tests). Locking then runs
        C(usermod --root).
    type: path
    default: /
  authorized_keys_files:
    description: sshd's C(AuthorizedKeysFile) patterns (C(%h), C(%u), relative to the home directory).
    type: list
    elements: str
    default: [.ssh/authorized_keys, .ssh/authorized_keys2]
  lastlog_file:
    description: The binary lastlog file (records of 292 bytes on x86, 296 on aarch64).
    type: str
    default: /var/log/lastlog
  wtmp_files:
    description: wtmp files (utmp records) to read; missing ones are skipped.
    type: list
    elements: str
    default: [/var/log/wtmp, /var/log/wtmp.1]
  lastlog2_files:
    description: util-linux lastlog2 databases (SQLite).
    type: list
    elements: str
    default: [/var/lib/lastlog/lastlog2.db]
  wtmpdb_files:
    description: wtmpdb databases (SQLite, Debian 13 and later).
    type: list
    elements: str
    default: [/var/lib/wtmpdb/wtmp.db]
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
    details: Reports what it would lock (C(would_lock), the diff) and runs no command.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
    details: The shadow fields a lock changes (password state, expiry, shell) before and after; never the hash.
notes:
  - Needs root (become) to read C(/etc/shadow) and other users' C(authorized_keys).
  - sshd records lastlog and wtmp for sessions with a terminal; logins without one (Ansible, scp) leave no record,
    so an account used only that way shows as never logged in. Exempt it with O(unused_exempt).
  - docs/checklist-host-checks.md explains what is read and why.
"""

EXAMPLES = r"""
- name: "CL | cl.accounts.* | Local accounts (audit)"
  local_accounts:
    expected: [root, iryoadmin, suzuki]
    remove: [sato]
    max_unused_days: 90

- name: "CL | cl.accounts.removal_locked | Lock the leavers' accounts, then report"
  local_accounts:
    state: enforced
    expected: [root, iryoadmin]
    remove: [sato]
"""

RETURN = r"""
findings:
  description: Findings in the iryo-guard schema (cl.accounts.unexpected, unused, shared_uid0, removal_locked).
  returned: always
  type: list
  elements: dict
accounts:
  description: The accounts that can log in, each with uid, shell, password state, key count and expiry (no hash).
  returned: always
  type: list
  elements: dict
regular_accounts_not_login_capable:
  description: Accounts between UID_MIN and UID_MAX that cannot log in (locked, no shell, expired).
  returned: always
  type: list
  elements: str
locked:
  description: Accounts this run locked.
  returned: when state=enforced locked one
  type: list
  elements: str
would_lock:
  description: Accounts enforced mode would lock (check mode).
  returned: in check mode, when there is one
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_local_accounts import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
