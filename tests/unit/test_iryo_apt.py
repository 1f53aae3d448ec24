import os
import shutil
import subprocess
from pathlib import Path

import pytest

import iryo_apt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apt"


def test_parses_real_debian12_output():
    pending = iryo_apt.parse_simulation((FIXTURES / "debian12-controller-dist-upgrade.txt").read_text())
    assert len(pending) == 115
    assert sum(p["security"] for p in pending) == 74
    bash = next(p for p in pending if p["package"] == "bash")
    assert bash == {"package": "bash", "installed": "5.2.15-2+b8", "candidate": "5.2.15-2+b13", "arch": "amd64",
                    "origins": ["Debian:oldstable"], "security": False}


@pytest.mark.parametrize("line,expected", [
    # constructed in the formats apt prints (apt-pkg/algorithms.cc, Describe/RelStr)
    ("Inst less [590-2] (590-2+deb12u99 Debian-Security:bookworm-security [amd64])",
     {"package": "less", "installed": "590-2", "security": True}),
    ("Inst libc6 [2.39-0ubuntu8] (2.39-0ubuntu8.4 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])",
     {"package": "libc6", "security": True}),
    ("Inst newdep (1.0-1 Debian:12.15/oldstable [amd64])", {"package": "newdep", "installed": None, "security": False}),
    ("Inst file [1:5.44-3] (1:5.44-3+lab1 Debian:bookworm-updates [all])", {"candidate": "1:5.44-3+lab1",
                                                                          "security": False}),
])
def test_parses_each_line_shape(line, expected):
    [entry] = iryo_apt.parse_simulation(line + "\nConf less (590-2+deb12u99 Debian-Security [amd64])\n")
    for key, value in expected.items():
        assert entry[key] == value


def test_security_is_judged_by_label_or_suite_not_archive_alias():
    assert iryo_apt.release_is_security("Debian-Security", "oldstable-security")
    assert iryo_apt.release_is_security("Debian", "bookworm-security")
    assert not iryo_apt.release_is_security("Debian", "oldstable")


def test_lists_age(tmp_path):
    assert iryo_apt.lists_age_hours(str(tmp_path)) is None
    release = tmp_path / "mirror_dists_bookworm-security_InRelease"
    release.write_text("x")
    os.utime(release, (1000, 1000))
    assert iryo_apt.lists_age_hours(str(tmp_path), now=1000 + 7200) == 2.0


APT_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(not (shutil.which("apt-get") and Path(APT_PYTHON).exists()
                         and subprocess.run([APT_PYTHON, "-c", "import apt_pkg"], capture_output=True).returncode == 0),
                    reason="needs a Debian system with python3-apt")
def test_both_backends_agree_on_this_real_system():
    code = ("import json, sys; sys.path.insert(0, %r); import iryo_apt, apt_pkg; "
            "print(json.dumps(iryo_apt.pending_with_apt_pkg(apt_pkg)))" % str(Path(iryo_apt.__file__).parent))
    import json
    via_apt_pkg = json.loads(subprocess.run([APT_PYTHON, "-c", code], capture_output=True, text=True,
                                            check=True).stdout)
    out = subprocess.run(["apt-get", "-s", "-o", "Debug::NoLocking=true", "dist-upgrade"], capture_output=True,
                         text=True, check=True, env=dict(os.environ, LANG="C", LC_ALL="C")).stdout
    via_apt_get = iryo_apt.parse_simulation(out)
    assert [(p["package"], p["candidate"], p["security"]) for p in via_apt_pkg] == \
           [(p["package"], p["candidate"], p["security"]) for p in via_apt_get]
