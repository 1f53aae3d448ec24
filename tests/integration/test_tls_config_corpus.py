"""The configuration corpus (tests/tls_corpus/configs): real-world nginx and Apache TLS trees,
judged by independent clients, then enforced with tls_config and judged again.

Once for the module: every tree is built in a temp sandbox, validated (`nginx -t` / `apache2 -t`)
and served by its own nginx / Apache on 127.0.0.1 (all started at once); every endpoint (site
name x port) is judged by tls_probe, by sslyze (one Scanner for all), by `openssl s_client
-verify_return_error -verify_hostname` and by curl without and with the client certificate. Then
tls_config audits each tree, runs in check mode (no byte may change), enforces the mhlw-c11 values
exactly as roles/c11_tls/tasks/checks.yml passes them (validated with the tree's own `-t`, reloaded
on the test instance), and enforces again (nothing may change). The judges run again.

The assertions: tls_probe's facts and verdict equal sslyze's (the known differences of
docs/tls-probe.md are asserted where they occur), openssl and curl agree with tls_probe on the chain
and on client authentication, tls_config's audit describes what the live server does, one
enforcement makes every case compliant, a second one changes nothing, every tree still validates.

IRYO_CORPUS_TABLE=FILE writes the measured table of docs/tls-probe.md ("Configuration corpus");
IRYO_CORPUS_TABLE=docs/tls-probe.md puts it between that section's markers.
"""

import os
import socket
import ssl
import sys
import time
from pathlib import Path

import pytest
import yaml

from iryo_guard.tls.profiles import get_profile
from iryo_guard.tls.verdict import evaluate
from plugins.filter.iryo import iryo_tls_profile
from tests.tls_corpus.configs import judges
from tests.tls_corpus.configs.cases import apply_role_steps, build, cases
from tests.tls_corpus.configs.table import markdown
from tests.tls_corpus.configs.table import write as write_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "tls_config"))

import harness  # noqa: E402

REPO = harness.REPO
CASES = cases()
BEFORE = [(c.name, s.label) for c in CASES if not c.cannot_serve_before for s in c.sites]
AFTER = [(c.name, s.label) for c in CASES for s in c.sites]
HSTS_MAX_AGE = yaml.safe_load((REPO / "roles/c11_tls/defaults/main.yml").read_text())["c11_tls_hsts_max_age"]


def role_args(case, corpus, state):
    """tls_config's options as roles/c11_tls/tasks/checks.yml passes them for the case's profile,
    plus the test instance's own validate and reload commands."""
    profile = iryo_tls_profile(case.profile)
    args = dict(server=case.server, state=state, config_root=str(case.main_path),
                protocols=profile["protocols"], tls12_ciphers=profile["tls12_suites"],
                tls13_ciphersuites=profile["tls13_suites"], groups=profile["groups"],
                prefer_server_ciphers=True, session_tickets=False, compression=False,
                backup_dir=str(corpus.workdir / "backups" / case.name),
                validate_command=case.tree.validate_argv(),
                # a tree whose server could not run has nothing to reload (the module's default,
                # systemctl try-reload-or-restart, also leaves a stopped server stopped)
                reload_command="" if case.cannot_serve_before else case.tree.reload_argv())
    if profile["client_auth"] == "required":
        args.update(verify_client="required", client_ca_file=str(corpus.client.client_ca))
    if HSTS_MAX_AGE > 0:
        args["hsts"] = "max-age=%d" % HSTS_MAX_AGE
    return args


def tls12_refused(site):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection(("127.0.0.1", site.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=site.name):
                return False
    except ssl.SSLError:
        return True


def judge(corpus, endpoints, timings, phase):
    started = time.monotonic()
    ours = judges.tls_probe(corpus, endpoints)
    timings["%s tls_probe" % phase] = time.monotonic() - started
    started = time.monotonic()
    theirs = judges.sslyze(corpus, endpoints)
    timings["%s sslyze" % phase] = time.monotonic() - started
    started = time.monotonic()
    clients = judges.clients(corpus, endpoints)
    timings["%s openssl+curl" % phase] = time.monotonic() - started
    return {key: {"ours": ours[key], "theirs": theirs[key], **clients[key]} for key in ours}


def server_logs(case):
    return "\n".join(p.read_text(errors="replace") for p in sorted(case.sandbox.rglob("*log*")) if p.is_file())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    started = time.monotonic()
    corpus = build(tmp_path_factory.mktemp("tls-corpus"))
    timings = {"build": time.monotonic() - started}
    out = {"corpus": corpus, "timings": timings, "cases": {c.name: c for c in corpus.cases}, "per_case": {}}
    per = out["per_case"]
    for case in corpus.cases:
        per[case.name] = {"validate_before": case.tree.validate()}
    try:
        mark = time.monotonic()
        for case in corpus.cases:
            case.tree.spawn()
        for case in corpus.cases:
            if case.cannot_serve_before:
                per[case.name]["refused"] = case.tree.exited()[0], server_logs(case)
            else:
                case.tree.wait()
        timings["start servers"] = time.monotonic() - mark
        live = [(c, s) for c, s in corpus.endpoints() if not c.cannot_serve_before]
        out["before"] = judge(corpus, live, timings, "before")

        mark = time.monotonic()
        for case in corpus.cases:
            p = per[case.name]
            p["audit"] = harness.run_module(role_args(case, corpus, "audit"))
            p["role_steps"] = apply_role_steps(case)
            p["snapshot"] = harness.snapshot(case.etc)
            p["check"] = harness.run_module(role_args(case, corpus, "enforced"), check_mode=True)
            p["check_unchanged"] = harness.snapshot(case.etc) == p["snapshot"]
            p["enforce"] = harness.run_module(role_args(case, corpus, "enforced"))
            enforced = harness.snapshot(case.etc)
            p["second"] = harness.run_module(role_args(case, corpus, "enforced"))
            p["second_unchanged"] = harness.snapshot(case.etc) == enforced
            p["validate_after"] = case.tree.validate()
        timings["tls_config (audit, check, enforce, enforce again)"] = time.monotonic() - mark

        mark = time.monotonic()
        for case in corpus.cases:
            if case.cannot_serve_before:
                case.tree.spawn().wait()
        # an nginx reload is asynchronous (old workers finish their connections): wait until every
        # endpoint refuses TLS 1.2, the first thing the mhlw-c11 enforcement changes, five times in a row
        out["settled"] = harness.settled(lambda: all(tls12_refused(s) for _, s in corpus.endpoints()))
        timings["settle after reload"] = time.monotonic() - mark
        out["after"] = judge(corpus, corpus.endpoints(), timings, "after")
    finally:
        for case in corpus.cases:
            case.tree.stop()
    timings["total"] = time.monotonic() - started
    table = os.environ.get("IRYO_CORPUS_TABLE")
    if table:
        write_table(table, markdown(out))
    yield out


def _key(name, label):
    return "%s %s" % (name, label)


def _failing(findings):
    return {f["check"].split(".")[-1] for f in findings if f["status"] != "pass"}


def _verdicts(result, profile_id):
    profile = get_profile(profile_id)
    ours, ours_ok = evaluate(result["ours"], profile)
    theirs, theirs_ok = evaluate(result["theirs"], profile)
    return (_failing(ours), ours_ok), (_failing(theirs), theirs_ok)


# --- the trees -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_tree_validates_before_and_after_enforcement(run, name):
    per = run["per_case"][name]
    for when in ("validate_before", "validate_after"):
        checked = per[when]
        assert checked.returncode == 0, "%s: %s" % (when, checked.stderr)
        assert "successful" in checked.stderr or "Syntax OK" in checked.stderr + checked.stdout


@pytest.mark.parametrize("name", [c.name for c in CASES if c.cannot_serve_before])
def test_tree_that_cannot_run_before_enforcement_says_why(run, name):
    """RHEL's PROFILE=SYSTEM passes `apache2 -t` but Debian's OpenSSL cannot build a context from it."""
    case = run["cases"][name]
    code, logs = run["per_case"][name]["refused"]
    assert code not in (None, 0), "the server was expected to refuse to start: " + case.cannot_serve_before
    assert case.refuses_with in logs, logs[-2000:]
    assert run["per_case"][name]["validate_before"].returncode == 0


# --- judges before and after enforcement ----------------------------------------------------------

def _endpoint_params():
    return [pytest.param(phase, name, label, id="%s-%s-%s" % (phase, name, label))
            for phase, keys in (("before", BEFORE), ("after", AFTER)) for name, label in keys]


@pytest.mark.parametrize("phase,name,label", _endpoint_params())
def test_tls_probe_facts_equal_sslyze(run, phase, name, label):
    result = run[phase][_key(name, label)]
    ours, theirs = result["ours"], result["theirs"]
    assert ours["protocols"] == theirs["protocols"]
    assert {v: sorted(s) for v, s in ours["suites"].items()} == {v: sorted(s) for v, s in theirs["suites"].items()}
    assert ours["dh_bits"] == theirs["dh_bits"]
    # sslyze tests EC groups at the highest version only, and has no FFDHE groups in its list
    highest = ours["protocols"][-1]
    assert sorted(g for g in ours["groups_by_version"].get(highest, []) if g in theirs["tested_groups"]) \
        == sorted(theirs["groups"])
    untestable = {g for g in ours["groups"] if g not in theirs["tested_groups"]}
    assert all(g.startswith("ffdhe") for g in untestable), untestable
    assert ours["certificate"]["sha256"] == theirs["certificate"]["sha256"]
    assert ours["certificate"]["chain_valid"] is theirs["certificate"]["chain_valid"] is True
    mine, sslyze_says = ours["client_auth"], theirs["client_auth"]
    if (mine["mode"], mine["enforced_at"]) == ("required", "http"):
        assert sslyze_says["mode"] == "optional"  # nginx `ssl_verify_client on` alone: docs/tls-probe.md, difference 1
    else:
        assert (mine["mode"], mine["enforced_at"]) == (sslyze_says["mode"], sslyze_says["enforced_at"])


@pytest.mark.parametrize("phase,name,label", _endpoint_params())
def test_verdict_equals_the_verdict_on_sslyze_facts(run, phase, name, label):
    case = run["cases"][name]
    (ours, ours_ok), (theirs, theirs_ok) = _verdicts(run[phase][_key(name, label)], case.profile)
    assert ours == theirs
    assert ours_ok is theirs_ok
    if phase == "after":
        assert ours_ok, "not compliant after one enforcement: %s" % sorted(ours)


@pytest.mark.parametrize("phase,name,label", _endpoint_params())
def test_openssl_and_curl_agree_with_tls_probe(run, phase, name, label):
    result = run[phase][_key(name, label)]
    ours = result["ours"]
    assert result["openssl"]["ok"] is ours["certificate"]["chain_valid"] is True, result["openssl"]
    mode, enforced_at = ours["client_auth"]["mode"], ours["client_auth"]["enforced_at"]
    expected = (mode, enforced_at) if mode == "required" else ("not required", None)
    assert judges.curl_client_auth(result) == expected, result["curl"]
    # with the client certificate every endpoint serves a page
    assert result["curl_cert"]["rc"] == 0 and 200 <= result["curl_cert"]["http"] < 500, result["curl_cert"]
    assert ours["client_auth"]["with_cert_ok"] is True


@pytest.mark.parametrize("phase,name,label", _endpoint_params())
def test_tls12_groups_equal_what_openssl_negotiates(run, phase, name, label):
    """sslyze tests groups at the highest version only; openssl s_client is the judge for TLS 1.2's curves."""
    result = run[phase][_key(name, label)]
    ours = result["ours"]
    if "TLSv1.2" in ours["protocols"]:
        offered = set(judges.TLS12_CURVES.values())
        assert set(ours["groups_by_version"]["TLSv1.2"]) & offered == result["openssl_tls12_groups"]
    else:
        assert result["openssl_tls12_groups"] == set()   # no TLS 1.2 at all: every curve is refused


@pytest.mark.parametrize("name,label", AFTER)
def test_hsts_after_enforcement_is_what_clients_receive(run, name, label):
    """curl (with the client certificate) and tls_probe see the same Strict-Transport-Security header, and
    it is at least what the role asks for (a longer one, such as Mozilla's, stays)."""
    result = run["after"][_key(name, label)]
    seen = result["curl_cert"]["hsts"]
    assert seen == result["ours"]["extras"]["hsts"]
    assert seen is not None and harness.iryo_tlsconf.hsts_satisfies(seen, "max-age=%d" % HSTS_MAX_AGE), seen
    if "mozilla" in name:
        assert seen == "max-age=63072000; includeSubDomains"   # the generator's own, not shortened


def test_chain_file_vhost_sends_the_intermediate(run):
    """Apache SSLCertificateChainFile (certbot's layout before 2.4.8): the leaf comes from cert.pem,
    the intermediate from chain.pem; clients that only trust the root must get both."""
    for phase in ("before", "after"):
        result = run[phase][_key("apache-certbot-sni", "pacs.hospital.example:443")]
        assert result["openssl"]["chain_length"] == 2 and result["openssl"]["ok"], result["openssl"]
        assert result["theirs"]["certificate"]["chain_length"] == 2


# --- tls_config: audit against the live server, check mode, one enforcement, idempotence -----------

def _report_for(reports, case, site):
    """The tls_config server report that answers ``site``: same port, the name, else the default server."""
    on_port = [r for r in reports if any(str(site.port) in item for item in r["listen"])]
    named = [r for r in on_port if site.name in r["server_name"]]
    if named:
        return named[0]
    if case.server == "nginx":
        return next(r for r in on_port if r["default_server_for"])
    return on_port[0]   # Apache: the first vhost of an address answers names no vhost claims


# What OpenSSL 3.0 (Debian 12) uses when a server sets nothing: the supported_groups default of
# ssl/t1_lib.c, and the TLS 1.3 suites Python's ssl (the same library) lists for a fresh context.
OPENSSL_DEFAULT_GROUPS = {"x25519", "secp256r1", "x448", "secp521r1", "secp384r1",
                          "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"}
OPENSSL_DEFAULT_TLS13 = {c["name"] for c in ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).get_ciphers()
                         if c["protocol"] == "TLSv1.3"}


def _effective(settings, setting):
    """What tls_config says takes effect for the server: its own value, or the default server's where
    that one decides (negotiated_by)."""
    entry = settings[setting]
    value = entry["current"]
    for decided_by in entry.get("negotiated_by", []):
        value = decided_by[setting]
    return value


@pytest.mark.parametrize("name,label", BEFORE)
def test_audit_describes_what_the_live_server_does(run, name, label):
    """tls_config's reading of the files against the live server, name by name: protocol versions,
    groups, TLS 1.3 suites (where the default server decides them, see negotiated_by) and client
    authentication."""
    case = run["cases"][name]
    site = next(s for s in case.sites if s.label == label)
    audit = run["per_case"][name]["audit"]
    assert not audit.get("failed"), audit.get("msg")
    settings = _report_for(audit["servers"], case, site)["settings"]
    live = run["before"][_key(name, label)]["ours"]
    configured = _effective(settings, "protocols")
    if configured is None:   # no SSLProtocol anywhere: OpenSSL's defaults (Debian: TLS 1.2 and 1.3)
        assert live["protocols"] == ["TLSv1.2", "TLSv1.3"]
    else:
        assert set(live["protocols"]) <= set(configured)
        # TLS 1.0 and 1.1 stay configured in Debian's files but OpenSSL 3.0 refuses them at security
        # level 1 and above (they sign with SHA-1 / MD5+SHA-1): only 1.2 and 1.3 must match exactly
        modern = {"TLSv1.2", "TLSv1.3"}
        assert set(live["protocols"]) & modern == set(configured) & modern
    groups = _effective(settings, "groups")
    assert set(live["groups"]) == (set(groups) if groups is not None else OPENSSL_DEFAULT_GROUPS)
    if "TLSv1.3" in live["protocols"]:
        suites = _effective(settings, "tls13_ciphersuites")
        assert set(live["suites"]["TLSv1.3"]) == (set(suites) if suites is not None else OPENSSL_DEFAULT_TLS13)
    verify = settings["verify_client"]["current"]
    assert {"none": "none", "optional": "optional", "required": "required"}[verify] == live["client_auth"]["mode"]


@pytest.mark.parametrize("name,label,setting,own", [
    ("nginx-sni-default-server", "records.hospital.example:443", "protocols", ["TLSv1.3"]),
    ("nginx-sni-default-server", "records.hospital.example:443", "groups", ["x25519", "secp256r1", "secp384r1"]),
    ("nginx-sni-default-server", "records.hospital.example:443", "tls13_ciphersuites",
     ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]),
    ("apache-sni-default-vhost", "records.hospital.example:443", "groups", ["x25519", "secp256r1", "secp384r1"]),
])
def test_a_setting_the_default_server_decides_is_not_the_named_servers_own(run, name, label, setting, own):
    """The SNI server's own value is not what clients get: the audit says so (negotiated_by, not ok)."""
    case = run["cases"][name]
    site = next(s for s in case.sites if s.label == label)
    entry = _report_for(run["per_case"][name]["audit"]["servers"], case, site)["settings"][setting]
    assert entry["current"] == own and entry["ok"] is False
    # one entry per socket (127.0.0.1 and [::1] for nginx), each naming the default server's value
    assert entry["negotiated_by"] and all(d[setting] != own for d in entry["negotiated_by"])


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_check_mode_changes_no_file_and_shows_the_enforcement_diff(run, name):
    per = run["per_case"][name]
    assert per["check"]["changed"] is True and per["check"]["commands"] == []
    assert per["check_unchanged"], "check mode changed a file"
    assert per["check"]["diff"] == per["enforce"]["diff"]


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_one_enforcement_makes_the_configuration_compliant(run, name):
    case, per = run["cases"][name], run["per_case"][name]
    assert per["role_steps"] == list(case.role_steps)
    enforced = per["enforce"]
    assert not enforced.get("failed"), enforced.get("msg")
    expected = ["validate before", "validate"] + ([] if case.cannot_serve_before else ["reload"])
    assert enforced["changed"] is True and [c["what"] for c in enforced["commands"]] == expected
    assert {f["status"] for f in enforced["findings"]} == {"pass"}
    assert len(enforced["findings"]) == len(per["audit"]["servers"])
    assert run["settled"], "an endpoint still accepted TLS 1.2 after the reload"


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_second_enforcement_changes_nothing(run, name):
    second = run["per_case"][name]["second"]
    assert not second.get("failed"), second.get("msg")
    assert second["changed"] is False and second["commands"] == [] and "diff" not in second
    assert run["per_case"][name]["second_unchanged"]


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_findings_say_in_one_sentence_what_to_do(run, name):
    """Before enforcement every TLS server fails; its summary names the server and what enforce sets."""
    for finding in run["per_case"][name]["audit"]["findings"]:
        summary = finding["summary"]
        assert "\n" not in summary and "{'" not in summary and "['" not in summary, summary  # no repr
        assert finding["status"] == "fail" and "; enforce sets " in summary, summary
        assert len(summary) <= 240 and not summary.endswith("…"), summary   # not cut by fit_summary


def test_corpus_table_has_a_row_per_endpoint(run):
    table = markdown(run)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| case", "| ---"))]
    assert len(rows) == len(AFTER)
    for name, label in AFTER:
        assert any(row.startswith("| %s | %s |" % (name, label)) for row in rows), (name, label)
