# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the crypto_defaults module (library/crypto_defaults.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile
import time

from ansible.module_utils.iryo_files import ChangedMeanwhile, failure_line, write_text_atomically
from ansible.module_utils.iryo_findings import make_finding, some
from ansible.module_utils.iryo_opensslcnf import system_default, with_system_default

CHECK = "c11.tls.client_defaults"
CHECKS = (CHECK,)
PROTOCOL_ORDER = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# TLS group names -> the spelling OpenSSL's Groups and crypto-policies' group use.
OPENSSL_GROUPS = {"x25519": "X25519", "x448": "X448", "secp256r1": "P-256", "secp384r1": "P-384",
                  "secp521r1": "P-521"}
POLICY_GROUPS = {"x25519": "X25519", "x448": "X448", "secp256r1": "SECP256R1", "secp384r1": "SECP384R1",
                 "secp521r1": "SECP521R1", "ffdhe2048": "FFDHE-2048", "ffdhe3072": "FFDHE-3072",
                 "ffdhe4096": "FFDHE-4096", "ffdhe6144": "FFDHE-6144", "ffdhe8192": "FFDHE-8192"}
GROUP_ALIASES = {"p-256": "secp256r1", "prime256v1": "secp256r1", "p-384": "secp384r1", "p-521": "secp521r1"}


def openssl_env(conf):
    return {"OPENSSL_CONF": conf, "LANG": "C", "LC_ALL": "C"}


def cipher_table(module, openssl):
    """IANA name -> (OpenSSL name, protocol) for every suite the host's OpenSSL knows."""
    rc, out, err = module.run_command([openssl, "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                                      environ_update=openssl_env("/dev/null"))
    if rc != 0:
        module.fail_json(msg="openssl ciphers failed: %s" % err.strip())
    table = {}
    for line in out.splitlines():
        parts = line.split()
        # 0xC0,0x2C - TLS_ECDHE_..._SHA384 - ECDHE-ECDSA-AES256-GCM-SHA384 TLSv1.2 Kx=...
        if len(parts) >= 6 and parts[1] == "-" and parts[3] == "-":
            table[parts[2]] = (parts[4], parts[5])
    return table


def effective_suites(module, openssl, conf_path):
    """{protocol: [IANA names]} that a default client context offers with this configuration."""
    rc, out, err = module.run_command([openssl, "ciphers", "-s", "-stdname"], environ_update=openssl_env(conf_path))
    if rc != 0:
        return None, (err or out).strip()
    suites = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "-":
            suites.setdefault(parts[3], []).append(parts[0])
    return suites, None


def normal_group(name):
    lowered = name.strip().lower()
    return GROUP_ALIASES.get(lowered, lowered)


def judge(effective, params):
    """Violations of the wanted defaults in what clients effectively get."""
    problems = []
    minimum = effective.get("min_protocol")
    if minimum is None or PROTOCOL_ORDER.index(minimum) < PROTOCOL_ORDER.index(params["min_protocol"]):
        problems.append("minimum protocol is %s (wanted %s)"
                        % (minimum or "the library default", params["min_protocol"]))
    allowed = set(params["tls12_suites"]) | set(params["tls13_suites"])
    extra = sorted({s for suites in effective["suites"].values() for s in suites} - allowed)
    if extra:
        problems.append("suites outside the profile: %s" % ", ".join(extra))
    groups = effective.get("groups")
    wanted_groups = {normal_group(g) for g in params["groups"]}
    if groups is None:
        problems.append("key-exchange groups are the library default (not restricted)")
    elif set(groups) - wanted_groups:
        problems.append("groups outside the profile: %s" % ", ".join(sorted(set(groups) - wanted_groups)))
    return problems


def summary_of(effective, params, problems, backend):
    """One sentence for c11.tls.client_defaults (judge() keeps the full lists for the evidence)."""
    where = "OpenSSL system_default" if backend == "openssl" else "crypto-policies"
    if not problems:
        return ("%s: minimum %s, only the profile's suites and key-exchange groups"
                % (where, effective.get("min_protocol")))
    parts = []
    minimum = effective.get("min_protocol")
    if minimum is None or PROTOCOL_ORDER.index(minimum) < PROTOCOL_ORDER.index(params["min_protocol"]):
        parts.append("minimum protocol %s" % (minimum or "unset (library default)"))
    allowed = set(params["tls12_suites"]) | set(params["tls13_suites"])
    extra = sorted({s for suites in effective["suites"].values() for s in suites} - allowed)
    if extra:
        parts.append("%d suite%s outside the profile (%s%s)" % (len(extra), "" if len(extra) == 1 else "s",
                                                               "" if len(extra) == 1 else "e.g. ", extra[0]))
    groups = effective.get("groups")
    wanted_groups = {normal_group(g) for g in params["groups"]}
    if groups is None:
        parts.append("groups not restricted")
    elif set(groups) - wanted_groups:
        parts.append("groups outside the profile (%s)" % some(sorted(set(groups) - wanted_groups), 3))
    return "%s gives clients %s; required: minimum %s and the profile's suites and groups" % (
        where, "; ".join(parts), params["min_protocol"])


def wanted_settings(params, table):
    tls12 = [table[s][0] for s in params["tls12_suites"] if s in table and table[s][1] != "TLSv1.3"]
    groups = [OPENSSL_GROUPS.get(g, g) for g in (normal_group(x) for x in params["groups"])]
    return {
        "MinProtocol": params["min_protocol"],
        # An explicit list, and SECLEVEL 2 so that weak keys stay refused.
        "CipherString": ":".join(tls12) + ":@SECLEVEL=2" if tls12 else "DEFAULT:@SECLEVEL=2",
        # OpenSSL knows all five TLS 1.3 suites but lists the CCM ones only when enabled, so
        # they are passed as given; validation before writing catches a name it refuses.
        "Ciphersuites": ":".join(params["tls13_suites"]),
        "Groups": ":".join(groups),
    }


# crypto-policies cipher names (crypto-policies(7)) by the bulk cipher in an IANA suite name.
POLICY_CIPHERS = (("AES_256_GCM", "AES-256-GCM"), ("AES_128_GCM", "AES-128-GCM"),
                  ("CHACHA20_POLY1305", "CHACHA20-POLY1305"), ("AES_256_CCM", "AES-256-CCM"),
                  ("AES_128_CCM", "AES-128-CCM"))


def policy_module_text(params):
    """A crypto-policies module (see crypto-policies(7)) restricting TLS to the profile."""
    suites = list(params["tls13_suites"]) + list(params["tls12_suites"])
    ciphers = []
    for marker, name in POLICY_CIPHERS:
        # CCM_8 has no crypto-policies name of its own; it is left out rather than widened.
        if any(marker in s and "CCM_8" not in s for s in suites) and name not in ciphers:
            ciphers.append(name)
    kex = [k for k, marker in (("ECDHE", "_ECDHE_"), ("DHE", "_DHE_")) if any(marker in s for s in suites)]
    protocols = [p.replace("TLSv", "TLS") for p in PROTOCOL_ORDER[PROTOCOL_ORDER.index(params["min_protocol"]):]]
    groups = [POLICY_GROUPS[normal_group(g)] for g in params["groups"] if normal_group(g) in POLICY_GROUPS]
    return ("# Written by iryo-guard: CRYPTREC TLS guideline 3.0.1 high-security type for TLS\n"
            "# (MHLW GL 5.2 §6.11 C.11, client side). Applied with update-crypto-policies --set <base>:%s.\n"
            "protocol@TLS = %s\n"
            "cipher@TLS = %s\n"
            "key_exchange@TLS = %s\n"
            "mac@TLS = AEAD\n"
            "group = %s\n"
            "min_dh_size = 2048\n" % (params["policy_module"], " ".join(reversed(protocols)), " ".join(ciphers),
                                       " ".join(kex or ["ECDHE"]), " ".join(groups)))


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def conf_wrapping(body):
    """Make a crypto-policies back-end (a bare system_default body) a loadable openssl.cnf."""
    return "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\n" \
           "system_default = system_default_sect\n[system_default_sect]\n" + body.split("\n[", 1)[0]


def evaluate(module, openssl, conf_text):
    """Effective defaults of an openssl.cnf text, computed by the host's OpenSSL."""
    handle, path = tempfile.mkstemp(prefix="iryo-openssl-", suffix=".cnf")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(conf_text)
        suites, error = effective_suites(module, openssl, path)
    finally:
        os.unlink(path)
    settings = system_default(conf_text)["settings"]
    groups = settings.get("Groups")
    return {
        "min_protocol": settings.get("MinProtocol"),
        "suites": suites or {},
        "groups": [normal_group(g) for g in groups.split(":")] if groups else None,
        "settings": settings,
    }, error


def run_openssl_backend(module, openssl, params):
    path = params["openssl_conf"]
    current = read(path)
    if current is None:
        module.fail_json(msg="cannot read %s" % path)
    table = cipher_table(module, openssl)
    unknown = sorted((set(params["tls12_suites"]) | set(params["tls13_suites"])) - set(table))
    wanted_text = with_system_default(current, wanted_settings(params, table))
    effective, error = evaluate(module, openssl, current)
    if error:
        module.fail_json(msg="OpenSSL refuses the current %s: %s" % (path, error))
    result = {"backend": "openssl", "target": path, "unknown_to_host_openssl": unknown, "changed": False, "diff": []}
    if params["state"] == "enforced" and wanted_text != current:
        new_effective, error = evaluate(module, openssl, wanted_text)
        if error or judge(new_effective, params):
            module.fail_json(msg="refusing to write %s: the new defaults do not validate (%s)"
                             % (path, error or "; ".join(judge(new_effective, params))))
        result["changed"] = True
        result["diff"] = [{"before_header": path, "after_header": path, "before": current, "after": wanted_text}]
        if not module.check_mode:
            try:
                if read(path) != current:
                    # another writer changed it while OpenSSL evaluated the new text: keep their file
                    raise ChangedMeanwhile(path)
                result["backup_file"] = write_text_atomically(module, path, wanted_text, params["backup"])
            except (IOError, OSError) as exc:
                module.fail_json(msg="%s; the previous file is unchanged" % failure_line(path, exc))
            effective = new_effective
    result["effective"] = effective
    return result


def one_line(text, width=300):
    """Tool output as one line for an error message (the whole output stays in the task result)."""
    flat = " ".join((text or "").split()) or "no output"
    return flat if len(flat) <= width else flat[:width - 3] + "..."


def restore_policy_module(module, tool, module_path, existed, old_module, old_policy, backup_file, why):
    """A failed `update-crypto-policies --set` must not leave the new .pmod behind: the next run of the
    tool (by an administrator or a package update) would apply it unvalidated. Put the previous module
    back (or remove the new one), re-apply the previous policy so the back-ends match it again, and fail."""
    if existed:
        write_text_atomically(module, module_path, old_module)
    elif os.path.exists(module_path):
        os.unlink(module_path)
    # The backup holds what is in place again: keeping it would only leave a stray copy in the folder.
    if backup_file and os.path.exists(backup_file):
        os.unlink(backup_file)
    undo = "restored" if existed else "removed"
    reapplied = ""
    if old_policy:
        rc, out, err = module.run_command([tool, "--set", old_policy])
        reapplied = ("; re-applied the previous policy %s" % old_policy if rc == 0 else
                     "; re-applying the previous policy %s also failed (%s), check the back-ends"
                     % (old_policy, one_line(err or out)))
    module.fail_json(msg="%s; %s %s%s" % (why, undo, module_path, reapplied), policy_module=module_path,
                     restored=existed, removed=not existed)


def run_crypto_policies_backend(module, openssl, params):
    root = params["crypto_policies_dir"]
    backend_file = os.path.join(root, "back-ends", "opensslcnf.config")
    body = read(backend_file)
    if body is None:
        module.fail_json(msg="cannot read %s" % backend_file)
    effective, error = evaluate(module, openssl, conf_wrapping(body))
    if error:
        module.fail_json(msg="OpenSSL refuses %s: %s" % (backend_file, error))
    tool = module.get_bin_path("update-crypto-policies", required=True)
    rc, shown, _ = module.run_command([tool, "--show"])
    current_policy = shown.strip()
    module_path = os.path.join(root, "policies", "modules", "%s.pmod" % params["policy_module"])
    wanted_module = policy_module_text(params)
    base = current_policy.split(":")[0] or "DEFAULT"
    wanted_policy = "%s:%s" % (base, params["policy_module"])
    result = {"backend": "crypto_policies", "target": backend_file, "policy": current_policy, "changed": False,
              "diff": [], "effective": effective}
    if params["state"] == "enforced":
        old_module = read(module_path) or ""
        if old_module != wanted_module or current_policy != wanted_policy:
            result["changed"] = True
            result["diff"] = [{"before_header": module_path, "after_header": module_path,
                               "before": old_module, "after": wanted_module},
                              {"before_header": "policy", "after_header": "policy",
                               "before": current_policy + "\n", "after": wanted_policy + "\n"}]
            if not module.check_mode:
                existed = os.path.exists(module_path)
                result["backup_file"] = write_text_atomically(module, module_path, wanted_module, params["backup"])
                rc, out, err = module.run_command([tool, "--set", wanted_policy])
                if rc != 0:
                    restore_policy_module(module, tool, module_path, existed, old_module, current_policy,
                                          result.get("backup_file"), "update-crypto-policies --set %s failed (%s)"
                                          % (wanted_policy, one_line(err or out)))
                effective, error = evaluate(module, openssl, conf_wrapping(read(backend_file) or ""))
                result["effective"] = effective
    return result


ARGUMENT_SPEC = dict(
    state=dict(type="str", default="audit", choices=["audit", "enforced"]),
    backend=dict(type="str", default="auto", choices=["auto", "openssl", "crypto_policies"]),
    min_protocol=dict(type="str", default="TLSv1.2", choices=["TLSv1.2", "TLSv1.3"]),
    tls12_suites=dict(type="list", elements="str", required=True),
    tls13_suites=dict(type="list", elements="str", required=True),
    groups=dict(type="list", elements="str", required=True),
    openssl_conf=dict(type="path", default="/etc/ssl/openssl.cnf"),
    crypto_policies_dir=dict(type="path", default="/etc/crypto-policies"),
    policy_module=dict(type="str", default="IRYOGUARD"),
    backup=dict(type="bool", default=True),
)
MODULE_KWARGS = {}


def run_module(module):
    params = module.params
    openssl = module.get_bin_path("openssl")
    if openssl is None:
        module.fail_json(msg="openssl is not installed; cannot tell the effective TLS defaults")
    backend = params["backend"]
    if backend == "auto":
        backend = "crypto_policies" if module.get_bin_path("update-crypto-policies") else "openssl"
    started = time.time()
    if backend == "openssl":
        result = run_openssl_backend(module, openssl, params)
    else:
        result = run_crypto_policies_backend(module, openssl, params)
    problems = judge(result["effective"], params)
    expected = {"min_protocol": params["min_protocol"], "groups": params["groups"],
                "suites": sorted(params["tls13_suites"] + params["tls12_suites"])}
    evidence = {"effective": result["effective"], "violations": problems, "backend": result["backend"]}
    status = "fail" if problems else "pass"
    finding = make_finding(CHECK, status, "medium", result["target"], evidence, expected,
                           "Set the system-wide TLS defaults to the profile (iryo-guard C.11 harden does this)."
                           if problems else "", True,
                           summary=summary_of(result["effective"], params, problems, result["backend"]))
    result.update(findings=[finding], elapsed_s=round(time.time() - started, 3))
    module.exit_json(**result)

