"""Base for the action plugins that front every iryo-guard check.

plugins/action/<module>.py subclasses CheckAction, so every call of a check module, in a
role or ad hoc, runs the module on the host and then, on the controller:
- refuses bad inventory input (exceptions) before the module is sent anywhere,
- adds host, clause, labels, source and exceptions to its findings (iryo_guard.enrich),
- turns a module that could not run into `error` findings for its checks (never a pass),
- returns the findings in the task result, where the report callback collects them; the audit
  gate judges what the callback collected (never host facts: a fact cache would feed it an older
  run's findings, and ansible-core deprecates injecting facts as variables).

In an unattended run (playbooks/nightly.yml sets iryo_unattended: true) a task that would
enforce a check not marked `unattended: true` in the catalog runs in check mode instead, reports
what it would change and says so (iryo_guard/unattended.py).

Controller-side checks (e.g. tls_probe) subclass it and override execute_check() to do their
work in the controller process instead of sending a module; everything else stays the same.
"""

from ansible.plugins.action import ActionBase

from iryo_guard.catalog import load_catalog
from iryo_guard.enrich import InputError, enrich, validate_exceptions
from iryo_guard.schema import FindingError, error_finding, fit_summary
from iryo_guard.unattended import checks_of_task, is_unattended, unsafe_checks


def reason_line(module_result):
    """The most telling line of a failed module result: its msg, unless that is Ansible's generic
    "MODULE FAILURE", then the last line of the module's stderr (a traceback ends with the error)."""
    msg = str(module_result.get("msg") or "").strip()
    stderr = [line.strip() for line in str(module_result.get("module_stderr") or "").splitlines() if line.strip()]
    if stderr and (not msg or msg.startswith("MODULE FAILURE")):
        return stderr[-1]
    return msg or "module failed without a message"


class CheckAction(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def module_checks(self, catalog):
        """The catalog's implemented checks that this call answers for: those of its module, narrowed by
        the arguments that choose a check id (tls_config `check_id`) or a clause (tls_probe `clause`)."""
        name = self._task.action.split(".")[-1]
        checks = [c["id"] for c in catalog.checks.values() if c.get("module") == name and not c.get("planned")]
        args = self._task.args or {}
        if isinstance(args.get("check_id"), str) and args["check_id"] in checks:
            return [args["check_id"]]
        clause = args.get("clause")
        if not isinstance(clause, str) and len({c.split(".")[0] for c in checks}) > 1:
            # tls_probe and tls_config answer for C.11 unless told otherwise (clause=C.10 / check_id c10.*)
            clause = "C.11"
        if isinstance(clause, str):
            prefix = clause.lower().replace(".", "") + "."
            return [c for c in checks if c.startswith(prefix)] or checks
        return checks

    def unattended_hold_back(self, catalog, task_vars):
        """The checks this task must not enforce because nobody is watching ([] = go ahead)."""
        if self._task.check_mode or self._play_context.check_mode:
            return []
        if not is_unattended(task_vars.get("iryo_unattended")):
            return []
        name = self._task.action.split(".")[-1]
        # Planned checks count too: a module may exist before its catalog entry loses `planned`.
        answers_for = [c["id"] for c in catalog.checks.values() if c.get("module") == name]
        checks = checks_of_task(self._task.get_name(), answers_for)
        if not checks:  # a module the catalog does not know: nobody decided it is safe
            return ["%s (no check in the clause catalog)" % name]
        return unsafe_checks(catalog, checks)

    def execute_check(self, task_vars):
        """Run the check and return its result dict (with `findings`). Default: the module on the host."""
        return self._execute_module(module_name=self._task.action, module_args=self._task.args,
                                    task_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname", "localhost")
        catalog = load_catalog()
        try:
            exceptions = validate_exceptions(task_vars.get("iryo_exceptions"), catalog, host)
        except InputError as exc:
            result.update(failed=True, msg="refused before touching the host: %s" % exc)
            return result

        try:
            held_back = self.unattended_hold_back(catalog, task_vars)
        except ValueError as exc:
            result.update(failed=True, msg="refused before touching the host: %s" % exc)
            return result
        if held_back:
            # Only this worker's copy of the task changes: other hosts and tasks are unaffected.
            self._task.check_mode = True
            self._play_context.check_mode = True

        module_result = self.execute_check(task_vars)
        result.update(module_result)
        if held_back:
            would_change = bool(module_result.get("changed"))
            result.update(iryo_unattended_held_back=held_back, iryo_would_change=would_change, changed=False)
            if would_change:  # an audit-only call held back changes nothing either way: no noise for it
                result.setdefault("warnings", []).append(
                    "unattended run: %s not marked unattended-safe in the clause catalog; %s ran in check mode "
                    "and changed nothing (playbooks/harden.yml enforces it)"
                    % (", ".join(held_back), self._task.action))
        if module_result.get("failed"):
            message = " ".join(str(module_result.get(key) or "").strip()
                               for key in ("msg", "module_stderr")).strip() or "module failed without a message"
            summary = "could not decide: %s" % reason_line(module_result)
            raw = [error_finding(check, message, target=host, summary=summary) for check in self.module_checks(catalog)]
        else:
            raw = module_result.get("findings", [])
        try:
            findings = enrich(raw, host, catalog, exceptions)
        except FindingError as exc:
            findings = enrich([error_finding(c, str(exc), target=host) for c in self.module_checks(catalog)],
                              host, catalog, exceptions)
            result.update(failed=True, msg=str(exc))
        result["findings"] = findings

        if result.get("failed") and self._play_context.check_mode:
            # An audit goes on with the host's other checks; the gate at the end of
            # playbooks/audit.yml fails the run because of the `error` findings.
            result["failed"] = False
            result["iryo_check_error"] = result.get("msg")
            # One line: the whole message (a module's stderr may be a traceback) is in the error finding.
            result.setdefault("warnings", []).append(fit_summary("%s could not decide: %s (see the report)" % (
                self._task.action, fit_summary(result.get("msg") or "no message", 160))))
        return result
