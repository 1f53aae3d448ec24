"""The lab for integration tests: started once per session, removed at the end if we started it."""

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


# lab_lock (the session fixture the lab fixture holds) is in tests/conftest.py, shared with the
# unit tests that build the lab images: one lock per process, so the two never wait for each other.


@pytest.fixture(scope="session")
def lab(lab_lock):
    existed = HOSTS_FILE.exists()
    result = run([sys.executable, REPO / "lab" / "lab.py", "up"], timeout=1800)
    assert result.returncode == 0, "lab up failed:\n%s\n%s" % (result.stdout[-3000:], result.stderr[-3000:])
    yield Lab()
    if not existed and not os.environ.get("IRYO_KEEP_LAB"):
        run([sys.executable, REPO / "lab" / "lab.py", "down"], timeout=600)
