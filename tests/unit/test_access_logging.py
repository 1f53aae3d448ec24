"""access_logging: journald, rsyslog and web-server access-log parsing, verdicts and edits.

journald input is real `systemd-analyze cat-config` output captured from the lab images
(tests/fixtures/sshd/capture.sh). nginx and Apache edits are validated by this machine's real
`nginx -t` / `apache2 -t`; rsyslog drop-ins by the real `rsyslogd -N1` of this checkout's lab
image (built by the session fixture lab_images, tests/conftest.py), in a throwaway container (the
controller has no rsyslog).
"""

import os
import secrets
import subprocess
from pathlib import Path

import pytest

import iryo_journald
import testkit
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sshd"
PODMAN_ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"))


@pytest.fixture(scope="module")
def mod():
    return load_library_module("access_logging")


# ---------------------------------------------------------------------------------------------
# journald

def test_timespans():
    assert iryo_journald.parse_timespan("365days") == 365 * 86400
    assert iryo_journald.parse_timespan("1month 2d") == 2629800 + 2 * 86400
    assert iryo_journald.parse_timespan("3600") == 3600
    assert iryo_journald.parse_timespan("1y") == 31557600
    assert iryo_journald.parse_timespan("2w") == 14 * 86400
    assert iryo_journald.parse_timespan("5M") == 5 * 2629800   # M is month, m is minute
    assert iryo_journald.parse_timespan("5m") == 300
    assert iryo_journald.parse_timespan("soon") is None
    assert iryo_journald.parse_timespan("") is None


@pytest.mark.parametrize("codename", ["bookworm", "trixie"])
def test_debian_defaults_from_cat_config(codename):
    parts = iryo_journald.split_cat_config((FIXTURES / ("%s-journald-cat-config.txt" % codename)).read_text())
    assert parts[0][0] == "/etc/systemd/journald.conf"
    values = iryo_journald.parse_journald(parts)
    if codename == "trixie":   # trixie ships a drop-in that forwards to syslog
        assert values == {"ForwardToSyslog": {"value": "yes",
                                              "file": "/usr/lib/systemd/journald.conf.d/syslog.conf"}}
    else:
        assert values == {}
    # Debian creates /var/log/journal, so Storage=auto is persistent; what is missing is a retention
    assert iryo_journald.journald_storage(values, True) == "persistent"
    problems = iryo_journald.judge_journald(values, True, 365)
    assert problems == ["no retention is declared (MaxRetentionSec unset or 0); declare at least 365 days"]
    assert "in memory only" in iryo_journald.judge_journald(values, False, 365)[0]


def test_last_assignment_wins_and_retention_verdicts():
    seq = [("/etc/systemd/journald.conf", "[Journal]\nStorage=volatile\nMaxRetentionSec=1y\n"),
           ("/etc/systemd/journald.conf.d/60-iryo-guard.conf", "[Journal]\nStorage=persistent\n"),
           ("/etc/systemd/journald.conf.d/90-local.conf", "[Journal]\nMaxRetentionSec=30d\n[Other]\nStorage=none\n")]
    values = iryo_journald.parse_journald(seq)
    assert values["Storage"] == {"value": "persistent", "file": "/etc/systemd/journald.conf.d/60-iryo-guard.conf"}
    assert values["MaxRetentionSec"]["value"] == "30d"
    assert iryo_journald.judge_journald(values, False, 365) == [
        "MaxRetentionSec=30d deletes entries after 30 days, less than the 365 days required"]
    assert iryo_journald.judge_journald(dict(values, MaxRetentionSec={"value": "2y", "file": "x"}), True, 365) == []
    assert "does not parse" in iryo_journald.judge_journald(
        dict(values, MaxRetentionSec={"value": "forever", "file": "x"}), True, 365)[0]


def test_journald_dropin_never_shortens_a_longer_retention():
    assert "MaxRetentionSec=365days" in iryo_journald.journald_dropin(365)
    assert "MaxRetentionSec=731days" in iryo_journald.journald_dropin(365, 2 * 31557600)
    text = iryo_journald.journald_dropin(180, None, "4G")
    values = iryo_journald.parse_journald([("x", text)])
    assert values["Storage"]["value"] == "persistent" and values["SystemMaxUse"]["value"] == "4G"
    assert iryo_journald.judge_journald(values, True, 180) == []


# ---------------------------------------------------------------------------------------------
# rsyslog

RSYSLOG_SAMPLE = """
# *.* @@old.example:514
*.* action(type="omfwd" target="10.1.2.3" port="6514" protocol="tcp")
auth.* @logs.example
mail.* @@[2001:db8::5]:10514
module(load="imuxsock")
"""


def test_forwards_are_found_in_both_syntaxes():
    found = iryo_journald.forwards([("/etc/rsyslog.d/a.conf", RSYSLOG_SAMPLE)])
    simple = [(f["target"], f["port"], f["protocol"], f["form"]) for f in found]
    assert simple == [("10.1.2.3", 6514, "tcp", "omfwd"), ("logs.example", 514, "udp", "legacy"),
                      ("2001:db8::5", 10514, "tcp", "legacy")]
    assert iryo_journald.collector_matches(found[0], {"host": "10.1.2.3", "port": 6514, "protocol": "tcp"})
    assert not iryo_journald.collector_matches(found[0], {"host": "10.1.2.3", "port": 6514, "protocol": "udp"})
    generated = iryo_journald.rsyslog_dropin({"host": "logs.hospital.example", "port": 514, "protocol": "tcp"})
    assert iryo_journald.forwards([("x", generated)])[0]["target"] == "logs.hospital.example"


def podman(*args, check=True, timeout=120):
    done = subprocess.run(["podman", *map(str, args)], env=PODMAN_ENV, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError("podman %s: %s" % (" ".join(map(str, args)), done.stderr))
    return done


@pytest.fixture(scope="module")
def rsyslog_box(tmp_path_factory, lab_images):
    image = lab_images["bookworm"]
    shared = tmp_path_factory.mktemp("rsyslog")
    cid = podman("run", "-d", "--rm", "--name", "iryo-test-rsyslog-%s" % secrets.token_hex(3), "-v",
                 "%s:%s" % (shared, shared), image, "sleep", "600").stdout.strip()
    try:
        # lab/images/packages.txt installs rsyslog: an image without it is a broken build, not a skip.
        assert podman("exec", cid, "test", "-x", "/usr/sbin/rsyslogd", check=False).returncode == 0, \
            "%s has no /usr/sbin/rsyslogd (lab/images/packages.txt lists rsyslog)" % image
        yield cid, shared
    finally:
        podman("rm", "-f", "-t", "0", cid, check=False)


def rsyslog_check(box, dropin_text):
    cid, shared = box
    folder = Path(shared) / secrets.token_hex(3)
    (folder / "rsyslog.d").mkdir(parents=True)
    main = podman("exec", cid, "cat", "/etc/rsyslog.conf").stdout
    (folder / "rsyslog.conf").write_text(main.replace("/etc/rsyslog.d/", "%s/rsyslog.d/" % folder))
    (folder / "rsyslog.d" / "60-iryo-guard-forward.conf").write_text(dropin_text)
    return podman("exec", cid, "rsyslogd", "-N1", "-f", folder / "rsyslog.conf", check=False)


def test_generated_forwarding_dropin_passes_rsyslogd_n1(rsyslog_box):
    done = rsyslog_check(rsyslog_box, iryo_journald.rsyslog_dropin({"host": "10.89.1.250", "port": 6514,
                                                                   "protocol": "tcp"}))
    assert done.returncode == 0, done.stderr
    broken = rsyslog_check(rsyslog_box, '*.* action(type="omfwd" target="x" prot="tcp"\n')
    assert broken.returncode != 0   # the validator really rejects a broken file


# ---------------------------------------------------------------------------------------------
# web servers: real nginx -t / apache2 -t on this machine

def cert(folder):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=t", "-days", "2",
                    "-keyout", str(folder / "k.pem"), "-out", str(folder / "c.pem")], check=True, capture_output=True)


NGINX = """pid {d}/nginx.pid;
error_log {d}/error.log;
events {{}}
http {{
    access_log {d}/http.log;
    {http_extra}
    server {{
        listen 127.0.0.1:18443 ssl;
        server_name portal.lab.iryo;
        ssl_certificate {d}/c.pem;
        ssl_certificate_key {d}/k.pem;
        {server_extra}
        location /healthz {{
            access_log off;
        }}
    }}
    server {{
        listen 127.0.0.1:18080;
        server_name plain;
        access_log off;
    }}
}}
"""


@pytest.mark.requires_tools("nginx")
@pytest.mark.parametrize("where", ["server", "http", "none"])
def test_nginx_access_log_off_is_found_and_fixed(tmp_path, mod, where):
    cert(tmp_path)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX.format(d=tmp_path, http_extra="access_log off;" if where == "http" else "",
                                 server_extra="access_log off;" if where == "server" else ""))
    adapter, servers = mod.nginx_servers(str(conf))
    assert len(servers) == 1    # the plain-HTTP server with its log off is not a TLS virtual host
    report, plan = servers[0]
    assert report["locations_off"] == ["location /healthz (%s:13)" % conf]
    if where == "none":
        assert report["on"] and plan is None and report["level"] == "http"
        return
    assert not report["on"] and report["level"] == where
    edits = {}
    edits_for = mod._edits_for(edits, adapter)
    if plan[0] == "replace":
        for node in plan[1]:
            edits_for(node.path).replace(node.start, node.end, mod.NGINX_LOG, {"setting": "access_log"})
    else:
        adapter.insert(edits_for, plan[1], mod.NGINX_LOG, {"setting": "access_log"})
    conf.write_text(edits[str(conf)].apply())
    nginx = testkit.tool("nginx")
    done = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    again = mod.nginx_servers(str(conf))[1][0][0]
    assert again["on"] and again["level"] == "server" and again["access_log"] == ["/var/log/nginx/access.log"]


APACHE = """ServerRoot {d}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
Listen 127.0.0.1:19443
{global_extra}
<VirtualHost 127.0.0.1:19443>
    ServerName ehr.lab.iryo
    SSLEngine on
    SSLCertificateFile {d}/c.pem
    SSLCertificateKeyFile {d}/k.pem
    {vhost_extra}
</VirtualHost>
"""


@pytest.mark.requires_tools("apache2")
@pytest.mark.parametrize("case", ["none", "devnull", "global", "vhost"])
def test_apache_ssl_vhost_without_customlog_is_found_and_fixed(tmp_path, mod, case):
    cert(tmp_path)
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "apache2.conf"
    conf.write_text(APACHE.format(
        d=tmp_path, global_extra="CustomLog logs/all.log combined" if case == "global" else "",
        vhost_extra={"devnull": "CustomLog /dev/null combined", "vhost": "TransferLog logs/ehr.log"}.get(case, "")))
    adapter, servers = mod.apache_servers(str(conf))
    report, plan = servers[0]
    if case in ("global", "vhost"):
        assert report["on"] and plan is None and report["level"] == ("global" if case == "global" else "vhost")
        return
    assert not report["on"]
    edits = {}
    edits_for = mod._edits_for(edits, adapter)
    line = mod.apache_log_line(str(conf))
    assert line == "CustomLog logs/ssl_access_log combined"
    if plan[0] == "replace":
        for node in plan[1]:
            edits_for(node.path).replace(node.start, node.end, line, {"setting": "access_log"})
    else:
        adapter.insert(edits_for, plan[1], line, {"setting": "access_log"})
    conf.write_text(edits[str(conf)].apply())
    done = subprocess.run([testkit.tool("apache2"), "-t", "-f", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    again = mod.apache_servers(str(conf))[1][0][0]
    assert again["on"] and again["access_log"] == ["logs/ssl_access_log combined"]
