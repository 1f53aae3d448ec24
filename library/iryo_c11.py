#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iryo_c11
short_description: Every C.11 check of a host in one call (MHLW GL 5.2 §6.11 C.11)
description:
  - Runs the host-side C.11 check modules in one module call - M(iryo.guard.tls_config) (web server TLS settings,
    C(c11.tls.server_config) / C(c10.tls.server_config)), M(iryo.guard.crypto_defaults) (C(c11.tls.client_defaults)) and
    M(iryo.guard.ip_forwarding) (C(c11.session_crossing.ip_forwarding)) - each with its own options, and, on the
    controller
    in the same task, the live probe of every TLS endpoint the host serves (O(tls_probe), the checks
    C(c11.tls.protocol_versions), C(c11.tls.cipher_suites), C(c11.tls.key_exchange), C(c11.tls.certificate),
    C(c11.tls.client_auth), or C(c10.tls.*) for endpoints declared under C.10). The probes run after the host
    part, so in enforce mode they judge the configuration just enforced and reloaded.
  - A check module whose option is unset does not run. Each runs exactly as when called alone (same options,
    same validation, rollback and findings); one that fails gives C(error) findings for its checks while the
    others still run, and outside check mode the task then fails, naming it.
  - With C(--tags)/C(--skip-tags) only the check modules whose checks are selected run. In an unattended run
    (C(iryo_unattended)), a check module that would enforce a check the clause catalog does not mark
    C(unattended) only audits.
version_added: "0.2.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  tls_config:
    description:
      - The options of M(iryo.guard.tls_config), or a list of such option sets (one per web server, e.g. nginx and
        Apache).
    type: raw
  crypto_defaults:
    description: The options of M(iryo.guard.crypto_defaults).
    type: raw
  ip_forwarding:
    description: The options of M(iryo.guard.ip_forwarding).
    type: raw
  tls_probe:
    description:
      - The endpoints to probe from the controller, each with the options of M(iryo.guard.tls_probe) (host, port,
        profile,
        clause, server_name, ca_file, client_cert, client_key, timeout, http_check). Probed in parallel.
    type: list
    elements: dict
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
- name: "C.11 | c11.tls.*, c11.session_crossing.ip_forwarding | Every C.11 check of the host"
  iryo_c11:
    tls_config:
      - {server: apache, state: audit, protocols: [TLSv1.3], verify_client: required}
    crypto_defaults: {state: audit, min_protocol: TLSv1.2}
    ip_forwarding: {state: audit}
    tls_probe:
      - {host: 10.0.0.5, port: 443, server_name: ehr.hospital.example, profile: mhlw-c11, ca_file: /etc/iryo/ca.pem}
"""

RETURN = r"""
findings:
  description: Findings in the iryo-guard schema of every check that ran.
  returned: always
  type: list
  elements: dict
checks:
  description: The result of each host-side check module, by name (a list where it ran more than once).
  returned: always
  type: dict
probes:
  description: The result of each endpoint probe, in the order given (protocols, suites, certificate, ...).
  returned: when tls_probe was given
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
from ansible.module_utils import iryo_check_crypto_defaults as crypto_defaults
from ansible.module_utils import iryo_check_ip_forwarding as ip_forwarding
from ansible.module_utils import iryo_check_tls_config as tls_config

# Order: the web servers' settings first (they reload), then the system-wide client defaults, then forwarding.
CHECKS = [
    Check("tls_config", tls_config.ARGUMENT_SPEC, tls_config.run_module, tls_config.CHECKS, tls_config.MODULE_KWARGS),
    Check("crypto_defaults", crypto_defaults.ARGUMENT_SPEC, crypto_defaults.run_module, crypto_defaults.CHECKS,
          crypto_defaults.MODULE_KWARGS),
    Check("ip_forwarding", ip_forwarding.ARGUMENT_SPEC, ip_forwarding.run_module, ip_forwarding.CHECKS,
          ip_forwarding.MODULE_KWARGS),
]


def main():
    module = AnsibleModule(argument_spec=clause_argument_spec(CHECKS), supports_check_mode=True)
    result = run_checks(module, CHECKS)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
