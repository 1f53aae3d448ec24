#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the probe runs on the controller in plugins/action/tls_probe.py
# (iryo_guard/tls/), no module is sent to a host. This file lets ansible-doc show it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tls_probe
short_description: Live TLS verdict of an endpoint against a C.11 / CRYPTREC profile
description:
  - Connects from the controller to O(host):O(port) and finds out which protocol versions, cipher suites
    (IANA names, per version), key-exchange groups and DH sizes the server accepts, the facts of its
    certificate and how it treats a client without a certificate.
  - Judges them against a profile of C(data/tls_profiles.yml) and returns findings for the checks
    C(c11.tls.protocol_versions), C(c11.tls.cipher_suites), C(c11.tls.key_exchange),
    C(c11.tls.certificate) and C(c11.tls.client_auth) of a C.11 endpoint (O(clause=C.11)), or
    C(c10.tls.protocol_versions), C(c10.tls.cipher_suites), C(c10.tls.key_exchange), C(c10.tls.certificate)
    and C(c10.tls.client_auth) of a patient-facing endpoint outside C.11 (O(clause=C.10)). An unreachable
    or broken endpoint gives C(error) findings for all five, never a pass.
  - The certificate chain is valid when OpenSSL's verifier (C(openssl verify -purpose sslserver)) accepts it
    for O(ca_file) and O(server_name), as curl and C(openssl s_client) decide; the leaf must carry a
    subjectAltName, and every certificate of the path must meet the profile's key and signature rules.
    Web-PKI observations (a CA without keyUsage, a leaf valid for more than 398 days, ...) are notes, never failures.
  - Few handshakes (about 12-20 for a compliant endpoint). Suites and groups are found by
    elimination from what the server selects, TLS 1.3 through HelloRetryRequests; see docs/tls-probe.md.
  - It does not decide whether a host may use C(mhlw-c11-tls12); the C.11 role does.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  host:
    description: Name or address to connect to.
    type: str
    required: true
  port:
    description: TCP port of the TLS endpoint.
    type: int
    required: true
  profile:
    description: Profile id from C(data/tls_profiles.yml).
    type: str
    required: true
    choices: [mhlw-c11, mhlw-c11-tls12, cryptrec-high, cryptrec-recommended]
  clause:
    description:
      - The clause the endpoint is judged under. V(C.11) (HTTPS over an open network) accepts only the profiles
        V(mhlw-c11) and V(mhlw-c11-tls12); any other profile is refused before probing. V(C.10) (a patient-facing
        TLS endpoint outside C.11) accepts every profile and reports as C(c10.tls.*).
    type: str
    choices: [C.10, C.11]
    default: C.11
  server_name:
    description: SNI and the name the certificate must be valid for. Default O(host) (no SNI for an IP address).
    type: str
  ca_file:
    description: PEM file of the CA(s) the certificate chain must validate to. Default the system store.
    type: path
  client_cert:
    description: PEM client certificate (from the client CA) to show that a client WITH a certificate gets through.
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  timeout:
    description: Seconds per connection; the whole probe ends within three times this.
    type: float
    default: 5.0
  http_check:
    description:
      - Send an HTTP GET after the handshake without a client certificate, to see a refusal at the HTTP
        layer (nginx C(ssl_verify_client on) answers 400 instead of failing the handshake).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
notes:
  - Runs on the controller only (like M(ansible.builtin.debug)); the target needs no Python.
  - Client authentication is detected WITHOUT credentials; O(client_cert) only adds C(with_cert_ok).
"""

EXAMPLES = r"""
- name: C.11 | AUDIT | c11.tls.* | portal HTTPS
  tls_probe:
    host: portal.hospital.example
    port: 443
    profile: mhlw-c11
    ca_file: /etc/iryo-guard/hospital-ca.pem
    client_cert: /etc/iryo-guard/probe-client.pem
    client_key: /etc/iryo-guard/probe-client.key

# ad hoc, from the repository root:
# ansible localhost -m tls_probe -a "host=127.0.0.1 port=8443 profile=mhlw-c11 server_name=portal ca_file=ca.pem"
"""

RETURN = r"""
compliant:
  description: True when all five checks pass.
  returned: always
  type: bool
protocols:
  description: Accepted protocol versions (SSLv2 ... TLSv1.3).
  returned: success
  type: list
  elements: str
suites:
  description: Accepted cipher suites per version, IANA names, in the order the server selected them.
  returned: success
  type: dict
groups:
  description: Accepted key-exchange groups (TLS group names), TLS 1.3 and TLS <= 1.2 together.
  returned: success
  type: list
  elements: str
dh_bits:
  description: Smallest DHE prime the server used in TLS <= 1.2, or null without DHE.
  returned: success
  type: int
certificate:
  description:
    - Leaf key type/size/curve, signature hash, validity, subjectAltNames; C(chain_valid) and C(chain_error)
      (OpenSSL's verdict, in words); C(path) (every certificate of the validated path with its facts);
      C(notes) (web-PKI observations, never failures).
  returned: success
  type: dict
client_auth:
  description:
    - C(mode) none | optional | required; C(enforced_at) handshake | http | null;
      C(with_cert_ok) true/false when O(client_cert) was given, else null.
  returned: success
  type: dict
handshakes:
  description: Connections on which a ClientHello was sent (what the verdict cost).
  returned: always
  type: int
elapsed_s:
  description: Wall-clock seconds of the probe.
  returned: always
  type: float
profile:
  description: The profile id judged against.
  returned: always
  type: str
clause:
  description: The clause the endpoint was judged under (C.11 or C.10).
  returned: success
  type: str
findings:
  description: One finding per check in the common schema (docs/findings-schema.md).
  returned: always
  type: list
  elements: dict
"""
