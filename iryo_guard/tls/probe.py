"""Live TLS facts of one endpoint, in few handshakes.

How the probe learns what a server accepts (see docs/tls-probe.md):

- Versions: one ClientHello per version (SSLv2, SSLv3 ... TLS 1.2 without supported_versions,
  TLS 1.3 with supported_versions=[TLS 1.3] only). That hello offers every suite we know, so
  its answer is also the first accepted suite of that version.
- Suites, by elimination: offer everything, the server picks one, remove it, offer the rest,
  until the server refuses. n accepted suites cost n + 1 hellos, not one per candidate
  (sslyze tries ~530). A chain that finds many splits once into 8 parallel parts.
- Server order (TLS 1.2): the chain's second hello lists the first pick last; a server that
  takes it again chooses by its own order, one that does not has just named a new suite.
- TLS 1.3 suites and groups together: the key_share is empty, so the server answers with a
  HelloRetryRequest naming one suite and one group; both are removed at once.
- TLS 1.2 groups: ECDHE-only hellos offering the curves TLS 1.3 did not already name; the
  curve is in the plaintext ServerKeyExchange. DHE prime sizes come from the suite chain.
- Certificate and client authentication: one real handshake with the local OpenSSL
  (session.py), plus an HTTP GET on it; another one with the client certificate if given.

Independent chains run in parallel threads; each connection has its own deadline (timeout)
and all share the overall deadline. An endpoint that answers no hello raises ProbeFailure.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import ciphers
from .certs import certificate_facts, client_certificate_facts
from .hello import Ahead, Budget, ProbeFailure, client_hello, exchange, exchange_ssl2, resolve
from .session import AUTH_ALERTS, SessionResult, run_session

LEGACY_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2")
ALL_GROUPS = ciphers.EC_GROUPS + ciphers.FF_GROUPS + ciphers.KEM_GROUPS
ALL_LEGACY = list(ciphers.LEGACY_SUITES)
ALL_TLS13 = list(ciphers.TLS13_SUITES)
ECDHE_SUITES = [i for i, n in ciphers.LEGACY_SUITES.items() if ciphers.kex_family(n) == "ECDHE"]
SPLIT_AFTER = 4          # after this many picks a chain splits into parallel parts (once)
# A TLS <= 1.2 server whose first choice is a strong suite (forward secret AEAD) usually has a
# short, deliberate list: splitting early would cost a refusal per part for nothing. One that
# first picks CBC or static RSA usually accepts dozens: split early, the parts run in parallel.
SPLIT_AFTER_STRONG = 8
NEVER = float("inf")
SPLIT_WAYS = 8           # many accepted suites (a default config): one extra refusal per part, far less waiting
OVERALL_FACTOR = 3       # overall deadline = 3 x timeout: stages run one after another
# Failures that tell a person more than "refused": shown first when no version answered.
FAILURE_PRIORITY = ("resolve", "refused", "connect", "garbage", "oversized", "protocol", "truncated", "reset",
                    "timeout", "io")


@dataclass
class ProbeRequest:
    host: str
    port: int
    server_name: str = None
    ca_file: str = None
    client_cert: str = None
    client_key: str = None
    timeout: float = 5.0
    http_check: bool = True


@dataclass
class VersionScan:
    version: str
    supported: bool = False
    picks: list = field(default_factory=list)      # (suite id, Answer) in the order the server chose them
    groups: list = field(default_factory=list)     # TLS 1.3: groups named by HelloRetryRequests
    refusal: str = None                            # how the first hello was refused
    failure: ProbeFailure = None                   # the first hello did not get a TLS answer
    problem: str = None                            # the chain broke after the first answer: incomplete
    server_preference: bool = None                 # TLS 1.2: does the server choose by its own order?
    answered: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    # set once the first hello has its answer: `supported` is known, the chain may still run

    @property
    def suites(self):
        return [suite for suite, _ in self.picks]


def _suite_namer(version):
    return lambda ident: ciphers.suite_name(ident, version)


class Prober:
    def __init__(self, endpoint, budget):
        self.endpoint = endpoint
        self.budget = budget

    def offer(self, version, suites, groups, compression=False, ahead=None):
        record = client_hello(self.endpoint, version, suites, groups, compression)
        return exchange(self.endpoint, self.budget, record, _suite_namer(version),
                        full_flight=version != "TLSv1.3", ahead=ahead)

    def eliminate(self, ask, key, candidates, split_after=SPLIT_AFTER, ahead=None):
        """[(chosen id, Answer)]: offer `candidates`, drop what the server picks, repeat until it refuses.

        ask(offered, ahead) sends one hello; `ahead` keeps the chain's next connection ready."""
        with ahead or Ahead(self.endpoint, self.budget) as ahead:
            found, rest = [], list(candidates)
            while rest:
                answer = ask(rest, ahead)
                if answer.kind == "closed":
                    # Servers answer "none of these" with an alert; a bare close mid-chain may be a
                    # rate limiter or a dropped connection. Ask once more before ending the chain.
                    answer = ask(rest, ahead)
                chosen = key(answer)
                if chosen is None:
                    return found
                if chosen not in rest:
                    raise ProbeFailure("protocol", "%s selected 0x%04x, which the ClientHello did not offer"
                                       % (self.endpoint.target, chosen))
                found.append((chosen, answer))
                rest.remove(chosen)
                if len(found) >= split_after and len(rest) > 1:
                    # Many accepted values: finish the rest in parallel parts (one extra refusal each).
                    ahead.close()
                    parts = [rest[i::SPLIT_WAYS] for i in range(min(SPLIT_WAYS, len(rest)))]
                    with ThreadPoolExecutor(len(parts)) as pool:  # parts do not split again: each costs a refusal
                        for part in pool.map(lambda part: self.eliminate(ask, key, part, NEVER), parts):
                            found.extend(part)
                    return found
            return found

    # ------------------------------------------------------------ versions and suites

    def scan_legacy(self, scan):
        # TLS 1.2 is nearly always there and starts a chain: connect its second hello ahead.
        try:
            with Ahead(self.endpoint, self.budget) as ahead:
                return self._scan_legacy(scan, ahead if scan.version == "TLSv1.2" else None)
        finally:
            scan.answered.set()  # whatever happened, nobody may wait for it forever

    def _scan_legacy(self, scan, ahead):
        version = scan.version
        ask = lambda offered, ah: self.offer(version, offered, ALL_GROUPS, ahead=ah)  # noqa: E731
        try:
            first = self.offer(version, ALL_LEGACY, ALL_GROUPS, compression=True, ahead=ahead)
        except ProbeFailure as exc:
            scan.failure = exc
            return scan
        if not _accepted(first, version):
            scan.refusal = _refusal(first)
            return scan
        scan.supported = True
        scan.picks = [(first.suite, first)]
        scan.answered.set()  # the TLS <= 1.2 group chain may start now
        rest = [s for s in ALL_LEGACY if s != first.suite]
        try:
            if version == "TLSv1.2":
                self._preference_step(scan, rest, ahead)
            strong = _strong(ciphers.suite_name(first.suite, version))
            split_after = (SPLIT_AFTER_STRONG if strong else SPLIT_AFTER) - len(scan.picks)
            scan.picks += self.eliminate(ask, lambda a: a.suite if _accepted(a, version) else None, rest,
                                         split_after=split_after, ahead=ahead)
        except ProbeFailure as exc:
            scan.problem = exc.message
        if scan.server_preference and len(scan.picks) == 1:
            scan.server_preference = None  # a single suite: there is no order to prefer
        return scan

    def _preference_step(self, scan, rest, ahead):
        """Second hello of the chain, with the first pick listed LAST: a server that follows the client
        takes a new suite (the chain goes on, nothing spent); one that picks the same suite again
        chooses by its own order. `rest` loses what was picked."""
        favourite = scan.picks[0][0]
        answer = self.offer(scan.version, rest + [favourite], ALL_GROUPS, ahead=ahead)
        if not _accepted(answer, scan.version):
            return
        scan.server_preference = answer.suite == favourite
        if answer.suite != favourite and answer.suite in rest:
            scan.picks.append((answer.suite, answer))
            rest.remove(answer.suite)

    def scan_ssl2(self):
        scan = VersionScan("SSLv2")
        try:
            answer = exchange_ssl2(self.endpoint, self.budget, list(ciphers.SSL2_SUITES))
        except ProbeFailure as exc:
            scan.failure = exc
            return scan
        if answer.kind != "hello":
            scan.refusal = _refusal(answer)
            return scan
        shared = [c for c in answer.ssl2_ciphers if c in ciphers.SSL2_SUITES]
        scan.supported = bool(shared)
        scan.picks = [(c, answer) for c in shared]
        scan.refusal = None if shared else "SSLv2 SERVER-HELLO without a shared cipher"
        return scan

    def scan_tls13(self):
        scan = VersionScan("TLSv1.3")
        with Ahead(self.endpoint, self.budget) as ahead:
            try:
                first = self.offer("TLSv1.3", ALL_TLS13, ALL_GROUPS, ahead=ahead)
            except ProbeFailure as exc:
                scan.failure = exc
                return scan
            if not _accepted13(first):
                scan.refusal = _refusal(first)
                return scan
            scan.supported = True
            try:
                self._tls13_chains(scan, first, ahead)
            except ProbeFailure as exc:
                scan.problem = exc.message
        return scan

    def _tls13_chains(self, scan, first, ahead):
        scan.picks, scan.groups = [(first.suite, first)], [first.group]
        suites = [s for s in ALL_TLS13 if s != first.suite]
        groups = [g for g in ALL_GROUPS if g != first.group]
        self._tls13_joint(scan, suites, groups, ahead)
        ahead.close()
        # Many values found jointly suggests more to come: split the continuation sooner.
        split_after = max(1, SPLIT_AFTER - len(scan.groups))
        # The refusal ended one list or the other (or both): finish each alone, in parallel.
        with ThreadPoolExecutor(2) as pool:
            more_suites = pool.submit(self.eliminate, lambda r, ah: self.offer("TLSv1.3", r, ALL_GROUPS, ahead=ah),
                                      lambda a: a.suite if _accepted13(a) else None, suites,
                                      split_after) if suites else None
            more_groups = pool.submit(self.eliminate, lambda r, ah: self.offer("TLSv1.3", ALL_TLS13, r, ahead=ah),
                                      lambda a: a.group if _accepted13(a) else None, groups,
                                      split_after) if groups else None
            if more_suites:
                scan.picks += more_suites.result()
            if more_groups:
                scan.groups += [g for g, _ in more_groups.result()]

    def _tls13_joint(self, scan, suites, groups, ahead):
        """Every HelloRetryRequest names one new suite and one new group: remove both, ask again."""
        while suites and groups:
            answer = self.offer("TLSv1.3", suites, groups, ahead=ahead)
            if not _accepted13(answer):
                break
            if answer.suite not in suites or answer.group not in groups:
                raise ProbeFailure("protocol", "%s selected a suite or group the ClientHello did not offer"
                                   % self.endpoint.target)
            scan.picks.append((answer.suite, answer))
            scan.groups.append(answer.group)
            suites.remove(answer.suite)
            groups.remove(answer.group)

    # ------------------------------------------------------------ TLS <= 1.2 groups

    def legacy_groups(self, scans, tls13_future):
        """(version, ECDHE curves accepted at the highest TLS <= 1.2 beyond TLS 1.3's groups, notes).

        Starts as soon as that version's first hello is answered and TLS 1.3's groups are known,
        while the suite chains may still run. Curves TLS 1.3 already named are not asked again."""
        scan = _highest_legacy(scans)
        if scan is None:
            return None, [], []
        tls13 = tls13_future.result()
        known = tls13.groups if tls13.supported else []
        candidates = [g for g in ciphers.EC_GROUPS + ciphers.KEM_GROUPS if g not in known]
        key = lambda a: a.group if _accepted(a, scan.version) else None  # noqa: E731
        ask = lambda offered, ahead: self.offer(scan.version, ECDHE_SUITES, offered, ahead=ahead)  # noqa: E731
        try:
            return scan.version, [g for g, _ in self.eliminate(ask, key, candidates)], []
        except ProbeFailure as exc:
            return scan.version, [], ["%s groups: %s" % (scan.version, exc.message)]


def _strong(name):
    info = ciphers.describe(name)
    return info["pfs"] and info["aead"]


def _highest_legacy(scans):
    """The highest TLS <= 1.2 version the server speaks, known from first hellos only."""
    for version in reversed(LEGACY_VERSIONS):
        scans[version].answered.wait()
        if scans[version].supported:
            return scans[version]
    return None


def _accepted(answer, version):
    return answer.kind == "hello" and answer.version == version and answer.suite is not None


def _accepted13(answer):
    """A TLS 1.3 answer to an empty key_share must name a suite and a group (HelloRetryRequest)."""
    return _accepted(answer, "TLSv1.3") and answer.group is not None


def _refusal(answer):
    if answer.kind == "hello" and answer.version == "TLSv1.3":
        return "server answered TLS 1.3 without naming a key-exchange group"
    if answer.kind == "hello":
        return "server answered with %s instead" % answer.version
    return answer.alert_text()


def legacy_group_list(measured, tls13_groups):
    """(groups of the highest TLS <= 1.2 version, those of them inferred) from the curves seen in that
    version and TLS 1.3's groups.

    The group chain does not ask again for curves TLS 1.3 named (fewer handshakes). An OpenSSL server
    (nginx, Apache) offers one group list to both versions, so once TLS 1.2 ECDHE works (a curve was
    seen) TLS 1.3's elliptic curves are accepted in TLS 1.2 too: checked with `openssl s_client -tls1_2
    -groups` on the configuration corpus (tests/integration/test_tls_config_corpus.py), where listing
    only the measured ones named x25519 alone. FFDHE and hybrid groups exist only in TLS 1.3 here."""
    if not measured:
        return [], []
    inferred = [g for g in tls13_groups if g in ciphers.EC_GROUPS and g not in measured]
    return list(measured) + inferred, inferred


def _unique(values):
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


# ---------------------------------------------------------------------------- probe

def probe(request):
    """Facts about one endpoint (dict). Raises ProbeFailure when it answers no ClientHello like TLS;
    the exception then carries `handshakes` and `elapsed_s` too (what finding out cost)."""
    budget = Budget(request.timeout, request.timeout * OVERALL_FACTOR)
    try:
        return _probe(request, budget)
    except ProbeFailure as exc:
        exc.handshakes, exc.elapsed_s = budget.handshakes, round(budget.elapsed(), 3)
        raise


def _probe(request, budget):
    endpoint = resolve(request.host, request.port, request.server_name)
    prober = Prober(endpoint, budget)
    legacy_scans = {version: VersionScan(version) for version in LEGACY_VERSIONS}

    with ThreadPoolExecutor(11) as pool:
        futures = {version: pool.submit(prober.scan_legacy, scan) for version, scan in legacy_scans.items()}
        futures["SSLv2"] = pool.submit(prober.scan_ssl2)
        futures["TLSv1.3"] = pool.submit(prober.scan_tls13)
        session = pool.submit(_session, endpoint, budget, request.http_check)
        with_cert = (pool.submit(_session, endpoint, budget, request.http_check, request.client_cert,
                                 request.client_key) if request.client_cert else None)
        # Follow-ups start as soon as their inputs are known, while other chains still run.
        groups_job = pool.submit(prober.legacy_groups, legacy_scans, futures["TLSv1.3"])
        scans = {version: future.result() for version, future in futures.items()}
        session, with_cert = session.result(), with_cert.result() if with_cert else None
        groups_version, legacy_groups, notes = groups_job.result()

    supported = [scans[v] for v in ciphers.VERSIONS if scans[v].supported]
    if not supported:
        raise _no_tls(endpoint, scans, session)

    notes += [("%s: %s" % (s.version, s.problem)) for s in scans.values() if s.problem]
    legacy = [s for s in supported if s.version in LEGACY_VERSIONS]
    highest_legacy = legacy[-1] if legacy else None
    tls13 = scans["TLSv1.3"]
    groups_by_version = {}
    if tls13.supported:
        groups_by_version["TLSv1.3"] = [ciphers.group_name(g) for g in tls13.groups]
    groups_inferred = {}
    if groups_version:
        # curves the suite chain met in ServerKeyExchanges, then those the group chain found
        seen = [a.group for _, a in scans[groups_version].picks if a.group is not None]
        listed, inferred = legacy_group_list(_unique(seen + legacy_groups), tls13.groups if tls13.supported else [])
        groups_by_version[groups_version] = [ciphers.group_name(g) for g in listed]
        if inferred:
            groups_inferred[groups_version] = [ciphers.group_name(g) for g in inferred]

    facts = {
        "target": endpoint.target,
        "protocols": [s.version for s in supported],
        "suites": {s.version: [_name(i, s.version) for i in s.suites] for s in supported},
        "groups": _unique(g for names in groups_by_version.values() for g in names),
        "groups_by_version": groups_by_version,
        "groups_inferred": groups_inferred,   # per version: listed from TLS 1.3's answer, not asked again
        "dh_bits": _dh_bits(legacy),
        "certificate": _certificate(endpoint, request, session, with_cert, legacy),
        "client_auth": _client_auth(session, with_cert, legacy, request),
        "extras": _extras(highest_legacy, scans["TLSv1.2"].server_preference, session, with_cert, tls13),
        "incomplete": notes,
        "refusals": {v: s.refusal or (s.failure.message if s.failure else None)
                     for v, s in scans.items() if not s.supported},
    }
    facts["handshakes"] = budget.handshakes
    facts["elapsed_s"] = round(budget.elapsed(), 3)
    return facts


def _name(ident, version):
    return ciphers.suite_name(ident, version)


def _session(endpoint, budget, http_check, client_cert=None, client_key=None):
    try:
        return run_session(endpoint, budget, http_check, client_cert, client_key)
    except ProbeFailure as exc:
        return SessionResult(error=exc.message)


def _no_tls(endpoint, scans, session):
    failures = [s.failure for s in scans.values() if s.failure is not None]
    for kind in FAILURE_PRIORITY:
        for failure in failures:
            if failure.kind == kind:
                return ProbeFailure(kind, failure.message)
    refusals = "; ".join("%s: %s" % (v, scans[v].refusal) for v in ciphers.VERSIONS if scans[v].refusal)
    return ProbeFailure("rejected", "%s refused every ClientHello from SSLv2 to TLS 1.3 (%s)"
                        % (endpoint.target, refusals or session.error or "no answer"))


def _dh_bits(legacy):
    sizes = [a.dh_bits for scan in legacy for _, a in scan.picks if a.dh_bits]
    return min(sizes) if sizes else None


def _certificate(endpoint, request, session, with_cert, legacy):
    """Facts of the leaf the server sends to a client without a certificate (else from other sources)."""
    sources = [(session.chain, "full handshake (%s)" % session.version if session.version else "handshake"),
               (with_cert.chain if with_cert else [], "handshake with client certificate")]
    for scan in reversed(legacy):
        for _, answer in scan.picks:
            if answer.certificates:
                sources.append((answer.certificates, "%s ServerHello flight" % scan.version))
                break
    for chain, source in sources:
        if chain:
            try:
                return certificate_facts(chain, endpoint.sni() or endpoint.host, request.ca_file, source)
            except ValueError as exc:  # not X.509 DER: say so, do not crash
                return {"error": "the server's certificate cannot be parsed (%s): %s" % (source, exc)}
    return {"error": "no certificate could be obtained: %s" % (session.error or "handshake failed")}


def _client_auth(session, with_cert, legacy, request):
    requested = _certificate_requested(session, legacy)
    facts = {"mode": None, "enforced_at": None, "with_cert_ok": None, "certificate_requested": requested,
             "http_status": session.http_status, "detail": None,
             # what the server asks of clients (signature schemes, CA names), when it asks in the session
             "certificate_request": session.cert_request,
             # the certificate the probe presents, judged like the server's (key, signatures)
             "client_certificate": client_certificate_facts(request.client_cert) if request.client_cert else None}
    # alert 116 certificate_required says by itself that a certificate was asked for
    refused = session.alert in AUTH_ALERTS and (requested or session.alert == 116)
    if refused:
        facts.update(mode="required", enforced_at="handshake",
                     detail="without a client certificate the server ended the session with %s"
                     % session.alert_text())
    elif session.ok and requested is not False and request.http_check and session.http_refuses_certificate():
        facts.update(mode="required", enforced_at="http",
                     detail="the TLS handshake completes without a client certificate; the HTTP server then "
                     "answers %s %s" % (session.http_status, session.http_reason))
    elif session.ok and requested:
        facts.update(mode="optional", detail="the server asks for a client certificate but lets a client without "
                     "one through" + (" (HTTP %s)" % session.http_status if session.http_status else ""))
    elif session.ok and requested is False:
        facts.update(mode="none", detail="the server does not ask for a client certificate")
    elif session.ok:
        facts["detail"] = "cannot tell whether the server asks for a client certificate (no TLS message callback)"
    else:
        facts["detail"] = "could not complete a handshake with the local OpenSSL: %s" % session.error
    if with_cert is not None:
        facts["with_cert_ok"], facts["with_cert_detail"] = _with_cert(with_cert, request.http_check)
    return facts


def _certificate_requested(session, legacy):
    """True/False, or None when neither the session nor a plaintext TLS <= 1.2 flight could show it."""
    if session.cert_requested or any(a.cert_requested for scan in legacy for _, a in scan.picks):
        return True
    return None if session.cert_requested is None else False


def _with_cert(session, http_check):
    if not session.ok:
        return False, "handshake with the client certificate failed: %s" % session.error
    if session.alert is not None:
        return False, "the server ended the session with %s" % session.alert_text()
    if http_check and session.http_refuses_certificate():
        return False, "HTTP %s %s" % (session.http_status, session.http_reason)
    if http_check and session.http_status is None:
        return False, "no HTTP answer: %s" % (session.error or "empty")
    return True, "handshake completed" + (", HTTP %s" % session.http_status if session.http_status else "")


def _extras(highest_legacy, preference, session, with_cert, tls13):
    first = highest_legacy.picks[0][1] if highest_legacy else None
    headers = dict(session.http_headers or {})
    if with_cert is not None:
        headers = headers or with_cert.http_headers
    return {
        "compression": (first.compression != 0) if first else False,
        "secure_renegotiation": first.secure_renegotiation if first else None,  # None: TLS 1.3 only
        "extended_master_secret": first.extended_master_secret if first else None,
        "server_cipher_preference": preference,
        "ocsp_stapling": any(a.ocsp_stapled for _, a in highest_legacy.picks) if highest_legacy else None,
        "hsts": headers.get("strict-transport-security"),
        "http_status": session.http_status if session.http_status is not None else (
            with_cert.http_status if with_cert else None),
        "tls13_only": bool(tls13.supported and not highest_legacy),
    }
