"""Faults on the lab: a host that dies mid-run, and a run interrupted while it changes hosts.

- A lab container killed while the audit runs: the other hosts finish, the dead one is `error`
  in the report (never a pass, never missing), and the run's exit code says so.
- SIGTERM to the whole ansible-playbook process group (what systemd sends when the nightly unit
  is stopped or times out) while harden rewrites TLS server configurations: every configuration
  still validates (each change is an atomic rename), no temporary file is left, and a re-run
  completes and the audit passes the clause.
Both restore the lab afterwards (lab.py up restarts a killed container; reset re-seeds hosts).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ENV, INVENTORY, REPO, VENV_BIN

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]


def start_playbook(playbook, report_dir, *args):
    env = dict(ENV, IRYO_REPORT_DIR=str(report_dir), PYTHONUNBUFFERED="1")
    return subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), str(REPO / playbook), *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def read_until(proc, marker, seen, timeout=600):
    """Read the run's output until a line contains marker; returns False if the run ended first."""
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return True
        if time.monotonic() > deadline:
            break
    return False


def lab_py(*args):
    result = subprocess.run([sys.executable, str(REPO / "lab" / "lab.py"), *args], cwd=REPO, env=ENV,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def podman(*args, check=True):
    result = subprocess.run(["podman", *args], env=ENV, capture_output=True, text=True, timeout=300)
    assert not check or result.returncode == 0, result.stderr
    return result


@pytest.fixture
def files_restored():
    yield
    lab_py("up")  # starts the killed container again
    lab_py("reset", "files")


def test_host_dying_mid_audit_is_error_and_the_others_finish(tmp_path, files_restored):
    proc = start_playbook("playbooks/audit.yml", tmp_path)
    seen = []
    # Kill `files` once the run is past the first clause: some of its checks answered, the rest cannot.
    assert read_until(proc, "TASK [c12_patches_antimalware", seen), "".join(seen)[-3000:]
    podman("kill", "iryo-lab-files")
    output = "".join(seen) + proc.stdout.read()
    rc = proc.wait(timeout=900)
    assert rc in (2, 4), output[-4000:]  # the gate (2) or ansible's "host unreachable" (4); never 0
    report = json.loads((tmp_path / "latest" / "report.json").read_text())
    files = [f for f in report["findings"] if f["host"] == "files"]
    assert any(f["status"] == "error" and "unreachable" in json.dumps(f["evidence"]) for f in files), files
    assert report["matrix"]["files"].get("C.12") == "error"
    assert next(h for h in report["hosts"] if h["name"] == "files")["reachable"] is False
    # Every check that ran on the others was answered: they finished the whole audit.
    for host in ("portal", "ehr", "gateway"):
        checks = {f["check"] for f in report["findings"] if f["host"] == host}
        assert {"c12.patches.security_pending", "c12.antimalware.signatures_fresh",
                "c11.tls.client_defaults"} <= checks, (host, checks)
        assert not any(f["status"] == "error" and "unreachable" in json.dumps(f["evidence"])
                       for f in report["findings"] if f["host"] == host)


@pytest.fixture
def web_hosts_restored():
    yield
    lab_py("reset", "portal", "ehr")


def config_state(host, container):
    test = {"portal": ["nginx", "-t"], "ehr": ["apache2ctl", "-t"]}[host]
    valid = podman("exec", container, *test, check=False)
    leftovers = podman("exec", container, "find", "/etc", "-name", ".iryo-*", check=False).stdout.split()
    return valid.returncode, valid.stderr, leftovers


def test_run_interrupted_while_changing_hosts_leaves_valid_configs_and_a_rerun_completes(tmp_path, web_hosts_restored):
    args = ["--limit", "portal,ehr", "--tags", "c11", "-e", "iryo_harden_serial=100%"]
    proc = start_playbook("playbooks/harden.yml", tmp_path / "first", *args)
    seen = []
    assert read_until(proc, "c11.tls.server_config | nginx and Apache TLS settings (enforced)", seen), \
        "".join(seen)[-3000:]
    time.sleep(1.0)  # inside the task: modules are on their way or running on the hosts
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode != 0
    time.sleep(3)  # a module that was mid-write on a host finishes or dies with its session
    for host in ("portal", "ehr"):
        rc, err, leftovers = config_state(host, "iryo-lab-%s" % host)
        assert rc == 0, (host, err)
        assert leftovers == [], (host, leftovers)
    rerun = start_playbook("playbooks/harden.yml", tmp_path / "second", *args)
    output = rerun.stdout.read()
    assert rerun.wait(timeout=900) == 0, output[-5000:]
    report = json.loads((tmp_path / "second" / "latest" / "report.json").read_text())
    status = {(f["host"], f["check"]): f["status"] for f in report["findings"]}
    assert status[("portal", "c11.tls.server_config")] == "pass"
    assert status[("ehr", "c11.tls.server_config")] == "pass"
    for host in ("portal", "ehr"):
        rc, err, leftovers = config_state(host, "iryo-lab-%s" % host)
        assert rc == 0 and leftovers == [], (host, err, leftovers)
