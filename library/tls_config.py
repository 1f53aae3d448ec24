#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tls_config
short_description: Audit and enforce the TLS configuration of nginx and Apache httpd (MHLW GL 5.2 §6.11 C.11)
description:
  - Reads the web server's configuration from its main file, following every C(include) /
    C(Include)/C(IncludeOptional) (globs, directories, symlinked sites), and finds every TLS server,
    that is an nginx C(server{}) in C(http{}) that listens with C(ssl) (or shares an address:port with one
    that does, or says C(ssl on)), an Apache C(<VirtualHost>) with C(SSLEngine on).
  - For each TLS server it works out where each setting takes effect (the server block itself, the
    nginx C(http{}) block or Apache's server-wide level it inherits from, or the built-in default)
    and compares it with the wanted value. Options left unset are neither audited nor changed.
  - Edits are minimal text edits that keep comments and layout. A directive is replaced where it
    lives, in the scope it takes effect from (e.g. Debian's C(ssl_protocols) in the C(http{}) block
    of C(nginx.conf)); duplicates at that level are commented out, because nginx merges duplicate
    C(ssl_protocols) instead of letting the second one narrow the first; a missing directive is
    added to the server block after its last C(ssl_*) directive.
  - O(state=audit) only reports. O(state=enforced) writes the changed files (after backing each
    up into O(backup_dir), atomically), validates the configuration (C(nginx -t), C(apache2ctl -t))
    and reloads the server. When validation fails every file is restored and the server is not
    reloaded; when the reload fails every file is restored and the server reloaded again, so it
    keeps serving the old configuration. Either way the task fails with the validator's message.
  - In check mode (and with O(state=audit)) nothing is written; C(diff) holds the exact change
    per file that O(state=enforced) would make.
  - Returns findings in the iryo-guard schema (check C(c11.tls.server_config)), one per TLS server,
    or one C(not_applicable) finding when the host has no TLS server.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  server:
    description:
      - Which web server to handle. V(auto) handles every one whose main configuration file exists
        (C(/etc/nginx/nginx.conf), C(/etc/apache2/apache2.conf) or C(/etc/httpd/conf/httpd.conf)).
    type: str
    choices: [auto, nginx, apache]
    default: auto
  state:
    description:
      - V(audit) reports and never changes anything; V(enforced) makes the configuration match.
    type: str
    choices: [audit, enforced]
    default: audit
  config_root:
    description:
      - The main configuration file. Needs O(server=nginx) or O(server=apache).
      - Relative nginx includes resolve against its folder, Apache includes against C(ServerRoot).
    type: path
  protocols:
    description:
      - The protocol versions to allow, e.g. V([TLSv1.3]) or V([TLSv1.2, TLSv1.3]).
      - Compared as a set with what the server enables (nginx merges duplicate C(ssl_protocols)).
    type: list
    elements: str
  tls12_ciphers:
    description:
      - Suites for TLS 1.2 and below, in preference order. IANA names (V(TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        as in the profiles) are converted to OpenSSL names; OpenSSL names and cipher-string elements
        pass unchanged. Written as one OpenSSL cipher string (C(ssl_ciphers), C(SSLCipherSuite)).
      - The current value matches when it is the same string or selects the same suites in the same
        order with the host's OpenSSL (via Python's C(ssl) module).
    type: list
    elements: str
  tls13_ciphersuites:
    description:
      - TLS 1.3 suites in preference order (RFC 8446 names). nginx C(ssl_conf_command Ciphersuites)
        (nginx >= 1.19.4), Apache C(SSLCipherSuite TLSv1.3) (httpd >= 2.4.36).
    type: list
    elements: str
  groups:
    description:
      - Key exchange groups in preference order, TLS names (V(x25519), V(secp256r1), V(ffdhe2048)).
        Written as C(ssl_ecdh_curve) / C(SSLOpenSSLConfCmd Curves) with NIST spellings (V(P-256)).
    type: list
    elements: str
  dhparam:
    description:
      - Path of an existing DH parameters file for DHE suites (C(ssl_dhparam), C(SSLOpenSSLConfCmd
        DHParameters)). The module never generates one; a missing file is reported and not referenced.
    type: path
  prefer_server_ciphers:
    description: Server cipher preference (C(ssl_prefer_server_ciphers), C(SSLHonorCipherOrder)).
    type: bool
  session_tickets:
    description: TLS session tickets (C(ssl_session_tickets), C(SSLSessionTickets)).
    type: bool
  compression:
    description:
      - TLS compression (C(SSLCompression)). nginx always turns it off and has no directive.
    type: bool
  verify_client:
    description:
      - Client-certificate verification. V(required) is C(ssl_verify_client on) / C(SSLVerifyClient require).
      - With O(state=enforced), V(required) and V(optional) need O(client_ca_file).
    type: str
    choices: [required, optional, optional_no_ca, none]
  client_ca_file:
    description:
      - CA certificates that client certificates must chain to (C(ssl_client_certificate),
        C(SSLCACertificateFile)). A file that does not exist makes validation fail, and the
        enforcement is rolled back.
    type: path
  verify_depth:
    description:
      - How many CA certificates may sit between a client certificate and the CA in O(client_ca_file)
        (C(ssl_verify_depth), C(SSLVerifyDepth); both default to 1, i.e. no intermediate CA).
    type: int
  hsts:
    description:
      - The Strict-Transport-Security header value, e.g. V(max-age=63072000; includeSubDomains), or a
        number of seconds. nginx C(add_header ... always) (also in locations that have C(add_header)
        of their own, since those do not inherit it); Apache C(Header always set), needs mod_headers.
    type: str
  validate_command:
    description:
      - Command that validates the whole configuration (a list, or a string split like a shell).
      - Default C(nginx -t -c CONFIG_ROOT); C(apache2ctl -t) (or C(apachectl -t), C(httpd -t)),
        with C(-f CONFIG_ROOT) when the main file is not the default one.
    type: raw
  reload_command:
    description:
      - Command that makes the running server load the new configuration. Default
        C(systemctl try-reload-or-restart nginx) / C(apache2) / C(httpd) (reloads a running service,
        leaves a stopped one stopped). An empty string skips the reload.
    type: raw
  check_id:
    description:
      - The check id of the findings. V(c10.tls.server_config) for the web server of a patient-facing endpoint
        judged under clause C.10 (not a C.11 endpoint, e.g. a CRYPTREC profile); V(c11.tls.server_config) otherwise.
    type: str
    choices: [c11.tls.server_config, c10.tls.server_config]
    default: c11.tls.server_config
  backup_dir:
    description:
      - Where the original of every changed file is copied first, as C(BACKUP_DIR/TIMESTAMP/ABSOLUTE/PATH).
        Never next to the file, since C(include sites-enabled/*) would load the backup too.
    type: path
    default: /var/backups/iryo-guard/tls_config
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: full
    description: Returns a diff of each change it makes or, in check mode, would make.
    details: C(diff) is a list with one entry per changed file (before and after text).
notes:
  - Conditional Apache sections other than C(<IfModule>) (C(<IfDefine>), C(<IfVersion>), ...) are read
    as true. nginx C(mail{}) and C(stream{}) servers are not handled.
  - nginx before 1.29.2 picks the protocol version before SNI, so the default server of an
    address:port decides the versions for every server on it; the report shows that as
    C(negotiated_by).
  - The line of a server block in a finding's target is its line at the time of the run; an edit
    above it in the same file moves it.
"""

EXAMPLES = r"""
- name: C.11 | AUDIT | c11.tls.server_config | TLS settings of nginx / Apache
  tls_config:
    protocols: [TLSv1.3]
    tls13_ciphersuites: [TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256]
    verify_client: required
    client_ca_file: /etc/ssl/hospital-client-ca.pem

- name: C.11 | HARDEN | c11.tls.server_config | Enforce the mhlw-c11-tls12 profile on nginx
  tls_config:
    server: nginx
    state: enforced
    protocols: [TLSv1.2, TLSv1.3]
    tls12_ciphers: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
    tls13_ciphersuites: [TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]
    groups: [x25519, secp256r1, secp384r1]
    prefer_server_ciphers: true
    session_tickets: false
    verify_client: required
    client_ca_file: /etc/ssl/hospital-client-ca.pem
    hsts: "max-age=63072000; includeSubDomains"

- name: A test tree, validated and reloaded with its own commands
  tls_config:
    server: nginx
    state: enforced
    config_root: /srv/nginx-test/conf/nginx.conf
    protocols: [TLSv1.3]
    validate_command: nginx -t -p /srv/nginx-test -c conf/nginx.conf
    reload_command: nginx -s reload -p /srv/nginx-test -c conf/nginx.conf
"""

RETURN = r"""
servers:
  description: One entry per TLS server block / virtual host, as found before any change.
  returned: always
  type: list
  elements: dict
  contains:
    server: {description: nginx or apache, type: str}
    file: {description: File of the server block (symlinks resolved), type: str}
    line: {description: Line of the block's opening, type: int}
    target: {description: "The finding's target, C(nginx FILE:LINE NAME)", type: str}
    server_name: {description: server_name / ServerName and ServerAlias values, type: list}
    listen: {description: listen arguments / VirtualHost addresses, type: list}
    settings:
      description: >-
        Per option: current, wanted, ok, level (server, http, vhost, global, default, built-in),
        set_at (FILE:LINE of the directives that decide it), and where relevant unfixable (why
        enforcement will not write it), overridden_in (nginx locations with their own add_header),
        negotiated_by (the default server that picks protocol versions for a shared address:port).
      type: dict
    mismatches: {description: Options whose current value does not match, type: list}
    unfixable: {description: Option -> reason enforcement leaves it alone, type: dict}
  sample:
    - server: nginx
      file: /etc/nginx/sites-available/portal-tls
      line: 5
      target: nginx /etc/nginx/sites-available/portal-tls:5 portal.lab.iryo
      settings:
        protocols: {current: [TLSv1, TLSv1.1, TLSv1.2], wanted: [TLSv1.3], ok: false, level: server,
                    set_at: ["/etc/nginx/sites-available/portal-tls:11"]}
      mismatches: [protocols]
changes:
  description: >-
    One entry per edit, C({file, line, setting, action, before, after}); action is C(replace),
    C(add) (C(line) is the original line the new one goes before) or C(comment_out_duplicate).
  returned: always
  type: list
  elements: dict
diff:
  description: Per changed file C(before_header), C(after_header), C(before), C(after) (full texts).
  returned: when an edit is or would be made
  type: list
  elements: dict
config_files:
  description: Every configuration file read (real paths).
  returned: always
  type: list
  elements: str
backup_files:
  description: C({path, backup}) for every file written.
  returned: when files were written
  type: list
  elements: dict
commands:
  description: The validation and reload commands run, with rc, stdout and stderr.
  returned: when files were written
  type: list
  elements: dict
findings:
  description: Findings in the iryo-guard schema; after a successful enforcement they describe the new files.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_check_tls_config import ARGUMENT_SPEC, MODULE_KWARGS, run_module


def main():
    run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **MODULE_KWARGS))


if __name__ == "__main__":
    main()
