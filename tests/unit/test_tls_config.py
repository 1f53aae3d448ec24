"""tls_config on fixture trees: parsing, scopes, exact edits, findings, check mode and rollback.

Fixtures live in tests/fixtures/tls_config/ (Debian's own nginx/Apache files plus the lab's
seeded sites); the expected diffs in expected/ were reviewed by hand, line by line.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "tls_config"))

import harness  # noqa: E402
from harness import iryo_apache, iryo_findings, iryo_nginx, iryo_tlsconf  # noqa: E402

EXPECTED = harness.FIXTURES / "expected"

C11 = {  # mhlw-c11 as the role passes it (TLS 1.3 only, client certificates), with a few warnings items
    "protocols": ["TLSv1.3"],
    "tls13_ciphersuites": ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"],
    "verify_client": "required",
    "client_ca_file": "/etc/ssl/hospital-client-ca.pem",
    "session_tickets": False,
}

CASES = {
    "nginx-debian": ("nginx", "nginx.conf", dict(C11, prefer_server_ciphers=False, hsts="max-age=63072000")),
    "nginx-merged": ("nginx", "nginx.conf", {
        "protocols": ["TLSv1.2", "TLSv1.3"],
        "tls12_ciphers": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
        "hsts": "max-age=63072000"}),
    "apache-debian": ("apache", "apache2.conf", dict(C11, compression=False, prefer_server_ciphers=True)),
    "apache-multi": ("apache", "httpd.conf", {
        "protocols": ["TLSv1.2", "TLSv1.3"],
        "tls12_ciphers": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
        "groups": ["x25519", "secp256r1"], "hsts": "max-age=63072000; includeSubDomains"}),
}


def planned(fixture, tmp_path, wanted=None):
    kind, main, default = CASES[fixture]
    root = harness.install(fixture, tmp_path / fixture)
    adapter = harness.adapter(kind, root / main)
    reports, edits = iryo_tlsconf.plan(adapter, iryo_tlsconf.build_wanted(wanted or default))
    return root, adapter, reports, edits


def by_name(reports):
    return {(r["server_name"] or r["listen"])[0]: r for r in reports}


# ---------------------------------------------------------------------------------------------
# exact edits on the fixture trees

@pytest.mark.parametrize("fixture", sorted(CASES))
def test_planned_edits_are_exactly_the_reviewed_diff(fixture, tmp_path):
    root, _, _, edits = planned(fixture, tmp_path)
    got = harness.unified(edits, root).replace(str(root), "@ROOT@")
    assert got == (EXPECTED / (fixture + ".diff")).read_text()


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_applying_the_edits_leaves_nothing_to_do(fixture, tmp_path):
    kind, main, wanted = CASES[fixture]
    root, _, reports, edits = planned(fixture, tmp_path)
    assert any(r["mismatches"] for r in reports)
    for path, e in edits.items():
        Path(path).write_bytes(iryo_tlsconf.encode_text(e.apply()))
    again, left = iryo_tlsconf.plan(harness.adapter(kind, root / main), iryo_tlsconf.build_wanted(wanted))
    assert left == {}
    assert [r["mismatches"] for r in again] == [[] for _ in again]


def test_debian_nginx_http_level_default_is_fixed_where_it_lives(tmp_path):
    _, _, reports, edits = planned("nginx-debian", tmp_path)
    servers = by_name(reports)
    assert sorted(servers) == ["intranet.lab.iryo", "portal.lab.iryo"]  # sites-enabled/default is plain HTTP
    intranet = servers["intranet.lab.iryo"]["settings"]["protocols"]
    assert intranet["level"] == "http" and intranet["set_at"][0].endswith("/nginx.conf:33")
    assert intranet["current"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    portal = servers["portal.lab.iryo"]["settings"]["protocols"]
    assert portal["level"] == "server" and portal["current"] == ["TLSv1", "TLSv1.1", "TLSv1.2"]
    # one ssl_protocols per context afterwards: replaced, never added next to the old one
    for e in edits.values():
        assert e.apply().count("ssl_protocols") == e.text.count("ssl_protocols")


def test_symlinked_sites_are_edited_through_to_the_real_file(tmp_path):
    root, _, reports, edits = planned("nginx-debian", tmp_path)
    assert str(root / "sites-available" / "portal-tls") in edits
    assert not any("sites-enabled" in p for p in edits)
    assert by_name(reports)["portal.lab.iryo"]["file"] == str(root / "sites-available" / "portal-tls")


def test_merged_ssl_protocols_are_reported_as_their_union(tmp_path):
    _, _, reports, _ = planned("nginx-merged", tmp_path)
    entry = by_name(reports)["app.lab.iryo"]["settings"]["protocols"]
    assert entry["current"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]  # the conf.d line did not narrow it
    assert [Path(w.rsplit(":", 1)[0]).name for w in entry["set_at"]] == ["nginx.conf", "hardening.conf"]
    assert not entry["ok"]


def test_a_server_sharing_an_ssl_socket_is_tls_and_negotiates_with_the_default_server(tmp_path):
    _, _, reports, _ = planned("nginx-merged", tmp_path)
    servers = by_name(reports)
    assert sorted(servers) == ["app.lab.iryo", "legacy.lab.iryo", "oneline.lab.iryo"]
    legacy = servers["legacy.lab.iryo"]
    assert legacy["listen"] == ["127.0.0.1:8443"]  # no "ssl" of its own
    [negotiated] = legacy["settings"]["protocols"]["negotiated_by"]
    assert negotiated["socket"] == "127.0.0.1:8443" and "app.lab.iryo" in negotiated["default_server"]
    assert servers["app.lab.iryo"]["default_server_for"] == ["127.0.0.1:8443"]


def test_hsts_is_added_to_locations_that_do_not_inherit_it(tmp_path):
    _, _, reports, _ = planned("nginx-debian", tmp_path)
    hsts = by_name(reports)["intranet.lab.iryo"]["settings"]["hsts"]
    [location] = hsts["overridden_in"]
    assert location["block"] == "location /downloads/"


def test_apache_vhosts_follow_ifmodule_includes_and_continuations(tmp_path):
    _, adapter, reports, _ = planned("apache-multi", tmp_path)
    servers = by_name(reports)
    # gnutls.lab.iryo sits in <IfModule mod_gnutls.c> (not loaded); plain.lab.iryo has no SSLEngine
    assert sorted(servers) == ["gw1.lab.iryo", "gw2.lab.iryo", "gw3.lab.iryo"]
    assert servers["gw3.lab.iryo"]["settings"]["tls12_ciphers"]["current"] == "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"
    gw1 = servers["gw1.lab.iryo"]["settings"]["protocols"]
    assert gw1["current"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]  # the later "SSLProtocol all" wins
    assert servers["gw2.lab.iryo"]["settings"]["protocols"]["level"] == "global"
    assert servers["gw2.lab.iryo"]["server_name"] == ["gw2.lab.iryo", "gw2"]


def test_apache_debian_inherits_from_mods_enabled_ssl_conf(tmp_path):
    _, _, reports, _ = planned("apache-debian", tmp_path)
    default_ssl = by_name(reports)["*:443"]
    assert default_ssl["settings"]["protocols"]["set_at"][0].endswith("mods-available/ssl.conf:71")
    assert default_ssl["settings"]["session_tickets"] == {
        "current": False, "wanted": False, "level": "global", "ok": True,
        "set_at": [default_ssl["settings"]["session_tickets"]["set_at"][0]]}
    assert default_ssl["settings"]["compression"]["level"] == "default"  # httpd's default is off


# ---------------------------------------------------------------------------------------------
# parser details

def nginx_tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return iryo_nginx.Adapter(str(tmp_path / "nginx.conf"))


def test_nginx_tokenizer_quotes_comments_and_variables():
    text = 'add_header X-A "a;b # c" always; # comment\nmap $x ${y}z { default \'q\\\'s\'; }\nlisten 443 ssl;#c'
    tokens = [(k, v) for k, v, _, _, _ in iryo_nginx.tokenize(text, "t")]
    assert tokens == [("word", "add_header"), ("word", "X-A"), ("word", "a;b # c"), ("word", "always"), (";", ";"),
                      ("word", "map"), ("word", "$x"), ("word", "${y}z"), ("{", "{"), ("word", "default"),
                      ("word", "q's"), (";", ";"), ("}", "}"), ("word", "listen"), ("word", "443"),
                      ("word", "ssl"), (";", ";")]


@pytest.mark.parametrize("text,line,message", [
    ("http {\n  server {\n    listen 443 ssl;\n}\n", 4, "expecting '}'"),
    ("http {\n  ssl_protocols TLSv1.3\n}\n", 2, "not terminated"),
    ("http {\n}\n}\n", 3, "unexpected '}'"),
    ('http {\n  add_header X "open;\n}\n', 2, "unterminated"),
])
def test_nginx_syntax_errors_name_file_and_line(tmp_path, text, line, message):
    with pytest.raises(iryo_tlsconf.ConfigError) as err:
        nginx_tree(tmp_path, {"nginx.conf": text})
    assert err.value.line == line and message in err.value.message
    assert err.value.path == str(tmp_path / "nginx.conf")


def test_injected_syntax_error_in_an_included_site_is_reported_there(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    site = root / "sites-available" / "portal-tls"
    site.write_text(site.read_text().replace('@SECLEVEL=0";', "@SECLEVEL=0;"))  # closing quote lost
    with pytest.raises(iryo_tlsconf.ConfigError) as err:
        iryo_nginx.Adapter(str(root / "nginx.conf"))
    assert (err.value.path, err.value.line) == (str(site), 12)
    assert "unterminated" in err.value.message


def test_apache_unclosed_section_is_an_error(tmp_path):
    (tmp_path / "httpd.conf").write_text("<VirtualHost *:443>\n  SSLEngine on\n<IfModule x>\n</VirtualHost>\n")
    with pytest.raises(iryo_tlsconf.ConfigError) as err:
        iryo_apache.Adapter(str(tmp_path / "httpd.conf"))
    assert err.value.line == 4 and "closes <IfModule>" in err.value.message


def test_nginx_include_glob_is_relative_to_the_main_file_not_the_including_file(tmp_path):
    adapter = nginx_tree(tmp_path, {
        "nginx.conf": "events {}\nhttp { include sites/*.conf; }\n",
        "sites/a.conf": "server { listen 8443 ssl; include snippets/tls.conf; }\n",
        "snippets/tls.conf": "ssl_protocols TLSv1.2;\n",
        "sites/b.txt": "this is not parsed {\n",
    })
    [server] = adapter.servers
    found = adapter.lookup(server, "protocols")
    assert found.level_name == "server" and found.occurrences[0].path == str(tmp_path / "snippets" / "tls.conf")


def test_nginx_ssl_on_and_plain_servers(tmp_path):
    adapter = nginx_tree(tmp_path, {"nginx.conf": (
        "events {}\nhttp {\n server { listen 8080; }\n server { listen 8443; ssl on; }\n"
        " server { listen 8444 ssl; }\n}\nstream { server { listen 9443 ssl; } }\n")})
    assert [s.line for s in adapter.servers] == [4, 5]  # the stream server is out of scope


def test_nginx_array_directives_are_added_where_they_keep_inheriting(tmp_path):
    # the server has its own ssl_conf_command, so http{}'s Ciphersuites never reach it: add it in the server;
    # the http{} add_header list is inherited by the other server: add HSTS next to it, not in the server
    adapter = nginx_tree(tmp_path, {"nginx.conf": (
        "events {}\nhttp {\n"
        "\tssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384;\n"
        "\tadd_header X-Frame-Options DENY;\n"
        "\tserver {\n\t\tlisten 8443 ssl;\n\t\tssl_conf_command Options PrioritizeChaCha;\n\t}\n"
        "\tserver {\n\t\tlisten 8444 ssl;\n\t}\n}\n")})
    reports, edits = iryo_tlsconf.plan(adapter, iryo_tlsconf.build_wanted(
        {"tls13_ciphersuites": ["TLS_AES_256_GCM_SHA384"], "hsts": "max-age=600"}))
    first, second = reports
    assert first["settings"]["tls13_ciphersuites"]["current"] is None
    assert first["settings"]["tls13_ciphersuites"]["level"] == "server"
    assert second["settings"]["tls13_ciphersuites"]["ok"] and second["settings"]["hsts"]["level"] == "http"
    assert edits[str(tmp_path / "nginx.conf")].apply() == (
        "events {}\nhttp {\n"
        "\tssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384;\n"
        "\tadd_header X-Frame-Options DENY;\n"
        '\tadd_header Strict-Transport-Security "max-age=600" always;\n'
        "\tserver {\n\t\tlisten 8443 ssl;\n\t\tssl_conf_command Options PrioritizeChaCha;\n"
        "\t\tssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384;\n\t}\n"
        "\tserver {\n\t\tlisten 8444 ssl;\n\t}\n}\n")


def test_nginx_default_server_decides_versions_groups_and_tls13_suites_for_every_name(tmp_path):
    """nginx < 1.29.2 takes these from the default server's context before SNI (measured on nginx 1.22.1 /
    OpenSSL 3.0 by tests/integration/test_tls_config_corpus.py): a named server is not ok with its own
    right value when the default server's is wrong; its own ssl_ciphers does take effect."""
    adapter = nginx_tree(tmp_path, {"nginx.conf": (
        "events {}\nhttp {\n"
        "\tserver { listen 8443 ssl default_server; server_name a; }\n"
        "\tserver { listen 8443 ssl; server_name b; ssl_protocols TLSv1.3; ssl_ecdh_curve X25519;\n"
        "\t\tssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384; ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384; }\n"
        "}\n")})
    wanted = iryo_tlsconf.build_wanted({"protocols": ["TLSv1.3"], "groups": ["x25519"],
                                        "tls13_ciphersuites": ["TLS_AES_256_GCM_SHA384"],
                                        "tls12_ciphers": ["ECDHE-RSA-AES256-GCM-SHA384"]})
    reports, edits = iryo_tlsconf.plan(adapter, wanted)
    b = by_name(reports)["b"]["settings"]
    for setting in ("protocols", "groups", "tls13_ciphersuites"):
        assert b[setting]["ok"] is False, setting
        [decided] = b[setting]["negotiated_by"]
        assert decided["default_server"].endswith(" a") and decided[setting] is None
    assert b["tls12_ciphers"]["ok"] is True and "negotiated_by" not in b["tls12_ciphers"]
    # the edits fix it where it takes effect: in the default server
    assert "ssl_ecdh_curve X25519;" in edits[str(tmp_path / "nginx.conf")].apply().split("server_name a;")[1]


def test_apache_first_vhost_of_an_address_decides_the_groups(tmp_path):
    """mod_ssl 2.4.71 switches protocols and suites to the SNI vhost but OpenSSL keeps the groups of the
    context the connection started with, the first vhost's (measured in the corpus)."""
    (tmp_path / "httpd.conf").write_text(
        "LoadModule ssl_module modules/mod_ssl.so\n"
        "<VirtualHost _default_:443>\n  SSLEngine on\n</VirtualHost>\n"
        "<VirtualHost *:443>\n  ServerName b\n  SSLEngine on\n  SSLOpenSSLConfCmd Curves X25519\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1:443>\n  ServerName c\n  SSLEngine on\n  SSLOpenSSLConfCmd Curves X25519\n"
        "</VirtualHost>\n")
    adapter = iryo_apache.Adapter(str(tmp_path / "httpd.conf"))
    reports, _ = iryo_tlsconf.plan(adapter, iryo_tlsconf.build_wanted({"groups": ["x25519"],
                                                                        "protocols": ["TLSv1.3"]}))
    b, c = by_name(reports)["b"]["settings"], by_name(reports)["c"]["settings"]
    [decided] = b["groups"]["negotiated_by"]
    assert decided["socket"] == "*:443" and "_default_:443" in decided["default_server"]
    assert b["groups"]["ok"] is False and "negotiated_by" not in b["protocols"]  # versions follow the name
    assert c["groups"]["ok"] is True and "negotiated_by" not in c["groups"]      # first (only) vhost of 127.0.0.1:443


def test_edits_keep_crlf_and_bytes_that_are_not_utf8(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_bytes(b"# caf\xe9 (latin-1)\r\nevents {}\r\nhttp {\r\n  server {\r\n    listen 8443 ssl;\r\n"
                     b"  }\r\n}\r\n")
    adapter = iryo_nginx.Adapter(str(conf))
    _, edits = iryo_tlsconf.plan(adapter, iryo_tlsconf.build_wanted({"protocols": ["TLSv1.3"]}))
    assert iryo_tlsconf.encode_text(edits[str(conf)].apply()) == (
        b"# caf\xe9 (latin-1)\r\nevents {}\r\nhttp {\r\n  server {\r\n    listen 8443 ssl;\r\n"
        b"    ssl_protocols TLSv1.3;\r\n  }\r\n}\r\n")


# ---------------------------------------------------------------------------------------------
# wanted values

def test_iana_table_matches_this_openssl():
    out = subprocess.run(["openssl", "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                         capture_output=True, text=True, check=True).stdout
    openssl = dict((line.split()[0], line.split()[2]) for line in out.splitlines())
    assert iryo_tlsconf.IANA_TO_OPENSSL, "table is empty"
    for iana, name in iryo_tlsconf.IANA_TO_OPENSSL.items():
        assert openssl.get(iana) == name, iana


def test_profile_suites_convert_to_openssl_names():
    wanted = iryo_tlsconf.build_wanted({"tls12_ciphers": harness.PROFILE_C11_TLS12["tls12_ciphers"]})
    assert wanted["tls12_ciphers"][:3] == ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                                           "ECDHE-ECDSA-AES256-CCM"]  # CCM before CCM_8, as the examples
    assert len(wanted["tls12_ciphers"]) == 17


@pytest.mark.parametrize("options,message", [
    ({"tls12_ciphers": ["TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"]}, "no TLS 1.2 suite named"),
    ({"tls12_ciphers": ["TLS_AES_128_GCM_SHA256"]}, "is a TLS 1.3 suite"),
    ({"tls13_ciphersuites": ["ECDHE-RSA-AES128-GCM-SHA256"]}, "RFC 8446"),
    ({"protocols": ["TLSv1.4"]}, "unknown protocol"),
    ({"hsts": "includeSubDomains"}, "max-age"),
])
def test_bad_wanted_values_are_refused(options, message):
    with pytest.raises(iryo_tlsconf.WantedError, match=message):
        iryo_tlsconf.build_wanted(options)


def test_cipher_strings_match_by_what_openssl_selects():
    wanted = iryo_tlsconf.build_wanted({"tls12_ciphers": harness.PROFILE_C11_TLS12["tls12_ciphers"]})["tls12_ciphers"]
    gbiz = "ECDHE+AESGCM:DHE+aRSA+AESGCM:ECDHE+AESCCM:DHE+aRSA+AESCCM:ECDHE+CHACHA20:DHE+aRSA+CHACHA20:+AES128:+DHE"
    assert iryo_tlsconf.ciphers_match(gbiz, wanted)  # the profile's list is this string's expansion
    assert not iryo_tlsconf.ciphers_match("HIGH:!aNULL", wanted)
    # no source sets a TLS 1.2 order: the same suites in another order match, a different set does not
    assert iryo_tlsconf.ciphers_match(":".join(reversed(wanted)), wanted)
    assert not iryo_tlsconf.ciphers_match(":".join(wanted[1:]), wanted)
    assert not iryo_tlsconf.ciphers_match(None, wanted)


def test_hsts_comparison_ignores_spacing_and_case():
    assert iryo_tlsconf.matches("hsts", "max-age=63072000;includesubdomains", "max-age=63072000; includeSubDomains")
    assert not iryo_tlsconf.matches("hsts", "max-age=300", "max-age=63072000")
    assert iryo_tlsconf.build_wanted({"hsts": "31536000"})["hsts"] == "max-age=31536000"


def test_a_stronger_hsts_header_is_kept_and_a_weaker_one_replaced():
    """Found by the configuration corpus: enforcing the role's max-age=31536000 replaced Mozilla's
    "max-age=63072000; includeSubDomains", shortening the policy browsers remember."""
    stronger = "max-age=63072000; includeSubDomains"
    assert iryo_tlsconf.matches("hsts", stronger, "max-age=31536000")
    assert iryo_tlsconf.matches("hsts", stronger + "; preload", "max-age=63072000; includeSubDomains")
    assert not iryo_tlsconf.matches("hsts", "max-age=63072000", "max-age=31536000; includeSubDomains")
    assert not iryo_tlsconf.matches("hsts", "max-age=86400; includeSubDomains", "max-age=31536000")
    assert not iryo_tlsconf.matches("hsts", "includeSubDomains", "max-age=31536000")  # no max-age: not a policy
    assert not iryo_tlsconf.matches("hsts", "max-age=abc", "max-age=1")


def test_enforcing_hsts_leaves_a_longer_policy_in_place(tmp_path):
    adapter = nginx_tree(tmp_path, {"nginx.conf": (
        'events {}\nhttp {\n\tserver {\n\t\tlisten 8443 ssl;\n'
        '\t\tadd_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;\n\t}\n}\n')})
    reports, edits = iryo_tlsconf.plan(adapter, iryo_tlsconf.build_wanted({"hsts": "max-age=31536000"}))
    assert reports[0]["mismatches"] == [] and edits == {}


# ---------------------------------------------------------------------------------------------
# the module, run in-process

def module_args(root, **extra):
    args = dict(C11, server="nginx", config_root=str(root / "nginx.conf"), backup_dir=str(root.parent / "backups"))
    args.update(extra)
    return args


def test_audit_reports_without_writing_and_findings_follow_the_schema(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    before = harness.snapshot(root)
    result = harness.run_module(module_args(root))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and harness.snapshot(root) == before
    assert not (tmp_path / "backups").exists()
    assert len(result["diff"]) == 3 and len(result["servers"]) == 2
    for finding in result["findings"]:
        iryo_findings.validate_finding(finding)
    statuses = {f["target"].rsplit(" ", 1)[-1]: f["status"] for f in result["findings"]}
    assert statuses == {"intranet.lab.iryo": "fail", "portal.lab.iryo": "fail"}
    portal = next(f for f in result["findings"] if f["target"].endswith("portal.lab.iryo"))
    assert portal["target"] == "nginx %s:5 portal.lab.iryo" % (root / "sites-available" / "portal-tls")
    assert portal["check"] == "c11.tls.server_config" and portal["fixable"] is True
    assert portal["evidence"]["current"]["protocols"] == ["TLSv1", "TLSv1.1", "TLSv1.2"]
    assert portal["expected"]["protocols"] == ["TLSv1.3"]
    assert "ssl_protocols TLSv1.3;" in portal["remediation"]


def test_check_mode_reports_the_diff_and_writes_nothing(tmp_path):
    root = harness.install("nginx-merged", tmp_path / "t")
    before = harness.snapshot(root)
    result = harness.run_module(module_args(root, state="enforced", client_ca_file="/x/ca.pem"), check_mode=True)
    assert result["changed"] is True and harness.snapshot(root) == before
    assert [Path(d["before_header"]).name for d in result["diff"]] == ["hardening.conf", "nginx.conf", "app.conf",
                                                                         "oneline.conf"]
    nginx_conf = next(d for d in result["diff"] if d["before_header"].endswith("nginx.conf"))
    assert nginx_conf["before"] == (root / "nginx.conf").read_text()
    assert "\tssl_protocols TLSv1.3; # Dropping SSLv3" in nginx_conf["after"]
    assert {c["action"] for c in result["changes"]} == {"replace", "add", "comment_out_duplicate"}
    assert all(f["status"] == "fail" for f in result["findings"])


def test_no_tls_server_is_one_not_applicable_finding(tmp_path):
    (tmp_path / "nginx.conf").write_text("events {}\nhttp { server { listen 80; } }\n")
    result = harness.run_module({"server": "nginx", "config_root": str(tmp_path / "nginx.conf"),
                                 "protocols": ["TLSv1.3"]})
    [finding] = result["findings"]
    assert finding["status"] == "not_applicable" and finding["target"] == "nginx %s" % (tmp_path / "nginx.conf")
    assert finding["summary"] == "nginx configuration %s has no TLS server block (1 files read); nothing to audit" \
        % (tmp_path / "nginx.conf")


def test_summaries_name_the_server_what_it_has_and_what_enforce_sets(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    result = harness.run_module(module_args(root))
    portal = next(f for f in result["findings"] if f["target"].endswith("portal.lab.iryo"))
    assert portal["summary"] == (
        "nginx server portal.lab.iryo (portal-tls:5) enables TLSv1 TLSv1.1 TLSv1.2 via sites-available/portal-tls:11 "
        "and asks for no client certificate; enforce sets ssl_protocols TLSv1.3 and %d more"
        % (len([s for s in portal["evidence"]["mismatches"]]) - 1))
    enforced = harness.run_module(module_args(root, state="enforced", client_ca_file=str(root / "ca.pem"),
                                              validate_command="true", reload_command=""))
    assert not enforced.get("failed"), enforced.get("msg")
    passed = next(f for f in enforced["findings"] if f["target"].endswith("portal.lab.iryo"))
    assert passed["status"] == "pass" and passed["summary"] == (
        "nginx server portal.lab.iryo (portal-tls:5) has every audited TLS setting as wanted "
        "(ssl_protocols TLSv1.3, ssl_verify_client on)")


def test_summary_of_a_value_the_default_server_decides_and_of_an_unfixable_setting(tmp_path):
    adapter_files = {"nginx.conf": (
        "events {}\nhttp {\n"
        "\tserver { listen 8443 ssl default_server; server_name a; }\n"
        "\tserver { listen 8443 ssl; server_name b; ssl_protocols TLSv1.3; }\n}\n")}
    for name, text in adapter_files.items():
        (tmp_path / name).write_text(text)
    result = harness.run_module({"server": "nginx", "config_root": str(tmp_path / "nginx.conf"),
                                 "protocols": ["TLSv1.3"], "compression": True})
    b = next(f for f in result["findings"] if f["target"].endswith(" b"))
    assert b["summary"].startswith("nginx server b (nginx.conf:4) gets its protocols from the default server a")
    assert b["summary"].endswith("nginx cannot turn TLS compression on")
    for finding in result["findings"]:
        assert "[" not in finding["summary"] and "{" not in finding["summary"], finding["summary"]


def test_a_config_the_parser_cannot_read_fails_before_anything_is_written(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    site = root / "sites-available" / "intranet-tls"
    site.write_text(site.read_text().replace("\t}\n}\n", "\t}\n"))  # drop the server's closing brace
    before = harness.snapshot(root)
    result = harness.run_module(module_args(root, state="enforced"))
    assert result["failed"] and "cannot read the nginx configuration" in result["msg"]
    assert str(site) in result["msg"] and "expecting '}'" in result["msg"]
    assert harness.snapshot(root) == before


def test_enforcement_needs_a_client_ca_for_required_verification(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    args = module_args(root, state="enforced")
    del args["client_ca_file"]
    result = harness.run_module(args)
    assert result["failed"] and "needs client_ca_file" in result["msg"]


def test_failed_validation_restores_every_file_exactly(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    before = harness.snapshot(root)
    marker = tmp_path / "reloaded"
    # a validator that accepts the original tree and rejects the edited one
    rejects_edit = "! grep -q 'ssl_verify_client on' %s || { echo 'nginx: [emerg] simulated' >&2; exit 1; }" % (
        root / "sites-available" / "portal-tls")
    result = harness.run_module(module_args(root, state="enforced", validate_command=["sh", "-c", rejects_edit],
                                            reload_command=["touch", str(marker)]))
    assert result["failed"]
    assert "did not validate, so it was not reloaded" in result["msg"] and "[emerg] simulated" in result["msg"]
    assert harness.snapshot(root) == before  # same bytes, symlinks still symlinks
    assert not marker.exists()
    assert len(result["backup_files"]) == 3
    for entry in result["backup_files"]:
        assert Path(entry["backup"]).read_bytes() == Path(entry["path"]).read_bytes()
    assert all(f["status"] == "fail" for f in result["findings"])


def test_failed_reload_restores_and_reloads_the_old_configuration(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    before = harness.snapshot(root)
    log = tmp_path / "reloads"
    script = 'echo x >> %s; [ "$(wc -l < %s)" -gt 1 ]' % (log, log)  # the first reload fails, the second works
    result = harness.run_module(module_args(root, state="enforced", validate_command="true",
                                            reload_command=["sh", "-c", script]))
    assert result["failed"] and "reload failed" in result["msg"]
    assert "reloaded the previous configuration (ok)" in result["msg"]
    # one line naming every file put back (fault matrix, issue 16)
    assert "\n" not in result["msg"]
    assert all(entry["path"] in result["msg"] for entry in result["backup_files"])
    assert harness.snapshot(root) == before
    assert [c["what"] for c in result["commands"]] == ["validate before", "validate", "reload",
                                                       "reload previous configuration"]


def test_a_configuration_that_is_already_invalid_is_not_touched(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    before = harness.snapshot(root)
    result = harness.run_module(module_args(root, state="enforced", validate_command="false"))
    assert result["failed"] and "does not validate even before any change" in result["msg"]
    assert harness.snapshot(root) == before and not (tmp_path / "backups").exists()


def test_enforcement_writes_backs_up_and_is_idempotent(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    original = (root / "nginx.conf").read_bytes()
    mode = os.stat(root / "sites-available" / "portal-tls").st_mode
    args = module_args(root, state="enforced", validate_command="true", reload_command="")
    first = harness.run_module(args)
    assert first["changed"] is True and not first.get("failed"), first.get("msg")
    assert [f["status"] for f in first["findings"]] == ["pass", "pass"]
    assert (root / "sites-enabled" / "portal-tls").is_symlink()
    assert os.stat(root / "sites-available" / "portal-tls").st_mode == mode
    backup = next(b["backup"] for b in first["backup_files"] if b["path"] == str(root / "nginx.conf"))
    assert Path(backup).read_bytes() == original
    assert Path(backup).is_relative_to(tmp_path / "backups")
    assert not list(root.rglob(".iryo-tls_config.*"))  # no temporary file left where a glob could load it
    second = harness.run_module(args)
    assert second["changed"] is False and "diff" not in second and second["backup_files"] == []


def test_missing_dhparam_is_reported_not_referenced(tmp_path):
    root = harness.install("nginx-debian", tmp_path / "t")
    result = harness.run_module(module_args(root, dhparam=str(tmp_path / "dh.pem")))
    portal = next(s for s in result["servers"] if "portal.lab.iryo" in s["server_name"])
    assert "does not exist" in portal["unfixable"]["dhparam"]
    assert not any("ssl_dhparam" in d["after"] for d in result["diff"])
    finding = next(f for f in result["findings"] if f["target"].endswith("portal.lab.iryo"))
    assert finding["fixable"] is False and "openssl dhparam" in finding["remediation"]
    (tmp_path / "dh.pem").write_text("-----BEGIN DH PARAMETERS-----\n")
    result = harness.run_module(module_args(root, dhparam=str(tmp_path / "dh.pem")))
    assert any("ssl_dhparam %s;" % (tmp_path / "dh.pem") in d["after"] for d in result["diff"])


def test_apache_hsts_without_mod_headers_is_unfixable(tmp_path):
    root = harness.install("apache-debian", tmp_path / "t")
    result = harness.run_module({"server": "apache", "config_root": str(root / "apache2.conf"),
                                 "hsts": "max-age=63072000"})
    assert all("a2enmod headers" in s["unfixable"]["hsts"] for s in result["servers"])
    assert "diff" not in result


def test_verify_depth_defaults_to_one_and_is_set_where_missing(tmp_path):
    adapter = nginx_tree(tmp_path, {"nginx.conf": "events {}\nhttp {\n\tserver {\n\t\tlisten 8443 ssl;\n\t}\n}\n"})
    reports, edits = iryo_tlsconf.plan(adapter, iryo_tlsconf.build_wanted({"verify_depth": 2}))
    assert reports[0]["settings"]["verify_depth"]["current"] == 1
    assert "\t\tssl_verify_depth 2;\n" in edits[str(tmp_path / "nginx.conf")].apply()
    _, none = iryo_tlsconf.plan(adapter, iryo_tlsconf.build_wanted({"verify_depth": 1}))
    assert none == {}


def test_apache_includes_directories_recursively_and_follows_server_root(tmp_path):
    # RHEL layout: the main file in conf/, ServerRoot one folder up, a directory Include
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf.d" / "tls").mkdir(parents=True)
    (tmp_path / "conf" / "httpd.conf").write_text(
        'ServerRoot "%s"\nLoadModule ssl_module modules/mod_ssl.so\nInclude conf.d\n' % tmp_path)
    (tmp_path / "conf.d" / "tls" / "b.conf").write_text("<VirtualHost *:443>\n SSLEngine on\n</VirtualHost>\n")
    (tmp_path / "conf.d" / "a.conf").write_text("SSLProtocol TLSv1.2\n")
    adapter = iryo_apache.Adapter(str(tmp_path / "conf" / "httpd.conf"))
    [vhost] = adapter.servers
    assert vhost.path == str(tmp_path / "conf.d" / "tls" / "b.conf")
    assert adapter.value("protocols", adapter.lookup(vhost, "protocols").occurrences) == ["TLSv1.2"]


def test_apache_include_of_a_missing_file_is_an_error_but_includeoptional_is_not(tmp_path):
    conf = tmp_path / "httpd.conf"
    conf.write_text("IncludeOptional nothing/*.conf\nIncludeOptional missing.conf\n")
    assert iryo_apache.Adapter(str(conf)).servers == []
    conf.write_text("IncludeOptional nothing/*.conf\nInclude missing.conf\n")
    with pytest.raises(iryo_tlsconf.ConfigError, match="does not exist") as err:
        iryo_apache.Adapter(str(conf))
    assert err.value.line == 2


def test_a_file_changed_by_another_writer_meanwhile_is_left_as_that_writer_made_it(tmp_path):
    """Issue 16 item 2: another writer appends to the site file while "validate before" runs; the module
    must not rename its own text over that edit (it did, and reported success)."""
    root = harness.install("nginx-debian", tmp_path / "t")
    site = root / "sites-available" / "portal-tls"
    original = site.read_text()
    line = "# another writer"
    flag = tmp_path / "edited"
    other_writer = "[ -e {f} ] || {{ touch {f}; printf '%s\\n' '{l}' >> {s}; }}".format(f=flag, l=line, s=site)
    result = harness.run_module(module_args(root, state="enforced", validate_command=["sh", "-c", other_writer],
                                            reload_command="true"))
    assert flag.exists()
    assert result["failed"]
    assert str(site) in result["msg"] and "another writer" in result["msg"] and "\n" not in result["msg"]
    assert site.read_text() == original + line + "\n"
