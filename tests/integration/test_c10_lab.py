"""C.10 on the lab, the whole clause in its one call per host (iryo_c10: host class, firewall, access
monitoring): the audit is one task per host and finds no firewall and a volatile journal; harden --check
changes nothing; harden applies (the firewall confirmed over a new connection inside the same task, through
sudo, over ssh and paramiko) and its own findings are of the state after the change; a second harden changes
nothing; the audit then passes; an undeclared port is unreachable from the controller while the portal's 443
still answers; a lockout attempt is refused with the ruleset untouched; an unconfirmed change is rolled back
by the host itself. The hosts are reset to their seeded state afterwards."""

import json
import re
import socket
import ssl
import sys
import time

import pytest
import yaml

from conftest import REPO, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOSTS = ("portal", "ehr", "files", "gateway")
FIREWALL = ("c10.firewall.default_drop", "c10.firewall.allowed_services")
MONITORING = ("c10.monitoring.access_logs", "c10.monitoring.journal_persistent", "c10.monitoring.log_forwarding")
ALL = FIREWALL + ("c10.isolation.host_class",) + MONITORING
# The lab's log collector (the mirror container, as in test_d1_lab.py).
COLLECTOR = {"host": "mirror", "port": 514, "protocol": "tcp"}
# What --check must not change: the persistent files, the live ruleset, the journald / rsyslog drop-ins and the
# web server configurations.
SNAPSHOT = ("sha256sum /etc/nftables.conf; ls -la /etc/nftables.d 2>&1; nft list ruleset | sha256sum; "
            "systemctl is-enabled nftables || true; ls -la /var/log/journal 2>&1 | head -1; "
            "cat /etc/systemd/journald.conf.d/* /etc/rsyslog.d/* 2>/dev/null | sha256sum; "
            "find /etc/nginx /etc/apache2 -type f 2>/dev/null | sort | xargs sha256sum | sha256sum")
AUDIT = "tests/integration/playbooks/c10_audit.yml"
HARDEN = "tests/integration/playbooks/c10_harden.yml"
UNDECLARED_PORT = 8080


def recap_changed(stdout):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)", stdout, re.M)}


def recap_tasks(stdout):
    """Tasks each host went through (ok + failed + skipped + rescued + ignored), from the PLAY RECAP."""
    found = {}
    for m in re.finditer(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)\s+"
                         r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", stdout, re.M):
        found[m.group(1)] = sum(int(n) for n in m.groups()[1:])
    return found


def statuses(report, host, checks=ALL):
    return {f["check"]: f["status"] for f in report["findings"] if f["host"] == host and f["check"] in checks}


def network():
    found = json.loads(run(["podman", "network", "inspect", "iryo-lab"], check=True).stdout)[0]["subnets"][0]
    return found["subnet"], found["gateway"]


def container_ip(host):
    out = run(["podman", "inspect", "-f", "{{json .NetworkSettings.Networks}}", "iryo-lab-%s" % host],
              check=True).stdout
    return json.loads(out)["iryo-lab"]["IPAddress"]


def tcp_answers(address, port, timeout=3):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def tls_answers(lab):
    tls = lab.hostvars("portal")["iryo_lab_tls_endpoint"]
    context = ssl.create_default_context(cafile=str(REPO / "lab" / ".state" / "pki" / "ca.pem"))
    with socket.create_connection((tls["host"], int(tls["port"])), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=tls["server_name"]) as conn:
        return conn.version()


@pytest.fixture(scope="module")
def c10(lab, tmp_path_factory):
    subnet, gateway = network()
    # The lab's policy: Ansible (and the test) reach the hosts from the podman gateway; ehr serves HTTPS to
    # the lab network (its C.11 probe comes through the gateway too); the portal serves 443 to anyone.
    policy = tmp_path_factory.mktemp("vars") / "c10.yml"
    policy.write_text(yaml.safe_dump({
        "c10_isolation_admin_sources": ["%s/32" % gateway],
        "c10_isolation_services": "{{ [{'name': 'https', 'port': 443, 'proto': 'tcp', 'sources': ['%s']}] "
                                  "if inventory_hostname == 'ehr' else [] }}" % subnet,
        "c10_isolation_monitoring_collector": COLLECTOR,
        "c10_isolation_rollback_timeout": 60,
    }))
    common = ("-e", "@%s" % policy)
    out = {"gateway": gateway}

    def step(name, playbook, *args):
        reports = tmp_path_factory.mktemp(name)
        out[name] = lab.playbook(playbook, *common, *args, report_dir=reports)
        return reports

    def snapshot():
        return {host: lab.exec(host, SNAPSHOT) for host in HOSTS}

    try:
        portal_ip = container_ip("portal")
        lab.exec("portal", "systemd-run --unit iryo-test-undeclared python3 -m http.server %d" % UNDECLARED_PORT)
        time.sleep(1)
        out["undeclared_before"] = tcp_answers(portal_ip, UNDECLARED_PORT)
        out["report_before"] = lab.report(step("audit_before", AUDIT))
        before = snapshot()
        step("check", HARDEN, "--check", "--diff")
        out["unchanged_by_check"] = {h: s == before[h] for h, s in snapshot().items()}
        out["report_harden"] = lab.report(step("harden", HARDEN))
        step("harden_again", HARDEN)
        out["report_after"] = lab.report(step("audit_after", AUDIT))
        out["undeclared_after"] = tcp_answers(portal_ip, UNDECLARED_PORT)
        out["tls_after"] = tls_answers(lab)
        out["persisted"] = {h: lab.exec(h, "systemctl is-enabled nftables; nft -c -f /etc/nftables.conf && echo valid; "
                                           "grep -c '^include \"/etc/nftables.d/iryo-guard.nft\"' /etc/nftables.conf")
                            for h in HOSTS}

        # Lockout: admin sources that exclude the address Ansible connects from.
        ruleset = lab.exec("portal", "nft list ruleset | sha256sum")
        step("lockout", HARDEN, "--limit", "portal", "-e", '{"c10_isolation_admin_sources": ["192.0.2.0/24"]}')
        out["lockout_untouched"] = lab.exec("portal", "nft list ruleset | sha256sum") == ruleset

        # Rollback: apply an extra port without confirming; the host must restore the previous table.
        persisted = lab.exec("portal", "cat /etc/nftables.d/iryo-guard.nft")
        step("unconfirmed", HARDEN, "--limit", "portal", "-e",
             json.dumps({"c10_isolation_firewall_confirm": False, "c10_isolation_rollback_timeout": 15,
                         "c10_isolation_services": [{"name": "alt", "port": UNDECLARED_PORT, "sources": ["any"]}]}))
        out["pending_table"] = lab.exec("portal", "nft list table inet iryo_guard")
        out["pending_open"] = tcp_answers(portal_ip, UNDECLARED_PORT)
        time.sleep(22)
        out["rolled_back_table"] = lab.exec("portal", "nft list table inet iryo_guard")
        out["rolled_back_open"] = tcp_answers(portal_ip, UNDECLARED_PORT)
        out["persisted_unchanged"] = lab.exec("portal", "cat /etc/nftables.d/iryo-guard.nft") == persisted
        out["rollback_journal"] = lab.exec("portal", "journalctl -u iryo-guard-fw-rollback --no-pager | tail -5")
        yield out
    finally:
        result = run([sys.executable, REPO / "lab" / "lab.py", "reset", *HOSTS], timeout=900)
        assert result.returncode == 0, result.stderr


def test_audit_finds_no_firewall_on_the_seeded_lab(c10):
    assert c10["undeclared_before"], "the test's undeclared listener was not reachable before harden"
    for host in HOSTS:
        found = statuses(c10["report_before"], host)
        assert found["c10.firewall.default_drop"] == "fail", (host, found)
        assert found["c10.firewall.allowed_services"] == "fail", (host, found)
        assert found["c10.isolation.host_class"] == "pass", (host, found)
        assert found["c10.monitoring.journal_persistent"] == "fail", (host, found)  # seeded volatile journal
        assert found["c10.monitoring.log_forwarding"] == "fail", (host, found)


def test_the_audit_is_one_task_per_host(c10):
    """Issue 13: the audit path of C.10 (tasks_from: check, as playbooks/audit.yml) is one task per host."""
    assert c10["audit_before"].returncode == 0, c10["audit_before"].stdout[-3000:]
    assert recap_tasks(c10["audit_before"].stdout) == {host: 1 for host in HOSTS}, c10["audit_before"].stdout[-2000:]
    assert recap_tasks(c10["audit_after"].stdout) == {host: 1 for host in HOSTS}


def test_check_mode_changes_nothing_and_shows_the_ruleset(c10):
    assert c10["check"].returncode == 0, c10["check"].stdout[-4000:]
    assert all(c10["unchanged_by_check"].values()), c10["unchanged_by_check"]
    assert "table inet iryo_guard {" in c10["check"].stdout and "policy drop;" in c10["check"].stdout
    assert 'include "/etc/nftables.d/iryo-guard.nft"' in c10["check"].stdout


def test_harden_applies_confirms_persists_and_is_idempotent(c10):
    assert c10["harden"].returncode == 0, c10["harden"].stdout[-4000:]
    first = recap_changed(c10["harden"].stdout)
    assert all(first[host] > 0 for host in HOSTS), first
    again = recap_changed(c10["harden_again"].stdout)
    assert c10["harden_again"].returncode == 0 and all(again[host] == 0 for host in HOSTS), again
    for host, text in c10["persisted"].items():
        assert text.split() == ["enabled", "valid", "1"], (host, text)


def test_harden_reports_the_state_after_the_change(c10):
    # harden makes no second, audit-only call: the enforcing call's own findings must already pass
    for host in HOSTS:
        found = statuses(c10["report_harden"], host)
        assert {found[c] for c in ALL if c != "c10.monitoring.access_logs"} == {"pass"}, (host, found)
        assert found["c10.monitoring.access_logs"] in ("pass", "not_applicable"), (host, found)


def test_audit_passes_after_harden(c10):
    for host in HOSTS:
        found = statuses(c10["report_after"], host)
        assert {found[c] for c in ALL if c != "c10.monitoring.access_logs"} == {"pass"}, (host, found)
        # hosts without a TLS web server have no access log to keep
        assert found["c10.monitoring.access_logs"] in ("pass", "not_applicable"), (host, found)
    assert statuses(c10["report_after"], "portal")["c10.monitoring.access_logs"] == "pass"


def test_undeclared_port_is_closed_and_https_still_answers(c10):
    assert not c10["undeclared_after"], "port %d on the portal still answers the controller" % UNDECLARED_PORT
    assert c10["tls_after"] in ("TLSv1.2", "TLSv1.3")


def test_lockout_attempt_is_refused_and_nothing_changes(c10):
    result = c10["lockout"]
    assert result.returncode != 0
    assert "lockout guard: refused" in result.stdout, result.stdout[-3000:]
    assert "drops %s → tcp/22, the address Ansible is connected from" % c10["gateway"] in result.stdout
    assert c10["lockout_untouched"]


def test_unconfirmed_change_is_rolled_back_by_the_host(c10):
    assert c10["unconfirmed"].returncode == 0, c10["unconfirmed"].stdout[-3000:]
    assert "confirmation skipped on purpose" in c10["unconfirmed"].stdout + c10["unconfirmed"].stderr
    assert "8080" in c10["pending_table"] and c10["pending_open"]
    assert "8080" not in c10["rolled_back_table"] and not c10["rolled_back_open"]
    assert "dport 443" in c10["rolled_back_table"]
    assert c10["persisted_unchanged"], "an unconfirmed ruleset must never be persisted"
    assert "iryo-guard-fw-rollback" in c10["rollback_journal"]
