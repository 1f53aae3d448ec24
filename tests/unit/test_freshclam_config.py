"""freshclam_config: minimal edits of Debian's freshclam.conf (exact diffs, idempotence, the public
mirror commented out), the verdict, freshclam's log, and the module run ad hoc through Ansible in check
mode and for real on a copy of the fixture (the controller has no freshclam: validation is skipped and noted)."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
DEBIAN = (REPO / "tests" / "fixtures" / "clamav" / "freshclam-debian.conf").read_text()
MIRROR = "http://mirror/clamav"
HDB = "http://mirror/clamav/hospital-local.hdb"
MARK = "# iryo-guard (C.12): public mirror off, updates come from the hospital mirror: "


@pytest.fixture(scope="module")
def mod():
    return load_library_module("freshclam_config")


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


def adhoc(tmp_path, args, check=False, path_prefix=None):
    tree = tmp_path / "tree"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    if path_prefix:
        env["PATH"] = "%s:%s" % (path_prefix, env["PATH"])
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


# --- update_now: one freshclam run when enforcing, only when the configuration changed or the signatures are stale

HDB_LINE = "44d88612fea8a8f36de82e1f5c0c5c4c:68:Eicar-Test-Signature\n"  # an MD5 database line, as the lab's
DAY = 86400


def signatures(tmp_path, age_seconds):
    """A database folder with one custom database of the given age (custom databases age by mtime)."""
    folder = tmp_path / "clamav"
    folder.mkdir(exist_ok=True)
    path = folder / "hospital-local.hdb"
    path.write_text(HDB_LINE)
    when = time.time() - age_seconds
    os.utime(path, (when, when))
    return folder


def stand_ins(tmp_path, freshclam_rc=0, daemon="inactive"):
    """`freshclam` and `systemctl` on PATH that log every call to calls.log, in order. The freshclam
    stand-in checks its arguments and, like the real one after a download, writes a fresh database; the
    systemctl one answers is-active with `daemon`. They prove the command lines and the order of calls
    only: the real freshclam and daemon run in tests/integration (test_c12_lab.py)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    (bin_dir / "freshclam").write_text(
        '#!/bin/sh\necho "freshclam $*" >> "%s"\n'
        'case "$1" in --config-file=*) [ "$2" = --version ] && { echo "ClamAV 1.4.3"; exit 0; } ;; esac\n'
        '[ "$1" = --stdout ] || { echo "ERROR: unexpected: $*" >&2; exit 2; }\n'
        'if [ %d -ne 0 ]; then echo "ERROR: Can\'t download hospital-local.hdb from http://mirror/clamav"; '
        'exit %d; fi\n'
        'printf "%s" > "%s/hospital-local.hdb"\n'
        'echo "hospital-local.hdb updated (version: custom database, sigs: 1)"\n'
        % (log, freshclam_rc, freshclam_rc, HDB_LINE.strip(), tmp_path / "clamav"))
    (bin_dir / "systemctl").write_text(
        '#!/bin/sh\necho "systemctl $*" >> "%s"\n'
        'case "$1" in is-active) echo %s ;; is-enabled) echo enabled ;; esac\nexit 0\n' % (log, daemon))
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    return bin_dir, log


def calls(log):
    return log.read_text().splitlines() if log.exists() else []


def enforce_args(conf, folder, more=""):
    return ("state=enforced path=%s private_mirrors=%s custom_urls=%s update_now=true update_db=custom "
            "database_dir=%s max_age_hours=72 %s" % (conf, MIRROR, HDB, folder, more)).strip()


def test_signatures_stale_judges_like_av_signatures(mod, tmp_path):
    assert mod.signatures_stale(str(signatures(tmp_path, 2 * 3600)), 72) is None
    assert "hours old (limit 72)" in mod.signatures_stale(str(signatures(tmp_path, 40 * DAY)), 72)
    assert mod.signatures_stale(str(tmp_path / "nowhere"), 72) == "no signature database in %s" % (
        tmp_path / "nowhere")


def test_update_db_and_config_file_reach_freshclams_command_line(mod):
    assert mod.update_argv("/usr/bin/freshclam", "/etc/clamav/freshclam.conf", ["custom", "daily"]) == [
        "/usr/bin/freshclam", "--stdout", "--config-file=/etc/clamav/freshclam.conf", "--update-db=custom",
        "--update-db=daily"]
    assert mod.parse_value("DatabaseDirectory /a\n#DatabaseDirectory /b\nDatabaseDirectory /c\n",
                           "DatabaseDirectory") == "/c"


def test_update_runs_when_the_config_changes_never_in_check_mode_and_not_again(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN)
    folder = signatures(tmp_path, 2 * 3600)  # fresh: only the configuration change makes the update due
    bin_dir, log = stand_ins(tmp_path)
    args = enforce_args(conf, folder)

    done, result = adhoc(tmp_path, args, check=True, path_prefix=bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(c.startswith("freshclam --stdout") for c in calls(log)), calls(log)
    assert result["update"]["due"] is True and result["update"]["ran"] is False
    assert result["update"]["reason"] == "the configuration changed"
    assert result["update"]["cmd"] == ["freshclam", "--stdout", "--config-file=%s" % conf, "--update-db=custom"]
    assert conf.read_text() == DEBIAN

    done, result = adhoc(tmp_path, args, path_prefix=bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [c for c in calls(log) if c.startswith("freshclam --stdout")]
    assert runs == ["freshclam --stdout --config-file=%s --update-db=custom" % conf]
    assert result["changed"] is True and result["update"]["updated"] == ["hospital-local.hdb"]
    assert result["update"]["service_restarted"] is False  # the daemon was not running: left alone
    assert not any(c.startswith(("systemctl stop", "systemctl start")) for c in calls(log))
    (finding,) = result["findings"]
    assert finding["status"] == "pass" and finding["evidence"]["update"]["updated"] == ["hospital-local.hdb"]

    done, result = adhoc(tmp_path, args, path_prefix=bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is False and result["update"] == {"due": False, "ran": False}
    assert len([c for c in calls(log) if c.startswith("freshclam --stdout")]) == 1


def test_stale_signatures_with_the_config_in_place_stop_the_daemon_for_the_run(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN)
    folder = signatures(tmp_path, 40 * DAY)
    bin_dir, log = stand_ins(tmp_path, daemon="active")
    args = enforce_args(conf, folder)
    done, result = adhoc(tmp_path, args.replace("update_now=true", "update_now=false"), path_prefix=bin_dir)
    assert done.returncode == 0 and "update" not in result  # without update_now only the file changes
    log.unlink()

    done, result = adhoc(tmp_path, args, path_prefix=bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    order = [c for c in calls(log) if c.startswith(("systemctl stop", "systemctl start", "freshclam --stdout"))]
    assert order == ["systemctl stop clamav-freshclam.service",
                     "freshclam --stdout --config-file=%s --update-db=custom" % conf,
                     "systemctl start clamav-freshclam.service"]
    assert "hours old (limit 72)" in result["update"]["reason"] and result["update"]["service_restarted"] is True
    assert result["changed"] is True
    assert time.time() - (folder / "hospital-local.hdb").stat().st_mtime < 600


def test_a_failed_update_fails_names_freshclams_error_and_restarts_the_daemon(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN)
    folder = signatures(tmp_path, 40 * DAY)
    bin_dir, log = stand_ins(tmp_path, freshclam_rc=1, daemon="active")
    done, result = adhoc(tmp_path, enforce_args(conf, folder), path_prefix=bin_dir)
    assert done.returncode != 0
    assert "freshclam could not update the signatures from the configured mirror (rc=1)" in result["msg"]
    assert "Can't download hospital-local.hdb" in result["msg"]
    (finding,) = result["findings"]
    assert finding["status"] == "error" and finding["check"] == "c12.antimalware.mirror_config"
    assert calls(log)[-1] == "systemctl start clamav-freshclam.service"


def test_update_now_is_ignored_in_audit_state(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN)
    folder = signatures(tmp_path, 40 * DAY)
    bin_dir, log = stand_ins(tmp_path)
    done, result = adhoc(tmp_path, enforce_args(conf, folder).replace("state=enforced", "state=audit"),
                         path_prefix=bin_dir)
    assert done.returncode == 0 and "update" not in result and calls(log) == [
        "systemctl is-enabled clamav-freshclam.service", "systemctl is-active clamav-freshclam.service"]
