"""The lab itself: reachable over SSH with its key, and seeded non-compliant as docs/lab.md says."""

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
LAB_PY = REPO / "lab" / "lab.py"
STATE = REPO / "lab" / ".state"
HOSTS_FILE = REPO / "inventory" / "lab" / "hosts.yml"
ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"))
AUDITED = ("portal", "ehr", "files", "gateway")
TLS_HOSTS = ("portal", "ehr")
TLS_KEYS = {"portal": "/etc/nginx/ssl/portal.lab.iryo.key", "ehr": "/etc/apache2/ssl/ehr.lab.iryo.key"}


def run(cmd, timeout=120, check=True):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=ENV,
                            cwd=REPO)
    if check:
        assert result.returncode == 0, "%s\n%s\n%s" % (cmd, result.stdout[-2000:], result.stderr[-2000:])
    return result


def lab(*args, timeout=1800):
    return run([sys.executable, LAB_PY, *args], timeout=timeout)


def host_exec(host, command):
    return run(["podman", "exec", "iryo-lab-" + host, "sh", "-c", command]).stdout


def lab_containers():
    output = run(["podman", "ps", "-a", "--filter", "label=iryo-lab=1", "--format", "json"]).stdout
    return {c["Names"][0]: c for c in json.loads(output or "[]")}


def all_hosts(inventory):
    found = {}

    def walk(group):
        found.update((group or {}).get("hosts") or {})
        for child in ((group or {}).get("children") or {}).values():
            walk(child)

    walk(inventory["all"])
    return found


@pytest.fixture(scope="module")
def started_here(lab_lock):
    """Start the lab when nobody has (the session fixture in conftest.py normally has)."""
    existed = HOSTS_FILE.exists()
    if not existed:
        lab("up")
    return not existed


@pytest.fixture(scope="module")
def inventory(started_here):
    return yaml.safe_load(HOSTS_FILE.read_text())


@pytest.fixture(scope="module")
def hostvars(inventory):
    return all_hosts(inventory)


def test_inventory_groups_and_connections(inventory, hostvars):
    hospital = inventory["all"]["children"]["hospital"]["children"]
    assert set(hospital["patient_facing"]["hosts"]) == {"portal"}
    assert set(hospital["internal"]["hosts"]) == {"ehr", "files"}
    assert set(hospital["remote_access_gateway"]["hosts"]) == {"gateway"}
    assert "mirror" not in hostvars, "the mirror is lab infrastructure, never audited"
    # ssh everywhere: ansible-core 2.19 deprecates paramiko, and the runs stay free of deprecation warnings
    assert {hostvars[h]["ansible_connection"] for h in ("portal", "ehr", "files", "gateway")} == {"ssh"}
    for host in AUDITED:
        assert hostvars[host]["ansible_host"] == "127.0.0.1" and hostvars[host]["ansible_user"] == "iryoadmin"
        assert hostvars[host]["ansible_become"] is True
        assert hostvars[host]["ansible_host_key_checking"] is False
    endpoint = hostvars["portal"]["iryo_lab_tls_endpoint"]
    assert endpoint["host"] == "127.0.0.1" and endpoint["server_name"] == "portal.lab.iryo"
    assert endpoint["port"] == int(os.environ.get("IRYO_LAB_PORTAL_TLS_PORT") or 8443)


def test_controller_secrets_are_private(hostvars):
    key = Path(hostvars["portal"]["ansible_ssh_private_key_file"])
    for path in (key, STATE / "pki" / "ca.key", STATE / "pki" / "client-ca.key", STATE / "pki" / "client.key"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (STATE / "pki" / "ca.pem").exists() and (STATE / "pki" / "client.pem").exists()


@pytest.mark.parametrize("host", AUDITED)
def test_ssh_login_with_the_lab_key_only(hostvars, host):
    hv = hostvars[host]
    base = ["ssh", "-p", hv["ansible_port"], "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            "-o", "StrictHostKeyChecking=yes", *hv["ansible_ssh_common_args"].split()]
    key = ["-i", hv["ansible_ssh_private_key_file"]]
    result = run(base + key + ["iryoadmin@127.0.0.1", "hostname; sudo -n id -u"], timeout=30)
    assert result.stdout.split() == [host, "0"], "the administrator logs in by key and becomes root"
    # Seeded D.1 weakness: root may still log in with a key (PermitRootLogin prohibit-password).
    assert run(base + key + ["root@127.0.0.1", "id -u"], timeout=30).stdout.strip() == "0"
    no_key = ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"]
    for user in ("root", "iryoadmin"):
        refused = run(base + no_key + [user + "@127.0.0.1", "true"], timeout=30, check=False)
        assert refused.returncode == 255 and "Permission denied" in refused.stderr


def pending_upgrades(host):
    """{package: release (origin:version/suite)} from `apt-get -s upgrade`'s Inst lines."""
    pending = {}
    for line in host_exec(host, "apt-get -s -q upgrade").splitlines():
        if line.startswith("Inst "):
            # Inst less [590-2.1~deb12u2] (590-2.1~deb12u2+deb12u99lab1 Debian-Security:12/bookworm-security [amd64])
            pending[line.split()[1]] = line.split("(", 1)[1].split()[1]
    return pending


@pytest.mark.parametrize("host", AUDITED)
def test_seeded_updates_exactly(hostvars, host):
    codename = hostvars[host]["iryo_lab_codename"]
    version = {"bookworm": "12", "trixie": "13"}[codename]
    assert pending_upgrades(host) == {
        "less": "Debian-Security:%s/%s-security" % (version, codename),
        "nano": "Debian-Security:%s/%s-security" % (version, codename),
        "file": "Debian:%s/%s-updates" % (version, codename),
    }


@pytest.mark.parametrize("host", AUDITED)
def test_apt_sources_point_only_at_the_mirror(host):
    sources = host_exec(host, "cat /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null; true")
    uris = [line.split()[1] for line in sources.splitlines() if line.startswith("URIs:")]
    assert uris == ["http://mirror/debian", "http://mirror/debian-security"]
    assert "deb.debian.org" not in sources and "trusted=yes" not in sources


def tls_handshake(endpoint, version, ciphers="DEFAULT:@SECLEVEL=0"):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(STATE / "pki" / "ca.pem"))
    # OpenSSL 3 on the controller refuses TLS 1.0/1.1 and SHA-1 suites above security level 0.
    context.set_ciphers(ciphers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    with socket.create_connection((endpoint["host"], endpoint["port"]), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=endpoint["server_name"]) as tls:
            return tls.version(), tls.cipher()[0]


@pytest.mark.parametrize("host", TLS_HOSTS)
def test_tls_accepts_legacy_protocols_and_static_rsa(hostvars, host):
    endpoint = hostvars[host]["iryo_lab_tls_endpoint"]
    assert tls_handshake(endpoint, ssl.TLSVersion.TLSv1)[0] == "TLSv1"
    assert tls_handshake(endpoint, ssl.TLSVersion.TLSv1_1)[0] == "TLSv1.1"
    # Static-RSA key exchange with a CBC suite, no client certificate asked for.
    assert tls_handshake(endpoint, ssl.TLSVersion.TLSv1_2, "AES128-SHA:@SECLEVEL=0") == ("TLSv1.2", "AES128-SHA")


@pytest.mark.parametrize("host", TLS_HOSTS)
def test_tls_server_key_is_world_readable(host):
    assert host_exec(host, "stat -c %a " + TLS_KEYS[host]).strip() == "644"


@pytest.mark.parametrize("host", AUDITED)
def test_clamav_runs_on_a_stale_local_database(host):
    state = host_exec(host, "systemctl is-active clamav-daemon; systemctl is-enabled clamav-freshclam || true")
    assert state.split() == ["active", "disabled"]
    mtimes = host_exec(host, "stat -c %Y /var/lib/clamav/*.hdb").split()
    age_days = (time.time() - max(int(m) for m in mtimes)) / 86400
    assert age_days > 30
    assert "DatabaseMirror database.clamav.net" in host_exec(host, "cat /etc/clamav/freshclam.conf")


@pytest.mark.parametrize("host", AUDITED)
def test_no_firewall(host):
    assert host_exec(host, "nft list ruleset").strip() == ""
    assert host_exec(host, "systemctl is-enabled nftables || true").strip() == "disabled"


def test_up_again_changes_nothing(started_here):
    before = {name: c["Id"] for name, c in lab_containers().items()}
    output = lab("up").stdout
    assert "already running" in output
    assert {name: c["Id"] for name, c in lab_containers().items()} == before


def test_down_removes_everything(started_here):
    """Last in this module: down, check, and bring the lab back if it was up before this module."""
    lab("down", timeout=600)
    try:
        assert lab_containers() == {}
        assert run(["podman", "network", "exists", "iryo-lab"], check=False).returncode != 0
        assert not HOSTS_FILE.exists() and not (STATE / "mirror").exists()
        assert "removed 0 container" in lab("down").stdout, "down on a lab that is down must just work"
    finally:
        if not started_here:
            lab("up")
