"""av_signatures: ClamAV database headers, custom databases by mtime, Defender's mdatp health, the verdict
rules, and the module itself run ad hoc through Ansible (AnsiballZ, the action plugin, check mode).

The clock is fixed at NOW (2026-11-25T23:30:00Z) by passing ``now`` to module_utils; the ad hoc runs use
the real clock with databases dated relative to it.
"""

import calendar
import importlib.util
import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import iryo_clamav as clamav
import iryo_findings
import iryo_mdatp as mdatp
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
CLAMAV = FIXTURES / "clamav"
MDATP = FIXTURES / "mdatp"
NOW = calendar.timegm((2026, 11, 25, 23, 30, 0))
HOUR = 3600
CHECK = "c12.antimalware.signatures_fresh"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = _load("make_clamav_fixtures", CLAMAV / "make_fixtures.py")


@pytest.fixture(scope="module")
def mod():
    return load_library_module("av_signatures")


def db_dir(tmp_path, files, mtimes=None):
    """A database directory: {name in the directory: fixture file name or bytes}."""
    directory = tmp_path / "clamav"
    directory.mkdir(exist_ok=True)
    for name, source in files.items():
        target = directory / name
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(CLAMAV / source, target)
        if mtimes and name in mtimes:
            os.utime(target, (mtimes[name], mtimes[name]))
    return directory


def verdict(directory, max_age=72, custom_databases=True, verify_checksums=True, now=NOW):
    databases, skipped, error = clamav.scan_directory(str(directory), now, custom_databases, verify_checksums)
    assert error is None
    result = clamav.judge(str(directory), databases, max_age, now, skipped)
    result["databases"] = {d["name"]: d for d in databases}
    return result


# --- headers ----------------------------------------------------------------------------------------------

def test_valid_cld_header_is_read_like_sigtool_writes_it():
    entry = clamav.inspect_header_file(str(CLAMAV / "daily-valid.cld"), NOW)
    assert "problem" not in entry
    assert entry["kind"] == "official" and entry["source"] == "header"
    assert (entry["version"], entry["signatures"], entry["functionality_level"], entry["builder"]) == \
           (27830, 2076522, 90, "raynman")
    assert entry["build_time"] == "2026-11-25T08:31:00Z" and entry["time_source"] == "stime"
    assert entry["age_hours"] == pytest.approx(14.98, abs=0.01)
    assert entry["body_md5"] == "not applicable (.cld)"


def test_valid_cvd_body_md5_is_checked():
    entry = clamav.inspect_header_file(str(CLAMAV / "daily-valid.cvd"), NOW)
    assert "problem" not in entry and entry["body_md5"] == "match" and entry["version"] == 27829


def test_missing_stime_falls_back_to_the_build_time_field_with_its_zone():
    entry = clamav.inspect_header_file(str(CLAMAV / "daily-no-stime.cvd"), NOW)
    assert "problem" not in entry
    assert entry["time_source"] == "build time field"
    assert entry["build_time"] == "2026-11-25T08:31:00Z"  # 17-31 +0900


def test_stime_zero_is_the_old_format_too():
    head = make.header(["25 Nov 2026 03-31 -0500", 27830, 1, 90, "X", "X", "raynman", 0])
    header = clamav.parse_header(head)
    assert header["time_source"] == "build time field" and header["timestamp"] == calendar.timegm(
        (2026, 11, 25, 8, 31, 0))


@pytest.mark.parametrize("text,expected", [
    ("25 Nov 2026 22-16 +0000", (2026, 11, 25, 22, 16)),
    ("01 Jan 2027 00-05 +0900", (2026, 12, 31, 15, 5)),
    ("29 Feb 2028 23-59 -0330", (2028, 3, 1, 3, 29)),
    ("5 Mar 2026 07-00 +0000", (2026, 3, 5, 7, 0)),
])
def test_build_time_field(text, expected):
    assert clamav.parse_build_time(text) == calendar.timegm(expected + (0,))


@pytest.mark.parametrize("fixture,message", [
    ("daily-empty.cvd", "empty file (0 bytes)"),
    ("daily-truncated.cvd", "truncated: 300 bytes, shorter than the 512-byte header"),
    ("daily-header-only.cvd", "truncated: a header but no database after it"),
    ("daily-cut-body.cvd", "MD5 of the database body does not match its header"),
    ("daily-wrong-magic.cvd", "wrong magic: the file starts with b'PK\\x03\\x04"),
    ("daily-bad-date.cvd", "build time '2026-11-25 08-31 +0000' is not in ClamAV's form"),
    ("daily-impossible-date.cvd", "build time '31 Feb 2026 08-31 +0000' is not a real date"),
    ("daily-bad-version.cvd", "version '27a30' is not a number"),
    ("daily-bad-stime.cvd", "build time in seconds (stime) '17955954x0' is not a number"),
    ("daily-non-ascii.cvd", "header is not printable ASCII: byte 0xc3 at offset"),
    ("daily-few-fields.cvd", "header has 4 fields, ClamAV needs at least 8"),
])
def test_malformed_files_name_the_reason(fixture, message):
    entry = clamav.inspect_header_file(str(CLAMAV / fixture), NOW)
    assert message in entry["problem"]


def test_verify_checksums_false_skips_the_md5_only():
    entry = clamav.inspect_header_file(str(CLAMAV / "daily-cut-body.cvd"), NOW, verify_checksums=False)
    assert "problem" not in entry and entry["body_md5"].startswith("not checked")
    entry = clamav.inspect_header_file(str(CLAMAV / "daily-header-only.cvd"), NOW, verify_checksums=False)
    assert "no database after it" in entry["problem"]


def test_compressed_cld_is_accepted_and_garbage_body_is_not(tmp_path):
    import gzip
    head = (CLAMAV / "daily-valid.cld").read_bytes()[:512]
    (tmp_path / "daily.cld").write_bytes(head + gzip.compress(b"COPYING" + b"\0" * 505))
    assert "problem" not in clamav.inspect_header_file(str(tmp_path / "daily.cld"), NOW)
    (tmp_path / "daily.cld").write_bytes(head + b"\x00garbage" * 20)
    assert "neither a tar" in clamav.inspect_header_file(str(tmp_path / "daily.cld"), NOW)["problem"]


def test_no_header_ever_raises(tmp_path):
    """Random garbage and single-byte damage anywhere in a valid header: a problem or a parse, never a crash."""
    rng = random.Random(612)
    valid = (CLAMAV / "daily-valid.cvd").read_bytes()
    path = tmp_path / "daily.cvd"
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 700))) for _ in range(150)]
    samples += [clamav.MAGIC + bytes(rng.randrange(256) for _ in range(600)) for _ in range(150)]
    for offset in range(0, 200):
        damaged = bytearray(valid)
        damaged[offset] = rng.choice([0x00, 0x0a, 0x3a, 0x41, 0xff, 0x7f])
        samples.append(bytes(damaged))
    for data in samples:
        path.write_bytes(data)
        entry = clamav.inspect_header_file(str(path), NOW)
        assert entry.get("problem") or entry["version"] is not None


# --- custom databases ---------------------------------------------------------------------------------------

def test_custom_database_counts_signatures_and_ages_by_mtime(tmp_path):
    directory = db_dir(tmp_path, {"hospital-local.hdb": "lab-portal/hospital-local.hdb",
                                  "local.yara": b"rule a { condition: true }\nprivate rule b { condition: false }\n",
                                  "local.ndb": b"# comment\nSig.A:0:*:414243\n\nSig.B:0:*:444546\n"},
                       mtimes={"hospital-local.hdb": NOW - 10 * HOUR, "local.yara": NOW - 20 * HOUR,
                               "local.ndb": NOW - 30 * HOUR})
    result = verdict(directory)
    entry = result["databases"]["hospital-local.hdb"]
    assert (entry["kind"], entry["source"], entry["signatures"], entry["version"]) == ("custom", "mtime", 1, None)
    assert entry["age_hours"] == 10.0 and entry["build_time"] == "2026-11-25T13:30:00Z"
    assert result["databases"]["local.yara"]["signatures"] == 2
    assert result["databases"]["local.ndb"]["signatures"] == 2
    assert result["status"] == "pass" and result["decided_by"] == "hospital-local.hdb"


def test_stale_custom_only_directory_fails_like_the_lab(tmp_path):
    directory = db_dir(tmp_path, {"hospital-local.hdb": "lab-portal/hospital-local.hdb"},
                       mtimes={"hospital-local.hdb": NOW - 40 * 24 * HOUR})
    result = verdict(directory)
    assert result["status"] == "fail" and result["newest_age_hours"] == 960.0
    assert "hospital-local.hdb, fetched or written (mtime)" in result["reason"]


def test_allow_lists_never_make_stale_signatures_fresh(tmp_path):
    directory = db_dir(tmp_path, {"local.hdb": "lab-portal/hospital-local.hdb", "local.ign2": b"Eicar-Test-Signature\n",
                                  "local.fp": b"44d88612fea8a8f36de82e1278abb02f:68:x\n"},
                       mtimes={"local.hdb": NOW - 100 * HOUR, "local.ign2": NOW - HOUR, "local.fp": NOW - HOUR})
    result = verdict(directory)
    assert result["status"] == "fail" and result["decided_by"] == "local.hdb"
    assert result["databases"]["local.ign2"]["kind"] == "allowlist"
    only_allow = tmp_path / "allow"
    only_allow.mkdir()
    (only_allow / "local.ign2").write_text("Eicar-Test-Signature\n")
    assert verdict(only_allow)["status"] == "fail"


def test_empty_custom_database_is_noted_and_does_not_count(tmp_path):
    directory = db_dir(tmp_path, {"local.hdb": b""}, mtimes={"local.hdb": NOW - HOUR})
    result = verdict(directory)
    assert result["status"] == "fail" and result["reason"].startswith("no signature database in")
    assert "local.hdb: empty file: holds no signatures" in result["notes"]


def test_custom_databases_false_leaves_them_out(tmp_path):
    directory = db_dir(tmp_path, {"local.hdb": "lab-portal/hospital-local.hdb"}, mtimes={"local.hdb": NOW - HOUR})
    result = verdict(directory, custom_databases=False)
    assert result["status"] == "fail" and result["databases"] == {}
    assert "1 custom database file(s) not judged (custom_databases=false)" in result["notes"]


def test_other_files_and_subdirectories_are_ignored(tmp_path):
    directory = db_dir(tmp_path, {"freshclam.dat": b"\x00" * 40, "mirrors.dat": b"x", "daily.cld": "daily-valid.cld"})
    (directory / "tmp.1234").mkdir()
    (directory / "tmp.1234" / "main.cvd").write_bytes(b"")
    assert list(verdict(directory)["databases"]) == ["daily.cld"]


# --- verdict rules ----------------------------------------------------------------------------------------

def test_official_databases_newest_build_decides(tmp_path):
    directory = db_dir(tmp_path, {"main.cvd": "main-valid.cvd", "daily.cld": "daily-valid.cld",
                                  "bytecode.cvd": "bytecode-valid.cvd"})
    result = verdict(directory)
    assert result["status"] == "pass" and result["decided_by"] == "daily.cld"
    assert result["newest_age_hours"] == pytest.approx(14.98, abs=0.01)
    assert result["databases"]["main.cvd"]["age_hours"] > 40000  # main is old by design and does not matter


def test_newest_of_daily_cvd_and_cld_wins(tmp_path):
    directory = db_dir(tmp_path, {"daily.cvd": "daily-valid.cvd", "daily.cld": "daily-valid.cld"})
    result = verdict(directory)
    assert result["decided_by"] == "daily.cld" and result["status"] == "pass"
    assert any("daily.cvd and daily.cld both present" in n for n in result["notes"])


def test_stale_daily_fails(tmp_path):
    directory = db_dir(tmp_path, {"main.cvd": "main-valid.cvd", "daily.cld": "daily-stale.cld"})
    result = verdict(directory)
    assert result["status"] == "fail" and result["newest_age_hours"] == pytest.approx(974.98, abs=0.01)
    assert "daily.cld, built 2026-10-16T08:31:00Z" in result["reason"]


def test_fresh_custom_database_does_not_rescue_stale_official_ones(tmp_path):
    directory = db_dir(tmp_path, {"daily.cld": "daily-stale.cld", "local.hdb": "lab-portal/hospital-local.hdb"},
                       mtimes={"local.hdb": NOW - HOUR})
    result = verdict(directory)
    assert result["status"] == "fail" and result["decided_by"] == "daily.cld"
    assert any("custom databases are listed but do not decide" in n for n in result["notes"])


def test_without_daily_the_newest_other_official_database_decides(tmp_path):
    directory = db_dir(tmp_path, {"main.cvd": "main-valid.cvd", "bytecode.cvd": "bytecode-valid.cvd"})
    result = verdict(directory)
    assert result["status"] == "fail" and result["decided_by"] == "bytecode.cvd"
    assert any(n.startswith("no daily database") for n in result["notes"])


@pytest.mark.parametrize("contents", [{}, None])
def test_no_database_at_all_fails(tmp_path, contents):
    directory = db_dir(tmp_path, contents) if contents is not None else tmp_path / "missing"
    result = verdict(directory)
    assert result["status"] == "fail" and result["reason"] == "no signature database in %s" % directory


def test_malformed_official_file_makes_a_fresh_verdict_an_error(tmp_path):
    directory = db_dir(tmp_path, {"daily.cld": "daily-valid.cld", "main.cvd": "daily-truncated.cvd"})
    result = verdict(directory)
    assert result["status"] == "error"
    assert result["reason"].startswith("signatures look fresh but the verdict cannot be trusted: main.cvd: truncated")


def test_malformed_official_file_keeps_a_stale_verdict_a_fail(tmp_path):
    directory = db_dir(tmp_path, {"daily.cld": "daily-stale.cld", "main.cvd": "daily-wrong-magic.cvd"})
    result = verdict(directory)
    assert result["status"] == "fail" and "also broken: main.cvd: wrong magic" in result["reason"]


def test_only_malformed_files_is_an_error_not_a_fail(tmp_path):
    directory = db_dir(tmp_path, {"daily.cvd": "daily-empty.cvd"})
    result = verdict(directory)
    assert result["status"] == "error" and "no usable signature database" in result["reason"]
    assert "daily.cvd: empty file (0 bytes)" in result["problems"]


def test_malformed_official_with_fresh_custom_only_is_an_error(tmp_path):
    directory = db_dir(tmp_path, {"daily.cvd": "daily-bad-date.cvd", "local.hdb": "lab-portal/hospital-local.hdb"},
                       mtimes={"local.hdb": NOW - HOUR})
    assert verdict(directory)["status"] == "error"


def test_future_official_database_is_an_error(tmp_path):
    directory = db_dir(tmp_path, {"daily.cld": "daily-future.cld", "main.cvd": "main-valid.cvd"})
    result = verdict(directory)
    assert result["status"] == "error"
    assert "daily.cld: dated in the future: 2026-11-28T08:31:00Z is 57.0 hours ahead" in result["reason"]


def test_future_custom_database_is_an_error_even_next_to_fresh_ones(tmp_path):
    directory = db_dir(tmp_path, {"daily.cld": "daily-valid.cld", "local.hdb": "lab-portal/hospital-local.hdb"},
                       mtimes={"local.hdb": NOW + 2 * HOUR})
    assert verdict(directory)["status"] == "error"


def test_less_than_an_hour_ahead_is_tolerated_like_clamd(tmp_path):
    directory = db_dir(tmp_path, {"daily.cld": make.cld(NOW + 3599, 27831, 1, "raynman")})
    result = verdict(directory)
    assert result["status"] == "pass" and result["newest_age_hours"] == -1.0


@pytest.mark.parametrize("age_seconds,status", [(72 * HOUR, "pass"), (72 * HOUR + 1, "fail"), (71 * HOUR, "pass")])
def test_threshold_edges_header(tmp_path, age_seconds, status):
    directory = db_dir(tmp_path, {"daily.cld": make.cld(NOW - age_seconds, 27831, 1, "raynman")})
    assert verdict(directory)["status"] == status


@pytest.mark.parametrize("age_seconds,status", [(72 * HOUR, "pass"), (72 * HOUR + 1, "fail")])
def test_threshold_edges_mtime(tmp_path, age_seconds, status):
    directory = db_dir(tmp_path, {"local.hdb": "lab-portal/hospital-local.hdb"},
                       mtimes={"local.hdb": NOW - age_seconds})
    assert verdict(directory)["status"] == status


def test_threshold_is_configurable(tmp_path):
    directory = db_dir(tmp_path, {"daily.cld": "daily-valid.cld"})
    assert verdict(directory, max_age=15)["status"] == "pass"
    assert verdict(directory, max_age=14)["status"] == "fail"


def test_unreadable_directory_is_an_error(tmp_path, monkeypatch):
    directory = db_dir(tmp_path, {"daily.cld": "daily-valid.cld"})

    def denied(path):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(clamav.os, "listdir", denied)
    databases, skipped, error = clamav.scan_directory(str(directory), NOW)
    assert databases == [] and error == "cannot list %s: Permission denied" % directory


# --- the finding the module builds ----------------------------------------------------------------------

@pytest.mark.parametrize("files,mtimes,status,fixable,remediation", [
    ({"daily.cld": "daily-valid.cld"}, None, "pass", False, ""),
    ({"daily.cld": "daily-stale.cld"}, None, "fail", True, "Point freshclam at the hospital's mirror"),
    ({"daily.cvd": "daily-truncated.cvd", "l.hdb": "lab-portal/hospital-local.hdb"}, {"l.hdb": NOW - HOUR},
     "error", True, "Remove or re-fetch the broken database files"),
    ({"daily.cld": "daily-future.cld"}, None, "error", False, "Check the host clock"),
])
def test_clamav_finding(mod, tmp_path, files, mtimes, status, fixable, remediation):
    directory = db_dir(tmp_path, files, mtimes)
    finding, entries, age = mod.clamav_finding(str(directory), 72, NOW, True, True)
    iryo_findings.validate_finding(finding)
    assert (finding["check"], finding["status"], finding["severity"], finding["target"]) == \
           (CHECK, status, "high", str(directory))
    assert finding["fixable"] is fixable and finding["remediation"].startswith(remediation)
    assert finding["expected"] == {"max_age_hours": 72}
    assert [d["name"] for d in finding["evidence"]["databases"]] == sorted(files)
    assert all("timestamp" not in d for d in entries)
    if status == "error":
        assert finding["evidence"]["error"] == finding["evidence"]["reason"]


# --- Microsoft Defender (constructed fixtures, see tests/fixtures/mdatp/README.md) ------------------------

@pytest.mark.parametrize("fixture,status,reason,age", [
    ("up-to-date.json", "pass", "Defender definitions are 2.3 hours old (limit 72)", 2.33),
    ("snake-case.json", "pass", "Defender definitions are 1.6 hours old (limit 72)", 1.58),
    ("out-of-date.json", "fail", "Defender definitions are 126.3 hours old (limit 72), status up_to_date", 126.33),
    ("update-failed.json", "fail", "Defender reports its definitions as update_failed (0.8 hours old)", 0.75),
    ("unavailable.json", "fail", "Defender reports its definitions as unavailable", None),
    ("future.json", "error", "dated 3.5 hours in the future", -3.5),
    ("no-age.json", "error", "mdatp health gives no definitions age", None),
])
def test_mdatp_health(fixture, status, reason, age):
    health = mdatp.parse_health((MDATP / fixture).read_text(), NOW)
    result = mdatp.judge(health, 72, NOW)
    assert result["status"] == status and reason in result["reason"]
    assert result["entry"]["age_hours"] == age
    assert result["entry"]["source"] == "mdatp" and result["entry"]["kind"] == "official"


def test_mdatp_fields_are_read_from_the_json_shape():
    health = mdatp.parse_health((MDATP / "up-to-date.json").read_text(), NOW)
    assert health["version"] == "1.421.1234.0" and health["status"] == "up_to_date"
    assert health["automatic_updates"] is True and health["healthy"] is True
    assert health["updated"] == calendar.timegm((2026, 11, 25, 21, 10, 0))
    entry = mdatp.judge(health, 72, NOW)["entry"]
    assert entry["build_time"] == "2026-11-25T21:10:00Z"


def test_mdatp_unhealthy_and_updates_off_are_evidence():
    data = json.loads((MDATP / "up-to-date.json").read_text())
    data["healthy"], data["healthIssues"] = False, ["real-time protection is off"]
    data["automaticDefinitionUpdateEnabled"]["value"] = False
    data["definitionsStatus"] = {"$type": "somethingNew"}
    result = mdatp.judge(mdatp.parse_health(json.dumps(data), NOW), 72, NOW)
    assert result["status"] == "pass"
    assert result["problems"] == ["mdatp reports unhealthy: ['real-time protection is off']",
                                  "automatic definition updates are off",
                                  "unknown definitions status 'something_new'; judged by age only"]


@pytest.mark.parametrize("fixture,message", [
    ("malformed.json", "mdatp health did not print JSON"),
    ("text-output.txt", "mdatp health did not print JSON"),
])
def test_mdatp_unreadable_output_raises_a_clear_error(fixture, message):
    with pytest.raises(mdatp.MdatpError, match=message):
        mdatp.parse_health((MDATP / fixture).read_text(), NOW)
    with pytest.raises(mdatp.MdatpError, match="not an object"):
        mdatp.parse_health("[1, 2]", NOW)


def test_mdatp_minutes_ago_as_garbage_is_noted():
    data = json.loads((MDATP / "up-to-date.json").read_text())
    data["definitionsUpdatedMinutesAgo"] = "soon"
    health = mdatp.parse_health(json.dumps(data), NOW)
    assert health["age_seconds"] == 140 * 60  # from definitionsUpdated
    assert "unreadable field definitionsUpdatedMinutesAgo='soon'" in mdatp.judge(health, 72, NOW)["problems"]


# --- the module, run ad hoc through Ansible (real clock) ------------------------------------------------

def adhoc(tmp_path, args, check=False, path_prefix=None):
    tree = tmp_path / "tree"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    if path_prefix:
        env["PATH"] = "%s:%s" % (path_prefix, env["PATH"])
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "av_signatures", "-a", args]
    done = subprocess.run(cmd + (["--check"] if check else []), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    return done, json.loads((tree / "localhost").read_text())


def test_adhoc_fresh_directory_is_compliant_in_check_mode(tmp_path):
    now = time.time()
    directory = db_dir(tmp_path, {"daily.cld": make.cld(int(now) - 5 * HOUR, 27900, 2080000, "raynman"),
                                  "main.cvd": "main-valid.cvd"})
    done, result = adhoc(tmp_path, "database_dir=%s max_age_hours=72" % directory, check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is False and result["compliant"] is True and result["engine"] == "clamav"
    assert result["newest_age_hours"] == pytest.approx(5, abs=0.1)
    assert {d["name"]: d["version"] for d in result["databases"]} == {"daily.cld": 27900, "main.cvd": 62}
    assert set(result["databases"][0]) >= {"name", "kind", "version", "signatures", "build_time", "age_hours",
                                           "source"}
    (finding,) = result["findings"]
    assert finding["status"] == "pass" and finding["clause"] == "C.12" and finding["title_en"]


def test_adhoc_stale_and_missing_directories(tmp_path):
    directory = db_dir(tmp_path, {"hospital-local.hdb": "lab-portal/hospital-local.hdb"},
                       mtimes={"hospital-local.hdb": time.time() - 40 * 24 * HOUR})
    done, result = adhoc(tmp_path, "database_dir=%s" % directory)
    assert result["compliant"] is False and result["findings"][0]["status"] == "fail"
    assert result["newest_age_hours"] == pytest.approx(960, abs=0.1)
    done, result = adhoc(tmp_path, "database_dir=%s engine=clamav" % (tmp_path / "nowhere"))
    assert result["findings"][0]["evidence"]["reason"] == "no signature database in %s" % (tmp_path / "nowhere")


def test_adhoc_bad_threshold_becomes_an_error_finding_in_check_mode(tmp_path):
    done, result = adhoc(tmp_path, "database_dir=%s max_age_hours=0" % tmp_path, check=True)
    (finding,) = result["findings"]
    assert finding["status"] == "error" and "max_age_hours must be at least 1" in finding["evidence"]["error"]


@pytest.mark.parametrize("fixture,rc,status", [
    ("up-to-date.json", 0, "pass"),
    ("out-of-date.json", 0, "fail"),
    ("update-failed.json", 0, "fail"),
    ("malformed.json", 0, "error"),
    ("up-to-date.json", 1, "error"),
])
def test_adhoc_mdatp_through_a_stand_in_command(tmp_path, fixture, rc, status):
    """A stand-in `mdatp` on PATH prints a constructed fixture: proves the command line and the wiring only."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "mdatp"
    script.write_text('#!/bin/sh\n[ "$*" = "health --output json" ] || { echo "unexpected: $*" >&2; exit 2; }\n'
                      'cat "%s"\nexit %d\n' % (MDATP / fixture, rc))
    script.chmod(0o755)
    done, result = adhoc(tmp_path, "engine=mdatp", check=True, path_prefix=bin_dir)
    (finding,) = result["findings"]
    assert result["engine"] == "mdatp" and finding["target"] == "mdatp" and finding["status"] == status, finding
    if rc:
        assert "failed (rc=1)" in finding["evidence"]["error"]
