"""The audit gate fails with one short line: how many checks, on how many hosts, and the run's report.html
(issue 12, item 4). The playbook test runs the real iryo_gate action and the iryo_report callback through
ansible-playbook on localhost: the callback reserves the run's folder when the gate task starts and the
gate, in its forked worker, names it."""

import json
import os
import re
import subprocess
from pathlib import Path

from iryo_guard.controller_actions import gate_message, shown_path

REPO = Path(__file__).resolve().parents[2]
LINE_MAX = 300


def test_gate_message_is_one_short_line():
    line = gate_message(64, 4, True, "reports/20261204T151307Z-audit/report.html")
    assert line == ("64 check(s) failed or could not decide on 4 hosts and the organisation; "
                    "see reports/20261204T151307Z-audit/report.html; set iryo_audit_fail_on_findings=false to exit 0")
    assert gate_message(1, 1, False, "r.html").startswith("1 check(s) failed or could not decide on 1 host; see r.html")
    assert "is the iryo_report callback enabled?" in gate_message(2, 1, False, None)
    assert gate_message(3, 2, False, "r.html", enabled=False).endswith(
        "(gate disabled: iryo_audit_fail_on_findings=false)")


def test_report_path_is_shown_relative_below_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "reports" / "run" / "report.html") == "reports/run/report.html"
    assert shown_path("/elsewhere/reports/run/report.html") == "/elsewhere/reports/run/report.html"
    assert shown_path(None) is None


PLAYBOOK = """
- name: Gate test
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Findings as a check task returns them (the report callback collects them from the result)
      key_storage_fips:
        findings: {findings}
    - name: Organisational items
      organisation_evidence:
      register: org
    - name: GATE
      iryo_gate:
        hosts: ["localhost"]
        organisation: "{{{{ org.findings }}}}"
        enabled: {enabled}
"""


def run_gate(tmp_path, findings, enabled=True):
    book = tmp_path / "gate.yml"
    book.write_text(PLAYBOOK.format(findings=json.dumps(findings), enabled=str(enabled).lower()))
    reports = tmp_path / "reports"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(reports), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    # the stand-in check module first (tests/fixtures/gate/key_storage_fips.py)
    env["ANSIBLE_LIBRARY"] = "%s:%s" % (REPO / "tests" / "fixtures" / "gate", REPO / "library")
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % (REPO / ".venv" / "bin" / "python"), str(book)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return done, reports


FAILING = [{"check": "c12.patches.security_pending", "target": "apt", "status": "fail"},
           {"check": "c12.patches.reboot_required", "target": "reboot", "status": "pass"},
           {"check": "c13.keys.permissions", "target": "/etc/ssl/private/a.key", "status": "error"},
           # a later finding for the same check and target replaces the earlier one (harden audits again)
           {"check": "c13.keys.permissions", "target": "/etc/ssl/private/b.key", "status": "fail"},
           {"check": "c13.keys.permissions", "target": "/etc/ssl/private/b.key", "status": "pass"}]


def test_failing_gate_prints_one_short_line_naming_the_report(tmp_path):
    done, reports = run_gate(tmp_path, FAILING)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    # 2 on localhost (the fail and the error) + the organisation's failing contract register (none declared)
    [fatal] = [line for line in out.splitlines() if line.startswith("fatal: [localhost]")]
    match = re.search(r"3 check\(s\) failed or could not decide on 1 host and the organisation; "
                      r"see (\S+/report\.html); set iryo_audit_fail_on_findings=false to exit 0", fatal)
    assert match, fatal
    assert json.loads(fatal.split("=> ", 1)[1]) == {"changed": False, "msg": match.group(0)}  # nothing else
    assert "problems" not in fatal and "c12.patches.security_pending" not in fatal  # the table lists them, not the gate
    assert match.group(1).startswith("reports/")  # below the folder the playbook runs in: shown relative
    named = tmp_path / match.group(1)
    assert named.parent.parent == reports and (named.parent / "report.json").is_file() and named.is_file()
    assert (reports / "latest").resolve() == named.parent.resolve()
    report = json.loads((named.parent / "report.json").read_text())
    assert {f["check"] for f in report["findings"]} >= {"c09.contracts.evidence"}
    assert all(len(line) <= LINE_MAX for line in out.splitlines()), max(out.splitlines(), key=len)


def test_gate_without_the_report_callback_fails_saying_why(tmp_path):
    """Findings never reach the gate through host facts: without the callback there is nothing to judge."""
    book = tmp_path / "gate.yml"
    book.write_text(PLAYBOOK.format(findings=json.dumps(FAILING[1:2]), enabled="true"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.junit", JUNIT_OUTPUT_DIR=str(tmp_path), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LIBRARY="%s:%s" % (REPO / "tests" / "fixtures" / "gate", REPO / "library"))
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % (REPO / ".venv" / "bin" / "python"), str(book)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the iryo_report callback is not enabled" in done.stdout


def test_disabled_gate_passes_and_still_says_where_to_look(tmp_path):
    done, reports = run_gate(tmp_path, FAILING, enabled=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fatal:" not in done.stdout
    runs = [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1 and (runs[0] / "report.html").is_file()
