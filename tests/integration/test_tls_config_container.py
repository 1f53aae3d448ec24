"""tls_config on a real Debian host: a throwaway container from the lab image, reached over SSH.

The container (iryo-dev-cfg-*, not labelled iryo-lab, so the shared lab never sees it) runs
systemd; nginx serves the lab portal's seeded weak site (TLS 1.0-1.2, CBC and static-RSA suites,
no client certificates), later Apache the EHR's. The module runs through ansible with its
defaults: `nginx -t -c /etc/nginx/nginx.conf`, `apache2ctl -t`, `systemctl try-reload-or-restart`.
"""

import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "tls_config"))

import harness  # noqa: E402

REPO = harness.REPO
PODMAN_ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"))
LAB = REPO / "lab" / "images" / "rootfs" / "etc"
CA_ON_HOST = "/etc/ssl/iryo-guard/client-ca.pem"


def podman(*args, check=True, timeout=120):
    result = subprocess.run(["podman", *map(str, args)], env=PODMAN_ENV, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError("podman %s failed: %s" % (" ".join(map(str, args)), result.stderr))
    return result


pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def image(lab):
    """This checkout's bookworm lab image: the lab fixture builds it when missing (an image found by
    name at collection time may belong to another checkout and be pruned by this one's build)."""
    return lab.hostvars("portal")["iryo_lab_image"]


free_port, handshake = harness.free_port, harness.handshake


def settled(predicate, times=5):
    # a host under systemd reloads more slowly than a foreground nginx: a longer deadline
    return harness.settled(predicate, times=times, timeout=20, interval=0.1)


class Host:
    def __init__(self, name, ssh_port, tls_port, key, workdir):
        self.name, self.ssh_port, self.tls_port, self.key, self.workdir = name, ssh_port, tls_port, key, workdir

    def sh(self, command, check=True):
        result = podman("exec", self.name, "sh", "-c", command, check=False, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError("%s: %s" % (command, result.stderr or result.stdout))
        return result.stdout

    def copy(self, source, dest, mode="0644"):
        self.sh("mkdir -p %s" % os.path.dirname(dest))
        podman("cp", source, "%s:%s" % (self.name, dest))
        self.sh("chown root:root %s && chmod %s %s" % (dest, mode, dest))

    def checksums(self, folder):
        return self.sh("find %s -type f -print0 | sort -z | xargs -0 sha256sum; find %s -type l -printf '%%p -> %%l\\n'"
                       % (folder, folder))

    def tls_config(self, check_mode=False, **args):
        """Run the module through ansible over SSH; returns the host's result."""
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false",
                   IRYO_REPORT_DIR=str(self.workdir / "reports"))
        cmd = [str(REPO / ".venv" / "bin" / "ansible"), "all", "-i", "127.0.0.1,", "-u", "root",
               "-e", "ansible_port=%d" % self.ssh_port, "-e", "ansible_ssh_private_key_file=%s" % self.key,
               "-e", "ansible_python_interpreter=/usr/bin/python3",
               "-e", "ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no'",
               "-m", "tls_config", "-a", json.dumps(args)]
        if check_mode:
            cmd += ["--check", "--diff"]
        run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        self.last_stdout = run.stdout
        for marker in ("127.0.0.1 | CHANGED => ", "127.0.0.1 | SUCCESS => ", "127.0.0.1 | FAILED! => "):
            if marker in run.stdout:
                result, _ = json.JSONDecoder().raw_decode(run.stdout[run.stdout.index(marker) + len(marker):])
                result.setdefault("failed", "FAILED" in marker)  # the display leaves the flag out
                return result
        raise AssertionError("no module result in ansible's output:\n%s\n%s" % (run.stdout[-3000:], run.stderr[-3000:]))


@pytest.fixture(scope="module")
def host(tmp_path_factory, image):
    workdir = tmp_path_factory.mktemp("container")
    pki = harness.make_pki(workdir / "pki")
    key = workdir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    name = "iryo-dev-cfg-%s" % secrets.token_hex(3)
    ssh_port, tls_port = free_port(), free_port()
    podman("run", "-d", "--name", name, "--hostname", "portal", "--systemd=always",
           "--publish", "127.0.0.1:%d:22" % ssh_port, "--publish", "127.0.0.1:%d:443" % tls_port, image)
    try:
        box = Host(name, ssh_port, tls_port, key, workdir)
        box.sh("systemctl is-system-running --wait || true")
        box.copy(key.with_suffix(".pub"), "/root/.ssh/authorized_keys", "0600")
        box.copy(pki / "ca.pem", CA_ON_HOST)
        for folder, site in (("/etc/nginx/ssl", "portal"), ("/etc/apache2/ssl", "ehr")):
            box.copy(pki / "server.pem", "%s/%s.lab.iryo.crt" % (folder, site))
            box.copy(pki / "server.key", "%s/%s.lab.iryo.key" % (folder, site), "0600")
        # the lab portal's role: its seeded site, nginx running under systemd
        box.sh("rm -f /etc/nginx/sites-enabled/default && "
               "ln -sf ../sites-available/portal-tls /etc/nginx/sites-enabled/portal-tls && "
               "systemctl enable --now --quiet nginx.service")
        deadline = time.monotonic() + 60
        while "SSH-" not in box.sh("timeout 2 bash -c 'head -c 4 </dev/tcp/127.0.0.1/22' || true"):
            assert time.monotonic() < deadline, "sshd did not come up"
            time.sleep(0.5)
        box.pki = pki
        yield box
    finally:
        podman("rm", "--force", "--time", "2", name, check=False)


C11 = dict(harness.PROFILE_C11_TLS12, protocols=["TLSv1.3"], client_ca_file=CA_ON_HOST)


def test_nginx_on_the_host_audit_check_failure_enforce_idempotence(host):
    files = host.checksums("/etc/nginx")
    assert handshake(host.tls_port, ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"

    audit = host.tls_config(server="nginx", **C11)
    assert audit["changed"] is False and [f["status"] for f in audit["findings"]] == ["fail"]
    assert audit["findings"][0]["target"] == "nginx /etc/nginx/sites-available/portal-tls:5 portal.lab.iryo"
    assert audit["findings"][0]["evidence"]["current"]["protocols"] == ["TLSv1", "TLSv1.1", "TLSv1.2"]

    checked = host.tls_config(check_mode=True, server="nginx", state="enforced", **C11)
    assert checked["changed"] is True and host.checksums("/etc/nginx") == files
    # (ansible's display drops `diff` below -vvv; `changes` lists the same edits)
    # the portal sets every setting itself, so nginx.conf's http{} defaults are not its business
    assert {c["file"] for c in checked["changes"]} == {"/etc/nginx/sites-available/portal-tls"}
    assert "--- before: /etc/nginx/sites-available/portal-tls" in host.last_stdout
    assert "\n-\tssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n" in host.last_stdout
    assert "\n+\tssl_protocols TLSv1.3;\n" in host.last_stdout

    # a CA file that is not there: the host's nginx -t refuses it, everything is put back
    broken = host.tls_config(server="nginx", state="enforced", **dict(C11, client_ca_file="/etc/ssl/none.pem"))
    assert broken.get("failed") and "did not validate" in broken["msg"] and "/etc/ssl/none.pem" in broken["msg"]
    assert host.checksums("/etc/nginx") == files
    assert handshake(host.tls_port, ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"
    # the action plugin turns a failed enforcement into an error finding (never a pass)
    assert [(f["check"], f["status"]) for f in broken["findings"]] == [("c11.tls.server_config", "error")]

    enforced = host.tls_config(server="nginx", state="enforced", **C11)
    assert enforced["changed"] is True, enforced.get("msg")
    assert enforced["changes"] == checked["changes"]
    nginx_t = ["/usr/sbin/nginx", "-t", "-c", "/etc/nginx/nginx.conf"]
    assert [c["cmd"] for c in enforced["commands"]] == [nginx_t, nginx_t,
                                                        ["/usr/bin/systemctl", "try-reload-or-restart", "nginx"]]
    assert [f["status"] for f in enforced["findings"]] == ["pass"]
    assert host.sh("test -L /etc/nginx/sites-enabled/portal-tls && echo link").strip() == "link"
    [backup] = enforced["backup_files"]
    assert backup["path"] == "/etc/nginx/sites-available/portal-tls"
    assert backup["backup"].startswith("/var/backups/iryo-guard/tls_config/")
    original = host.sh("sha256sum < %s" % backup["backup"]).split()[0]
    assert "%s  /etc/nginx/sites-available/portal-tls" % original in files
    assert host.sh("systemctl is-active nginx").strip() == "active"
    assert settled(lambda: handshake(host.tls_port, ssl.TLSVersion.TLSv1_2)[0] == "refused"
                   and handshake(host.tls_port, ssl.TLSVersion.TLSv1_3, host.pki)[0] == "TLSv1.3")
    # No client certificate: refused in the handshake (ssl_conf_command VerifyMode), not with HTTP 400.
    without = handshake(host.tls_port, ssl.TLSVersion.TLSv1_3)
    assert without[0] == "refused" and "CERTIFICATE_REQUIRED" in without[1].upper(), without

    again = host.tls_config(server="nginx", state="enforced", **C11)
    assert again["changed"] is False and again["commands"] == []


def test_apache_on_the_host_with_debian_defaults(host):
    host.sh("systemctl disable --now --quiet nginx.service && systemctl enable --now --quiet apache2.service")
    assert settled(lambda: handshake(host.tls_port, ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2", times=2)
    result = host.tls_config(server="apache", state="enforced", **dict(C11, hsts=None))
    assert result["changed"] is True, result.get("msg")
    assert {Path(c["file"]).name for c in result["changes"]} == {"ehr-tls.conf"}
    assert result["commands"][0]["cmd"] == ["/usr/sbin/apache2ctl", "-t"]
    assert [f["status"] for f in result["findings"]] == ["pass"]
    assert settled(lambda: handshake(host.tls_port, ssl.TLSVersion.TLSv1_2)[0] == "refused"
                   and handshake(host.tls_port, ssl.TLSVersion.TLSv1_3, host.pki)[0] == "TLSv1.3")
    assert host.tls_config(server="apache", state="enforced", **dict(C11, hsts=None))["changed"] is False
