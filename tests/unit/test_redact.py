"""iryo_guard.redact: the controller's pass over findings before anything is written (issue 16 item 2)."""

import json
import subprocess

from iryo_guard.redact import MASK, redact, redact_finding, redact_text, secrets_in_mapping


def test_url_credentials_keep_the_user_and_lose_the_password():
    assert redact_text("PrivateMirror https://iryo:Mirr0r-pw@mirror/clamav") == \
        "PrivateMirror https://iryo:%s@mirror/clamav" % MASK
    assert redact_text("from https://tok3n@mirror/x.hdb and http://mirror/y") == \
        "from https://%s@mirror/x.hdb and http://mirror/y" % MASK
    assert redact_text("mail to iryo@hospital.example") == "mail to iryo@hospital.example"  # no scheme: no URL


def test_settings_named_password_or_pin_lose_their_value_but_state_words_stay():
    text = "HTTPProxyServer proxy\nHTTPProxyPassword S3cret!x\n  SMTPPassword hunter22\n"
    assert redact_text(text) == "HTTPProxyServer proxy\nHTTPProxyPassword %s\n  SMTPPassword %s\n" % (MASK, MASK)
    assert redact_text("pkcs11:token=HSM;object=sign?pin-value=123456") == \
        "pkcs11:token=HSM;object=sign?pin-value=%s" % MASK
    assert redact_text("login password=abc PIN: 9876") == "login password=%s PIN: %s" % (MASK, MASK)
    # prose and states are not secrets
    for prose in ("password authentication is allowed for root", "password: locked", "PasswordAuthentication yes",
                  "token label HSM-1, pin: none"):
        assert redact_text(prose) == prose


def test_a_private_key_block_is_masked_also_when_cut_off():
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519"], capture_output=True, text=True,
                         check=True).stdout
    body = key.splitlines()[1]
    assert body not in redact_text("read: " + key)
    assert "PRIVATE KEY" in redact_text("read: " + key)  # what it was stays visible
    assert body not in redact_text("first 80 bytes: " + key[:60])  # no END line


def test_known_secrets_anywhere_short_ones_only_standing_alone():
    secrets = secrets_in_mapping({"pkcs11_pins": {"HSM-1": "4711", "HSM-2": 2468}, "ca_file": "/x/4711.pem",
                                  "private_mirrors": ["https://u:LongerSecret9@m/"], "smtp_password": "pw-abc"})
    assert secrets == {"4711", "2468", "LongerSecret9", "pw-abc"}
    assert redact_text("PIN 4711 refused; key 47110 kept; token 2468", secrets) == \
        "PIN %s refused; key 47110 kept; token %s" % (MASK, MASK)
    assert redact_text("xLongerSecret9x", secrets) == "x%sx" % MASK


def test_redact_finding_walks_every_string_and_keeps_the_shape():
    finding = {"check": "c12.antimalware.mirror_config", "status": "fail", "severity": "medium",
               "summary": "freshclam: PrivateMirror is https://u:pw-0123456@m/, expected http://m/",
               "evidence": {"configured": {"PrivateMirror": ["https://u:pw-0123456@m/"]}, "count": 2,
                            "ok": True, "none": None, "password": "locked"},
               "expected": {"PrivateMirror": ["http://m/"]}}
    out = redact_finding(finding)
    assert "pw-0123456" not in json.dumps(out)
    assert out["evidence"]["count"] == 2 and out["evidence"]["ok"] is True and out["evidence"]["none"] is None
    assert out["evidence"]["password"] == "locked" and out["expected"] == finding["expected"]
    assert finding["evidence"]["configured"]["PrivateMirror"] == ["https://u:pw-0123456@m/"]  # input untouched
    assert redact_finding("not a finding") == "not a finding"
    assert redact({"https://u:keyed-secret@m/": 1}) == {"https://u:%s@m/" % MASK: 1}
