"""One ClientHello, one answer: build hellos with tlslite-ng, read the server's first flight.

The probe learns what a server accepts from what it *selects*: a ClientHello offers many
suites (or groups) and the ServerHello names one. TLS 1.3 hellos carry an empty key_share,
so the server answers with a HelloRetryRequest naming suite and group, and no key exchange
is needed. For TLS 1.2 and below the whole first flight is plaintext: Certificate,
ServerKeyExchange (curve or DH prime), CertificateRequest, CertificateStatus.

Every read is bounded by an absolute deadline and by record and flight size limits, so a
silent, dripping or hostile endpoint ends as a ProbeFailure with a message, never a hang.
"""

import ipaddress
import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field

from tlslite.constants import AlertDescription, ExtensionType, HandshakeType
from tlslite.extensions import (
    ClientKeyShareExtension,
    ECPointFormatsExtension,
    RenegotiationInfoExtension,
    SignatureAlgorithmsExtension,
    SNIExtension,
    StatusRequestExtension,
    SupportedGroupsExtension,
    SupportedVersionsExtension,
    TLSExtension,
)
from tlslite.messages import ClientHello, ServerHello, ServerHello2
from tlslite.utils.codec import Parser

from .ciphers import VERSION_NAME, WIRE_VERSION

MAX_RECORD = 2 ** 14 + 2048   # TLSCiphertext limit (RFC 5246 §6.2.3); anything larger is not TLS
MAX_FLIGHT = 256 * 1024       # a first flight with a long chain is ~10 KiB; more means something is wrong
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")

# Offer every signature scheme, weak ones too: the server must not refuse us for lack of a
# scheme its (possibly weak) certificate needs. TLS 1.2 pairs (hash, signature) included.
SIGNATURE_SCHEMES = [
    (4, 3), (5, 3), (6, 3), (8, 7), (8, 8), (8, 4), (8, 5), (8, 6), (8, 9), (8, 10), (8, 11),
    (4, 1), (5, 1), (6, 1), (3, 3), (3, 1), (3, 2), (2, 3), (2, 1), (2, 2), (4, 2), (5, 2), (6, 2), (1, 1),
    (8, 0x1A), (8, 0x1B), (8, 0x1C),  # brainpool ECDSA for TLS 1.3 (RFC 8734)
]
ALERTS = {value: name for name, value in vars(AlertDescription).items() if isinstance(value, int)}


class ProbeFailure(Exception):
    """The endpoint did not answer like a TLS server. `kind` says how; the message says it for people."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Endpoint:
    host: str
    port: int
    server_name: str = None
    family: int = socket.AF_INET
    sockaddr: tuple = None

    @property
    def target(self):
        base = "%s:%d" % (self.host, self.port)
        return "%s (%s)" % (base, self.server_name) if self.server_name else base

    def sni(self):
        """The name to send as SNI: never an IP literal (RFC 6066 §3)."""
        name = self.server_name or self.host
        try:
            ipaddress.ip_address(name)
            return None
        except ValueError:
            return name


def resolve(host, port, server_name=None):
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProbeFailure("resolve", "cannot resolve %s: %s" % (host, exc.strerror)) from None
    family, _, _, _, sockaddr = infos[0]
    return Endpoint(host, int(port), server_name, family, sockaddr)


MAX_CONNECTIONS = 16  # open at once to one endpoint: gentle on production servers and rate limiters


class Budget:
    """Time and connection accounting shared by every probe thread of one endpoint.

    At most MAX_CONNECTIONS connections are open at once (a slot per connection); a thread
    waits for a slot only while it holds none, so slots cannot deadlock."""

    def __init__(self, timeout, overall, max_connections=None):
        self.timeout = float(timeout)
        self.started = time.monotonic()
        self.deadline = self.started + float(overall)
        self.handshakes = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections or MAX_CONNECTIONS)

    def count(self):
        with self._lock:
            self.handshakes += 1

    def acquire(self, deadline, blocking=True):
        if not blocking:
            return self._slots.acquire(blocking=False)
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise ProbeFailure("timeout", "no connection slot free before the deadline")
        return True

    def release(self):
        self._slots.release()

    def connection_deadline(self):
        return min(time.monotonic() + self.timeout, self.deadline)

    def elapsed(self):
        return time.monotonic() - self.started


def connect(endpoint, budget, deadline):
    """A connected socket holding one of the budget's slots: give it back with budget.release()."""
    budget.acquire(deadline)
    try:
        return open_connection(endpoint, deadline)
    except BaseException:
        budget.release()
        raise


def open_connection(endpoint, deadline):
    """A connected TCP socket, or ProbeFailure (refused, unreachable, timeout)."""
    sock = socket.socket(endpoint.family, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        sock.close()
        raise ProbeFailure("timeout", "the probe's deadline passed before connecting")
    sock.settimeout(remaining)
    try:
        sock.connect(endpoint.sockaddr)
    except socket.timeout:
        sock.close()
        raise ProbeFailure("timeout", "TCP connect to %s did not complete within %.1f s"
                           % (endpoint.target, remaining)) from None
    except ConnectionRefusedError:
        sock.close()
        raise ProbeFailure("refused", "connection refused by %s:%d (nothing listens there)"
                           % (endpoint.host, endpoint.port)) from None
    except OSError as exc:
        sock.close()
        raise ProbeFailure("connect", "cannot connect to %s:%d: %s"
                           % (endpoint.host, endpoint.port, exc.strerror or exc)) from None
    return sock


class Ahead:
    """One TCP connection opened ahead of need, for the next hello of a chain.

    A chain sends hello after hello; the TCP connect of the next one would cost a round trip
    each time. While the server thinks about hello k, the connect for hello k+1 is already
    under way (non-blocking). A chain that ends leaves one connection unused: it is closed
    without sending anything (no handshake is counted for it). The spare holds a slot of the
    budget; when none is free there is simply no spare.
    """

    def __init__(self, endpoint, budget):
        self.endpoint = endpoint
        self.budget = budget
        self.spare = None

    def start(self):
        self.close()
        if not self.budget.acquire(None, blocking=False):
            return
        sock = socket.socket(self.endpoint.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(self.endpoint.sockaddr)  # EINPROGRESS: completes while we wait for the server
        self.spare = sock

    def take(self, deadline):
        """The spare connection once connected, with its slot, or None (the caller connects as usual)."""
        sock, self.spare = self.spare, None
        if sock is None:
            return None
        try:
            _, writable, _ = select.select([], [sock], [], max(0.0, deadline - time.monotonic()))
            if writable and not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                sock.setblocking(True)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
        except (OSError, ValueError):
            pass
        sock.close()
        self.budget.release()
        return None

    def close(self):
        if self.spare is not None:
            self.spare.close()
            self.spare = None
            self.budget.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- building hellos

def _extensions(endpoint, groups, tls13):
    exts = []
    sni = endpoint.sni()
    if sni:
        exts.append(SNIExtension().create(bytearray(sni, "ascii")))
    if tls13:
        exts.append(SupportedVersionsExtension().create([WIRE_VERSION["TLSv1.3"]]))
        exts.append(ClientKeyShareExtension().create([]))  # empty: the server must name its group (HRR)
    exts.append(SupportedGroupsExtension().create(list(groups)))
    exts.append(ECPointFormatsExtension().create([0]))
    exts.append(SignatureAlgorithmsExtension().create(SIGNATURE_SCHEMES))
    if not tls13:
        exts.append(RenegotiationInfoExtension().create(bytearray(0)))  # RFC 5746: server echoes it if secure
        exts.append(StatusRequestExtension().create())                   # OCSP stapling shows as CertificateStatus
        exts.append(TLSExtension(extType=ExtensionType.extended_master_secret).create(bytearray(0)))
    return exts


def _record(content_type, version, payload):
    return bytes([content_type, version[0], version[1]]) + len(payload).to_bytes(2, "big") + bytes(payload)


def client_hello(endpoint, version, suites, groups, compression=False):
    """Record bytes of a ClientHello for `version` ("SSLv3" ... "TLSv1.3") offering `suites` and `groups`."""
    tls13 = version == "TLSv1.3"
    legacy_version = WIRE_VERSION["TLSv1.2"] if tls13 else WIRE_VERSION[version]
    hello = ClientHello().create(legacy_version, bytearray(os.urandom(32)),
                                 bytearray(os.urandom(32)) if tls13 else bytearray(0),
                                 list(suites), extensions=_extensions(endpoint, groups, tls13))
    if compression:
        hello.compression_methods = [1, 0]  # DEFLATE first: a server that compresses picks it (CRIME)
    # Record-layer version TLS 1.0 (SSL 3.0 for SSL 3.0 probes), as browsers do for the first flight.
    record_version = WIRE_VERSION["SSLv3"] if version == "SSLv3" else WIRE_VERSION["TLSv1.0"]
    return _record(22, record_version, hello.write())


def ssl2_client_hello(suites):
    hello = ClientHello(ssl2=True).create((0, 2), bytearray(os.urandom(16)), bytearray(0), list(suites))
    body = bytes(hello.write())
    return bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body


# ---------------------------------------------------------------- reading answers

@dataclass
class Answer:
    """What one ClientHello got back."""

    kind: str                       # hello | alert | closed
    version: str = None             # negotiated version name (hello)
    suite: int = None
    hrr: bool = False
    group: int = None               # HRR selected group, or ECDHE curve from ServerKeyExchange
    dh_bits: int = None             # DHE prime size from ServerKeyExchange
    certificates: list = field(default_factory=list)   # DER, leaf first (TLS <= 1.2 flights)
    cert_requested: bool = False
    ocsp_stapled: bool = False
    secure_renegotiation: bool = False
    extended_master_secret: bool = False
    compression: int = 0
    ssl2_ciphers: list = field(default_factory=list)
    alert: int = None
    note: str = None

    def alert_text(self):
        if self.alert is None:
            return self.note or "connection closed without an alert"
        return "alert %s (%d)" % (ALERTS.get(self.alert, "unknown"), self.alert)


class _Reader:
    """Reads TLS records from a socket until the caller has what it needs, within a deadline."""

    def __init__(self, sock, deadline, target):
        self.sock = sock
        self.deadline = deadline
        self.target = target
        self.buffer = b""
        self.received = 0
        self.closed_how = "closed the connection without an alert"

    def _fill(self, need):
        while len(self.buffer) < need:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout()
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise self._timeout() from None
            except ConnectionResetError:
                if self.received:
                    raise ProbeFailure("reset", "%s reset the connection after %d bytes, in the middle of a "
                                       "handshake message" % (self.target, self.received)) from None
                self.closed_how = "reset the connection (TCP RST) without an alert"
                return False
            except OSError as exc:
                raise ProbeFailure("io", "reading from %s failed: %s" % (self.target, exc)) from None
            if not chunk:
                if self.received and self.buffer:
                    raise ProbeFailure("truncated", "%s closed the connection in the middle of a record "
                                       "(after %d bytes)" % (self.target, self.received))
                return False
            self.received += len(chunk)
            if self.received > MAX_FLIGHT:
                raise ProbeFailure("oversized", "%s sent more than %d bytes without finishing its first flight"
                                   % (self.target, MAX_FLIGHT))
            self.buffer += chunk
        return True

    def _timeout(self):
        if self.received:
            return ProbeFailure("timeout", "%s sent only %d bytes and no complete answer before the deadline "
                                "(slow or stalled sender)" % (self.target, self.received))
        return ProbeFailure("timeout", "%s accepted the connection but sent nothing before the deadline"
                            % self.target)

    def record(self):
        """(content_type, payload) of the next TLS record, or None when the peer closed cleanly."""
        if not self._fill(5):
            return None
        content_type, length = self.buffer[0], int.from_bytes(self.buffer[3:5], "big")
        if content_type not in (20, 21, 22, 23) or self.buffer[1] not in (2, 3):
            raise ProbeFailure("garbage", "%s did not answer with TLS: %s" % (self.target, _describe(self.buffer)))
        if length > MAX_RECORD:
            raise ProbeFailure("oversized", "%s sent a record of %d bytes; TLS allows at most %d"
                               % (self.target, length, MAX_RECORD))
        if not self._fill(5 + length):
            raise ProbeFailure("truncated", "%s closed the connection in the middle of a record" % self.target)
        payload, self.buffer = self.buffer[5:5 + length], self.buffer[5 + length:]
        return content_type, payload

    def ssl2_record(self):
        if not self._fill(2):
            return None
        if not self.buffer[0] & 0x80:
            return False  # a TLS record (e.g. an alert) instead of SSLv2
        length = ((self.buffer[0] & 0x7F) << 8) | self.buffer[1]
        if not self._fill(2 + length):
            raise ProbeFailure("truncated", "%s closed the connection in the middle of an SSLv2 record" % self.target)
        payload, self.buffer = self.buffer[2:2 + length], self.buffer[2 + length:]
        return payload


def _describe(data):
    text = data[:40]
    if text[:5] in (b"HTTP/", b"<html", b"<!DOC") or text[:4].isalpha():
        printable = text.decode("latin-1").split("\r\n")[0]
        return "it sent %r (plain text; is this port plain HTTP or another protocol?)" % printable
    return "first bytes %s are not a TLS record header" % data[:8].hex(" ")


def _handshake_messages(reader, want_done):
    """Yield (type, body) handshake messages; handles fragmentation and coalescing."""
    pending = b""
    while True:
        while len(pending) >= 4:
            length = int.from_bytes(pending[1:4], "big")
            if len(pending) < 4 + length:
                break
            msg_type, body, pending = pending[0], pending[4:4 + length], pending[4 + length:]
            yield msg_type, body
        item = reader.record()
        if item is None:
            yield None, None
            return
        content_type, payload = item
        if content_type == 21:
            yield "alert", payload
            return
        if content_type == 22:
            pending += payload
        elif content_type == 23 and not want_done:
            return  # TLS 1.3 encrypted flight: nothing more to read in plaintext


def _parse_server_hello(body):
    hello = ServerHello().parse(Parser(bytearray(len(body).to_bytes(3, "big") + body)))
    version = tuple(hello.server_version)
    hrr = bytes(hello.random) == HRR_RANDOM
    group = None
    flags = {"secure_renegotiation": False, "extended_master_secret": False}
    for ext in hello.extensions or []:
        if ext.extType == ExtensionType.supported_versions:
            version = tuple(ext.version)
        elif ext.extType == ExtensionType.key_share:
            group = getattr(ext, "selected_group", None) or getattr(getattr(ext, "server_share", None), "group", None)
        elif ext.extType == ExtensionType.renegotiation_info:
            flags["secure_renegotiation"] = True
        elif ext.extType == ExtensionType.extended_master_secret:
            flags["extended_master_secret"] = True
    return Answer(kind="hello", version=VERSION_NAME.get(version, "0x%02x%02x" % version), suite=hello.cipher_suite,
                  hrr=hrr, group=group, compression=hello.compression_method, **flags)


def _parse_certificates(body):
    total = int.from_bytes(body[:3], "big")
    data, certs = body[3:3 + total], []
    while len(data) >= 3:
        length = int.from_bytes(data[:3], "big")
        certs.append(bytes(data[3:3 + length]))
        data = data[3 + length:]
    return certs


def _parse_key_exchange(body, suite_name, answer):
    """Curve of an ECDHE ServerKeyExchange, or DH prime size of a DHE one (RFC 4492 / 5246)."""
    kex = suite_name.split("_WITH_")[0]
    data = body
    if "PSK" in kex:
        hint = int.from_bytes(data[:2], "big")
        data = data[2 + hint:]
    if "ECDH" in kex:
        if len(data) >= 3 and data[0] == 3:  # named_curve
            answer.group = int.from_bytes(data[1:3], "big")
    elif "DH" in kex and len(data) >= 2:
        length = int.from_bytes(data[:2], "big")
        prime = int.from_bytes(data[2:2 + length], "big")
        answer.dh_bits = prime.bit_length()


def read_answer(reader, suite_name_of, full_flight):
    """Read the server's answer to a ClientHello. full_flight: read up to ServerHelloDone (TLS <= 1.2)."""
    answer = None
    for msg_type, body in _handshake_messages(reader, full_flight):
        if msg_type is None:
            return answer or Answer(kind="closed", note=reader.closed_how)
        if msg_type == "alert":
            if answer is not None:
                answer.note = "alert %d after ServerHello" % body[1] if len(body) > 1 else None
                return answer
            return Answer(kind="alert", alert=body[1] if len(body) > 1 else None)
        if answer is None:
            if msg_type != HandshakeType.server_hello:
                raise ProbeFailure("protocol", "%s answered a ClientHello with handshake message %d instead of "
                                   "ServerHello" % (reader.target, msg_type))
            answer = _parse_server_hello(body)
            if not full_flight or answer.hrr or answer.version == "TLSv1.3":
                return answer
            continue
        if msg_type == HandshakeType.certificate:
            answer.certificates = _parse_certificates(body)
        elif msg_type == HandshakeType.server_key_exchange:
            _parse_key_exchange(body, suite_name_of(answer.suite), answer)
        elif msg_type == HandshakeType.certificate_request:
            answer.cert_requested = True
        elif msg_type == HandshakeType.certificate_status:
            answer.ocsp_stapled = True
        elif msg_type == HandshakeType.server_hello_done:
            return answer
    return answer or Answer(kind="closed")


# What tlslite and our own parsers raise on a malformed message (tlslite's DecodeError is a SyntaxError).
MALFORMED = (SyntaxError, ValueError, IndexError, TypeError, AssertionError)


def exchange(endpoint, budget, record, suite_name_of, full_flight=True, ahead=None):
    """Send one ClientHello on a fresh connection and read the answer. Counts one handshake.

    With `ahead`, use its spare connection and open the next one while this hello is answered."""
    deadline = budget.connection_deadline()
    sock = (ahead.take(deadline) if ahead else None) or connect(endpoint, budget, deadline)
    try:
        if ahead:
            ahead.start()
        budget.count()
        try:
            sock.sendall(record)
        except OSError as exc:
            return Answer(kind="closed", note="sending the ClientHello failed: %s" % exc)
        reader = _Reader(sock, deadline, endpoint.target)
        try:
            return read_answer(reader, suite_name_of, full_flight)
        except MALFORMED as exc:
            raise ProbeFailure("protocol", "%s sent a malformed handshake message (%s: %s)"
                               % (endpoint.target, type(exc).__name__, exc)) from None
    finally:
        sock.close()
        budget.release()


def exchange_ssl2(endpoint, budget, suites):
    """SSLv2 CLIENT-HELLO: a SERVER-HELLO lists every SSLv2 cipher the server shares with us."""
    deadline = budget.connection_deadline()
    sock = connect(endpoint, budget, deadline)
    try:
        budget.count()
        try:
            sock.sendall(ssl2_client_hello(suites))
        except OSError as exc:
            return Answer(kind="closed", note="sending the SSLv2 hello failed: %s" % exc)
        reader = _Reader(sock, deadline, endpoint.target)
        payload = reader.ssl2_record()
        if payload is None:
            return Answer(kind="closed", note=reader.closed_how)
        if payload is False:  # a TLS answer (alert) to an SSLv2 hello: SSLv2 not spoken
            item = reader.record()
            alert = item[1][1] if item and item[0] == 21 and len(item[1]) > 1 else None
            return Answer(kind="alert", alert=alert)
        if not payload or payload[0] != 4:
            return Answer(kind="closed", note="SSLv2 answer was not a SERVER-HELLO")
        try:
            hello = ServerHello2().parse(Parser(bytearray(payload[1:])))
        except MALFORMED as exc:
            raise ProbeFailure("protocol", "%s sent a malformed SSLv2 SERVER-HELLO (%s)"
                               % (endpoint.target, exc)) from None
        return Answer(kind="hello", version="SSLv2", ssl2_ciphers=list(hello.ciphers),
                      certificates=[bytes(hello.certificate)] if hello.certificate else [])
    finally:
        sock.close()
        budget.release()
