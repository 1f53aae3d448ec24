"""Each check family writes a summary an engineer acts on (issue 12, item 4): for a failure, what was seen
and what is required; for a pass, briefly what was checked. One failing and one passing case per family,
built from the functions the modules decide with, on captured or real data where the repository has it
(nftables rulesets, sshd -T output, journald cat-config, this machine's OpenSSL, ClamAV databases).
Dates are relative to today, so no case ages."""

import datetime
import os
import subprocess
import time
import types
from pathlib import Path

import pytest
import yaml

import iryo_journald
import iryo_nft
import iryo_opensslcnf
import iryo_sshd
from iryo_guard.catalog import load_catalog
from iryo_guard.evidence_register import contracts_finding, manual_finding
from iryo_guard.schema import MAX_SUMMARY
from library_loader import load_library_module

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


def said(finding, status, *words):
    """The finding has ``status`` and its one-line summary contains every one of ``words``."""
    summary = finding["summary"]
    assert finding["status"] == status, (finding["status"], summary)
    assert isinstance(summary, str) and summary and "\n" not in summary and len(summary) <= MAX_SUMMARY
    for word in words:
        assert word in summary, (word, summary)
    for repr_mark in ("{'", "['", "[]", "{}", "': ", "None", "True", "False"):
        assert repr_mark not in summary, (repr_mark, summary)
    return summary


# --- C.10 firewall: nftables rulesets captured from a lab container (tests/fixtures/nft) --------------------

@pytest.fixture(scope="module")
def nft():
    return load_library_module("nft_firewall")


def firewall(nft, fixture, services, admin, families=("ipv4", "ipv6"), boot=("nftables",)):
    analysis = iryo_nft.analyse((FIXTURES / "nft" / ("%s.json" % fixture)).read_text())
    declared = iryo_nft.normalise_services(services, admin, 22)
    drop, allowed = nft.findings(analysis, iryo_nft.judge(analysis, declared), {"enabled_firewall_service": list(boot)},
                                 {"host_class": "internal", "_families": families}, declared, False)
    return drop, allowed


def test_firewall_without_any_ruleset(nft):
    drop, allowed = firewall(nft, "empty", [{"name": "https", "port": 443, "sources": ["10.89.0.0/24"]}],
                             ["10.89.0.1/32"], boot=())
    said(drop, "fail", "no nftables input chain with policy drop", "IPv4 and IPv6", "no firewall service enabled",
         "required: inbound dropped by default")
    said(allowed, "fail", "accepts every port from every source", "no default drop", "IPv4 and IPv6",
         "declared: tcp/443 from 10.89.0.0/24, tcp/22 from 10.89.0.1/32")


def test_firewall_with_wider_sources_than_declared(nft):
    # firewalld-like: default drop, ssh and https open to the world, DHCPv6 client on IPv6
    drop, allowed = firewall(nft, "firewalld-like", [{"name": "https", "port": 443, "sources": ["10.89.0.0/24"]}],
                             ["10.89.0.1/32"])
    said(drop, "pass", "IPv4 and IPv6 inbound dropped by default", "nftables loads the ruleset at boot")
    said(allowed, "fail", "tcp/22 (IPv4 and IPv6) from every source (wider than declared)",
         "tcp/443 (IPv4 and IPv6) from every source", "declared: tcp/443 from 10.89.0.0/24")


def test_firewall_exactly_as_declared_passes(nft):
    # the ruleset iryo-guard itself rendered for the portal (tests/fixtures/nft/iryo-guard-portal.json)
    drop, allowed = firewall(nft, "iryo-guard-portal", [{"name": "https", "port": 443, "sources": ["any"]}],
                             ["10.88.0.1/32", "fd00:88::/64"])
    said(drop, "pass", "dropped by default")
    said(allowed, "pass", "inbound open only as declared", "tcp/443 from every source",
         "tcp/22 from 10.88.0.1/32 and fd00:88::/64")


def test_debian_default_table_is_named(nft):
    drop, _ = firewall(nft, "debian-default", [], ["10.89.0.1/32"], families=("ipv4",))
    said(drop, "fail", "IPv4 inbound not dropped by default", "inet filter input policy accept")


# --- C.10 host class -------------------------------------------------------------------------------------

def test_host_class():
    mod = load_library_module("host_isolation")
    known, forbidden = ["patient_facing", "internal", "remote_access_gateway"], ["patient_facing"]
    sockets = [{"proto": "tcp", "address": "0.0.0.0", "port": 5432, "processes": ["postgres"]}]
    found = mod.match_internal([{"name": "EHR database", "ports": ["5432/tcp"]}], sockets, [], set())
    said(mod.verdict(["patient_facing"], known, forbidden, found, sockets, []), "fail",
         "patient_facing host runs internal services", "EHR database", "5432/tcp")
    said(mod.verdict(["patient_facing", "internal"], known, forbidden, [], sockets, []), "fail",
         "2 host classes", "patient_facing and internal", "required: exactly one")
    said(mod.verdict(["webfarm"], known, forbidden, [], sockets, []), "fail", "no host-class group", "webfarm")
    said(mod.verdict(["patient_facing"], known, forbidden, [], sockets, ["nginx.service"]), "pass",
         "one host class, patient_facing", "1 listening sockets and 1 running units")


# --- C.10 access monitoring: journald as captured from the lab images ---------------------------------------

@pytest.fixture(scope="module")
def logging_mod():
    return load_library_module("access_logging")


def journal_state(extra=""):
    parts = iryo_journald.split_cat_config((FIXTURES / "sshd" / "bookworm-journald-cat-config.txt").read_text())
    if extra:
        parts.append(("/etc/systemd/journald.conf.d/60-iryo-guard.conf", "[Journal]\n" + extra))
    values = iryo_journald.parse_journald(parts)
    return {"values": values, "journal_dir": True, "storage": iryo_journald.journald_storage(values, True),
            "read_from": "systemd-analyze cat-config"}


def monitoring(mod, servers, journal, collector=None, rsyslog=None, module=None):
    params = {"access_logs": True, "journal_persistent": True, "log_forwarding": True,
              "journald_min_retention_days": 365}
    return mod.findings(module, params, servers, journal, rsyslog or {"forwards": [], "rsyslogd": None}, collector,
                        ["nginx", "apache"])


NGINX_ON = {"server": "nginx", "target": "nginx /etc/nginx/sites-enabled/portal:3 portal.lab.iryo",
            "server_name": ["portal.lab.iryo"], "access_log": ["/var/log/nginx/access.log"], "level": "http",
            "set_at": ["/etc/nginx/nginx.conf:40"], "on": True, "locations_off": ["location /healthz (x:9)"]}
APACHE_NONE = {"server": "apache", "target": "apache /etc/apache2/sites-available/ehr-tls.conf:5 ehr.lab.iryo",
               "server_name": ["ehr.lab.iryo", "ehr"], "access_log": [], "level": "none", "set_at": [],
               "on": False, "locations_off": []}


class Rsyslogd:
    """Stands in for AnsibleModule.run_command of `rsyslogd -N1` only."""

    def run_command(self, argv, environ_update=None):
        return 0, "rsyslogd: End of config validation run. Bye.\n", ""


def test_access_monitoring_failures(logging_mod):
    access, journal, forwarding = monitoring(logging_mod, [APACHE_NONE], journal_state(),
                                             {"host": "10.89.1.250", "port": 6514, "protocol": "tcp"})
    said(access, "fail", "apache TLS virtual host ehr.lab.iryo, ehr has no access log", "required: an access log")
    said(journal, "fail", "no retention is declared", "required: Storage=persistent, MaxRetentionSec at least 365")
    said(forwarding, "fail", "rsyslog is not installed", "required: every message forwarded to 10.89.1.250:6514/tcp")


def test_access_monitoring_passes(logging_mod):
    collector = {"host": "10.89.1.250", "port": 6514, "protocol": "tcp"}
    rsyslog = {"forwards": [{"target": "10.89.1.250", "port": 6514, "protocol": "tcp"}],
               "rsyslogd": "/usr/sbin/rsyslogd"}
    access, journal, forwarding = monitoring(logging_mod, [NGINX_ON], journal_state("MaxRetentionSec=400days\n"),
                                             collector, rsyslog, Rsyslogd())
    said(access, "pass", "nginx TLS server portal.lab.iryo logs access: /var/log/nginx/access.log",
         "/etc/nginx/nginx.conf:40", "off in location /healthz")
    said(journal, "pass", "Storage=persistent", "MaxRetentionSec=400days")
    said(forwarding, "pass", "forwards to the declared collector 10.89.1.250:6514/tcp", "rsyslogd -N1 accepts")
    (none,) = [f for f in monitoring(logging_mod, [], journal_state("MaxRetentionSec=1y\n"))
               if f["check"] == "c10.monitoring.access_logs"]
    said(none, "not_applicable", "no TLS virtual host found")


# --- C.11 client defaults: this machine's OpenSSL evaluates the configuration --------------------------------

class HostRunner:
    def run_command(self, argv, environ_update=None):
        done = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, **(environ_update or {})))
        return done.returncode, done.stdout, done.stderr

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs["msg"])


@pytest.mark.requires_tools("openssl")
def test_client_defaults():
    mod = load_library_module("crypto_defaults")
    profile = yaml.safe_load((REPO / "data" / "tls_profiles.yml").read_text())["profiles"]["cryptrec-high"]
    params = {"min_protocol": "TLSv1.2", "tls12_suites": profile["tls12_suites"]["value"],
              "tls13_suites": profile["tls13_suites"]["value"], "groups": profile["groups"]["value"]}
    text = (FIXTURES / "openssl" / "debian12-openssl.cnf").read_text()
    effective, _ = mod.evaluate(HostRunner(), "openssl", text)
    said({"status": "fail", "summary": mod.summary_of(effective, params, mod.judge(effective, params), "openssl")},
         "fail", "OpenSSL system_default gives clients", "suites outside the profile (e.g. TLS_",
         "groups not restricted", "required: minimum TLSv1.2")
    fixed = iryo_opensslcnf.with_system_default(text, mod.wanted_settings(params, mod.cipher_table(HostRunner(),
                                                                                                    "openssl")))
    effective, _ = mod.evaluate(HostRunner(), "openssl", fixed)
    said({"status": "pass", "summary": mod.summary_of(effective, params, mod.judge(effective, params), "openssl")},
         "pass", "minimum TLSv1.2, only the profile's suites and key-exchange groups")


# --- C.11 session crossing --------------------------------------------------------------------------------

def test_ip_forwarding():
    mod = load_library_module("ip_forwarding")
    persistent = {k: {"value": None, "file": None} for k in mod.KEYS}
    on = {"runtime": {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "0"}, "persistent": persistent}
    said(mod.forwarding_finding(on, mod.violations(on["runtime"], persistent)), "fail",
         "IP forwarding is on: net.ipv4.ip_forward is 1 now", "required: 0 now and at boot")
    off = {"runtime": {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0"}, "persistent": persistent}
    said(mod.forwarding_finding(off, []), "pass", "off now and at boot", "net.ipv4.ip_forward = 0")


# --- C.12 patches ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def patch():
    return load_library_module("patch_level")


def test_security_updates(patch):
    pending = [{"package": "less", "security": True, "origins": ["Debian-Security:bookworm-security"],
                "pending_days_at_least": 20},
               {"package": "nano", "security": True, "origins": ["Debian-Security:bookworm-security"],
                "pending_days_at_least": 3},
               {"package": "file", "security": False, "origins": ["Debian:bookworm"]}]
    finding = patch.verdict(pending, 2.0, 168)
    said(finding, "fail", "2 security updates pending (less, nano)", "at least 20 days ago (limit 14)",
         "required: none pending")
    assert finding["severity"] == "critical"
    said(patch.verdict(pending[2:], 2.0, 168), "pass", "no security update pending", "2.0 hours old",
         "1 other update pending")
    said(patch.verdict(pending, None, 168), "error", "could not decide", "never fetched")


def test_os_end_of_life(patch, monkeypatch):
    today = datetime.date.today()
    monkeypatch.setattr(patch, "os_release", lambda: {"ID": "debian", "VERSION_ID": "12",
                                                      "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"})
    ended = {"debian": {"12": {"codename": "bookworm", "regular_end": str(today - datetime.timedelta(days=400)),
                               "security_end": str(today - datetime.timedelta(days=30)), "confidence": "confirmed"}}}
    said(patch.eol_finding(ended, today), "fail", "Debian GNU/Linux 12 (bookworm) gets no security updates since",
         str(today - datetime.timedelta(days=30)), "required: a release still supported")
    live = {"debian": {"12": {"codename": "bookworm", "regular_end": str(today + datetime.timedelta(days=100)),
                              "security_end": str(today + datetime.timedelta(days=900)),
                              "confidence": "unconfirmed"}}}
    said(patch.eol_finding(live, today), "pass", "gets security updates until", "900 days left", "regular phase",
         "date unconfirmed")


def test_reboot_required(patch, monkeypatch):
    module = types.SimpleNamespace(get_bin_path=lambda name: None)
    real_exists = os.path.exists
    monkeypatch.setattr(patch.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(patch.os.path, "exists", lambda p: p == "/run/reboot-required" or (
        real_exists(p) and not p.startswith("/run/reboot-required")))
    said(patch.reboot_finding(module), "fail", "reboot required: /run/reboot-required exists",
         "required: the installed updates running")
    monkeypatch.setattr(patch.os.path, "exists", lambda p: False if p.startswith("/run/reboot-required")
                        else real_exists(p))
    said(patch.reboot_finding(module), "pass", "no reboot pending", "/run/reboot-required")


# --- C.12 anti-malware -------------------------------------------------------------------------------------

HDB = FIXTURES / "clamav" / "lab-portal" / "hospital-local.hdb"


@pytest.fixture(scope="module")
def av():
    return load_library_module("av_signatures")


def database(tmp_path, hours_old):
    folder = tmp_path / ("clamav-%d" % hours_old)
    folder.mkdir()
    target = folder / "hospital-local.hdb"
    target.write_bytes(HDB.read_bytes())
    stamp = time.time() - hours_old * 3600
    os.utime(target, (stamp, stamp))
    return str(folder)


def test_signatures(av, tmp_path):
    now = time.time()
    finding, _, _ = av.clamav_finding(database(tmp_path, 100), 72, now, True, True)
    said(finding, "fail", "ClamAV: newest signatures are 100.0 hours old (limit 72)", "hospital-local.hdb")
    finding, _, _ = av.clamav_finding(database(tmp_path, 5), 72, now, True, True)
    said(finding, "pass", "ClamAV: newest signatures are 5.0 hours old (limit 72)")
    finding, _, _ = av.clamav_finding(str(tmp_path / "missing"), 72, now, True, True)
    said(finding, "fail", "no signature database in", "required: signatures at most 72 hours old")


def test_freshclam_mirror():
    mod = load_library_module("freshclam_config")
    text = (FIXTURES / "clamav" / "freshclam-debian.conf").read_text()  # Debian 12's file as installed
    mirror, hdb = "http://mirror/clamav", "http://mirror/clamav/hospital-local.hdb"
    expected = {"PrivateMirror": [mirror], "DatabaseCustomURL": [hdb], "public DatabaseMirror": "none"}
    configured = mod.parse(text)
    configured.pop("UpdateLogFile", None)
    evidence = {"path": "/etc/clamav/freshclam.conf", "configured": configured,
                "service": {"enabled": "disabled", "active": "inactive"}, "last_success": None}
    said(mod.mirror_finding("/etc/clamav/freshclam.conf", evidence, expected,
                            mod.problems_of(configured, [mirror], [hdb], True), True, True),
         "fail", "freshclam: PrivateMirror is not set, expected http://mirror/clamav",
         "DatabaseMirror still names the public mirror")
    fixed = mod.parse(mod.edit(text, [mirror], [hdb], True))
    fixed.pop("UpdateLogFile", None)
    evidence = dict(evidence, configured=fixed, service={"enabled": "enabled", "active": "active"})
    said(mod.mirror_finding("/etc/clamav/freshclam.conf", evidence, expected,
                            mod.problems_of(fixed, [mirror], [hdb], True), True, True),
         "pass", "freshclam updates from http://mirror/clamav, http://mirror/clamav/hospital-local.hdb",
         "no public mirror", "clamav-freshclam is active")


# --- C.13 keys ---------------------------------------------------------------------------------------------

KEY = {"path": "/etc/apache2/ssl/ehr.key", "sources": ["apache /etc/apache2/sites-available/ehr-tls.conf:12"],
       "on_token": False, "format": "pem-pkcs8", "type": "RSA", "bits": 2048, "curve": None, "encrypted": False,
       "owner": "root", "group": "root", "mode": "0644", "group_members": ["root"], "signing": False}
KEY_PARAMS = {"allowed_owners": ["root"], "group_readable": [], "paths": [], "search_dirs": ["/etc/ssl/private"],
              "web_servers": True, "signing_keys": [], "enforce_owner": "root"}


def test_key_permissions_and_signing_keys():
    mod = load_library_module("key_protection")
    candidates = types.SimpleNamespace(problems=[], skipped={})
    permissions, signing = mod.build_findings([dict(KEY)], candidates, KEY_PARAMS, False)
    said(permissions, "fail", "RSA 2048 key is root:root mode 0644", "others can read it",
         "required: mode 0600 (0640 with a declared group), owner root")
    said(signing, "not_applicable", "no signing key is declared")
    assert "BEGIN" not in permissions["summary"]  # never key material, only what kind of key it is

    signing_key = dict(KEY, path="/srv/sign/hpki.key", mode="0600", encrypted=True,
                       encryption={"scheme": "pbes2", "cipher": "aes-256-cbc", "kdf": "pbkdf2", "broken": False})
    params = dict(KEY_PARAMS, signing_keys=["/srv/sign/*.key"])
    permissions, signing = mod.build_findings([signing_key], candidates, params, False)
    said(permissions, "pass", "RSA 2048 key is root:root mode 0600")
    said(signing, "pass", "signing RSA 2048 key encrypted in its file (aes-256-cbc, pbkdf2)")
    _, signing = mod.build_findings([dict(signing_key, encrypted=False, encryption=None)], candidates, params, False)
    said(signing, "fail", "signing RSA 2048 key stored unencrypted", "required: on a PKCS#11 token")
    (none, _) = mod.build_findings([], candidates, KEY_PARAMS, False)
    said(none, "not_applicable", "no private key file found", "/etc/ssl/private")


# --- D.1 SSH: sshd -T of the lab image (tests/fixtures/sshd) ------------------------------------------------

def sshd_evaluation(root_from_outside):
    glob = iryo_sshd.parse_effective((FIXTURES / "sshd" / "bookworm-sshd-T.txt").read_text())
    probes = []
    for user in ("iryoadmin", "root"):
        for addr, where in (("10.89.0.1", "inside"), ("192.0.2.1", "outside")):
            probes.append({"user": user, "addr": addr, "where": where, "passwordauthentication": "no",
                           "kbdinteractiveauthentication": "no",
                           "permitrootlogin": iryo_sshd.first(glob, "permitrootlogin"),
                           "login_with_key": where == "inside" or root_from_outside,
                           "refused_because": [] if where == "inside" or root_from_outside else ["DenyUsers *"]})
    return {"global": glob, "probes": probes, "inside": ["10.89.0.1"], "outside": ["192.0.2.1"]}


def test_ssh():
    mod = load_library_module("sshd_hardening")
    params = {"password_auth": True, "root_login": True, "sources": True, "algorithms": True,
              "sshd_config": "/etc/ssh/sshd_config"}
    algos = yaml.safe_load((REPO / "data" / "ssh_algorithms.yml").read_text())["profiles"]["strong"]
    allowed = {k: [e["name"] for e in algos[k]] for k in ("kex", "ciphers", "macs", "host_key_algorithms")}
    paths = {"sshd": {}, "connection": {}, "other_services": []}
    found = {f["check"]: f for f in mod.build_findings(params, sshd_evaluation(True), ["10.89.0.0/24"], allowed,
                                                          paths)}
    said(found["d1.ssh.password_auth"], "pass", "password and keyboard-interactive logins are off")
    said(found["d1.ssh.root_login"], "fail", "root may log in: PermitRootLogin without-password globally",
         "required: PermitRootLogin no")
    said(found["d1.ssh.sources"], "fail", "sshd lets iryoadmin, root log in from outside 10.89.0.0/24",
         "probed from 192.0.2.1", "required: logins only from 10.89.0.0/24")
    said(found["d1.ssh.algorithms"], "fail", "KexAlgorithms diffie-hellman-group-exchange-sha256",
         "MACs", "required: data/ssh_algorithms.yml only")
    said(found["d1.remote_access.paths"], "fail", "sshd accepts logins from outside the declared networks",
         "required: every path only from 10.89.0.0/24")
    found = {f["check"]: f for f in mod.build_findings(params, sshd_evaluation(False), ["10.89.0.0/24"],
                                                          {"ciphers": allowed["ciphers"]}, paths)}
    said(found["d1.ssh.sources"], "pass", "refuses every user from outside 10.89.0.0/24")
    said(found["d1.ssh.algorithms"], "pass", "Ciphers offer only allowed algorithms")
    said(found["d1.remote_access.paths"], "pass", "only remote-access path", "only from 10.89.0.0/24")


# --- D.2 key storage ---------------------------------------------------------------------------------------

def test_fips_key_storage():
    mod = load_library_module("key_storage_fips")
    provider = {"id": "default", "name": "OpenSSL Default Provider", "version": "3.0.20", "status": "active",
                "not_validated": {"id": "debian-openssl"}}
    softhsm = {"module": "/usr/lib/softhsm/libsofthsm2.so", "library": "Implementation of PKCS11",
               "library_version": "2.6", "not_validated": {"id": "softhsm2"}}
    opensc = {"module": "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "error": "C_Initialize failed"}
    expected = {"key_storage": "a validated module"}
    finding = mod.keystore_finding({}, expected, [provider], [softhsm, opensc], None, [], [{"id": "x"}])
    said(finding, "fail", "no FIPS 140-2 level 1 validated key store is active",
         "OpenSSL Default Provider 3.0.20, libsofthsm2.so, opensc-pkcs11.so", "kernel FIPS mode not available",
         "required: a validated module")
    assert "OpenSSL OpenSSL" not in finding["summary"] and "None" not in finding["remediation"]
    qualifying = [{"openssl_provider": "OpenSSL FIPS Provider", "version": "3.0.8", "allowlist": {"id": "cmvp-4282"}}]
    said(mod.keystore_finding({}, expected, [provider], [], True, qualifying, [{"id": "x"}]), "pass",
         "a FIPS 140-2 validated key store is active: OpenSSL provider OpenSSL FIPS Provider 3.0.8")
    said(mod.keystore_finding({}, expected, [provider], [], None, [], []), "error", "allowlist", "is empty")


# --- organisation: C.9 contract register, manual items --------------------------------------------------------

def test_contract_register_and_manual_items():
    today = datetime.date.today()
    contract = {"provider": "架空通信株式会社", "service": "拠点間閉域網", "threat_responsibility_scope": "事業者",
                "availability_sla": "99.9 %", "confirms": ["C.1", "C.4"], "evidence_ref": "LAB-1",
                "last_confirmed": (today - datetime.timedelta(days=800)).isoformat()}
    said(contracts_finding([contract], 12, today), "fail", "架空通信株式会社 / 拠点間閉域網: last confirmed",
         "more than 12 months ago", "required: every field, C.1/C.4 confirmed, within 12 months")
    fresh = dict(contract, last_confirmed=(today - datetime.timedelta(days=30)).isoformat())
    said(contracts_finding([fresh], 12, today), "pass", "1 contract recorded", "within 12 months")
    said(contracts_finding([], 12, today), "fail", "no carrier or online-service contract is recorded")
    check = load_catalog().check("c09.manual.contract_review")
    said(manual_finding(check, None, 12, today), "manual", "no evidence recorded yet; needed:",
         check["evidence_needed"][0][:40])
    record = {"evidence_ref": "審査記録 2026-01", "confirmed_by": "情報システム部長",
              "last_confirmed": (today - datetime.timedelta(days=10)).isoformat()}
    said(manual_finding(check, record, 12, today), "pass", "evidence 審査記録 2026-01 confirmed", "情報システム部長")


# --- every check of the catalog that iryo-guard implements here writes one -----------------------------------

def test_every_check_module_writes_summaries():
    """Every implemented check's code passes summary= to every make_finding (the schema refuses a finding
    without one at run time; this finds a forgotten call before a run does)."""
    catalog = load_catalog()
    for check_id, check in catalog.checks.items():
        if check.get("kind") != "automated" or not check.get("module") or check.get("planned"):
            continue
        source = (REPO / "library" / ("%s.py" % check["module"]))
        logic = REPO / "module_utils" / ("iryo_check_%s.py" % check["module"])  # a check module's logic
        text = (logic if logic.exists() else source).read_text() if source.exists() else ""
        if check["module"] == "organisation_evidence":
            text = (REPO / "iryo_guard" / "evidence_register.py").read_text()
        if check["module"] == "tls_probe":  # a controller check: its findings are made in the verdict
            text = (REPO / "iryo_guard" / "tls" / "verdict.py").read_text()
        if check["module"] == "nightly_health":  # needs the controller's handshakes and SSH: made there
            text = (REPO / "iryo_guard" / "rollout_health.py").read_text()
        calls = text.count("make_finding(")
        assert calls and text.count("summary=") >= calls, (check_id, calls, text.count("summary="))

