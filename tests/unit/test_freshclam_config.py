"""freshclam_config: minimal edits of Debian's freshclam.conf (exact diffs, idempotence, the public
mirror commented out), the verdict, freshclam's log, and the module run ad hoc through Ansible in check
mode and for real on a copy of the fixture (the controller has no freshclam: validation is skipped and noted)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import iryo_findings

REPO = Path(__file__).resolve().parents[2]
DEBIAN = (REPO / "tests" / "fixtures" / "clamav" / "freshclam-debian.conf").read_text()
MIRROR = "http://mirror/clamav"
HDB = "http://mirror/clamav/hospital-local.hdb"
MARK = "# iryo-guard (C.12): public mirror off, updates come from the hospital mirror: "


@pytest.fixture(scope="module")
def mod():
    sys.modules.setdefault("ansible.module_utils.iryo_findings", iryo_findings)
    spec = importlib.util.spec_from_file_location("freshclam_config", REPO / "library" / "freshclam_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def changed_lines(before, after):
    import difflib
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_debian_default_is_parsed(mod):
    configured = mod.parse(DEBIAN)
    assert configured["DatabaseMirror"] == ["db.local.clamav.net", "database.clamav.net"]
    assert configured["PrivateMirror"] == [] and configured["DatabaseCustomURL"] == []
    assert configured["UpdateLogFile"] == "/var/log/clamav/freshclam.log"


def test_exact_diff_mirror_and_custom_url(mod):
    after = mod.edit(DEBIAN, [MIRROR], [HDB], True)
    assert changed_lines(DEBIAN, after) == [
        "-DatabaseMirror db.local.clamav.net",
        "-DatabaseMirror database.clamav.net",
        "+" + MARK + "DatabaseMirror db.local.clamav.net",
        "+" + MARK + "DatabaseMirror database.clamav.net",
        "+PrivateMirror " + MIRROR,
        "+DatabaseCustomURL " + HDB,
    ]
    assert after.startswith(DEBIAN.rsplit("DatabaseMirror db.local", 1)[0])  # every other line kept, in order
    configured = mod.parse(after)
    assert configured["DatabaseMirror"] == [] and configured["PrivateMirror"] == [MIRROR]
    assert mod.problems_of(configured, [MIRROR], [HDB], True) == []


def test_edit_is_idempotent(mod):
    once = mod.edit(DEBIAN, [MIRROR], [HDB], True)
    assert mod.edit(once, [MIRROR], [HDB], True) == once


def test_public_mirror_kept_when_asked(mod):
    after = mod.edit(DEBIAN, [], [HDB], False)
    assert changed_lines(DEBIAN, after) == ["+DatabaseCustomURL " + HDB]
    assert mod.parse(after)["DatabaseMirror"] == ["db.local.clamav.net", "database.clamav.net"]


def test_lists_are_exact(mod):
    text = DEBIAN + "PrivateMirror http://old/clamav\nDatabaseCustomURL http://old/x.hdb\nPrivateMirror %s\n" % MIRROR
    after = mod.edit(text, [MIRROR], [HDB], True)
    configured = mod.parse(after)
    assert configured["PrivateMirror"] == [MIRROR] and configured["DatabaseCustomURL"] == [HDB]
    assert "http://old" not in after


def test_verdict(mod):
    configured = mod.parse(DEBIAN)
    assert any("PrivateMirror" in p for p in mod.problems_of(configured, [MIRROR], [], True))
    assert any("public mirror" in p for p in mod.problems_of(configured, [], [], False))  # nothing declared
    assert mod.problems_of(mod.parse(DEBIAN.replace("DatabaseMirror", "#DatabaseMirror")
                                     + "PrivateMirror %s\n" % MIRROR), [], [], False) == [
        "PrivateMirror is %s, expected not set" % MIRROR]


def test_last_success_from_the_log(mod, tmp_path):
    log = tmp_path / "freshclam.log"
    log.write_text(
        "Thu Nov 26 00:05:11 2026 -> ClamAV update process started at Thu Nov 26 00:05:11 2026\n"
        "Thu Nov 26 00:05:31 2026 -> ERROR: Update failed.\n"
        "Thu Nov 26 00:05:31 2026 -> ClamAV update process started at Thu Nov 26 00:05:31 2026\n"
        "Thu Nov 26 00:05:31 2026 -> hospital-local.hdb updated (version: custom database, sigs: 1)\n"
        "Thu Nov 26 00:06:40 2026 -> ClamAV update process started at Thu Nov 26 00:06:40 2026\n"
        "Thu Nov 26 00:06:41 2026 -> ERROR: Update failed.\n")
    assert mod.last_success(str(log)) == "Thu Nov 26 00:05:31 2026"
    assert mod.last_success(str(tmp_path / "missing.log")) is None


def adhoc(tmp_path, args, check=False):
    tree = tmp_path / "tree"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "freshclam_config", "-a", args]
    done = subprocess.run(cmd + (["--check", "--diff"] if check else []), cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=180)
    return done, json.loads((tree / "localhost").read_text())


def test_adhoc_check_mode_changes_nothing_then_enforce_then_idempotent(mod, tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN)
    args = "state=enforced path=%s private_mirrors=%s custom_urls=%s" % (conf, MIRROR, HDB)
    done, result = adhoc(tmp_path, args, check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is True and conf.read_text() == DEBIAN
    assert "+PrivateMirror http://mirror/clamav" in done.stdout  # the diff is shown
    (finding,) = result["findings"]
    assert finding["status"] == "fail" and finding["evidence"]["would_change"] is True
    assert finding["check"] == "c12.antimalware.mirror_config" and finding["clause"] == "C.12"

    done, result = adhoc(tmp_path, args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is True and result["findings"][0]["status"] == "pass"
    assert conf.read_text() == mod.edit(DEBIAN, [MIRROR], [HDB], True)
    assert Path(result["backup_file"]).read_text() == DEBIAN
    assert "freshclam not installed" in " ".join(result["findings"][0]["evidence"].get("notes", []))

    done, result = adhoc(tmp_path, args)
    assert result["changed"] is False and result["findings"][0]["status"] == "pass"
    done, result = adhoc(tmp_path, "path=%s private_mirrors=%s custom_urls=%s" % (conf, MIRROR, HDB), check=True)
    assert result["changed"] is False and result["findings"][0]["status"] == "pass"


def test_adhoc_refuses_a_config_without_any_mirror(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN)
    done, result = adhoc(tmp_path, "state=enforced path=%s custom_urls=%s" % (conf, HDB))
    (finding,) = result["findings"]  # the action plugin turns the module's failure into an error finding
    assert finding["status"] == "error" and "refuses to run" in json.dumps(finding["evidence"])
    assert conf.read_text() == DEBIAN
