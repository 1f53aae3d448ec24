"""iryo_c10, the C.10 clause module, run for real through `ansible localhost -m iryo_c10` with the repository's
library/, module_utils/ and action plugins: host_isolation, nft_firewall and access_logging in one module call.

host_isolation and access_logging read this machine as they are (sockets, units, journald, rsyslog, nginx).
The controller has no nftables (and must not have its firewall changed by a test), so nft_firewall talks to a
stand-in `nft` on PATH that prints real `nft -j list ruleset` output captured in a lab container
(tests/fixtures/nft/, capture.py there) and keeps "the live table" in a folder; for the commit-confirmed path,
stand-ins for systemctl and systemd-run record the rollback timer and the enabled service. The lab test
(tests/integration/test_c10_lab.py) runs the same call against real nftables over ssh and paramiko."""

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from library_loader import REPO

FIXTURES = REPO / "tests" / "fixtures" / "nft"
FIREWALL = ("c10.firewall.default_drop", "c10.firewall.allowed_services")
MONITORING = ("c10.monitoring.access_logs", "c10.monitoring.journal_persistent", "c10.monitoring.log_forwarding")
ALL = ("c10.isolation.host_class",) + FIREWALL + MONITORING
# The policy the captured table iryo-guard-portal.json was rendered from (tests/fixtures/nft/capture.py).
PORTAL = {"host_class": "patient_facing", "services": [{"name": "https", "port": 443, "proto": "tcp",
                                                         "sources": ["any"]}],
          "admin_sources": ["10.88.0.1/32", "fd00:88::/64"]}

FAKE_NFT = r"""#!/bin/sh
# Stand-in for nft: "the live table" is $FAKE_STATE/live (a copy of the file last applied with nft -f).
state="$FAKE_STATE"
case "$1 $2 $3" in
  "-j list ruleset")
    [ -e "$state/fail-list" ] && { echo "netlink: Error: cannot read the ruleset" >&2; exit 1; }
    if [ -e "$state/live" ]; then cat "$FIXTURES/iryo-guard-portal.json"
    else cat "$FIXTURES/debian-default.json"; fi ;;
  "list ruleset ") [ -e "$state/live" ] && cat "$state/live"; exit 0 ;;
  "list table inet") [ -e "$state/live" ] || exit 1; cat "$state/live" ;;
  "-c -f "*) exit 0 ;;
  "-f "*)
    case "$2" in
      */rollback.nft) rm -f "$state/live" ;;
      *) cp "$2" "$state/live" ;;
    esac ;;
  *) echo "fake nft: unexpected $*" >&2; exit 2 ;;
esac
"""

FAKE_SYSTEMCTL = r"""#!/bin/sh
# Stand-in for systemctl: the rollback timer is $FAKE_STATE/armed, nftables.service enabled is $FAKE_STATE/enabled.
state="$FAKE_STATE"
case "$1" in
  is-enabled) case "$2" in nftables.service) [ -e "$state/enabled" ] && echo enabled || echo disabled ;;
              *) echo not-found ;; esac ;;
  is-active) [ "$2" = iryo-guard-fw-rollback.timer ] && [ -e "$state/armed" ] && echo active || echo inactive ;;
  enable) touch "$state/enabled" ;;
  stop)
    # FAKE "timer fired just before the confirmation": the previous table is back when the timer is stopped
    if [ -e "$state/armed" ] && [ -e "$state/fire-on-stop" ]; then rm -f "$state/live"; fi
    rm -f "$state/armed" ;;
  reset-failed|list-units) ;;
  *) echo "fake systemctl: unexpected $*" >&2; exit 2 ;;
esac
"""

FAKE_SYSTEMD_RUN = r"""#!/bin/sh
touch "$FAKE_STATE/armed"
"""


@pytest.fixture()
def fake(tmp_path):
    """A PATH with the stand-ins and their state folder; returns (env additions, state folder, files folder)."""
    bin_dir, state, files = tmp_path / "bin", tmp_path / "state", tmp_path / "files"
    for folder in (bin_dir, state, files):
        folder.mkdir()
    return {"bin": bin_dir, "state": state, "files": files, "env": {
        "PATH": "%s:%s" % (bin_dir, os.environ["PATH"]), "FAKE_STATE": str(state), "FIXTURES": str(FIXTURES)}}


def install(fake, *tools):
    scripts = {"nft": FAKE_NFT, "systemctl": FAKE_SYSTEMCTL, "systemd-run": FAKE_SYSTEMD_RUN}
    for tool in tools:
        path = fake["bin"] / tool
        path.write_text(textwrap.dedent(scripts[tool]))
        path.chmod(0o755)


def firewall_paths(fake):
    """nft_firewall's files in the test's folder, never /etc or /var/lib."""
    return {"ruleset_path": str(fake["files"] / "nftables.d" / "iryo-guard.nft"),
            "nftables_conf": str(fake["files"] / "nftables.conf"), "state_dir": str(fake["files"] / "state")}


def adhoc(tmp_path, args, fake=None, check=False, diff=False, module="iryo_c10", extra=()):
    tree = tmp_path / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_CALLBACKS_ENABLED="iryo_report,tree",
               ANSIBLE_CALLBACK_TREE_DIR=str(tree), ANSIBLE_NOCOLOR="1", IRYO_REPORT_COLOR="false",
               **(fake["env"] if fake else {}))
    cmd = [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", module, "-a", json.dumps(args)]
    done = subprocess.run(cmd + (["--check"] if check else []) + (["--diff"] if diff else []) + list(extra), cwd=REPO,
                          env=env,
                          capture_output=True, text=True, timeout=300)
    assert (tree / "localhost").exists(), done.stdout + done.stderr
    return done, json.loads((tree / "localhost").read_text())


def by_check(result):
    return {f["check"]: f for f in result["findings"]}


def clause_args(fake, firewall=None, monitoring=None):
    return {"host_isolation": {"host_classes": ["patient_facing"], "internal_services": []},
            "nft_firewall": dict(PORTAL, **firewall_paths(fake), **(firewall or {})),
            "access_logging": dict({"web_servers": ["nginx"], "journald_min_retention_days": 365},
                                   **(monitoring or {}))}


def test_audit_is_one_call_with_every_c10_check_in_order(tmp_path, fake):
    install(fake, "nft")
    done, result = adhoc(tmp_path, clause_args(fake), fake, check=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert [f["check"] for f in result["findings"]][:3] == ["c10.isolation.host_class"] + list(FIREWALL)
    found = by_check(result)
    assert set(found) == set(ALL), sorted(found)
    assert all(f["clause"] == "C.10" and f["host"] == "localhost" and f["summary"] for f in found.values())
    assert set(result["checks"]) == {"host_isolation", "nft_firewall", "access_logging"}
    assert result["changed"] is False
    # the stand-in printed Debian's default ruleset (inet filter, policy accept): nothing drops inbound
    assert found["c10.firewall.default_drop"]["status"] == "fail"
    assert "policy accept" in found["c10.firewall.default_drop"]["summary"]
    assert found["c10.isolation.host_class"]["status"] == "pass"
    assert found["c10.monitoring.log_forwarding"]["status"] == "not_applicable"  # no collector given


def test_the_clause_returns_what_each_module_returns_alone(tmp_path, fake):
    install(fake, "nft")
    args = clause_args(fake)
    _, clause = adhoc(tmp_path, args, fake, check=True)
    alone = []
    for name in ("host_isolation", "nft_firewall", "access_logging"):
        done, result = adhoc(tmp_path, args[name], fake, check=True, module=name)
        assert done.returncode == 0, done.stdout[-2000:]
        alone.extend(result["findings"])

    def key(f):
        return (f["check"], f["target"], f["status"], f["summary"])

    assert sorted(map(key, clause["findings"])) == sorted(map(key, alone))


def test_a_check_module_that_cannot_read_gives_errors_and_the_others_still_decide(tmp_path, fake):
    install(fake, "nft")
    (fake["state"] / "fail-list").touch()
    args = clause_args(fake)
    done, result = adhoc(tmp_path, args, fake, check=True)
    assert done.returncode == 0, done.stdout[-3000:]  # an audit goes on; the gate fails on the error findings
    found = by_check(result)
    assert {found[c]["status"] for c in FIREWALL} == {"error"}, found
    assert "cannot read the live ruleset" in found["c10.firewall.default_drop"]["summary"]
    assert found["c10.isolation.host_class"]["status"] == "pass"
    assert {found[c]["status"] for c in MONITORING} <= {"pass", "fail", "not_applicable"}
    # outside check mode the same failure fails the task, after the other checks reported
    done, result = adhoc(tmp_path, args, fake)
    assert done.returncode != 0 and "localhost | FAILED" in done.stdout, done.stdout[-2000:]
    assert result["failed_checks"][0].startswith("nft_firewall: cannot read")
    assert by_check(result)["c10.isolation.host_class"]["status"] == "pass"


def test_check_mode_enforced_shows_the_change_and_writes_nothing(tmp_path, fake):
    install(fake, "nft")
    args = clause_args(fake, firewall={"state": "enforced"})
    done, result = adhoc(tmp_path, args, fake, check=True, diff=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert result["changed"] is True
    assert "table inet iryo_guard {" in done.stdout and "policy drop;" in done.stdout
    assert not (fake["state"] / "live").exists() and not list(fake["files"].rglob("*"))
    found = by_check(result)
    assert found["c10.firewall.default_drop"]["status"] == "fail"  # check mode: the state now
    assert found["c10.firewall.default_drop"]["evidence"]["would_change"] is True
    assert result["checks"]["nft_firewall"]["guard"]["keeps_connection"].startswith("local connection")


def test_enforce_applies_confirms_over_a_new_connection_and_returns_the_state_after(tmp_path, fake):
    install(fake, "nft", "systemctl", "systemd-run")
    args = clause_args(fake, firewall={"state": "enforced", "rollback_timeout": 30})
    done, result = adhoc(tmp_path, args, fake)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert result["changed"] is True
    firewall = result["checks"]["nft_firewall"]
    assert firewall["pending_confirmation"] is False
    assert firewall["confirmation"]["timer_cancelled"] is True and firewall["confirmation"]["persisted"] is True
    assert not (fake["state"] / "armed").exists() and (fake["state"] / "enabled").exists()
    assert (fake["state"] / "live").read_text() == (fake["files"] / "nftables.d" / "iryo-guard.nft").read_text()
    assert 'include "%s"' % args["nft_firewall"]["ruleset_path"] in (fake["files"] / "nftables.conf").read_text()
    # Before the confirmation nothing was persisted, so the applied call saw default_drop fail ("lost at
    # reboot"); the findings returned are the confirmation's: persisted, loaded at boot.
    found = by_check(result)
    assert {found[c]["status"] for c in FIREWALL} == {"pass"}, {c: found[c]["summary"] for c in FIREWALL}
    assert "nftables loads the ruleset at boot" in found["c10.firewall.default_drop"]["summary"]
    assert [f["check"] for f in result["findings"]][:3] == ["c10.isolation.host_class"] + list(FIREWALL)
    assert len(result["findings"]) == len({(f["check"], f["target"]) for f in result["findings"]})

    again_done, again = adhoc(tmp_path, args, fake)
    assert again_done.returncode == 0 and again["changed"] is False, again_done.stdout[-2000:]
    assert "confirmation" not in again["checks"]["nft_firewall"]  # nothing applied, nothing to confirm


def test_an_unattended_run_only_audits_the_firewall_and_monitoring(tmp_path, fake):
    """No C.10 check is marked unattended-safe in the catalog: the nightly's clause call audits them all."""
    install(fake, "nft", "systemctl", "systemd-run")
    args = clause_args(fake, firewall={"state": "enforced", "rollback_timeout": 30},
                       monitoring={"state": "enforced"})
    done, result = adhoc(tmp_path, args, fake, extra=["-e", "iryo_unattended=true"])
    assert done.returncode == 0, done.stdout[-3000:]
    (warning,) = [line for line in done.stderr.splitlines() if "unattended run:" in line]
    assert "only audited" in warning and "nft_firewall" in warning and "access_logging" in warning, warning
    assert result["changed"] is False and "pending_confirmation" not in result["checks"]["nft_firewall"]
    assert not (fake["state"] / "live").exists() and not (fake["state"] / "armed").exists()
    assert by_check(result)["c10.firewall.default_drop"]["status"] == "fail"


def test_nft_firewall_alone_confirms_the_same_way(tmp_path, fake):
    """The module on its own (ad hoc use) goes through the same commit-confirmed steps (iryo_guard/nft_confirm.py)."""
    install(fake, "nft", "systemctl", "systemd-run")
    args = dict(PORTAL, state="enforced", rollback_timeout=30, **firewall_paths(fake))
    done, result = adhoc(tmp_path, args, fake, module="nft_firewall")
    assert done.returncode == 0, done.stdout[-3000:]
    assert result["confirmation"]["timer_cancelled"] is True and result["pending_confirmation"] is False
    assert {f["status"] for f in result["findings"]} == {"pass"}
    assert not (fake["state"] / "armed").exists() and (fake["state"] / "enabled").exists()


def test_confirm_false_leaves_the_rollback_armed_and_persists_nothing(tmp_path, fake):
    install(fake, "nft", "systemctl", "systemd-run")
    args = clause_args(fake, firewall={"state": "enforced", "rollback_timeout": 30, "confirm": False})
    done, result = adhoc(tmp_path, args, fake)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "confirmation skipped on purpose" in done.stdout + done.stderr
    assert result["checks"]["nft_firewall"]["pending_confirmation"] is True
    assert (fake["state"] / "armed").exists() and (fake["state"] / "live").exists()
    assert not (fake["state"] / "enabled").exists() and not (fake["files"] / "nftables.d").exists()


def test_a_confirmation_that_comes_too_late_fails_with_error_findings(tmp_path, fake):
    install(fake, "nft", "systemctl", "systemd-run")
    (fake["state"] / "fire-on-stop").touch()  # the host's timer restores the old table as the confirmation arrives
    args = clause_args(fake, firewall={"state": "enforced", "rollback_timeout": 30})
    done, result = adhoc(tmp_path, args, fake)
    assert done.returncode != 0 and "localhost | FAILED" in done.stdout, done.stdout[-2000:]
    assert "new connection to confirm it failed" in result["msg"]
    assert "confirmation came too late" in result["msg"]
    found = by_check(result)
    assert {found[c]["status"] for c in FIREWALL} == {"error"}
    assert "not confirmed" in found["c10.firewall.default_drop"]["summary"]
    assert found["c10.isolation.host_class"]["status"] == "pass"  # the other checks' findings stay
    assert not (fake["state"] / "enabled").exists() and not (fake["files"] / "nftables.d").exists()
