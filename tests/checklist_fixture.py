"""A report with the inspection checklist, built for the renderer and browser tests.

The findings are made here with the findings schema and the clause catalog (as the checks would return them),
then the report model is built by iryo_guard.report.model.build_report as the callback builds it; the
evidence dates are relative to today (the register's 12 months), so nothing depends on the calendar.

Hosts: portal (vendor A), ehr and files (vendor B), gateway (no vendor). What is seeded, per mapped check:
every implemented host check passes everywhere except c12.patches.security_pending (fails on ehr),
c10.monitoring.access_logs (not_applicable on files and gateway), c10.firewall.default_drop (error on gateway)
and d1.ssh.sources (excepted on portal). Evidence: recorded and current for the items in CURRENT, expired for
EXPIRED, not recorded for the rest.
"""

import datetime

from iryo_guard.catalog import ORGANISATION_HOST, load_catalog
from iryo_guard.checklist import load_edition
from iryo_guard.enrich import enrich
from iryo_guard.evidence_register import manual_finding
from iryo_guard.report.model import build_report, iso, new_run
from iryo_guard.schema import make_finding

HOSTS = ("portal", "ehr", "files", "gateway")
VENDOR_A = "架空ウェブ株式会社 <script>alert(1)</script>"
VENDOR_B = "架空医療システム株式会社"
VENDORS = {"portal": VENDOR_A, "ehr": VENDOR_B, "files": VENDOR_B}
SEEDED = {
    ("ehr", "c12.patches.security_pending"): "fail",
    ("files", "c10.monitoring.access_logs"): "not_applicable",
    ("gateway", "c10.monitoring.access_logs"): "not_applicable",
    ("gateway", "c10.firewall.default_drop"): "error",
    ("portal", "d1.ssh.sources"): "excepted",
}
CURRENT = ("cl.manual.security_officer", "cl.manual.device_ledger", "cl.manual.patching_other_devices",
           "cl.manual.password_policy", "cl.manual.access_log_review", "cl.manual.network_source_restriction")
EXPIRED = ("cl.manual.bcp",)


def host_finding(catalog, host, check_id, status):
    summary = {"pass": "%s looked fine on %s" % (check_id, host),
               "fail": "2 security updates pending (less, nano); required: none pending",
               "not_applicable": "no TLS virtual host on this host",
               "error": "could not decide: nft -j list ruleset timed out",
               "excepted": "sshd accepts logins from 192.0.2.0/24; required: 10.0.0.0/8 only"}[status]
    raw = make_finding(check_id, "fail" if status == "excepted" else status, catalog.check(check_id)["severity"],
                       target=host, evidence={"seen": status}, expected={}, remediation="", fixable=False,
                       summary=summary)
    exceptions = []
    if status == "excepted":
        expires = (datetime.date.today() + datetime.timedelta(days=90)).isoformat()
        exceptions = [{"check": check_id, "target": "*", "reason": "vendor VPN until migration",
                       "approver": "CISO", "expires": expires}]
    return enrich([raw], host, catalog, exceptions)[0]


def findings(catalog=None, edition=None, today=None):
    catalog = catalog or load_catalog()
    edition = edition or load_edition()
    today = today or datetime.date.today()
    mapped = sorted({c for m in edition["mapping"].values() for c in m["checks"]})
    out = []
    for host in HOSTS:
        for check_id in mapped:
            if catalog.check(check_id).get("planned"):
                continue  # a planned check emits nothing yet
            out.append(host_finding(catalog, host, check_id, SEEDED.get((host, check_id), "pass")))
    recent = (today - datetime.timedelta(days=30)).isoformat()
    for check in catalog.manual_checks():
        record = None
        if check["id"] in CURRENT:
            record = {"evidence_ref": "DOC-%s" % check["id"], "confirmed_by": "CISO", "last_confirmed": recent}
        elif check["id"] in EXPIRED:
            record = {"evidence_ref": "DOC-%s" % check["id"], "confirmed_by": "CISO", "last_confirmed": "2020-01-31"}
        raw = manual_finding(check, record, 12, today=today, host=ORGANISATION_HOST)
        out += enrich([raw], ORGANISATION_HOST, catalog)
    return out


def inputs(targets=None):
    return {host: {"vendor": VENDORS.get(host), "targets": dict(targets or {})} for host in HOSTS}


def report(targets=None, started=None):
    catalog = load_catalog()
    started = started or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    run = new_run(["playbooks/audit.yml"], True, "2.19", started=started)
    run["finished"] = iso(started)
    hosts = [{"name": h, "groups": ["hospital"], "reachable": True} for h in HOSTS]
    return build_report(findings(catalog), hosts, catalog, run, checklist={"hosts": inputs(targets)})
