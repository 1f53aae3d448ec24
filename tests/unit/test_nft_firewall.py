"""nft_firewall / module_utils/iryo_nft.py: judging real `nft -j list ruleset` output (captured from a lab
container, tests/fixtures/nft/, see capture.py there), rendering the owned table, the lockout guard."""

import json
import sys
from pathlib import Path

import pytest

from library_loader import REPO, load_library_module

sys.path.insert(0, str(REPO / "module_utils"))
import iryo_nft  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "nft"
nft_firewall = load_library_module("nft_firewall")


def analysis(name):
    return iryo_nft.analyse((FIXTURES / ("%s.json" % name)).read_text())


def grants(result, family):
    return {(tuple(g["protocols"]), g["ports"], tuple(g["sources"]))
            for g in iryo_nft.public_grants(result["families"][family]["grants"])}


def declared(services=(), admin=("10.88.0.0/16",), ssh_port=22):
    return iryo_nft.normalise_services(list(services), list(admin), ssh_port)


HTTPS = {"name": "https", "port": 443, "proto": "tcp", "sources": ["any"]}


def test_the_seeded_lab_has_no_firewall_and_everything_is_open():
    result = analysis("empty")
    assert result["chains"] == [] and result["tables"] == []
    for family in iryo_nft.FAMILIES:
        assert result["families"][family]["default_drop"] is False
    problems = iryo_nft.judge(result, declared([HTTPS]))
    assert {(p["family"], p["proto"], p["why"]) for p in problems} >= {
        ("ipv4", "tcp", "no default drop: every port is open"), ("ipv6", "udp", "no default drop: every port is open")}
    # ssh is declared, but from the admin network only: open to the world is wider
    assert any(p["ports"] == "22" and p["why"] == "open to sources wider than declared" for p in problems)


def test_debian_default_config_is_tables_without_a_drop():
    result = analysis("debian-default")
    assert [c["chain"] for c in result["chains"]] == ["inet filter input"]
    assert result["chains"][0]["policy"] == "accept" and not result["chains"][0]["default_drop"]
    assert not result["families"]["ipv4"]["default_drop"]


def test_handwritten_ip_table_final_reject_jump_set_range_vmap():
    result = analysis("handwritten")
    v4 = result["families"]["ipv4"]
    assert v4["default_drop"] is True and v4["dropping_chains"] == ["ip filter INPUT"]
    assert grants(result, "ipv4") == {
        (("tcp",), "22", ("10.20.0.0/24", "10.20.5.7/32")),   # through the jump, named set with an interval
        (("tcp",), "80,443", ("0.0.0.0/0",)),
        (("tcp",), "5000-5010", ("0.0.0.0/0",)),
        (("tcp",), "5432", ("0.0.0.0/0",)),                   # iifname eth1 not evaluated: reported wider
        (("udp",), "161", ("0.0.0.0/0",)),                    # vmap: 161 accept, 514 drop
        (("tcp",), "104", ("10.30.0.0/16",)),
    }
    bound = [g for g in iryo_nft.public_grants(v4["grants"]) if g["ports"] == "5432"][0]
    assert "eth1" in bound["conditions_not_evaluated"][0]
    # the ip6 table only logs: IPv6 stays open
    assert result["families"]["ipv6"]["default_drop"] is False


def test_handwritten_judged_against_a_policy():
    result = analysis("handwritten")
    policy = declared([HTTPS, {"name": "http", "port": 80, "sources": ["any"]},
                       {"name": "dicom", "port": 104, "sources": ["10.30.0.0/16"]}], admin=["10.20.0.0/16"])
    v4 = {(p["proto"], p["ports"], p["why"]) for p in iryo_nft.judge(result, policy) if p["family"] == "ipv4"}
    assert v4 == {("tcp", "5000-5010", "accepted but not declared"), ("tcp", "5432", "accepted but not declared"),
                  ("udp", "161", "accepted but not declared")}
    narrower = declared([HTTPS, {"name": "http", "port": 80, "sources": ["any"]},
                         {"name": "dicom", "port": 104, "sources": ["10.30.1.0/24"]}], admin=["10.20.0.0/24"])
    wider = [p for p in iryo_nft.judge(result, narrower) if p["why"] == "open to sources wider than declared"
             and p["family"] == "ipv4"]
    assert {(p["ports"], tuple(p["sources"])) for p in wider} == {
        ("22", ("10.20.0.0/24", "10.20.5.7/32")), ("104", ("10.30.0.0/16",))}


def test_firewalld_shape_jumps_gotos_final_reject_and_dnat_are_understood():
    result = analysis("firewalld-like")
    assert result["chains"][0]["ends_in"] == "drop"
    v4, v6 = grants(result, "ipv4"), grants(result, "ipv6")
    assert {g[:2] for g in v4} == {(("tcp",), "22"), (("tcp",), "443")}   # dhcpv6 (ip6 daddr) is IPv6 only
    assert (("udp",), "546", ("::/0",)) in v6
    # "ct status dnat accept" opens nothing of the host's own (port forwards are the nat table's business)
    assert all(g["ports"] != "any" for f in iryo_nft.FAMILIES
               for g in iryo_nft.public_grants(result["families"][f]["grants"]))


def test_two_default_drop_tables_open_only_what_both_accept():
    result = analysis("two-tables")
    assert result["families"]["ipv4"]["dropping_chains"] == ["inet edge input", "inet iryo_guard input"]
    assert grants(result, "ipv4") == {(("tcp",), "443", ("0.0.0.0/0",))}
    assert grants(result, "ipv6") == {(("tcp",), "443", ("::/0",))}


def portal_policy():
    return iryo_nft.normalise_services([HTTPS], ["10.88.0.1/32", "fd00:88::/64"], 22)


def test_render_is_what_was_captured_and_reads_back_as_the_declared_policy():
    policy = portal_policy()
    text = iryo_nft.render(policy, header=["rendered by module_utils/iryo_nft.py for a patient_facing host"])
    assert text == (FIXTURES / "src" / "iryo-guard-portal.nft").read_text()
    assert text.splitlines()[1:3] == ["table inet iryo_guard", "delete table inet iryo_guard"]
    result = analysis("iryo-guard-portal")
    assert result["tables"] == ["inet iryo_guard"]
    assert result["chains"][0]["policy"] == "drop"
    assert grants(result, "ipv4") == {(("tcp",), "443", ("0.0.0.0/0",)), (("tcp",), "22", ("10.88.0.1/32",))}
    assert grants(result, "ipv6") == {(("tcp",), "443", ("::/0",)), (("tcp",), "22", ("fd00:88::/64",))}
    assert iryo_nft.judge(result, policy) == []
    # the same ruleset against a stricter declaration: ssh from a wider net than now allowed
    stricter = iryo_nft.normalise_services([HTTPS], ["10.88.0.1/32"], 22)
    assert [(p["family"], p["ports"]) for p in iryo_nft.judge(result, stricter)] == [("ipv6", "22")]


def test_render_groups_sources_by_family_and_keeps_needed_icmp():
    policy = iryo_nft.normalise_services(
        [{"name": "dicom", "port": 104, "sources": ["10.30.0.0/16", "fd00:30::/48"]},
         {"name": "hl7", "port": 2575, "sources": ["10.30.0.0/16"]},
         {"name": "syslog", "port": 514, "proto": "udp", "sources": ["10.40.0.5"]}], ["10.20.0.0/24"], 2222)
    text = iryo_nft.render(policy, icmp_echo=False)
    assert 'ip saddr 10.30.0.0/16 tcp dport { 104, 2575 } accept comment "dicom, hl7"' in text
    assert 'ip6 saddr fd00:30::/48 tcp dport 104 accept comment "dicom"' in text
    assert "ip saddr 10.40.0.5/32 udp dport 514 accept" in text
    assert 'ip saddr 10.20.0.0/24 tcp dport 2222 accept comment "ssh (administration)"' in text
    assert "packet-too-big" in text and "nd-neighbor-solicit" in text and "echo-request" not in text
    assert "policy drop;" in text and "ct state established,related accept" in text and 'iif "lo" accept' in text


@pytest.mark.parametrize("bad", [{"name": "x", "port": "http"}, {"name": "x", "port": 70000},
                                 {"name": "x", "port": 1, "proto": "sctp"}, {"name": "x", "port": 1,
                                                                              "sources": ["10.0.0.300/8"]}])
def test_bad_policy_is_refused(bad):
    with pytest.raises(iryo_nft.PolicyError):
        iryo_nft.normalise_services([bad], [], 22)


def params(**kw):
    base = {"connection": None, "connection_type": "ssh", "ssh_port": 22}
    base.update(kw)
    return base


def test_guard_keeps_the_connection_when_its_source_is_allowed(monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    report = nft_firewall.lockout_guard(params(connection="10.88.0.1 50000 10.88.0.25 22"), portal_policy())
    assert report["keeps_connection"] == "accepted by ssh (administration)"
    assert report["connection"]["client_ip"] == "10.88.0.1"


def test_guard_refuses_a_ruleset_that_drops_the_controller(monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    policy = iryo_nft.normalise_services([HTTPS], ["192.0.2.0/24"], 22)
    with pytest.raises(nft_firewall.Failure) as refused:
        nft_firewall.lockout_guard(params(connection="10.88.0.1 50000 10.88.0.25 22"), policy)
    message = refused.value.args[0]
    assert "drops 10.88.0.1 → tcp/22, the address Ansible is connected from" in message
    assert "c10_isolation_admin_sources (now: 192.0.2.0/24)" in message and "Nothing was changed" in message


def test_guard_uses_the_server_port_the_host_sees(monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    # sshd on 2222: a ruleset for 22 would cut the session even with the right source
    with pytest.raises(nft_firewall.Failure, match="tcp/2222"):
        nft_firewall.lockout_guard(params(connection="10.88.0.1 50000 10.88.0.25 2222"), portal_policy())


def test_guard_refuses_when_no_administrative_path_is_left(monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    with pytest.raises(nft_firewall.Failure, match="no administrative path"):
        nft_firewall.lockout_guard(params(connection_type="local"), iryo_nft.normalise_services([HTTPS], [], 22))


def test_guard_refuses_an_unknown_source_over_ssh_but_not_on_a_local_connection(monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    with pytest.raises(nft_firewall.Failure, match="address Ansible is connected from is unknown"):
        nft_firewall.lockout_guard(params(), portal_policy())
    assert "local connection" in nft_firewall.lockout_guard(params(connection_type="local"),
                                                            portal_policy())["keeps_connection"]


def test_guard_falls_back_to_the_module_environment(monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.9 40000 10.88.0.25 22")
    with pytest.raises(nft_firewall.Failure, match="drops 192.0.2.9"):
        nft_firewall.lockout_guard(params(), portal_policy())


@pytest.mark.parametrize("client,ok", [("10.88.0.1", True), ("10.88.0.2", False), ("127.0.0.1", True),
                                       ("::ffff:10.88.0.1", True), ("fd00:88::5", True), ("fd00:89::5", False)])
def test_guard_evaluates_addresses(client, ok):
    assert iryo_nft.guard(portal_policy(), client, 22)[0] is ok


def test_nftables_conf_gets_the_include_once():
    debian = "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n}\n"
    once = nft_firewall.wanted_conf(debian, "/etc/nftables.d/iryo-guard.nft")
    assert once.startswith(debian) and once.count('include "/etc/nftables.d/iryo-guard.nft"') == 1
    assert nft_firewall.wanted_conf(once, "/etc/nftables.d/iryo-guard.nft") == once


def test_parse_ssh_connection():
    assert iryo_nft.parse_ssh_connection("10.88.0.1 57320 10.88.0.25 22") == {
        "client_ip": "10.88.0.1", "client_port": 57320, "server_ip": "10.88.0.25", "server_port": 22}
    assert iryo_nft.parse_ssh_connection("") is None
    assert iryo_nft.parse_ssh_connection("not an address 1 2") is None


def test_fixtures_say_how_they_were_captured():
    for path in FIXTURES.glob("*.json"):
        data = json.loads(path.read_text())
        assert "nft -j list ruleset" in data["_captured"], path
        assert data["nftables"][0]["metainfo"]["json_schema_version"] == 1
    assert Path(FIXTURES / "capture.py").exists()
