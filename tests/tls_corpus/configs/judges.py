"""The judges the corpus asks, all against 127.0.0.1 with the site's name as SNI:

- tls_probe (iryo_guard.tls.probe.probe), the code under test;
- sslyze 6 (one Scanner for every endpoint, tests/tls_matrix/sslyze_facts.py): versions, suites,
  groups, certificate, client-auth requirement;
- ``openssl s_client -verify_return_error -verify_hostname``: does an OpenSSL client accept the
  chain for the name (the verdict real clients give);
- curl, without and with the client certificate: what an HTTP client gets (a refused handshake,
  HTTP 400 from nginx's HTTP-layer check, or a page).
"""

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

from iryo_guard.tls.probe import ProbeRequest, probe
from tests.tls_matrix import sslyze_facts


def key(case, site):
    return "%s %s" % (case.name, site.label)


def tls_probe(corpus, endpoints):
    def one(endpoint):
        case, site = endpoint
        return key(case, site), probe(ProbeRequest("127.0.0.1", site.port, site.name, ca_file=str(corpus.chain.root),
                                                   client_cert=str(corpus.client.client_cert),
                                                   client_key=str(corpus.client.client_key)))
    # each probe runs its own threads; four endpoints at a time keep two cores busy without timeouts
    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, endpoints))


def sslyze(corpus, endpoints):
    scans = sslyze_facts.scan_endpoints([(site.port, site.name) for _, site in endpoints], corpus.chain.root,
                                        corpus.client.client_cert, corpus.client.client_key)
    return {key(case, site): sslyze_facts.facts(scans[(site.port, site.name)], corpus.chain.root, key(case, site))
            for case, site in endpoints}


def openssl_verify(corpus, site):
    """{ok, code, chain_length, detail} from `openssl s_client` with the corpus root as the only anchor."""
    run = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % site.port, "-servername", site.name,
                          "-verify_return_error", "-verify_hostname", site.name, "-CAfile", str(corpus.chain.root),
                          "-showcerts"], input="", capture_output=True, text=True, timeout=20)
    code = re.search(r"Verify return code: (\d+) \(([^)]*)\)", run.stdout)
    return {"ok": bool(code) and code.group(1) == "0", "code": code.group(0) if code else None,
            "chain_length": run.stdout.count("-----BEGIN CERTIFICATE-----"),
            "detail": (run.stderr.strip().splitlines() or [""])[-1]}


# The curves an OpenSSL 3.0 client can offer in TLS 1.2 (its -groups names -> tls_probe's names).
TLS12_CURVES = {"X25519": "x25519", "X448": "x448", "P-256": "secp256r1", "P-384": "secp384r1",
                "P-521": "secp521r1", "P-224": "secp224r1", "secp256k1": "secp256k1",
                "brainpoolP256r1": "brainpoolP256r1", "brainpoolP384r1": "brainpoolP384r1",
                "brainpoolP512r1": "brainpoolP512r1"}


def openssl_tls12_groups(site):
    """The TLS 1.2 curves the server accepts, one `openssl s_client -tls1_2 -groups G` (ECDHE suites only) each.
    sslyze tests groups at the highest version only; this is the third judge for TLS 1.2."""
    def accepts(curve):
        run = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % site.port, "-servername",
                              site.name, "-tls1_2", "-groups", curve, "-cipher", "ECDHE:@SECLEVEL=0"],
                             input="", capture_output=True, text=True, timeout=20)
        return "Cipher is (NONE)" not in run.stdout and "Server Temp Key:" in run.stdout
    if not accepts(":".join(TLS12_CURVES)):
        return set()   # no TLS 1.2 ECDHE at all (after enforcement: no TLS 1.2): one process instead of ten
    with ThreadPoolExecutor(len(TLS12_CURVES)) as pool:
        return {TLS12_CURVES[c] for c, ok in zip(TLS12_CURVES, pool.map(accepts, TLS12_CURVES)) if ok}


def curl(corpus, site, with_cert):
    """{rc, http, hsts}: curl's exit code, HTTP status (0 when there was none) and Strict-Transport-Security."""
    argv = ["curl", "-sS", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "--max-time", "10",
            "--resolve", "%s:%d:127.0.0.1" % (site.name, site.port), "--cacert", str(corpus.chain.root)]
    if with_cert:
        argv += ["--cert", str(corpus.client.client_cert), "--key", str(corpus.client.client_key)]
    run = subprocess.run(argv + ["https://%s:%d/" % (site.name, site.port)], capture_output=True, text=True,
                         timeout=30)
    headers, _, status = run.stdout.rpartition("\n")
    hsts = [line.split(":", 1)[1].strip() for line in headers.splitlines()
            if line.lower().startswith("strict-transport-security:")]
    return {"rc": run.returncode, "http": int(status or 0), "hsts": hsts[-1] if hsts else None,
            "error": run.stderr.strip()}


def clients(corpus, endpoints):
    """openssl and curl for every endpoint (in parallel: each is one short process)."""
    def one(endpoint):
        case, site = endpoint
        return key(case, site), {"openssl": openssl_verify(corpus, site), "curl": curl(corpus, site, False),
                                 "curl_cert": curl(corpus, site, True),
                                 "openssl_tls12_groups": openssl_tls12_groups(site)}
    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, endpoints))


def curl_client_auth(result):
    """What curl saw, in tls_probe's client-auth terms: (mode, enforced_at) it implies."""
    without = result["curl"]
    if without["rc"] != 0:
        return ("required", "handshake")       # no page at all without a certificate
    if without["http"] == 400:
        return ("required", "http")            # nginx: "No required SSL certificate was sent"
    return ("not required", None)              # a page (none or optional: curl cannot tell them apart)
