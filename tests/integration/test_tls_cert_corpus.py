"""The certificate corpus (tests/tls_corpus/certs/): real-world CAs and chains, served by a real nginx,
judged by openssl s_client and curl, and tls_probe's c11.tls.certificate verdict must agree.

Expected verdict (judges.expected_verdict), from the judges only: pass iff s_client and curl accept, the
leaf has a subjectAltName, and every certificate of the path s_client verified meets the profile's key
rule (signature-hash rule: all but a self-signed anchor), as openssl x509 and sslyze read them. Where
the judges disagree with each other or with that rule the case says why (cases.py `disagreement`), and
test_disagreements_are_the_recorded_ones asserts exactly those.

Timing: keys once per session (RSA 4096 is slow), the corpus and nginx once per module; judges, sslyze
and tls_probe each run over all cases in parallel.
"""

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

import testkit
from iryo_guard.tls.probe import ProbeRequest, probe
from iryo_guard.tls.profiles import get_profile
from iryo_guard.tls.verdict import evaluate
from tests.tls_corpus.certs import judges, table
from tests.tls_corpus.certs.build import KeyPool, build_corpus
from tests.tls_corpus.certs.cases import CASES
from tests.tls_corpus.certs.server import CorpusNginx

PROFILE = "mhlw-c11"
# Where sslyze's path validation (cryptography's CA/Browser Forum verifier) decides otherwise than the
# OpenSSL clients: reference only, never part of the expected verdict; asserted so docs/tls-probe.md stays true.
SSLYZE_DIFFERS = {
    "plain-openssl-root": "refuses a CA without keyUsage",
    "ca-basic-constraints-not-critical": "refuses a CA whose basicConstraints is not critical",
    "no-san-cn-only": "refuses a leaf without subjectAltName",
    "leaf-rsa1024": "accepts a 1024-bit leaf (the clients refuse it at security level 2)",
    "duplicate-intermediate-other-copy-first": "builds the path through the second copy of the intermediate",
}
OTHER_CHECKS = ("protocol_versions", "cipher_suites", "key_exchange", "client_auth")


@dataclass
class Result:
    case: object
    built: object
    port: int
    s_client: judges.ClientVerdict
    curl: judges.ClientVerdict
    path: list
    expected: bool
    reasons: list
    sslyze: judges.SslyzeView = None
    facts: dict = None
    findings: list = None

    @property
    def finding(self):
        return next(f for f in self.findings if f["check"] == "c11.tls.certificate")


@pytest.fixture(scope="session")
def corpus_keys(tmp_path_factory):
    testkit.tool("openssl")
    return KeyPool(tmp_path_factory.mktemp("corpus-keys")).generate()


def _rule(profile):
    return {k: profile.value("certificate." + k) for k in ("rsa_min_bits", "ec_curves", "signature_hashes")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, corpus_keys):
    nginx = testkit.tool("nginx")
    if not shutil.which("curl"):
        pytest.fail(testkit.setup_message("curl", "curl"), pytrace=False)
    timings = {}
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("cert-corpus")
    workdir.chmod(0o755)
    built = build_corpus(workdir / "pki", corpus_keys)
    timings["build"] = time.monotonic() - started
    profile = get_profile(PROFILE)
    rule = _rule(profile)
    client = (built.client_cert, built.client_key)
    with CorpusNginx([built.cases[c.name] for c in CASES], built.client_ca, workdir / "nginx", nginx) as server:
        def judge(case):
            b, port = built.cases[case.name], server.ports[case.name]
            s = judges.s_client(port, case.server_name, b.ca_file, *client)
            c = judges.curl(port, case.server_name, b.ca_file, *client)
            path = judges.verified_path(s, b.ca_file)
            expected, reasons = judges.expected_verdict(s, c, path, rule)
            return Result(case, b, port, s, c, path, expected, reasons)

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            results = {r.case.name: r for r in pool.map(judge, CASES)}
        timings["s_client + curl"] = time.monotonic() - started

        started = time.monotonic()
        views = judges.sslyze_scan({n: (r.port, r.case.server_name, r.built.ca_file) for n, r in results.items()},
                                   *client)
        timings["sslyze"] = time.monotonic() - started
        for name, view in views.items():
            results[name].sslyze = view

        def ours(result):
            return probe(ProbeRequest("127.0.0.1", result.port, result.case.server_name,
                                      ca_file=str(result.built.ca_file), client_cert=str(built.client_cert),
                                      client_key=str(built.client_key)))

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            for result, facts in zip(results.values(), pool.map(ours, results.values())):
                result.facts = facts
                result.findings, _ = evaluate(facts, profile)
        timings["tls_probe"] = time.monotonic() - started
    if os.environ.get("IRYO_CORPUS_DUMP"):
        for name, r in results.items():
            f = r.finding
            print("\n## %s: judges %s/%s expected %s; tls_probe %s\n  summary: %s\n  notes: %s\n  sslyze: %s %s" % (
                name, r.s_client.detail, r.curl.detail, r.expected, f["status"], f.get("summary"),
                f["evidence"].get("notes"), r.sslyze.path_valid, r.sslyze.path_error))
    print("\ncertificate corpus, %d cases: %s" % (len(CASES), ", ".join("%s %.1f s" % kv for kv in timings.items())))
    yield results


def _by_name(case):
    return case.name


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_the_server_sends_exactly_the_case_chain(corpus, case):
    result = corpus[case.name]
    defined = judges.pem_blocks(result.built.chain.read_bytes())
    assert result.s_client.sent == defined
    assert [p.replace(b"\r\n", b"\n") for p in result.sslyze.received_pem] == defined


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_each_case_is_what_it_was_built_to_be(corpus, case):
    """A check on the builder: the expired leaf really is expired for OpenSSL, and so on."""
    result = corpus[case.name]
    assert result.s_client.accepted == (case.built_to == "accept"), result.s_client.detail


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_sslyze_reads_keys_and_signatures_like_openssl(corpus, case):
    result = corpus[case.name]
    ours = [judges.read_cert(p).strength() for p in result.s_client.sent]
    assert result.sslyze.received == ours


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_sslyze_web_pki_validation_differs_only_where_documented(corpus, case):
    result = corpus[case.name]
    clients_accept = result.s_client.accepted and result.curl.accepted
    assert (result.sslyze.path_valid != clients_accept) == (case.name in SSLYZE_DIFFERS), result.sslyze.path_error


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_disagreements_are_the_recorded_ones(corpus, case):
    """s_client vs curl, and both clients vs the rule: a disagreement exists exactly where cases.py says why."""
    result = corpus[case.name]
    clients_accept = result.s_client.accepted and result.curl.accepted
    disagree = result.s_client.accepted != result.curl.accepted or clients_accept != result.expected
    assert disagree == bool(case.disagreement), (result.s_client.detail, result.curl.detail, result.reasons)


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_tls_probe_verdict_equals_the_judges(corpus, case):
    result = corpus[case.name]
    finding = result.finding
    want = "pass" if result.expected else "fail"
    assert finding["status"] == want, "judges: %s; tls_probe: %s" % (
        "; ".join(result.reasons) or "accept", finding.get("summary"))
    notes = " ".join(finding["evidence"].get("notes") or [])
    for word in case.notes:
        assert word in notes, notes
    said = "%s %s" % (finding["summary"], finding["evidence"].get("chain_error") or "")
    for word in case.mentions:
        assert word in said, said


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_the_evidence_does_not_contradict_the_judges(corpus, case):
    """What the finding says about OpenSSL-based clients must be what s_client and curl did. (Key and
    signature strength are judged by the profile, not by `openssl verify`'s security level, so tls_probe's
    own chain_valid may be true where the clients refuse a weak key or SHA-1: then no note may claim that
    these clients accept the chain.)"""
    result = corpus[case.name]
    if result.s_client.accepted and result.curl.accepted:
        return
    claims = [n for n in result.finding["evidence"].get("notes") or []
              if re.search(r"OpenSSL[- ]based clients accept", n)]
    assert not claims, "s_client: %s; curl: %s" % (result.s_client.detail, result.curl.detail)


@pytest.mark.parametrize("case", CASES, ids=_by_name)
def test_only_the_certificate_varies(corpus, case):
    """Every server block is C.11-compliant apart from the certificate: the other four checks pass."""
    statuses = {f["check"].split(".")[-1]: (f["status"], f.get("summary")) for f in corpus[case.name].findings}
    assert {k: statuses[k] for k in OTHER_CHECKS} == {k: ("pass", statuses[k][1]) for k in OTHER_CHECKS}


@pytest.mark.parametrize("case", [c for c in CASES if c.built_to == "accept"], ids=_by_name)
def test_tls_probe_path_is_the_path_openssl_verified(corpus, case):
    result = corpus[case.name]
    ours = [c["subject"] for c in result.facts["certificate"]["path"]]
    assert ours == result.s_client.path


def test_docs_table_is_the_measured_one(corpus):
    """docs/tls-probe.md, "Certificate corpus": the table of this run (IRYO_WRITE_CORPUS_DOC=1 writes it)."""
    measured = table.section(table.rows(corpus))
    if os.environ.get("IRYO_WRITE_CORPUS_DOC") == "1":
        table.write(measured)
    assert table.current() == measured, ("docs/tls-probe.md's certificate corpus table is not this run's: "
                                         "IRYO_WRITE_CORPUS_DOC=1 .venv/bin/pytest %s" % __file__)
