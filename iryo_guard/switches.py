"""One switch per automated check: the variable iryo_check_<id with dots as underscores> (default true).

A check switched off (`iryo_check_c10_firewall_default_drop: false` in group_vars) is neither audited nor
enforced, and is never silently absent: the controller (iryo_guard/check_action.py) reports it on every host
whose call would have answered for it as one `not_applicable` finding whose summary says
"skipped by configuration (iryo_check_... = false)" and which carries `skipped_by: <variable>`.

The input play refuses, before any host is touched, a variable that looks like a switch (iryo_check_...) but
names no check, listing the valid ones, and a value that is not a boolean (Ansible's own boolean words:
true/false, yes/no, on/off, 1/0, as `type: bool` in an argument spec accepts them; -e gives strings).
docs/switches-and-tags.md lists every switch.
"""

from difflib import get_close_matches

from ansible.module_utils.parsing.convert_bool import boolean

from .catalog import SWITCH_PREFIX, switch_name
from .schema import make_finding

# The finding's target: what was looked at is the run's configuration, not the host.
SKIPPED_TARGET = "configuration"


def switch_value(name, value):
    """A switch's value as a bool; ValueError for anything that is not a boolean (None included)."""
    if isinstance(value, bool):
        return value
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise ValueError("%s must be true or false, not %r" % (name, value)) from None


def switched_off(check_ids, lookup):
    """The check ids among `check_ids` whose switch is false. lookup(variable) returns the variable's value,
    or True when it is not set (a check is on unless switched off)."""
    return [check_id for check_id in check_ids
            if not switch_value(switch_name(check_id), lookup(switch_name(check_id)))]


def skipped_summary(check_id):
    return "skipped by configuration (%s = false)" % switch_name(check_id)


def skipped_finding(catalog, check_id):
    """The one finding a switched-off check gets on a host instead of its verdict."""
    name = switch_name(check_id)
    return make_finding(
        check_id, "not_applicable", severity=catalog.check(check_id)["severity"], target=SKIPPED_TARGET,
        evidence={"switch": name, "value": False}, expected={},
        remediation="Set %s to true (or remove it) to check this again." % name, fixable=False,
        summary=skipped_summary(check_id), skipped_by=name)


def replace_switched_off(catalog, findings, off):
    """`findings` without those of the switched-off checks, plus one skipped finding for each of them."""
    off = list(dict.fromkeys(off))
    kept = [f for f in findings or [] if not (isinstance(f, dict) and f.get("check") in off)]
    return kept + [skipped_finding(catalog, check_id) for check_id in off]


def looks_like_switch(name):
    return isinstance(name, str) and name.startswith(SWITCH_PREFIX)


def switch_problems(catalog, values):
    """Problems with the switches a host is given. values: {variable: value} of the variables whose name
    starts with iryo_check_ (templated as the roles would see them). [] when all are known and boolean."""
    valid = catalog.switches()
    problems = []
    unknown = sorted(name for name in values if name not in valid)
    if unknown:
        hints = []
        for name in unknown:
            close = get_close_matches(name, list(valid), n=1, cutoff=0.8)
            hints.append("%s (did you mean %s?)" % (name, close[0]) if close else name)
        problems.append("%s name%s no check of the clause catalog; the switches are: %s"
                        % (", ".join(hints), "s" if len(unknown) == 1 else "", ", ".join(valid)))
    for name in sorted(n for n in values if n in valid):
        try:
            switch_value(name, values[name])
        except ValueError as exc:
            problems.append(str(exc))
    return problems
