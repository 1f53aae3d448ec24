"""Notification hook: a real command gets the JSON on stdin; a real SMTP conversation with a sink
started here on 127.0.0.1 carries the mail. Also the callback end to end: two ansible-playbook
runs whose second one regresses notify through the command."""

import calendar
import email
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from email import policy
from pathlib import Path

import pytest

from iryo_guard import notify

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = [{"host": "portal", "clause": "C.11", "kind": "regressed", "status": "fail", "failures": 1,
                "previous_status": "pass", "previous_failures": 0, "previous_run": "r1"},
               {"host": "files", "clause": "C.12", "kind": "new_fail", "status": "error", "failures": 1,
                "previous_status": None, "previous_failures": 0, "previous_run": None}]
ENTRY = {"run_id": "20261126T023000Z-nightly", "started": "2026-11-26T02:30:00Z", "finished": "2026-11-26T02:31:00Z",
         "playbook": "playbooks/nightly.yml", "report": "20261126T023000Z-nightly", "totals": {"fail": 2}}


class SmtpSink:
    """A minimal SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that keeps
    what it receives. `refuse` lists recipients it answers 550 to."""

    def __init__(self, refuse=()):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.messages, self.refuse, self.commands = [], set(refuse), []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as rfile:
                self._session(conn, rfile)

    def _session(self, conn, rfile):
        def say(line):
            conn.sendall(line.encode() + b"\r\n")
        say("220 sink.test ESMTP")
        sender, rcpts = None, []
        while True:
            line = rfile.readline()
            if not line:
                return
            cmd = line.decode().strip()
            self.commands.append(cmd.split(" ")[0].upper())
            verb = cmd[:4].upper()
            if verb == "EHLO":
                say("250-sink.test")
                say("250 8BITMIME")
            elif verb == "HELO":
                say("250 sink.test")
            elif verb == "MAIL":
                sender, rcpts = cmd.split(":", 1)[1].strip(" <>"), []
                say("250 OK")
            elif verb == "RCPT":
                rcpt = cmd.split(":", 1)[1].strip(" <>")
                if rcpt in self.refuse:
                    say("550 no such user")
                else:
                    rcpts.append(rcpt)
                    say("250 OK")
            elif verb == "DATA":
                say("354 end with .")
                data = []
                while True:
                    part = rfile.readline()
                    if part in (b".\r\n", b".\n", b""):
                        break
                    data.append(part[1:] if part.startswith(b"..") else part)
                self.messages.append({"from": sender, "to": rcpts, "data": b"".join(data)})
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 OK")

    def close(self):
        self.sock.close()


@pytest.fixture
def sink():
    server = SmtpSink()
    yield server
    server.close()


def test_mail_goes_through_a_real_smtp_conversation(sink):
    doc = notify.summary(ENTRY, REGRESSIONS, "/srv/reports/x/report.html")
    settings = notify.settings_from({"iryo_notify_smtp_host": "127.0.0.1", "iryo_notify_smtp_port": sink.port,
                                     "iryo_notify_smtp_from": "iryo-guard@hospital.example",
                                     "iryo_notify_smtp_to": "it-duty@hospital.example, ciso@hospital.example"},
                                    environ={})
    assert notify.notify(settings, doc) == {"sent": ["smtp"], "errors": []}
    assert len(sink.messages) == 1
    got = sink.messages[0]
    assert got["from"] == "iryo-guard@hospital.example"
    assert got["to"] == ["it-duty@hospital.example", "ciso@hospital.example"]
    message = email.message_from_bytes(got["data"], policy=policy.default)
    assert "portal" in message["Subject"] and "files" in message["Subject"] and ENTRY["run_id"] in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "portal" in body and "was pass, now fail" in body and "/srv/reports/x/report.html" in body
    attached = [part for part in message.iter_attachments() if part.get_content_type() == "application/json"]
    assert json.loads(attached[0].get_content()) == json.loads(json.dumps(doc))


def test_settings_from_environment_and_password_only_from_environment(sink):
    environ = {"IRYO_NOTIFY_SMTP_HOST": "127.0.0.1", "IRYO_NOTIFY_SMTP_PORT": str(sink.port),
               "IRYO_NOTIFY_SMTP_FROM": "a@x.example", "IRYO_NOTIFY_SMTP_TO": "b@x.example",
               "IRYO_NOTIFY_SMTP_PASSWORD": "s3cret"}
    settings = notify.settings_from({"iryo_notify_smtp_password": "from-inventory"}, environ=environ)
    assert settings["smtp_password"] == "s3cret" and settings["smtp_port"] == str(sink.port)
    assert notify.notify(settings, notify.summary(ENTRY, REGRESSIONS))["sent"] == ["smtp"]
    # variables win over the environment
    overridden = notify.settings_from({"iryo_notify_smtp_host": "mail.example"}, environ=environ)
    assert overridden["smtp_host"] == "mail.example"


def test_refused_recipient_and_dead_server_are_errors_not_crashes():
    refusing = SmtpSink(refuse={"gone@x.example"})
    try:
        settings = {"smtp_host": "127.0.0.1", "smtp_port": refusing.port, "smtp_from": "a@x.example",
                    "smtp_to": "gone@x.example"}
        outcome = notify.notify(settings, notify.summary(ENTRY, REGRESSIONS))
        assert outcome["sent"] == [] and "gone@x.example" in outcome["errors"][0]
    finally:
        refusing.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]  # closed again: nothing listens there
    outcome = notify.notify({"smtp_host": "127.0.0.1", "smtp_port": dead_port, "smtp_from": "a@x.example",
                             "smtp_to": "b@x.example"}, notify.summary(ENTRY, REGRESSIONS))
    assert outcome["sent"] == [] and "127.0.0.1:%d" % dead_port in outcome["errors"][0]


def test_command_gets_the_json_summary_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    command = [sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.stdin.read())", str(out)]
    doc = notify.summary(ENTRY, REGRESSIONS)
    assert notify.notify({"command": command}, doc) == {"sent": ["command"], "errors": []}
    got = json.loads(out.read_text())
    assert got["event"] == "iryo-guard.regression" and got["hosts"] == ["files", "portal"]
    assert got["regressions"] == REGRESSIONS


def test_failing_or_missing_command_is_an_error():
    doc = notify.summary(ENTRY, REGRESSIONS)
    assert "exited 3" in notify.notify({"command": "sh -c 'echo nope >&2; exit 3'"}, doc)["errors"][0]
    assert "not found" in notify.notify({"command": "/nonexistent/notify-me"}, doc)["errors"][0]


FAKE_CHECK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: "C.12 | AUDIT | c12.antimalware.signatures_fresh | from a database folder"
      av_signatures:
        database_dir: "{{ db }}"
        max_age_hours: 24
"""


def fresh_clamav_databases(folder):
    """main, daily and bytecode databases whose headers are dated relative to now (daily built two
    hours ago, within the check's 24 hours), made by the same code as the crafted fixtures
    (tests/fixtures/clamav/make_fixtures.py), so this test passes on any day it runs."""
    spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "tests" / "fixtures" / "clamav" /
                                                  "make_fixtures.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    now = calendar.timegm(time.gmtime())
    (folder / "main.cvd").write_bytes(make.cvd(now - 400 * 86400, 62, 6647427, "sigmgr", offset_minutes=-240))
    (folder / "daily.cvd").write_bytes(make.cvd(now - 2 * 3600, 27829, 2076410, "raynman"))
    (folder / "bytecode.cvd").write_bytes(make.cvd(now - 30 * 86400, 335, 86, "raynman", offset_minutes=-300))


def test_callback_notifies_the_command_when_a_run_regresses(tmp_path):
    """Two real ansible-playbook runs of a real check (av_signatures on a folder): signatures fresh
    (pass), then gone (fail). The second run's callback writes history and runs the command."""
    db = tmp_path / "db"
    db.mkdir()
    playbook = tmp_path / "p.yml"
    playbook.write_text(FAKE_CHECK)
    got = tmp_path / "notified.json"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), IRYO_REPORT_DIR=str(tmp_path / "reports"),
               IRYO_REPORT_COLOR="false", ANSIBLE_NOCOLOR="1")
    env.pop("IRYO_NOTIFY_COMMAND", None)
    command = "%s -c \"import sys; open('%s', 'w').write(sys.stdin.read())\"" % (sys.executable, got)

    def run(*extra):
        return subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "db=%s" % db,
                               "-e", json.dumps({"iryo_notify_command": command}), *extra, str(playbook)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    fresh_clamav_databases(db)
    first = run()
    history = (tmp_path / "reports" / "history.jsonl").read_text().splitlines()
    assert len(history) == 1, first.stdout[-2000:]
    # The regression needs a passing first run: fresh databases must pass, whatever today's date.
    assert json.loads(history[0])["cells"]["localhost"]["C.12"]["status"] == "pass", first.stdout[-3000:]
    assert not got.exists()  # nothing regressed yet: no notification
    for item in db.iterdir():
        item.unlink()
    second = run()
    history = (tmp_path / "reports" / "history.jsonl").read_text().splitlines()
    assert len(history) == 2
    assert json.loads(history[1])["cells"]["localhost"]["C.12"]["status"] in ("fail", "error")
    assert got.exists(), second.stdout[-3000:]
    doc = json.loads(got.read_text())
    assert doc["regressions"][0]["host"] == "localhost" and doc["regressions"][0]["kind"] == "regressed"
    assert "iryo-guard notified 1 regression(s) by command" in second.stdout
