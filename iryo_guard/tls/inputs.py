"""The TLS endpoints an inventory declares, checked and turned into the C.11 clause call's options.

Used by the input play (iryo_guard.controller_actions.ValidateInputsAction, before any host is touched)
and by the C.11 role through the filters of plugins/filter/iryo.py.
"""

import datetime
import fnmatch

from ..catalog import load_catalog
from ..enrich import validate_exceptions
from .profiles import get_profile
from .verdict import profile_allowed

FALLBACK_CHECK = "c11.tls.protocol_versions"
PROFILE_VALUES = ("protocols", "tls13_suites", "tls12_suites", "groups", "min_dh_bits", "client_auth")


def profile_values(profile_id):
    """'mhlw-c11' -> {id, protocols, tls13_suites, tls12_suites, groups, min_dh_bits, client_auth,
    requires_exception}: the resolved values of data/tls_profiles.yml (ProfileError when unknown)."""
    profile = get_profile(str(profile_id))
    values = {key: profile.value(key) for key in PROFILE_VALUES}
    values["id"] = profile.id
    values["requires_exception"] = bool(profile.data.get("requires_exception", {}).get("value", False))
    return values


def fallback_exception(target, exceptions):
    """The valid (unexpired) exception that lets endpoint `target` use a TLS 1.2 fallback profile, or None.

    C.11 allows TLS 1.2 only where TLS 1.3 is impossible; iryo-guard asks for that decision to be recorded
    as an exception on c11.tls.protocol_versions whose target glob matches "host:port (server_name)".
    InputError for malformed exceptions."""
    valid = validate_exceptions(exceptions or [], load_catalog(), host=str(target))
    today = datetime.date.today().isoformat()
    for exception in valid:
        if exception["check"] == FALLBACK_CHECK and fnmatch.fnmatchcase(str(target), exception["target"]) \
                and exception["expires"] >= today:
            return exception
    return None


def endpoint_target(endpoint):
    return "%s:%s (%s)" % (endpoint.get("probe_host"), endpoint.get("probe_port"), endpoint.get("server_name"))


def endpoint_problems(endpoints, exceptions=None):
    """Why the declared TLS endpoints cannot be judged as declared: one sentence each, [] when fine.

    - a C.11 endpoint is judged only against mhlw-c11, or mhlw-c11-tls12 with a recorded exception
      (C.11 allows TLS 1.2 only where 1.3 is impossible); other profiles belong to clause C.10;
    - tls_config sets every TLS server block of one web server alike: one profile and clause per server."""
    problems, per_server = [], {}
    for endpoint in endpoints or []:
        name, clause, profile_id = endpoint.get("name"), endpoint.get("clause") or "C.11", endpoint.get("profile")
        refused = profile_allowed(clause, profile_id)
        if refused:
            problems.append("%s: %s" % (name, refused))
            continue
        try:
            needs_exception = profile_values(profile_id)["requires_exception"]
        except ValueError as exc:
            problems.append("%s: %s" % (name, exc))
            continue
        if needs_exception and fallback_exception(endpoint_target(endpoint), exceptions) is None:
            problems.append("%s uses profile %s, which C.11 allows only where TLS 1.3 is impossible: record an "
                            "exception for check %s with target \"%s:%s*\", a reason, an approver and an expiry "
                            "date" % (name, profile_id, FALLBACK_CHECK, endpoint.get("probe_host"),
                                      endpoint.get("probe_port")))
        per_server.setdefault(endpoint.get("server"), set()).add((clause, profile_id))
    for server, kinds in sorted(per_server.items(), key=lambda item: str(item[0])):
        if len(kinds) > 1:
            problems.append("the %s endpoints name different clauses or profiles (%s); tls_config sets every TLS "
                            "server block of one web server alike: give them one" % (
                                server, ", ".join("%s %s" % kind for kind in sorted(kinds))))
    return problems


def tls_config_runs(endpoints, state, client_ca_dest, hsts_max_age=0):
    """The tls_config option sets of the C.11 clause call: one per web server the endpoints name, with that
    server's profile (the input play made sure each server has one clause and profile). A server whose
    endpoints are declared under C.10 reports as c10.tls.server_config."""
    runs, seen = [], set()
    for endpoint in endpoints or []:
        server = endpoint.get("server")
        if server in seen:
            continue
        seen.add(server)
        profile = profile_values(endpoint.get("profile"))
        options = {"state": state, "server": server, "protocols": profile["protocols"],
                   "tls12_ciphers": profile["tls12_suites"], "tls13_ciphersuites": profile["tls13_suites"],
                   "groups": profile["groups"], "prefer_server_ciphers": True, "session_tickets": False,
                   "compression": False,
                   "check_id": "c10.tls.server_config" if endpoint.get("clause") == "C.10" else "c11.tls.server_config"}
        if profile["client_auth"] == "required":
            options.update(verify_client="required", client_ca_file=client_ca_dest)
        if int(hsts_max_age or 0) > 0:
            options["hsts"] = "max-age=%d" % int(hsts_max_age)
        runs.append(options)
    return runs


def probe_runs(endpoints, ca_file="", client_cert="", client_key="", timeout=5):
    """The tls_probe option sets of the C.11 clause call: one per declared endpoint."""
    runs = []
    for endpoint in endpoints or []:
        options = {"host": endpoint.get("probe_host"), "port": endpoint.get("probe_port"),
                   "server_name": endpoint.get("server_name"), "profile": endpoint.get("profile"),
                   "clause": endpoint.get("clause") or "C.11", "timeout": timeout}
        for key, value in (("ca_file", ca_file), ("client_cert", client_cert), ("client_key", client_key)):
            if value:
                options[key] = value
        runs.append(options)
    return runs
