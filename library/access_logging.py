#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: access_logging
short_description: Access monitoring on a host (MHLW GL 5.2 §6.11 C.10)
description:
  - C.10 asks for access monitoring (アクセス監視) on the systems that show information to patients.
    This module checks that what monitoring needs is recorded and kept.
  - C(c10.monitoring.access_logs) — every TLS virtual host of nginx and Apache writes an access log.
    nginx C(access_log off) (or C(/dev/null)) in a TLS C(server{}), or inherited from C(http{}), fails;
    an Apache C(SSLEngine on) vhost without C(CustomLog)/C(TransferLog) and none at server level fails.
    The configuration is read as C(tls_config) reads it (includes followed).
  - C(c10.monitoring.journal_persistent) — journald stores to disk (C(Storage=persistent), or C(auto)
    with C(/var/log/journal) present) and declares a retention (C(MaxRetentionSec)) of at least
    O(journald_min_retention_days). The effective configuration comes from
    C(systemd-analyze cat-config systemd/journald.conf) (else the files in journald's order).
  - C(c10.monitoring.log_forwarding) — with a O(collector), rsyslog forwards to it (C(omfwd) or
    C(@@host:port)), and C(rsyslogd -N1) accepts the configuration; C(not_applicable) without one.
  - O(state=enforced) writes C(/etc/systemd/journald.conf.d/60-iryo-guard.conf), creates
    C(/var/log/journal) and restarts systemd-journald (it keeps the logs) only when something changed;
    writes C(/etc/rsyslog.d/60-iryo-guard-forward.conf), validates with C(rsyslogd -N1) and restarts
    rsyslog; turns access logs on in TLS vhosts where they are off, validates with C(nginx -t) /
    C(apache2ctl -t) and reloads. Every file is backed up first and restored when validation or the
    restart fails. Check mode reports the diff and writes nothing.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  state:
    description: V(audit) reports; V(enforced) makes the host compliant.
    type: str
    choices: [audit, enforced]
    default: audit
  journald_min_retention_days:
    description:
      - Minimum retention in days (the role takes it from data/thresholds.yml; not a guideline value).
    type: int
    default: 365
  journald_system_max_use:
    description: Optional C(SystemMaxUse) to write with the drop-in (e.g. V(4G)); unset leaves journald's default.
    type: str
  collector:
    description:
      - The hospital's log collector; omitted means none is declared.
    type: dict
    suboptions:
      host: {description: Host name or address of the collector., type: str, required: true}
      port: {description: Port., type: int, default: 514}
      protocol: {description: Transport., type: str, choices: [tcp, udp], default: tcp}
  web_servers:
    description: Web servers to check, V(nginx), V(apache), or V(auto) (every one installed).
    type: list
    elements: str
    default: [auto]
  access_logs:
    description: Audit and enforce C(c10.monitoring.access_logs).
    type: bool
    default: true
  journal_persistent:
    description: Audit and enforce C(c10.monitoring.journal_persistent).
    type: bool
    default: true
  log_forwarding:
    description: Audit and enforce C(c10.monitoring.log_forwarding).
    type: bool
    default: true
  backup_dir:
    description: Where the previous version of every file written is kept.
    type: path
    default: /var/backups/iryo-guard/access_logging
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
notes:
  - nginx C(location) blocks that turn the log off (e.g. a health check) are listed in the evidence,
    not failed.
"""

EXAMPLES = r"""
- name: C.10 | AUDIT | c10.monitoring.* | Access logs, persistent journal, forwarding
  access_logging:
    journald_min_retention_days: 365
    collector: {host: logs.hospital.example, port: 514, protocol: tcp}

- name: C.10 | HARDEN | c10.monitoring.* | Turn access monitoring on
  access_logging:
    state: enforced
    web_servers: [nginx]
"""

RETURN = r"""
servers:
  description: Every TLS virtual host with where its access log is decided and whether it is on.
  returned: always
  type: list
  elements: dict
journald:
  description: Effective journald values (value and file), storage, and whether /var/log/journal exists.
  returned: always
  type: dict
forwards:
  description: Forwarding actions found in the rsyslog configuration.
  returned: always
  type: list
  elements: dict
diff:
  description: Per file C(before_header), C(after_header), C(before), C(after).
  returned: when a change is or would be made
  type: list
  elements: dict
commands:
  description: Validation and restart commands run, with rc, stdout and stderr.
  returned: when files were written
  type: list
  elements: dict
findings:
  description: Findings in the iryo-guard schema.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_access_logging import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
