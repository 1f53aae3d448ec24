"""Live TLS verdict of an endpoint (C.11): probe with few handshakes, judge against a profile.

    from iryo_guard.tls.probe import ProbeRequest, probe
    from iryo_guard.tls.verdict import evaluate
    from iryo_guard.tls.profiles import get_profile

    facts = probe(ProbeRequest("10.0.0.5", 443, server_name="portal", ca_file="ca.pem"))
    findings, compliant = evaluate(facts, get_profile("mhlw-c11"))

ciphers.py  IANA suite/group tables (tlslite-ng + the suites it lacks), what a suite is made of
hello.py    ClientHellos (tlslite-ng message layer) and reading the server's first flight, bounded
session.py  one real handshake (local OpenSSL): certificate chain, client authentication, HTTP check
certs.py    certificate facts and chain validation (cryptography's verifier, as sslyze 6)
probe.py    the probing strategy: versions, suites and groups by elimination, in parallel chains
profiles.py data/tls_profiles.yml with `extends`, every value with source and confidence
verdict.py  facts + profile -> findings for the five c11.tls checks
"""
