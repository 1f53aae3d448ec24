"""One real TLS handshake with the local OpenSSL: certificate chain and client authentication.

The hello probes never finish a handshake. This does, with Python's ssl at SECLEVEL=0 (so
weak certificates and old versions still complete) over memory BIOs, so every socket read
is bounded by the probe's absolute deadline. It records, through OpenSSL's message
callback, whether the server asked for a client certificate (in TLS 1.3 that request is
encrypted) and which alert ended the session. TLS 1.3 servers that require a certificate
send alert 116 certificate_required only after the client's Finished, so the session
reads on after the handshake; with http_check it sends a GET, because nginx
`ssl_verify_client on` completes the handshake and refuses only at the HTTP layer (400).
"""

import socket
import ssl
import time
from dataclasses import dataclass, field

from . import certrequest
from .hello import ALERTS, ProbeFailure, connect

CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
HTTP_LIMIT = 64 * 1024
# Alerts that mean "you did not authenticate": certificate_required (116, TLS 1.3),
# handshake_failure (40) as TLS 1.2 servers send it, bad_certificate (42), unknown_ca (48).
AUTH_ALERTS = (116, 40, 42, 48, 49)
# HTTP answers that mean "no or bad client certificate" (nginx: 400 with this text, 495, 496).
HTTP_CERT_REFUSALS = ("No required SSL certificate was sent", "SSL certificate error", "The SSL certificate error")


@dataclass
class SessionResult:
    ok: bool = False                  # handshake completed
    version: str = None
    cipher: str = None
    chain: list = field(default_factory=list)   # DER, as sent by the server, leaf first
    cert_requested: bool = None       # None: could not be observed
    cert_request: dict = None         # what the CertificateRequest asked for (certrequest.parse)
    alert: int = None                 # alert received from the server, if any
    error: str = None                 # why the handshake or the reads failed
    http_status: int = None
    http_reason: str = None
    http_headers: dict = field(default_factory=dict)
    http_body: str = ""
    rtt: float = None

    def alert_text(self):
        return "alert %s (%d)" % (ALERTS.get(self.alert, "unknown"), self.alert) if self.alert is not None else None

    def http_refuses_certificate(self):
        if self.http_status in (495, 496):
            return True
        return self.http_status == 400 and any(text in self.http_body for text in HTTP_CERT_REFUSALS)


def _context(recorder, client_cert=None, client_key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # the chain is judged afterwards, with cryptography (certs.py)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.set_ciphers(CIPHERS)
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key)
    try:
        ctx._msg_callback = recorder  # private but stable since 3.8: the only view of TLS 1.3 handshake messages
    except AttributeError:  # pragma: no cover - older or patched Python: "certificate requested" stays unknown
        recorder.available = False
    return ctx


class _Recorder:
    def __init__(self):
        self.available = True
        self.cert_requested = False
        self.cert_request = None
        self.alert = None

    def __call__(self, conn, direction, version, content_type, msg_type, data):
        if direction != "read":
            return
        if content_type == ssl._TLSContentType.HANDSHAKE and msg_type == ssl._TLSMessageType.CERTIFICATE_REQUEST:
            self.cert_requested = True
            # OpenSSL hands the whole handshake message: 1 byte type, 3 bytes length, then the body.
            self.cert_request = certrequest.parse(bytes(data)[4:], version == ssl.TLSVersion.TLSv1_3)
        elif content_type == ssl._TLSContentType.ALERT and len(data) > 1 and self.alert is None:
            if data[1] != 0:  # close_notify after "Connection: close" is the normal end, not a refusal
                self.alert = data[1]


class _Pipe:
    """Drives an SSLObject over a socket, every read bounded by the deadline."""

    def __init__(self, sock, ctx, server_name, deadline):
        self.sock, self.deadline = sock, deadline
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_name)

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Read once from the socket into OpenSSL; False when the peer closed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    def call(self, method, *args):
        while True:
            try:
                result = method(*args)
                self.flush()
                return result
            except ssl.SSLWantReadError:
                self.flush()
                if not self.pump():
                    return method(*args)  # raises the SSL error that explains the EOF


def _read_http(pipe, result):
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _wanted(data):
        try:
            chunk = pipe.call(pipe.obj.read, 16384)
        except ssl.SSLZeroReturnError:
            break
        if not chunk:
            break
        data += chunk
        if len(data) > HTTP_LIMIT:
            break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2) if lines and lines[0] else []
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        result.http_status = int(parts[1])
        result.http_reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            result.http_headers[name.strip().lower()] = value.strip()
    result.http_body = body[:2048].decode("utf-8", "replace")


def _wanted(data):
    head, sep, _ = data.partition(b"\r\n\r\n")
    if not sep:
        return HTTP_LIMIT
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            try:
                return len(head) + 4 + int(line.split(b":", 1)[1].strip())
            except ValueError:
                break
    return len(data)  # no length: take what arrived with the head (a short error page does)


def _after_handshake(pipe, result, http_check, sni, wait):
    """Send a GET (or just wait briefly) so a post-handshake refusal (alert 116, HTTP 400) shows."""
    if http_check:
        request = "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: iryo-guard-tls-probe\r\nConnection: close\r\n\r\n" % sni
        pipe.call(pipe.obj.write, request.encode("ascii"))
        _read_http(pipe, result)
        return
    # Without HTTP, a TLS 1.3 server that requires a certificate still sends alert 116 within one
    # round trip of our Finished; silence for a few round trips means it let us in.
    pipe.deadline = min(pipe.deadline, time.monotonic() + wait)
    try:
        pipe.call(pipe.obj.read, 1)
    except (socket.timeout, ssl.SSLZeroReturnError):
        pass


def run_session(endpoint, budget, http_check=True, client_cert=None, client_key=None):
    """One full handshake (+ optional HTTP GET). Never raises for server behaviour; see SessionResult."""
    result = SessionResult()
    recorder = _Recorder()
    try:
        ctx = _context(recorder, client_cert, client_key)
    except (OSError, ssl.SSLError) as exc:
        result.error = "cannot load the client certificate or key: %s" % exc
        return result
    deadline = budget.connection_deadline()
    started = time.monotonic()
    sock = connect(endpoint, budget, deadline)
    result.rtt = time.monotonic() - started
    budget.count()
    sni = endpoint.sni()
    pipe = _Pipe(sock, ctx, sni, deadline)
    try:
        pipe.call(pipe.obj.do_handshake)
        result.ok = True
        result.version = pipe.obj.version()
        result.cipher = pipe.obj.cipher()[0]
        result.chain = _chain(pipe.obj)
        _after_handshake(pipe, result, http_check, sni or endpoint.host, wait=max(0.3, 4 * result.rtt))
    except socket.timeout:
        result.error = "no answer before the deadline" + (" (after the handshake)" if result.ok else "")
    except ssl.SSLError as exc:
        result.error = "%s: %s" % (type(exc).__name__, exc.reason or exc)
        if not result.chain:
            result.chain = _chain(pipe.obj)
    except OSError as exc:
        result.error = "connection failed: %s" % (exc.strerror or exc)
    except ProbeFailure as exc:  # pragma: no cover - defensive
        result.error = exc.message
    finally:
        sock.close()
        budget.release()
    result.cert_requested = recorder.cert_requested if recorder.available else None
    result.cert_request = recorder.cert_request
    result.alert = recorder.alert
    return result


def _chain(obj):
    """The certificates the server sent, DER. Uses the unverified chain (we verify ourselves)."""
    try:
        inner = obj._sslobj
        certs = inner.get_unverified_chain() or []
        return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in certs]
    except (AttributeError, ValueError, ssl.SSLError):
        leaf = None
        try:
            leaf = obj.getpeercert(binary_form=True)
        except (ValueError, ssl.SSLError):
            pass
        return [leaf] if leaf else []
