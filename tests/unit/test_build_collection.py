"""tools/build_collection.py: the iryo.guard artefact built from this checkout (docs/collection.md).

The artefact is built once into a temporary folder and judged by what ansible-galaxy and ansible-core make of it:
the tar's members, `ansible-galaxy collection install`, `ansible-doc -l` over the installed collection, and a module
run through AnsiballZ from the installed collection with no ansible.cfg of ours (the rewritten module_utils imports
must resolve there, where `ansible.module_utils.iryo_*` does not exist).
"""

import ast
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
sys.path.insert(0, str(REPO / "tools"))

import build_collection as bc  # noqa: E402 - tools/ is not a package

MODULES = sorted(p.name for p in (REPO / "library").glob("*.py"))
MODULE_UTILS = sorted(p.name for p in (REPO / "module_utils").glob("*.py"))
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())
PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))


def clean_env(home):
    """No ansible.cfg of ours and no Ansible home shared with other runs: only what the artefact brings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_HOME=str(home), ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(home / "none.cfg"))
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("collection")
    stage, counts = bc.stage_collection(tmp / "stage")
    artefact = bc.galaxy_build(stage, tmp / "dist", str(VENV_BIN / "ansible-galaxy"))
    with tarfile.open(artefact) as tar:
        members = {m.name: m for m in tar.getmembers()}
        texts = {name: tar.extractfile(m).read().decode("utf-8") for name, m in members.items()
                 if m.isfile() and name.endswith(".py")}
    return tmp, artefact, members, texts, counts


@pytest.fixture(scope="module")
def installed(built):
    tmp, artefact, *_ = built
    (tmp / "home").mkdir()
    env = clean_env(tmp / "home")
    done = subprocess.run([VENV_BIN / "ansible-galaxy", "collection", "install", "-p", tmp / "collections",
                           str(artefact)], env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp / "collections")
    return tmp, env


def test_artefact_holds_every_module_module_util_role_playbook_and_data(built):
    _, artefact, members, _, counts = built
    assert artefact.name == "iryo-guard-%s.tar.gz" % bc.galaxy_info()["version"]
    names = set(members)
    assert {"MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml"} <= names
    assert sorted(n.split("/")[-1] for n in names if n.startswith("plugins/modules/") and n.endswith(".py")) == MODULES
    assert sorted(n.split("/")[-1] for n in names
                  if n.startswith("plugins/module_utils/") and n.endswith(".py")) == MODULE_UTILS
    for role in ROLES:
        assert "roles/%s/tasks/main.yml" % role in names or "roles/%s/tasks/check.yml" % role in names, role
        assert "roles/%s/meta/argument_specs.yml" % role in names, role
    assert sorted(n.split("/")[-1] for n in names if n.startswith("playbooks/") and n.count("/") == 1) == PLAYBOOKS
    for data in (REPO / "data").rglob("*"):
        if data.is_file():
            assert "data/%s" % data.relative_to(REPO / "data").as_posix() in names, data
    assert "plugins/plugin_utils/iryo_guard/__init__.py" in names
    assert "plugins/callback/iryo_report.py" in names and "plugins/lookup/iryo_data.py" in names
    assert counts["modules"] == len(MODULES) and counts["module_utils"] == len(MODULE_UTILS)


def test_artefact_has_no_checkout_only_material_and_no_links(built):
    _, _, members, _, _ = built
    for name, member in members.items():
        parts = name.split("/")
        assert not (member.issym() or member.islnk()), "link in the artefact: %s -> %s" % (name, member.linkname)
        assert not {"molecule", "lab", "bench", "reports", "output", "__pycache__", ".pytest_cache"} & set(parts), name
        assert not name.endswith((".pyc", ".tar.gz")), name
        # tests/ of the collection holds the sanity ignore file only, never the checkout's test suite.
        assert parts[0] != "tests" or parts[:2] == ["tests", "sanity"] or name == "tests", name


def test_module_utils_imports_are_rewritten_to_the_collection(built):
    _, _, _, texts, counts = built
    ours = {Path(n).stem for n in MODULE_UTILS}
    rewritten = 0
    for name, text in texts.items():
        if not name.startswith(("plugins/modules/", "plugins/module_utils/")):
            continue
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not (node.module.startswith("ansible.module_utils.")
                            and node.module.split(".")[2] in ours), "%s:%d" % (name, node.lineno)
                if node.module.startswith(bc.COLLECTION_MODULE_UTILS + "."):
                    assert node.module.split(".")[5] in ours, "%s:%d" % (name, node.lineno)
                    rewritten += 1
                elif node.module == bc.COLLECTION_MODULE_UTILS:  # from ...module_utils import iryo_x
                    assert {alias.name for alias in node.names} <= ours, "%s:%d" % (name, node.lineno)
                    rewritten += 1
    assert rewritten == counts["rewritten"] > 0


@pytest.mark.parametrize("kind", ["lookup", "callback", "filter", "module"])
def test_installed_plugins_load_with_their_documentation(installed, kind):
    """What ansible-test's ansible-doc test checks (skipped there: its venv lacks tlslite-ng, which our filters
    import), here with the controller's requirements: every plugin of the kind loads and its documentation parses."""
    tmp, env = installed
    listed = subprocess.run([VENV_BIN / "ansible-doc", "-t", kind, "-l", "--json", "iryo.guard"], env=env, cwd=tmp,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0 and not listed.stderr.strip(), listed.stderr
    src = {"module": REPO / "library", "filter": None}.get(kind, REPO / "plugins" / kind)
    names = sorted(json.loads(listed.stdout))
    if src is not None:
        assert names == ["iryo.guard.%s" % p.stem for p in sorted(src.glob("*.py"))]
    else:
        assert names, "no filter listed"
    documented = [n for n in names if json.loads(listed.stdout)[n] != "UNDOCUMENTED"]
    if documented:
        shown = subprocess.run([VENV_BIN / "ansible-doc", "-t", kind, "--json", *documented], env=env, cwd=tmp,
                               capture_output=True, text=True, timeout=300)
        assert shown.returncode == 0 and not shown.stderr.strip(), shown.stderr
        assert sorted(json.loads(shown.stdout)) == documented


def test_installed_collection_finds_its_own_data(installed):
    """iryo_guard/__init__.py walks up to data/catalog: in the installed collection that is the collection's root."""
    tmp, env = installed
    done = subprocess.run([sys.executable, "-c", "from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard "
                           "import DATA_DIR, IS_CHECKOUT, MODULE_UTILS_DIR; print(DATA_DIR); print(MODULE_UTILS_DIR); "
                           "print(IS_CHECKOUT)"], env=dict(env, PYTHONPATH=str(tmp / "collections")), cwd=tmp,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    root = tmp / "collections" / "ansible_collections" / "iryo" / "guard"
    assert done.stdout.split() == [str(root / "data"), str(root / "plugins" / "module_utils"), "False"]


def test_installed_module_runs_through_ansiballz_with_rewritten_imports(installed):
    """ip_forwarding imports iryo_check_ip_forwarding, which imports iryo_findings and iryo_files: all through the
    collection's module_utils. Check mode on the controller: it only reads /proc/sys and /etc/sysctl*."""
    tmp, env = installed
    done = subprocess.run([VENV_BIN / "ansible", "localhost", "-c", "local", "-i", "localhost,", "--check",
                           "-m", "iryo.guard.ip_forwarding", "-o"], env=env, cwd=tmp, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "findings" in done.stdout and "c11.session_crossing.ip_forwarding" in done.stdout, done.stdout


def test_rewrite_keeps_ansibles_own_imports_and_refuses_what_it_cannot_express():
    ours = frozenset({"iryo_findings", "iryo_files"})
    source = ("from ansible.module_utils.basic import AnsibleModule\n"
              "from ansible.module_utils.iryo_findings import make_finding  # why\n"
              "from ansible.module_utils import iryo_files\n"
              "from ansible.module_utils.iryo_files import (\n    read_text,\n)\n")
    text, count = bc.rewrite_module_utils_imports(source, ours)
    assert count == 3
    assert text == source.replace("ansible.module_utils.iryo", bc.COLLECTION_MODULE_UTILS + ".iryo").replace(
        "from ansible.module_utils import iryo_files", "from %s import iryo_files" % bc.COLLECTION_MODULE_UTILS)
    with pytest.raises(bc.BuildError, match="mixes"):
        bc.rewrite_module_utils_imports("from ansible.module_utils import basic, iryo_files\n", ours)
    with pytest.raises(bc.BuildError, match="cannot be rewritten"):
        bc.rewrite_module_utils_imports("import ansible.module_utils.iryo_files\n", ours)
