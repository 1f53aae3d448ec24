"""Every clause role with a molecule scenario passes it on the shared lab: create, converge,
idempotence (second run changed=0), check, verify, destroy (the lab is kept: IRYO_KEEP_LAB). Every role of a
§6.11 clause (c10_* ... d2_*) has one."""

import re

import pytest

from conftest import ENV, REPO, VENV_BIN, run

pytestmark = pytest.mark.lab

SCENARIOS = sorted(p.parents[2] for p in REPO.glob("roles/*/molecule/*/molecule.yml"))


def test_there_is_at_least_one_scenario():
    assert SCENARIOS


def test_every_clause_role_has_a_scenario():
    # Roles named after a §6.11 clause (c10_isolation for C.10, d2_key_storage for D.2, ...). cl_checklist (the
    # inspection checklist, outside §6.11) and iryo_inputs (input validation) are not clause roles of §6.11.
    clause_roles = sorted(p.name for p in (REPO / "roles").iterdir() if re.match(r"[cd]\d+_", p.name))
    assert len(clause_roles) >= 6, clause_roles
    assert [r for r in clause_roles if r not in {p.name for p in SCENARIOS}] == []


@pytest.mark.parametrize("role", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_molecule_scenario(lab, role):
    env = dict(ENV, IRYO_KEEP_LAB="1", IRYO_REPO=str(REPO), PATH="%s:%s" % (VENV_BIN, ENV["PATH"]))
    result = run([VENV_BIN / "molecule", "test"], env=env, cwd=role)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    # destroy's output comes last and would push the failure out of a plain tail: show the failed tasks first
    lines = output.splitlines()
    failed = [i for i, line in enumerate(lines) if re.search(r"fatal:|failed:|\[ERROR\]", line)]
    context = "\n".join("\n".join(lines[i:i + 15]) for i in failed[:5])
    assert result.returncode == 0, context + "\n...\n" + output[-3000:]
    for step in ("converge", "idempotence", "check", "verify"):
        assert re.search(r"%s: Executed: Successful" % step, output), step
