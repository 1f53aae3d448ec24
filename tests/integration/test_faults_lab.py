"""Faults on the lab: a host that dies mid-run, and a run interrupted while it changes hosts.

- A lab container killed while the audit runs: the other hosts finish, the dead one is `error`
  in the report (never a pass, never missing), and the run's exit code says so.
- SIGTERM to the whole ansible-playbook process group (what systemd sends when the nightly unit
  is stopped or times out) while harden rewrites TLS server configurations: every configuration
  still validates (each change is an atomic rename), no temporary file is left, and a re-run
  completes and the audit passes the clause. The signal is sent when both hosts are known to be
  mid-change: a wrapper ahead of nginx / apache2ctl on PATH holds tls_config's validation of the
  files it has just written (after its backup, before the reload) and leaves a marker the test waits for.
Both restore the lab afterwards (lab.py up restarts a killed container; reset re-seeds hosts).
"""

import json
import os
import signal
import subprocess
import sys
import threading
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


FAULT_DIR = "/run/iryo-fault"
# Ahead of the real validator on sudo's PATH (/usr/local/sbin first). The first `-t` of a tls_config
# run comes before its backup; once a backup newer than the armed mark exists, the module has backed
# up and is writing or has written the files, and this `-t` is its validation of them: say so, hold
# long enough for the test to see it and signal, then validate for real.
VALIDATOR_WRAPPER = """#!/bin/sh
case " $* " in
  *" -t "*)
    if [ -e {fault}/armed ] && [ -n "$(find /var/backups/iryo-guard/tls_config -mindepth 1 -maxdepth 1 \\
         -newer {fault}/armed 2>/dev/null)" ]; then
      touch {fault}/writing
      sleep 20
    fi ;;
esac
exec {real} "$@"
"""
VALIDATORS = {"portal": ("nginx", "/usr/sbin/nginx"), "ehr": ("apache2ctl", "/usr/sbin/apache2ctl")}


def hold_validation(host, container, tmp_path):
    name, real = VALIDATORS[host]
    wrapper = tmp_path / ("%s-%s" % (host, name))
    wrapper.write_text(VALIDATOR_WRAPPER.format(fault=FAULT_DIR, real=real))
    podman("cp", str(wrapper), "%s:/usr/local/sbin/%s" % (container, name))
    podman("exec", container, "sh", "-c", "chmod 755 /usr/local/sbin/%s && mkdir -p %s && touch %s/armed"
           % (name, FAULT_DIR, FAULT_DIR))


def release_validation(host, container):
    podman("exec", container, "rm", "-rf", "/usr/local/sbin/%s" % VALIDATORS[host][0], FAULT_DIR)


def host_has(container, path):
    return podman("exec", container, "test", "-e", path, check=False).returncode == 0


def module_running(container):
    # Ansible's become command line carries BECOME-SUCCESS while a module runs under sudo.
    return podman("exec", container, "pgrep", "-f", "BECOME-SUCCESS", check=False).returncode == 0


def config_state(host, container):
    test = {"portal": ["nginx", "-t"], "ehr": ["apache2ctl", "-t"]}[host]
    valid = podman("exec", container, *test, check=False)
    leftovers = podman("exec", container, "find", "/etc", "-name", ".iryo-*", check=False).stdout.split()
    return valid.returncode, valid.stderr, leftovers


def test_run_interrupted_while_changing_hosts_leaves_valid_configs_and_a_rerun_completes(tmp_path, web_hosts_restored):
    args = ["--limit", "portal,ehr", "--tags", "c11", "-e", "iryo_harden_serial=100%"]
    containers = {host: "iryo-lab-%s" % host for host in ("portal", "ehr")}
    for host, container in containers.items():
        hold_validation(host, container, tmp_path)
    proc = start_playbook("playbooks/harden.yml", tmp_path / "first", *args)
    seen = []
    # Drain the run's output meanwhile (a full pipe would stall it); the hosts' markers say when to signal.
    reader = threading.Thread(target=lambda: [seen.append(line) for line in proc.stdout], daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while not all(host_has(c, FAULT_DIR + "/writing") for c in containers.values()):
        assert proc.poll() is None and time.monotonic() < deadline, \
            "harden never reached the validation of its written files on both hosts:\n" + "".join(seen)[-3000:]
        time.sleep(0.2)
    # Both hosts are mid-change now: backed up, files written, validation held, no reload yet.
    assert all(module_running(c) for c in containers.values())
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(timeout=30)
    assert proc.returncode != 0
    # A module whose controller went away either dies with its session or finishes its change
    # (validate, reload or restore); either way, wait until nothing of it runs any more.
    deadline = time.monotonic() + 120
    while any(module_running(c) for c in containers.values()):
        assert time.monotonic() < deadline, "a module still runs on a host 120 s after the signal"
        time.sleep(0.5)
    for host, container in containers.items():
        release_validation(host, container)
    for host in ("portal", "ehr"):
        rc, err, leftovers = config_state(host, "iryo-lab-%s" % host)
        assert rc == 0, (host, err)
        assert leftovers == [], (host, leftovers)
    rerun = start_playbook("playbooks/harden.yml", tmp_path / "second", *args)
    output = rerun.stdout.read()
    assert rerun.wait(timeout=900) == 0, output[-5000:]
    report = json.loads((tmp_path / "second" / "latest" / "report.json").read_text())
    # portal is patient-facing (its TLS reports under C.10), ehr a C.11 endpoint: the same enforcement.
    server_config = {(f["host"], f["check"], f["status"]) for f in report["findings"]
                     if f["check"].endswith(".tls.server_config")}
    assert server_config == {("portal", "c10.tls.server_config", "pass"), ("ehr", "c11.tls.server_config", "pass")}
    for host in ("portal", "ehr"):
        rc, err, leftovers = config_state(host, "iryo-lab-%s" % host)
        assert rc == 0 and leftovers == [], (host, err, leftovers)
