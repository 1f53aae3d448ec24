"""The elimination chains against a scripted TLS 1.2 server: many accepted suites, a dropped
connection in the middle of a chain, and the cap on connections open at once.

The server parses each ClientHello with tlslite-ng and, like a server without its own
order, picks the first offered suite it accepts (ServerHello + ServerHelloDone), or sends
alert handshake_failure. It refuses TLS 1.3 and other versions with protocol_version. One
connection in the middle of the TLS 1.2 chain is closed without an answer, as a rate
limiter might; the probe must ask again rather than stop early.
"""

import socketserver
import threading
import time

import pytest
from tlslite.constants import ExtensionType
from tlslite.messages import ClientHello, ServerHello
from tlslite.utils.codec import Parser

from iryo_guard.tls import ciphers, hello
from iryo_guard.tls.probe import ProbeRequest, probe

ACCEPTED = [i for i in ciphers.LEGACY_SUITES if ciphers.kex_family(ciphers.LEGACY_SUITES[i]) in ("RSA", "ECDHE")][:40]
DROP_AT = 6  # the 6th TLS 1.2 hello that would be answered is dropped instead


def _record(content_type, payload):
    return bytes([content_type, 3, 3]) + len(payload).to_bytes(2, "big") + payload


def _read_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        with server.lock:
            server.active += 1
            server.peak = max(server.peak, server.active)
        try:
            self._answer(server)
        except OSError:
            pass
        finally:
            with server.lock:
                server.active -= 1

    def _answer(self, server):
        sock = self.request
        sock.settimeout(5)
        header = _read_exact(sock, 5)
        if header is None or header[0] != 22:
            sock.sendall(_record(21, b"\x02\x46"))
            return
        body = _read_exact(sock, int.from_bytes(header[3:5], "big"))
        hello = ClientHello().parse(Parser(bytearray(body[1:])))
        tls13 = any(e.extType == ExtensionType.supported_versions for e in hello.extensions or [])
        if tls13 or tuple(hello.client_version) != (3, 3):
            sock.sendall(_record(21, b"\x02\x46"))  # protocol_version
            return
        chosen = next((s for s in hello.cipher_suites if s in ACCEPTED), None)
        time.sleep(0.03)  # keep connections open long enough to overlap
        if chosen is None:
            sock.sendall(_record(21, b"\x02\x28"))  # handshake_failure
            return
        with server.lock:
            server.answered += 1
            drop = server.answered == DROP_AT
        if drop:
            return  # closed without a word
        server_hello = bytes(ServerHello().create((3, 3), bytearray(b"\x01" * 32), bytearray(0), chosen).write())
        sock.sendall(_record(22, server_hello + b"\x0e\x00\x00\x00"))
        sock.recv(1)  # wait for the client to hang up


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


@pytest.fixture
def scripted_server():
    server = _Server(("127.0.0.1", 0), _Handler)
    server.lock, server.active, server.peak, server.answered = threading.Lock(), 0, 0, 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_many_suites_and_a_dropped_connection(scripted_server):
    facts = probe(ProbeRequest("127.0.0.1", scripted_server.server_address[1], timeout=3))
    assert facts["protocols"] == ["TLSv1.2"]
    assert sorted(facts["suites"]["TLSv1.2"]) == sorted(ciphers.LEGACY_SUITES[i] for i in ACCEPTED)
    assert scripted_server.answered > DROP_AT, "the dropped hello was not asked again"
    # 40 picks; refusals ending the parallel parts; the dropped hello asked again; version probes
    assert len(ACCEPTED) < facts["handshakes"] <= len(ACCEPTED) + 20


@pytest.mark.parametrize("cap", [3, 6])
def test_connections_open_at_once_stay_under_the_cap(scripted_server, monkeypatch, cap):
    """Without a cap this server sees ~16 at once. Its own count lags the client's closes by a
    thread switch, hence the margin of 2."""
    monkeypatch.setattr(hello, "MAX_CONNECTIONS", cap)
    facts = probe(ProbeRequest("127.0.0.1", scripted_server.server_address[1], timeout=3))
    assert len(facts["suites"]["TLSv1.2"]) == len(ACCEPTED)
    assert 1 < scripted_server.peak <= cap + 2


def test_the_server_order_is_seen_as_the_clients(scripted_server):
    facts = probe(ProbeRequest("127.0.0.1", scripted_server.server_address[1], timeout=3))
    assert facts["extras"]["server_cipher_preference"] is False


def test_nothing_is_left_listening_or_connected(scripted_server):
    probe(ProbeRequest("127.0.0.1", scripted_server.server_address[1], timeout=3))
    deadline = time.monotonic() + 3
    while scripted_server.active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scripted_server.active == 0
