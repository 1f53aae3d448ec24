# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One module call per clause: run several check modules' logic in one host round.

A clause module (library/iryo_c10.py, ...) takes one dict option per check module of its clause
(`nft_firewall: {state: enforced, ...}`) and runs each module's own `run(module)` in turn, in the
same process on the host, through a stand-in for AnsibleModule:

- its `params` are the sub-options, validated against that module's own ARGUMENT_SPEC (defaults,
  types, choices, required_together, ...) exactly as a direct call would;
- `exit_json` and `fail_json` end that check, not the clause: the clause goes on with the next one;
- everything else (run_command, get_bin_path, atomic_move, tmpdir, check_mode, _diff, warn, ...)
  is the clause module's own.

A check that fails (fail_json, or a bug) gives `error` findings for its checks (never a pass) plus
whatever findings it returned; in enforce mode the clause result is `failed` with every check's
message, after all of them ran. Enforcing returns the findings of the state after the change
(each check re-reads what it wrote), so harden/nightly need no second, audit-only call.

Standard library and ansible.module_utils only: this file travels to the host with AnsiballZ.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.iryo_findings import error_finding


class CheckExit(Exception):
    """A check called exit_json: its result."""

    def __init__(self, result):
        super(CheckExit, self).__init__("exit_json")
        self.result = result


class CheckFail(Exception):
    """A check called fail_json (or its arguments were invalid): its message and partial result."""

    def __init__(self, msg, result=None):
        super(CheckFail, self).__init__(msg)
        self.msg = msg
        self.result = result or {}


class CheckModule(object):
    """Stands in for AnsibleModule inside a clause module, for one check module's run()."""

    def __init__(self, clause_module, name, argument_spec, params, module_kwargs=None):
        self._clause = clause_module
        self._name = name
        kwargs = dict(module_kwargs or {})
        kwargs.pop("supports_check_mode", None)
        validator = ArgumentSpecValidator(argument_spec, **kwargs)
        validated = validator.validate(params or {})
        if validated.error_messages:
            raise CheckFail("%s: %s" % (name, "; ".join(validated.error_messages)))
        self.params = validated.validated_parameters
        self.check_mode = clause_module.check_mode
        self._diff = clause_module._diff
        self.warnings = []

    def exit_json(self, **result):
        raise CheckExit(result)

    def fail_json(self, msg, **result):
        raise CheckFail(msg, result)

    def warn(self, warning):
        self.warnings.append(warning)
        self._clause.warn("%s: %s" % (self._name, warning))

    def __getattr__(self, name):
        # run_command, get_bin_path, atomic_move, tmpdir, sha256, boolean, ... are the clause module's
        return getattr(self._clause, name)


class Check(object):
    """One check module a clause runs: its name (= the clause module's option), argument spec, the
    AnsibleModule keyword arguments it needs (required_together, ...), its run(module) and the check
    ids it answers for (for error findings when it cannot run)."""

    def __init__(self, name, argument_spec, run, check_ids, module_kwargs=None):
        self.name = name
        self.argument_spec = argument_spec
        self.run = run
        self.check_ids = tuple(check_ids)
        self.module_kwargs = module_kwargs or {}


def clause_argument_spec(checks):
    """The clause module's options: one per check module, a dict of its options (a list of dicts runs it
    once per dict, e.g. tls_config for nginx and for Apache); unset = that check module does not run."""
    return dict((check.name, dict(type="raw")) for check in checks)


def _runs(value):
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise CheckFail("must be a dict of the module's options, or a list of such dicts")


def run_checks(module, checks):
    """Run every check module whose option is set, in order; return the clause result dict."""
    merged = {"changed": False, "findings": [], "checks": {}}
    diffs, failures = [], []
    for check in checks:
        try:
            runs = _runs(module.params.get(check.name))
        except CheckFail as exc:
            module.fail_json(msg="%s: %s" % (check.name, exc.msg))
        for params in runs:
            outcome = _run_one(module, check, params)
            _merge(merged, check, outcome, diffs, failures, len(runs) > 1)
    if diffs:
        merged["diff"] = diffs
    if failures:
        merged["failed_checks"] = failures
        if not module.check_mode:
            # An enforcement that failed (validation refused, rolled back) fails the task after every
            # other check of the clause ran and reported; in check mode the `error` findings say it.
            merged["failed"] = True
            merged["msg"] = " ".join(failures)
    return merged


def _merge(merged, check, outcome, diffs, failures, several):
    result = outcome["result"]
    if several:
        merged["checks"].setdefault(check.name, []).append(result)
    else:
        merged["checks"][check.name] = result
    merged["changed"] = merged["changed"] or bool(result.get("changed"))
    merged["findings"].extend(outcome["findings"])
    diff = result.get("diff")
    if isinstance(diff, dict):
        diffs.append(diff)
    elif isinstance(diff, list):
        diffs.extend(d for d in diff if isinstance(d, dict))
    if outcome["failed"]:
        failures.append("%s: %s" % (check.name, outcome["msg"]))


def _run_one(module, check, params):
    try:
        sub = CheckModule(module, check.name, check.argument_spec, params, check.module_kwargs)
        check.run(sub)
        raise CheckFail("%s ended without a result (a bug: it neither exited nor failed)" % check.name)
    except CheckExit as done:
        result = done.result
        return {"result": result, "findings": list(result.get("findings") or []), "failed": False, "msg": ""}
    except CheckFail as failed:
        result = dict(failed.result, msg=failed.msg)
        # A check module that failed (an enforcement rolled back, a command that would not run) is undecided
        # for every check it answers: `error`, never a pass, whatever findings it returned with the failure
        # (those stay in the check's own result for the record).
        targets = dict((f.get("check"), f.get("target")) for f in result.get("findings") or [] if isinstance(f, dict))
        found = [error_finding(check_id, failed.msg, target=targets.get(check_id) or check.name)
                 for check_id in check.check_ids if check_id in targets or not targets]
        return {"result": result, "findings": found, "failed": True, "msg": failed.msg}
    except Exception as exc:  # noqa: BLE001 - a bug in one check must not silence the clause's others
        message = "%s failed internally (a bug, please report): %s: %s" % (check.name, type(exc).__name__, exc)
        result = {"msg": message, "exception": traceback.format_exc()}
        found = [error_finding(check_id, message, target=check.name) for check_id in check.check_ids]
        return {"result": result, "findings": found, "failed": True, "msg": message}
