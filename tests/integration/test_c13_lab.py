"""C.13 and D.2 on the lab: the audit shows the keys of every host (the portal's and the EHR's TLS keys
are seeded world-readable: fail), a token key on portal's softhsm2 is listed and accepted as a signing
key, D.2 fails honestly (Debian: no FIPS provider, softhsm2 not validated), harden --check changes
nothing, harden fixes the key permissions in the same call that reports them (its findings are of the files
after the change), a second harden changes nothing, and the audit then passes c13.keys.permissions.
The hosts are reset to their seeded state afterwards."""

import json
import re
import sys

import pytest

from conftest import ENV, REPO, VENV_BIN, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOSTS = ("portal", "ehr", "files")
KEYS = {"portal": "/etc/nginx/ssl/portal.lab.iryo.key", "ehr": "/etc/apache2/ssl/ehr.lab.iryo.key"}
# Every key-ish file's mode, owner and content: what harden may change and check mode must not.
SNAPSHOT = ("for f in $(find /etc/nginx /etc/apache2 /etc/ssl/private -type f 2>/dev/null | sort); do "
            "stat -c '%n %a %U:%G' \"$f\"; sha256sum \"$f\"; done")
PIN = "246810"
NO_SOFTHSM = ("the lab image has no softhsm2-util/pkcs11-tool, which lab/images/packages.txt installs: "
              "rebuild it with ./iryo lab build --force")


def recap_changed(stdout):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", stdout, re.M)}


def findings(report, host, check):
    return {f["target"]: f for f in report["findings"] if f["host"] == host and f["check"] == check}


def adhoc(host, args, tmp_path):
    tree = tmp_path / "tree"
    env = dict(ENV, IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree))
    done = run([VENV_BIN / "ansible", host, "-m", "key_protection", "-a", json.dumps(args), "--check"], env=env,
               timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tree / host).read_text()), done


@pytest.fixture(scope="module")
def cycle(lab, tmp_path_factory):
    out = {}
    dirs = {name: tmp_path_factory.mktemp(name) for name in ("a1", "check", "h1", "h2", "a2", "token")}
    try:
        has_softhsm = run(["podman", "exec", "iryo-lab-portal", "sh", "-c", "command -v softhsm2-util "
                           "&& command -v pkcs11-tool"]).returncode == 0
        out["softhsm"] = has_softhsm
        if has_softhsm:
            lab.exec("portal", "softhsm2-util --init-token --free --label signing --so-pin 12345678 --pin %s "
                     "&& pkcs11-tool --module $(ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so "
                     "2>/dev/null | head -1) --token-label signing --login --pin %s --keypairgen "
                     "--key-type EC:prime256v1 --label doctor-sign --id 01" % (PIN, PIN))
            out["token"] = adhoc("portal", {"pkcs11_pins": {"signing": PIN}, "web_servers": False,
                                            "signing_keys": ["pkcs11:token=signing;object=doctor-sign"]},
                                 dirs["token"])
        out["audit_before"] = lab.playbook("playbooks/audit.yml", "--tags", "c13,d2", report_dir=dirs["a1"])
        out["report_before"] = lab.report(dirs["a1"])
        before = {host: lab.exec(host, SNAPSHOT) for host in HOSTS}
        out["check"] = lab.playbook("playbooks/harden.yml", "--check", "--diff", "--tags", "c13",
                                    report_dir=dirs["check"])
        out["unchanged_by_check"] = {host: lab.exec(host, SNAPSHOT) == before[host] for host in HOSTS}
        out["harden"] = lab.playbook("playbooks/harden.yml", "--tags", "c13", report_dir=dirs["h1"])
        out["report_harden"] = lab.report(dirs["h1"])
        out["after_harden"] = {host: lab.exec(host, SNAPSHOT) for host in HOSTS}
        out["before"] = before
        out["harden_again"] = lab.playbook("playbooks/harden.yml", "--tags", "c13", report_dir=dirs["h2"])
        out["audit_after"] = lab.playbook("playbooks/audit.yml", "--tags", "c13,d2", report_dir=dirs["a2"])
        out["report_after"] = lab.report(dirs["a2"])
        yield out
    finally:
        result = run([sys.executable, REPO / "lab" / "lab.py", "reset", *HOSTS], timeout=900)
        assert result.returncode == 0, result.stderr


def test_audit_shows_keys_per_host_and_fails_the_world_readable_tls_keys(cycle):
    report = cycle["report_before"]
    for host, key in KEYS.items():
        finding = findings(report, host, "c13.keys.permissions")[key]
        assert finding["status"] == "fail" and finding["clause"] == "C.13", finding
        assert finding["evidence"]["mode"] == "0644" and finding["evidence"]["type"] == "RSA"
        assert finding["evidence"]["bits"] == 2048
        assert any(s.startswith(("nginx", "apache")) for s in finding["evidence"]["found_by"])
    # files has no TLS server: nothing to find, or only keys that are fine.
    files = findings(report, "files", "c13.keys.permissions")
    assert all(f["status"] in ("pass", "not_applicable") for f in files.values())


def test_d2_fails_honestly_on_debian_and_says_what_would_pass(cycle):
    for host in HOSTS:
        (finding,) = findings(cycle["report_before"], host, "d2.keystore.fips_level1").values()
        assert finding["status"] == "fail" and finding["clause"] == "D.2"
        assert "validated" in finding["remediation"]
        assert finding["evidence"]["openssl"]["fips_module_file"] is None
        assert cycle["softhsm"], NO_SOFTHSM
        modules = finding["evidence"]["pkcs11_modules"]
        assert any(m.get("not_validated", {}).get("id") == "softhsm2" for m in modules)


def test_token_key_on_portal_is_listed_and_accepted_as_signing_key(cycle):
    assert cycle["softhsm"], NO_SOFTHSM
    result, done = cycle["token"]
    token_keys = [k for k in result["keys"] if k["on_token"]]
    assert [(k["label"], k["type"], k["curve"]) for k in token_keys] == [("doctor-sign", "EC", "P-256")]
    signing = findings({"findings": [dict(f, host="portal") for f in result["findings"]]}, "portal",
                       "c13.keys.signing_key_protected")
    assert signing["pkcs11:token=signing;object=doctor-sign"]["status"] == "pass"
    assert PIN not in done.stdout + done.stderr + json.dumps(result)


def test_check_mode_changes_nothing(cycle):
    assert cycle["check"].returncode == 0, cycle["check"].stdout[-3000:]
    assert cycle["unchanged_by_check"] == {host: True for host in HOSTS}
    assert "mode: 0644" in cycle["check"].stdout and "mode: 0600" in cycle["check"].stdout


def test_harden_fixes_permissions_only_and_is_idempotent(cycle):
    assert cycle["harden"].returncode == 0, cycle["harden"].stdout[-3000:]
    for host, key in KEYS.items():
        line = next(line for line in cycle["after_harden"][host].splitlines() if line.startswith(key + " "))
        assert line == "%s 600 root:root" % key
        # content untouched: the same sha256 before and after
        digest = [line for line in cycle["before"][host].splitlines() if line.endswith("  " + key)]
        assert digest and digest[0] in cycle["after_harden"][host]
    assert cycle["harden_again"].returncode == 0
    changed = recap_changed(cycle["harden_again"].stdout)
    assert changed and all(count == 0 for count in changed.values()), changed


def test_harden_reports_the_keys_after_the_change(cycle):
    # one key_protection call enforces and reports (no second, audit-only call): its findings are the files after
    for host, key in KEYS.items():
        finding = findings(cycle["report_harden"], host, "c13.keys.permissions")[key]
        assert finding["status"] == "pass" and finding["evidence"]["mode"] == "0600", finding


def test_audit_passes_key_permissions_after_harden(cycle):
    report = cycle["report_after"]
    for host in KEYS:
        found = findings(report, host, "c13.keys.permissions")
        assert found and all(f["status"] == "pass" for f in found.values()), {t: f["status"] for t, f in found.items()}
