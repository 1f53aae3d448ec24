"""D.1 SSH and C.10 access monitoring on the lab: the audit finds the seeded weaknesses (root logs in
with a key, no source restriction, default algorithms, no journal retention, no forwarding); a
hardening run that would lock Ansible out is refused and changes nothing; harden --check changes
nothing; harden fixes it with one sshd_hardening call per host, whose findings are already those of sshd
after the change; a second harden changes nothing; the audit then passes; real logins confirm it (root
refused, passwords not even offered, the administrator's key still works).
The hosts are reset to their seeded state afterwards.

The lab has no VPN: the address each host sees the controller at stands in for the VPN/VDI network.
"""

import re
import subprocess
import sys

import pytest

from conftest import REPO, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOSTS = ("portal", "ehr", "files", "gateway")
SNAPSHOT = "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum"
D1 = ("d1.ssh.password_auth", "d1.ssh.root_login", "d1.ssh.sources", "d1.ssh.algorithms", "d1.remote_access.paths")
C10 = ("c10.monitoring.journal_persistent", "c10.monitoring.log_forwarding")
COLLECTOR = {"host": "mirror", "port": 514, "protocol": "tcp"}

PLAY = """---
- name: D.1 and C.10 access monitoring ({mode})
  hosts: hospital
  gather_facts: false
  {check}
  vars:
    d1_remote_access_mode: {mode}
    d1_remote_access_allowed_networks: {networks}
    d1_remote_access_admin_users: [iryoadmin]
  roles:
    - role: d1_remote_access
  tasks:
    - name: "C.10 | HARDEN | c10.monitoring.* | Journal, forwarding, access logs"
      access_logging:
        state: enforced
        collector: {collector}
        journald_min_retention_days: 365
      when: d1_remote_access_mode == 'enforce'
    - name: "C.10 | AUDIT | c10.monitoring.* | Journal, forwarding, access logs"
      access_logging:
        collector: {collector}
        journald_min_retention_days: 365
"""


def hostvar(lab, host, key):
    return lab.hostvars(host)[key]


def ssh(lab, host, user, *options, command="true"):
    key = REPO / "lab" / ".state" / "id_ed25519"
    return subprocess.run(["ssh", "-i", str(key), "-p", str(hostvar(lab, host, "ansible_port")), "-o", "BatchMode=yes",
                           "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", *options,
                           "%s@127.0.0.1" % user, command], capture_output=True, text=True, timeout=60)


def findings(report, checks):
    return {(f["host"], f["check"]): f["status"] for f in report["findings"]
            if f["check"] in checks and f["host"] in HOSTS}


def d1_calls(stdout):
    """{host: [status, ...]} of every D.1 task that reached the host, skipped ones too (default callback output)."""
    per_host = {}
    for block in re.split(r"^TASK \[", stdout, flags=re.M)[1:]:
        header, _, body = block.partition("]")
        if header.startswith("d1_remote_access : D.1 |"):
            for status, host in re.findall(r"^(ok|changed|skipping|failed|fatal): \[([^\]]+)\]", body, re.M):
                per_host.setdefault(host, []).append(status)
    return per_host


def recap_changed(stdout):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", stdout, re.M)}


@pytest.fixture(scope="module")
def cycle(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("d1")
    sources = {}
    for host in HOSTS:
        seen = ssh(lab, host, "iryoadmin", command='printf "%s" "${SSH_CONNECTION%% *}"')
        assert seen.returncode == 0, seen.stderr
        sources[host] = seen.stdout.strip()
    networks = sorted({"%s/32" % s for s in sources.values()})

    def book(name, mode, nets, check):
        path = folder / ("%s.yml" % name)
        path.write_text(PLAY.format(mode=mode, networks=nets, collector=COLLECTOR,
                                    check="check_mode: true" if check else ""))
        return path

    out = {"sources": sources}
    try:
        def play(name, mode, nets=networks, check=False, *extra):
            return lab.playbook(book(name, mode, nets, check), *extra, report_dir=folder / name)

        out["audit_before"] = play("audit1", "audit", check=True)
        out["report_before"] = lab.report(folder / "audit1")
        before = {h: lab.exec(h, SNAPSHOT) for h in HOSTS}
        # 192.0.2.0/24 (TEST-NET-1): a VPN network that does not contain the controller
        out["lockout"] = play("lockout", "enforce", ["192.0.2.0/24"])
        out["unchanged_by_lockout"] = {h: lab.exec(h, SNAPSHOT) == before[h] for h in HOSTS}
        out["check"] = play("check", "enforce", networks, False, "--check", "--diff")
        out["unchanged_by_check"] = {h: lab.exec(h, SNAPSHOT) == before[h] for h in HOSTS}
        out["harden"] = play("harden1", "enforce")
        out["report_harden"] = lab.report(folder / "harden1")
        out["harden_again"] = play("harden2", "enforce")
        out["audit_after"] = play("audit2", "audit", check=True)
        out["report_after"] = lab.report(folder / "audit2")
        out["logins"] = {h: {
            "root_key": ssh(lab, h, "root"),
            "admin_password": ssh(lab, h, "iryoadmin", "-o", "PubkeyAuthentication=no",
                                  "-o", "PreferredAuthentications=password,keyboard-interactive"),
            "admin_key": ssh(lab, h, "iryoadmin", command="sudo -n true && echo ok"),
        } for h in HOSTS}
        yield out
    finally:
        result = run([sys.executable, REPO / "lab" / "lab.py", "reset", *HOSTS], timeout=900)
        assert result.returncode == 0, result.stderr


def test_audit_finds_the_seeded_weaknesses(cycle):
    found = findings(cycle["report_before"], D1 + C10)
    for host in HOSTS:
        for check in ("d1.ssh.root_login", "d1.ssh.sources", "d1.ssh.algorithms", "d1.remote_access.paths",
                      "c10.monitoring.journal_persistent", "c10.monitoring.log_forwarding"):
            assert found[(host, check)] == "fail", (host, check, found)
        # the lab already turned passwords off
        assert found[(host, "d1.ssh.password_auth")] == "pass"


def test_lockout_attempt_is_refused_and_changes_nothing(cycle):
    result = cycle["lockout"]
    assert result.returncode != 0
    text = result.stdout + result.stderr
    for host in HOSTS:
        assert re.search(r"refused, nothing written: the new configuration would refuse the current Ansible "
                         r"connection \(iryoadmin from %s, publickey\): DenyUsers \* matches"
                         % re.escape(cycle["sources"][host]), text), (host, text[-3000:])
    assert "d1_remote_access_allowed_networks" in text
    assert cycle["unchanged_by_lockout"] == {h: True for h in HOSTS}


def test_check_mode_changes_nothing(cycle):
    assert cycle["check"].returncode == 0, cycle["check"].stdout[-3000:]
    assert "+Match Address *,!" in cycle["check"].stdout          # the diff is shown
    assert cycle["unchanged_by_check"] == {h: True for h in HOSTS}


def test_harden_then_idempotent(cycle):
    assert cycle["harden"].returncode == 0, cycle["harden"].stdout[-4000:]
    changed = recap_changed(cycle["harden"].stdout)
    assert all(changed[h] >= 1 for h in HOSTS), changed
    assert cycle["harden_again"].returncode == 0, cycle["harden_again"].stdout[-4000:]
    assert recap_changed(cycle["harden_again"].stdout) == {h: 0 for h in HOSTS}


def test_harden_reports_the_state_after_the_change_from_its_one_call(cycle):
    found = findings(cycle["report_harden"], D1)
    assert {k: v for k, v in found.items() if v != "pass"} == {}
    assert len(found) == len(HOSTS) * len(D1)
    assert d1_calls(cycle["harden"].stdout) == {h: ["changed"] for h in HOSTS}
    assert d1_calls(cycle["harden_again"].stdout) == {h: ["ok"] for h in HOSTS}
    assert d1_calls(cycle["audit_before"].stdout) == {h: ["ok"] for h in HOSTS}


def test_audit_passes_after_harden(cycle):
    found = findings(cycle["report_after"], D1 + C10)
    assert {k: v for k, v in found.items() if v != "pass"} == {}
    assert len(found) == len(HOSTS) * len(D1 + C10)


def test_real_logins_after_harden(cycle):
    for host, logins in cycle["logins"].items():
        assert logins["root_key"].returncode == 255 and "Permission denied" in logins["root_key"].stderr, host
        # sshd offers no password method at all
        assert "Permission denied (publickey)" in logins["admin_password"].stderr, (host, logins["admin_password"])
        assert logins["admin_key"].stdout.strip() == "ok", (host, logins["admin_key"].stderr)
