"""Action plugins that run on the controller only: input validation, organisational items, gate."""

import datetime
import ipaddress
import os
import re
from functools import lru_cache

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from . import REPO_ROOT, load_yaml
from .maintenance import WindowError, next_opening

from .catalog import ORGANISATION_HOST, load_catalog
from .checklist import ChecklistError, load_edition
from .checklist import validate_inputs as validate_checklist_inputs
from .enrich import InputError, enrich, validate_exceptions
from .evidence_register import (contracts_finding, manual_finding, max_age_months, validate_contracts,
                               validate_evidence)
from .report.output import current_report_html, current_verdicts
from .rollout import GROUP_VAR, RolloutError, group_problem, parse_serial
from .switches import looks_like_switch, replace_switched_off, switch_problems, switched_off
from .tls.inputs import endpoint_problems as tls_endpoint_problems

# The values sshd_hardening gives to `sshd -T -C user=U,host=A,addr=A` (one argument that sshd splits at commas):
# refused here before any role runs, and again by the module on the host (module_utils/iryo_sshd.py
# match_value_problem, which the controller library cannot import). Issue 16 item 5.
SSHD_USER_NAME = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9._-]{0,31}\$?\Z")


def sshd_match_problems(admin_users, connection_source):
    """d1_remote_access_admin_users / d1_remote_access_connection_source values sshd -T -C would misread."""
    problems = []
    for user in admin_users or []:
        if not isinstance(user, str) or not SSHD_USER_NAME.match(user):
            problems.append("d1_remote_access_admin_users: %s is not an account name (letters, digits, . _ -, at "
                            "most 32; no comma, blank, newline or pattern character)" % _short(user))
    if connection_source:
        try:
            ok = str(ipaddress.ip_address(connection_source)) == connection_source
        except ValueError:
            ok = False
        if not ok:
            problems.append("d1_remote_access_connection_source: %s is not an IP address in normal form"
                            % _short(connection_source))
    return problems


# Names that end up in configuration lines, command arguments and TLS ClientHellos: host names, IP addresses and
# endpoint names. A newline, comma, blank or shell character in one is never a real name, and a value that long
# is never one either: refused before any host is touched (issue 16, hostile input).
ENDPOINT_NAME = re.compile(r"\A[A-Za-z0-9_.*:\[\]-]{1,253}\Z")


def _network_problem(variable, value):
    if value == "any":
        return None
    try:
        if isinstance(value, str) and len(value) <= 64:
            ipaddress.ip_network(value, strict=False)
            return None
    except ValueError:
        pass
    return "%s: %s is not a network (an address or address/prefix, or any)" % (variable, _short(value))


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else "%s... (%d characters)" % (text[:40], len(text))


def hostile_value_problems(endpoints, networks, class_services, expected_accounts, remove_accounts):
    """Values that would reach a configuration line, a command argument or a ClientHello and cannot be a real
    name, address or account: one sentence each naming the variable."""
    problems = []
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(endpoint, dict):
            continue
        for key in ("name", "server_name", "probe_host"):
            value = endpoint.get(key)
            if value is not None and not (isinstance(value, str) and ENDPOINT_NAME.match(value)):
                problems.append("c11_tls_endpoints: %s %s is not a host name, address or plain name (letters, "
                                "digits, . - _ * : [ ]; no comma, blank, newline or shell character; at most 253)"
                                % (key, _short(value)))
    for network in networks if isinstance(networks, list) else []:
        problem = _network_problem("d1_remote_access_allowed_networks", network)
        if problem:
            problems.append(problem)
    for service in class_services if isinstance(class_services, list) else []:
        if isinstance(service, dict):
            for source in service.get("sources") or []:
                problem = _network_problem("c10_isolation_services", source)
                if problem:
                    problems.append(problem)
    for variable, accounts in (("cl_checklist_expected_accounts", expected_accounts),
                               ("cl_checklist_remove_accounts", remove_accounts)):
        for account in accounts if isinstance(accounts, list) else []:
            if not (isinstance(account, str) and SSHD_USER_NAME.match(account)):
                problems.append("%s: %s is not an account name (letters, digits, . _ -, at most 32; no comma, "
                                "blank, newline or shell character)" % (variable, _short(account)))
    return problems


_UNSET = object()


@lru_cache(maxsize=1)
def role_argument_specs():
    """{role: options of its `main` entry point} for every role with meta/argument_specs.yml."""
    specs = {}
    for path in sorted((REPO_ROOT / "roles").glob("*/meta/argument_specs.yml")):
        document = load_yaml(path.read_text(encoding="utf-8")) or {}
        options = ((document.get("argument_specs") or {}).get("main") or {}).get("options")
        if options:
            specs[path.parent.parent.name] = options
    return specs


def _spec_for_validator(options):
    """argument_specs.yml options -> an ArgumentSpecValidator spec (drops the documentation keys)."""
    keep = ("type", "elements", "required", "default", "choices", "no_log", "aliases", "options")
    spec = {}
    for name, option in options.items():
        entry = dict((k, v) for k, v in option.items() if k in keep)
        if isinstance(entry.get("options"), dict):
            entry["options"] = _spec_for_validator(entry["options"])
        spec[name] = entry
    return spec


class ValidateInputsAction(ActionBase):
    """Refuse malformed inventory input before any host is touched (every playbook's first play), in one
    task: the exceptions and evidence register, every role's argument spec against the inventory's values
    (a role validates its own only when it starts, which in harden.yml is after the roles before it have
    changed hosts), the TLS endpoints (C.11 profiles only under C.11) and the maintenance window."""

    _supports_check_mode = True

    def _value(self, task_vars, name, default=None):
        """The variable as the roles will see it (templated), or `default` when it is not set."""
        if name not in task_vars:
            return default
        return self._templar.template(task_vars[name])

    def _role_problems(self, task_vars):
        problems = []
        for role, options in sorted(role_argument_specs().items()):
            given = {}
            for name in options:
                try:
                    value = self._value(task_vars, name, _UNSET)
                except AnsibleError as exc:  # e.g. a template naming an undefined variable
                    problems.append("role %s: %s cannot be evaluated: %s" % (role, name, exc.message))
                    continue
                if value is not _UNSET:
                    given[name] = value
            if given:
                checked = ArgumentSpecValidator(_spec_for_validator(options)).validate(given)
                problems += ["role %s: %s" % (role, message) for message in checked.error_messages]
        return problems

    def _switch_problems(self, task_vars):
        """The check switches (iryo_check_<id>) the host is given: known names, boolean values."""
        values = {}
        for name in task_vars:
            if looks_like_switch(name):
                try:
                    values[name] = self._value(task_vars, name)
                except AnsibleError as exc:
                    return ["%s cannot be evaluated: %s" % (name, exc.message)]
        return switch_problems(load_catalog(), values)

    def _rollout_problems(self, task_vars):
        """The rollout's inputs (docs/operations.md, "Rollout"): the host's redundancy group, the nightly's batches
        (an extra variable, the same on every host), the health check's wait. Whether a group's members fit into
        different batches depends on the hosts of the run: the input play's iryo_rollout_plan task decides that."""
        host = task_vars.get("inventory_hostname", "?")
        problems = []
        problem = group_problem(self._value(task_vars, GROUP_VAR), host)
        if problem:
            problems.append(problem)
        serial = self._value(task_vars, "iryo_nightly_serial")
        if serial is not None:
            try:
                parse_serial(serial)
            except RolloutError as exc:
                problems.append(str(exc))
        wait = self._value(task_vars, "iryo_nightly_health_wait")
        if wait is not None and (isinstance(wait, bool) or not str(wait).strip().isdigit() or int(wait) > 3600):
            problems.append("iryo_nightly_health_wait must be a whole number of seconds from 0 to 3600, not %r"
                            % (wait,))
        return problems

    def _tls_and_window_problems(self, task_vars):
        problems = []
        if self._value(task_vars, "c11_tls_enabled", True):
            problems += tls_endpoint_problems(self._value(task_vars, "c11_tls_endpoints", []),
                                              self._value(task_vars, "iryo_exceptions"))
        window = self._value(task_vars, "c12_patches_antimalware_maintenance_window")
        if window:
            try:
                next_opening(window, datetime.datetime.now(datetime.timezone.utc))
            except WindowError as exc:
                problems.append("c12_patches_antimalware_maintenance_window: %s" % exc)
        return problems

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        host = task_vars.get("inventory_hostname", "?")
        catalog = load_catalog()
        try:
            exceptions = validate_exceptions(self._value(task_vars, "iryo_exceptions"), catalog, host)
            # The evidence register (C.9 contracts, evidence of organisational items): its structure
            # is refused here; what is missing from it is the audit's finding, not an input error.
            contracts = validate_contracts(self._value(task_vars, "iryo_contracts"), catalog, host)
            evidence = validate_evidence(self._value(task_vars, "iryo_evidence"), catalog, host)
            max_age_months(self._value(task_vars, "iryo_evidence_max_age_months"))
            # The inspection checklist's inputs: the vendor that runs this host (its vendor sheet) and the
            # target dates of items answered いいえ. The report callback takes them from this task's result.
            checklist = validate_checklist_inputs(self._value(task_vars, "iryo_vendor"),
                                                  self._value(task_vars, "iryo_checklist_targets"),
                                                  load_edition(known_checks=catalog.checks), host)
        except (InputError, ChecklistError) as exc:
            return dict(result, failed=True, msg=str(exc))
        problems = self._switch_problems(task_vars) or self._role_problems(task_vars)
        if not problems:
            try:
                problems = self._tls_and_window_problems(task_vars) + self._rollout_problems(task_vars)
                problems += sshd_match_problems(self._value(task_vars, "d1_remote_access_admin_users"),
                                                self._value(task_vars, "d1_remote_access_connection_source"))
                problems += hostile_value_problems(
                    self._value(task_vars, "c11_tls_endpoints"),
                    self._value(task_vars, "d1_remote_access_allowed_networks"),
                    self._value(task_vars, "c10_isolation_services"),
                    self._value(task_vars, "cl_checklist_expected_accounts"),
                    self._value(task_vars, "cl_checklist_remove_accounts"))
            except AnsibleError as exc:
                problems = [exc.message]
        if problems:
            return dict(result, failed=True, msg="; ".join(problems[:5]) + (
                " (+%d more)" % (len(problems) - 5) if len(problems) > 5 else ""))
        return dict(result, changed=False, exceptions=exceptions, checklist=checklist,
                    msg="%d exception(s), %d contract(s), %d evidence record(s) valid for %s"
                        % (len(exceptions), len(contracts or []), len(evidence), host))


class OrganisationAction(ActionBase):
    """Organisational items under the pseudo-host _organisation: the C.9 contract register
    (c09.contracts.evidence, pass/fail from iryo_contracts) and every manual item of the catalog
    (manual with the evidence it needs, or pass/fail when iryo_evidence records that evidence)."""

    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        catalog = load_catalog()
        try:
            value = lambda name: self._templar.template(task_vars[name]) if name in task_vars else None  # noqa: E731
            contracts = validate_contracts(value("iryo_contracts"), catalog, ORGANISATION_HOST)
            evidence = validate_evidence(value("iryo_evidence"), catalog, ORGANISATION_HOST)
            months = max_age_months(value("iryo_evidence_max_age_months"))
        except InputError as exc:
            return dict(result, failed=True, msg=str(exc))
        raw = [contracts_finding(contracts, months, host=ORGANISATION_HOST)]
        raw += [manual_finding(check, evidence.get(check["id"]), months, host=ORGANISATION_HOST)
                for check in catalog.manual_checks()]
        try:  # the one automated check here has a switch like every other (iryo_guard/switches.py)
            off = switched_off([raw[0]["check"]], lambda name: value(name) if name in task_vars else True)
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        raw = replace_switched_off(catalog, raw, off)
        return dict(result, changed=False, findings=enrich(raw, ORGANISATION_HOST, catalog))


def gate_message(count, hosts, organisation, report, enabled=True):
    """The gate's one line: how many, where, which report, how to exit 0 anyway.

    Ansible prints a failed task's whole result (twice: as the error and as the result), so the
    result holds this line and nothing else; the findings are in report.json and report.html."""
    where = []
    if hosts:
        where.append("%d host%s" % (hosts, "" if hosts == 1 else "s"))
    if organisation:
        where.append("the organisation")
    line = "%d check(s) failed or could not decide%s" % (count, " on " + " and ".join(where) if where else "")
    line += "; see %s" % report if report else "; no report folder is known (is the iryo_report callback enabled?)"
    if enabled:
        line += "; set iryo_audit_fail_on_findings=false to exit 0"
    else:
        line += " (gate disabled: iryo_audit_fail_on_findings=false)"
    return line


def shown_path(path):
    """A path as the operator best reads it: relative to the current folder when it lies below it."""
    if not path:
        return None
    path = os.path.abspath(str(path))
    here = os.getcwd()
    if path.startswith(here.rstrip(os.sep) + os.sep):
        return os.path.relpath(path, here)
    return path


class GateAction(ActionBase):
    """Fail the run when any audited host has a failing or undecided check."""

    _supports_check_mode = True
    _VALID_ARGS = frozenset(("hosts", "enabled", "organisation"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        hosts = self._task.args.get("hosts") or []
        enabled = self._task.args.get("enabled", True)
        verdicts = current_verdicts()
        if verdicts is None:
            # Without the report callback there is nothing trustworthy to judge: never a pass.
            result.update(failed=bool(enabled), changed=False,
                          msg="the gate has no findings to judge: the iryo_report callback is not enabled "
                              "(ansible.cfg callbacks_enabled = iryo_report, or playbooks/callback_plugins)")
            return result
        bad = []  # (host, check, target)
        for host in hosts:
            seen = verdicts["hosts"].get(host) or {}
            if not seen:
                bad.append((host, "(no findings: unreachable or no check ran)", host))
                continue
            bad += [(host, check, target) for (check, target), status in seen.items() if status in ("fail", "error")]
        # Organisational items (C.9's contract register, stale evidence) fail the run like a host's
        # checks do; `manual` items do not, since nobody has claimed anything yet.
        organisation = [(f.get("host", ORGANISATION_HOST), f["check"], f["target"])
                        for f in self._task.args.get("organisation") or [] if f["status"] in ("fail", "error")]
        failing_hosts = len({host for host, _, _ in bad})
        report = shown_path(current_report_html())
        msg = gate_message(len(bad) + len(organisation), failing_hosts, bool(organisation), report, enabled)
        result["changed"] = False
        if (bad or organisation) and enabled:
            result.update(failed=True, msg=msg)
        elif bad or organisation:
            result["msg"] = msg
        else:
            result["msg"] = "no check failed or could not decide; see %s" % (report or "the report")
        return result
