"""Secrets never in output (issue 16 item 2, the "Secrets" figure of docs/reliability.md).

One lab host (files) gets a known secret in every place a secret can live for the roles that handle secrets:
freshclam's HTTPProxyPassword in freshclam.conf, credentials in the mirror URLs (c12 private_mirrors /
custom_urls), a PKCS#11 user PIN (c13_key_protection_pkcs11_pins, for a SoftHSM token initialised with it) and
an unencrypted private key in /etc/ssl/private. Then harden in check mode with --diff -v, harden enforcing with
--diff -v, and an audit that makes C.12 regress (so that the notification command runs) write into one report
folder. Every output is grepped for every secret: stdout and stderr of the three runs, report.json/html, junit,
history, and the notification payload the command received. Expected: zero hits; and the secrets did reach the
modules (the file keeps them, the token's private objects were listed with the PIN), so zero is not for want of
trying. The secrets are random per run, so no checked-in file can contain them. The host is reset afterwards."""

import json
import os
import re
import secrets as random
import sys

import pytest

from conftest import REPO, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOST = "files"
KEY = "/etc/ssl/private/iryo-secrets-test.key"
LABEL = "iryo-secrets"
TAGS = "c12.antimalware.mirror_config,c13"


def token(prefix):
    return "%s%s" % (prefix, random.token_hex(8))


@pytest.fixture(scope="module")
def outputs(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("secrets")
    planted = {"proxy password": token("Pxy"), "mirror URL password": token("Url"), "PKCS#11 PIN": token("Pin"),
               "PKCS#11 SO PIN": token("So")}
    try:
        lab.exec(HOST, "printf 'HTTPProxyPassword %s\\n' >> /etc/clamav/freshclam.conf" % planted["proxy password"])
        lab.exec(HOST, "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s && chmod 0644 %s"
                 % (KEY, KEY))
        body = [line for line in lab.exec(HOST, "cat %s" % KEY).splitlines() if "-----" not in line]
        for n, line in enumerate(body[1:-1:5]):  # lines of the key's base64 body, each unique to this key
            planted["private key line %d" % n] = line
        lab.exec(HOST, "softhsm2-util --init-token --free --label %s --pin %s --so-pin %s >/dev/null && "
                       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out /tmp/tok.pem && "
                       "openssl pkcs8 -topk8 -nocrypt -in /tmp/tok.pem -outform DER -out /tmp/tok.der && "
                       "pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label %s --login --pin %s "
                       "--write-object /tmp/tok.der --type privkey --id 01 --label sign >/dev/null && "
                       "rm -f /tmp/tok.pem /tmp/tok.der"
                 % (LABEL, planted["PKCS#11 PIN"], planted["PKCS#11 SO PIN"], LABEL, planted["PKCS#11 PIN"]))
        url = "http://iryo:%s@mirror/clamav" % planted["mirror URL password"]
        extra = {"c12_patches_antimalware_private_mirrors": [url],
                 "c12_patches_antimalware_custom_urls": [url + "/hospital-local.hdb"],
                 "c13_key_protection_paths": [KEY],
                 "c13_key_protection_pkcs11_pins": {LABEL: planted["PKCS#11 PIN"]},
                 "iryo_audit_fail_on_findings": False}
        (folder / "extra.json").write_text(json.dumps(extra))
        capture = folder / "notified.json"
        notifier = folder / "notify.sh"
        notifier.write_text("#!/bin/sh\ncat >> %s\n" % capture)
        notifier.chmod(0o755)
        # the audit expects a second mirror: C.12 goes from pass (after harden) to fail, a regression, notified
        regress = dict(extra, c12_patches_antimalware_private_mirrors=[url, url.replace("@mirror", "@mirror2")],
                       iryo_notify_command=[str(notifier)])
        (folder / "regress.json").write_text(json.dumps(regress))
        runs = {}
        common = ("--limit", HOST, "--tags", TAGS, "-v")
        runs["harden --check --diff"] = lab.playbook("playbooks/harden.yml", *common, "--check", "--diff",
                                                     "-e", "@%s" % (folder / "extra.json"), report_dir=folder)
        runs["harden --diff"] = lab.playbook("playbooks/harden.yml", *common, "--diff",
                                             "-e", "@%s" % (folder / "extra.json"), report_dir=folder)
        runs["audit (a regression, notified)"] = lab.playbook(
            "playbooks/audit.yml", *common, "-e", "@%s" % (folder / "regress.json"), report_dir=folder)
        texts = {}
        for name, done in runs.items():
            texts["%s stdout" % name] = done.stdout
            texts["%s stderr" % name] = done.stderr
        ours = {folder / "extra.json", folder / "regress.json", capture, notifier}  # the test's own inputs
        for path in sorted(folder.rglob("*")):  # every run folder's report files, history.jsonl
            if path.is_file() and path not in ours:
                texts[str(path.relative_to(folder))] = path.read_bytes().decode("utf-8", "replace")
        texts["notification payload"] = capture.read_text() if capture.exists() else None
        for n, done in enumerate(runs.values()):  # for whoever reads a failure (after the grep's collection)
            (folder / ("run%d.log" % n)).write_text(done.stdout + done.stderr)
        reached = {"conf": lab.exec(HOST, "cat /etc/clamav/freshclam.conf"),
                   "report": lab.report(folder)}
        yield {"planted": planted, "texts": texts, "runs": runs, "reached": reached}
    finally:
        result = run([sys.executable, REPO / "lab" / "lab.py", "reset", HOST], timeout=900)
        assert result.returncode == 0, result.stderr


def test_every_output_was_written(outputs):
    texts = outputs["texts"]
    for name, done in outputs["runs"].items():
        assert re.search(r"^%s\s*:\s*ok=\d+" % HOST, done.stdout, re.M), name + "\n" + done.stdout[-3000:]
    kinds = {os.path.basename(name) for name in texts}
    assert {"report.json", "report.html", "junit.xml"} <= kinds, sorted(texts)
    assert any("history" in name for name in texts), sorted(texts)
    assert texts["notification payload"], "the regression was not notified: %s" % outputs["runs"][
        "audit (a regression, notified)"].stdout[-2000:]


def test_the_secrets_reached_the_modules(outputs):
    planted, reached = outputs["planted"], outputs["reached"]
    assert "HTTPProxyPassword %s" % planted["proxy password"] in reached["conf"]
    assert "PrivateMirror http://iryo:%s@mirror/clamav" % planted["mirror URL password"] in reached["conf"]
    keys = [f for f in reached["report"]["findings"] if f["check"].startswith("c13.") and f["host"] == HOST]
    assert keys, "no C.13 finding"
    assert LABEL in json.dumps(keys), "the token was not examined"  # listed with the PIN (its private key shown)
    assert KEY in json.dumps(keys), "the planted key was not examined"


def test_no_secret_in_any_output(outputs):
    hits = ["%s in %s" % (what, where) for where, text in outputs["texts"].items() if text
            for what, secret in outputs["planted"].items() if secret in text]
    assert hits == [], hits
