"""Issue 15 item 1 on the lab: the nightly changes hosts in batches, checks each changed host's health, stops the
night at the first host that no longer serves what it served, and never changes two members of a redundancy group
in the same batch (docs/operations.md, "Rollout").

Judges: openssl s_client (which TLS version an endpoint negotiates, whether it still answers), systemctl and
`nginx -t` on the host, dpkg-query and sha256sum of /etc (the untouched hosts), the hosts' own sshd logs (nobody
logged in to them), a plain ssh client (sshd refuses), and Ansible's own output (which host's turn came when).
The broken update is the lab mirror's test hook (`lab.py broken-update`, docs/lab.md).
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml
from conftest import ENV, INVENTORY, REPO, VENV_BIN, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOSTS = ["portal", "ehr", "files", "gateway"]
UNTOUCHED = ["ehr", "files", "gateway"]
PORTAL_TLS = "127.0.0.1:8443"
EHR_TLS = "127.0.0.1:9443"


def lab_py(*args, timeout=1800):
    result = run([sys.executable, REPO / "lab" / "lab.py", *args], timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def negotiated(target, server_name):
    """openssl s_client's negotiated protocol, or None when no handshake completes (SECLEVEL 0: the seeded servers
    still speak legacy versions, and the client must not be the side that refuses)."""
    done = subprocess.run(["openssl", "s_client", "-brief", "-connect", target, "-servername", server_name,
                           "-cipher", "DEFAULT:@SECLEVEL=0"], input="", capture_output=True, text=True, timeout=30)
    found = re.search(r"^Protocol version: (\S+)", done.stdout + done.stderr, re.M)
    return found.group(1) if found and done.returncode == 0 else None


def state(lab, host):
    """What the host has installed and configured: every package version and every file under /etc."""
    packages = lab.exec(host, "dpkg-query -W -f '${Package} ${Version}\\n' | sort")
    etc = lab.exec(host, "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum", timeout=300)
    return packages, etc


def logins_since(lab, host, epoch):
    return lab.exec(host, "journalctl --since @%d -o cat | grep -c 'Accepted publickey' || true" % epoch).strip()


def serving(lab, host):
    """What the host serves, read on the host: its TCP listeners and its web servers' units."""
    listeners = lab.exec(host, "ss -Hltn | awk '{print $4}' | sort -u").split()
    units = lab.exec(host, "for u in nginx apache2; do systemctl is-active $u.service 2>/dev/null | sed \"s/^/$u /\"; "
                           "done; true").split("\n")
    return listeners, sorted(u for u in units if u.strip())


def restore(lab):
    """The lab's seeded state: mirror first, so that the reset host's apt-get update sees it without the broken
    package, then the one host the night changed."""
    lab_py("broken-update", "withdraw")
    lab_py("reset", "portal")


@pytest.fixture
def broken_update(lab):
    restored = {"done": False}
    lab_py("broken-update", "publish")
    try:
        yield restored
    finally:
        if not restored["done"]:  # the test failed before it restored the lab itself
            restore(lab)


def test_a_broken_update_stops_the_night_after_the_first_host(lab, tmp_path, broken_update):
    for host in HOSTS:  # the hospital's apt timer has seen the broken update: it is pending everywhere
        assert lab.exec(host, "apt-cache policy less | sed -n 's/^  Candidate: //p'").strip().endswith("lab2")
    before_tls = negotiated(PORTAL_TLS, "portal.lab.iryo")
    assert before_tls, "the portal must complete a handshake before the night"
    ehr_tls = negotiated(EHR_TLS, "ehr.lab.iryo")
    assert ehr_tls, "the EHR must complete a handshake before the night"
    before = {host: state(lab, host) for host in UNTOUCHED}
    served = {host: serving(lab, host) for host in UNTOUCHED}
    assert "apache2 active" in served["ehr"][1] and "*:443" in served["ehr"][0], served  # the judge sees a server
    started = int(time.time())

    # the systemd unit's command (ops/iryo-guard-nightly), with arguments passed through to ansible-playbook
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "IRYO_"))}
    env.update(IRYO_REPORT_DIR=str(tmp_path / "reports"), IRYO_NIGHTLY_LOCK=str(tmp_path / "nightly.lock"),
               CONTAINERS_CONF=ENV["CONTAINERS_CONF"])
    done = subprocess.run([REPO / "ops" / "iryo-guard-nightly", "--limit", ",".join(HOSTS)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1800)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-5000:]

    # The night stopped at the portal (the canary) with one line naming the host and what broke
    line = ("portal: %s no longer completes a TLS handshake after the nightly (before: %s; now: connection refused); "
            "443/tcp (https, nginx) no longer listens (before: on 0.0.0.0); the night stopped, 3 hosts untouched"
            % (PORTAL_TLS, before_tls))
    assert 'fatal: [portal]: FAILED! => {"changed": false, "msg": %s}' % json.dumps(line, ensure_ascii=False) in out, \
        out[-5000:]
    assert out.count("FAILED!") == 1 and "UNREACHABLE" not in out
    # ... and the judges agree: no handshake, nginx down because of the update's configuration, the update installed
    assert negotiated(PORTAL_TLS, "portal.lab.iryo") is None
    assert lab.exec("portal", "systemctl is-active nginx || true").strip() == "failed"
    nginx_t = run(["podman", "exec", "iryo-lab-portal", "nginx", "-t"])
    assert nginx_t.returncode != 0 and "zz-iryo-lab-broken-update.conf" in nginx_t.stderr
    assert lab.exec("portal", "dpkg-query -W -f '${Version}' less").endswith("lab2")

    # The other hosts: nothing installed (the broken update still only pending), nothing under /etc changed, the
    # same listeners and web servers, the EHR's TLS as before, nobody even logged in
    for host in UNTOUCHED:
        assert state(lab, host) == before[host], host
        assert not lab.exec(host, "dpkg-query -W -f '${Version}' less").endswith("lab2"), host
        assert serving(lab, host) == served[host], host
        assert logins_since(lab, host, started) == "0", host
    assert negotiated(EHR_TLS, "ehr.lab.iryo") == ehr_tls
    assert int(logins_since(lab, "portal", started)) > 0  # the judge can see the logins it looks for

    # The report names the host and the reason, and has nothing for the hosts the night never reached
    report = lab.report(tmp_path / "reports")
    health = [f for f in report["findings"] if f["check"] == "ops.nightly.health"]
    assert [(f["host"], f["status"]) for f in health] == [("portal", "fail")]
    assert health[0]["clause"] == "OPS" and health[0]["summary"].startswith(
        "%s no longer completes a TLS handshake after the nightly (before: %s; now: connection refused)"
        % (PORTAL_TLS, before_tls))
    assert health[0]["evidence"]["untouched_hosts"] == UNTOUCHED
    assert health[0]["evidence"]["before"]["tls"][0]["version"] == before_tls
    assert {f["host"] for f in report["findings"]} <= {"portal", "_organisation"}
    assert not {h["name"] for h in report["hosts"]} & set(UNTOUCHED)

    # withdraw + reset put the lab back: the update is gone from every host's lists, the portal serves again
    restore(lab)
    broken_update["done"] = True
    for host in HOSTS:
        assert not lab.exec(host, "apt-cache policy less | sed -n 's/^  Candidate: //p'").strip().endswith("lab2")
    assert not lab.exec("portal", "dpkg-query -W -f '${Version}' less").endswith("lab2")
    assert negotiated(PORTAL_TLS, "portal.lab.iryo") == before_tls


def batches_of(out, play="Harden | MHLW GL 5.2 §6.11", task="HEALTH | ops.nightly.health | What the host serves"):
    """The hosts of each batch as Ansible ran them: every start of the serial play is a batch."""
    batches = []
    for chunk in out.split("PLAY [%s]" % play)[1:]:
        section = chunk.split("TASK [%s" % task, 1)[1].split("TASK [", 1)[0]
        batches.append(sorted(re.findall(r"^(?:ok|changed|skipping|fatal): \[([\w-]+)\]", section, re.M)))
    return batches


def test_members_of_a_redundancy_group_change_in_different_batches(lab, tmp_path):
    overlay = tmp_path / "redundancy.yml"
    overlay.write_text(yaml.safe_dump({"all": {"children": {"web_pair": {
        "hosts": {"portal": None, "ehr": None}, "vars": {"iryo_redundancy_group": "web-pair"}}}}}))
    # the play's host order, as Ansible takes it from these two inventory sources
    listed = run([VENV_BIN / "ansible", "all:!iryo_excluded", "-i", INVENTORY, "-i", overlay, "--limit",
                  ",".join(HOSTS), "--list-hosts"])
    order = [line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()]
    assert sorted(order) == sorted(HOSTS), listed.stdout + listed.stderr
    naive = [order[:2], order[2:]]  # Ansible's batches of two without the plan
    assert any({"portal", "ehr"} <= set(batch) for batch in naive), order  # this order would change them together
    tls = {"portal": negotiated(PORTAL_TLS, "portal.lab.iryo"), "ehr": negotiated(EHR_TLS, "ehr.lab.iryo")}
    # --check: the nightly as it would run, changing nothing; two batches of two
    done = lab.playbook("playbooks/nightly.yml", "-i", overlay, "--check", "--limit", ",".join(HOSTS),
                        "-e", json.dumps({"iryo_nightly_serial": [2], "iryo_audit_fail_on_findings": False}),
                        report_dir=tmp_path / "reports", inventory=INVENTORY, timeout=1800)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    batches = batches_of(done.stdout)
    assert [len(b) for b in batches] == [2, 2] and sorted(h for b in batches for h in b) == sorted(HOSTS), batches
    assert not any({"portal", "ehr"} <= set(batch) for batch in batches), batches
    # the first batch: the pair's first member and the first of the others, in the play's order
    pair_first = next(h for h in order if h in ("portal", "ehr"))
    other_first = next(h for h in order if h not in ("portal", "ehr"))
    assert batches[0] == sorted([pair_first, other_first]), (order, batches)
    report = lab.report(tmp_path / "reports")
    health = {f["host"]: f for f in report["findings"] if f["check"] == "ops.nightly.health"}
    assert sorted(health) == sorted(HOSTS) and {f["status"] for f in health.values()} == {"pass"}
    for host, version in tls.items():  # the before snapshot saw what s_client sees
        assert version and [t["version"] for t in health[host]["evidence"]["before"]["tls"]] == [version]


def test_a_host_whose_sshd_no_longer_accepts_the_controller_fails_its_health_check(lab, tmp_path):
    result = tmp_path / "after.json"
    podman_env = {"CONTAINERS_CONF": ENV["CONTAINERS_CONF"]}
    playbook = [{"name": "sshd stops between before and after", "hosts": "gateway", "gather_facts": False, "tasks": [
        {"name": "before", "nightly_health": {"phase": "before"}, "register": "b"},
        {"name": "sshd stops (sessions stay: ssh.service kills only the listener)",
         "ansible.builtin.command": "podman exec iryo-lab-gateway systemctl stop ssh.service",
         "delegate_to": "localhost", "environment": podman_env, "changed_when": True},
        {"name": "after", "nightly_health": {"phase": "after", "before": "{{ b }}", "wait": 0}, "register": "a"},
        {"name": "keep", "ansible.builtin.copy": {"content": "{{ a | to_json }}", "dest": str(result), "mode": "0600"},
         "delegate_to": "localhost"}]}]
    (tmp_path / "play.yml").write_text(json.dumps(playbook))
    try:
        done = run([VENV_BIN / "ansible-playbook", "-i", INVENTORY, tmp_path / "play.yml"],
                   env=dict(ENV, IRYO_REPORT_DIR=str(tmp_path / "reports")), timeout=600)
        assert done.returncode == 0, done.stdout[-4000:]
        # the judge: a plain ssh client cannot get in either
        refused = run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes",
                       "-o", "UserKnownHostsFile=%s" % (REPO / "lab" / ".state" / "known_hosts"),
                       "-i", REPO / "lab" / ".state" / "id_ed25519", "-p", str(lab.hostvars("gateway")["ansible_port"]),
                       "iryoadmin@127.0.0.1", "true"], timeout=60)
        assert refused.returncode == 255 and "Connection refused" in refused.stderr
    finally:
        run(["podman", "exec", "iryo-lab-gateway", "systemctl", "start", "ssh.service"], timeout=120)
    after = json.loads(result.read_text())
    [finding] = after["findings"]
    line = after["iryo_nightly_health"]["line"]
    assert finding["status"] == "fail" and after["iryo_nightly_health"]["ok"] is False
    assert line.startswith("gateway: 22/tcp (ssh, sshd) no longer listens after the nightly (before: on ")
    assert re.search(r"; sshd no longer accepts a new connection from the controller \([^)]*Connection refused", line)
    assert line.endswith("; the night stopped (no host was left to change)")
    assert finding["evidence"]["after"]["ssh_new_connection"] != "accepted"
