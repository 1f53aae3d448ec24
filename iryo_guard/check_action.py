"""Base for the action plugins that front every iryo-guard check.

plugins/action/<module>.py subclasses CheckAction, so every call of a check module, in a
role or ad hoc, runs the module on the host and then, on the controller:
- refuses bad inventory input (exceptions) before the module is sent anywhere,
- adds host, clause, labels, source and exceptions to its findings (iryo_guard.enrich),
- turns a module that could not run into `error` findings for its checks (never a pass),
- returns the findings in the task result, where the report callback collects them; the audit
  gate judges what the callback collected (never host facts: a fact cache would feed it an older
  run's findings, and ansible-core deprecates injecting facts as variables).

Before the module is sent, the call is planned from data, never from task names:
- switches (iryo_guard/switches.py): a check whose iryo_check_<id> is false is left out (through the
  module option the catalog names, `switch_option`), a module whose checks are all off is not called,
  and each switched-off check is reported as `not_applicable`, "skipped by configuration (...)";
- tags: --tags / --skip-tags select checks by clause, check id and disruption_<level> (the catalog's
  `disruption`): a module enforces only when the tags select its enforcement at every level it can cause
  (`--tags disruption_none` audits, `--skip-tags disruption_package_install` keeps the updates out);
- unattended runs (playbooks/nightly.yml sets iryo_unattended: true): a task that would enforce a check
  not marked `unattended: true` in the catalog, or one it does not declare in its tags, runs in check
  mode instead, reports what it would change and says so (iryo_guard/unattended.py).

Controller-side checks (e.g. tls_probe) subclass it and override execute_check() to do their
work in the controller process instead of sending a module; everything else stays the same.
"""

from ansible.plugins.action import ActionBase

from .catalog import DISRUPTION_TAG, check_prefix, load_catalog, switch_name
from .enrich import InputError, admit, validate_exceptions
from .schema import error_finding, fit_summary
from .switches import replace_switched_off, switched_off
from .unattended import declared_checks, is_unattended, undeclared, unsafe_checks


def reason_line(module_result):
    """The most telling line of a failed module result: its msg, unless that is Ansible's generic
    "MODULE FAILURE", then the last line of the module's stderr (a traceback ends with the error)."""
    msg = str(module_result.get("msg") or "").strip()
    stderr = [line.strip() for line in str(module_result.get("module_stderr") or "").splitlines() if line.strip()]
    if stderr and (not msg or msg.startswith("MODULE FAILURE")):
        return stderr[-1]
    return msg or "module failed without a message"


# What a module's result may carry into the task result. A managed host is untrusted input (issue 16): a
# module's `ansible_facts` would become host variables for every later task (iryo_exceptions, iryo_notify_*,
# ansible_* connection settings), so none pass: no check module of ours returns facts, and the roles read
# everything they need from registered results. `results` would pose as a loop's per-item results, which the
# report callback reads findings from; `_ansible_*` keys steer Ansible's own result handling (no_log, notify);
# the iryo_* keys below are the controller's to set.
DROPPED_RESULT_KEYS = ("ansible_facts", "results", "iryo_unattended_held_back", "iryo_would_change",
                       "iryo_switched_off", "iryo_check_error")
FACTS_ALLOWED = ()


def untrusted_result(module_result):
    """A module's result as the controller passes it on: a mapping without the keys in DROPPED_RESULT_KEYS or
    starting with _ansible (the findings are admitted separately, iryo_guard.enrich.admit)."""
    if not isinstance(module_result, dict):
        return {"failed": True, "msg": "the module returned a %s, not a result mapping" % type(module_result).__name__}
    kept = {k: v for k, v in module_result.items()
            if isinstance(k, str) and k not in DROPPED_RESULT_KEYS and not k.startswith("_ansible")}
    facts = module_result.get("ansible_facts")
    if isinstance(facts, dict) and FACTS_ALLOWED:
        kept["ansible_facts"] = {k: v for k, v in facts.items() if k in FACTS_ALLOWED}
    return kept


# Options through which a check module enforces, with the value that makes it audit only.
ENFORCING_OPTIONS = {"state": "audit", "apply": "none"}


def selected_by_tags(tags, run_tags, skip_tags):
    """Would Ansible run a task tagged `tags` with these --tags / --skip-tags? (ansible-core's
    Taggable.evaluate_tags: `always` runs unless skipped by name, `never` only when named.)"""
    tags, run_tags, skip_tags = set(tags), set(run_tags or ["all"]), set(skip_tags or [])
    if "always" in tags:
        run = True
    elif "all" in run_tags and "never" not in tags:
        run = True
    elif tags & run_tags:
        run = True
    else:
        run = "tagged" in run_tags and bool(tags) and "never" not in tags
    if run and skip_tags:
        if "all" in skip_tags:
            run = "always" in tags and "always" not in skip_tags
        elif tags & skip_tags or ("tagged" in skip_tags and tags):
            run = False
    return run


def clause_tag(catalog, check_id):
    """c10.firewall.default_drop -> c10: the tag of the check's clause."""
    return check_prefix(catalog.check(check_id)["clause"]).rstrip(".")


def enforcing_keys(options):
    return [key for key, audit in ENFORCING_OPTIONS.items() if key in options and options[key] not in (None, audit)]


def make_audit_only(options):
    for key in enforcing_keys(options):
        options[key] = ENFORCING_OPTIONS[key]


def own_tags(catalog, tags):
    """A task's tags that are not the catalog's (clause, check id, disruption): a custom playbook's own tags,
    which select all of the task's checks, as Ansible selected the task by them."""
    ours = set(catalog.checks) | {clause_tag(catalog, c) for c in catalog.checks}
    return [t for t in tags or () if t not in ours and not str(t).startswith(DISRUPTION_TAG)]


def plan_run(catalog, checks, options, off, base_tags, run_tags, skip_tags, module):
    """Decide one run of one check module before it is sent (options is changed in place).

    checks: the checks the run answers for; off: those switched off; base_tags: tags that select every check
    of the run (the clause module's own tag, a custom playbook's tags). Returns (runs, skipped, notes):
    whether the module runs, the switched-off checks to report as skipped, and warnings to show."""
    enforced = [c for c in checks if catalog.enforced_by_module(c)]

    def tags_of(check_id, level=None):
        levels = [level] if level else catalog.disruption(check_id) if check_id in enforced else ("none",)
        return list(base_tags) + [clause_tag(catalog, check_id), check_id] + [DISRUPTION_TAG + lv for lv in levels]

    selected = [c for c in checks if selected_by_tags(tags_of(c), run_tags, skip_tags)]
    if not selected:
        return False, [], []
    if all(c in off for c in selected):  # what the tags chose is all switched off: nothing to send
        return False, selected, []
    notes = []
    for check_id in off:
        option = catalog.check(check_id).get("switch_option")
        if option == "checks":  # the module runs the check ids listed (local_accounts)
            current = options.get("checks") if isinstance(options.get("checks"), list) else checks
            options["checks"] = [c for c in current if c not in off]
        elif option:
            options[option] = False
        elif check_id in enforced and enforcing_keys(options):
            make_audit_only(options)
            notes.append("%s only audited: %s is switched off (%s = false) and the module cannot enforce its other "
                         "checks without it" % (module, check_id, switch_name(check_id)))
    if enforcing_keys(options):
        # The module enforces all its enforced checks at once: it may only when the tags select one of them and
        # every level the module can cause (each through a check that has it); `none` needs no selecting.
        enforcing = [c for c in enforced if c not in off]
        levels = {lv for c in enforcing for lv in catalog.disruption(c)} - {"none"}
        allowed = any(c in selected for c in enforcing) and all(
            any(selected_by_tags(tags_of(c, lv), run_tags, skip_tags) for c in enforcing
                if lv in catalog.disruption(c)) for lv in levels)
        if not allowed or any(DISRUPTION_TAG + lv in (skip_tags or ()) for lv in levels):
            # --tags chose only checks this module reports, or disruption levels its enforcement exceeds
            # (c12.patches.os_eol, disruption_none): it audits, never enforces the others on the side
            make_audit_only(options)
    return True, [c for c in checks if c in off], notes


class CheckAction(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def _narrowed(self, checks, args, default_clause=None):
        """checks narrowed by the arguments that choose a check id (tls_config `check_id`) or a clause
        (tls_probe `clause`)."""
        if isinstance(args.get("check_id"), str) and args["check_id"] in checks:
            return [args["check_id"]]
        clause = args.get("clause") if isinstance(args.get("clause"), str) else default_clause
        if isinstance(clause, str):
            prefix = clause.lower().replace(".", "") + "."
            return [c for c in checks if c.startswith(prefix)] or checks
        return checks

    def module_checks(self, catalog, planned=False):
        """The catalog's implemented checks that this call answers for (with planned=True, also the planned
        ones of its module): those of its module, narrowed by the arguments that choose a check id or clause."""
        name = self._task.action.split(".")[-1]
        checks = [c["id"] for c in catalog.checks.values()
                  if c.get("module") == name and (planned or not c.get("planned"))]
        # tls_probe and tls_config answer for C.11 unless told otherwise (clause=C.10 / check_id c10.*)
        default = "C.11" if len({c.split(".")[0] for c in checks}) > 1 else None
        return self._narrowed(checks, self._task.args or {}, default)

    def _task_tags(self):
        return [str(t) for t in getattr(self._task, "tags", None) or ()]

    def _switch_lookup(self, task_vars):
        def lookup(name):
            if name not in task_vars:
                return True
            return self._templar.template(task_vars[name]) if self._templar is not None else task_vars[name]
        return lookup

    def _enforcing(self, args):
        return bool(enforcing_keys(args)) and not (self._task.check_mode or self._play_context.check_mode)

    def prepare_call(self, catalog, task_vars):
        """Plan this call: switches, tags, unattended hold-back. Sets self._switched_off (checks reported as
        skipped), self._skip_call (send nothing) and self._notes; returns the checks to hold back ([] = go ahead),
        for which the whole task runs in check mode. ValueError for a switch that is not a boolean."""
        args = dict(self._task.args or {})
        checks = self.module_checks(catalog)
        off = switched_off(checks, self._switch_lookup(task_vars))
        self._switched_off, self._skip_call, self._notes = [], False, []
        if off:
            # Ansible chose this task by its tags: within it, every check counts as selected, so that a switch
            # is reported whatever the tags; the tags then only decide about enforcing.
            runs, self._switched_off, self._notes = plan_run(
                catalog, checks, args, off, ["always"], None, None, self._task.action)
            if not runs:
                self._skip_call = True
                return []
        runs, _, _ = plan_run(catalog, [c for c in checks if c not in off], args, [],
                              own_tags(catalog, self._task_tags()), task_vars.get("ansible_run_tags"),
                              task_vars.get("ansible_skip_tags"), self._task.action)
        if not runs:  # Ansible ran the task by tags that select none of its checks (an ancestor's): audit only
            make_audit_only(args)
        self._task.args = args
        return self.unattended_hold_back(catalog, task_vars, off)

    def unattended_hold_back(self, catalog, task_vars, off=()):
        """The checks this task must not enforce because nobody is watching ([] = go ahead). A call enforces
        through ENFORCING_OPTIONS only (tests/unit/test_unattended.py holds every enforcing module to that), so a
        read-only call (state audit, or a module without such an option) is never held back."""
        if not is_unattended(task_vars.get("iryo_unattended")) or not self._enforcing(self._task.args or {}):
            return []
        name = self._task.action.split(".")[-1]
        # Planned checks count too: a module may exist before its catalog entry loses `planned`.
        checks = [c for c in self.module_checks(catalog, planned=True) if c not in off]
        if not checks:  # a module the catalog does not know: nobody decided it is safe
            return ["%s (no check in the clause catalog)" % name]
        if not declared_checks(catalog, self._task_tags()):
            return ["%s (no check id among the task's tags)" % name]
        missing = undeclared(catalog, self._task_tags(), checks)
        return ["%s (not declared in the task's tags)" % c for c in missing] + unsafe_checks(
            catalog, [c for c in checks if c not in missing])

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
            held_back = self.prepare_call(catalog, task_vars)
        except ValueError as exc:
            result.update(failed=True, msg="refused before touching the host: %s" % exc)
            return result
        if held_back:
            # Only this worker's copy of the task changes: other hosts and tasks are unaffected.
            self._task.check_mode = True
            self._play_context.check_mode = True

        if self._skip_call:
            module_result = {"changed": False, "findings": [], "msg": "every check of this call is switched off: %s"
                             % ", ".join("%s = false" % switch_name(c) for c in self._switched_off)}
        else:
            module_result = untrusted_result(self.execute_check(task_vars))
        result.update(module_result)
        if self._notes:
            result.setdefault("warnings", []).extend(self._notes)
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
        if self._switched_off:
            # A switched-off check is reported, never silently absent: its one `skipped by configuration`
            # finding replaces whatever the module said about it (a module that cannot leave it out).
            raw = replace_switched_off(catalog, raw, self._switched_off)
            result["iryo_switched_off"] = list(self._switched_off)
        # Each finding the controller refuses (another host claimed, a forged exception, broken schema) becomes an
        # `error` finding of this host; the others are enriched. One bad finding costs only its own check.
        result["findings"] = admit(raw, host, catalog, exceptions, self.module_checks(catalog))

        if result.get("failed") and self._play_context.check_mode:
            # An audit goes on with the host's other checks; the gate at the end of
            # playbooks/audit.yml fails the run because of the `error` findings.
            result["failed"] = False
            result["iryo_check_error"] = result.get("msg")
            # One line: the whole message (a module's stderr may be a traceback) is in the error finding.
            result.setdefault("warnings", []).append(fit_summary("%s could not decide: %s (see the report)" % (
                self._task.action, fit_summary(result.get("msg") or "no message", 160))))
        return result


class ClauseAction(CheckAction):
    """The controller half of a clause module (library/iryo_c10.py, ...): one module call per host for
    every check module of a clause, each given as a dict option named after it (module_utils/iryo_clause.py).

    Before the module is sent, for each check module of the call (plan_run):
    - switches: a check module whose checks are all switched off is left out; one with some off leaves
      them out through its `switch_option`, or audits only when it cannot enforce the rest without them;
    - --tags / --skip-tags: a check module whose checks are not selected (by clause, id or disruption
      level) is left out, so `--tags c10.firewall.default_drop` runs the firewall part of the clause call
      only, and one whose enforcement the tags do not select audits;
    - unattended runs (iryo_unattended): a check module that would enforce a check the catalog does not
      mark `unattended: true`, or one the task does not declare among its tags, is set to audit only (its
      `state` / `apply`), and the result says so; the clause's other checks still enforce.
    """

    def _sub_options(self, catalog, args=None):
        modules = {c.get("module") for c in catalog.checks.values()}
        return [name for name, value in (self._task.args if args is None else args or {}).items()
                if name in modules and isinstance(value, (dict, list))]

    def _checks_of(self, catalog, sub, options):
        """The checks one check module's options answer for (a list of option dicts: all of theirs)."""
        if isinstance(options, list):
            return sorted({c for item in options for c in self._checks_of(catalog, sub, item)})
        checks = [c["id"] for c in catalog.checks.values() if c.get("module") == sub and not c.get("planned")]
        # a check module of a clause call answers for that clause's checks unless its options say otherwise
        return self._narrowed(checks, options, self._task.action.split(".")[-1].replace("iryo_", ""))

    def module_checks(self, catalog, planned=False):
        args = self._task.args or {}
        return [c for sub in self._sub_options(catalog) for c in self._checks_of(catalog, sub, args[sub])]

    def prepare_call(self, catalog, task_vars):
        """Rewrites this worker's copy of the arguments (switches, tags, unattended); never the whole task to
        check mode."""
        args = dict(self._task.args or {})
        base = [self._task.action.split(".")[-1].replace("iryo_", "")] + own_tags(catalog, self._task_tags())
        run_tags, skip_tags = task_vars.get("ansible_run_tags"), task_vars.get("ansible_skip_tags")
        unattended = is_unattended(task_vars.get("iryo_unattended")) and not (
            self._task.check_mode or self._play_context.check_mode)
        lookup = self._switch_lookup(task_vars)
        self._held_back, self._switched_off, self._notes, self._skip_call = [], [], [], False
        subs = self._sub_options(catalog, args)
        for sub in subs:
            runs = [dict(item) for item in (args[sub] if isinstance(args[sub], list) else [args[sub]])]
            kept = []
            for options in runs:
                checks = self._checks_of(catalog, sub, options)
                off = switched_off(checks, lookup)
                runs_, skipped, notes = plan_run(catalog, checks, options, off, base, run_tags, skip_tags, sub)
                self._switched_off += [c for c in skipped if c not in self._switched_off]
                self._notes += notes
                if not runs_:
                    continue
                on = [c for c in checks if c not in off]
                if unattended and enforcing_keys(options):
                    missing = undeclared(catalog, self._task_tags(), on)
                    unsafe = ["%s (not declared in the task's tags)" % c for c in missing] + unsafe_checks(
                        catalog, [c for c in on if c not in missing])
                    if unsafe:
                        make_audit_only(options)
                        self._held_back.append((sub, unsafe))
                kept.append(options)
            if not kept:
                del args[sub]
            else:
                args[sub] = kept if isinstance(args[sub], list) else kept[0]
        self._task.args = args
        # every check module left out (switches, tags): nothing to send
        self._skip_call = bool(subs) and not self._sub_options(catalog, args)
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
