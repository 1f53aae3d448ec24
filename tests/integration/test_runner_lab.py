"""The checkout runs unchanged under ansible-runner (and so AWX / Automation Controller, which
drive ansible-runner the same way): project dir = the checkout, ansible.cfg found there, the
report written by the iryo_report callback even though ansible-runner installs its own
callbacks (ANSIBLE_CALLBACK_PLUGINS). docs/operations.md describes the layout."""

import json
import os
import subprocess

import pytest
from conftest import INVENTORY, REPO, VENV_BIN

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]


def test_audit_through_ansible_runner_cli(tmp_path):
    private = tmp_path / "runner"
    (private / "env").mkdir(parents=True)
    reports = tmp_path / "reports"
    # What an AWX job template or a runner private_data_dir carries: environment only, no copy of the project.
    (private / "env" / "envvars").write_text(json.dumps({"IRYO_REPORT_DIR": str(reports),
                                                         "IRYO_REPORT_COLOR": "false"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}  # nothing from the caller
    env["PATH"] = "%s:%s" % (VENV_BIN, env.get("PATH", ""))
    env["CONTAINERS_CONF"] = str(REPO / "lab" / "containers.conf")
    result = subprocess.run([str(VENV_BIN / "ansible-runner"), "run", str(private), "-p", "playbooks/audit.yml",
                             "--project-dir", str(REPO), "--inventory", str(INVENTORY), "--ident", "audit-1"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    artifacts = private / "artifacts" / "audit-1"
    rc = int((artifacts / "rc").read_text())
    assert rc in (0, 2), result.stdout[-4000:] + result.stderr[-2000:]  # 2: the lab's seeded findings
    assert (artifacts / "status").read_text().strip() in ("successful", "failed")
    stdout = (artifacts / "stdout").read_text()
    assert "report html" in stdout, stdout[-4000:]
    report = json.loads((reports / "latest" / "report.json").read_text())
    assert report["run"]["playbooks"] == ["playbooks/audit.yml"] and report["run"]["check_mode"] is True
    hosts = {h["name"] for h in report["hosts"]} - {"_organisation"}
    lab_hosts = set(json.loads(subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
                                              capture_output=True, text=True, check=True, cwd=REPO,
                                              env=env).stdout)["_meta"]["hostvars"])
    assert hosts == lab_hosts
    assert {f["host"] for f in report["findings"]} >= lab_hosts
    # the history keeps the run too, and ansible-runner's own event stream saw the same tasks
    history = [json.loads(line) for line in (reports / "history.jsonl").read_text().splitlines()]
    assert history[-1]["run_id"] == report["run"]["id"]
    events = [json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")]
    assert any(e.get("event") == "runner_on_ok" and "AUDIT" in (e.get("event_data", {}).get("task") or "")
               for e in events)
    # rc 2 must come from the gate alone (the lab's seeded findings), never from a check task that failed.
    failed_tasks = {e["event_data"].get("task") or "" for e in events if e.get("event") == "runner_on_failed"}
    assert all(task.startswith("GATE |") for task in failed_tasks), failed_tasks
    assert (rc == 2) == bool(failed_tasks), (rc, failed_tasks)
