"""tls_config against the controller's real nginx 1.22 and Apache 2.4 binaries, on temp trees.

No system service is touched: every tree lives under pytest's tmp_path, servers run from it on
127.0.0.1 high ports, validation is `nginx -t -p PREFIX -c CONF` / `apache2 -t -d ROOT -f CONF`,
reloads are `nginx -s reload` / `apache2 -k graceful` against the same tree.
"""

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "tls_config"))

import harness  # noqa: E402

REPO = harness.REPO
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")

needs_nginx = pytest.mark.requires_tools("nginx")  # ./iryo setup installs both: missing fails, never skips
needs_apache = pytest.mark.requires_tools("apache2")

C11 = dict(harness.PROFILE_C11_TLS12, protocols=["TLSv1.3"])  # mhlw-c11: TLS 1.3 only, client certificates


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a localhost server certificate and a client certificate, shared by the module's tests."""
    return harness.make_pki(tmp_path_factory.mktemp("pki"))


free_port, handshake, settled = harness.free_port, harness.handshake, harness.settled


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


# ---------------------------------------------------------------------------------------------
# nginx

def debian_nginx_tree(tmp_path, pki):
    """nginx-debian fixture with real certificates in place of the snakeoil and portal ones."""
    root = harness.install("nginx-debian", tmp_path / "nginx")
    snippet = root / "snippets" / "snakeoil.conf"
    snippet.write_text(snippet.read_text().replace("/etc/ssl/certs/ssl-cert-snakeoil.pem", str(pki / "server.pem"))
                       .replace("/etc/ssl/private/ssl-cert-snakeoil.key", str(pki / "server.key")))
    (root / "ssl").mkdir()
    shutil.copy(pki / "server.pem", root / "ssl" / "portal.lab.iryo.crt")
    shutil.copy(pki / "server.key", root / "ssl" / "portal.lab.iryo.key")
    return root, pki


def nginx_t(root):
    return subprocess.run([NGINX, "-t", "-p", str(root), "-c", str(root / "nginx.conf")], capture_output=True,
                          text=True)


def nginx_args(root, pki, **extra):
    args = dict(C11, server="nginx", state="enforced", config_root=str(root / "nginx.conf"),
                client_ca_file=str(pki / "ca.pem"), backup_dir=str(root.parent / "backups"),
                validate_command=[NGINX, "-t", "-p", str(root), "-c", str(root / "nginx.conf")], reload_command="")
    args.update(extra)
    return args


@needs_nginx
def test_debian_tree_enforced_passes_nginx_t_and_second_run_changes_nothing(tmp_path, pki):
    root, pki = debian_nginx_tree(tmp_path, pki)
    assert nginx_t(root).returncode == 0, nginx_t(root).stderr
    first = harness.run_module(nginx_args(root, pki))
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and [c["what"] for c in first["commands"]] == ["validate before", "validate"]
    checked = nginx_t(root)
    assert checked.returncode == 0 and "test is successful" in checked.stderr
    assert [f["status"] for f in first["findings"]] == ["pass", "pass"]
    nginx_conf = (root / "nginx.conf").read_text()
    assert nginx_conf.count("ssl_protocols") == 1 and "\tssl_protocols TLSv1.3;" in nginx_conf
    second = harness.run_module(nginx_args(root, pki))
    assert second["changed"] is False and "diff" not in second and second["commands"] == []


@needs_nginx
def test_check_mode_leaves_checksums_and_reports_the_diff_enforcement_makes(tmp_path, pki):
    root, pki = debian_nginx_tree(tmp_path, pki)
    before = harness.snapshot(root)
    checked = harness.run_module(nginx_args(root, pki), check_mode=True)
    assert checked["changed"] is True and harness.snapshot(root) == before
    enforced = harness.run_module(nginx_args(root, pki))
    assert enforced["changed"] is True
    assert checked["diff"] == enforced["diff"]
    for entry in enforced["diff"]:
        assert Path(entry["after_header"]).read_text() == entry["after"]


@needs_nginx
def test_missing_client_ca_fails_validation_and_restores_the_exact_bytes(tmp_path, pki):
    root, pki = debian_nginx_tree(tmp_path, pki)
    before = harness.snapshot(root)
    result = harness.run_module(nginx_args(root, pki, client_ca_file=str(tmp_path / "no-such-ca.pem")))
    assert result["failed"]
    assert result["msg"].startswith("nginx configuration did not validate, so it was not reloaded")
    assert "no-such-ca.pem" in result["msg"] and "Restored 3 file(s)" in result["msg"]
    assert harness.snapshot(root) == before
    assert nginx_t(root).returncode == 0


NGINX_LIVE = """pid {root}/logs/nginx.pid;
error_log {root}/logs/error.log;
events {{ worker_connections 64; }}
http {{
	access_log off;
	client_body_temp_path {root}/logs/body;
	proxy_temp_path {root}/logs/proxy;
	fastcgi_temp_path {root}/logs/fastcgi;
	uwsgi_temp_path {root}/logs/uwsgi;
	scgi_temp_path {root}/logs/scgi;

	ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # as Debian ships it
	ssl_prefer_server_ciphers on;
	include conf.d/*.conf;
}}
"""

PORTAL_LIVE = """# the lab's portal, on a loopback port
server {{
	listen 127.0.0.1:{port} ssl default_server;
	server_name localhost;
	ssl_certificate     {pki}/server.pem;
	ssl_certificate_key {pki}/server.key;
	ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
	ssl_ciphers "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:AES128-SHA:AES256-SHA:@SECLEVEL=0";
	ssl_prefer_server_ciphers off;
	location / {{
		return 200 "portal\\n";
	}}
}}
"""


@pytest.fixture
def live_nginx(tmp_path, pki):
    root, port = tmp_path / "nginx", free_port()
    (root / "logs").mkdir(parents=True)
    (root / "conf.d").mkdir()
    (root / "nginx.conf").write_text(NGINX_LIVE.format(root=root))
    (root / "conf.d" / "portal.conf").write_text(PORTAL_LIVE.format(port=port, pki=pki))
    conf = root / "nginx.conf"
    server = subprocess.Popen([NGINX, "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: handshake(port, ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"), "nginx did not start"
        yield root, pki, port, [NGINX, "-p", str(root), "-c", str(conf)]
    finally:
        server.terminate()
        server.wait(timeout=10)


@needs_nginx
def test_live_nginx_stops_accepting_tls12_after_enforcement(live_nginx):
    root, pki, port, base = live_nginx
    assert handshake(port, ssl.TLSVersion.TLSv1_2) == ("TLSv1.2", "HTTP/1.1 200 OK")
    result = harness.run_module(nginx_args(root, pki, validate_command=base + ["-t"],
                                           reload_command=base + ["-s", "reload"]))
    assert not result.get("failed"), result.get("msg")
    assert [c["what"] for c in result["commands"]] == ["validate before", "validate", "reload"]
    # the reload is asynchronous: the master starts new workers, old ones finish their connections
    assert settled(lambda: handshake(port, ssl.TLSVersion.TLSv1_2)[0] == "refused"
                   and handshake(port, ssl.TLSVersion.TLSv1_3, pki)[0] == "TLSv1.3")
    assert "PROTOCOL_VERSION" in handshake(port, ssl.TLSVersion.TLSv1_2)[1]
    # No client certificate: refused in the handshake (ssl_conf_command VerifyMode), not with HTTP 400.
    without = handshake(port, ssl.TLSVersion.TLSv1_3)
    assert without[0] == "refused" and "CERTIFICATE_REQUIRED" in without[1].upper(), without
    assert handshake(port, ssl.TLSVersion.TLSv1_3, pki) == ("TLSv1.3", "HTTP/1.1 200 OK")
    assert result["findings"][0]["status"] == "pass"


@needs_nginx
def test_live_nginx_keeps_serving_the_old_configuration_when_validation_fails(live_nginx):
    root, pki, port, base = live_nginx
    before = harness.snapshot(root / "conf.d"), (root / "nginx.conf").read_bytes()
    result = harness.run_module(nginx_args(root, pki, groups=["x25519", "brainpoolP1r1-typo"],
                                           validate_command=base + ["-t"], reload_command=base + ["-s", "reload"]))
    assert result["failed"] and "SSL_CTX_set1_curves_list" in result["msg"]
    assert (harness.snapshot(root / "conf.d"), (root / "nginx.conf").read_bytes()) == before
    assert "reload" not in [c["what"] for c in result["commands"]]
    time.sleep(0.5)
    assert handshake(port, ssl.TLSVersion.TLSv1_2) == ("TLSv1.2", "HTTP/1.1 200 OK")


@needs_nginx
def test_ad_hoc_ansible_run_enriches_findings_through_the_action_plugin(tmp_path, pki):
    root, pki = debian_nginx_tree(tmp_path, pki)
    args = nginx_args(root, pki, state="audit")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")
    run = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-c", "local", "-m", "tls_config",
                          "-a", json.dumps(args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    start = run.stdout.index("localhost | SUCCESS => ") + len("localhost | SUCCESS => ")
    result, _ = json.JSONDecoder().raw_decode(run.stdout[start:])
    assert result["changed"] is False
    findings = result["findings"]
    assert {f["clause"] for f in findings} == {"C.11"} and {f["host"] for f in findings} == {"localhost"}
    assert {f["status"] for f in findings} == {"fail"}
    assert findings[0]["title_en"] == "Web server TLS configuration (nginx / Apache)"
    report = json.loads((tmp_path / "reports" / "latest" / "report.json").read_text())
    assert sorted(f["target"] for f in report["findings"]) == sorted(f["target"] for f in findings)


# ---------------------------------------------------------------------------------------------
# Apache httpd

APACHE_LIVE = """# a minimal httpd on a loopback port (no Debian envvars needed)
ServerRoot "{root}"
ServerName localhost
PidFile {root}/run/httpd.pid
ErrorLog {root}/logs/error.log
DefaultRuntimeDir {root}/run
Mutex file:{root}/run default
User nobody
Group nogroup
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule socache_shmcb_module {mods}/mod_socache_shmcb.so
LoadModule ssl_module {mods}/mod_ssl.so
LoadModule headers_module {mods}/mod_headers.so
Listen 127.0.0.1:{port}

<IfModule mod_ssl.c>
	SSLProtocol all -SSLv3
	SSLCipherSuite HIGH:!aNULL
	SSLSessionCache shmcb:{root}/run/ssl_scache(512000)
</IfModule>

IncludeOptional sites-enabled/*.conf
"""

EHR_LIVE = """# the lab's EHR vhost (seeded weak), on a loopback port
<VirtualHost 127.0.0.1:{port}>
	ServerName localhost
	SSLEngine on
	SSLCertificateFile    {pki}/server.pem
	SSLCertificateKeyFile {pki}/server.key
	SSLProtocol all -SSLv3
	SSLCipherSuite "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:AES128-SHA:AES256-SHA:@SECLEVEL=0"
	SSLHonorCipherOrder off
	SSLVerifyClient none
</VirtualHost>
"""


@pytest.fixture
def live_apache(tmp_path, pki):
    root, port = tmp_path / "apache", free_port()
    for folder in ("run", "logs", "sites-available", "sites-enabled"):
        (root / folder).mkdir(parents=True)
    (root / "httpd.conf").write_text(APACHE_LIVE.format(root=root, mods=APACHE_MODULES, port=port))
    (root / "sites-available" / "ehr-tls.conf").write_text(EHR_LIVE.format(port=port, pki=pki))
    (root / "sites-enabled" / "ehr-tls.conf").symlink_to("../sites-available/ehr-tls.conf")
    base = [APACHE, "-d", str(root), "-f", str(root / "httpd.conf")]
    started = subprocess.run(base + ["-k", "start"], capture_output=True, text=True, timeout=30)
    assert started.returncode == 0, started.stderr
    try:
        assert wait_for(lambda: handshake(port, ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"), "httpd did not start"
        yield root, pki, port, base
    finally:
        subprocess.run(base + ["-k", "stop"], capture_output=True, timeout=30)
        pid = root / "run" / "httpd.pid"
        wait_for(lambda: not pid.exists(), timeout=10)


def apache_args(root, pki, base, **extra):
    args = dict(C11, server="apache", state="enforced", config_root=str(root / "httpd.conf"),
                client_ca_file=str(pki / "ca.pem"), backup_dir=str(root.parent / "backups"),
                validate_command=base + ["-t"], reload_command=base + ["-k", "graceful"])
    args.update(extra)
    return args


@needs_apache
def test_live_apache_enforced_validates_drops_tls12_and_is_idempotent(live_apache):
    root, pki, port, base = live_apache
    assert handshake(port, ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"
    result = harness.run_module(apache_args(root, pki, base))
    assert not result.get("failed"), result.get("msg")
    assert subprocess.run(base + ["-t"], capture_output=True).returncode == 0
    assert settled(lambda: handshake(port, ssl.TLSVersion.TLSv1_2)[0] == "refused"
                   and handshake(port, ssl.TLSVersion.TLSv1_3, pki)[0] == "TLSv1.3")
    assert "certificate required" in handshake(port, ssl.TLSVersion.TLSv1_3)[1].lower()  # no client cert
    assert handshake(port, ssl.TLSVersion.TLSv1_3, pki)[0] == "TLSv1.3"
    assert (root / "sites-enabled" / "ehr-tls.conf").is_symlink()
    vhost = (root / "sites-available" / "ehr-tls.conf").read_text()
    assert "\tSSLProtocol -all +TLSv1.3\n" in vhost and "SSLVerifyClient require" in vhost
    assert "Header always set Strict-Transport-Security" in vhost
    assert [f["status"] for f in result["findings"]] == ["pass"]
    again = harness.run_module(apache_args(root, pki, base))
    assert again["changed"] is False and again["commands"] == []


@needs_apache
def test_live_apache_missing_ca_is_rolled_back_and_old_config_keeps_serving(live_apache):
    root, pki, port, base = live_apache
    before = harness.snapshot(root / "sites-available"), (root / "httpd.conf").read_bytes()
    result = harness.run_module(apache_args(root, pki, base, client_ca_file=str(root / "missing-ca.pem")))
    assert result["failed"] and "apache configuration did not validate" in result["msg"]
    assert "missing-ca.pem" in result["msg"]
    assert (harness.snapshot(root / "sites-available"), (root / "httpd.conf").read_bytes()) == before
    assert handshake(port, ssl.TLSVersion.TLSv1_2)[0] == "TLSv1.2"


@needs_apache
def test_apache_check_mode_changes_nothing(live_apache):
    root, pki, _, base = live_apache
    before = harness.snapshot(root)
    result = harness.run_module(apache_args(root, pki, base), check_mode=True)
    assert result["changed"] is True and result["commands"] == []
    assert harness.snapshot(root) == before
    # the vhost sets protocols and ciphers itself, so the server-wide ones in httpd.conf stay as they are
    assert [Path(d["before_header"]).name for d in result["diff"]] == ["ehr-tls.conf"]
