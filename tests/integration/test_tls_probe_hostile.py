"""Hostile and broken endpoints: the probe ends within its timeout as `error`, with a clear message.

Each endpoint is a small threaded socket server on loopback that misbehaves in one way. The
probe must raise ProbeFailure (never hang, never crash with another exception) within the
timeout plus a small margin, and the action must turn that into error findings for all
five checks.
"""

import json
import os
import socket
import socketserver
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from iryo_guard.tls.hello import ProbeFailure
from iryo_guard.tls.probe import ProbeRequest, probe
from iryo_guard.tls.verdict import CHECKS, error_findings

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 1.5
MARGIN = 1.0


def _read_hello(sock):
    sock.settimeout(5)
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def silence(sock):
    _read_hello(sock)
    time.sleep(TIMEOUT * 4)  # hold the connection open, say nothing


def reset_mid_handshake(sock):
    _read_hello(sock)
    sock.sendall(b"\x16\x03\x03\x00\x40\x02\x00\x00\x3c\x03\x03")  # a ServerHello that stops after 11 bytes
    time.sleep(0.05)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # linger 0: RST, no FIN


def garbage(sock):
    _read_hello(sock)
    sock.sendall(bytes(range(7, 200)))


def plain_http(sock):
    _read_hello(sock)
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def oversized_record(sock):
    _read_hello(sock)
    sock.sendall(b"\x16\x03\x03\xff\xff" + b"\x02" * 4096)
    time.sleep(0.2)


def slow_drip(sock):
    """A plausible record header, then one byte every 0.2 s, for longer than any deadline."""
    _read_hello(sock)
    try:
        sock.sendall(b"\x16\x03\x03\x08\x00")
        for _ in range(int(TIMEOUT * 4 / 0.2)):
            sock.sendall(b"\x02")
            time.sleep(0.2)
    except OSError:
        pass


def _server_hello():
    """A TLS 1.2 ServerHello record (ECDHE-RSA-AES128-GCM-SHA256, no extensions): enough for a client to go on
    reading the next handshake messages."""
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + b"\xc0\x2f" + b"\x00"
    message = b"\x02" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x03" + struct.pack(">H", len(message)) + message


def garbage_after_server_hello(sock):
    _read_hello(sock)
    sock.sendall(_server_hello() + bytes(range(7, 200)) * 4)
    time.sleep(0.2)


def endless_handshake(sock):
    """After the ServerHello, one small handshake record after another (a Certificate message that never ends),
    faster than any byte-level timeout notices, for longer than the deadline."""
    _read_hello(sock)
    try:
        sock.sendall(_server_hello())
        sock.sendall(b"\x16\x03\x03\x00\x04\x0b\xff\xff\xff")  # Certificate, 16 MB announced
        stop = time.monotonic() + TIMEOUT * 4
        while time.monotonic() < stop:
            sock.sendall(b"\x16\x03\x03\x00\x40" + b"\x00" * 0x40)
            time.sleep(0.01)
    except OSError:
        pass


def megabyte_chain(sock):
    """After the ServerHello, a Certificate message of 1 MB of chain, sent as fast as the client reads."""
    _read_hello(sock)
    chain = b"\x30\x82\x3f\xfb" + b"\x00" * 0x3ffb
    certs = b"".join(b"\x00\x3f\xff" + chain for _ in range(64))  # 64 x 16 KB = 1 MB
    message = b"\x0b" + struct.pack(">I", len(certs) + 3)[1:] + struct.pack(">I", len(certs))[1:] + certs
    try:
        sock.sendall(_server_hello())
        for at in range(0, len(message), 16384):
            piece = message[at:at + 16384]
            sock.sendall(b"\x16\x03\x03" + struct.pack(">H", len(piece)) + piece)
        time.sleep(TIMEOUT * 4)
    except OSError:
        pass


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.server.behaviour(self.request)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def endpoint(request):
    server = _Server(("127.0.0.1", 0), _Handler)
    server.behaviour = request.param
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _probe_failure(port):
    started = time.monotonic()
    with pytest.raises(ProbeFailure) as caught:
        probe(ProbeRequest("127.0.0.1", port, "localhost", timeout=TIMEOUT))
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + MARGIN, "the probe took %.2f s" % elapsed
    return caught.value


CASES = [
    (silence, "timeout", "sent nothing before the deadline"),
    (reset_mid_handshake, "reset", "reset the connection"),
    (garbage, "garbage", "did not answer with TLS"),
    (plain_http, "garbage", "plain HTTP"),
    (oversized_record, "oversized", "TLS allows at most"),
    (slow_drip, "timeout", "no complete answer before the deadline"),
]
# issue 16's hostile peers past the ServerHello: only "an error within the timeout, never a pass" is required of
# them, whatever words the probe finds (its kind and message are printed for the reliability table).
LATE = [garbage_after_server_hello, endless_handshake, megabyte_chain]


@pytest.mark.parametrize("endpoint,kind,words", CASES, indirect=["endpoint"],
                         ids=[c[0].__name__ for c in CASES])
def test_hostile_endpoint_ends_as_error_within_timeout(endpoint, kind, words):
    failure = _probe_failure(endpoint)
    assert failure.kind == kind, failure.message
    assert words in failure.message
    assert "127.0.0.1:%d" % endpoint in failure.message
    findings = error_findings("127.0.0.1:%d" % endpoint, failure.message)
    assert [f["check"] for f in findings] == list(CHECKS)
    assert {f["status"] for f in findings} == {"error"}


def test_closed_port_is_refused_at_once():
    failure = _probe_failure(_closed_port())
    assert failure.kind == "refused"
    assert "connection refused" in failure.message


def test_unresolvable_name():
    with pytest.raises(ProbeFailure, match="cannot resolve"):
        probe(ProbeRequest("no-such-host.invalid", 443, timeout=TIMEOUT))


def test_action_reports_error_findings_for_a_closed_port(tmp_path):
    """Through Ansible: error findings for all five checks, compliant false, the task itself not failed."""
    port = _closed_port()
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), IRYO_REPORT_DIR=str(tmp_path),
               IRYO_REPORT_COLOR="false", ANSIBLE_NOCOLOR="1", ANSIBLE_HOME=str(tmp_path / ".ansible"))
    result = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                             "-m", "tls_probe", "-a", "host=127.0.0.1 port=%d profile=mhlw-c11 timeout=1" % port],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # "localhost | SUCCESS => {...}", then the iryo report summary
    task, _ = json.JSONDecoder().raw_decode(result.stdout.split(" => ", 1)[1])
    assert task["compliant"] is False
    assert "connection refused" in task["error"]
    assert sorted(f["check"] for f in task["findings"]) == sorted(CHECKS)
    assert {f["status"] for f in task["findings"]} == {"error"}
    assert all(f["clause"] == "C.11" for f in task["findings"])


@pytest.mark.parametrize("endpoint", LATE, indirect=True, ids=[f.__name__ for f in LATE])
def test_hostile_peer_after_server_hello_ends_as_error_within_timeout(endpoint):
    failure = _probe_failure(endpoint)
    print("%s: %s" % (failure.kind, failure.message))
    assert "127.0.0.1:%d" % endpoint in failure.message and "\n" not in failure.message.strip()
