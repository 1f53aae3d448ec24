"""The execution environment (execution-environment.yml): its pins are requirements.lock's, its Python packages
cover what the controller code imports and agree with each other, and `ansible-builder create` (the pinned
ansible-builder of requirements.lock) writes a build context with exactly those packages. The image build itself
needs the base image from a registry this machine cannot reach: docs/operations.md gives the command."""

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import ee_requirements  # noqa: E402 - tools/ is not a package

EE_FILE = REPO / "execution-environment.yml"
BUILDER = REPO / ".venv" / "bin" / "ansible-builder"
# Controller-side code: what runs in the execution environment (modules and module_utils run on the hosts).
CONTROLLER_CODE = ("plugins", "iryo_guard")


@pytest.fixture(scope="module")
def ee():
    return yaml.safe_load(EE_FILE.read_text())


@pytest.fixture(scope="module")
def lock():
    return ee_requirements.lock_pins()


def pins_of(path):
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_generated_requirements_are_up_to_date():
    done = subprocess.run([sys.executable, REPO / "tools" / "ee_requirements.py", "--check"], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_python_pin_is_the_locks(ee, lock):
    python = pins_of(REPO / ee["dependencies"]["python"])
    assert python
    for line in python:
        assert lock.get(canonicalize_name(line.split("==")[0])) == line, line
    for key in ("ansible_core", "ansible_runner"):
        pin = ee["dependencies"][key]["package_pip"]
        assert lock[canonicalize_name(pin.split("==")[0])] == pin, (key, pin)


def test_ansible_builder_is_pinned_in_requirements_and_lock(lock):
    wanted = [line for line in pins_of(REPO / "requirements.txt") if line.startswith("ansible-builder==")]
    assert wanted and lock["ansible-builder"] == wanted[0]
    assert metadata.version("ansible-builder") == wanted[0].split("==")[1], "run ./iryo setup"


def third_party_imports():
    """{top-level module: [files]} of the controller code's imports that are neither stdlib nor ours."""
    found = {}
    for base in CONTROLLER_CODE:
        for path in sorted((REPO / base).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    if name.startswith("ansible_collections.iryo.guard."):  # ours, seen as the collection
                        continue
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("iryo_guard", "__future__"):
                        found.setdefault(top, []).append(str(path.relative_to(REPO)))
    return found


def test_every_controller_import_is_in_the_environment(ee):
    imports = third_party_imports()
    # the scan itself works: the TLS probe's and the catalog's imports are there
    assert {"ansible", "tlslite", "cryptography", "yaml"} <= set(imports), sorted(imports)
    provided = {canonicalize_name(line.split("==")[0]) for line in pins_of(REPO / ee["dependencies"]["python"])}
    provided |= {canonicalize_name(ee["dependencies"][k]["package_pip"].split("==")[0])
                 for k in ("ansible_core", "ansible_runner")}
    owners = metadata.packages_distributions()
    missing = {module: files for module, files in imports.items()
               if not {canonicalize_name(d) for d in owners.get(module, [])} & provided}
    assert missing == {}, "imported by the controller code but not in the execution environment: %s" % missing


def test_the_pins_satisfy_each_other(ee):
    """What pip will find in the builder stage: every requirement of every package (markers evaluated for the EE's
    Python on Linux) is in the set, at a version its specifier allows. The build cannot resolve to other versions."""
    lines = pins_of(REPO / ee["dependencies"]["python"]) + [ee["dependencies"][k]["package_pip"]
                                                             for k in ("ansible_core", "ansible_runner")]
    versions = {canonicalize_name(line.split("==")[0]): Version(line.split("==")[1]) for line in lines}
    python = ee["dependencies"]["python_interpreter"]["python_path"].rsplit("python", 1)[1]
    assert python == ee_requirements.EE_PYTHON
    environment = dict(default_environment(), python_version=python, python_full_version=python + ".0",
                       sys_platform="linux", platform_system="Linux", os_name="posix", extra="")
    problems = []
    for name in versions:
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            have = versions.get(canonicalize_name(requirement.name))
            if have is None or (requirement.specifier and have not in requirement.specifier):
                problems.append("%s needs %s, the environment has %s" % (name, requirement, have))
    assert problems == []


def test_the_roots_are_the_only_hand_kept_list():
    # ROOTS names packages, never versions; every version in ee/requirements.txt is the lock's (test above), and
    # the file holds the roots' whole dependency closure (the generator's own graph walk, re-checked above).
    assert all("=" not in name for name in ee_requirements.ROOTS)
    assert ee_requirements.INSTALLED_BY_BUILDER <= set(ee_requirements.ROOTS)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    out = tmp_path_factory.mktemp("ee") / "context"
    assert BUILDER.exists(), "ansible-builder is not in .venv: run ./iryo setup"
    done = subprocess.run([BUILDER, "create", "-f", EE_FILE, "-c", out, "-v", "2"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def containerfile_args(text):
    return {line.split()[1].split("=", 1)[0]: line.split("=", 1)[1].strip('"')
            for line in text.splitlines() if line.startswith("ARG ") and "=" in line}


def test_builder_writes_the_context_with_our_base_python_and_pins(ee, lock, context):
    text = (context / "Containerfile").read_text()
    args = containerfile_args(text)
    assert args["EE_BASE_IMAGE"] == ee["images"]["base_image"]["name"]
    assert args["PYCMD"] == ee["dependencies"]["python_interpreter"]["python_path"]
    assert args["PYPKG"] == ee["dependencies"]["python_interpreter"]["package_system"]
    assert args["PKGMGR"] == ee["options"]["package_manager_path"]
    assert args["ANSIBLE_INSTALL_REFS"].split() == [lock["ansible-core"], lock["ansible-runner"]]
    # base, builder (wheels and bindep), final; no galaxy stage: the EE installs no collection
    stages = [line.split()[-1] for line in text.splitlines() if line.startswith("FROM ")]
    assert stages == ["base", "builder", "final"], stages
    assert "LABEL ansible-execution-environment=true" in text
    assert (context / "_build" / "requirements.txt").read_text() == (REPO / ee["dependencies"]["python"]).read_text()
    assert (context / "_build" / "bindep.txt").read_text() == (REPO / ee["dependencies"]["system"]).read_text()
    for script in ("assemble", "install-from-bindep", "introspect.py", "check_ansible", "entrypoint"):
        assert (context / "_build" / "scripts" / script).is_file(), script


def test_builder_introspection_keeps_every_pin_and_system_package(ee, context, tmp_path):
    """The builder stage runs the context's introspect.py on our files: run it here as the build would, and check
    that it passes every pin through unchanged and finds the system packages for an RPM platform."""
    pip_out, bindep_out = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    done = subprocess.run([sys.executable, context / "_build" / "scripts" / "introspect.py", "introspect",
                           "--user-pip", context / "_build" / "requirements.txt",
                           "--user-bindep", context / "_build" / "bindep.txt",
                           "--write-pip", pip_out, "--write-bindep", bindep_out], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    introspected = [line.split("#")[0].strip() for line in pip_out.read_text().splitlines() if line.strip()]
    assert introspected == pins_of(REPO / ee["dependencies"]["python"])

    from bindep.depends import Depends  # installed with ansible-builder

    rules = Depends(bindep_out.read_text())
    rpm = ["platform:rpm", "platform:centos", "platform:redhat"]
    runtime = [rule[0] for rule in rules.active_rules(rpm + ["default"])]
    build_only = [rule[0] for rule in rules.active_rules(rpm + ["compile"]) if rule[0] not in runtime]
    assert {"openssl", "openssh-clients", "tzdata"} <= set(runtime), runtime
    assert "gcc" in build_only and "gcc" not in runtime
    assert [rule[0] for rule in rules.active_rules(["platform:dpkg", "default"])] == []
