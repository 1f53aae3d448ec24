"""freshclam_config never shows a secret (issue 16 item 2): the proxy password and URL credentials are masked in
the diff, the findings, the echoed arguments and every report the callback writes, while the file itself keeps
them; a URL value that could add an option line (newline, blanks) is refused before anything is read; a file
with non-UTF-8 bytes is edited byte for byte. Run ad hoc through Ansible, as a play would."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
DEBIAN = (REPO / "tests" / "fixtures" / "clamav" / "freshclam-debian.conf").read_text()
PROXY_PW = "Pr0xy-S3cret-4711"
URL_PW = "M1rror-S3cret-0815"
MIRROR = "https://iryo:%s@mirror.hospital.example/clamav" % URL_PW
HDB = "https://%s@mirror.hospital.example/clamav/hospital-local.hdb" % URL_PW  # a bare token as userinfo
SECRETS = (PROXY_PW, URL_PW)


@pytest.fixture(scope="module")
def mod():
    return load_library_module("freshclam_config")


def adhoc(tmp_path, args, check=False):
    tree = tmp_path / "tree"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "freshclam_config", "-a", json.dumps(args),
           "-v"]
    done = subprocess.run(cmd + (["--check", "--diff"] if check else ["--diff"]), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    return done, json.loads((tree / "localhost").read_text())


def every_output(tmp_path, done):
    """stdout, stderr and every file the run wrote outside the configuration (tree result, reports)."""
    texts = [done.stdout, done.stderr]
    for folder in (tmp_path / "tree", tmp_path / "reports"):
        for path in folder.rglob("*") if folder.exists() else ():
            if path.is_file():
                texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def test_redact_masks_the_proxy_password_and_url_credentials(mod):
    text = "HTTPProxyServer proxy\nHTTPProxyPassword %s\nPrivateMirror %s\n" % (PROXY_PW, MIRROR)
    secrets = mod.secrets_in(text)
    assert secrets == {PROXY_PW, URL_PW}
    masked = mod.redact({"diff": [text], "n": 1}, secrets)
    assert masked["n"] == 1
    assert masked["diff"][0] == ("HTTPProxyServer proxy\nHTTPProxyPassword ********\n"
                                 "PrivateMirror https://iryo:********@mirror.hospital.example/clamav\n")
    assert mod.redact(HDB, ()) == "https://********@mirror.hospital.example/clamav/hospital-local.hdb"


def test_check_mode_diff_and_enforce_show_no_secret_but_keep_it_in_the_file(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN + "HTTPProxyServer proxy.hospital.example\nHTTPProxyPassword %s\n" % PROXY_PW)
    args = {"state": "enforced", "path": str(conf), "private_mirrors": [MIRROR], "custom_urls": [HDB]}
    done, result = adhoc(tmp_path, args, check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is True
    assert "+PrivateMirror https://iryo:********@mirror.hospital.example/clamav" in done.stdout  # the diff is shown
    outputs = every_output(tmp_path, done)
    assert (tmp_path / "reports").exists()
    for secret in SECRETS:
        assert secret not in outputs

    done, result = adhoc(tmp_path, args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["findings"][0]["status"] == "pass"
    outputs = every_output(tmp_path, done)
    for secret in SECRETS:
        assert secret not in outputs
    written = conf.read_text()  # the file keeps what freshclam needs
    assert "HTTPProxyPassword %s\n" % PROXY_PW in written and "PrivateMirror %s\n" % MIRROR in written


@pytest.mark.parametrize("value", ["http://mirror/clamav\nNoSuchOption yes", "http://mirror/ clamav", ""])
def test_a_value_that_is_not_one_url_is_refused_before_anything_is_written(tmp_path, value):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN)
    done, result = adhoc(tmp_path, {"state": "enforced", "path": str(conf), "private_mirrors": [value]})
    (finding,) = result["findings"]  # the action plugin turns the module's failure into an error finding
    assert finding["status"] == "error", finding
    assert "is not one URL" in json.dumps(finding)
    assert conf.read_text() == DEBIAN


def test_non_utf8_comments_survive_the_edit_byte_for_byte(tmp_path, mod):
    conf = tmp_path / "freshclam.conf"
    comment = "# 病院ミラー\n".encode("shift_jis")
    conf.write_bytes(comment + DEBIAN.encode())
    done, result = adhoc(tmp_path, {"state": "enforced", "path": str(conf),
                                    "private_mirrors": ["http://mirror/clamav"]})
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["findings"][0]["status"] == "pass"
    assert conf.read_bytes() == comment + mod.edit(DEBIAN, ["http://mirror/clamav"], [], True).encode()


def test_a_file_with_the_proxy_password_becomes_private_and_its_backup_too(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN + "HTTPProxyPassword %s\n" % PROXY_PW)
    conf.chmod(0o644)  # Debian's mode; freshclam 1.4 then stops at "Insecure permissions (for HTTPProxyPassword)"
    args = {"state": "enforced", "path": str(conf), "private_mirrors": ["http://mirror/clamav"]}
    done, result = adhoc(tmp_path, {"path": str(conf), "private_mirrors": ["http://mirror/clamav"]}, check=True)
    assert "mode 0644" in result["findings"][0]["summary"]
    done, result = adhoc(tmp_path, args, check=True)
    assert result["changed"] is True and conf.stat().st_mode & 0o777 == 0o644
    assert "-0644" in done.stdout and "+0600" in done.stdout
    done, result = adhoc(tmp_path, args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert conf.stat().st_mode & 0o777 == 0o600 and result["findings"][0]["status"] == "pass"
    assert Path(result["backup_file"]).stat().st_mode & 0o777 == 0o600
    done, result = adhoc(tmp_path, args)
    assert result["changed"] is False
