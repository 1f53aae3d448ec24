"""backup_freshness (cl.backups.recent): backup folders built here with modification times relative to now, and
a backup job's last run as `systemctl show` reports it (the format captured from the lab's files host,
tests/fixtures/systemd/files-backup-show.txt), served by a stand-in systemctl whose monotonic timestamps are
computed from this machine's CLOCK_MONOTONIC at the moment it runs. `find -mmin` is the independent judge of
which artefacts are younger than the threshold."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from iryo_guard.schema import MAX_SUMMARY

REPO = Path(__file__).resolve().parents[2]
CAPTURED_SHOW = (Path(__file__).resolve().parents[1] / "fixtures" / "systemd" / "files-backup-show.txt").read_text()
HOUR = 3600


def said(finding, status, *words):
    summary = finding["summary"]
    assert finding["status"] == status, (finding["status"], summary)
    assert summary and "\n" not in summary and len(summary) <= MAX_SUMMARY
    for word in words:
        assert word in summary, (word, summary)
    for repr_mark in ("{'", "['", "[]", "{}", "': ", "None", "True", "False"):
        assert repr_mark not in summary, (repr_mark, summary)
    return summary


def artefact(folder, name, hours_ago, content=b"backup\n"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    when = time.time() - hours_ago * HOUR
    os.utime(path, (when, when))
    return path


def younger_per_find(folder, hours):
    """The artefacts find(1) calls younger than the threshold (non-empty regular files)."""
    done = subprocess.run(["find", str(folder), "-type", "f", "-size", "+0", "-mmin", "-%d" % (hours * 60)],
                          capture_output=True, text=True, check=True, timeout=30)
    return sorted(done.stdout.split())


def systemctl_stand_in(tmp_path, load="loaded", result="success", status="0", active="inactive", exit_hours_ago=2.0,
                       userspace_hours_ago=100.0):
    """systemctl show, in the captured format, with monotonic times relative to this machine's clock now."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    template = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in CAPTURED_SHOW.splitlines() if "=" in line}
    template.update(LoadState=load, Result=result, ExecMainStatus=status, ActiveState=active)
    script = bin_dir / "systemctl"
    script.write_text("""#!/usr/bin/python3
import sys, time
args = sys.argv[1:]
mono = time.monotonic()
values = %r
exit_ago, userspace_ago = %r, %r
if exit_ago is None:
    values.update(ExecMainExitTimestampMonotonic="0", ExecMainExitTimestamp="", ExecMainStartTimestamp="")
else:
    values["ExecMainExitTimestampMonotonic"] = str(int((mono - exit_ago * 3600) * 1e6))
if args[:2] == ["show", "files-backup.timer"]:
    print("Unit=files-backup.service")
elif args[:2] == ["show", "files-backup.service"]:
    for key, value in values.items():
        print("%%s=%%s" %% (key, value))
elif args[:2] == ["show", "--property=UserspaceTimestampMonotonic"]:
    print("UserspaceTimestampMonotonic=%%d" %% int((mono - userspace_ago * 3600) * 1e6))
else:
    sys.exit("unexpected: %%s" %% args)
""" % (template, exit_hours_ago, userspace_hours_ago))
    script.chmod(0o755)
    return bin_dir


def adhoc(tmp_path, module_args, bin_dir=None):
    tree = tmp_path / "tree" / "localhost"
    if tree.exists():
        tree.unlink()
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tmp_path / "tree"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    if bin_dir:
        env["PATH"] = "%s:%s" % (bin_dir, env["PATH"])
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-c", "local", "-m",
                           "backup_freshness", "-a", json.dumps(module_args), "--check"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    [finding] = json.loads(tree.read_text())["findings"]
    return finding


def test_a_fresh_backup_passes_as_find_sees_it(tmp_path):
    folder = tmp_path / "backups" / "files"
    artefact(folder, "files-old.tar.gz", 50)
    newest = artefact(folder, "files-new.tar.gz", 2)
    assert younger_per_find(folder, 26) == [str(newest)]
    finding = adhoc(tmp_path, {"paths": [str(folder)], "max_age_hours": 26})
    said(finding, "pass", "newest backup %s is 2.0 hours old" % newest, "required: younger than 26 hours")
    assert finding["evidence"]["newest"]["path"] == str(newest)


def test_a_stale_backup_fails_as_find_sees_it(tmp_path):
    folder = tmp_path / "backups" / "ehr"
    for days in (11, 10, 9):
        artefact(folder, "ehr-db-%d.sql.gz" % days, days * 24)
    assert younger_per_find(folder, 26) == []
    finding = adhoc(tmp_path, {"paths": [str(folder / "*.sql.gz")], "max_age_hours": 26})
    said(finding, "fail", "ehr-db-9.sql.gz is 216.0 hours old (9 days)", "required: a backup younger than 26 hours")
    assert "fix the backup job" in finding["remediation"].lower() and finding["fixable"] is False


def test_an_empty_artefact_is_no_backup(tmp_path):
    folder = tmp_path / "backups"
    artefact(folder, "dump-today.sql.gz", 1, content=b"")  # the job ran and wrote nothing
    older = artefact(folder, "dump-last-week.sql.gz", 7 * 24)
    assert younger_per_find(folder, 26) == []
    finding = adhoc(tmp_path, {"paths": [str(folder / "*.sql.gz")]})
    said(finding, "fail", "%s is 168.0 hours old (7 days)" % older)
    assert finding["evidence"]["skipped_smaller_than_min_size"] == 1


def test_nothing_found_and_nothing_declared_fail(tmp_path):
    said(adhoc(tmp_path, {"paths": [str(tmp_path / "nowhere" / "*.tar.gz")]}), "fail", "no backup artefact under")
    said(adhoc(tmp_path, {"max_age_hours": 26}), "fail", "no backup is declared for this host")


def test_a_folder_is_walked_and_the_walk_is_bounded(tmp_path):
    folder = tmp_path / "backups"
    artefact(folder / "2026" / "a", "x.tar", 30)
    deep = artefact(folder / "2026" / "b" / "c", "y.tar", 3)
    said(adhoc(tmp_path, {"paths": [str(folder)]}), "pass", str(deep))
    finding = adhoc(tmp_path, {"paths": [str(folder)], "max_files": 1})
    assert finding["evidence"]["walk_truncated_at_files"] == 1


def test_the_jobs_last_success_counts_through_its_timer(tmp_path):
    bin_dir = systemctl_stand_in(tmp_path, exit_hours_ago=3)
    finding = adhoc(tmp_path, {"systemd_unit": "files-backup.timer"}, bin_dir)
    said(finding, "pass", "the last run of files-backup.service succeeded and is 3.0 hours old")
    assert finding["evidence"]["job"]["timer"] == "files-backup.timer"
    assert finding["evidence"]["job"]["last_exit"] == "Fri 2026-12-04 16:55:58 UTC"  # as systemctl printed it


def test_a_job_that_succeeded_too_long_ago_or_failed_fails(tmp_path):
    bin_dir = systemctl_stand_in(tmp_path / "old", exit_hours_ago=30)
    said(adhoc(tmp_path, {"systemd_unit": "files-backup.service"}, bin_dir), "fail",
         "the last run of files-backup.service succeeded and is 30.0 hours old")
    bin_dir = systemctl_stand_in(tmp_path / "failed", result="exit-code", status="2", active="failed",
                                 exit_hours_ago=1)
    said(adhoc(tmp_path, {"systemd_unit": "files-backup.service"}, bin_dir), "fail",
         "the last run of files-backup.service failed (Result exit-code, exit status 2) and is 1.0 hours old")
    bin_dir = systemctl_stand_in(tmp_path / "missing", load="not-found", exit_hours_ago=None)
    said(adhoc(tmp_path, {"systemd_unit": "files-backup.service"}, bin_dir), "fail",
         "backup job files-backup.service is not installed")


def test_no_run_since_a_recent_restart_cannot_be_decided(tmp_path):
    # systemd forgets a unit's last result when it restarts: after a reboot 5 hours ago, nothing is known
    bin_dir = systemctl_stand_in(tmp_path / "recent", exit_hours_ago=None, userspace_hours_ago=5)
    said(adhoc(tmp_path, {"systemd_unit": "files-backup.service"}, bin_dir), "error",
         "has not finished a run since the system started 5 hours ago")
    # ... but a job that has not run in the 40 hours since the restart has not run within the threshold
    bin_dir = systemctl_stand_in(tmp_path / "long", exit_hours_ago=None, userspace_hours_ago=40)
    said(adhoc(tmp_path, {"systemd_unit": "files-backup.service"}, bin_dir), "fail",
         "has not finished a run since the system started 40 hours ago")


def test_both_sources_declared_both_must_be_recent(tmp_path):
    folder = tmp_path / "backups"
    artefact(folder, "files.tar.gz", 40)
    bin_dir = systemctl_stand_in(tmp_path, exit_hours_ago=1)
    finding = adhoc(tmp_path, {"paths": [str(folder)], "systemd_unit": "files-backup.timer"}, bin_dir)
    said(finding, "fail", "files.tar.gz is 40.0 hours old", "files-backup.service succeeded and is 1.0 hours old")


@pytest.mark.parametrize("hours", [25, 27])
def test_the_threshold_is_the_one_given(tmp_path, hours):
    folder = tmp_path / "backups"
    artefact(folder, "x.tar", hours)
    finding = adhoc(tmp_path, {"paths": [str(folder)], "max_age_hours": 26})
    assert finding["status"] == ("pass" if younger_per_find(folder, 26) else "fail")
    assert finding["status"] == ("pass" if hours < 26 else "fail")
