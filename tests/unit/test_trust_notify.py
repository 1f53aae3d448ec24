"""Issue 16, item D: the notification mail verifies its relay. A real SMTP conversation with a small server
started here on 127.0.0.1 that speaks STARTTLS and implicit TLS (SMTPS) with certificates made here by the
openssl CLI: a certificate the client cannot verify (unknown CA, wrong host name) gets no mail and no password,
the right CA file passes, and a password is never sent over plain SMTP."""

import socket
import ssl
import subprocess
import threading

import pytest

from iryo_guard import notify

ENTRY = {"run_id": "r2-nightly", "started": "s", "finished": "f", "playbook": "playbooks/nightly.yml",
         "report": "r2-nightly", "totals": {"fail": 1}}
REGRESSIONS = [{"host": "portal", "clause": "C.11", "kind": "regressed", "status": "fail", "failures": 1,
                "previous_status": "pass", "previous_failures": 0, "previous_run": "r1"}]
PASSWORD = "relay-s3cret"


def make_cert(folder, name, san):
    """A self-signed certificate (its own CA) for `san`, by the openssl CLI: key, cert."""
    key, cert = folder / ("%s.key" % name), folder / ("%s.pem" % name)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=%s" % name, "-addext", "subjectAltName=%s" % san,
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return key, cert


class TlsSmtpSink:
    """SMTP server: EHLO (advertises STARTTLS before TLS and AUTH PLAIN LOGIN), STARTTLS, AUTH, MAIL, RCPT, DATA,
    QUIT; `implicit` wraps the connection in TLS from the first byte (SMTPS). Keeps messages, the AUTH lines it
    received, and whether each AUTH came over TLS."""

    def __init__(self, key, cert, implicit=False):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.implicit = implicit
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.messages, self.auth, self.connections = [], [], 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                if self.implicit:
                    conn = self.context.wrap_socket(conn, server_side=True)
                self._session(conn)
            except (OSError, ssl.SSLError):
                pass  # the client refused our certificate: that is the point of several tests
            finally:
                conn.close()

    def _session(self, conn):
        rfile = conn.makefile("rb")

        def say(line):
            conn.sendall(line.encode() + b"\r\n")
        say("220 relay.test ESMTP")
        while True:
            line = rfile.readline()
            if not line:
                return
            cmd = line.decode().strip()
            verb = cmd.split(" ")[0].upper()
            tls = isinstance(conn, ssl.SSLSocket)
            if verb == "EHLO":
                say("250-relay.test")
                if not tls:
                    say("250-STARTTLS")
                say("250 AUTH PLAIN LOGIN")
            elif verb == "STARTTLS":
                say("220 go ahead")
                conn = self.context.wrap_socket(conn, server_side=True)
                rfile = conn.makefile("rb")
            elif verb == "AUTH":
                self.auth.append((cmd, tls))
                say("235 ok")
            elif verb == "DATA":
                say("354 end with .")
                data = []
                while True:
                    part = rfile.readline()
                    if part in (b".\r\n", b""):
                        break
                    data.append(part)
                self.messages.append(b"".join(data))
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 OK")

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("relay-pki")
    return {"good": make_cert(folder, "relay-good", "IP:127.0.0.1,DNS:localhost"),
            "wrong_name": make_cert(folder, "relay-other", "DNS:mail.elsewhere.example")}


def settings(sink, **over):
    base = {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_from": "iryo-guard@hospital.example",
            "smtp_to": "it-duty@hospital.example", "smtp_user": "iryo", "smtp_password": PASSWORD}
    base.update(over)
    return base


def send(sink, **over):
    return notify.notify(settings(sink, **over), notify.summary(ENTRY, REGRESSIONS))


@pytest.mark.requires_tools("openssl")
def test_starttls_to_a_relay_with_an_unknown_ca_sends_nothing(certs):
    sink = TlsSmtpSink(*certs["good"])
    try:
        outcome = send(sink, smtp_starttls="true")  # the system's CAs do not know this self-signed relay
        assert outcome["sent"] == [] and "CERTIFICATE_VERIFY_FAILED" in outcome["errors"][0], outcome
        assert len(outcome["errors"][0].splitlines()) == 1
        assert sink.messages == [] and sink.auth == []  # neither the mail nor the password went out
    finally:
        sink.close()


@pytest.mark.requires_tools("openssl")
def test_starttls_with_the_relays_ca_file_delivers(certs):
    sink = TlsSmtpSink(*certs["good"])
    try:
        outcome = send(sink, smtp_starttls="true", smtp_ca_file=str(certs["good"][1]))
        assert outcome == {"sent": ["smtp"], "errors": []}
        assert len(sink.messages) == 1 and [tls for _, tls in sink.auth] == [True]
    finally:
        sink.close()


@pytest.mark.requires_tools("openssl")
def test_starttls_checks_the_host_name(certs):
    """The CA is trusted, but the certificate names another host: refused."""
    sink = TlsSmtpSink(*certs["wrong_name"])
    try:
        outcome = send(sink, smtp_starttls="true", smtp_ca_file=str(certs["wrong_name"][1]))
        assert outcome["sent"] == [] and "127.0.0.1" in outcome["errors"][0], outcome
        assert sink.messages == [] and sink.auth == []
    finally:
        sink.close()


@pytest.mark.requires_tools("openssl")
def test_smtps_verifies_like_starttls(certs):
    sink = TlsSmtpSink(*certs["good"], implicit=True)
    try:
        refused = send(sink, smtp_tls="true")
        assert refused["sent"] == [] and "CERTIFICATE_VERIFY_FAILED" in refused["errors"][0], refused
        assert sink.messages == [] and sink.auth == []
        assert send(sink, smtp_tls="true", smtp_ca_file=str(certs["good"][1])) == {"sent": ["smtp"], "errors": []}
        assert len(sink.messages) == 1 and [tls for _, tls in sink.auth] == [True]
    finally:
        sink.close()


@pytest.mark.requires_tools("openssl")
def test_no_password_over_plain_smtp(certs):
    sink = TlsSmtpSink(*certs["good"])
    try:
        outcome = send(sink)  # a user and a password, neither STARTTLS nor SMTPS
        assert outcome["sent"] == [] and len(outcome["errors"]) == 1
        error = outcome["errors"][0]
        assert "refusing to send the password" in error and "iryo_notify_smtp_starttls" in error
        assert len(error.splitlines()) == 1 and PASSWORD not in error
        assert sink.connections == 0 and sink.auth == []  # refused before connecting
    finally:
        sink.close()


def test_missing_ca_file_is_a_clear_error(tmp_path):
    outcome = notify.notify({"smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_from": "a@x.example",
                             "smtp_to": "b@x.example", "smtp_starttls": "true",
                             "smtp_ca_file": str(tmp_path / "nope.pem")}, notify.summary(ENTRY, REGRESSIONS))
    assert outcome["sent"] == [] and "nope.pem is not a readable file" in outcome["errors"][0]
