"""iryo_cl, the clause module of the inspection checklist's host checks, run for real on this machine through
Ansible (AnsiballZ, the ClauseAction plugin, check mode), and the cl_checklist role's audit and harden paths.

local_accounts reads an account tree built under tmp_path (its `root` option; locking is the real
`usermod --root`), backup_freshness a backup folder dated relative to now, unneeded_services this machine's own
sockets with a stand-in systemctl printing a lab host's captured unit lists (this machine does not boot with
systemd; tests/fixtures/systemd/README.md)."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

import iryo_sockets
from iryo_guard.catalog import load_catalog
from test_local_accounts import hospital, shadow_status
from test_unneeded_services import DEFAULTS, lab_declared, systemctl_stand_in
from test_backup_freshness import artefact

REPO = Path(__file__).resolve().parents[2]
CL = {"cl.accounts.unexpected", "cl.accounts.unused", "cl.accounts.shared_uid0", "cl.accounts.removal_locked",
      "cl.services.unneeded", "cl.backups.recent"}
ROLE = "cl_checklist"


def this_machines_ports():
    """This machine's own listeners are not what these tests are about: each is declared."""
    return sorted({"%d/%s" % (s["port"], s["proto"]) for s in iryo_sockets.listening()})

pytestmark = pytest.mark.requires_tools("openssl", "usermod", "passwd", "chage")


def env_for(tmp_path, bin_dir):
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
                IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
                ANSIBLE_CALLBACK_TREE_DIR=str(tmp_path / "tree"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false",
                PATH="%s:%s" % (bin_dir, os.environ["PATH"]))


def adhoc(tmp_path, bin_dir, module, module_args, check=False):
    tree = tmp_path / "tree" / "localhost"
    if tree.exists():
        tree.unlink()
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-c", "local", "-m", module, "-a",
           json.dumps(module_args), "--diff"] + (["--check"] if check else [])
    done = subprocess.run(cmd, cwd=REPO, env=env_for(tmp_path, bin_dir), capture_output=True, text=True, timeout=300)
    return done, json.loads(tree.read_text())


@pytest.fixture
def host(tmp_path):
    """An account tree like the lab's files host, its backup folder (fresh) and the files host's unit lists."""
    accounts = hospital(tmp_path / "accounts")
    backups = tmp_path / "backups"
    artefact(backups, "files-today.tar.gz", 2)
    bin_dir = systemctl_stand_in(tmp_path, "files")
    return accounts, backups, bin_dir


def clause_args(accounts, backups, state):
    return {
        "local_accounts": {"state": state, "root": str(accounts.root), "remove": ["sato"],
                           "expected": ["root", "iryoadmin", "suzuki", "kato"]},
        "unneeded_services": {"allowed_units": lab_declared("files")["cl_checklist_allowed_units"],
                              "baseline_units": DEFAULTS["cl_checklist_baseline_units"],
                              "include_loopback": False, "allowed_ports": this_machines_ports()},
        "backup_freshness": {"paths": [str(backups)], "max_age_hours": 26},
    }


def by_check(result):
    return {f["check"]: f for f in result["findings"]}


def test_audit_answers_every_cl_check_in_one_call_as_the_modules_alone_do(tmp_path, host):
    accounts, backups, bin_dir = host
    before = accounts.checksums()
    args = clause_args(accounts, backups, "audit")
    done, result = adhoc(tmp_path, bin_dir, "iryo_cl", args, check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    found = by_check(result)
    assert set(found) == CL and len(result["findings"]) == 6
    assert {c: f["status"] for c, f in found.items()} == {
        "cl.accounts.unexpected": "fail", "cl.accounts.unused": "fail", "cl.accounts.shared_uid0": "pass",
        "cl.accounts.removal_locked": "fail", "cl.services.unneeded": "pass", "cl.backups.recent": "pass"}
    assert result["changed"] is False and set(result["checks"]) == {"local_accounts", "unneeded_services",
                                                                    "backup_freshness"}
    for finding in result["findings"]:  # enriched by the controller half, like any check module's
        assert finding["clause"] == "CL" and finding["host"] == "localhost" and finding["summary"]
    for name in ("local_accounts", "unneeded_services", "backup_freshness"):
        alone_done, alone = adhoc(tmp_path, bin_dir, name, args[name], check=True)
        assert alone_done.returncode == 0, alone_done.stdout + alone_done.stderr
        assert [(f["check"], f["status"], f["summary"]) for f in alone["findings"]] == [
            (f["check"], f["status"], f["summary"]) for f in result["findings"]
            if f["check"] in {a["check"] for a in alone["findings"]}], name
    assert accounts.checksums() == before


def test_enforce_locks_the_leaver_and_returns_the_state_after_in_the_same_call(tmp_path, host):
    accounts, backups, bin_dir = host
    args = clause_args(accounts, backups, "enforced")
    before = accounts.checksums()
    done, result = adhoc(tmp_path, bin_dir, "iryo_cl", args, check=True)
    assert done.returncode == 0 and result["changed"] is True and accounts.checksums() == before
    assert by_check(result)["cl.accounts.removal_locked"]["status"] == "fail"  # check mode: the state as it is

    done, result = adhoc(tmp_path, bin_dir, "iryo_cl", args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is True and result["checks"]["local_accounts"]["locked"] == ["sato"]
    assert by_check(result)["cl.accounts.removal_locked"]["status"] == "pass"
    assert shadow_status(accounts, "sato") == ("L", "Jan 02, 1970")
    assert "+sato: password locked, expires 1970-01-02, shell /bin/bash" in done.stdout
    for value in accounts.hashes:
        assert value not in done.stdout + json.dumps(result)

    done, result = adhoc(tmp_path, bin_dir, "iryo_cl", args)
    assert done.returncode == 0 and result["changed"] is False


def test_a_check_module_that_cannot_run_gives_error_findings_and_the_others_still_answer(tmp_path, host):
    accounts, backups, bin_dir = host
    args = clause_args(accounts, backups, "audit")
    args["unneeded_services"]["allowed_ports"] = ["https"]  # not a port
    done, result = adhoc(tmp_path, bin_dir, "iryo_cl", args, check=True)
    assert done.returncode == 0, done.stdout + done.stderr  # an audit goes on: the gate judges the error
    found = by_check(result)
    assert found["cl.services.unneeded"]["status"] == "error" and "https" in found["cl.services.unneeded"]["summary"]
    assert set(found) == CL and found["cl.backups.recent"]["status"] == "pass"
    done, result = adhoc(tmp_path, bin_dir, "iryo_cl", args)
    assert done.returncode != 0 and "unneeded_services" in result["msg"]  # outside check mode the task fails


# --- the role ---------------------------------------------------------------------------------------------------

def playbook(tmp_path, tasks_from=None, play_vars=None):
    imported = {"name": ROLE}
    if tasks_from:
        imported["tasks_from"] = tasks_from
    path = tmp_path / ("play-%s.yml" % (tasks_from or "main"))
    # the controller's own Python, as for the implicit localhost (interpreter discovery may find a pyenv shim)
    play_vars = dict(play_vars or {}, ansible_python_interpreter="{{ ansible_playbook_python }}")
    path.write_text(yaml.safe_dump([{"name": "CL", "hosts": "localhost", "connection": "local", "gather_facts": False,
                                     "vars": play_vars,
                                     "tasks": [{"name": "CL", "ansible.builtin.import_role": imported}]}]))
    return path


def play(tmp_path, bin_dir, book, *args):
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(book), *args],
                          cwd=REPO, env=dict(env_for(tmp_path, bin_dir), ANSIBLE_CALLBACKS_ENABLED="iryo_report"),
                          capture_output=True, text=True, timeout=300)
    recap = re.search(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)\s+skipped=(\d+)",
                      done.stdout, re.M)
    assert recap, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    return done, [int(n) for n in recap.groups()], by_check({"findings": [f for f in report["findings"]
                                                                          if f["host"] == "localhost"]})


def role_vars(accounts, backups):
    return {"cl_checklist_accounts_root": str(accounts.root),
            "cl_checklist_expected_accounts": ["root", "iryoadmin", "suzuki", "kato"],
            "cl_checklist_remove_accounts": ["sato"],
            "cl_checklist_allowed_units": lab_declared("files")["cl_checklist_allowed_units"],
            "cl_checklist_allowed_ports": this_machines_ports(),
            "cl_checklist_backup_paths": [str(backups)]}


def test_the_audit_path_is_one_tagged_task_and_main_only_imports_it():
    check = yaml.safe_load((REPO / "roles" / ROLE / "tasks" / "check.yml").read_text())
    assert len(check) == 1 and "iryo_cl" in check[0]
    assert not [key for key in check[0] if "include" in key]  # no include_tasks / include_role
    answered = {c["id"] for c in load_catalog().checks.values()
                if c.get("module") in ("local_accounts", "unneeded_services", "backup_freshness")}
    # its clause, its check ids and what locking an account can do (the catalog's disruption levels)
    assert answered == CL and set(check[0]["tags"]) == {"cl", "disruption_none", "disruption_config"} | CL
    assert all(c in check[0]["name"] for c in CL)
    main = yaml.safe_load((REPO / "roles" / ROLE / "tasks" / "main.yml").read_text())
    assert [list(t) for t in main] == [["name", "ansible.builtin.import_tasks"]]
    assert main[0]["ansible.builtin.import_tasks"] == "check.yml"


def test_the_role_audits_in_one_task_and_enforces_in_the_same_one(tmp_path, host):
    accounts, backups, bin_dir = host
    extra = json.dumps(role_vars(accounts, backups))
    done, (ok, changed, failed, skipped), found = play(tmp_path, bin_dir, playbook(tmp_path, "check"), "--check",
                                                       "-e", extra)
    assert (ok, changed, failed, skipped) == (1, 0, 0, 0), done.stdout[-3000:]
    assert set(found) == CL and found["cl.accounts.removal_locked"]["status"] == "fail"

    book = playbook(tmp_path, play_vars={"cl_checklist_mode": "enforce"})
    # --tags naming a check local_accounts only reports: the module audits, nothing is locked on the side
    before = accounts.checksums()
    done, (ok, changed, failed, _), found = play(tmp_path, bin_dir, book, "-e", extra, "--tags", "cl.accounts.unused")
    assert (changed, failed) == (0, 0) and accounts.checksums() == before, done.stdout[-3000:]
    assert set(found) == {"cl.accounts.unexpected", "cl.accounts.unused", "cl.accounts.shared_uid0",
                          "cl.accounts.removal_locked"}
    # --tags naming the backup check: only backup_freshness runs
    done, _, found = play(tmp_path, bin_dir, book, "-e", extra, "--tags", "cl.backups.recent")
    assert set(found) == {"cl.backups.recent"}, done.stdout[-3000:]

    done, (ok, changed, failed, _), found = play(tmp_path, bin_dir, book, "-e", extra)
    # ok counts ansible-core's argument validation of the `main` spec and the one iryo_cl task
    assert (ok, changed, failed) == (2, 1, 0), done.stdout[-3000:]
    assert found["cl.accounts.removal_locked"]["status"] == "pass" and shadow_status(accounts, "sato")[0] == "L"
    done, (ok, changed, failed, _), _ = play(tmp_path, bin_dir, book, "-e", extra)
    assert (changed, failed) == (0, 0), done.stdout[-3000:]


def test_unattended_runs_only_audit_the_accounts(tmp_path, host):
    accounts, backups, bin_dir = host
    extra = json.dumps(dict(role_vars(accounts, backups), iryo_unattended=True))
    before = accounts.checksums()
    done, (_, changed, failed, _), found = play(tmp_path, bin_dir, playbook(tmp_path, play_vars={
        "cl_checklist_mode": "enforce"}), "-e", extra)
    assert (changed, failed) == (0, 0) and accounts.checksums() == before, done.stdout[-3000:]
    assert "local_accounts only audited" in done.stdout + done.stderr  # the warning
    assert found["cl.accounts.removal_locked"]["status"] == "fail"


def test_playbooks_audit_runs_one_cl_task_per_host(tmp_path):
    listed = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(REPO / "inventory" / "lab"),
                             str(REPO / "playbooks" / "audit.yml"), "--list-tasks", "--tags", "cl"], cwd=REPO,
                            env=env_for(tmp_path, ""), capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    tasks = [line.strip() for line in listed.stdout.splitlines() if line.strip().startswith(ROLE + " :")]
    assert len(tasks) == 1 and tasks[0].startswith(ROLE + " : CL | cl.accounts.unexpected"), listed.stdout
