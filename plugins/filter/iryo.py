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
from iryo_guard.tls.profiles import ProfileError, get_profile  # noqa: E402

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


class FilterModule:
    def filters(self):
        return {"iryo_tls_profile": iryo_tls_profile, "iryo_tls_fallback_exception": iryo_tls_fallback_exception}
