"""av_signatures against the lab, read-only (the session's lab fixture starts the lab).

Never stops or changes the lab. It copies the portal's /var/lib/clamav out with
`podman cp` (which keeps mtimes) and runs the module on the copy on the controller, and it feeds
crafted headers to the lab's real sigtool on stdin to compare what both read.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import iryo_clamav as clamav

REPO = Path(__file__).resolve().parents[2]
CLAMAV_FIXTURES = REPO / "tests" / "fixtures" / "clamav"
ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"))
DAY = 86400
pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]


def podman(*args, stdin=None, timeout=60):
    return subprocess.run(["podman", *args], env=ENV, capture_output=True, timeout=timeout, stdin=stdin)


def running(container):
    if shutil.which("podman") is None:
        return False
    done = podman("container", "inspect", "--format", "{{.State.Running}}", container)
    return done.returncode == 0 and done.stdout.strip() == b"true"


def lab_container(*names):
    # The session's lab fixture started the lab: a container that is not running is a broken lab.
    for name in names:
        if running(name):
            return name
    pytest.fail("none of %s is running although the lab fixture started the lab" % ", ".join(names))


def test_copy_of_the_portal_database_dir_is_stale(tmp_path):
    container = lab_container("iryo-lab-portal")
    done = podman("cp", "%s:/var/lib/clamav" % container, str(tmp_path))
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "clamav"
    # What the host itself says: its clock and the seeded database's mtime (read-only exec).
    done = podman("exec", container, "sh", "-c", "date +%s; stat -c %Y /var/lib/clamav/hospital-local.hdb")
    assert done.returncode == 0, done.stderr
    host_now, host_mtime = (int(v) for v in done.stdout.split())
    # podman cp keeps the mtime to the second (its tar rounds a fractional second, `stat -c %Y` truncates)
    assert abs((copy / "hospital-local.hdb").stat().st_mtime - host_mtime) <= 1

    tree = tmp_path / "tree"
    env = dict(ENV, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "av_signatures", "-a",
                           "database_dir=%s max_age_hours=72" % copy, "--check"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tree / "localhost").read_text())
    assert result["compliant"] is False and result["engine"] == "clamav"
    (finding,) = result["findings"]
    assert finding["status"] == "fail" and finding["evidence"]["decided_by"] == "hospital-local.hdb"
    (entry,) = result["databases"]
    assert (entry["kind"], entry["source"], entry["signatures"]) == ("custom", "mtime", 1)
    # Seeded 40 days back at `lab.py up`; older by however long the lab has been up since.
    assert result["newest_age_hours"] >= 39.9 * 24
    assert result["newest_age_hours"] == pytest.approx((host_now - host_mtime) / 3600.0, abs=0.5)


VALID = ["daily-valid.cld", "daily-valid.cvd", "main-valid.cvd", "bytecode-valid.cvd", "daily-no-stime.cvd",
         "daily-stale.cld", "daily-future.cld"]


@pytest.mark.parametrize("fixture", VALID)
def test_lab_sigtool_reads_the_crafted_headers_as_we_do(fixture):
    container = lab_container("iryo-lab-files", "iryo-lab-portal", "iryo-lab-ehr")
    path = CLAMAV_FIXTURES / fixture
    with open(path, "rb") as stdin:
        done = podman("exec", "-i", container, "sigtool", "--info=/dev/stdin", stdin=stdin)
    # sigtool prints the header, then fails to re-read stdin for verification (and the dsig is fake).
    info = dict(line.split(": ", 1) for line in done.stdout.decode().splitlines() if ": " in line)
    header = clamav.parse_header(path.read_bytes()[:512])
    assert int(info["Version"]) == header["version"]
    assert int(info["Signatures"]) == header["signatures"]
    assert int(info["Functionality level"]) == header["functionality_level"]
    assert info["Builder"] == header["builder"]
    # sigtool turns the first '-' of the build-time field back into ':'.
    assert info["Build time"] == header["build_time_field"].replace("-", ":", 1)
