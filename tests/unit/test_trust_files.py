"""Issue 16, item E: reports and history are private (folders 0700, files 0600 whatever the umask), the nightly
unit sets UMask=0077, and Ansible's SSH control sockets live under the invoking user's own folder, not in a
predictable folder in /tmp."""

import configparser
import os
import stat
import subprocess
from pathlib import Path

from iryo_guard.catalog import load_catalog
from iryo_guard.report.model import build_report, new_run
from iryo_guard.report.output import write_reports
from iryo_guard.schema import make_finding

REPO = Path(__file__).resolve().parents[2]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def report():
    finding = make_finding("c12.patches.security_pending", "fail", "high", "apt", {}, {}, "", False,
                           summary="1 security update pending; required: none", host="portal", clause="C.12",
                           title_ja="t", title_en="t")
    return build_report([finding], [{"name": "portal", "groups": [], "reachable": True}], load_catalog(),
                        new_run(["playbooks/audit.yml"], True, "2.19"))


def test_reports_and_history_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)  # ansible-playbook run by hand: the usual umask
    try:
        root = tmp_path / "reports"
        paths = write_reports(report(), root)
        # an existing, world-readable history (written by an older version) is tightened by the next run
        os.chmod(paths["history"], 0o644)
        second = write_reports(report(), root)
    finally:
        os.umask(old)
    assert mode(root) == 0o700  # created by the run
    for done in (paths, second):
        assert mode(done["json"].parent) == 0o700
        for kind in ("json", "html", "junit", "history"):
            assert mode(done[kind]) == 0o600, (kind, oct(mode(done[kind])))
    assert not list(root.glob("**/*.tmp"))


def test_an_existing_report_root_keeps_its_mode_but_runs_are_private(tmp_path):
    root = tmp_path / "inbox"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    old = os.umask(0o022)
    try:
        paths = write_reports(report(), root)
    finally:
        os.umask(old)
    assert mode(root) == 0o755 and mode(paths["json"].parent) == 0o700 and mode(paths["history"]) == 0o600


def test_nightly_unit_sets_a_private_umask():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(REPO / "ops" / "iryo-guard-nightly.service")
    assert unit["Service"].get("UMask") == "0077"


def test_ssh_control_path_is_under_the_users_own_folder(tmp_path):
    """What ansible-core 2.19 makes of ansible.cfg's control_path_dir (its ssh plugin unfracks the path, expanding
    ~, and creates it 0700): below the invoking user's home, never /tmp."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), HOME=str(tmp_path))
    env.pop("ANSIBLE_SSH_CONTROL_PATH_DIR", None)
    dump = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-config"), "dump", "-t", "connection",
                           "--only-changed"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                          check=True).stdout
    [line] = [x for x in dump.splitlines() if x.startswith("control_path_dir")]
    value = line.split("=", 1)[1].strip()
    code = "from ansible.utils.path import unfrackpath; import sys; print(unfrackpath(sys.argv[1]))"
    resolved = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-c", code, value], env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
    assert Path(resolved).is_relative_to(tmp_path), (value, resolved)
    assert not resolved.startswith("/tmp/iryo")
