"""D.1 lockout guard on the lab (issue 16 item C), on one host (portal), at most one change that needs undoing:

(a) a connection configured with a password (paramiko with ansible_password; the key still gets it in) is refused
    before anything is written, with one line that names where the password comes from;
(b) a declared administrator without an authorized key is refused, naming the account;
(c) a change the guard cannot see coming (an input the validation accepts, reload_command, moves sshd to another
    port while it reloads) is applied, the fresh login from the controller fails, the host's restore timer puts the
    previous drop-in back, and the controller (and a plain ssh) gets in again; /etc/ssh is as before.

Judges: ansible-playbook's own exit status and messages, a real `ssh` login, sha256sum of /etc/ssh.
"""

import subprocess

import pytest

from conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOST = "portal"
SNAPSHOT = "find /etc/ssh -type f -print0 | sort -z | xargs -0 sha256sum"
PLAY = """---
- name: D.1 lockout guard ({name})
  hosts: {host}
  gather_facts: false
  vars: {vars}
  tasks:
    - name: D.1 | HARDEN | sshd
      sshd_hardening:
        state: enforced
        allowed_networks: {networks}
        admin_users: {admins}
        algorithms: false
        rollback_timeout: {timeout}
{extra}
"""


def ssh_login(lab, user="iryoadmin"):
    key = REPO / "lab" / ".state" / "id_ed25519"
    return subprocess.run(["ssh", "-i", str(key), "-p", str(lab.hostvars(HOST)["ansible_port"]), "-o", "BatchMode=yes",
                           "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o",
                           "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "ControlPath=none",
                           "%s@127.0.0.1" % user, 'printf "%s" "${SSH_CONNECTION%% *}"'],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("d1-lockout")
    seen = ssh_login(lab)
    assert seen.returncode == 0, seen.stderr
    networks = ["%s/32" % seen.stdout.strip()]

    def play(name, admins=("iryoadmin",), play_vars=None, extra="", timeout=120):
        path = folder / ("%s.yml" % name)
        path.write_text(PLAY.format(name=name, host=HOST, vars=play_vars or {}, networks=networks,
                                    admins=list(admins), timeout=timeout, extra=extra))
        return lab.playbook(path, "--limit", HOST, report_dir=folder / name)

    before = lab.exec(HOST, SNAPSHOT)
    out = {}
    lab.exec(HOST, "id nokey >/dev/null 2>&1 || useradd -m -s /bin/bash nokey")
    try:
        out["password"] = play("password", play_vars={
            "ansible_connection": "paramiko", "ansible_ssh_password": "not-the-way-in",
            "ansible_paramiko_host_key_checking": False, "ansible_paramiko_look_for_keys": False})
        out["password_unchanged"] = lab.exec(HOST, SNAPSHOT) == before
        out["nokey"] = play("nokey", admins=("iryoadmin", "nokey"))
        out["nokey_unchanged"] = lab.exec(HOST, SNAPSHOT) == before
        # The injected reload: our drop-in gets "Port 2222" appended after sshd -t passed, then sshd reloads
        # (on a real host: a vendor hook, a wrong reload wrapper). sshd -t and the guard cannot see it coming.
        out["moved"] = play("moved", timeout=15, extra="""        reload_command:
          - sh
          - -c
          - echo 'Port 2222' >> /etc/ssh/sshd_config.d/00-iryo-guard.conf && systemctl try-reload-or-restart ssh""")
        out["login_after"] = ssh_login(lab)
        out["restored"] = lab.exec(HOST, SNAPSHOT) == before
        out["timer"] = lab.exec(HOST, "systemctl is-active iryo-guard-sshd-rollback.timer || true").strip()
        yield out
    finally:
        lab.exec(HOST, "userdel -r nokey >/dev/null 2>&1 || true")
        if lab.exec(HOST, SNAPSHOT) != before:
            subprocess.run([str(REPO / ".venv" / "bin" / "python"), str(REPO / "lab" / "lab.py"), "reset", HOST],
                           timeout=900, check=False)


def failed_line(result):
    """The message ansible-playbook printed for the failed task (its 'msg')."""
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("fatal: [%s]" % HOST):
            return line
    raise AssertionError("no failed task:\n%s" % result.stdout[-3000:])


def test_a_password_connection_is_refused_before_anything_is_written(runs):
    result = runs["password"]
    assert result.returncode != 0
    line = failed_line(result)
    assert ("refused, nothing written: Ansible logs in to this host as iryoadmin with a password "
            "(ansible_ssh_password)") in line, line
    assert "\\n" not in line.split('"msg": ')[-1]          # one line, no embedded newline in the message
    assert runs["password_unchanged"]


def test_an_administrator_without_an_authorized_key_is_refused(runs):
    result = runs["nokey"]
    assert result.returncode != 0
    line = failed_line(result)
    assert "turning password logins off would lock out nokey (/home/nokey/.ssh/authorized_keys absent" in line, line
    assert "iryoadmin (" not in line                                    # iryoadmin has its key
    assert runs["nokey_unchanged"]


def test_a_change_that_locks_the_controller_out_is_restored_by_the_host(runs):
    result = runs["moved"]
    assert result.returncode != 0
    line = failed_line(result)
    assert "a fresh login from the controller failed" in line, line
    assert "the host put the previous drop-in back after 15 s and the controller can log in again" in line, line
    assert runs["login_after"].returncode == 0, runs["login_after"].stderr
    assert runs["restored"], "/etc/ssh differs from before the change"
    assert runs["timer"] != "active"
