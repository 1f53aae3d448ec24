"""The inspection checklist's host checks (clause CL) on the lab, one host round per clause: the audit finds what
`lab.py up` seeded (docs/lab.md: tanaka, sato and suzuki on files, the debug file server on the portal, the EHR's
stale dumps) with one task per host; harden --check changes nothing (checksums of /etc/passwd, /etc/shadow and the
unit lists); harden locks exactly the leaver sato with its one call per host, which reports the state after the
change; a second harden changes nothing; the audit then passes cl.accounts.removal_locked and still fails the rest,
which a person must fix. The verdicts are checked against the tools that own the data: sshd itself (sato's key
login works before and is refused after), passwd and chage (the lock), lastlog (iryoadmin's last login), ss and
systemctl (the debug server), find -mmin (the backups). `files` is reset to its seeded state afterwards."""

import datetime
import re
import subprocess
import sys

import pytest

from conftest import REPO, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOSTS = ("portal", "ehr", "files", "gateway")
CL = ("cl.accounts.unexpected", "cl.accounts.unused", "cl.accounts.shared_uid0", "cl.accounts.removal_locked",
      "cl.services.unneeded", "cl.backups.recent")
# What lab.py seeds for the checklist (docs/lab.md) and the checks that must find it.
SEEDED = {("portal", "cl.services.unneeded"), ("ehr", "cl.backups.recent"), ("files", "cl.accounts.unexpected"),
          ("files", "cl.accounts.unused"), ("files", "cl.accounts.removal_locked")}
FIXED_BY_HARDEN = {("files", "cl.accounts.removal_locked")}
ROLE = "cl_checklist"
CLAUSE_TASK = "CL | cl.accounts.unexpected"
# Everything harden --check must leave alone: the account files and what runs or starts at boot.
SNAPSHOT = ("sha256sum /etc/passwd /etc/shadow /etc/group /etc/gshadow; "
            "systemctl list-units --type=service,socket --all --plain --no-legend --no-pager | sort; "
            "systemctl list-unit-files --type=service,socket --plain --no-legend --no-pager | sort")
NO_GATE = ("-e", "iryo_audit_fail_on_findings=false")
LEAVER_KEY = REPO / "lab" / ".state" / "leaver_ed25519"


def recap(stdout):
    return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(4))}
            for m in re.finditer(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)",
                                 stdout, re.M)}


def clause_calls(stdout):
    """{host: statuses of the CL clause calls that reached it} (a skipped task is no call)."""
    calls = {}
    for block in re.split(r"^TASK \[", stdout, flags=re.M)[1:]:
        header, _, body = block.partition("]")
        if not header.startswith("%s : %s" % (ROLE, CLAUSE_TASK)):
            continue
        for status, host in re.findall(r"^(ok|changed|skipping|failed|fatal): \[([^\]]+)\]", body, re.M):
            if status != "skipping" and host in HOSTS:
                calls.setdefault(host, []).append(status)
    return calls


def statuses(report):
    return {(f["host"], f["check"]): f["status"] for f in report["findings"] if f["host"] in HOSTS
            and f["check"] in CL}


def finding(report, host, check):
    [found] = [f for f in report["findings"] if f["host"] == host and f["check"] == check]
    return found


def leaver_login(lab):
    """sato's key login to files, decided by sshd itself: 0 when it lets sato in."""
    port = lab.hostvars("files")["ansible_port"]
    done = subprocess.run(["ssh", "-i", str(LEAVER_KEY), "-p", str(port), "-o", "BatchMode=yes", "-o",
                           "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "ConnectTimeout=10", "sato@127.0.0.1", "true"], capture_output=True, text=True,
                          timeout=60)
    return done.returncode


@pytest.fixture(scope="module")
def cycle(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cl")
    out = {}

    def play(name, playbook, *args):
        # the seeded hosts only: generic benchmark hosts (lab.py up --hosts N) are not what this is about
        result = lab.playbook(playbook, "--tags", "cl", "--limit", ",".join(HOSTS), *args, report_dir=folder / name)
        return result, lab.report(folder / name)

    try:
        out["sato_hash"] = lab.exec("files", "getent shadow sato | cut -d: -f2").strip()
        out["audit_before"] = play("audit1", "playbooks/audit.yml", *NO_GATE)
        before = {h: lab.exec(h, SNAPSHOT) for h in HOSTS}
        out["login_before"] = leaver_login(lab)
        out["check"] = play("check", "playbooks/harden.yml", "--check", "--diff")
        out["unchanged_by_check"] = {h: lab.exec(h, SNAPSHOT) == before[h] for h in HOSTS}
        out["harden"] = play("harden1", "playbooks/harden.yml", "--diff")
        out["after_harden"] = {h: lab.exec(h, SNAPSHOT) for h in HOSTS}
        out["harden_again"] = play("harden2", "playbooks/harden.yml")
        out["unchanged_by_second_harden"] = {h: lab.exec(h, SNAPSHOT) == out["after_harden"][h] for h in HOSTS}
        out["audit_after"] = play("audit2", "playbooks/audit.yml", *NO_GATE)
        out["login_after"] = leaver_login(lab)
        out["judges"] = {
            "passwd_status": lab.exec("files", "passwd --status sato").split(),
            "chage": lab.exec("files", "LC_ALL=C chage --list sato"),
            "sato_passwd": lab.exec("files", "getent passwd sato").strip(),
            "sato_home": lab.exec("files", "test -d /home/sato/.ssh && echo kept").strip(),
            "lastlog_iryoadmin": lab.exec("portal", "lastlog --user iryoadmin").splitlines()[-1],
            "debug_server": lab.exec("portal", "ss -Hltn 'sport = :8080'; systemctl is-enabled portal-debug-http; "
                                               "systemctl is-active portal-debug-http"),
            "ehr_recent_dumps": lab.exec("ehr", "find /var/backups/ehr -type f -size +0 -mmin -%d" % (26 * 60)),
            "files_recent_backups": lab.exec("files", "find /var/backups/files -type f -size +0 -mmin -%d"
                                                      % (26 * 60)),
            "files_backup_result": lab.exec("files", "systemctl show files-backup.service --property=Result"),
        }
        yield out
    finally:
        result = run([sys.executable, REPO / "lab" / "lab.py", "reset", "files"], timeout=900)
        assert result.returncode == 0, result.stderr


def test_audit_finds_the_seeded_checklist_weaknesses_with_one_task_per_host(cycle):
    result, report = cycle["audit_before"]
    assert result.returncode == 0, result.stdout[-3000:]
    found = statuses(report)
    assert len(found) == len(HOSTS) * len(CL) - 2  # portal and gateway declare no backup (they hold no data)
    assert {k for k, v in found.items() if v != "pass"} == SEEDED, found
    assert clause_calls(result.stdout) == {h: ["ok"] for h in HOSTS}
    said = {(h, c): finding(report, h, c)["summary"] for h, c in SEEDED}
    assert "tanaka (password)" in said[("files", "cl.accounts.unexpected")]
    assert "suzuki (last login 200 days ago, /var/log/lastlog)" in said[("files", "cl.accounts.unused")]
    assert "sato (password usable, expires never)" in said[("files", "cl.accounts.removal_locked")]
    assert "portal-debug-http.service (running and enabled)" in said[("portal", "cl.services.unneeded")]
    assert "8080/tcp on 0.0.0.0" in said[("portal", "cl.services.unneeded")]
    stale = said[("ehr", "cl.backups.recent")]
    assert "ehr-db-" in stale and "hours old (9 days)" in stale, stale


def test_the_verdicts_agree_with_the_tools_that_own_the_data(cycle):
    _, report = cycle["audit_before"]
    judges = cycle["judges"]
    # the debug server: ss sees it listening, systemd has it enabled and running
    assert "0.0.0.0:8080" in judges["debug_server"] and "enabled\nactive" in judges["debug_server"]
    # backups: find sees no dump younger than 26 hours on ehr and one on files, whose job last succeeded
    assert judges["ehr_recent_dumps"].strip() == "" and finding(report, "ehr", "cl.backups.recent")["status"] == "fail"
    assert judges["files_recent_backups"].strip().startswith("/var/backups/files/files-")
    assert judges["files_backup_result"].strip() == "Result=success"
    files_backup = finding(report, "files", "cl.backups.recent")
    assert files_backup["status"] == "pass" and files_backup["evidence"]["job"]["unit"] == "files-backup.service"
    assert files_backup["evidence"]["newest"]["path"] == judges["files_recent_backups"].split()[0]
    # iryoadmin's last login on the portal: what lastlog prints is what the module read
    line = judges["lastlog_iryoadmin"]
    assert line.split()[0] == "iryoadmin" and "Never logged in" not in line, line
    rows = {r["name"]: r for r in finding(report, "portal", "cl.accounts.unused")["evidence"]["accounts"]}
    assert rows["iryoadmin"]["source"] == "/var/log/lastlog"
    seen = datetime.datetime.strptime(" ".join(line.split()[-6:]), "%a %b %d %H:%M:%S %z %Y")
    ours = datetime.datetime.strptime(rows["iryoadmin"]["last_login"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert seen == ours, (line, rows["iryoadmin"])


def test_harden_check_changes_nothing_and_shows_the_lock(cycle):
    result, report = cycle["check"]
    assert result.returncode == 0, result.stdout[-3000:]
    assert cycle["unchanged_by_check"] == {h: True for h in HOSTS}
    assert "+sato: password locked, expires 1970-01-02, shell /bin/bash" in result.stdout
    assert statuses(report)[("files", "cl.accounts.removal_locked")] == "fail"  # check mode: the state as it is
    assert cycle["login_before"] == 0, "sato's key login must work before the lock (the seeded weakness)"


def test_harden_locks_exactly_the_leaver_and_its_one_call_reports_the_state_after(cycle):
    result, report = cycle["harden"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert {h: recap(result.stdout)[h]["changed"] for h in HOSTS} == {"portal": 0, "ehr": 0, "files": 1, "gateway": 0}
    assert clause_calls(result.stdout) == {"portal": ["ok"], "ehr": ["ok"], "files": ["changed"], "gateway": ["ok"]}
    found = statuses(report)
    assert {k for k, v in found.items() if v != "pass"} == SEEDED - FIXED_BY_HARDEN
    locked = finding(report, "files", "cl.accounts.removal_locked")
    assert locked["evidence"]["marked_for_removal"][0]["locked_by_this_run"] is True
    # passwd and chage on the host: locked and expired; the account, its shell and its files are still there
    judges = cycle["judges"]
    assert judges["passwd_status"][:2] == ["sato", "L"]
    assert re.search(r"^Account expires\s*:\s*Jan 02, 1970$", judges["chage"], re.M), judges["chage"]
    assert judges["sato_passwd"].endswith(":/home/sato:/bin/bash") and judges["sato_home"] == "kept"
    # and sshd refuses the leaver's key now
    assert cycle["login_after"] != 0
    # no hash anywhere: not in the diff, not in the output, not in the report
    sato_hash = cycle["sato_hash"]
    assert sato_hash.startswith("$") and len(sato_hash) > 20
    for name in ("check", "harden", "harden_again", "audit_before", "audit_after"):
        out, rep = cycle[name]
        assert sato_hash not in out.stdout + out.stderr and sato_hash not in str(rep), name
        assert sato_hash.split("$")[-2] not in out.stdout, name  # not even the salt


def test_second_harden_changes_nothing_with_one_call_per_host(cycle):
    result, report = cycle["harden_again"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert {h: recap(result.stdout)[h]["changed"] for h in HOSTS} == {h: 0 for h in HOSTS}
    assert clause_calls(result.stdout) == {h: ["ok"] for h in HOSTS}
    assert cycle["unchanged_by_second_harden"] == {h: True for h in HOSTS}


def test_audit_after_harden_passes_the_lock_and_keeps_what_a_person_must_fix(cycle):
    result, report = cycle["audit_after"]
    assert result.returncode == 0, result.stdout[-3000:]
    assert statuses(report) == statuses(cycle["harden"][1])  # harden's findings were those of the state after
    assert statuses(report)[("files", "cl.accounts.removal_locked")] == "pass"
    for host, check in SEEDED - FIXED_BY_HARDEN:
        assert finding(report, host, check)["fixable"] is False and finding(report, host, check)["remediation"]
