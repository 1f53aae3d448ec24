#!/usr/bin/env python3
"""tls_probe vs sslyze vs testssl.sh on the same real endpoints, on loopback and at 20 ms RTT.

    .venv/bin/python bench/tls_probe_vs_sslyze.py [--endpoints nginx-c11,apache-c11-tls12,...]
        [--repeat 5] [--rtt-ms 20] [--no-testssl] [--json results.json]

Endpoints are configurations of the TLS test matrix (tests/tls_matrix/matrix.py), served by
one nginx and one Apache on 127.0.0.1 with a throw-away PKI. The 20 ms RTT path is
/work/shared/tools/delay_proxy.py (10 ms each way) in front of each server, used by every
tool alike. What is timed, per endpoint:

- tls_probe: iryo_guard.tls.probe.probe() in this process, with the client certificate
  (median of --repeat runs; `handshakes` = ClientHellos it sent);
- sslyze 6.3.1: the scan the matrix test compares with, in this process: one Scanner, two
  requests in parallel (cipher suites for every version, elliptic_curves, certificate_info
  with the CA file, WITH the client certificate; and a connectivity-only request WITHOUT it
  for client_auth_requirement) (median of --repeat runs);
- testssl.sh 3.0.8 (Debian): `testssl --quiet --color 0 --warnings off --nodns none --fast
  --ip 127.0.0.1 --add-ca CA -p -E -f -S --jsonfile F localhost:PORT` (protocols, ciphers
  per protocol, forward secrecy with curves, server defaults with the certificate), once.

Agreement: tls_probe's verdict (all five checks) against the verdict computed from sslyze's
observations for the same profile; for testssl, the accepted versions, suites per version
and EC curves it reports against tls_probe's (testssl 3.0.8 reports no client-auth finding,
so no whole verdict).
"""

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from iryo_guard.tls.probe import ProbeRequest, probe  # noqa: E402
from iryo_guard.tls.profiles import get_profile  # noqa: E402
from iryo_guard.tls.verdict import C10_PREFIX, C11_PREFIX, C11_PROFILES, evaluate  # noqa: E402
from tests.tls_matrix import sslyze_facts  # noqa: E402
from tests.tls_matrix.matrix import cases  # noqa: E402
from tests.tls_matrix.pki import make_pki  # noqa: E402
from tests.tls_matrix.servers import ServerSet, free_ports, wait_for_ports  # noqa: E402

DELAY_PROXY = Path("/work/shared/tools/delay_proxy.py")
DEFAULT_ENDPOINTS = ("nginx-c11,apache-c11,apache-c11-tls12,nginx-c11-tls12-dhe,nginx-client-http-only,"
                     "nginx-debian-default")
TESTSSL_OPTIONS = ["--quiet", "--color", "0", "--warnings", "off", "--nodns", "none", "--fast",
                   "-p", "-E", "-f", "-S"]
TESTSSL_VERSIONS = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLS1": "TLSv1.0", "TLS1_1": "TLSv1.1",
                    "TLS1_2": "TLSv1.2", "TLS1_3": "TLSv1.3"}
TESTSSL_CURVES = {"prime256v1": "secp256r1", "X25519": "x25519", "X448": "x448"}


def _median_run(function, repeat):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run_ours(port, pki):
    return probe(ProbeRequest("127.0.0.1", port, "localhost", ca_file=str(pki.ca),
                              client_cert=str(pki.client_cert), client_key=str(pki.client_key)))


def run_sslyze(port, pki):
    both = sslyze_facts.scan([port], pki.ca, pki.client_cert, pki.client_key)[port]
    return sslyze_facts.facts(both, pki.ca)


def run_testssl(port, pki, workdir):
    out = Path(workdir) / ("testssl-%d.json" % port)
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["testssl", *TESTSSL_OPTIONS, "--ip", "127.0.0.1", "--add-ca", str(pki.ca),
                    "--jsonfile", str(out), "localhost:%d" % port],
                   capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    return elapsed, json.loads(out.read_text()) if out.exists() else []


def testssl_facts(items):
    """Versions, suites per version and EC curves from testssl's JSON findings."""
    protocols = [TESTSSL_VERSIONS[i["id"]] for i in items
                 if i["id"] in TESTSSL_VERSIONS and i["finding"].startswith("offered")]
    suites = {}
    for item in items:
        if item["id"].startswith("cipher-tls1_") or item["id"].startswith("cipher-ssl"):
            fields = item["finding"].split()
            version = {"1.3": "TLSv1.3", "1.2": "TLSv1.2", "1.1": "TLSv1.1", "1": "TLSv1.0"}.get(fields[1], fields[0])
            suites.setdefault(version, []).append(fields[-1])
    curves = next((i["finding"].split() for i in items if i["id"] in ("PFS_ECDHE_curves", "FS_ECDHE_curves")), [])
    return {"protocols": protocols, "suites": suites, "groups": [TESTSSL_CURVES.get(c, c) for c in curves]}


def _verdict(facts, profile):
    findings, compliant = evaluate(facts, profile, C11_PREFIX if profile.id in C11_PROFILES else C10_PREFIX)
    return compliant, {f["check"].split(".")[-1]: f["status"] for f in findings}


def _agree_sslyze(ours, theirs, profile):
    (ours_ok, ours_checks), (_, their_checks) = _verdict(ours, profile), _verdict(theirs, profile)
    if ours_checks == their_checks:
        return "same verdict (%s)" % ("compliant" if ours_ok else "fails " + ",".join(
            sorted(k for k, v in ours_checks.items() if v != "pass")))
    diff = sorted(k for k in ours_checks if ours_checks[k] != their_checks[k])
    return "DIFFERS on %s" % ", ".join(diff)


def _agree_testssl(ours, theirs):
    problems = []
    if ours["protocols"] != theirs["protocols"]:
        problems.append("versions")
    if {v: sorted(s) for v, s in ours["suites"].items()} != {v: sorted(s) for v, s in theirs["suites"].items()}:
        problems.append("suites")
    ec = sorted(g for g in ours["groups"] if not g.startswith("ffdhe"))
    if ec != sorted(theirs["groups"]):
        problems.append("curves")
    return "same versions/suites/curves" if not problems else "DIFFERS on " + ", ".join(problems)


def _proxies(endpoints, one_way_ms):
    ports = free_ports(len(endpoints))
    procs = [subprocess.Popen([sys.executable, str(DELAY_PROXY), str(port), "127.0.0.1:%d" % target,
                               "--one-way-ms", str(one_way_ms)], stderr=subprocess.DEVNULL)
             for port, target in zip(ports, endpoints)]
    for port, proc in zip(ports, procs):
        wait_for_ports([port], proc, [])
    return ports, procs


def bench(args):
    selected = args.endpoints.split(",")
    chosen = [c for c in cases() if c.name in selected]
    workdir = Path(tempfile.mkdtemp(prefix="tls-bench-"))
    workdir.chmod(0o755)
    pki = make_pki(workdir / "pki")
    rows = []
    with ServerSet([c.site for c in chosen], pki, workdir):
        proxy_ports, procs = _proxies([c.site.port for c in chosen], args.rtt_ms / 2)
        try:
            for network, ports in (("loopback", [c.site.port for c in chosen]),
                                   ("%g ms RTT" % args.rtt_ms, proxy_ports)):
                for case, port in zip(chosen, ports):
                    rows += measure(case, port, network, pki, workdir, args)
        finally:
            for proc in procs:
                proc.terminate()
    shutil.rmtree(workdir, ignore_errors=True)
    return rows


def measure(case, port, network, pki, workdir, args):
    profile = get_profile(case.profile)
    run_ours(port, pki)  # warm-up: imports, first connections
    ours_s, ours = _median_run(lambda: run_ours(port, pki), args.repeat)
    sslyze_s, theirs = _median_run(lambda: run_sslyze(port, pki), args.sslyze_repeat)
    rows = [
        {"tool": "tls_probe", "endpoint": case.name, "network": network, "seconds": ours_s,
         "handshakes": ours["handshakes"], "ratio": 1.0, "agreement": "-"},
        {"tool": "sslyze", "endpoint": case.name, "network": network, "seconds": sslyze_s, "handshakes": None,
         "ratio": sslyze_s / ours_s, "agreement": _agree_sslyze(ours, theirs, profile)},
    ]
    if args.testssl and shutil.which("testssl"):
        testssl_s, items = run_testssl(port, pki, workdir)
        rows.append({"tool": "testssl.sh", "endpoint": case.name, "network": network, "seconds": testssl_s,
                     "handshakes": None, "ratio": testssl_s / ours_s,
                     "agreement": _agree_testssl(ours, testssl_facts(items))})
    for row in rows:
        print(_line(row), flush=True)
    return rows


HEADER = "%-10s  %-24s  %-10s  %8s  %10s  %7s  %s" % ("tool", "endpoint", "network", "seconds", "handshakes",
                                                        "ratio", "agreement with tls_probe")


def _line(row):
    return "%-10s  %-24s  %-10s  %8.3f  %10s  %6.1fx  %s" % (
        row["tool"], row["endpoint"], row["network"], row["seconds"],
        row["handshakes"] if row["handshakes"] is not None else "-", row["ratio"], row["agreement"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", default=DEFAULT_ENDPOINTS)
    parser.add_argument("--repeat", type=int, default=5, help="runs of tls_probe per endpoint (median)")
    parser.add_argument("--sslyze-repeat", type=int, default=3, help="runs of sslyze per endpoint (median)")
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--no-testssl", dest="testssl", action="store_false")
    parser.add_argument("--json", help="write the rows to this file")
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C, so the servers and proxies started here are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(HEADER, flush=True)
    rows = bench(args)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
