"""ClauseAction (iryo_guard/check_action.py): which parts of a clause call run and which enforce, decided on
the controller from --tags/--skip-tags, the unattended flag and the clause catalog, before the module is sent."""

from types import SimpleNamespace

import pytest

from iryo_guard.catalog import load_catalog
from iryo_guard.check_action import ClauseAction, selected_by_tags


@pytest.mark.parametrize("tags,run,skip,expected", [
    (["c12", "c12.patches.os_eol"], None, None, True),           # no --tags: everything
    (["c12", "c12.patches.os_eol"], ["all"], [], True),
    (["c12", "c12.patches.os_eol"], ["c12"], [], True),
    (["c12", "c12.patches.os_eol"], ["c10"], [], False),
    (["c12", "c12.patches.os_eol"], ["all"], ["c12.patches.os_eol"], False),
    (["c12", "c12.patches.os_eol"], ["c12.patches.os_eol"], [], True),
])
def test_selected_by_tags_follows_ansible(tags, run, skip, expected):
    assert selected_by_tags(tags, run, skip) is expected


def prepared(args, action="iryo_c12", run_tags=None, skip_tags=None, unattended=False, check_mode=False):
    task = SimpleNamespace(action=action, args=args, check_mode=check_mode, get_name=lambda: "C.12 | ...")
    plugin = ClauseAction(task, None, SimpleNamespace(check_mode=check_mode), None, None, None)
    task_vars = {"ansible_run_tags": run_tags or ["all"], "ansible_skip_tags": skip_tags or [],
                 "iryo_unattended": unattended}
    assert plugin.unattended_hold_back(load_catalog(), task_vars) == []  # never the whole task to check mode
    return task.args, plugin._held_back


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
