"""Issue 13, one host round per clause, for C.10, C.13 and D.2: each role's audit path (tasks/check.yml, what
playbooks/audit.yml imports with tasks_from: check) is exactly one task, with no include anywhere in the role;
the harden path (main.yml) adds only enforce-only builtins before it. Counted the way Ansible counts them
(`ansible-playbook --list-tasks`), and for C.13 run for real on localhost: the audit is one task per host, and in
enforce mode the same one task fixes a key file and reports the file after the change."""

import json
import os
import re
import subprocess

import pytest
import yaml

from iryo_guard.catalog import load_catalog
from library_loader import REPO

ROLES = {
    # role: (the one module of its audit path, tasks main.yml may add before it in enforce mode)
    "c10_isolation": ("iryo_c10", ["C.10 | PATCH | c10.firewall.default_drop | The host has exactly one host class"]),
    "c13_key_protection": ("key_protection", []),
    "d2_key_storage": ("key_storage_fips", []),
}
INCLUDES = ("include_tasks", "ansible.builtin.include_tasks", "include_role", "ansible.builtin.include_role",
            "include", "ansible.builtin.include")


def playbook(tmp_path, role, tasks_from=None):
    path = tmp_path / ("%s-%s.yml" % (role, tasks_from or "main"))
    imported = {"name": role}
    if tasks_from:
        imported["tasks_from"] = tasks_from
    path.write_text(yaml.safe_dump([{"name": "clause", "hosts": "localhost", "gather_facts": False,
                                     "tasks": [{"name": role, "ansible.builtin.import_role": imported}]}]))
    return path


def env(tmp_path):
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
                IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")


def listed_tasks(tmp_path, book):
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "--list-tasks", str(book)],
                          cwd=REPO, env=env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.split("tasks:", 1)[1].splitlines()
    return [line.strip() for line in lines if line.strip()]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_the_audit_path_is_one_task(tmp_path, role):
    module, _ = ROLES[role]
    (task,) = listed_tasks(tmp_path, playbook(tmp_path, role, "check"))
    check = yaml.safe_load((REPO / "roles" / role / "tasks" / "check.yml").read_text())
    assert len(check) == 1 and module in check[0], check
    # tagged with its clause and every check id its modules answer for, so --tags selects it by either
    modules = {"iryo_c10": ("host_isolation", "nft_firewall", "access_logging")}.get(module, (module,))
    answered = {c["id"] for c in load_catalog().checks.values() if c.get("module") in modules}
    assert answered, "the catalog names no check of %s" % module
    assert answered <= set(check[0]["tags"]), answered - set(check[0]["tags"])
    assert task.split(" : ", 1)[0] == role
    assert {"c10_isolation": "c10", "c13_key_protection": "c13", "d2_key_storage": "d2"}[role] in check[0]["tags"]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_the_harden_path_is_the_audit_task_after_enforce_only_builtins(tmp_path, role):
    _, before = ROLES[role]
    tasks = [t for t in listed_tasks(tmp_path, playbook(tmp_path, role))
             if "Validating arguments against arg spec" not in t]  # ansible-core's own, for the `main` spec
    audit = listed_tasks(tmp_path, playbook(tmp_path, role, "check"))
    assert tasks[-1] == audit[0] and len(tasks) == len(before) + 1, tasks
    for task, prefix in zip(tasks, before):
        assert task.split(" : ", 1)[1].startswith(prefix), (task, prefix)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_include_in_the_role(role):
    for path in (REPO / "roles" / role / "tasks").glob("*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            assert not set(task) & set(INCLUDES), (path.name, task)


def run_role(tmp_path, book, extra, check):
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), str(book), "-e", json.dumps(extra)]
                          + (["--check"] if check else []), cwd=REPO, env=dict(
                              env(tmp_path), ANSIBLE_CALLBACKS_ENABLED="iryo_report"),
                          capture_output=True, text=True, timeout=300)
    recap = re.search(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)\s+skipped=(\d+)",
                      done.stdout, re.M)
    assert recap, done.stdout[-3000:] + done.stderr[-3000:]
    return done, [int(n) for n in recap.groups()]


def latest_report(tmp_path):
    return json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())


def test_c13_audit_is_one_task_and_enforce_reports_the_file_after_the_change(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    key = keys / "server.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o644)
    # Only the test's folder: never the controller's own keys (web server configurations, tokens left out).
    extra = {"c13_key_protection_search_dirs": [str(keys)], "c13_key_protection_web_servers": False,
             "c13_key_protection_pkcs11": False}

    done, (ok, changed, failed, skipped) = run_role(tmp_path, playbook(tmp_path, "c13_key_protection", "check"),
                                                    extra, check=True)
    assert (ok, changed, failed, skipped) == (1, 0, 0, 0), done.stdout[-3000:]
    (finding,) = [f for f in latest_report(tmp_path)["findings"] if f["check"] == "c13.keys.permissions"]
    assert finding["status"] == "fail" and oct(key.stat().st_mode & 0o777) == "0o644"

    book = playbook(tmp_path, "c13_key_protection")
    done, (ok, changed, failed, skipped) = run_role(tmp_path, book, dict(extra, c13_key_protection_mode="enforce"),
                                                    check=False)
    # ok counts ansible-core's argument validation of the `main` spec and the one key_protection task
    assert (ok, changed, failed, skipped) == (2, 1, 0, 0), done.stdout[-3000:]
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    (finding,) = [f for f in latest_report(tmp_path)["findings"] if f["check"] == "c13.keys.permissions"]
    assert finding["status"] == "pass" and finding["evidence"]["mode"] == "0600", finding  # the state after

    done, (ok, changed, failed, skipped) = run_role(tmp_path, book, dict(extra, c13_key_protection_mode="enforce"),
                                                    check=False)
    assert (changed, failed) == (0, 0), done.stdout[-3000:]
