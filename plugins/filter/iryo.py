# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that hand requirement data (data/) to roles, so modules get values, not YAML paths."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for iryo_guard

from ansible.errors import AnsibleFilterError  # noqa: E402

import datetime  # noqa: E402
import fnmatch  # noqa: E402

from iryo_guard.catalog import load_catalog  # noqa: E402
from iryo_guard.enrich import InputError, validate_exceptions  # noqa: E402
from iryo_guard.maintenance import WindowError, in_window, next_opening  # noqa: E402
from iryo_guard.tls.profiles import ProfileError, get_profile  # noqa: E402
from iryo_guard.tls.verdict import profile_allowed  # noqa: E402

FALLBACK_CHECK = "c11.tls.protocol_versions"

PROFILE_VALUES = ("protocols", "tls13_suites", "tls12_suites", "groups", "min_dh_bits", "client_auth")


def iryo_tls_profile(profile_id):
    """'mhlw-c11' -> {id, protocols, tls13_suites, tls12_suites, groups, min_dh_bits, client_auth,
    requires_exception}: the resolved values of data/tls_profiles.yml."""
    try:
        profile = get_profile(str(profile_id))
    except ProfileError as exc:
        raise AnsibleFilterError(str(exc)) from None
    values = {key: profile.value(key) for key in PROFILE_VALUES}
    values["id"] = profile.id
    values["requires_exception"] = bool(profile.data.get("requires_exception", {}).get("value", False))
    return values


def iryo_tls_fallback_exception(target, exceptions):
    """The valid (unexpired) exception that lets endpoint `target` use a TLS 1.2 fallback profile.

    C.11 allows TLS 1.2 only where TLS 1.3 is impossible; iryo-guard asks for that decision to
    be recorded as an exception on c11.tls.protocol_versions whose target glob matches the
    endpoint ("host:port (server_name)"). Returns None when there is none."""
    try:
        valid = validate_exceptions(exceptions or [], load_catalog(), host=str(target))
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None
    today = datetime.date.today().isoformat()
    for exception in valid:
        if exception["check"] == FALLBACK_CHECK and fnmatch.fnmatchcase(str(target), exception["target"]) \
                and exception["expires"] >= today:
            return exception
    return None


def _endpoint_target(endpoint):
    return "%s:%s (%s)" % (endpoint.get("probe_host"), endpoint.get("probe_port"), endpoint.get("server_name"))


def iryo_tls_endpoint_problems(endpoints, exceptions=None):
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
            needs_exception = iryo_tls_profile(profile_id)["requires_exception"]
        except AnsibleFilterError as exc:
            problems.append("%s: %s" % (name, exc))
            continue
        target = _endpoint_target(endpoint)
        if needs_exception and iryo_tls_fallback_exception(target, exceptions) is None:
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


def iryo_in_maintenance_window(window):
    """True when now (the controller's clock, in the window's time zone) is inside the window."""
    try:
        return in_window(window)
    except WindowError as exc:
        raise AnsibleFilterError(str(exc)) from None


def iryo_maintenance_window_next(window):
    """ISO timestamp of the window's next opening, for "reboot deferred until ..." messages."""
    try:
        return next_opening(window, datetime.datetime.now(datetime.timezone.utc)).isoformat()
    except WindowError as exc:
        raise AnsibleFilterError(str(exc)) from None


def iryo_role_argument_specs(roles_dir):
    """{role name: main entry point options} of every role under roles_dir with meta/argument_specs.yml,
    so the input play validates the inventory against all roles before any of them runs."""
    import yaml  # controller dependency of ansible-core

    specs = {}
    for path in sorted(Path(roles_dir).glob("*/meta/argument_specs.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        options = ((document.get("argument_specs") or {}).get("main") or {}).get("options")
        if options:
            specs[path.parent.parent.name] = options
    return specs


class FilterModule:
    def filters(self):
        return {"iryo_tls_profile": iryo_tls_profile, "iryo_tls_fallback_exception": iryo_tls_fallback_exception,
                "iryo_tls_endpoint_problems": iryo_tls_endpoint_problems,
                "iryo_in_maintenance_window": iryo_in_maintenance_window,
                "iryo_maintenance_window_next": iryo_maintenance_window_next,
                "iryo_role_argument_specs": iryo_role_argument_specs}
