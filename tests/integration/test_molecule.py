"""Every clause role with a molecule scenario passes it on the shared lab: create, converge,
idempotence (second run changed=0), check, verify, destroy (the lab is kept: IRYO_KEEP_LAB)."""

import re

import pytest

from conftest import ENV, REPO, VENV_BIN, run

pytestmark = pytest.mark.lab

SCENARIOS = sorted(p.parents[2] for p in REPO.glob("roles/*/molecule/*/molecule.yml"))


def test_there_is_at_least_one_scenario():
    assert SCENARIOS


@pytest.mark.parametrize("role", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_molecule_scenario(lab, role):
    env = dict(ENV, IRYO_KEEP_LAB="1", IRYO_REPO=str(REPO), PATH="%s:%s" % (VENV_BIN, ENV["PATH"]))
    result = run([VENV_BIN / "molecule", "test"], env=env, cwd=role)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert result.returncode == 0, output[-5000:]
    for step in ("converge", "idempotence", "check", "verify"):
        assert re.search(r"%s: Executed: Successful" % step, output), step
