"""The certificate corpus: what each case is, and how it was made (build.py makes it).

`built_to` is what the case was built to make an OpenSSL-based client do (accept / reject): a check
on the builder (test_each_case_is_what_it_was_built_to_be), never the expected tls_probe verdict.
The expected verdict is computed in the test from the independent judges (openssl s_client, curl,
sslyze's reading of the keys and signatures), by the rule in judges.expected_verdict.

`disagreement` is set exactly where the judges do not decide the verdict by themselves: s_client and
curl disagree with each other, or both accept a chain the rule fails (or the reverse). It says why;
the test asserts the disagreement is there (and nowhere else), so it can never pass silently.
"""

from dataclasses import dataclass

PORTAL = "portal.hosp.example"


@dataclass(frozen=True)
class CertCase:
    name: str
    made_by: str                   # the tool / recipe the case copies
    what: str                      # one line: what is special about it
    built_to: str                  # accept | reject (what OpenSSL-based clients were meant to do)
    server_name: str = PORTAL
    seclevel0: bool = False        # nginx (Debian OpenSSL, security level 2) loads the chain only at level 0
    disagreement: str = ""         # why the judges alone do not give the verdict (see above)
    notes: tuple = ()              # words tls_probe's notes must contain (web-PKI observations)
    mentions: tuple = ()           # words tls_probe's failing summary must contain


CASES = (
    CertCase("plain-openssl-root", "openssl req -x509 (Debian openssl.cnf v3_ca) + openssl x509 -req",
             "private root without keyUsage, leaf with SAN only", "accept", notes=("keyUsage",)),
    CertCase("easy-rsa", "easy-rsa v3.2.6 build-ca + sign-req server --san",
             "easy-rsa defaults: RSA 2048, leaf 825 days", "accept", notes=("398",)),
    CertCase("offline-root-intermediate", "openssl ca two-tier (root -selfsign, issuing CA pathlen:0)",
             "server sends leaf + issuing CA", "accept"),
    CertCase("missing-intermediate", "openssl ca two-tier", "server sends only the leaf", "reject",
             mentions=("Example Hospital Issuing CA",)),
    CertCase("chain-with-root", "openssl ca two-tier", "server also sends the root", "accept",
             notes=("also sends the root",)),
    CertCase("ad-cs", "AD CS-like: standalone root, enterprise issuing CA, WebServer template",
             "KU digitalSignature+keyEncipherment, EKU serverAuth+clientAuth, CDP/AIA (ldap, http), 2 years",
             "accept", notes=("398",)),
    CertCase("cross-signed-anchor-new-root", "two roots, new root cross-signed by the old one",
             "sends leaf, issuing CA, cross certificate; CA file = new root", "accept",
             notes=("outside the path",)),
    CertCase("cross-signed-anchor-old-root", "two roots, new root cross-signed by the old one",
             "same chain; CA file = old root only (path through the cross certificate)", "accept"),
    CertCase("duplicate-intermediate-trusted-copy-first", "one issuing CA certified by root A and root B",
             "sends both copies, the one from the trusted root B first", "accept", notes=("outside the path",)),
    CertCase("duplicate-intermediate-other-copy-first", "one issuing CA certified by root A and root B",
             "sends both copies, the one from the untrusted root A first; CA file = root B. OpenSSL takes the first "
             "copy and does not backtrack; browsers and sslyze's validator build the path through the second",
             "reject",
             mentions=("copy",)),
    CertCase("leaf-rsa2048", "openssl ca two-tier", "RSA 2048 leaf", "accept"),
    CertCase("leaf-rsa3072", "openssl ca two-tier", "RSA 3072 leaf", "accept"),
    CertCase("leaf-rsa4096", "openssl ca two-tier", "RSA 4096 leaf", "accept"),
    CertCase("leaf-p256", "openssl ca two-tier", "ECDSA P-256 leaf", "accept"),
    CertCase("leaf-p384", "openssl ca two-tier", "ECDSA P-384 leaf", "accept"),
    CertCase("leaf-rsa1024", "openssl ca two-tier", "RSA 1024 leaf", "reject", seclevel0=True,
             mentions=("1024",)),
    CertCase("sha1-intermediate", "openssl ca -md sha1 for the issuing CA", "issuing CA signed with SHA-1",
             "reject", seclevel0=True, mentions=("sha1",)),
    CertCase("sha1-leaf", "openssl ca -md sha1", "leaf signed with SHA-1", "reject", seclevel0=True,
             mentions=("sha1",)),
    CertCase("expired-leaf", "openssl ca -startdate -enddate", "leaf expired 30 days ago", "reject",
             mentions=("expired",)),
    CertCase("not-yet-valid-leaf", "openssl ca -startdate -enddate", "leaf valid from 30 days from now",
             "reject", mentions=("not valid before",)),
    CertCase("wrong-name", "openssl ca two-tier", "SAN intranet.hosp.example, asked for portal", "reject",
             mentions=("not valid for",)),
    CertCase("no-san-cn-only", "openssl ca without subjectAltName", "name only in the subject CN", "accept",
             disagreement="OpenSSL (s_client -verify_hostname) and curl 7.88 fall back to the subject CN when a "
             "leaf has no subjectAltName; browsers (Chrome 58+, Firefox 48+) and Go 1.15+ refuse it, and the "
             "profile requires a SAN: FAIL", mentions=("subjectAltName",)),
    CertCase("ip-san", "openssl ca, SAN IP:127.0.0.1", "server name is an IP address", "accept",
             server_name="127.0.0.1"),
    CertCase("wildcard-match", "openssl ca, SAN DNS:*.hosp.example", "wildcard for portal.hosp.example", "accept"),
    CertCase("wildcard-two-labels", "openssl ca, SAN DNS:*.hosp.example",
             "wildcard asked for a.b.hosp.example (one label only)", "reject", server_name="a.b.hosp.example",
             mentions=("not valid for",)),
    CertCase("eku-client-auth-only", "openssl ca, client certificate profile", "EKU clientAuth only", "reject",
             mentions=("TLS server",)),
    CertCase("ca-basic-constraints-not-critical", "openssl ca, issuing CA with basicConstraints CA:TRUE not "
             "critical", "RFC 5280 wants it critical; clients accept it", "accept", notes=("non-critical",)),
    CertCase("leaf-validity-3650-days", "openssl ca -enddate +3650 days", "10-year leaf", "accept",
             notes=("398",)),
    CertCase("sha1-self-signed-root", "openssl ca -selfsign -md sha1", "root self-signed with SHA-1 (its own "
             "signature is not used), leaf SHA-256", "accept"),
    CertCase("rsa1024-root", "openssl ca -selfsign", "1024-bit RSA root key", "reject", mentions=("1024",)),
    CertCase("ecdsa-p384-chain", "openssl ca -md sha384", "P-384 root, P-256 leaf, ECDSA with SHA-384", "accept"),
)

BY_NAME = {c.name: c for c in CASES}
