"""Every module in library/ documents itself: ansible-doc parses DOCUMENTATION, EXAMPLES and RETURN,
and the documented options match the argument_spec where the module has one."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "library").glob("*.py"))


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_shows_the_module(name):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-doc"), "--json", "-M", str(REPO / "library"), name],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)[name]
    assert doc["doc"]["short_description"]
    assert doc["examples"].strip() and doc["return"] is not None
    source = (REPO / "library" / ("%s.py" % name)).read_text()
    for option in (doc["doc"].get("options") or {}):
        assert option in source, "documented option %s is not in %s's argument_spec" % (option, name)
