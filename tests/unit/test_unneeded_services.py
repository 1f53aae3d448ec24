"""unneeded_services (cl.services.unneeded): systemd's unit lists and /proc/net captured from the lab
(tests/fixtures/systemd/README.md) judged against the role's baseline and the lab inventory's declarations, the
socket -> process -> unit mapping on a /proc tree built from the same capture, and the module run for real on
this machine through Ansible (its own /proc, with a socket the test opens; systemctl is a stand-in printing the
captured lists, since this machine does not boot with systemd)."""

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

import iryo_sockets
from iryo_guard.schema import MAX_SUMMARY
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "systemd"
DEFAULTS = yaml.safe_load((REPO / "roles" / "cl_checklist" / "defaults" / "main.yml").read_text())
LAB_ALL = yaml.safe_load((REPO / "inventory" / "lab" / "group_vars" / "hospital.yml").read_text())


@pytest.fixture(scope="module")
def us():
    return load_library_module("unneeded_services")


def lab_declared(host):
    """What the lab inventory declares for a host: group_vars/hospital.yml, then host_vars (Ansible's order)."""
    values = dict(LAB_ALL)
    path = REPO / "inventory" / "lab" / "host_vars" / ("%s.yml" % host)
    if path.exists():
        values.update(yaml.safe_load(path.read_text()) or {})
    return values


def captured(host):
    units = iryo_sockets.parse_list_units((FIXTURES / ("%s-list-units.txt" % host)).read_text())
    files = iryo_sockets.parse_list_unit_files((FIXTURES / ("%s-list-unit-files.txt" % host)).read_text())
    sockets = []
    for name, version in (("tcp", 4), ("tcp6", 6)):
        sockets += iryo_sockets.parse_proc_net((FIXTURES / ("%s-proc-net-%s.txt" % (host, name))).read_text(),
                                               "tcp", version)
    return units, files, sockets


def judge_host(us, host, sockets=None):
    units, files, found = captured(host)
    declared = lab_declared(host)
    running = us.active_units(units)
    enabled = sorted(n for n, state in files.items() if state in us.ENABLED_STATES)
    ports = set(us.port_spec(p) for p in declared.get("cl_checklist_allowed_ports", []) +
                DEFAULTS["cl_checklist_baseline_ports"])
    patterns = declared.get("cl_checklist_allowed_units", []) + DEFAULTS["cl_checklist_baseline_units"]
    socks = sockets if sockets is not None else [dict(s, processes=[], units=[]) for s in found]
    bad_units, bad_ports, judged = us.judge(running, enabled, socks, patterns, ports, False)
    params = {"allowed_units": declared.get("cl_checklist_allowed_units", []),
              "baseline_units": DEFAULTS["cl_checklist_baseline_units"], "include_loopback": False}
    return us.verdict(True, running, enabled, socks, judged, bad_units, bad_ports, params, ports)


def said(finding, status, *words):
    summary = finding["summary"]
    assert finding["status"] == status, (finding["status"], summary)
    assert summary and "\n" not in summary and len(summary) <= MAX_SUMMARY
    for word in words:
        assert word in summary, (word, summary)
    for repr_mark in ("{'", "['", "[]", "{}", "': ", "None", "True", "False"):
        assert repr_mark not in summary, (repr_mark, summary)
    return summary


def test_parses_the_captured_unit_lists(us):
    units, files, _ = captured("portal")
    by_name = {u["unit"]: u for u in units}
    assert by_name["portal-debug-http.service"] == {"unit": "portal-debug-http.service", "load": "loaded",
                                                    "active": "active", "sub": "running"}
    assert by_name["auditd.service"]["load"] == "not-found"  # a unit other units name, not installed
    assert files["getty@.service"] == "enabled" and files["portal-debug-http.service"] == "enabled"
    running = us.active_units(units)
    assert "nginx.service" in running and "dbus.socket" in running and "getty@tty1.service" not in running


def test_the_seeded_debug_server_on_the_portal_fails(us):
    finding = judge_host(us, "portal")
    said(finding, "fail", "portal-debug-http.service (running and enabled)", "8080/tcp on 0.0.0.0",
         "required: only the host's declared services and the system baseline")
    assert [u["unit"] for u in finding["evidence"]["unneeded_units"]] == ["portal-debug-http.service"]
    assert [(s["port"], s["proto"]) for s in finding["evidence"]["unneeded_listeners"]] == [(8080, "tcp")]


@pytest.mark.parametrize("host", ["ehr", "files"])
def test_hosts_that_run_only_what_they_declare_pass(us, host):
    # ehr: Apache on 443 and Debian's default :80; files (Debian 13): systemd-ssh-generator's sshd-unix-local.socket
    said(judge_host(us, host), "pass", "all declared for the host or in the baseline")


def test_without_the_baseline_debians_own_units_would_be_named(us):
    units, files, _ = captured("files")
    running = us.active_units(units)
    bad, _, _ = us.judge(running, [], [], ["ssh-hostkeys.service"], set(), False)
    assert {"systemd-journald.service", "dbus.socket", "sshd-unix-local.socket"} <= {u["unit"] for u in bad}


def test_loopback_listeners_are_judged_only_when_asked(us):
    sockets = [{"proto": "tcp", "address": "127.0.0.1", "port": 6379, "processes": ["redis-server"], "units": []},
               {"proto": "tcp", "address": "::1", "port": 5432, "processes": [], "units": []}]
    assert us.judge([], [], sockets, [], set(), False)[1] == []
    assert [s["port"] for s in us.judge([], [], sockets, [], set(), True)[1]] == [6379, 5432]


@pytest.mark.parametrize("value,expected", [(443, (443, "tcp")), ("443", (443, "tcp")), ("53/UDP", (53, "udp")),
                                            ("22/tcp", (22, "tcp"))])
def test_port_specs(us, value, expected):
    assert us.port_spec(value) == expected


@pytest.mark.parametrize("value", ["https", "0/tcp", "70000/tcp", "443/sctp", ""])
def test_bad_port_specs_are_refused(us, value):
    with pytest.raises(us.PortSpecError):
        us.port_spec(value)


# --- sockets to processes to units, on a /proc tree built from the portal's capture ---------------------------

def fake_proc(tmp_path, processes):
    """proc/net/* from the portal, and processes {pid: (comm, cgroup text, [socket inodes])}."""
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "tcp").write_text((FIXTURES / "portal-proc-net-tcp.txt").read_text())
    (proc / "net" / "tcp6").write_text((FIXTURES / "portal-proc-net-tcp6.txt").read_text())
    for pid, (comm, cgroup, inodes) in processes.items():
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        (proc / str(pid) / "cgroup").write_text(cgroup)
        for fd, inode in enumerate(inodes, start=3):
            os.symlink("socket:[%s]" % inode, proc / str(pid) / "fd" / str(fd))
    return proc


# cgroup v1 hybrid, as read from nginx in the lab's portal container (README.md)
V1 = ("9:name=systemd:/libpod_parent/libpod-17700f7c7673970affa8f9e1903987f16603d2060446815d7d9e49690f6ae8e2"
      "/system.slice/%s\n8:pids:/libpod_parent/libpod-17700f7c7673970affa8f9e1903987f16603d2060446815d7d9e49690f6ae8e2"
      "\n0::/libpod_parent/libpod-17700f7c7673970affa8f9e1903987f16603d2060446815d7d9e49690f6ae8e2\n")


def test_each_socket_names_its_process_and_unit(us, tmp_path):
    proc = fake_proc(tmp_path, {
        263: ("nginx", V1 % "nginx.service", ["3262934"]),
        933: ("python3", "0::/system.slice/portal-debug-http.service\n", ["3917883"]),  # cgroup v2
    })
    sockets = us.socket_units(iryo_sockets.listening(str(proc)), lambda pid: iryo_sockets.unit_of_pid(pid, str(proc)))
    by_port = {s["port"]: s for s in sockets}
    assert by_port[443]["processes"] == ["nginx"] and by_port[443]["units"] == ["nginx.service"]
    assert by_port[8080]["units"] == ["portal-debug-http.service"] and by_port[8080]["user"] in ("www-data", "33")
    assert by_port[22]["processes"] == [] and by_port[22]["units"] == []  # sshd's fds not in this tree
    finding = judge_host(us, "portal", sockets)
    said(finding, "fail", "8080/tcp on 0.0.0.0 (python3, portal-debug-http.service)")


def test_a_socket_whose_process_cannot_be_read_names_its_user(us, tmp_path):
    # a lab container has no CAP_SYS_PTRACE: root cannot read www-data's fds, but /proc/net gives the owner's uid
    proc = fake_proc(tmp_path, {})
    sockets = us.socket_units(iryo_sockets.listening(str(proc)), lambda pid: None)
    finding = judge_host(us, "portal", sockets)
    said(finding, "fail", "8080/tcp on 0.0.0.0 (user ")


def test_unit_of_a_process_outside_systemd_is_none(tmp_path):
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text("0::/\n")
    assert iryo_sockets.unit_of_pid(7, str(tmp_path)) is None
    assert iryo_sockets.unit_of_pid(8, str(tmp_path)) is None  # gone


# --- for real: the module through Ansible on this machine ------------------------------------------------------

def systemctl_stand_in(tmp_path, host):
    """A systemctl that prints the lab host's captured lists for exactly the commands the module runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text("#!/bin/sh\ncase \"$1 $2\" in\n"
                      "'list-units --type=service,socket') cat %s ;;\n"
                      "'list-unit-files --type=service,socket') cat %s ;;\n"
                      "*) echo \"unexpected: $*\" >&2; exit 64 ;;\nesac\n"
                      % (FIXTURES / ("%s-list-units.txt" % host), FIXTURES / ("%s-list-unit-files.txt" % host)))
    script.chmod(0o755)
    return bin_dir


def adhoc(tmp_path, module, module_args, bin_dir):
    tree = tmp_path / "tree" / "localhost"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tmp_path / "tree"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false",
               PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-c", "local", "-m", module, "-a",
                           json.dumps(module_args), "--check"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    return done, json.loads(tree.read_text())


def test_the_module_judges_this_machines_real_sockets(tmp_path):
    bin_dir = systemctl_stand_in(tmp_path, "files")
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))  # noqa: S104 - a real listener the module must find
        listener.listen()
        port = listener.getsockname()[1]
        theirs = [s for s in iryo_sockets.listening() if not s["address"].startswith("127.") and s["address"] != "::1"
                  and s["port"] != port]
        declared = ["%d/%s" % (s["port"], s["proto"]) for s in theirs]  # whatever else this machine listens on
        base = {"allowed_units": lab_declared("files")["cl_checklist_allowed_units"],
                "baseline_units": DEFAULTS["cl_checklist_baseline_units"], "allowed_ports": declared}
        done, result = adhoc(tmp_path, "unneeded_services", base, bin_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        [finding] = result["findings"]
        said(finding, "fail", "%d/tcp on 0.0.0.0 (" % port)
        [mine] = [s for s in finding["evidence"]["unneeded_listeners"]]
        assert mine["port"] == port and mine["processes"]  # this test's own process holds it
        done, result = adhoc(tmp_path, "unneeded_services", dict(base, allowed_ports=declared + [port]), bin_dir)
        [finding] = result["findings"]
        said(finding, "pass", "all declared for the host or in the baseline")
        assert finding["clause"] == "CL" and finding["host"] == "localhost"
