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
        if module_result.get("failed") and not module_result.get("failed_checks"):
            # A module that failed is undecided for all its checks, whatever findings it returned (tls_config
            # after a rolled-back enforcement): `error`, never a pass. A clause module that failed has already
            # made its failed check module's findings errors (failed_checks) and keeps the others' verdicts.
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


# Options through which a check module enforces, with the value that makes it audit only.
ENFORCING_OPTIONS = {"state": "audit", "apply": "none"}
# Tags that select everything (Ansible's own); an empty run-tag list means the same.
ALL_TAGS = ("all", "tagged", "always")


def selected_by_tags(tags, run_tags, skip_tags):
    """Would Ansible run a task tagged `tags` with these --tags / --skip-tags?"""
    run_tags, skip_tags = list(run_tags or ["all"]), list(skip_tags or [])
    if any(tag in skip_tags for tag in tags):
        return False
    return any(tag in ALL_TAGS for tag in run_tags) or any(tag in run_tags for tag in tags)


class ClauseAction(CheckAction):
    """The controller half of a clause module (library/iryo_c10.py, ...): one module call per host for
    every check module of a clause, each given as a dict option named after it (module_utils/iryo_clause.py).

    Before the module is sent, for each check module of the call:
    - --tags / --skip-tags: a check module whose checks are not selected is left out, so
      `--tags c10.firewall.default_drop` runs the firewall part of the clause call only;
    - unattended runs (iryo_unattended): a check module that would enforce a check the catalog does not
      mark `unattended: true` is set to audit only (its `state` / `apply`), and the result says so; the
      clause's other checks still enforce. The checks come from the catalog (`module:`), not task names.
    """

    def _sub_options(self, catalog):
        modules = {c.get("module") for c in catalog.checks.values()}
        return [name for name, value in (self._task.args or {}).items()
                if name in modules and isinstance(value, (dict, list))]

    def _checks_of(self, catalog, sub, options):
        """The checks one check module's options answer for (a list of option dicts: all of theirs)."""
        if isinstance(options, list):
            return sorted({c for item in options for c in self._checks_of(catalog, sub, item)})
        checks = [c["id"] for c in catalog.checks.values() if c.get("module") == sub and not c.get("planned")]
        if isinstance(options.get("check_id"), str) and options["check_id"] in checks:
            return [options["check_id"]]
        clause = options.get("clause")
        prefix = (clause.lower().replace(".", "") if isinstance(clause, str)
                  else self._task.action.split(".")[-1].replace("iryo_", "")) + "."
        return [c for c in checks if c.startswith(prefix)] or checks

    def module_checks(self, catalog):
        args = self._task.args or {}
        return [c for sub in self._sub_options(catalog) for c in self._checks_of(catalog, sub, args[sub])]

    def unattended_hold_back(self, catalog, task_vars):
        """Rewrites this worker's copy of the arguments (tags, unattended); never the whole task to check mode."""
        args = dict(self._task.args or {})
        clause_tag = self._task.action.split(".")[-1].replace("iryo_", "")
        run_tags, skip_tags = task_vars.get("ansible_run_tags"), task_vars.get("ansible_skip_tags")
        unattended = is_unattended(task_vars.get("iryo_unattended")) and not (
            self._task.check_mode or self._play_context.check_mode)
        self._held_back = []
        for sub in self._sub_options(catalog):
            runs = [dict(item) for item in (args[sub] if isinstance(args[sub], list) else [args[sub]])]
            kept = []
            for options in runs:
                checks = self._checks_of(catalog, sub, options)
                # a check is tagged with its clause (c10) and its id; the clause module's own tag selects all
                tags = [clause_tag] + sorted({c.split(".")[0] for c in checks}) + checks
                if not selected_by_tags(tags, run_tags, skip_tags):
                    continue
                enforcing = [key for key, audit in ENFORCING_OPTIONS.items() if key in options
                             and options[key] not in (None, audit)]
                selected = [c for c in checks if selected_by_tags([clause_tag, c.split(".")[0], c], run_tags,
                                                                  skip_tags)]
                if enforcing and not any(catalog.enforced_by_module(c) for c in selected):
                    # --tags chose only checks this module reports but does not enforce (c12.patches.os_eol):
                    # do not let it enforce the others (install updates) on the side
                    for key in enforcing:
                        options[key] = ENFORCING_OPTIONS[key]
                    enforcing = []
                unsafe = unsafe_checks(catalog, checks) if unattended and enforcing else []
                if unsafe:
                    for key in enforcing:
                        options[key] = ENFORCING_OPTIONS[key]
                    self._held_back.append((sub, unsafe))
                kept.append(options)
            if not kept:
                del args[sub]
            else:
                args[sub] = kept if isinstance(args[sub], list) else kept[0]
        self._task.args = args
        return []

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        held_back = getattr(self, "_held_back", [])
        if held_back:
            result["iryo_unattended_held_back"] = [c for _, checks in held_back for c in checks]
            result.setdefault("warnings", []).append(
                "unattended run: %s only audited (not marked unattended-safe in the clause catalog; "
                "playbooks/harden.yml enforces them)" % ", ".join(sub for sub, _ in held_back))
        return result
