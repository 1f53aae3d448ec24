"""Issue 15 item 2 on the lab: the dry-run audit with one check switched off (iryo_check_<id>: false) reports that
check on every host as `not_applicable`, "skipped by configuration", in report.json and junit.xml, and every
other verdict exactly as the same audit without the switch."""

import json
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.lab

AUDITED = ("portal", "ehr", "files", "gateway")
# The example of the issue: the firewall's default-drop check, which the lab's hosts fail (no firewall), while
# nft_firewall still runs for the other firewall check, whose verdict must stay what it was.
CHECK = "c10.firewall.default_drop"
SWITCH = "iryo_check_c10_firewall_default_drop"
SUMMARY = "skipped by configuration (iryo_check_c10_firewall_default_drop = false)"


@pytest.fixture(scope="module")
def audits(lab, tmp_path_factory):
    runs = {}
    for name, extra in (("baseline", ()), ("switched", ("-e", json.dumps({SWITCH: False})))):
        folder = tmp_path_factory.mktemp(name)
        # the gate off, so that exit 0 means that no task failed (the lab is seeded non-compliant)
        result = lab.playbook("playbooks/audit.yml", "-e", "iryo_audit_fail_on_findings=false", *extra,
                              report_dir=folder)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        runs[name] = (result, lab.report(folder), folder)
    return runs


def verdicts(report):
    return {(f["host"], f["check"], f["target"]): f["status"] for f in report["findings"]}


@pytest.mark.parametrize("host", AUDITED)
def test_the_switched_off_check_is_reported_skipped_on_every_host(audits, host):
    _, baseline, _ = audits["baseline"]
    _, switched, _ = audits["switched"]
    before = [f for f in baseline["findings"] if f["host"] == host and f["check"] == CHECK]
    assert before and {f["status"] for f in before} == {"fail"}  # the switch hides a real failure: it says so
    [finding] = [f for f in switched["findings"] if f["host"] == host and f["check"] == CHECK]
    assert finding["status"] == "not_applicable" and finding["summary"] == SUMMARY
    assert finding["skipped_by"] == SWITCH and finding["target"] == "configuration"
    assert finding["clause"] == "C.10"


def test_every_other_verdict_is_unchanged(audits):
    baseline = verdicts(audits["baseline"][1])
    switched = verdicts(audits["switched"][1])
    assert {k: v for k, v in baseline.items() if k[1] != CHECK} == {k: v for k, v in switched.items() if k[1] != CHECK}
    # the firewall module still ran for its other check
    assert {(h, c) for h, c, _ in switched if c == "c10.firewall.allowed_services"} == {
        (h, "c10.firewall.allowed_services") for h in AUDITED}
    # only the switched check left the gate's count
    failing = {k for k, v in baseline.items() if v in ("fail", "error")}
    assert failing - {k for k, v in switched.items() if v in ("fail", "error")} == {
        k for k in failing if k[1] == CHECK} and len({k[0] for k in failing if k[1] == CHECK}) == len(AUDITED)


def test_junit_shows_the_skip_with_its_reason(audits):
    _, _, folder = audits["switched"]
    root = ET.parse(folder / "latest" / "junit.xml").getroot()
    skipped = {}
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            node = case.find("skipped")
            if node is not None and node.get("message") == SUMMARY:
                skipped.setdefault(suite.get("name"), []).append(case.get("classname"))
    # one test suite per host, one test case per finding, classed by clause
    assert skipped == {host: ["C.10"] for host in AUDITED}, skipped


# Everything enforcement could change on a host: configuration files, packages, the live firewall and forwarding.
SNAPSHOT = ("find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum; "
            "dpkg-query -W -f '${Package} ${Version} ${Status}\\n'; nft list ruleset 2>&1; "
            "sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding; grep -c '^[^:]*:!' /etc/shadow || true")


def test_harden_with_only_the_read_only_level_changes_nothing(lab, tmp_path):
    """`--tags disruption_none` on the enforcing playbook: the read-only checks run, every module that runs audits
    (their enforcement is at a level the tags did not select), no builtin enforce task runs, no host changes."""
    before = {host: lab.exec(host, SNAPSHOT) for host in AUDITED}
    result = lab.playbook("playbooks/harden.yml", "--tags", "disruption_none", report_dir=tmp_path)
    after = {host: lab.exec(host, SNAPSHOT) for host in AUDITED}
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert before == after
    recap = [line for line in result.stdout.splitlines() if " : ok=" in line]
    assert len(recap) >= len(AUDITED) and all(" changed=0 " in line for line in recap), "\n".join(recap)
    report = lab.report(tmp_path)
    checks = {f["check"] for f in report["findings"]}
    # the read-only checks ran; the firewall (whose only level is firewall) was left out
    assert {"c11.tls.protocol_versions", "c10.isolation.host_class", "d2.keystore.fips_level1",
            "c12.patches.os_eol", "d1.remote_access.paths"} <= checks
    assert not checks & {"c10.firewall.default_drop", "c10.firewall.allowed_services"}
