"""C.12 on the lab, one host round per clause: the audit finds the seeded weaknesses (pending security updates,
freshclam on the public mirror, 40-day-old signatures) with one task per host; harden --check changes nothing
(checksums of /etc, the signature databases and the package list); harden fixes them, and its one clause call
per host reports the state after the change (the signatures judged after the update run of the same call);
a second harden changes nothing and makes the same one call; the audit then passes. With the freshclam daemon
running, stale signatures are updated by stopping it for the run and starting it again (the real daemon holds
freshclam's log lock). The hosts are reset to their seeded state afterwards."""

import re
import sys

import pytest

from conftest import REPO, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOSTS = ("portal", "ehr", "files", "gateway")
C12 = ("c12.patches.security_pending", "c12.patches.reboot_required", "c12.patches.os_eol",
       "c12.antimalware.mirror_config", "c12.antimalware.signatures_fresh")
SEEDED = ("c12.patches.security_pending", "c12.antimalware.mirror_config", "c12.antimalware.signatures_fresh")
ROLE = "c12_patches_antimalware"
CLAUSE_TASK = "C.12 | c12.patches.security_pending"
# Everything harden --check must leave alone: configuration, signature databases (content and time), packages,
# the freshclam service.
SNAPSHOT = ("find /etc /var/lib/clamav -xdev -type f -print0 | sort -z | xargs -0 sha256sum; "
            "stat -c '%n %Y' /var/lib/clamav/*; dpkg-query -W -f '${Package} ${Version} ${Status}\\n'; "
            "systemctl is-enabled clamav-freshclam || true; systemctl is-active clamav-freshclam || true")
NO_GATE = ("-e", "iryo_audit_fail_on_findings=false")


def recap(stdout):
    return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(4))}
            for m in re.finditer(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)",
                                 stdout, re.M)}


def role_tasks_per_host(stdout, role=ROLE):
    """{host: [(task name, status), ...]} for every task of the role that reached the host (skipped ones too):
    what the controller spent a worker on, per host, read from the default callback's output."""
    per_host = {}
    for block in re.split(r"^TASK \[", stdout, flags=re.M)[1:]:
        header, _, body = block.partition("]")
        if not header.startswith(role + " : "):
            continue
        name = header[len(role) + 3:]
        for status, host in re.findall(r"^(ok|changed|skipping|failed|fatal): \[([^\]]+)\]", body, re.M):
            per_host.setdefault(host, []).append((name, status))
    return per_host


def clause_calls(stdout):
    """{host: statuses of the C.12 clause calls that ran} (a skipped task is no call)."""
    return {host: [status for name, status in tasks if name.startswith(CLAUSE_TASK) and status != "skipping"]
            for host, tasks in role_tasks_per_host(stdout).items()}


def statuses(report, checks=C12):
    return {(f["host"], f["check"]): f["status"] for f in report["findings"] if f["host"] in HOSTS
            and f["check"] in checks}


@pytest.fixture(scope="module")
def cycle(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("c12")
    out = {}

    def play(name, playbook, *args):
        result = lab.playbook(playbook, "--tags", "c12", *args, report_dir=folder / name)
        return result, lab.report(folder / name)

    try:
        out["audit_before"] = play("audit1", "playbooks/audit.yml", *NO_GATE)
        before = {h: lab.exec(h, SNAPSHOT) for h in HOSTS}
        out["check"] = play("check", "playbooks/harden.yml", "--check", "--diff")
        out["unchanged_by_check"] = {h: lab.exec(h, SNAPSHOT) == before[h] for h in HOSTS}
        out["harden"] = play("harden1", "playbooks/harden.yml")
        out["harden_again"] = play("harden2", "playbooks/harden.yml")
        out["audit_after"] = play("audit2", "playbooks/audit.yml", *NO_GATE)
        out["daemon_before_stale"] = lab.exec("files", "systemctl is-active clamav-freshclam || true").strip()
        lab.exec("files", "touch -d '40 days ago' /var/lib/clamav/hospital-local.hdb")
        out["stale_audit"] = play("stale_audit", "playbooks/audit.yml", "--limit", "files", *NO_GATE)
        out["stale_harden"] = play("stale_harden", "playbooks/harden.yml", "--limit", "files")
        out["after_stale"] = {
            "daemon": lab.exec("files", "systemctl is-active clamav-freshclam || true").strip(),
            "age_seconds": int(lab.exec("files", "echo $(( $(date +%s) - $(stat -c %Y "
                                                 "/var/lib/clamav/hospital-local.hdb) ))")),
            "log": lab.exec("files", "tail -n 30 /var/log/clamav/freshclam.log"),
        }
        yield out
    finally:
        result = run([sys.executable, REPO / "lab" / "lab.py", "reset", *HOSTS], timeout=900)
        assert result.returncode == 0, result.stderr


def test_audit_finds_the_seeded_weaknesses_with_one_task_per_host(cycle):
    result, report = cycle["audit_before"]
    assert result.returncode == 0, result.stdout[-3000:]
    found = statuses(report)
    for host in HOSTS:
        for check in SEEDED:
            assert found[(host, check)] == "fail", (host, check, found)
        assert found[(host, "c12.patches.os_eol")] == "pass"
    per_host = role_tasks_per_host(result.stdout)
    assert {h: len(per_host.get(h, [])) for h in HOSTS} == {h: 1 for h in HOSTS}, per_host


def test_harden_check_changes_nothing(cycle):
    result, report = cycle["check"]
    assert result.returncode == 0, result.stdout[-3000:]
    assert "+PrivateMirror http://mirror/clamav" in result.stdout  # freshclam.conf's diff is shown
    assert cycle["unchanged_by_check"] == {h: True for h in HOSTS}
    # check mode reports the state as it is (nothing was fetched or installed)
    assert all(statuses(report)[(h, c)] == "fail" for h in HOSTS for c in SEEDED)


def test_harden_reports_the_state_after_the_change_from_its_one_call(cycle):
    result, report = cycle["harden"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert all(recap(result.stdout)[h]["changed"] >= 1 for h in HOSTS), recap(result.stdout)
    # the same call that installed, configured and updated judged the result: signatures fetched by its update run
    assert {k: v for k, v in statuses(report).items() if v != "pass"} == {}
    assert len(statuses(report)) == len(HOSTS) * len(C12)
    for host in HOSTS:
        [mirror] = [f for f in report["findings"]
                    if f["host"] == host and f["check"] == "c12.antimalware.mirror_config"]
        assert mirror["evidence"]["update"]["ran"] is True, mirror["evidence"]
        assert mirror["evidence"]["update"]["updated"] == ["hospital-local.hdb"]
    assert clause_calls(result.stdout) == {h: ["changed"] for h in HOSTS}  # no second, audit-only call


def test_second_harden_changes_nothing_with_one_call_per_host(cycle):
    result, report = cycle["harden_again"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert {h: recap(result.stdout)[h]["changed"] for h in HOSTS} == {h: 0 for h in HOSTS}
    assert clause_calls(result.stdout) == {h: ["ok"] for h in HOSTS}  # no reboot: the re-audit after one is skipped
    assert {k: v for k, v in statuses(report).items() if v != "pass"} == {}


def test_audit_passes_after_harden(cycle):
    result, report = cycle["audit_after"]
    assert result.returncode == 0, result.stdout[-3000:]
    assert {k: v for k, v in statuses(report).items() if v != "pass"} == {}
    assert len(statuses(report)) == len(HOSTS) * len(C12)
    assert statuses(report) == statuses(cycle["harden"][1])  # harden's findings were those of the state after


def test_stale_signatures_are_updated_while_the_daemon_runs(cycle):
    assert cycle["daemon_before_stale"] == "active"
    _, stale = cycle["stale_audit"]
    assert statuses(stale)[("files", "c12.antimalware.signatures_fresh")] == "fail"
    result, report = cycle["stale_harden"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert statuses(report)[("files", "c12.antimalware.signatures_fresh")] == "pass"
    [mirror] = [f for f in report["findings"] if f["host"] == "files" and f["check"] == "c12.antimalware.mirror_config"]
    update = mirror["evidence"]["update"]
    assert update["ran"] is True and "hours old (limit" in update["reason"], update
    # the host itself: the daemon runs again, the database is new, freshclam's own log shows the update
    after = cycle["after_stale"]
    assert after["daemon"] == "active"
    assert after["age_seconds"] < 900
    assert "hospital-local.hdb updated" in after["log"] and "Failed to lock" not in after["log"], after["log"]

