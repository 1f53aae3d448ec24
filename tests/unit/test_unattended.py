"""Unattended runs (playbooks/nightly.yml): the catalog's `unattended` mark, the central hold-back in
CheckAction and the filters for builtin tasks. The playbook test runs the real crypto_defaults
module on a copy of this controller's openssl.cnf (c11.tls.client_defaults is not unattended-safe)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iryo_guard.catalog import CatalogError, load_catalog, parse_catalog
from iryo_guard.unattended import declared_checks, is_unattended, may_enforce, undeclared, unsafe_checks

ROOT = Path(__file__).resolve().parents[2]


def test_every_implemented_automated_check_carries_an_explicit_mark():
    catalog = load_catalog()
    unmarked = [c["id"] for c in catalog.checks.values()
                if c["kind"] == "automated" and not c.get("planned") and "unattended" not in c]
    assert unmarked == [], "decide unattended: true|false for %s" % unmarked


@pytest.mark.parametrize("check_id, safe", [
    ("c11.tls.server_config", False), ("c12.patches.security_pending", True),
    ("c12.antimalware.mirror_config", True), ("c11.session_crossing.ip_forwarding", False)])
def test_marks_of_the_issue(check_id, safe):
    assert load_catalog().unattended_safe(check_id) is safe


def _catalog_with(check_extra):
    import yaml
    data = yaml.safe_load((ROOT / "data" / "catalog" / "mhlw-5.2-6.11.yml").read_text(encoding="utf-8"))
    for clause in data["clauses"]:
        for check in clause["checks"]:
            if check["id"] in check_extra:
                check.update(check_extra[check["id"]])
                if check_extra[check["id"]].get("unattended") is None:
                    check.pop("unattended", None)
    return parse_catalog(data)


def test_catalog_refuses_a_non_boolean_mark_and_a_mark_on_a_manual_item():
    with pytest.raises(CatalogError, match="true or false"):
        _catalog_with({"c12.patches.security_pending": {"unattended": "yes"}})
    with pytest.raises(CatalogError, match="only automated"):
        _catalog_with({"c09.manual.contract_review": {"unattended": True}})


def test_an_unmarked_check_is_not_safe():
    catalog = _catalog_with({"c12.patches.security_pending": {"unattended": None}})
    assert "unattended" not in catalog.check("c12.patches.security_pending")
    assert catalog.unattended_safe("c12.patches.security_pending") is False


def test_the_declared_checks_are_the_tags_that_are_check_ids_and_unknown_ones_are_unsafe():
    catalog = load_catalog()
    module = ["c12.patches.security_pending", "c12.patches.reboot_required", "c12.patches.os_eol"]
    tags = ["c12", "c12.patches.os_eol", "c12.patches.security_pending", "disruption_package_install", "nightly"]
    assert declared_checks(catalog, tags) == ["c12.patches.security_pending", "c12.patches.os_eol"]
    assert undeclared(catalog, tags, module) == ["c12.patches.reboot_required"]
    assert undeclared(catalog, [], module) == module
    assert unsafe_checks(catalog, ["c99.nothing.here", "c12.patches.os_eol"]) == ["c99.nothing.here"]


def test_the_task_name_is_never_read():
    """checks_of_task parsed task names; nothing that reads them is left."""
    import iryo_guard.check_action as check_action
    import iryo_guard.unattended as unattended
    for module in (unattended, check_action):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert "checks_of_task" not in source and "get_name" not in source, module.__name__


def test_may_enforce():
    catalog = load_catalog()
    assert may_enforce(catalog, "c11.tls.server_config", None) is True  # harden: attended
    assert may_enforce(catalog, "c11.tls.server_config", "true") is False
    assert may_enforce(catalog, "c12.antimalware.mirror_config", True) is True
    with pytest.raises(KeyError):
        may_enforce(catalog, "c12.antimalware.mirrorconfig", True)  # a typo must not pass silently
    with pytest.raises(ValueError):
        is_unattended("sometimes")
    # a switched-off check is never enforced, attended or not
    assert may_enforce(catalog, "c11.tls.server_config", None, False) is False
    assert may_enforce(catalog, "c11.tls.server_config", None, "false") is False
    assert may_enforce(catalog, "c11.tls.server_config", None, True) is True
    with pytest.raises(ValueError):
        may_enforce(catalog, "c11.tls.server_config", None, "perhaps")


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: "C.11 | c11.tls.client_defaults | System-wide TLS client defaults (enforced)"
      tags: "{{ task_tags }}"
      crypto_defaults:
        state: enforced
        backend: openssl
        openssl_conf: "{{ conf }}"
        min_protocol: "{{ p.protocols | min }}"
        tls12_suites: "{{ p.tls12_suites }}"
        tls13_suites: "{{ p.tls13_suites }}"
        groups: "{{ p.groups }}"
      vars:
        p: "{{ 'cryptrec-high' | iryo_tls_profile }}"
      register: result

    - name: "Builtin task of an enforce path"
      ansible.builtin.copy:
        content: "enforced\\n"
        dest: "{{ marker }}"
        mode: "0644"
      when: "'c11.tls.client_defaults' | iryo_may_enforce"

    - name: Result
      ansible.builtin.copy:
        content: "{{ {'held_back': result.iryo_unattended_held_back | default([]),
                      'would_change': result.iryo_would_change | default(none),
                      'changed': result.changed} | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""


@pytest.fixture
def openssl_conf(tmp_path):
    conf = tmp_path / "openssl.cnf"
    shutil.copy("/etc/ssl/openssl.cnf", conf)
    return conf


# The role's literal tags for this check (tools/catalog_sync.py): clause, check id, disruption level.
DECLARED = '["c11", "c11.tls.client_defaults", "disruption_config"]'


def _play(tmp_path, conf, *extra, tags=DECLARED):
    playbook = tmp_path / "p.yml"
    playbook.write_text(PLAYBOOK.replace('"{{ task_tags }}"', tags))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), IRYO_REPORT_DIR=str(tmp_path / "reports"))
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "conf=%s" % conf,
                             "-e", "marker=%s" % (tmp_path / "marker"), "-e", "out=%s" % (tmp_path / "out.json"),
                             *extra, str(playbook)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return json.loads((tmp_path / "out.json").read_text()), result


def test_unattended_run_holds_back_an_unsafe_check_and_its_builtin_tasks(tmp_path, openssl_conf):
    before = openssl_conf.read_bytes()
    out, result = _play(tmp_path, openssl_conf, "-e", "iryo_unattended=true")
    assert out == {"held_back": ["c11.tls.client_defaults"], "would_change": True, "changed": False}
    assert openssl_conf.read_bytes() == before
    assert not (tmp_path / "marker").exists()
    assert "not marked unattended-safe" in result.stdout + result.stderr


@pytest.mark.parametrize("tags, held", [
    ("[c11]", "crypto_defaults (no check id among the task's tags)"),  # the name names it: not enough
    ("[c11, c11.tls.server_config]", "c11.tls.client_defaults (not declared in the task's tags)"),
])
def test_unattended_run_refuses_a_task_that_does_not_declare_its_checks(tmp_path, openssl_conf, tags, held):
    before = openssl_conf.read_bytes()
    out, _ = _play(tmp_path, openssl_conf, "-e", "iryo_unattended=true", tags=tags)
    assert out == {"held_back": [held], "would_change": True, "changed": False}
    assert openssl_conf.read_bytes() == before


def test_attended_run_enforces_the_same_task(tmp_path, openssl_conf):
    before = openssl_conf.read_bytes()
    out, _ = _play(tmp_path, openssl_conf)
    assert out["held_back"] == [] and out["changed"] is True
    assert openssl_conf.read_bytes() != before
    assert (tmp_path / "marker").read_text() == "enforced\n"


def test_every_enforcing_module_enforces_through_an_option_the_controller_recognises():
    """CheckAction holds a task back (and tags make a module audit) through ENFORCING_OPTIONS (state / apply): a
    module whose checks can change a host (catalog disruption other than none, enforced by it) must have one,
    or an unattended run could not tell that it enforces."""
    from iryo_guard.check_action import ENFORCING_OPTIONS
    catalog = load_catalog()
    modules = {c["module"] for c in catalog.switchable_checks()
               if catalog.enforced_by_module(c["id"]) and catalog.disruption(c["id"]) != ("none",)}
    assert {"patch_level", "nft_firewall", "sshd_hardening", "key_protection", "local_accounts"} <= modules
    for module in sorted(modules):
        source = "".join(path.read_text(encoding="utf-8") for path in (
            ROOT / "library" / ("%s.py" % module), ROOT / "module_utils" / ("iryo_check_%s.py" % module))
            if path.exists())
        assert any('%s=dict(type="str"' % option in source for option in ENFORCING_OPTIONS), module
