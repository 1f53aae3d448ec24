"""Which checks a run with nobody watching may enforce (playbooks/nightly.yml).

The decision is data: `unattended: true|false` on each automated check of the clause catalog
(absent means false). playbooks/nightly.yml sets the variable `iryo_unattended: true`; then
- every check module (iryo_guard.check_action.CheckAction) whose check is not marked safe runs
  in check mode instead of enforcing, and says so in its result and a warning;
- plain builtin tasks of an enforce path (copy a file, enable a service) ask the filter
  `'<check id>' | iryo_may_enforce` in their `when:` (plugins/filter/iryo_unattended.py).
A new check is a catalog entry with its mark plus its module: nothing here changes.
"""

import re

from ansible.module_utils.parsing.convert_bool import boolean

# Check ids as the task-naming convention writes them: "C.12 | PATCH | c12.patches.security_pending | ...".
_CHECK_ID = re.compile(r"\b([cd]\d{1,2}\.[a-z0-9_]+(?:\.[a-z0-9_]+)+)\b")


def is_unattended(value):
    """The variable iryo_unattended as a bool (inventory and -e give strings too); unset is False."""
    if value is None:
        return False
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise ValueError("iryo_unattended must be true or false, not %r" % (value,)) from None


def checks_of_task(task_name, module_checks):
    """The checks a task enforces: those its name names (the roles' naming convention), or, when
    it names none of its module's checks, every check the module answers for (the strict choice)."""
    named = [c for c in _CHECK_ID.findall(task_name or "") if c in module_checks]
    return sorted(set(named)) if named else sorted(module_checks)


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


def may_enforce(catalog, check_id, unattended):
    """True unless the run is unattended and the check is not marked unattended-safe.

    An unknown check id raises KeyError: a typo in a role must not silently keep a change out
    of (or in) the nightly."""
    if not catalog.checks.get(check_id):
        raise KeyError("check id %r is not in the clause catalog" % check_id)
    return not is_unattended(unattended) or catalog.unattended_safe(check_id)
