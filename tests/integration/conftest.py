"""The lab for integration tests: started once per session, removed at the end if we started it."""

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
INVENTORY = REPO / "inventory" / "lab"
HOSTS_FILE = INVENTORY / "hosts.yml"
ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
           ANSIBLE_HOME=str(REPO / ".ansible"), IRYO_REPORT_COLOR="false", ANSIBLE_NOCOLOR="1")


def run(cmd, timeout=900, check=False, env=None, cwd=REPO):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or ENV, capture_output=True, text=True,
                          timeout=timeout, check=check)


class Lab:
    hosts_file = HOSTS_FILE

    def __init__(self):
        self.inventory = yaml.safe_load(HOSTS_FILE.read_text())

    def hostvars(self, name):
        def walk(group):
            if name in (group.get("hosts") or {}):
                return group["hosts"][name] or {}
            for child in (group.get("children") or {}).values():
                found = walk(child or {})
                if found is not None:
                    return found
            return None
        return walk(self.inventory["all"])

    def exec(self, host, command, timeout=120):
        result = run(["podman", "exec", "iryo-lab-%s" % host, "sh", "-c", command], timeout=timeout)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def playbook(self, playbook, *args, report_dir, inventory=INVENTORY, timeout=900):
        env = dict(ENV, IRYO_REPORT_DIR=str(report_dir))
        return run([VENV_BIN / "ansible-playbook", "-i", inventory, REPO / playbook, *args], env=env,
                   timeout=timeout)

    @staticmethod
    def report(report_dir):
        return json.loads((Path(report_dir) / "latest" / "report.json").read_text())


LOCK_FILE = REPO / "lab" / ".state" / "lab.lock"


@pytest.fixture(scope="session")
def lab_lock():
    """One user of the lab at a time: parallel test runs (or a developer's ad hoc runs under
    `flock lab/.state/lab.lock ...`) wait here instead of re-creating each other's containers.
    IRYO_LAB_LOCK_HELD=1 says the caller already holds it (flock is not re-entrant across processes)."""
    if os.environ.get("IRYO_LAB_LOCK_HELD"):
        yield
        return
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def lab(lab_lock):
    existed = HOSTS_FILE.exists()
    result = run([sys.executable, REPO / "lab" / "lab.py", "up"], timeout=1800)
    assert result.returncode == 0, "lab up failed:\n%s\n%s" % (result.stdout[-3000:], result.stderr[-3000:])
    yield Lab()
    if not existed and not os.environ.get("IRYO_KEEP_LAB"):
        run([sys.executable, REPO / "lab" / "lab.py", "down"], timeout=600)
