import os
import shutil
import subprocess
from pathlib import Path

import pytest

import iryo_apt
from library_loader import load_library_module

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
                    reason="missing capability: a Debian system with apt-get and python3-apt")
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


# ---- when the archive published what is pending (Release Date: a lower bound of the age) ------------

REAL_INRELEASE = FIXTURES / "deb.debian.org_debian-security_dists_bookworm-security_InRelease"


def test_release_dates_from_a_real_debian_inrelease(tmp_path):
    shutil.copy(REAL_INRELEASE, tmp_path / REAL_INRELEASE.name)
    dates = iryo_apt.release_dates(str(tmp_path))
    stamp = 1795480473  # Tue, 24 Nov 2026 00:34:33 UTC
    # apt names an origin by its suite ("oldstable-security" since trixie) or by its codename
    assert dates == {"Debian-Security:oldstable-security": stamp, "Debian-Security:bookworm-security": stamp}


def test_pending_age_is_a_lower_bound_from_the_oldest_index(tmp_path):
    (tmp_path / "a_InRelease").write_text("Label: Debian-Security\nSuite: bookworm-security\n"
                                          "Date: Sun, 01 Nov 2026 00:00:00 +0900\n")
    (tmp_path / "b_Release").write_text("Label: Debian\nSuite: bookworm-updates\nDate: not a date\n")
    dates = iryo_apt.release_dates(str(tmp_path))
    assert dates == {"Debian-Security:bookworm-security": 1793458800}  # 2026-10-31T15:00:00Z
    pending = [{"package": "less", "origins": ["Debian-Security:bookworm-security"]},
               {"package": "file", "origins": ["Debian:bookworm-updates"]}]
    now = 1793458800 + 20 * 86400 + 3600
    iryo_apt.annotate_published(pending, dates, now=now)
    assert pending[0]["published"] == "2026-10-31T15:00:00Z" and pending[0]["pending_days_at_least"] == 20
    assert pending[1]["published"] is None and pending[1]["pending_days_at_least"] is None


def test_overdue_security_update_is_critical():
    patch_level = load_library_module("patch_level")
    security = {"package": "less", "installed": "1", "candidate": "2", "arch": "amd64",
                "origins": ["Debian-Security:bookworm-security"], "security": True}
    fresh = patch_level.verdict([dict(security, pending_days_at_least=3)], 1.0, 168, 14)
    overdue = patch_level.verdict([dict(security, pending_days_at_least=30)], 1.0, 168, 14)
    unknown = patch_level.verdict([dict(security, pending_days_at_least=None)], 1.0, 168, 14)
    assert (fresh["severity"], overdue["severity"], unknown["severity"]) == ("high", "critical", "high")
    assert overdue["evidence"]["oldest_security_pending_days_at_least"] == 30
    assert "at least 30 days (limit 14)" in overdue["remediation"]
    assert {f["status"] for f in (fresh, overdue, unknown)} == {"fail"}
