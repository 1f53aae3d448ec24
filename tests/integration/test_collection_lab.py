"""The built iryo.guard collection, installed with ansible-galaxy, audits the lab by fully qualified names from a
folder outside the checkout, with none of the checkout's configuration, and reaches the checkout's verdicts.

The judge is the checkout's own audit of the same hosts in the same minute (tests/integration/test_audit_lab.py
judges that one against the lab's seeded state): same hosts, check ids, targets and statuses. Summaries are not
compared, since they carry ages measured at run time.
"""

import os
import subprocess
import sys

import pytest

from conftest import INVENTORY, REPO, VENV_BIN

sys.path.insert(0, str(REPO / "tools"))

import build_collection as bc  # noqa: E402 - tools/ is not a package

pytestmark = pytest.mark.lab

# Two hosts of different classes (patient-facing portal, internal EHR) keep the test near a minute.
HOSTS = "portal,ehr"


def verdicts(report):
    return sorted((f["host"], f["check"], f["target"], f["status"]) for f in report["findings"])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The artefact built from this checkout and installed into a scratch collections path."""
    tmp = tmp_path_factory.mktemp("collection-lab")
    assert REPO not in tmp.resolve().parents
    stage, _ = bc.stage_collection(tmp / "stage")
    artefact = bc.galaxy_build(stage, tmp / "dist", str(VENV_BIN / "ansible-galaxy"))
    work = tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "IRYO_"))}
    # No ansible.cfg of ours: a path that does not exist stops Ansible from reading any other one it might find.
    env.update(ANSIBLE_CONFIG=str(work / "no-ansible.cfg"), ANSIBLE_HOME=str(work / ".ansible"),
               ANSIBLE_COLLECTIONS_PATH=str(work / "collections"),
               ANSIBLE_CALLBACKS_ENABLED="iryo.guard.iryo_report", ANSIBLE_NOCOLOR="1",
               IRYO_REPORT_COLOR="false", IRYO_REPORT_DIR=str(work / "reports"))
    done = subprocess.run([VENV_BIN / "ansible-galaxy", "collection", "install", "-p", work / "collections",
                           artefact], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return work, env


@pytest.fixture(scope="module")
def audits(lab, scratch, tmp_path_factory):
    work, env = scratch
    fqcn = subprocess.run([VENV_BIN / "ansible-playbook", "-v", "-i", INVENTORY, "iryo.guard.audit", "--limit", HOSTS],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    checkout_reports = tmp_path_factory.mktemp("checkout-reports")
    checkout = lab.playbook("playbooks/audit.yml", "--limit", HOSTS, report_dir=checkout_reports)
    return fqcn, lab.report(work / "reports"), checkout, lab.report(checkout_reports)


def test_fqcn_audit_runs_from_the_installed_collection(audits, scratch):
    fqcn, report, *_ = audits
    work, _ = scratch
    # Exit 2 is the gate's verdict on the seeded findings; anything else is a failed run.
    assert fqcn.returncode == 2, fqcn.stdout[-4000:] + fqcn.stderr[-4000:]
    assert "running playbook inside collection iryo.guard" in fqcn.stdout
    assert str(work / "collections" / "ansible_collections" / "iryo" / "guard" / "playbooks" / "audit.yml") \
        in fqcn.stdout
    assert str(REPO / "playbooks") not in fqcn.stdout + fqcn.stderr
    assert "[DEPRECATION WARNING]" not in fqcn.stdout + fqcn.stderr
    assert sorted(h["name"] for h in report["hosts"] if not h["name"].startswith("_")) == sorted(HOSTS.split(","))


def test_fqcn_audit_equals_the_checkout_audit(audits):
    _, report, checkout, checkout_report = audits
    assert checkout.returncode == 2, checkout.stdout[-4000:] + checkout.stderr[-4000:]
    assert verdicts(report) == verdicts(checkout_report)
    # Every clause the checkout audited on these hosts was audited from the collection too, with failures in it.
    assert {f["status"] for f in report["findings"]} >= {"fail", "pass"}
