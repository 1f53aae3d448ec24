"""Which checks a run with nobody watching may enforce (playbooks/nightly.yml).

The decision is data: `unattended: true|false` on each automated check of the clause catalog
(absent means false). playbooks/nightly.yml sets the variable `iryo_unattended: true`; then
- every check module (iryo_guard.check_action.CheckAction) whose check is not marked safe runs
  in check mode instead of enforcing, and says so in its result and a warning;
- plain builtin tasks of an enforce path (copy a file, enable a service) ask the filter
  `'<check id>' | iryo_may_enforce` in their `when:` (plugins/filter/iryo_unattended.py).
Which checks a check module task enforces is what the task declares: its tags that are check ids
(roles tag every task with the ids of its checks, tests/unit/test_switches_tags.py keeps them right),
never its name. A task that declares none, or fewer than its module would enforce, is not enforced
unattended. A new check is a catalog entry with its mark plus its module: nothing here changes.
"""

from ansible.module_utils.parsing.convert_bool import boolean

from .catalog import switch_name
from .switches import switch_value


def is_unattended(value):
    """The variable iryo_unattended as a bool (inventory and -e give strings too); unset is False."""
    if value is None:
        return False
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise ValueError("iryo_unattended must be true or false, not %r" % (value,)) from None


def declared_checks(catalog, tags):
    """The check ids a task declares: those of its tags that are check ids of the catalog, in its order."""
    return [tag for tag in catalog.checks if tag in set(str(t) for t in tags or ())]


def undeclared(catalog, tags, check_ids):
    """The checks among check_ids (what a call would enforce) that the task does not declare in its tags."""
    declared = set(declared_checks(catalog, tags))
    return [check_id for check_id in check_ids if check_id not in declared]


def unsafe_checks(catalog, check_ids):
    """The checks among check_ids that are not marked unattended-safe (unknown ids count as unsafe)."""
    unsafe = []
    for check_id in check_ids:
        try:
            safe = catalog.unattended_safe(check_id)
        except KeyError:
            safe = False
        if not safe:
            unsafe.append(check_id)
    return unsafe


def may_enforce(catalog, check_id, unattended, switch=None):
    """True unless the check is switched off (`switch`: the value of its iryo_check_... variable, None when
    unset), or the run is unattended and the check is not marked unattended-safe.

    An unknown check id raises KeyError: a typo in a role must not silently keep a change out
    of (or in) the nightly."""
    if not catalog.checks.get(check_id):
        raise KeyError("check id %r is not in the clause catalog" % check_id)
    if switch is not None and not switch_value(switch_name(check_id), switch):
        return False
    return not is_unattended(unattended) or catalog.unattended_safe(check_id)
