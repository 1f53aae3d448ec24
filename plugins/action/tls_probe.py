# Controller-side check: the live TLS verdict of C.11 (iryo_guard/tls/). No module is sent to a
# host: the probe runs in the controller process against host:port. Documentation: library/tls_probe.py.
import os
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for iryo_guard

from ansible.errors import AnsibleActionFail  # noqa: E402

from iryo_guard.check_action import CheckAction  # noqa: E402
from iryo_guard.tls.hello import ProbeFailure  # noqa: E402
from iryo_guard.tls.probe import ProbeRequest, probe  # noqa: E402
from iryo_guard.tls.profiles import get_profile, profile_ids  # noqa: E402
from iryo_guard.tls.verdict import CLAUSE_PREFIXES, error_findings, evaluate, profile_allowed  # noqa: E402


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


class ActionModule(CheckAction):
    """tls_probe: judge host:port against a TLS profile; findings for the five TLS checks of its clause
    (c11.tls.* for C.11 endpoints, which only mhlw-c11 / mhlw-c11-tls12 may judge; c10.tls.* for C.10)."""

    def _arguments(self):
        _, args = self.validate_argument_spec(argument_spec=argument_spec(),
                                              required_together=[("client_cert", "client_key")])
        if not 0 < args["port"] < 65536:
            raise AnsibleActionFail("port must be 1-65535, got %s" % args["port"])
        if args["timeout"] <= 0:
            raise AnsibleActionFail("timeout must be a positive number of seconds, got %s" % args["timeout"])
        refused = profile_allowed(args["clause"], args["profile"])
        if refused:
            raise AnsibleActionFail(refused)
        for name in ("ca_file", "client_cert", "client_key"):
            if args.get(name) and not os.path.isfile(args[name]):
                raise AnsibleActionFail("%s %s is not a readable file" % (name, args[name]))
        return args

    def execute_check(self, task_vars):
        args = self._arguments()
        profile = get_profile(args["profile"])
        prefix = CLAUSE_PREFIXES[args["clause"]]
        request = ProbeRequest(host=args["host"], port=args["port"], server_name=args.get("server_name"),
                               ca_file=args.get("ca_file"), client_cert=args.get("client_cert"),
                               client_key=args.get("client_key"), timeout=args["timeout"],
                               http_check=args["http_check"])
        target = "%s:%d" % (request.host, request.port) + (" (%s)" % request.server_name
                                                            if request.server_name else "")
        try:
            facts = probe(request)
        except ProbeFailure as exc:  # the endpoint: unreachable, silent, not TLS; every check is undecided
            return {"changed": False, "compliant": False, "profile": profile.id, "error": exc.message,
                    "handshakes": getattr(exc, "handshakes", None), "elapsed_s": getattr(exc, "elapsed_s", None),
                    "msg": exc.message, "findings": error_findings(target, exc.message, prefix)}
        except Exception as exc:  # noqa: BLE001 - a bug in the probe must not look like a verdict
            message = "tls_probe failed internally (a bug, please report): %s: %s" % (type(exc).__name__, exc)
            return {"failed": True, "msg": message, "exception": traceback.format_exc()}
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
