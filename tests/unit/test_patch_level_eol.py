"""patch_level's end-of-life and reboot verdicts, on this (real) Debian machine."""

import datetime
from pathlib import Path

import pytest
import yaml

from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
OS = dict(line.strip().split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
DISTRO, VERSION = OS.get("ID", "").strip('"'), OS.get("VERSION_ID", "").strip('"')


@pytest.fixture(scope="module")
def patch_level():
    return load_library_module("patch_level")


@pytest.fixture(scope="module")
def releases():
    return yaml.safe_load((REPO / "data" / "os_eol.yml").read_text())["releases"]


def test_every_release_names_dates_source_and_confidence(releases):
    for distro, versions in releases.items():
        for version, entry in versions.items():
            assert entry["regular_end"] <= entry["security_end"], (distro, version)
            datetime.date.fromisoformat(entry["security_end"])
            assert entry["source"] and entry["confidence"] in ("confirmed", "secondary", "unconfirmed"), version


@pytest.mark.skipif(DISTRO != "debian" or VERSION != "12",
                    reason="missing capability: the controller is not Debian 12 (the dates below are Debian 12's)")
def test_debian12_is_in_lts_today_and_fails_after_its_end(patch_level, releases):
    today = patch_level.eol_finding(releases, today=datetime.date(2026, 11, 25))
    assert today["status"] == "pass" and today["evidence"]["phase"] == "extended (LTS)"
    assert today["evidence"]["confidence"] == "unconfirmed"
    later = patch_level.eol_finding(releases, today=datetime.date(2028, 7, 1))
    assert later["status"] == "fail" and "2028-06-30" in later["remediation"]


def test_unknown_release_is_an_error_not_a_pass(patch_level):
    finding = patch_level.eol_finding({"debian": {}}, today=datetime.date(2026, 11, 25))
    assert finding["status"] == "error" and "not in data/os_eol.yml" in finding["evidence"]["error"]
