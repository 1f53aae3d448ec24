"""iryo_c12, the C.12 clause module, run for real on this machine through Ansible (AnsiballZ, the ClauseAction
plugin, check mode), and the C.12 / D.1 roles' audit paths as Ansible lists them.

patch_level reads this machine's own apt state (apt-get -s, never apply); freshclam_config and av_signatures
work on a copy of Debian's freshclam.conf and a database folder under tmp_path. This machine has no ClamAV,
so freshclam is a stand-in on PATH that writes a database the way the real one does after a download: it
proves the order inside the call (the signatures are judged after the update) and that check mode never
runs it; the real freshclam and daemon run in tests/integration/test_c12_lab.py.
"""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEBIAN_CONF = (REPO / "tests" / "fixtures" / "clamav" / "freshclam-debian.conf").read_text()
MIRROR = "http://mirror/clamav"
HDB = "http://mirror/clamav/hospital-local.hdb"
HDB_LINE = "44d88612fea8a8f36de82e1f5c0c5c4c:68:Eicar-Test-Signature"
DAY = 86400
C12 = {"c12.patches.security_pending", "c12.patches.reboot_required", "c12.patches.os_eol",
       "c12.antimalware.mirror_config", "c12.antimalware.signatures_fresh"}
EOL = yaml.safe_load((REPO / "data" / "os_eol.yml").read_text())["releases"]


def env_for(tmp_path, path_prefix=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tmp_path / "tree"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    if path_prefix:
        env["PATH"] = "%s:%s" % (path_prefix, env["PATH"])
    return env


def adhoc(tmp_path, module, args, check=False, path_prefix=None):
    """`ansible localhost -c local -m MODULE -a JSON`: the module's result as Ansible's tree callback saved it."""
    tree = tmp_path / "tree" / "localhost"
    if tree.exists():
        tree.unlink()
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-c", "local", "-m", module, "-a", json.dumps(args)]
    done = subprocess.run(cmd + (["--check", "--diff"] if check else []), cwd=REPO,
                          env=env_for(tmp_path, path_prefix), capture_output=True, text=True, timeout=300)
    return done, json.loads(tree.read_text())


def database_folder(tmp_path, age_seconds):
    folder = tmp_path / "clamav"
    folder.mkdir(exist_ok=True)
    path = folder / "hospital-local.hdb"
    path.write_text(HDB_LINE + "\n")
    when = time.time() - age_seconds
    os.utime(path, (when, when))
    return folder


def freshclam_stand_in(tmp_path, folder):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "freshclam.log"
    script = bin_dir / "freshclam"
    script.write_text('#!/bin/sh\necho "$*" >> "%s"\n'
                      'case "$1" in --config-file=*) [ "$2" = --version ] && exit 0 ;; esac\n'
                      'printf "%s\\n" > "%s/hospital-local.hdb"\n'
                      'echo "hospital-local.hdb updated (version: custom database, sigs: 1)"\n'
                      % (log, HDB_LINE, folder))
    script.chmod(0o755)
    return bin_dir, log


def clause_args(conf, folder, state):
    return {
        "patch_level": {"apply": "none", "eol_releases": EOL},  # never apply on this machine
        "freshclam_config": {"state": state, "path": str(conf), "private_mirrors": [MIRROR], "custom_urls": [HDB],
                             "update_now": True, "update_db": ["custom"], "database_dir": str(folder),
                             "max_age_hours": 72},
        "av_signatures": {"database_dir": str(folder), "max_age_hours": 72, "engine": "clamav"},
    }


def by_check(result):
    return {f["check"]: f for f in result["findings"]}


@pytest.fixture
def stale(tmp_path):
    conf = tmp_path / "freshclam.conf"
    conf.write_text(DEBIAN_CONF)
    return conf, database_folder(tmp_path, 40 * DAY)


def test_audit_answers_every_c12_check_in_one_call_as_the_modules_alone_do(tmp_path, stale):
    conf, folder = stale
    args = clause_args(conf, folder, "audit")
    done, result = adhoc(tmp_path, "iryo_c12", args, check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    found = by_check(result)
    assert set(found) == C12 and len(result["findings"]) == 5
    assert found["c12.antimalware.mirror_config"]["status"] == "fail"
    assert found["c12.antimalware.signatures_fresh"]["status"] == "fail"
    assert result["changed"] is False and set(result["checks"]) == {"patch_level", "freshclam_config", "av_signatures"}
    for finding in result["findings"]:  # enriched by the controller half, like any check module's
        assert finding["clause"] == "C.12" and finding["host"] == "localhost" and finding["summary"]
    # Each check module gives in the clause call what it gives alone (the controller's real apt state).
    for name in ("patch_level", "freshclam_config", "av_signatures"):
        alone_done, alone = adhoc(tmp_path, name, args[name], check=True)
        assert alone_done.returncode == 0, alone_done.stdout + alone_done.stderr
        answered = {f["check"] for f in alone["findings"]}
        assert [(f["check"], f["status"], f["target"]) for f in alone["findings"]] == [
            (f["check"], f["status"], f["target"]) for f in result["findings"] if f["check"] in answered], name
        if name == "patch_level":
            assert result["checks"][name]["security_pending"] == alone["security_pending"]


def test_enforce_returns_the_signatures_after_the_update_of_the_same_call(tmp_path, stale):
    conf, folder = stale
    bin_dir, log = freshclam_stand_in(tmp_path, folder)
    args = clause_args(conf, folder, "enforced")

    # check mode: nothing written, nothing fetched, the findings of the state as it is
    done, result = adhoc(tmp_path, "iryo_c12", args, check=True, path_prefix=bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert conf.read_text() == DEBIAN_CONF and not log.exists()
    assert result["changed"] is True and "+PrivateMirror http://mirror/clamav" in done.stdout
    found = by_check(result)
    assert found["c12.antimalware.mirror_config"]["evidence"]["would_change"] is True
    assert found["c12.antimalware.signatures_fresh"]["status"] == "fail"
    assert result["checks"]["freshclam_config"]["update"]["ran"] is False

    # enforce: the configuration, one update run, then the signatures judged after it, in one call
    done, result = adhoc(tmp_path, "iryo_c12", args, path_prefix=bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert log.read_text().splitlines()[-1] == "--stdout --config-file=%s --update-db=custom" % conf
    found = by_check(result)
    assert found["c12.antimalware.mirror_config"]["status"] == "pass"
    assert found["c12.antimalware.signatures_fresh"]["status"] == "pass", found["c12.antimalware.signatures_fresh"]
    assert found["c12.antimalware.signatures_fresh"]["evidence"]["newest_age_hours"] < 1
    assert result["changed"] is True

    # again: nothing to change, nothing fetched
    runs = len(log.read_text().splitlines())
    done, result = adhoc(tmp_path, "iryo_c12", args, path_prefix=bin_dir)
    assert done.returncode == 0 and result["changed"] is False
    assert len(log.read_text().splitlines()) == runs
    assert {f["check"]: f["status"] for f in result["findings"] if f["check"].startswith("c12.antimalware")} == {
        "c12.antimalware.mirror_config": "pass", "c12.antimalware.signatures_fresh": "pass"}


def test_a_check_module_that_cannot_run_gives_error_findings_and_the_others_still_answer(tmp_path, stale):
    conf, folder = stale
    args = clause_args(conf, folder, "audit")
    args["freshclam_config"]["state"] = "fixed"  # not a choice of freshclam_config
    done, result = adhoc(tmp_path, "iryo_c12", args, check=True)
    assert done.returncode == 0, done.stdout + done.stderr  # an audit goes on: the gate judges the error
    found = by_check(result)
    assert found["c12.antimalware.mirror_config"]["status"] == "error"
    assert "freshclam_config" in found["c12.antimalware.mirror_config"]["summary"]
    assert found["c12.antimalware.signatures_fresh"]["status"] == "fail" and set(found) == C12
    done, result = adhoc(tmp_path, "iryo_c12", args)
    assert done.returncode != 0 and "freshclam_config" in result["msg"]  # outside check mode the task fails
    assert result["failed_checks"] and by_check(result)["c12.antimalware.signatures_fresh"]["status"] == "fail"


# --- the roles' audit paths ---------------------------------------------------------------------------------

PLAY = """---
- name: C.12 and D.1 audit paths
  hosts: localhost
  connection: local
  gather_facts: false
  check_mode: true
  vars:
    c12_patches_antimalware_freshclam_conf: {conf}
    c12_patches_antimalware_database_dir: {folder}
    c12_patches_antimalware_private_mirrors: [{mirror}]
    c12_patches_antimalware_custom_urls: [{hdb}]
  tasks:
    - name: C.12
      ansible.builtin.import_role:
        name: c12_patches_antimalware
        tasks_from: check
    - name: D.1
      ansible.builtin.import_role:
        name: d1_remote_access
        tasks_from: check
"""


def playbook(tmp_path, *args):
    path = tmp_path / "play.yml"
    path.write_text(PLAY.format(conf=tmp_path / "freshclam.conf", folder=tmp_path / "clamav", mirror=MIRROR, hdb=HDB))
    return subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(path), *args],
                          cwd=REPO, env=env_for(tmp_path), capture_output=True, text=True, timeout=300)


def role_tasks(listing, role):
    return [line.strip() for line in listing.splitlines() if line.strip().startswith("%s :" % role)]


def test_each_role_check_yml_is_one_task():
    play = Path(REPO / "roles")
    for role in ("c12_patches_antimalware", "d1_remote_access"):
        tasks = yaml.safe_load((play / role / "tasks" / "check.yml").read_text())
        assert len(tasks) == 1 and "include_tasks" not in json.dumps(tasks), role


def test_the_roles_audit_paths_are_one_task_per_host(tmp_path):
    done = playbook(tmp_path, "--list-tasks")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(role_tasks(done.stdout, "c12_patches_antimalware")) == 1, done.stdout
    assert len(role_tasks(done.stdout, "d1_remote_access")) == 1, done.stdout


def test_playbooks_audit_runs_one_task_per_host_for_c12_and_d1(tmp_path):
    """playbooks/audit.yml itself (import_role tasks_from: check): no argument validation task, no builtin
    task, no include in the C.12 and D.1 audit paths, the clause call only."""
    listed = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(REPO / "inventory" / "lab"),
                             str(REPO / "playbooks" / "audit.yml"), "--list-tasks"], cwd=REPO, env=env_for(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for role in ("c12_patches_antimalware", "d1_remote_access"):
        assert len(role_tasks(listed.stdout, role)) == 1, "\n".join(role_tasks(listed.stdout, role))


def test_the_audit_path_runs_on_this_machine_and_tags_select_check_modules(tmp_path, stale):
    done = playbook(tmp_path, "--tags", "c12")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"localhost\s*: ok=1 ", done.stdout), done.stdout[-2000:]  # one task ran
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    assert {f["check"] for f in report["findings"] if f["host"] == "localhost"} == C12

    done = playbook(tmp_path, "--tags", "c12.antimalware.signatures_fresh", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    assert {f["check"] for f in report["findings"] if f["host"] == "localhost"} == {"c12.antimalware.signatures_fresh"}
