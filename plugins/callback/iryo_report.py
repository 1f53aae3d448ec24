# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from pathlib import Path

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_core_version

DOCUMENTATION = r"""
name: iryo_report
type: notification
short_description: Turn a playbook run into the iryo-guard compliance report
description:
  - Collects the findings of every iryo-guard check in the run and, at the end, writes
    report.json, report.html (Japanese/English host x clause matrix) and junit.xml into
    <report_dir>/<run id>/, points <report_dir>/latest at them and prints a summary table.
  - Unreachable hosts and checks that could not run appear as C(error), never as C(pass).
  - Runs that contain no iryo-guard check write nothing.
  - The report also answers the MHLW inspection checklist (report.json C(checklist), a page of report.html,
    one summary line after the table), for the hospital and per vendor (C(iryo_vendor)); docs/checklist.md.
  - Every report is also a line of <report_dir>/history.jsonl (iryo_guard/history.py); report.html
    shows the trend per clause across runs.
  - >-
    When a host regresses against the earlier runs (a passing cell fails, or a new fail), the
    notification hook runs (iryo_guard/notify.py) - the command in C(iryo_notify_command) gets a JSON
    summary on stdin, and/or a mail goes out over SMTP (C(iryo_notify_smtp_host), C(_port), C(_from),
    C(_to), C(_starttls), C(_tls), C(_ca_file), C(_user)).
  - >-
    The notification settings come from the controller only (a managed host is untrusted input): extra
    variables (C(-e iryo_notify_command=...), an AWX job template), else the environment (C(IRYO_NOTIFY_COMMAND),
    C(IRYO_NOTIFY_SMTP_HOST), ...), else ansible.cfg's C([callback_iryo_report]) section (C(notify_command),
    C(notify_smtp_host), ...); the password only as C(IRYO_NOTIFY_SMTP_PASSWORD). Never inventory, host or
    play variables, which facts returned by a host could override.
  - >-
    Findings are taken only from the results of iryo-guard's own check, clause and organisation actions, with
    the task's host as their host; a result or finding the report cannot use becomes an C(error) finding of
    that host and never stops the report.
  - Report folders are created 0700, report files and the history 0600 (they describe every host's weaknesses).
requirements:
  - enable in ansible.cfg (callbacks_enabled = iryo_report), as this repository does
options:
  report_dir:
    description:
      - Folder that receives one sub-folder per run. Unset, the repository's C(reports/) folder.
    env:
      - name: IRYO_REPORT_DIR
    ini:
      - section: callback_iryo_report
        key: report_dir
    type: path
  notify_command:
    description: Notification setting C(iryo_notify_command) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_COMMAND
    ini:
      - section: callback_iryo_report
        key: notify_command
    type: str
  notify_smtp_host:
    description: Notification setting C(iryo_notify_smtp_host) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_HOST
    ini:
      - section: callback_iryo_report
        key: notify_smtp_host
    type: str
  notify_smtp_port:
    description: Notification setting C(iryo_notify_smtp_port) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_PORT
    ini:
      - section: callback_iryo_report
        key: notify_smtp_port
    type: str
  notify_smtp_from:
    description: Notification setting C(iryo_notify_smtp_from) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_FROM
    ini:
      - section: callback_iryo_report
        key: notify_smtp_from
    type: str
  notify_smtp_to:
    description: Notification setting C(iryo_notify_smtp_to) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_TO
    ini:
      - section: callback_iryo_report
        key: notify_smtp_to
    type: str
  notify_smtp_starttls:
    description: Notification setting C(iryo_notify_smtp_starttls) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_STARTTLS
    ini:
      - section: callback_iryo_report
        key: notify_smtp_starttls
    type: str
  notify_smtp_tls:
    description: Notification setting C(iryo_notify_smtp_tls) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_TLS
    ini:
      - section: callback_iryo_report
        key: notify_smtp_tls
    type: str
  notify_smtp_ca_file:
    description: Notification setting C(iryo_notify_smtp_ca_file) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_CA_FILE
    ini:
      - section: callback_iryo_report
        key: notify_smtp_ca_file
    type: str
  notify_smtp_user:
    description: Notification setting C(iryo_notify_smtp_user) from the controller's environment or ansible.cfg.
    env:
      - name: IRYO_NOTIFY_SMTP_USER
    ini:
      - section: callback_iryo_report
        key: notify_smtp_user
    type: str
  color:
    description: Colour the terminal table.
    default: true
    env:
      - name: IRYO_REPORT_COLOR
    type: bool
"""

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard import REPO_ROOT
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.catalog import ORGANISATION_HOST, load_catalog
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.checklist import ChecklistError, load_edition
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.redact import redact_finding, secrets_in_mapping
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.report.model import (
    build_report, new_run, unreachable_findings)
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.schema import (
    FindingError, error_finding, fit_summary, validate_finding)

# The controller action that reports the organisational items under the pseudo-host _organisation.
ORGANISATION_ACTION = "organisation_evidence"
NOTIFY_KEYS = ("command", "smtp_host", "smtp_port", "smtp_from", "smtp_to", "smtp_starttls", "smtp_tls",
               "smtp_ca_file", "smtp_user")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "iryo_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._catalog = load_catalog()
        try:  # read the checklist edition once here: the input play's forked workers inherit it
            load_edition(known_checks=self._catalog.checks)
        except ChecklistError:
            pass  # the input play refuses the run, naming the broken item
        # Likewise every role's argument spec and the TLS profiles: Ansible forks a worker per task and host,
        # and a cache filled here, in the main process, is what every worker starts with (measured: the
        # input play's validation spent most of its controller time re-reading these files per host).
        from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.controller_actions import (
            role_argument_specs)
        from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.tls.profiles import (
            ProfileError, load_profiles)
        role_argument_specs()
        try:
            load_profiles()
        except ProfileError:
            pass  # the C.11 role and tls_probe refuse the run, naming the problem
        self._modules = {c["module"] for c in self._catalog.checks.values() if c.get("module")}
        # Findings come only from our own actions: the check modules, the clause modules (iryo_c10, ...) and the
        # organisation items; any other task's `findings` (a host can make any module say anything) is ignored.
        self._finding_actions = self._modules | {"iryo_" + c.lower().replace(".", "")
                                                 for c in self._catalog.clause_ids()} | {ORGANISATION_ACTION}
        self._findings = []
        self._hosts = {}  # name -> {name, groups, reachable}
        self._unreachable = {}  # name -> message
        self._checks_seen = set()
        self._iryo_seen = False
        self._run = None
        self._run_dir = None  # reserved when the audit gate starts, so that its message can name it
        self._notify_vars = {}  # iryo_notify_* of the extra variables (the controller's command line / job template)
        self._checklist_inputs = {}  # host -> {vendor, targets}, as the input play validated them

    # -- collection ---------------------------------------------------------------------
    def _start(self, playbooks, check_mode):
        if self._run is None:
            self._run = new_run(playbooks, check_mode, ansible_core_version)

    def v2_playbook_on_start(self, playbook):
        if Path(playbook._file_name).name == "__adhoc_playbook__":  # ansible ad hoc (2.19+)
            self._start(["adhoc"], context.CLIARGS.get("check", False))
            return
        path = Path(playbook._file_name).resolve()
        # Assume check mode until a play runs without it (see v2_playbook_on_play_start).
        self._start([str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)], True)

    def v2_playbook_on_play_start(self, play):
        # audit.yml forces check mode per play, so the CLI flag alone does not tell.
        if self._run is not None and not play.check_mode:
            self._run["check_mode"] = bool(context.CLIARGS.get("check", False))
        self._notify_vars.update(self._extra_notify_vars(play))

    def _extra_notify_vars(self, play):
        """The iryo_notify_* extra variables, as given (-e, a job template): the controller's own input. Read from
        the extra variables themselves, never through a host's variables: facts a host returns take part in
        those (issue 16, item A). Not templated: a template would be rendered with some host's variables."""
        try:
            extra = play._variable_manager.extra_vars if play._variable_manager is not None else {}
        except Exception as exc:  # the notification settings must not break the run itself
            self._display.warning("iryo-guard: cannot read the iryo_notify_* extra variables: %s" % exc)
            return {}
        return {str(k): v for k, v in (extra or {}).items() if str(k).startswith("iryo_notify_")}

    def notify_settings(self, environ=None):
        """Notification settings: extra variables, else the callback's options (the IRYO_NOTIFY_* environment,
        else ansible.cfg [callback_iryo_report] notify_*); the password only from the environment."""
        from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard import notify
        configured = {}
        for key in NOTIFY_KEYS:
            try:
                value = self.get_option("notify_" + key)
            except KeyError:
                value = None
            if value not in (None, ""):
                configured["iryo_notify_" + key] = value
        configured.update({k: v for k, v in self._notify_vars.items() if v not in (None, "")})
        return notify.settings_from(configured, environ=environ)

    def v2_playbook_on_task_start(self, task, is_conditional):
        # The gate names the report in its one-line failure. This runs in the main process before
        # Ansible forks the gate's worker, which inherits the reserved folder (iryo_guard.report.output).
        if task.action.split(".")[-1] != "iryo_gate" or self._run is None:
            return
        from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.report.output import (
            publish_verdicts, reserve_run_dir)
        # The gate judges exactly what this report will show: the findings collected so far.
        publish_verdicts(self._findings, list(self._hosts), list(self._unreachable))
        if self._run_dir is None:
            try:
                self._run_dir = reserve_run_dir(self._report_dir(), self._run["id"])
            except OSError as exc:  # the report's own error is loud at the end; the gate just names none
                self._display.warning("iryo-guard cannot create the report folder: %s" % exc)

    def _note_host(self, result):
        host = result._host
        if host.name not in self._hosts:
            groups = sorted(g.name for g in host.get_groups() if g.name not in ("all", "ungrouped"))
            self._hosts[host.name] = {"name": host.name, "groups": groups, "reachable": True}

    def _action(self, result):
        return str(result._task.action).split(".")[-1]

    def _is_check_task(self, result):
        return self._action(result) in self._modules

    def _task_secrets(self, result):
        args = getattr(result._task, "args", None)
        return secrets_in_mapping(args) if isinstance(args, dict) else set()

    def _owned(self, result, finding):
        """A finding of our own action as the report takes it: its host is the task's host (the organisation
        action's items are the pseudo-host _organisation), and one that breaks the schema becomes an `error` of
        that host. The check action has admitted it already (iryo_guard.enrich.admit); this keeps the report safe
        whatever reaches it."""
        host = ORGANISATION_HOST if self._action(result) == ORGANISATION_ACTION else result._host.name
        try:
            if not isinstance(finding, dict):
                raise FindingError("a finding is a %s, not a mapping" % type(finding).__name__)
            validate_finding(finding)
            check = self._catalog.checks.get(finding["check"])
            if check is None:
                raise FindingError("check %s is not in the clause catalog" % fit_summary(finding["check"], 80))
            # Secrets never reach report, history or notification: whatever a module echoed (URL credentials, a
            # password setting, key material) and the values of the task's own secret-looking arguments.
            return redact_finding(dict(finding, host=host, clause=check["clause"]),
                                  self._task_secrets(result))
        except (FindingError, KeyError, TypeError) as exc:
            check = finding.get("check") if isinstance(finding, dict) else None
            check = check if isinstance(check, str) and check in self._catalog.checks else None
            if check is None:
                return None  # no check to hang the error on: counted in _bad_results, shown as a warning
            bad = error_finding(check, "the report refused a finding: %s" % fit_summary(str(exc), 160), target=host,
                                host=host, summary="could not decide: %s returned a finding the report cannot use: %s"
                                % (self._action(result), fit_summary(str(exc), 120)))
            info = self._catalog.check(check)
            bad.update(clause=info["clause"], title_ja=info["title_ja"], title_en=info["title_en"])
            return bad

    def _collect(self, result):
        try:
            self._collect_result(result)
        except Exception as exc:  # one bad result never stops the report
            self._display.warning("iryo-guard: ignored an unusable result of %s on %s: %s"
                                  % (result._task.action, result._host.name, fit_summary(str(exc), 200)))

    def _collect_result(self, result):
        payload = result._result
        action = self._action(result)
        if action == "iryo_validate_inputs" and isinstance(payload.get("checklist"), dict):
            # The inspection checklist's per-host inputs (iryo_vendor, iryo_checklist_targets), validated.
            self._checklist_inputs[result._host.name] = payload["checklist"]
        if action not in self._finding_actions:
            return
        batches = [payload.get("findings")] + [item.get("findings") for item in payload.get("results") or []
                                                if isinstance(item, dict)]
        for batch in batches:
            for raw in batch if isinstance(batch, list) else []:
                finding = self._owned(result, raw)
                if finding is None:
                    self._display.warning("iryo-guard: ignored a finding of %s on %s that names no known check"
                                          % (action, result._host.name))
                    continue
                self._iryo_seen = True
                if finding["host"] == result._host.name:  # not the _organisation items
                    self._note_host(result)
                    self._checks_seen.add(finding["check"])
                self._findings.append(finding)
        if self._is_check_task(result):
            self._note_host(result)
            self._iryo_seen = True

    def v2_runner_on_ok(self, result):
        self._collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._collect(result)

    def v2_runner_on_unreachable(self, result):
        self._note_host(result)
        self._hosts[result._host.name]["reachable"] = False
        self._unreachable[result._host.name] = str(result._result.get("msg", "unreachable")).strip()

    # -- output ---------------------------------------------------------------------------
    def _report_dir(self):
        configured = self.get_option("report_dir")
        if not configured:
            return REPO_ROOT / "reports"
        return Path(configured)

    def v2_playbook_on_stats(self, stats):
        if not self._findings and not (self._iryo_seen and self._unreachable):
            if self._run_dir is not None:
                from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.report.output import release_run_dir
                release_run_dir(self._run_dir)
            return  # nothing to report: no check ran, or every check was refused before running
        self._start(["adhoc"], context.CLIARGS.get("check", False))
        findings = list(self._findings)
        implemented = {c["id"] for c in self._catalog.checks.values()
                       if c["kind"] == "automated" and not c.get("planned")}
        expected = self._checks_seen or implemented
        for host, message in sorted(self._unreachable.items()):
            answered = {f["check"] for f in findings if f["host"] == host}
            findings.extend(unreachable_findings(host, message, expected - answered, self._catalog))
        report = build_report(findings, list(self._hosts.values()), self._catalog, self._run,
                              checklist={"hosts": self._checklist_inputs})
        try:
            from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.report.output import write_reports
            from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.report.terminal import render_table
            paths = write_reports(report, self._report_dir(), self._run_dir)
        except Exception as exc:  # a report that cannot be written must be loud, not lost
            self._display.error("iryo-guard could not write the report: %s" % exc)
            raise
        self._display.display(render_table(report, color=self.get_option("color"), report_path=paths["html"]))
        for kind in ("html", "json", "junit", "history"):
            self._display.display("report %-7s %s" % (kind, paths[kind]))
        self._regressions(paths)

    def _regressions(self, paths):
        from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard import notify
        found = paths["regressions"]
        if not found:
            return
        for item in found:
            self._display.warning("iryo-guard regression: %(host)s %(clause)s %(kind)s "
                                  "(%(previous_status)s -> %(status)s)" % item)
        settings = self.notify_settings()
        if not (settings.get("command") or settings.get("smtp_host")):
            return
        outcome = notify.notify(settings, notify.summary(paths["entry"], found, paths["html"]))
        for channel in outcome["sent"]:
            self._display.display("iryo-guard notified %d regression(s) by %s" % (len(found), channel))
        for error in outcome["errors"]:
            self._display.error("iryo-guard could not notify: %s" % error)
