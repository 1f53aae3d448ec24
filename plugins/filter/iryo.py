# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that hand requirement data (data/) to roles, so modules get values, not YAML paths."""

import datetime
from pathlib import Path

from ansible.errors import AnsibleFilterError

# The controller library through the collection namespace, in the checkout (collections/, ansible.cfg) as in the
# built collection (docs/collection.md).
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.enrich import InputError
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.maintenance import (WindowError, in_window,
                                                                                       next_opening)
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.tls import inputs
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.tls.profiles import ProfileError


def _filter_errors(function):
    """Data errors (an unknown profile, malformed exceptions) as Ansible filter errors."""
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (ProfileError, InputError) as exc:
            raise AnsibleFilterError(str(exc)) from None
    wrapped.__doc__ = function.__doc__
    return wrapped


# The TLS endpoints (iryo_guard/tls/inputs.py): profile values, the fallback exception, problems, C.11 options.
iryo_tls_profile = _filter_errors(inputs.profile_values)
iryo_tls_fallback_exception = _filter_errors(inputs.fallback_exception)
iryo_tls_endpoint_problems = _filter_errors(inputs.endpoint_problems)
iryo_c11_tls_config_runs = _filter_errors(inputs.tls_config_runs)
iryo_c11_probe_runs = _filter_errors(inputs.probe_runs)


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
                "iryo_c11_tls_config_runs": iryo_c11_tls_config_runs, "iryo_c11_probe_runs": iryo_c11_probe_runs,
                "iryo_in_maintenance_window": iryo_in_maintenance_window,
                "iryo_maintenance_window_next": iryo_maintenance_window_next,
                "iryo_role_argument_specs": iryo_role_argument_specs}
