"""Hostile inventory values (issue 16, "Hostile input"): newlines, commas, shell metacharacters, non-UTF-8 bytes
and very long strings in the main inputs are refused by the input play before any host is touched.

The hosts of this inventory do not exist (127.0.0.1, port 1): a run that tried to reach one would print
UNREACHABLE, so its absence proves that nothing got past the input play. No lab needed: the input play runs on
the controller only. Each refusal must be readable: the variable named, no Python traceback, a non-zero exit.
"""

import json
import subprocess
import textwrap

import pytest
from conftest import ENV, REPO, VENV_BIN

LONG = "a" * 100_000
# Non-UTF-8: Shift_JIS bytes of 「病院」, as a hospital's file could hold them, decoded the way Python hands
# undecodable bytes on (surrogate escapes), then written to the inventory file as raw bytes.
SJIS = b"\x95\x61\x89\x40"

ENDPOINT = {"name": "ehr-https", "server": "apache", "probe_host": "127.0.0.1", "probe_port": 9443,
            "server_name": "ehr.lab.iryo", "profile": "mhlw-c11"}

CASES = {
    "endpoint server_name with a newline": ("c11_tls_endpoints", [dict(ENDPOINT, server_name="ehr.lab.iryo\nevil")]),
    "endpoint server_name with a comma": ("c11_tls_endpoints", [dict(ENDPOINT, server_name="a.example,b.example")]),
    "endpoint probe_host with shell metacharacters": ("c11_tls_endpoints",
                                                      [dict(ENDPOINT, probe_host="127.0.0.1;touch /tmp/x")]),
    "endpoint name 100 000 characters": ("c11_tls_endpoints", [dict(ENDPOINT, server_name=LONG)]),
    "admin user with a comma": ("d1_remote_access_admin_users", ["iryoadmin,lport=2222"]),
    "admin user with a newline": ("d1_remote_access_admin_users", ["iryoadmin\nroot"]),
    "admin user with shell metacharacters": ("d1_remote_access_admin_users", ["$(reboot)"]),
    "ssh network with a comma": ("d1_remote_access_allowed_networks", ["10.0.0.0/8,user=root"]),
    "ssh network 100 000 characters": ("d1_remote_access_allowed_networks", [LONG]),
    "connection source with a comma": ("d1_remote_access_connection_source", "10.0.0.1,user=root"),
    "firewall service source with a newline": ("c10_isolation_services",
                                               [{"name": "dicom", "port": 104, "proto": "tcp",
                                                 "sources": ["10.0.0.0/8\nAccept all"]}]),
    "expected account with a newline": ("cl_checklist_expected_accounts", ["root\ntanaka"]),
    "account to remove with shell metacharacters": ("cl_checklist_remove_accounts", ["sato;id"]),
    "redundancy group with a newline": ("iryo_redundancy_group", "ehr\npair"),
    "nightly serial with shell metacharacters": ("iryo_nightly_serial", "1; rm -rf /"),
}


def run_input_play(tmp_path, variables, raw=None):
    inventory = tmp_path / "inventory.yml"
    text = textwrap.dedent("""\
        all:
          hosts:
            ghost-01: {ansible_host: 127.0.0.1, ansible_port: 1, ansible_user: nobody}
          vars:
            ansible_python_interpreter: /usr/bin/python3
        """).encode()
    if raw is not None:
        text += raw
    inventory.write_bytes(text)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(variables))
    env = dict(ENV, IRYO_REPORT_DIR=str(tmp_path / "reports"))
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks/audit.yml"),
                           "-e", "@%s" % extra], env=env, capture_output=True, text=True, errors="replace",
                          timeout=300)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_value_is_refused_before_any_host_is_touched(case, tmp_path):
    variable, value = CASES[case]
    result = run_input_play(tmp_path, {variable: value})
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "UNREACHABLE" not in out, "a host was contacted: %s" % out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert variable in out, "the refusal does not name %s: %s" % (variable, out[-3000:])


def test_non_utf8_inventory_value_is_refused_before_any_host_is_touched(tmp_path):
    raw = b"    d1_remote_access_admin_users: [\"" + SJIS + b"\"]\n"
    result = run_input_play(tmp_path, {}, raw=raw)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "UNREACHABLE" not in out, "a host was contacted: %s" % out[-3000:]
    assert "Traceback" not in out, out[-3000:]
