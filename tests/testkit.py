"""What several test folders share: the tools `./iryo setup` installs, the lab lock, this checkout's lab images.

A test that needs a tool `./iryo setup` installs fails (never skips) when the tool is missing, with a
message that says so: CI runs on a machine that `./iryo setup` prepared, so a missing tool is a
broken setup, not a missing capability. Skips are only for capabilities the machine truly lacks
(tests/README.md, "Skips").
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAB_PY = REPO / "lab" / "lab.py"
LAB_LOCK_FILE = REPO / "lab" / ".state" / "lab.lock"
PODMAN_ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"))
CODENAMES = ("bookworm", "trixie")

# The skip convention: a skip (or xfail) reason must start with this, then name what the machine lacks.
MISSING_CAPABILITY = "missing capability:"

# Tools the tests run, and the Debian package of DEBIAN_PACKAGES in ./iryo that brings each.
SETUP_TOOLS = {
    "nginx": "nginx",
    "apache2": "apache2",
    "apache2ctl": "apache2",
    "openssl": "openssl",
    "testssl": "testssl.sh",
    "softhsm2-util": "softhsm2",
    "pkcs11-tool": "opensc",
    "chromium": "chromium",
    "ssh-keygen": "openssh-client",
    "podman": "podman",
    "mmdebstrap": "mmdebstrap",
}
# Daemons live in sbin, which a non-login PATH may lack; the tests run them by absolute path then.
SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


def setup_message(what: str, package: str) -> str:
    return "%s is missing on this machine: `./iryo setup` installs it (Debian package %s)" % (what, package)


def tool(name: str) -> str:
    """Absolute path of a tool that `./iryo setup` installs (a name, or an absolute path); fails the test
    when it is not there."""
    found = shutil.which(name) or next((os.path.join(d, name) for d in SEARCH_DIRS
                                        if os.access(os.path.join(d, name), os.X_OK)), None)
    if not found:
        pytest.fail(setup_message(name, SETUP_TOOLS.get(os.path.basename(name), "?")), pytrace=False)
    return found


def setup_file(path, package: str) -> Path:
    """A file that a `./iryo setup` package ships (a data file, a module); fails the test when absent."""
    path = Path(path)
    if not path.exists():
        pytest.fail(setup_message(str(path), package), pytrace=False)
    return path


# ---- the lab lock --------------------------------------------------------------------------------
# One user of the lab at a time: parallel test runs (or a developer's ad hoc runs under
# `flock lab/.state/lab.lock ...`) wait instead of re-creating each other's containers.
# flock belongs to an open file, so a second open+flock in this same process would wait for
# itself: the lock is taken once per process and counted.
_held = {"handle": None, "depth": 0}


@contextlib.contextmanager
def lab_lock():
    """Hold lab/.state/lab.lock. IRYO_LAB_LOCK_HELD=1: the caller (e.g. `flock lab/.state/lab.lock pytest`)
    already holds it."""
    if os.environ.get("IRYO_LAB_LOCK_HELD"):
        yield
        return
    if _held["depth"] == 0:
        LAB_LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        handle = open(LAB_LOCK_FILE, "a")  # closed when the outermost holder leaves
        fcntl.flock(handle, fcntl.LOCK_EX)
        _held["handle"] = handle
    _held["depth"] += 1
    try:
        yield
    finally:
        _held["depth"] -= 1
        if _held["depth"] == 0:
            _held["handle"].close()
            _held["handle"] = None


# ---- this checkout's lab images ------------------------------------------------------------------

def lab_py(*args, timeout=1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAB_PY), *args], cwd=REPO, env=PODMAN_ENV, capture_output=True,
                          text=True, timeout=timeout)


def _built_image_tags():
    """{codename: tag} when every image of this checkout exists, else None (no lock: only reads)."""
    tags = {}
    for codename in CODENAMES:
        answer = lab_py("image-tag", codename, timeout=60)
        if answer.returncode != 0:  # no archive key yet: nothing was built here
            return None
        tag = answer.stdout.strip()
        exists = subprocess.run(["podman", "image", "exists", tag], env=PODMAN_ENV, capture_output=True,
                                timeout=60)
        if exists.returncode != 0:
            return None
        tags[codename] = tag
    return tags


def build_lab_images() -> dict:
    """{codename: tag} of this checkout's lab images, built first when missing (`lab.py build` is cached:
    about a second when the tags exist). The tag carries the recipe hash, so an image built from
    another checkout or an older recipe is never used. When the images exist the lab lock is not taken:
    under pytest-xdist the lab tests' worker holds it for its whole session, and these tests only read
    the images (`./iryo test` builds them before pytest starts)."""
    tool("podman")
    tags = _built_image_tags()
    if tags is not None:
        return tags
    with lab_lock():
        built = lab_py("build")
    if built.returncode != 0:
        pytest.fail("lab.py build failed (the real-daemon tests run in this checkout's lab images):\n%s\n%s"
                    % (built.stdout[-3000:], built.stderr[-3000:]), pytrace=False)
    tags = _built_image_tags()
    assert tags is not None, "lab.py build succeeded but this checkout's images do not all exist"
    return tags
