"""Issue 16, items A and B: a managed host is untrusted input. What a module returns (facts, findings, any key)
never steers the controller: its facts do not pass the check action, the notification settings come from the
controller only, findings belong to the task's host, exceptions only come from the inventory's register, and a
malformed finding becomes an `error` of that host instead of crashing the report or touching another host.

The check action and the report callback are driven directly with hostile results; the notification case also
through real ansible-playbook runs on localhost (a stand-in module in a temporary library returns the facts)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from iryo_guard.catalog import load_catalog
from iryo_guard.check_action import CheckAction
from iryo_guard.report.model import build_report, new_run
from iryo_guard.report.output import write_reports
from iryo_guard.schema import MAX_SUMMARY, make_finding

REPO = Path(__file__).resolve().parents[2]
HOST = "files"
HUGE = "x" * (10 * 1024 * 1024)


def good(check="c12.patches.reboot_required", status="pass", **extra):
    return make_finding(check, status, "high", "reboot", {}, {}, "", False, summary="no reboot pending", **extra)


def forged_exception():
    return {"check": "c12.patches.os_eol", "reason": "the vendor said so", "approver": "CISO", "expires": "2999-01-01",
            "target": "*", "expired": False}


def hostile_findings():
    """Each a way a compromised host could try to change the report; the good one comes first."""
    return [
        good(),
        dict(good("c12.patches.security_pending", "pass"), host="ehr"),               # claims another host
        dict(good("c12.patches.os_eol", "excepted"), exception=forged_exception()),  # forged exception
        dict(good("c12.patches.os_eol", "fail"), exception=forged_exception()),      # exception field on a fail
        dict(good("c12.patches.security_pending", "pass"), host=12345),               # non-string host
        {"check": "c12.patches.security_pending", "status": "pass"},                  # fields missing
        dict(good("c12.patches.reboot_required"), summary=HUGE),                      # 10 MB summary
        "garbage",                                                                    # not a mapping
        dict(good(), check="c99.made.up"),                                            # unknown check
    ]


def hostile_result():
    return {"changed": False, "findings": hostile_findings(),
            "ansible_facts": {"iryo_notify_command": ["touch", "/tmp/pwned"], "ansible_host": "203.0.113.9",
                              "iryo_exceptions": [dict(forged_exception(), check="c12.patches.security_pending")]},
            "results": [{"findings": [dict(good(), host="portal")]}],
            "iryo_switched_off": ["c12.patches.security_pending"], "_ansible_no_log": True}


class Hostile(CheckAction):
    def execute_check(self, task_vars):
        return hostile_result()


def run_action(exceptions=None):
    task = SimpleNamespace(action="patch_level", args={"apply": "none"}, check_mode=True, async_val=0, tags=[],
                           get_name=lambda: "C.12 | AUDIT | patches")
    plugin = Hostile(task, SimpleNamespace(_shell=SimpleNamespace(tmpdir="/nonexistent")),
                     SimpleNamespace(check_mode=True), None, None, None)
    return plugin.run(task_vars={"inventory_hostname": HOST, "ansible_run_tags": ["all"], "ansible_skip_tags": [],
                                 "iryo_exceptions": exceptions or []})


def test_module_facts_and_controller_keys_do_not_pass_the_check_action():
    result = run_action()
    assert "ansible_facts" not in result  # no host variable can come from a check module (item A)
    assert "results" not in result and "iryo_switched_off" not in result and "_ansible_no_log" not in result


def test_every_hostile_finding_stays_on_its_host_and_reads_as_an_error():
    findings = run_action()["findings"]
    assert {f["host"] for f in findings} == {HOST}
    assert findings[0]["status"] == "pass" and findings[0]["check"] == "c12.patches.reboot_required"
    refused = findings[1:]
    # one error per check and target, naming every reason (the unknown check and the non-mapping blame each of
    # the call's checks, with the host as target)
    assert refused and all(f["status"] == "error" for f in refused)
    assert not any(f["status"] == "excepted" or "exception" in f for f in findings)
    for finding in findings:
        summary = finding["summary"]
        assert len(summary) <= MAX_SUMMARY and "\n" not in summary and "{" not in summary, summary
        assert summary.startswith("could not decide: the module on files returned") or finding is findings[0]
    reasons = " | ".join(r for f in refused for r in f["refused"])
    for why in ("claims to be about host ehr", "claims an exception", "claims to be about host 12345",
                "lacks", "summary has 10485760 characters", "not a mapping", "c99.made.up"):
        assert why in reasons, why
    assert len(json.dumps(findings)) < 100_000  # the 10 MB summary is not carried along
    # the report keeps the error where the host said two things about one check and target (reboot: pass, 10 MB)
    report = build_report(findings, [{"name": HOST, "groups": [], "reachable": True}], load_catalog(),
                          new_run(["p.yml"], True, "2.19"))
    kept = {(f["check"], f["target"]): f["status"] for f in report["findings"]}
    assert kept[("c12.patches.reboot_required", "reboot")] == "error"
    assert report["matrix"][HOST]["C.12"] == "error"


def test_exceptions_come_from_the_inventory_register_only():
    register = [{"check": "c12.patches.os_eol", "target": "*", "reason": "replacement ordered",
                 "approver": "CISO", "expires": "2999-12-31"}]
    task = SimpleNamespace(action="patch_level", args={"apply": "none"}, check_mode=True, async_val=0, tags=[],
                           get_name=lambda: "x")

    class Failing(CheckAction):
        def execute_check(self, task_vars):
            return {"findings": [make_finding("c12.patches.os_eol", "fail", "high", "os", {}, {}, "", False,
                                              summary="Debian 10 is past its end of life")]}
    plugin = Failing(task, SimpleNamespace(_shell=SimpleNamespace(tmpdir="/x")), SimpleNamespace(check_mode=True),
                     None, None, None)
    [finding] = plugin.run(task_vars={"inventory_hostname": HOST, "iryo_exceptions": register})["findings"]
    assert finding["status"] == "excepted" and finding["exception"]["reason"] == "replacement ordered"


# -- the report callback ---------------------------------------------------------------------------------------


def load_callback():
    spec = importlib.util.spec_from_file_location("iryo_report_cb", REPO / "plugins" / "callback" / "iryo_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CallbackModule()


def fake_result(host, action, payload):
    node = SimpleNamespace(name=host, get_groups=lambda: [])
    return SimpleNamespace(_host=node, _task=SimpleNamespace(action=action), _result=payload)


def test_the_callback_takes_findings_only_from_our_actions_and_never_crashes(tmp_path):
    cb = load_callback()
    # portal's real result
    cb.v2_runner_on_ok(fake_result("portal", "patch_level", {"findings": [
        dict(good("c12.patches.security_pending", "fail"), host="portal", clause="C.12")]}))
    # a non-iryo module on the hostile host (any module's output is the host's to forge) claims portal passes
    cb.v2_runner_on_ok(fake_result(HOST, "ansible.builtin.command", {"findings": [
        dict(good("c12.patches.security_pending", "pass"), host="portal", clause="C.12")]}))
    # garbage that reached a result of our own action on the hostile host (the action admits, this is the backstop)
    cb.v2_runner_on_ok(fake_result(HOST, "iryo.guard.patch_level", {
        "findings": [dict(good(), host=12345, clause="C.12"), "garbage", {"check": 7},
                     dict(good("c12.patches.os_eol"), summary=HUGE, clause="C.12"),
                     dict(good("c12.patches.security_pending", "pass"), host="portal", clause="C.12")],
        "results": "not a list"}))
    cb.v2_runner_on_failed(fake_result(HOST, "patch_level", {"findings": "not a list", "results": [None, 3, {}]}))
    hosts = {f["host"] for f in cb._findings}
    assert hosts == {"portal", HOST}
    portal = [f for f in cb._findings if f["host"] == "portal"]
    assert [(f["check"], f["status"]) for f in portal] == [("c12.patches.security_pending", "fail")]
    report = build_report(cb._findings, list(cb._hosts.values()), load_catalog(), new_run(["p.yml"], True, "2.19"))
    assert report["matrix"]["portal"]["C.12"] == "fail"
    assert report["matrix"][HOST]["C.12"] == "error"
    paths = write_reports(report, tmp_path / "reports")
    assert paths["json"].is_file() and paths["html"].is_file() and paths["junit"].is_file()


# -- notification settings: end to end ------------------------------------------------------------------------

PLAYBOOK = """
- name: A check on the (hostile) host
  hosts: localhost
  gather_facts: false
  tasks:
    - name: "C.12 | AUDIT | c12.patches.reboot_required"
      patch_level:
        status: "{{ status }}"
        facts: "{{ facts }}"
    - name: Any other module on the same host
      other_facts:
        facts: "{{ other }}"
- name: "A later play (the callback used to read iryo_notify_* here, as the first host variables)"
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: later play
"""

STANDIN = """#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
module = AnsibleModule(argument_spec=dict(status=dict(type="str"), facts=dict(type="dict", default={}),
                                          apply=dict(type="str")), supports_check_mode=True)
finding = dict(check="c12.patches.reboot_required", status=module.params["status"], severity="high", target="reboot",
               evidence={}, expected={}, remediation="", fixable=False, summary="reboot state as the test says")
module.exit_json(changed=False, findings=[finding], ansible_facts=module.params["facts"])
"""

OTHER = """#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
module = AnsibleModule(argument_spec=dict(facts=dict(type="dict", default={})), supports_check_mode=True)
module.exit_json(changed=False, ansible_facts=module.params["facts"])
"""


@pytest.mark.parametrize("channel", ["check_module", "other_module"])
def test_facts_from_a_host_never_run_a_command_on_the_controller(tmp_path, channel):
    library = tmp_path / "library"
    library.mkdir()
    (library / "patch_level.py").write_text(STANDIN)  # found before the real one: a host that answers as it likes
    (library / "other_facts.py").write_text(OTHER)
    marker = tmp_path / "controller-pwned"
    injected = {"iryo_notify_command": [sys.executable, "-c", "open(%r, 'w').write('ran')" % str(marker)]}
    playbook = tmp_path / "p.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), IRYO_REPORT_DIR=str(tmp_path / "reports"),
               IRYO_REPORT_COLOR="false", ANSIBLE_NOCOLOR="1", ANSIBLE_HOME=str(REPO / ".ansible"),
               ANSIBLE_LIBRARY="%s:%s" % (library, REPO / "library"))
    for key in [k for k in env if k.startswith("IRYO_NOTIFY_")]:
        del env[key]

    def run(status, facts, other):
        extra = {"status": status, "facts": facts, "other": other, "ansible_python_interpreter": sys.executable}
        return subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", json.dumps(extra), str(playbook)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    first = run("pass", {}, {})
    assert first.returncode == 0, first.stdout[-3000:]
    second = run("fail", injected if channel == "check_module" else {}, injected if channel == "other_module" else {})
    out = second.stdout + second.stderr
    # the run regressed, so the notification hook was consulted ...
    assert "iryo-guard regression: localhost C.12" in out, out[-3000:]
    # ... and found no command: the host's facts are not the controller's configuration
    assert not marker.exists(), out[-3000:]
    assert "iryo-guard notified" not in out
