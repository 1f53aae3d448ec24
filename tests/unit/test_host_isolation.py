"""host_isolation: listening sockets read from this machine's real /proc, the host-class verdict."""

import os
import socket

import pytest

import iryo_sockets
from library_loader import load_library_module

host_isolation = load_library_module("host_isolation")

POSTGRES = {"name": "postgresql", "ports": ["5432/tcp"], "units": ["postgresql*"], "processes": ["postgres"]}
KNOWN = ["patient_facing", "internal", "remote_access_gateway"]


@pytest.mark.parametrize("text,version,expected", [
    ("0100007F:1F90", 4, ("127.0.0.1", 8080)),
    ("00000000:0016", 4, ("0.0.0.0", 22)),
    ("00000000000000000000000001000000:0016", 6, ("::1", 22)),
    ("0000000000000000FFFF00000100007F:01BB", 6, ("::ffff:127.0.0.1", 443)),
])
def test_proc_net_addresses(text, version, expected):
    assert iryo_sockets.hex_address(text, version) == expected


def test_finds_a_real_listening_socket_and_its_process():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp.bind(("::1", 0))
        tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
        found = host_isolation.listening()
        with open("/proc/self/comm") as handle:
            me = handle.read().strip()
        mine = [s for s in found if (s["proto"], s["port"]) in (("tcp", tcp_port), ("udp", udp_port))]
        assert {(s["proto"], s["address"]) for s in mine} == {("tcp", "127.0.0.1"), ("udp", "::1")}
        assert all(os.getpid() in s["pids"] and me in s["processes"] for s in mine)
        matched = host_isolation.match_internal(
            [{"name": "test db", "ports": ["%d/tcp" % tcp_port]}, {"name": "nfs-ish", "ports": ["%d/udp" % udp_port]},
             {"name": "absent", "ports": ["%d/udp" % tcp_port]}], found, [], set())
        assert [m["name"] for m in matched] == ["test db", "nfs-ish"]
    # closed again: gone
    assert not [s for s in host_isolation.listening() if (s["proto"], s["port"]) == ("tcp", tcp_port)]


def test_a_connected_tcp_socket_is_not_listening():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            port = client.getsockname()[1]
            assert not [s for s in host_isolation.listening() if s["port"] == port and s["proto"] == "tcp"]


def test_units_and_processes_match():
    found = host_isolation.match_internal([POSTGRES], [], ["postgresql@15-main.service", "ssh.service"],
                                          {"postgres", "sshd"})
    assert found == [{"name": "postgresql", "matched": ["process postgres running",
                                                         "unit postgresql@15-main.service running"]}]


def status(classes, found=()):
    return host_isolation.verdict(classes, KNOWN, ["patient_facing"], list(found), [], [])


def test_verdicts():
    db = [{"name": "postgresql", "matched": ["listens on 5432/tcp"]}]
    assert status(["patient_facing"])["status"] == "pass"
    assert status(["internal"], db)["status"] == "pass"
    refused = status(["patient_facing"], db)
    assert refused["status"] == "fail" and "postgresql" in refused["remediation"]
    assert "exactly one" in status([])["remediation"]
    assert status(["patient_facing", "internal"])["status"] == "fail"
    assert status(["webservers"])["evidence"]["unknown_classes"] == ["webservers"]
