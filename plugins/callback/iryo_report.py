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
    C(_to), C(_starttls), C(_user)). Play or extra variables, else the environment
    (C(IRYO_NOTIFY_COMMAND), C(IRYO_NOTIFY_SMTP_HOST), ...; the password only as C(IRYO_NOTIFY_SMTP_PASSWORD)).
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
  color:
    description: Colour the terminal table.
    default: true
    env:
      - name: IRYO_REPORT_COLOR
    type: bool
"""

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard import REPO_ROOT
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.catalog import load_catalog
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.checklist import ChecklistError, load_edition
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.report.model import (
    build_report, new_run, unreachable_findings)


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
        self._findings = []
        self._hosts = {}  # name -> {name, groups, reachable}
        self._unreachable = {}  # name -> message
        self._checks_seen = set()
        self._iryo_seen = False
        self._run = None
        self._run_dir = None  # reserved when the audit gate starts, so that its message can name it
        self._notify_vars = {}  # iryo_notify_* of the plays (extra vars, play vars, group_vars/all)
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
        self._notify_vars.update(self._play_notify_vars(play))

    def _play_notify_vars(self, play):
        """The iryo_notify_* variables the play sees (as for its first host), templated."""
        try:
            manager = play._variable_manager
            hosts = manager._inventory.get_hosts(play.hosts) if manager._inventory is not None else []
            variables = manager.get_vars(play=play, host=hosts[0] if hosts else None)
            wanted = {k: v for k, v in variables.items() if str(k).startswith("iryo_notify_")}
            if not wanted:
                return {}
            from ansible.template import Templar
            templar = Templar(loader=play._loader, variables=variables)
            return {k: templar.template(v) for k, v in wanted.items()}
        except Exception as exc:  # the notification settings must not break the run itself
            self._display.warning("iryo-guard: cannot read the iryo_notify_* variables: %s" % exc)
            return {}

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

    def _is_check_task(self, result):
        return result._task.action.split(".")[-1] in self._modules

    def _collect(self, result):
        payload = result._result
        if result._task.action.split(".")[-1] == "iryo_validate_inputs" and isinstance(payload.get("checklist"), dict):
            # The inspection checklist's per-host inputs (iryo_vendor, iryo_checklist_targets), validated.
            self._checklist_inputs[result._host.name] = payload["checklist"]
        batches = [payload.get("findings")] + [item.get("findings") for item in payload.get("results", [])
                                                if isinstance(item, dict)]
        for batch in batches:
            for finding in batch or []:
                if isinstance(finding, dict) and "check" in finding and "clause" in finding:
                    if finding.get("host") == result._host.name:
                        self._note_host(result)
                    self._iryo_seen = True
                    if finding.get("host") == result._host.name:  # not the _organisation items
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
        settings = notify.settings_from(self._notify_vars)
        if not (settings.get("command") or settings.get("smtp_host")):
            return
        outcome = notify.notify(settings, notify.summary(paths["entry"], found, paths["html"]))
        for channel in outcome["sent"]:
            self._display.display("iryo-guard notified %d regression(s) by %s" % (len(found), channel))
        for error in outcome["errors"]:
            self._display.error("iryo-guard could not notify: %s" % error)
