"""`./iryo demo` on the lab prints readable output (issue 12, item 4): no line longer than 300 characters,
no JSON or Python repr in the evidence lines of the summary table, and a gate that fails with one short
line naming the report. The demo runs exactly as a user starts it, with colours as on a terminal; only the
report folder is a temporary one (IRYO_REPORT_DIR)."""

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
LINE_MAX = 300
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# How the old flattened evidence looked: dict and list reprs, JSON keys, Python constants.
REPR = re.compile(r"\{'|\{\"|\['|\[\"|\[\]|\{\}|': |\": |\bNone\b|\bTrue\b|\bFalse\b")
GATE = re.compile(r"(\d+) check\(s\) failed or could not decide on (\d+) hosts? and the organisation; "
                  r"see (\S+/report\.html); set iryo_audit_fail_on_findings=false to exit 0")


@pytest.fixture(scope="module")
def demo(lab, tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    env = {k: v for k, v in os.environ.items() if k not in ("ANSIBLE_NOCOLOR", "NO_COLOR", "IRYO_REPORT_COLOR")}
    env.update(IRYO_REPORT_DIR=str(reports), ANSIBLE_FORCE_COLOR="1")  # as on a terminal
    done = subprocess.run([str(REPO / "iryo"), "demo"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1800)
    return done, reports


def test_demo_finishes_with_the_gate_exit_explained(demo):
    done, _ = demo
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "audit finished with findings (exit 2 from the gate)" in done.stderr


def test_no_printed_line_is_longer_than_300_characters(demo):
    done, _ = demo
    lines = (done.stdout + done.stderr).splitlines()
    assert len(lines) > 100  # the whole run was printed: tasks, recap, table
    too_long = [(len(ANSI.sub("", line)), ANSI.sub("", line)[:120]) for line in lines
                if len(ANSI.sub("", line)) > LINE_MAX]
    assert not too_long, too_long


def test_evidence_lines_are_sentences_not_reprs(demo):
    done, _ = demo
    plain = ANSI.sub("", done.stdout)
    section = plain.split("Failures and errors (", 1)[1].split("\nreport html", 1)[0].splitlines()[1:]
    problems = [line for line in section if re.match(r"(FAIL|ERR) ", line)]
    assert len(problems) >= 25, section
    for line in problems:
        assert not REPR.search(line), line
    # two sentences the issue asks for, as the checks now write them
    assert any("c10.firewall.default_drop" in line and "no nftables input chain with policy drop" in line
               for line in problems)
    assert any("c10.firewall.allowed_services" in line and "accepts every port from every source" in line
               and "declared: tcp/" in line for line in problems)


def test_gate_fails_with_one_short_line_naming_the_report(demo):
    done, reports = demo
    plain = ANSI.sub("", done.stdout + done.stderr)
    fatal = [line for line in plain.splitlines() if line.startswith("fatal: ")]
    assert len(fatal) == 1 and "GATE" in plain.split(fatal[0])[0].rsplit("TASK [", 1)[1], fatal
    match = GATE.search(fatal[0])
    assert match, fatal[0]
    assert "problems" not in fatal[0] and len(fatal[0]) <= LINE_MAX
    report = Path(match.group(3))
    report = report if report.is_absolute() else REPO / report
    assert report.is_file() and report.parent.parent == reports
    totals = re.search(r"Totals: FAIL (\d+)\s+ERR (\d+)", plain)
    assert int(match.group(1)) == int(totals.group(1)) + int(totals.group(2))


def test_the_run_prints_no_deprecation_warning(demo):
    """ansible.cfg no longer hides deprecation warnings (issue 13 item 4): the audit must not cause any, so a
    new one (say, a fact injected as a variable, a deprecated module option) fails here."""
    done, _ = demo
    plain = ANSI.sub("", done.stdout + done.stderr)
    assert "[DEPRECATION WARNING]" not in plain, [line for line in plain.splitlines() if "DEPRECATION" in line]
