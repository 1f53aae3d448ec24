"""ClauseAction (iryo_guard/check_action.py): which parts of a clause call run and which enforce, decided on
the controller from --tags/--skip-tags, the unattended flag and the clause catalog, before the module is sent."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from iryo_guard.catalog import load_catalog
from iryo_guard.check_action import ClauseAction, selected_by_tags

REPO = Path(__file__).resolve().parents[2]
ROLE_OF = {"iryo_c10": "c10_isolation", "iryo_c11": "c11_tls", "iryo_c12": "c12_patches_antimalware",
           "iryo_cl": "cl_checklist"}


def role_tags(action):
    """The literal tags of the role's clause call (roles/<role>/tasks/check.yml): what the task declares."""
    (task,) = yaml.safe_load((REPO / "roles" / ROLE_OF[action] / "tasks" / "check.yml").read_text())
    return task["tags"]


@pytest.mark.parametrize("tags,run,skip,expected", [
    (["c12", "c12.patches.os_eol"], None, None, True),           # no --tags: everything
    (["c12", "c12.patches.os_eol"], ["all"], [], True),
    (["c12", "c12.patches.os_eol"], ["c12"], [], True),
    (["c12", "c12.patches.os_eol"], ["c10"], [], False),
    (["c12", "c12.patches.os_eol"], ["all"], ["c12.patches.os_eol"], False),
    (["c12", "c12.patches.os_eol"], ["c12.patches.os_eol"], [], True),
    (["c12", "always"], ["c10"], [], True),                      # always runs unless skipped by name
    (["c12", "always"], ["all"], ["always"], False),
    (["c12", "always"], ["all"], ["c12"], False),                 # --skip-tags beats always
    (["c12", "never"], ["all"], [], False),
    (["c12", "never"], ["never"], [], True),
    (["c12"], ["tagged"], [], True),
    ([], ["tagged"], [], False),
])
def test_selected_by_tags_follows_ansible(tags, run, skip, expected):
    assert selected_by_tags(tags, run, skip) is expected


def prepared(args, action="iryo_c12", run_tags=None, skip_tags=None, unattended=False, check_mode=False,
             tags=None, plugin_out=None, **switches):
    """The arguments ClauseAction sends for this task (None when it sends nothing) and what it held back.
    The task's tags are the role's (tags=... to declare others); the task name says nothing about checks."""
    task = SimpleNamespace(action=action, args=args, check_mode=check_mode, get_name=lambda: "anything",
                           tags=role_tags(action) if tags is None else tags)
    plugin = ClauseAction(task, None, SimpleNamespace(check_mode=check_mode), None, None, None)
    task_vars = dict({"ansible_run_tags": run_tags or ["all"], "ansible_skip_tags": skip_tags or [],
                      "iryo_unattended": unattended}, **switches)
    assert plugin.prepare_call(load_catalog(), task_vars) == []  # never the whole task to check mode
    if plugin_out is not None:
        plugin_out.append(plugin)
    return (None if plugin._skip_call else task.args), plugin._held_back


C12 = {"patch_level": {"apply": "security"}, "freshclam_config": {"state": "enforced"}, "av_signatures": {}}


def test_tags_leave_out_the_check_modules_they_do_not_select():
    args, _ = prepared(dict(C12), run_tags=["c12.antimalware.signatures_fresh"])
    assert set(args) == {"av_signatures"}
    args, _ = prepared(dict(C12), skip_tags=["c12.antimalware.mirror_config"])
    assert set(args) == {"patch_level", "av_signatures"}


def test_a_report_only_check_selected_alone_does_not_make_its_module_enforce():
    """--tags c12.patches.os_eol must not install security updates on the side (catalog: enforced_by_module)."""
    args, _ = prepared(dict(C12), run_tags=["c12.patches.os_eol"])
    assert args == {"patch_level": {"apply": "none"}}
    args, _ = prepared(dict(C12), run_tags=["c12.patches.security_pending"])
    assert args["patch_level"] == {"apply": "security"}


def test_unattended_runs_audit_what_the_catalog_does_not_mark_safe():
    # the catalog marks c12.* unattended-safe and C.10's firewall and logging not (they can cut clinical traffic)
    args, held = prepared(dict(C12), unattended=True)
    assert args == C12 and held == []
    c10 = {"host_isolation": {}, "nft_firewall": {"state": "enforced"}, "access_logging": {"state": "enforced"}}
    args, held = prepared(dict(c10), action="iryo_c10", unattended=True)
    assert args == {"host_isolation": {}, "nft_firewall": {"state": "audit"}, "access_logging": {"state": "audit"}}
    assert [sub for sub, _ in held] == ["nft_firewall", "access_logging"]
    # in check mode nothing enforces anyway: nothing is held back
    _, held = prepared(dict(c10), action="iryo_c10", unattended=True, check_mode=True)
    assert held == []


def test_a_list_of_option_sets_is_judged_one_by_one():
    """tls_config once per web server: a C.10 server and a C.11 server in one C.11 clause call."""
    args = {"tls_config": [{"state": "enforced", "server": "nginx", "check_id": "c10.tls.server_config"},
                           {"state": "enforced", "server": "apache", "check_id": "c11.tls.server_config"}]}
    kept, _ = prepared(args, action="iryo_c11", run_tags=["c10"])
    assert kept == {"tls_config": [{"state": "enforced", "server": "nginx", "check_id": "c10.tls.server_config"}]}
    kept, held = prepared(dict(args), action="iryo_c11", unattended=True)
    assert [item["state"] for item in kept["tls_config"]] == ["audit", "audit"]
    assert [sub for sub, _ in held] == ["tls_config", "tls_config"]


# -- disruption tags (catalog `disruption`): which parts run and which enforce ----------------------------------


def test_disruption_none_runs_only_what_reads_and_every_module_audits():
    args, _ = prepared(dict(C12), run_tags=["disruption_none"])
    # mirror_config's enforcement reloads and installs: its module is left out; patch_level runs for its
    # report-only checks (reboot, end of life) and must not install updates on the side
    assert args == {"patch_level": {"apply": "none"}, "av_signatures": {}}
    c10 = {"host_isolation": {}, "nft_firewall": {"state": "enforced"}, "access_logging": {"state": "enforced"}}
    args, _ = prepared(dict(c10), action="iryo_c10", run_tags=["disruption_none"])
    assert args == {"host_isolation": {}}
    cl = {"local_accounts": {"state": "enforced"}, "unneeded_services": {}, "backup_freshness": {}}
    args, _ = prepared(dict(cl), action="iryo_cl", run_tags=["disruption_none"])
    assert args == {"local_accounts": {"state": "audit"}, "unneeded_services": {}, "backup_freshness": {}}


def test_a_level_selects_the_modules_that_can_cause_it_and_they_enforce_only_within_it():
    args, _ = prepared(dict(C12), run_tags=["disruption_package_install"])
    # patch_level's only enforcement is package_install: it installs; freshclam_config's also reloads and
    # writes configuration, which the tags did not select: it audits
    assert args == {"patch_level": {"apply": "security"}, "freshclam_config": {"state": "audit"}}
    c10 = {"host_isolation": {}, "nft_firewall": {"state": "enforced"}, "access_logging": {"state": "enforced"}}
    args, _ = prepared(dict(c10), action="iryo_c10", run_tags=["disruption_firewall"])
    assert args == {"nft_firewall": {"state": "enforced"}}


def test_skipping_a_level_keeps_the_rest():
    args, _ = prepared(dict(C12), skip_tags=["disruption_reboot"])  # the clause call itself never reboots
    assert args == C12
    args, _ = prepared(dict(C12), skip_tags=["disruption_service_reload"])
    assert args == {"patch_level": {"apply": "security"}, "av_signatures": {}}


# -- switches: iryo_check_<id> ----------------------------------------------------------------------------------


def switched(action, args, *off, **kwargs):
    plugins = []
    sent, held = prepared(dict(args), action=action, plugin_out=plugins,
                          **dict({"iryo_check_" + c.replace(".", "_"): False for c in off}, **kwargs))
    return sent, plugins[0]


def test_a_module_whose_checks_are_all_switched_off_is_not_sent():
    sent, plugin = switched("iryo_c12", C12, "c12.antimalware.mirror_config")
    assert sent == {"patch_level": {"apply": "security"}, "av_signatures": {}}
    assert plugin._switched_off == ["c12.antimalware.mirror_config"] and plugin._notes == []
    everything = ["c12.patches.security_pending", "c12.patches.reboot_required", "c12.patches.os_eol",
                  "c12.antimalware.signatures_fresh", "c12.antimalware.mirror_config"]
    sent, plugin = switched("iryo_c12", C12, *everything)
    assert sent is None and sorted(plugin._switched_off) == sorted(everything)


def test_a_module_that_cannot_leave_an_enforced_check_out_only_audits():
    sent, plugin = switched("iryo_c12", C12, "c12.patches.security_pending")
    assert sent["patch_level"] == {"apply": "none"} and sent["freshclam_config"] == {"state": "enforced"}
    assert plugin._switched_off == ["c12.patches.security_pending"]
    assert plugin._notes == ["patch_level only audited: c12.patches.security_pending is switched off "
                             "(iryo_check_c12_patches_security_pending = false) and the module cannot enforce its "
                             "other checks without it"]
    # a report-only check switched off: the module still enforces the rest, its finding is replaced
    sent, plugin = switched("iryo_c12", C12, "c12.patches.os_eol")
    assert sent["patch_level"] == {"apply": "security"} and plugin._switched_off == ["c12.patches.os_eol"]


def test_a_module_option_leaves_a_switched_off_check_out():
    c10 = {"nft_firewall": {"state": "enforced"}, "access_logging": {"state": "enforced"}}
    sent, plugin = switched("iryo_c10", c10, "c10.monitoring.log_forwarding")
    assert sent["access_logging"] == {"state": "enforced", "log_forwarding": False} and plugin._notes == []
    cl = {"local_accounts": {"state": "enforced", "checks": ["cl.accounts.unexpected", "cl.accounts.unused",
                                                             "cl.accounts.shared_uid0", "cl.accounts.removal_locked"]}}
    sent, plugin = switched("iryo_cl", cl, "cl.accounts.removal_locked")
    # what is left only reports: nothing to enforce, so nothing is locked
    assert sent == {"local_accounts": {"state": "audit", "checks": ["cl.accounts.unexpected", "cl.accounts.unused",
                                                                    "cl.accounts.shared_uid0"]}}


def test_switches_and_tags_together():
    # --tags naming only a switched-off check: its module is not sent, the check is reported as skipped
    sent, plugin = switched("iryo_c12", C12, "c12.patches.os_eol", ansible_run_tags=["c12.patches.os_eol"])
    assert sent is None and plugin._switched_off == ["c12.patches.os_eol"]
    # a switched-off check the tags do not select is not reported
    sent, plugin = switched("iryo_c12", C12, "c12.patches.os_eol",
                            ansible_run_tags=["c12.antimalware.signatures_fresh"])
    assert sent == {"av_signatures": {}} and plugin._switched_off == []


@pytest.mark.parametrize("value, off", [(False, True), ("false", True), ("no", True), (True, False), ("yes", False)])
def test_switch_values_are_ansible_booleans(value, off):
    sent, plugin = prepared(dict(C12), **{"iryo_check_c12_antimalware_mirror_config": value}, plugin_out=[])
    assert ("freshclam_config" not in sent) is off


def test_a_switch_that_is_not_a_boolean_is_refused():
    with pytest.raises(ValueError, match="iryo_check_c12_patches_os_eol must be true or false"):
        prepared(dict(C12), **{"iryo_check_c12_patches_os_eol": "maybe"})


# -- unattended: the task's declared check ids ------------------------------------------------------------------


def test_unattended_enforces_only_what_the_task_declares():
    tags = [t for t in role_tags("iryo_c12") if t != "c12.patches.security_pending"]
    args, held = prepared(dict(C12), unattended=True, tags=tags)
    assert args["patch_level"] == {"apply": "none"} and args["freshclam_config"] == {"state": "enforced"}
    assert held == [("patch_level", ["c12.patches.security_pending (not declared in the task's tags)"])]
    args, held = prepared(dict(C12), unattended=True, tags=["c12"])  # no check id at all: nothing enforces
    assert args == {"patch_level": {"apply": "none"}, "freshclam_config": {"state": "audit"}, "av_signatures": {}}


# -- single-module tasks (CheckAction) --------------------------------------------------------------------------


def single(action, args, role, run_tags=None, unattended=False, tags=None, **switches):
    from iryo_guard.check_action import CheckAction
    (task_yaml,) = yaml.safe_load((REPO / "roles" / role / "tasks" / "check.yml").read_text())
    task = SimpleNamespace(action=action, args=dict(args), check_mode=False, get_name=lambda: "anything",
                           tags=task_yaml["tags"] if tags is None else tags)
    plugin = CheckAction(task, None, SimpleNamespace(check_mode=False), None, None, None)
    held = plugin.prepare_call(load_catalog(), dict({"ansible_run_tags": run_tags or ["all"], "ansible_skip_tags": [],
                                                     "iryo_unattended": unattended}, **switches))
    return task.args, plugin, held


def test_a_single_module_task_follows_the_same_rules():
    args, plugin, held = single("key_protection", {"state": "enforced"}, "c13_key_protection")
    assert args == {"state": "enforced"} and held == [] and not plugin._skip_call
    # --tags disruption_none: the read-only check runs, the key modes are not changed on the side
    args, _, _ = single("key_protection", {"state": "enforced"}, "c13_key_protection", run_tags=["disruption_none"])
    assert args == {"state": "audit"}
    args, _, _ = single("key_protection", {"state": "enforced"}, "c13_key_protection",
                        run_tags=["c13.keys.signing_key_protected"])
    assert args == {"state": "audit"}
    args, plugin, _ = single("key_protection", {"state": "enforced"}, "c13_key_protection",
                             iryo_check_c13_keys_permissions=False)
    assert args == {"state": "audit"} and plugin._switched_off == ["c13.keys.permissions"] and plugin._notes
    _, plugin, _ = single("key_protection", {"state": "enforced"}, "c13_key_protection",
                          iryo_check_c13_keys_permissions=False, iryo_check_c13_keys_signing_key_protected="off")
    assert plugin._skip_call
    args, plugin, _ = single("sshd_hardening", {"state": "enforced"}, "d1_remote_access",
                             iryo_check_d1_ssh_password_auth=False)
    assert args == {"state": "enforced", "password_auth": False} and plugin._switched_off == ["d1.ssh.password_auth"]
    # unattended: held back for the unsafe check, and for what the task does not declare
    _, _, held = single("key_protection", {"state": "enforced"}, "c13_key_protection", unattended=True)
    assert held == ["c13.keys.permissions"]
    _, _, held = single("key_storage_fips", {"state": "enforced"}, "d2_key_storage", unattended=True, tags=[])
    assert held == ["key_storage_fips (no check id among the task's tags)"]
