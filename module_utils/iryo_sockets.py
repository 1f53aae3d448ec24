# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening sockets of this network namespace, read from /proc/net (no ss/netstat needed).

Used by host_isolation (what a host exposes) and sshd_hardening (other remote-access services).
Standard library only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

import socket
import struct

__metaclass__ = type

PROC_NET = (("tcp", "/proc/net/tcp", 4), ("tcp", "/proc/net/tcp6", 6), ("udp", "/proc/net/udp", 4),
            ("udp", "/proc/net/udp6", 6))
TCP_LISTEN = "0A"


def hex_address(text, version):
    """'0100007F:1F90' -> ('127.0.0.1', 8080); /proc/net stores the address in host order per 32-bit word."""
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    words = b"".join(struct.pack("@I", struct.unpack(">I", raw[i:i + 4])[0]) for i in range(0, len(raw), 4))
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words), int(port, 16)


def parse_proc_net(text, proto, version):
    """Listening TCP sockets and unconnected UDP sockets of one /proc/net table."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        state, inode = fields[3], fields[9]
        if proto == "tcp" and state != TCP_LISTEN:
            continue
        remote_addr, remote_port = hex_address(fields[2], version)
        if proto == "udp" and remote_port != 0:
            continue  # a connected UDP socket is a client
        address, port = hex_address(fields[1], version)
        out.append({"proto": proto, "address": address, "port": port, "inode": inode})
    return out


def listening_sockets(proc="/proc", protos=("tcp", "udp")):
    """[{proto, address, port, inode}] from every /proc/net table of the given protocols."""
    found = []
    for proto, path, version in PROC_NET:
        if proto not in protos:
            continue
        try:
            with open(path.replace("/proc", proc, 1)) as handle:
                found.extend(parse_proc_net(handle.read(), proto, version))
        except (IOError, OSError):
            continue
    return found
