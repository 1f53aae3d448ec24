"""Probe one declared TLS endpoint and judge it: the work of the tls_probe check, wherever it is called.

Two callers: the tls_probe action plugin (one endpoint per task, ad hoc or in a custom play) and the
C.11 clause action (plugins/action/iryo_c11.py), which probes every endpoint of a host in the same
task as the host's own C.11 checks, in parallel.

    args = validate(raw)            # the documented options of tls_probe; ValueError says what is wrong
    result = probe_endpoint(args)   # {changed, compliant, findings, ...}: never raises for the endpoint
"""

import os
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from .hello import ProbeFailure
from .probe import ProbeRequest, probe
from .profiles import get_profile, profile_ids
from .verdict import CLAUSE_PREFIXES, error_findings, evaluate, profile_allowed

PARALLEL = 8  # endpoints of one host probed at once (each probe runs its own bounded thread pool)


def argument_spec():
    return {
        "host": {"type": "str", "required": True},
        "port": {"type": "int", "required": True},
        "profile": {"type": "str", "required": True, "choices": profile_ids()},
        "clause": {"type": "str", "default": "C.11", "choices": sorted(CLAUSE_PREFIXES)},
        "server_name": {"type": "str"},
        "ca_file": {"type": "path"},
        "client_cert": {"type": "path"},
        "client_key": {"type": "path"},
        "timeout": {"type": "float", "default": 5.0},
        "http_check": {"type": "bool", "default": True},
    }


REQUIRED_TOGETHER = [("client_cert", "client_key")]


def validate(raw):
    """The endpoint's options checked and completed with defaults, or ValueError in one sentence."""
    checked = ArgumentSpecValidator(argument_spec(), required_together=REQUIRED_TOGETHER).validate(dict(raw))
    if checked.error_messages:
        raise ValueError("; ".join(checked.error_messages))
    args = checked.validated_parameters
    if not 0 < args["port"] < 65536:
        raise ValueError("port must be 1-65535, got %s" % args["port"])
    if args["timeout"] <= 0:
        raise ValueError("timeout must be a positive number of seconds, got %s" % args["timeout"])
    refused = profile_allowed(args["clause"], args["profile"])
    if refused:
        raise ValueError(refused)
    for name in ("ca_file", "client_cert", "client_key"):
        if args.get(name) and not os.path.isfile(args[name]):
            raise ValueError("%s %s is not a readable file" % (name, args[name]))
    return args


def target_of(args):
    return "%s:%d" % (args["host"], args["port"]) + (" (%s)" % args["server_name"] if args.get("server_name") else "")


def probe_endpoint(args):
    """Probe and judge one validated endpoint. An endpoint that cannot be probed gives `error` findings."""
    profile = get_profile(args["profile"])
    prefix = CLAUSE_PREFIXES[args["clause"]]
    request = ProbeRequest(host=args["host"], port=args["port"], server_name=args.get("server_name"),
                           ca_file=args.get("ca_file"), client_cert=args.get("client_cert"),
                           client_key=args.get("client_key"), timeout=args["timeout"], http_check=args["http_check"])
    target = target_of(args)
    try:
        facts = probe(request)
    except ProbeFailure as exc:  # the endpoint: unreachable, silent, not TLS; every check is undecided
        return {"changed": False, "compliant": False, "profile": profile.id, "error": exc.message,
                "handshakes": getattr(exc, "handshakes", None), "elapsed_s": getattr(exc, "elapsed_s", None),
                "msg": exc.message, "findings": error_findings(target, exc.message, prefix)}
    except Exception as exc:  # noqa: BLE001 - a bug in the probe must not look like a verdict
        message = "tls_probe failed internally (a bug, please report): %s: %s" % (type(exc).__name__, exc)
        return {"failed": True, "msg": message, "exception": traceback.format_exc(),
                "findings": error_findings(target, message, prefix)}
    findings, compliant = evaluate(facts, profile, prefix)
    auth = facts["client_auth"]
    return {
        "changed": False,
        "compliant": compliant,
        "profile": profile.id,
        "clause": args["clause"],
        "protocols": facts["protocols"],
        "suites": facts["suites"],
        "groups": facts["groups"],
        "groups_by_version": facts["groups_by_version"],
        "groups_inferred": facts.get("groups_inferred"),
        "dh_bits": facts["dh_bits"],
        "certificate": facts["certificate"],
        "client_auth": {"mode": auth["mode"], "enforced_at": auth["enforced_at"],
                        "with_cert_ok": auth["with_cert_ok"], "detail": auth["detail"],
                        "with_cert_detail": auth.get("with_cert_detail"),
                        "certificate_request": auth.get("certificate_request")},
        "extras": facts["extras"],
        "handshakes": facts["handshakes"],
        "elapsed_s": facts["elapsed_s"],
        "msg": "%s: %s against %s (%d handshakes, %.2f s)" % (
            facts["target"], "compliant" if compliant else "NOT compliant", profile.id,
            facts["handshakes"], facts["elapsed_s"]),
        "findings": findings,
    }


def probe_endpoints(raw_endpoints):
    """Every endpoint of a host, in parallel: (results in order, findings). A malformed endpoint gives
    `error` findings for its five checks (the input play refuses it first; this is the last line)."""
    def one(raw):
        try:
            args = validate(raw)
        except ValueError as exc:
            clause = raw.get("clause") if raw.get("clause") in CLAUSE_PREFIXES else "C.11"
            target = "%s:%s" % (raw.get("host"), raw.get("port"))
            message = "endpoint %s refused: %s" % (target, exc)
            return {"failed": True, "msg": message,
                    "findings": error_findings(target, message, CLAUSE_PREFIXES[clause])}
        return probe_endpoint(args)

    with ThreadPoolExecutor(max(1, min(PARALLEL, len(raw_endpoints)))) as pool:
        results = list(pool.map(one, raw_endpoints))
    return results, [f for r in results for f in r.get("findings") or []]
