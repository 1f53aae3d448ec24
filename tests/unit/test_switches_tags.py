"""Issue 15 item 2: one switch per check (iryo_check_<id>), tags from the catalog (clause, check ids,
disruption_<level>), switch validation in the input play, and switched-off checks reported as skipped in
report.json, report.html and junit.xml. The tag rule is judged three ways: tools/catalog_sync.py's check
(every task's literal tags against the catalog), hand-written expectations for the tasks that matter, and
ansible-playbook --list-tasks, i.e. Ansible itself selecting by the tags."""

import importlib.util
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from iryo_guard.catalog import DEFAULT_CATALOG, DISRUPTION_LEVELS, CatalogError, load_catalog, parse_catalog, \
    switch_name
from iryo_guard.switches import skipped_finding, switch_problems
from library_loader import REPO

_spec = importlib.util.spec_from_file_location("catalog_sync", REPO / "tools" / "catalog_sync.py")
catalog_sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalog_sync)


def raw_catalog():
    return yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))


def edited(check_id, **fields):
    data = raw_catalog()
    for clause in data["clauses"]:
        for check in clause["checks"]:
            if check["id"] == check_id:
                for key, value in fields.items():
                    if value is None:
                        check.pop(key, None)
                    else:
                        check[key] = value
    return parse_catalog(data)


# -- the catalog ------------------------------------------------------------------------------------------------


def test_switch_names_follow_the_check_ids():
    catalog = load_catalog()
    assert switch_name("c10.firewall.default_drop") == "iryo_check_c10_firewall_default_drop"
    automated = [c["id"] for c in catalog.checks.values() if c["kind"] == "automated" and not c.get("planned")]
    assert sorted(catalog.switches().values()) == sorted(automated) and len(automated) >= 40
    assert not any(c["kind"] == "manual" for c in map(catalog.check, catalog.switches().values()))


def test_every_implemented_automated_check_has_a_disruption_level_from_the_vocabulary():
    catalog = load_catalog()
    for check in catalog.switchable_checks():
        levels = catalog.disruption(check["id"])
        assert levels and set(levels) <= set(DISRUPTION_LEVELS), check["id"]
    # the decisions of the issue: a reboot is only the reboot check's, the firewall only the firewall's
    assert [c["id"] for c in catalog.switchable_checks() if "reboot" in catalog.disruption(c["id"])] \
        == ["c12.patches.reboot_required"]
    assert {c["id"] for c in catalog.switchable_checks() if "firewall" in catalog.disruption(c["id"])} \
        == {"c10.firewall.default_drop", "c10.firewall.allowed_services"}
    assert catalog.disruption("c12.antimalware.mirror_config") == ("config", "service_reload", "package_install")


@pytest.mark.parametrize("fields, message", [
    ({"disruption": None}, "needs `disruption`"),
    ({"disruption": "explosive"}, "not one of"),
    ({"disruption": ["none", "config"]}, "cannot be combined"),
    ({"disruption": []}, "non-empty list"),
    ({"switch_option": "no such option!"}, "variable or option name"),
])
def test_the_catalog_refuses_bad_disruption_data(fields, message):
    with pytest.raises(CatalogError, match=message):
        edited("c12.patches.os_eol", **fields)


def test_a_manual_item_has_no_disruption_and_two_checks_cannot_share_a_switch():
    with pytest.raises(CatalogError, match="only automated"):
        edited("c09.manual.contract_review", disruption="none")
    data = raw_catalog()
    c12 = [c for c in data["clauses"] if c["id"] == "C.12"][0]
    c12["checks"].append(dict(c12["checks"][0], id="c12.patches_security.pending"))
    with pytest.raises(CatalogError, match="share the switch iryo_check_c12_patches_security_pending"):
        parse_catalog(data)


def test_every_switch_option_is_an_option_of_its_module():
    """The controller sets switch_option false (or narrows the `checks` list): it must exist in the module."""
    catalog = load_catalog()
    for check in catalog.switchable_checks():
        option = check.get("switch_option")
        if not option:
            continue
        source = ""
        for path in (REPO / "library" / ("%s.py" % check["module"]),
                     REPO / "module_utils" / ("iryo_check_%s.py" % check["module"])):
            if path.exists():
                source += path.read_text(encoding="utf-8")
        assert "%s=dict(type=\"%s\"" % (option, "list" if option == "checks" else "bool") in source, check["id"]


def test_task_tags_from_the_catalog():
    catalog = load_catalog()
    c12 = ["c12.patches.security_pending", "c12.patches.reboot_required", "c12.patches.os_eol",
           "c12.antimalware.signatures_fresh", "c12.antimalware.mirror_config"]
    tags = catalog.task_tags(c12, {"patch_level", "freshclam_config", "av_signatures"})
    assert tags == ["c12"] + c12 + ["disruption_none", "disruption_config", "disruption_service_reload",
                                    "disruption_package_install"]  # the call never reboots
    assert catalog.task_tags(["c12.patches.reboot_required"]) == ["c12", "c12.patches.reboot_required",
                                                                   "disruption_reboot"]


# -- the roles' literal tags ------------------------------------------------------------------------------------


def test_every_role_task_carries_exactly_the_catalog_tags():
    problems = catalog_sync.tag_problems(load_catalog())
    assert not problems, "\n".join(p for _, _, p in problems) + "\n(.venv/bin/python tools/catalog_sync.py --write)"


def test_the_generated_switch_documentation_is_up_to_date():
    catalog = load_catalog()
    stale = catalog_sync.stale_files(catalog, catalog_sync.role_checks(catalog))
    assert not stale, "out of date: %s (.venv/bin/python tools/catalog_sync.py --write)" % sorted(map(str, stale))


def _role_tasks():
    return {(t.path.relative_to(REPO).as_posix(), t.name): t for t in catalog_sync.role_tasks()}


def test_the_tasks_that_matter_carry_the_tags_written_here():
    """Expectations written by hand, not computed: the reboot is the only reboot, the includes are `always`."""
    tasks = _role_tasks()
    reboot = tasks[("roles/c12_patches_antimalware/tasks/after.yml",
                    "C.12 | PATCH | c12.patches.reboot_required | Reboot inside the maintenance window")]
    assert reboot.tags == ["c12", "c12.patches.reboot_required", "disruption_reboot"]
    rebooting = sorted(name for (path, name), t in tasks.items() if "disruption_reboot" in t.tags)
    assert rebooting == ["C.12 | PATCH | c12.patches.reboot_required | Reboot deferred to the maintenance window",
                         "C.12 | PATCH | c12.patches.reboot_required | Reboot inside the maintenance window"]
    firewall = sorted(path for (path, _), t in tasks.items() if "disruption_firewall" in t.tags)
    assert firewall == ["roles/c10_isolation/tasks/check.yml", "roles/c10_isolation/tasks/enforce.yml"]
    d2 = tasks[("roles/d2_key_storage/tasks/check.yml",
                "D.2 | AUDIT | d2.keystore.fips_level1 | FIPS 140-2 level 1 key storage (OpenSSL FIPS provider, "
                "PKCS#11 modules)")]
    assert d2.tags == ["d2", "d2.keystore.fips_level1", "disruption_none"]
    includes = [t for t in tasks.values() if catalog_sync._short(t.action) == "include_tasks"]
    assert len(includes) == 4 and all(t.tags[-1] == "always" and len(t.tags) == 2 for t in includes)
    for task in tasks.values():  # no task name is needed any more, and no tag outside the vocabulary
        for tag in task.tags:
            assert (tag in load_catalog().checks or tag in ("c10", "c11", "c12", "c13", "d1", "d2", "cl", "always")
                    or tag in ["disruption_" + lv for lv in DISRUPTION_LEVELS]), (task.where, tag)


def test_the_check_finds_and_the_writer_fixes_a_wrong_tag(tmp_path):
    role = tmp_path / "roles" / "c13_key_protection" / "tasks"
    role.mkdir(parents=True)
    (role / "check.yml").write_text(
        "---\n- name: keys\n  key_protection:\n    state: audit\n  tags: [c13, c13.keys.permissions]\n"
        "- name: a copy for c13.keys.permissions\n  ansible.builtin.copy: {src: a, dest: b, mode: '0600'}\n"
        "  tags: [c13, c13.keys.permisions, disruption_config]\n", encoding="utf-8")
    catalog = load_catalog()
    tasks = catalog_sync.role_tasks(tmp_path / "roles")
    problems = [p for _, _, p in catalog_sync.tag_problems(catalog, tasks)]
    assert any("does not declare c13.keys.signing_key_protected" in p for p in problems), problems
    assert any("the catalog says ['always']" in p for p in problems), problems  # a typo declares nothing
    catalog_sync.write_tags(catalog_sync.tag_problems(catalog, tasks))
    fixed = yaml.safe_load((role / "check.yml").read_text())
    assert fixed[0]["tags"] == ["c13", "c13.keys.permissions", "c13.keys.signing_key_protected", "disruption_none",
                                "disruption_config"]
    assert fixed[1]["tags"] == ["always"]  # the tool cannot guess the id; the test then fails on it by name


def ansible_env(tmp_path):
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
                IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false")


def listed(tmp_path, *args):
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "--list-tasks",
                           str(REPO / "playbooks" / "harden.yml"), *args], cwd=REPO, env=ansible_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line.strip() for line in done.stdout.splitlines() if " : " in line and "TAGS:" in line]


def test_ansible_selects_by_the_disruption_tags(tmp_path):
    """ansible-playbook itself, listing what harden would run."""
    everything = listed(tmp_path)
    no_firewall = listed(tmp_path, "--skip-tags", "disruption_firewall")
    gone = [t for t in everything if t not in no_firewall]
    assert len(gone) == 2 and all(t.startswith("c10_isolation : C.10") for t in gone), gone
    read_only = listed(tmp_path, "--tags", "disruption_none")
    # input validation (always), the clause calls with a read-only check, the two includes (always); never a
    # builtin enforce task
    assert not [t for t in read_only if "PATCH" in t and "include" not in t.lower() and "What the call" not in t
                and "Client CA and Apache" not in t], read_only
    assert any(t.startswith("d2_key_storage : D.2") for t in read_only)


# -- input validation -------------------------------------------------------------------------------------------


def test_switch_problems_name_the_valid_switches():
    catalog = load_catalog()
    assert switch_problems(catalog, {"iryo_check_c10_firewall_default_drop": False,
                                     "iryo_check_d1_ssh_root_login": "yes"}) == []
    [problem] = switch_problems(catalog, {"iryo_check_c10_firewal_default_drop": False})
    assert problem.startswith("iryo_check_c10_firewal_default_drop (did you mean "
                              "iryo_check_c10_firewall_default_drop?) names no check of the clause catalog")
    assert all(name in problem for name in catalog.switches())
    assert switch_problems(catalog, {"iryo_check_d1_ssh_root_login": "maybe"}) == [
        "iryo_check_d1_ssh_root_login must be true or false, not 'maybe'"]
    assert switch_problems(catalog, {"iryo_check_d1_ssh_root_login": None}) == [
        "iryo_check_d1_ssh_root_login must be true or false, not None"]


INPUT_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: INPUT
      iryo_validate_inputs:
"""


@pytest.mark.parametrize("extra, rc, message", [
    ({"iryo_check_c10_firewall_default_drop": False}, 0, None),
    ({"iryo_check_c10_firewall_default_drop": "false"}, 0, None),  # -e name=false
    ({"iryo_check_c10_firewal_default_drop": False}, 2, "did you mean iryo_check_c10_firewall_default_drop?"),
    ({"iryo_check_c10_firewall_default_drop": "maybe"}, 2,
     "iryo_check_c10_firewall_default_drop must be true or false, not 'maybe'"),
    ({"iryo_check_c10_firewall_default_drop": [False]}, 2, "must be true or false"),
])
def test_the_input_play_validates_the_switches(tmp_path, extra, rc, message):
    book = tmp_path / "input.yml"
    book.write_text(INPUT_PLAY)
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", json.dumps(extra),
                           str(book)], cwd=REPO, env=ansible_env(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == rc, done.stdout[-3000:] + done.stderr[-2000:]
    if message:
        assert message in done.stdout


# -- a switched-off check in a real run: report.json, report.html, junit.xml ---------------------------------------

RUN_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: D.2 on its own
      key_storage_fips:
        allowlist: "{{ lookup('ansible.builtin.file', repo ~ '/data/fips_modules.yml') | from_yaml }}"
      register: d2
      tags: [d2, d2.keystore.fips_level1, disruption_none]

    - name: C.11 clause call, enforcing the client defaults unless switched off
      iryo_c11:
        ip_forwarding: {state: audit}
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
      register: c11
      tags: [c11, c11.tls.client_defaults, c11.session_crossing.ip_forwarding, disruption_config]

    - name: Results
      ansible.builtin.copy:
        content: "{{ {'d2': d2, 'c11': c11} | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""


def run_play(tmp_path, conf, *extra):
    book = tmp_path / "run.yml"
    book.write_text(RUN_PLAY)
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "repo=%s" % REPO,
                           "-e", "conf=%s" % conf, "-e", "out=%s" % (tmp_path / "out.json"), *extra, str(book)],
                          cwd=REPO, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    latest = tmp_path / "reports" / "latest"
    return (json.loads((tmp_path / "out.json").read_text()), json.loads((latest / "report.json").read_text()),
            ET.parse(latest / "junit.xml"), (latest / "report.html").read_text(encoding="utf-8"))


def test_switched_off_checks_are_reported_as_skipped_everywhere(tmp_path):
    conf = tmp_path / "openssl.cnf"
    conf.write_bytes(open("/etc/ssl/openssl.cnf", "rb").read())
    before = conf.read_bytes()
    results, report, junit, html = run_play(tmp_path, conf, "-e", "iryo_check_d2_keystore_fips_level1=false",
                                            "-e", "iryo_check_c11_tls_client_defaults=false")
    # nothing was sent for the switched-off module, and the enforcing module was left out of the clause call
    assert results["d2"]["msg"].startswith("every check of this call is switched off")
    assert results["d2"]["iryo_switched_off"] == ["d2.keystore.fips_level1"]
    assert conf.read_bytes() == before and results["c11"]["changed"] is False
    assert "crypto_defaults" not in (results["c11"].get("checks") or {})
    by_check = {}
    for finding in report["findings"]:
        by_check.setdefault(finding["check"], []).append(finding)
    for check_id in ("d2.keystore.fips_level1", "c11.tls.client_defaults"):
        [finding] = by_check[check_id]
        name = switch_name(check_id)
        assert finding["status"] == "not_applicable" and finding["skipped_by"] == name
        assert finding["summary"] == "skipped by configuration (%s = false)" % name
        assert finding["target"] == "configuration" and finding["host"] == "localhost"
        cases = [c for c in junit.iter("testcase") if c.get("classname") == finding["clause"]
                 and c.find("skipped") is not None
                 and c.find("skipped").get("message") == finding["summary"]]
        assert len(cases) == 1, ET.tostring(junit.getroot())[:3000]
        assert finding["summary"] in html
    # the check that stayed on is judged as usual
    [forwarding] = by_check["c11.session_crossing.ip_forwarding"]
    assert forwarding["status"] in ("pass", "fail") and "skipped_by" not in forwarding

    # the same run with the switches on: the module runs and enforces (so the assertions above can fail)
    results, report, _, _ = run_play(tmp_path, conf)
    assert conf.read_bytes() != before and results["c11"]["changed"] is True
    assert not [f for f in report["findings"] if f.get("skipped_by")]
    assert {f["check"] for f in report["findings"]} >= {"d2.keystore.fips_level1", "c11.tls.client_defaults"}


def test_a_skipped_finding_follows_the_schema():
    finding = skipped_finding(load_catalog(), "c10.firewall.default_drop")
    assert finding["severity"] == "high" and finding["fixable"] is False
    assert finding["evidence"] == {"switch": "iryo_check_c10_firewall_default_drop", "value": False}
    assert "{" not in finding["summary"] and "'" not in finding["summary"]  # a sentence, no repr
