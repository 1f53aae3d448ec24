"""ClientHello building and answer parsing, against canned server bytes over a socketpair."""

import socket
import time

import pytest
from tlslite.constants import ExtensionType
from tlslite.extensions import HRRKeyShareExtension, RenegotiationInfoExtension, SrvSupportedVersionsExtension
from tlslite.messages import ClientHello, ServerHello
from tlslite.utils.codec import Parser

from iryo_guard.tls import ciphers
from iryo_guard.tls.hello import HRR_RANDOM, Ahead, Budget, Endpoint, ProbeFailure, _Reader, client_hello, read_answer


def _parse_client_hello(record):
    assert record[0] == 22
    body = record[5:]
    assert body[0] == 1
    return ClientHello().parse(Parser(bytearray(body[1:])))


def _ext(hello, ext_type):
    return next((e for e in hello.extensions if e.extType == ext_type), None)


def test_tls13_hello_has_only_tls13_and_an_empty_key_share():
    endpoint = Endpoint("portal.example", 443)
    hello = _parse_client_hello(client_hello(endpoint, "TLSv1.3", [0x1301, 0x1302], [29, 23]))
    assert tuple(hello.client_version) == (3, 3)
    assert _ext(hello, ExtensionType.supported_versions).versions == [(3, 4)]
    assert _ext(hello, ExtensionType.key_share).client_shares == []
    assert _ext(hello, ExtensionType.supported_groups).groups == [29, 23]
    assert hello.cipher_suites == [0x1301, 0x1302]
    assert bytes(_ext(hello, ExtensionType.server_name).hostNames[0]) == b"portal.example"
    assert len(hello.session_id) == 32  # middlebox compatibility


def test_legacy_hello_offers_deflate_when_asked_and_no_supported_versions():
    hello = _parse_client_hello(client_hello(Endpoint("127.0.0.1", 443), "TLSv1.0", [0x002F], [23],
                                             compression=True))
    assert tuple(hello.client_version) == (3, 1)
    assert _ext(hello, ExtensionType.supported_versions) is None
    assert _ext(hello, ExtensionType.server_name) is None  # never an IP address as SNI
    assert _ext(hello, ExtensionType.renegotiation_info) is not None
    assert hello.compression_methods == [1, 0]


def test_every_known_suite_fits_in_one_hello():
    record = client_hello(Endpoint("h", 1), "TLSv1.2", list(ciphers.LEGACY_SUITES), ciphers.EC_GROUPS)
    assert len(record) < 2 ** 14


# ------------------------------------------------------------------ answers

def _record(content_type, payload, version=(3, 3)):
    return bytes([content_type, *version]) + len(payload).to_bytes(2, "big") + payload


def _handshake(msg_type, body):
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def _server_hello(suite, version=(3, 3), extensions=None, random=None):
    """A whole ServerHello handshake message (tlslite adds the 4-byte header)."""
    hello = ServerHello().create(version, bytearray(random or b"\x11" * 32), bytearray(0), suite,
                                 extensions=extensions)
    return bytes(hello.write())


def _answer(data, full_flight=True, close=True, timeout=2.0):
    server, client = socket.socketpair()
    try:
        server.sendall(data)
        if close:
            server.shutdown(socket.SHUT_WR)
        reader = _Reader(client, time.monotonic() + timeout, "test:443")
        return read_answer(reader, ciphers.suite_name, full_flight)
    finally:
        server.close()
        client.close()


def test_hello_retry_request_names_suite_and_group():
    hrr = _server_hello(0x1302, extensions=[SrvSupportedVersionsExtension().create((3, 4)),
                                            HRRKeyShareExtension().create(24)], random=HRR_RANDOM)
    answer = _answer(_record(22, hrr), full_flight=False)
    assert (answer.kind, answer.version, answer.hrr, answer.suite, answer.group) == ("hello", "TLSv1.3", True,
                                                                                    0x1302, 24)


def _ecdhe_key_exchange(curve):
    return b"\x03" + curve.to_bytes(2, "big") + b"\x41" + b"\x04" * 65 + b"\x04\x01\x00\x02" + b"\x00\x00"


def test_tls12_flight_split_across_records():
    flight = (_server_hello(0xC02F, extensions=[RenegotiationInfoExtension().create(bytearray(0))])
              + _handshake(11, (6).to_bytes(3, "big") + (3).to_bytes(3, "big") + b"abc")
              + _handshake(12, _ecdhe_key_exchange(23))
              + _handshake(13, b"\x01\x01\x00\x00\x00")
              + _handshake(14, b""))
    data = _record(22, flight[:7]) + _record(22, flight[7:30]) + _record(22, flight[30:])
    answer = _answer(data)
    assert (answer.version, ciphers.suite_name(answer.suite)) == ("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    assert answer.group == 23
    assert answer.certificates == [b"abc"]
    assert answer.cert_requested is True
    assert answer.secure_renegotiation is True


def test_dhe_key_exchange_gives_the_prime_size():
    prime = (1 << 1023) | 1
    body = (128).to_bytes(2, "big") + prime.to_bytes(128, "big") + b"\x00\x01\x02" + b"\x00\x01\x05"
    flight = _server_hello(0x009F) + _handshake(12, body) + _handshake(14, b"")
    assert _answer(_record(22, flight)).dh_bits == 1024


def test_alert_and_silent_close_are_refusals():
    alert = _answer(_record(21, b"\x02\x46"))
    assert (alert.kind, alert.alert, alert.alert_text()) == ("alert", 70, "alert protocol_version (70)")
    closed = _answer(b"")
    assert closed.kind == "closed" and "without an alert" in closed.alert_text()


@pytest.mark.parametrize("data,kind,words", [
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "garbage", "plain HTTP"),
    (b"\x00\x01\x02\x03\x04\x05\x06\x07", "garbage", "not a TLS record header"),
    (b"\x16\x03\x03\xff\xff" + b"\x00" * 100, "oversized", "TLS allows at most 18432"),
    (b"\x16\x03\x03\x00\x40\x02\x00", "truncated", "in the middle of a record"),
    (_record(22, _handshake(11, b"\x00\x00\x00")), "protocol", "instead of ServerHello"),
])
def test_broken_answers_raise_probe_failures(data, kind, words):
    with pytest.raises(ProbeFailure) as caught:
        _answer(data)
    assert caught.value.kind == kind
    assert words in caught.value.message


def test_a_stalled_sender_times_out_on_the_deadline():
    started = time.monotonic()
    with pytest.raises(ProbeFailure, match="sent only 3 bytes") as caught:
        _answer(b"\x16\x03\x03", close=False, timeout=0.3)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.0


def test_connection_slots_are_capped_and_a_spare_needs_a_free_one():
    budget = Budget(1, 3, max_connections=2)
    assert budget.acquire(time.monotonic() + 1) and budget.acquire(time.monotonic() + 1)
    with pytest.raises(ProbeFailure, match="no connection slot"):
        budget.acquire(time.monotonic() + 0.1)
    ahead = Ahead(Endpoint("127.0.0.1", 9, family=socket.AF_INET, sockaddr=("127.0.0.1", 9)), budget)
    ahead.start()
    assert ahead.spare is None  # no free slot: no connection opened ahead
    budget.release()
    ahead.start()
    assert ahead.spare is not None
    ahead.close()  # gives its slot back
    assert budget.acquire(time.monotonic() + 0.1)
