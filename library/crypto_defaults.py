#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: crypto_defaults
short_description: System-wide TLS client defaults per CRYPTREC (MHLW GL 5.2 §6.11 C.11, client side)
description:
  - C.11 asks for the CRYPTREC 高セキュリティ型 setting on server B(and client). Clients on the host
    (curl, apt, Python, agents) take their TLS defaults from OpenSSL's system-wide configuration.
  - On Debian and Ubuntu it audits and sets the C(system_default) section of C(/etc/ssl/openssl.cnf)
    (MinProtocol, CipherString, Ciphersuites, Groups), adding the C(ssl_conf) links when missing and
    keeping every other line as it is. The effective suite list is what the host's own OpenSSL
    reports (C(openssl ciphers -s -stdname)) with that configuration.
  - On the RHEL family it audits C(/etc/crypto-policies/back-ends/opensslcnf.config) and enforces with a
    custom policy module (C(policies/modules/IRYOGUARD.pmod)) applied by C(update-crypto-policies).
  - Applications that set their own protocols (nginx C(ssl_protocols)) are not governed by these
    defaults; tls_config handles servers.
  - Check mode reports the exact diff and changes nothing. Enforcement validates the new file with the
    host's OpenSSL before it replaces the old one, atomically, with a backup.
  - Returns a finding for check C(c11.tls.client_defaults).
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  state:
    description: V(audit) only reports; V(enforced) writes the defaults.
    type: str
    choices: [audit, enforced]
    default: audit
  backend:
    description: V(auto) uses crypto-policies when C(update-crypto-policies) exists, else openssl.cnf.
    type: str
    choices: [auto, openssl, crypto_policies]
    default: auto
  min_protocol:
    description: Lowest TLS version clients may use.
    type: str
    choices: [TLSv1.2, TLSv1.3]
    default: TLSv1.2
  tls12_suites:
    description: Allowed TLS 1.2 suites (IANA names); the host's OpenSSL maps them to its names.
    type: list
    elements: str
    required: true
  tls13_suites:
    description: Allowed TLS 1.3 suites (IANA names).
    type: list
    elements: str
    required: true
  groups:
    description: Allowed key-exchange groups (TLS names such as x25519, secp256r1, ffdhe2048).
    type: list
    elements: str
    required: true
  openssl_conf:
    description: OpenSSL configuration file (openssl backend).
    type: path
    default: /etc/ssl/openssl.cnf
  crypto_policies_dir:
    description: crypto-policies root (crypto_policies backend).
    type: path
    default: /etc/crypto-policies
  policy_module:
    description: Name of the custom crypto-policies module (upper case).
    type: str
    default: IRYOGUARD
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
"""

EXAMPLES = r"""
- name: C.11 | PATCH | c11.tls.client_defaults | CRYPTREC high-security client defaults
  crypto_defaults:
    state: enforced
    min_protocol: TLSv1.2
    tls12_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
    tls13_suites: [TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256]
    groups: [x25519, secp256r1, secp384r1]
"""

RETURN = r"""
backend:
  description: openssl or crypto_policies.
  returned: always
  type: str
effective:
  description: What clients get now, as the host's OpenSSL computes it.
  returned: always
  type: dict
  sample: {min_protocol: TLSv1.2, suites: {TLSv1.3: [TLS_AES_256_GCM_SHA384], TLSv1.2: []}, groups: [x25519]}
findings:
  description: Findings in the iryo-guard schema.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_crypto_defaults import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
