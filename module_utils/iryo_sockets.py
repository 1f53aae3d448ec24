# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host runs and exposes: listening sockets of this network namespace read from /proc/net (no
ss/netstat needed), the processes and systemd units that own them, and systemd's unit lists.

Used by host_isolation (internal services on a patient-facing host), unneeded_services (running, enabled
and listening things against the host's declared services) and sshd_hardening (other remote-access
services). One reader for all of them, so that they see a host the same way.
Standard library only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import pwd
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
        out.append({"proto": proto, "address": address, "port": port, "inode": inode, "uid": int(fields[7])})
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


def socket_owners(proc="/proc"):
    """inode -> set of (pid, comm) for every process whose fds we can read."""
    owners = {}
    for fd_dir in glob.glob(os.path.join(proc, "[0-9]*", "fd")):
        pid = fd_dir.split(os.sep)[-2]
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        comm = None
        for name in names:
            try:
                target = os.readlink(os.path.join(fd_dir, name))
            except OSError:
                continue
            if target.startswith("socket:["):
                if comm is None:
                    try:
                        with open(os.path.join(proc, pid, "comm")) as handle:
                            comm = handle.read().strip()
                    except (IOError, OSError):
                        comm = "?"
                owners.setdefault(target[8:-1], set()).add((int(pid), comm))
    return owners


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def listening(proc="/proc"):
    """[{proto, address, port, user, processes, pids}]: every listening socket once, with the user owning it (from
    /proc/net, always known) and the processes holding it (from /proc/PID/fd, which needs the right to inspect other
    users' processes: without CAP_SYS_PTRACE, in a container, only root's own are seen)."""
    found = listening_sockets(proc)
    owners = socket_owners(proc)
    out, seen = [], set()
    for sock in found:
        procs = sorted(owners.get(sock["inode"], ()))
        entry = {"proto": sock["proto"], "address": sock["address"], "port": sock["port"],
                 "user": user_name(sock["uid"]) if "uid" in sock else None,
                 "processes": sorted({c for _, c in procs}), "pids": sorted({p for p, _ in procs})}
        key = (entry["proto"], entry["address"], entry["port"])
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return sorted(out, key=lambda e: (e["proto"], e["port"], e["address"]))


UNIT_SUFFIXES = (".service", ".socket", ".scope", ".mount", ".swap", ".timer", ".path")


def unit_of_pid(pid, proc="/proc"):
    """The systemd unit a process runs in, from its cgroup path (/proc/PID/cgroup: `0::/system.slice/nginx.service`
    on cgroup v2, the `name=systemd` line on v1 and hybrid hosts); None when it is in none (a kernel thread,
    no systemd, a process that has gone)."""
    try:
        with open(os.path.join(proc, str(pid), "cgroup")) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    paths = [line.split(":", 2)[2] for line in lines if line.count(":") >= 2
             and (line.startswith("0::") or ":name=systemd:" in line)]
    for path in paths:
        # The innermost unit: a container's own systemd nests its units under the host's slice.
        units = [part for part in path.split("/") if part.endswith(UNIT_SUFFIXES)]
        if units:
            return units[-1]
    return None


def running_units(module):
    """Running systemd services (names), or None without a working systemctl."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return None
    rc, out, _ = module.run_command([systemctl, "list-units", "--type=service", "--state=running", "--no-legend",
                                     "--plain", "--no-pager"])
    if rc != 0:
        return None
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def parse_list_units(text):
    """`systemctl list-units --all --plain --no-legend` -> [{unit, load, active, sub}] (description left out)."""
    units = []
    for line in text.splitlines():
        fields = line.split(None, 4)
        if len(fields) >= 4 and "." in fields[0]:
            units.append({"unit": fields[0], "load": fields[1], "active": fields[2], "sub": fields[3]})
    return units


def parse_list_unit_files(text):
    """`systemctl list-unit-files --plain --no-legend` -> {unit file: state} (the vendor preset column left out)."""
    states = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and "." in fields[0]:
            states[fields[0]] = fields[1]
    return states


def systemd_units(module, types=("service", "socket")):
    """{"units": list-units of those types (every loaded one), "unit_files": {file: state}} from systemctl,
    or None without systemctl. A systemctl that fails raises RuntimeError with its message."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return None
    kinds = "--type=" + ",".join(types)
    rc, units, err = module.run_command([systemctl, "list-units", kinds, "--all", "--plain", "--no-legend",
                                         "--no-pager"])
    if rc != 0:
        raise RuntimeError("systemctl list-units failed (exit %d): %s" % (rc, (err or units).strip()))
    rc, files, err = module.run_command([systemctl, "list-unit-files", kinds, "--plain", "--no-legend",
                                         "--no-pager"])
    if rc != 0:
        raise RuntimeError("systemctl list-unit-files failed (exit %d): %s" % (rc, (err or files).strip()))
    return {"units": parse_list_units(units), "unit_files": parse_list_unit_files(files)}
