#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: key_storage_fips
short_description: Is there FIPS 140-2 level 1 (or better) key storage on this host? (MHLW GL 5.2 §6.11 D.2)
description:
  - D.2 asks that devices and media storing symmetric and private keys meet FIPS 140-2 level 1 or better.
  - Looks for what could make a host meet it - an active OpenSSL FIPS provider (C(openssl list -providers),
    the provider module in C(MODULESDIR), its activation in openssl.cnf), the kernel's FIPS mode
    (C(/proc/sys/crypto/fips_enabled)), and PKCS#11 modules (softhsm2, OpenSC, p11-kit registrations,
    described by C(pkcs11-tool -I)) - and judges each against O(allowlist), the validated modules of
    C(data/fips_modules.yml) with their CMVP certificate numbers.
  - "Check C(d2.keystore.fips_level1): pass when an active OpenSSL provider or a present PKCS#11 module
    matches an allowlist entry with C(validated: true); fail otherwise, saying what was seen (for example
    softhsm2, which is not validated) and what would make the host pass."
  - Report only; it changes nothing.
version_added: "0.1.0"
author:
  - iryo-guard developers (!UNKNOWN)
options:
  allowlist:
    description:
      - The content of C(data/fips_modules.yml) (modules cannot read data files; the role loads it on
        the controller). Keys C(modules) (validated) and C(not_validated).
    type: dict
    required: true
  openssl:
    description: The openssl command.
    type: str
    default: openssl
  openssl_conf:
    description: openssl.cnf to inspect; default C(OPENSSLDIR/openssl.cnf) as C(openssl version -d) reports it.
    type: path
  pkcs11_modules:
    description: PKCS#11 modules to judge; default every known one present.
    type: list
    elements: path
    default: []
  kernel_fips_file:
    description: Where the kernel says whether it runs in FIPS mode.
    type: path
    default: /proc/sys/crypto/fips_enabled
attributes:
  check_mode:
    support: full
    description: In check mode the module changes nothing on the host and reports what it would change.
  diff_mode:
    support: none
    description: Returns no diff; the findings describe the state it read.
"""

EXAMPLES = r"""
- name: D.2 | AUDIT | d2.keystore.fips_level1 | FIPS 140-2 level 1 key storage
  key_storage_fips:
    allowlist: "{{ lookup('ansible.builtin.file', 'data/fips_modules.yml') | from_yaml }}"
"""

RETURN = r"""
openssl:
  description:
    - OpenSSL version, OPENSSLDIR, MODULESDIR, providers (name, version, status), whether fips.so exists
      and whether openssl.cnf activates it.
  returned: always
  type: dict
kernel_fips:
  description: The kernel's FIPS mode (true, false, or null when the file does not exist).
  returned: always
  type: bool
pkcs11_modules:
  description: PKCS#11 modules present, as pkcs11-tool describes them, with the allowlist entry each matched.
  returned: always
  type: list
  elements: dict
findings:
  description: Findings in the iryo-guard schema (d2.keystore.fips_level1).
  returned: always
  type: list
  elements: dict
"""

import os
import re
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.iryo_findings import make_finding, some
from ansible.module_utils.iryo_keys import find_pkcs11_modules, parse_module_info

CHECK = "d2.keystore.fips_level1"
TIMEOUT = 60


def run(argv):
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT,
                              universal_newlines=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def parse_providers(text):
    """`openssl list -providers` -> [{id, name, version, status}]."""
    providers, current = [], None
    for line in text.splitlines():
        if re.match(r"^  \S", line) and ":" not in line:
            current = {"id": line.strip(), "name": None, "version": None, "status": None}
            providers.append(current)
        elif current is not None and ":" in line:
            key, _, value = line.strip().partition(":")
            if key in ("name", "version", "status"):
                current[key] = value.strip()
    return providers


def parse_version_a(text):
    info = {}
    for line in text.splitlines():
        if line.startswith("OpenSSL "):
            info["version"] = line.split()[1]
        for key in ("OPENSSLDIR", "MODULESDIR"):
            if line.startswith(key + ":"):
                info[key.lower()] = line.split(":", 1)[1].strip().strip('"')
    return info


def fips_activation(text):
    """Does this openssl.cnf text activate a fips provider? -> {included_fipsmodule_cnf, provider_section,
    activate, default_properties_fips}. Sections are read as openssl.cnf defines them; .include lines noted."""
    sections, current = {"": {}}, ""
    includes = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(".include"):
            includes.append(line.split(None, 1)[1].strip() if " " in line else line[8:].lstrip("= ").strip())
            continue
        match = re.match(r"^\[\s*([^\]\s]+)\s*\]$", line)
        if match:
            current = match.group(1)
            sections.setdefault(current, {})
            continue
        key, sep, value = line.partition("=")
        if sep:
            sections[current][key.strip()] = value.strip()
    result = {"includes": includes, "fips_in_provider_section": False, "activate": None,
              "default_properties": None}
    init = sections.get(sections[""].get("openssl_conf", ""), {})
    providers = sections.get(init.get("providers", ""), {})
    if "fips" in providers:
        result["fips_in_provider_section"] = True
        result["activate"] = sections.get(providers["fips"], {}).get("activate")
    alg = sections.get(init.get("alg_section", ""), {})
    result["default_properties"] = alg.get("default_properties")
    return result


def matches(entry, facts):
    for key, pattern in (entry.get("match") or {}).items():
        value = facts.get(key)
        if value is None or not re.search(str(pattern), str(value)):
            return False
    return bool(entry.get("match"))


def judge(entries, kind, facts):
    for entry in entries or []:
        if entry.get("kind") == kind and matches(entry, facts):
            return entry
    return None


def summary(entry):
    return {k: entry.get(k) for k in ("id", "cmvp_certificate", "standard", "level", "module_name",
                                       "confidence", "reason", "source") if entry.get(k) is not None}


def keystore_finding(evidence, expected, active, modules, kernel_fips, qualifying, validated):
    """The verdict: pass with a qualifying validated module, error without an allowlist, else fail."""
    kernel_text = {True: "on", False: "off", None: "not available"}[kernel_fips]
    if qualifying:
        names = ["OpenSSL provider %s %s" % (q["openssl_provider"], q["version"]) if "openssl_provider" in q
                 else "PKCS#11 module %s %s" % (os.path.basename(q["pkcs11_module"]), q.get("version") or "")
                 for q in qualifying]
        return make_finding(CHECK, "pass", "medium", "keystore", evidence, expected,
                            "Keep keys in the validated module and use it as its security policy says.", False,
                            summary="a FIPS 140-2 validated key store is active: %s" % some(names, 2))
    if not validated:
        return make_finding(CHECK, "error", "medium", "keystore", evidence, expected,
                            "The allowlist of validated modules is empty; pass data/fips_modules.yml.", False,
                            summary="could not decide: the allowlist of validated modules "
                                    "(data/fips_modules.yml) is empty")
    seen, short = [], []
    for p in active:
        seen.append("OpenSSL provider '%s' %s%s" % (p.get("name"), p.get("version"),
                                                    " (not validated)" if p.get("not_validated") else ""))
        name = str(p.get("name") or p.get("id"))
        short.append("%s%s %s" % ("" if name.startswith("OpenSSL") else "OpenSSL ", name, p.get("version")))
    for m in modules:
        described = " ".join(str(v) for v in (m.get("library"), m.get("library_version")) if v) or "not described"
        seen.append("PKCS#11 module %s (%s)%s" % (os.path.basename(m["module"]), described,
                                                  " - NOT FIPS-validated" if m.get("not_validated") else ""))
        short.append(os.path.basename(m["module"]))
    remediation = (
        "No FIPS 140-2 level 1 validated key store is active (seen: %s; kernel FIPS mode %s). To pass: keep the "
        "keys in a validated HSM or smart card whose PKCS#11 module is listed in data/fips_modules.yml, or "
        "install an OpenSSL FIPS provider built from a validated version (e.g. 3.0.8, CMVP #4282, per its "
        "security policy: openssl fipsinstall, then activate it in openssl.cnf) - Debian's openssl ships none - "
        "or run a distribution with a validated FIPS mode, and add the module to the allowlist."
        % ("; ".join(seen) or "nothing", kernel_text))
    return make_finding(CHECK, "fail", "medium", "keystore", evidence, expected, remediation, False,
                        summary="no FIPS 140-2 level 1 validated key store is active (seen: %s; kernel FIPS "
                                "mode %s); required: a validated module (data/fips_modules.yml)"
                                % (some(short, 3, width=110), kernel_text))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            allowlist=dict(type="dict", required=True),
            openssl=dict(type="str", default="openssl"),
            openssl_conf=dict(type="path"),
            pkcs11_modules=dict(type="list", elements="path", default=[]),
            kernel_fips_file=dict(type="path", default="/proc/sys/crypto/fips_enabled"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    allowlist = params["allowlist"]
    validated = [e for e in allowlist.get("modules") or [] if e.get("validated") is True]
    known_bad = allowlist.get("not_validated") or []

    # OpenSSL
    openssl = {"found": False}
    rc, out, err = run([params["openssl"], "version", "-a"])
    if rc == 0:
        openssl.update(parse_version_a(out), found=True)
        rc, out, err = run([params["openssl"], "list", "-providers"])
        openssl["providers"] = parse_providers(out) if rc == 0 else []
        if rc != 0:
            openssl["providers_error"] = (err.strip() or out.strip())[:300]
        modules_dir = openssl.get("modulesdir")
        fips_so = os.path.join(modules_dir, "fips.so") if modules_dir else None
        openssl["fips_module_file"] = fips_so if fips_so and os.path.exists(fips_so) else None
        conf = params["openssl_conf"] or os.environ.get("OPENSSL_CONF") or (
            os.path.join(openssl["openssldir"], "openssl.cnf") if openssl.get("openssldir") else None)
        openssl["config"] = conf
        try:
            with open(conf) as handle:
                openssl["config_fips"] = fips_activation(handle.read())
        except (IOError, OSError, TypeError) as exc:
            openssl["config_fips"] = {"error": str(exc)}
    active = [p for p in openssl.get("providers", []) if (p.get("status") or "").lower() == "active"]
    for provider in openssl.get("providers", []):
        facts = {"name": provider.get("name"), "version": provider.get("version")}
        hit = judge(validated, "openssl_provider", facts)
        provider["allowlist"] = summary(hit) if hit else None
        bad = judge(known_bad, "openssl_provider", facts) if not hit else None
        if bad:
            provider["not_validated"] = summary(bad)

    # Kernel
    try:
        with open(params["kernel_fips_file"]) as handle:
            kernel_fips = handle.read().strip() == "1"
    except (IOError, OSError):
        kernel_fips = None

    # PKCS#11 modules
    modules = []
    tool = next((os.path.join(d, "pkcs11-tool") for d in ("/usr/bin", "/usr/local/bin", "/bin")
                 if os.path.exists(os.path.join(d, "pkcs11-tool"))), None)
    for path in find_pkcs11_modules(params["pkcs11_modules"]):
        item = {"module": path, "real_path": os.path.realpath(path)}
        if tool:
            rc, out, err = run([tool, "--module", path, "-I"])
            item.update(parse_module_info(out))
            if rc != 0 and not item.get("library"):  # -I exits 1 on "No slots." after describing the module
                item["error"] = (err.strip() or out.strip())[:300]
        else:
            item["error"] = "pkcs11-tool (OpenSC) is not installed; the module cannot be described"
        facts = {"library": item.get("library"), "manufacturer": item.get("manufacturer"),
                 "version": item.get("library_version"), "file": os.path.basename(path)}
        hit = judge(validated, "pkcs11_module", facts)
        item["allowlist"] = summary(hit) if hit else None
        bad = judge(known_bad, "pkcs11_module", facts) if not hit else None
        if bad:
            item["not_validated"] = summary(bad)
        modules.append(item)

    qualifying = ([{"openssl_provider": p["name"], "version": p["version"], "allowlist": p["allowlist"]}
                   for p in active if p.get("allowlist")]
                  + [{"pkcs11_module": m["module"], "library": m.get("library"), "version": m.get("library_version"),
                      "allowlist": m["allowlist"]} for m in modules if m.get("allowlist")])
    evidence = {"openssl": openssl, "kernel_fips": kernel_fips, "pkcs11_modules": modules,
                "qualifying": qualifying, "allowlist_entries": len(validated)}
    expected = {"key_storage": "an active FIPS 140-2 level 1 (or better) validated module from data/fips_modules.yml"}
    finding = keystore_finding(evidence, expected, active, modules, kernel_fips, qualifying, validated)
    module.exit_json(changed=False, openssl=openssl, kernel_fips=kernel_fips, pkcs11_modules=modules,
                     findings=[finding])


if __name__ == "__main__":
    main()
