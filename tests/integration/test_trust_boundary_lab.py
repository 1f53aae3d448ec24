"""Issue 16, trust boundary figures: one lab host whose modules are hostile changes nothing outside its own row.

`files` gets a host variable ansible_python_interpreter pointing at a wrapper installed on that host for this test
(a second inventory source; the lab inventory is not touched). The wrapper runs every module with the real Python
on the host, then rewrites the JSON of each result that carries findings, as a compromised host could: injected
facts (iryo_notify_command running a command on the controller, iryo_notify_smtp_host, forged iryo_exceptions for
the later tasks), findings claiming another host, a loop's `results` claiming another host, forged `excepted` with an
approver, and malformed findings (a non-string host, missing fields, a 10 MB summary, a non-mapping, an unknown
check). The same audit runs first clean, then hostile (--limit files,gateway; a trailing play after audit.yml is
where the callback used to read iryo_notify_* as the first host's variables). Asserted: the controller's marker file
never appears, no notification goes out, gateway's row and findings are identical to the clean run's, files' row
shows errors with readable one-line summaries, and report.json/html, junit.xml and the history are written.
HOSTILE_BEHAVIOURS lists what is tried; each has its assertion below."""

import json
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
HOSTILE, CLEAN = "files", "gateway"
WRAPPER = "/usr/local/bin/iryo-hostile-python"
HOSTILE_BEHAVIOURS = (
    "facts: iryo_notify_command runs a command on the controller",
    "facts: iryo_notify_smtp_host redirects the notification mail",
    "facts: forged iryo_exceptions for the host's later tasks",
    "findings claiming another host",
    "a loop's results claiming another host",
    "forged excepted status with reason and approver",
    "finding with a non-string host",
    "finding with required fields missing",
    "finding with a 10 MB summary",
    "finding that is not a mapping",
    "finding with an unknown check id",
)

# Runs on the hostile host as its Python. Standard library only; the host has Python 3.11 (Debian 12).
HOSTILE_PYTHON = r'''#!/usr/bin/python3
import json, subprocess, sys
payload = sys.stdin.buffer.read()
done = subprocess.run(["/usr/bin/python3"] + sys.argv[1:], input=payload, capture_output=True)
sys.stderr.buffer.write(done.stderr)
try:
    result = json.loads(done.stdout)
except ValueError:
    sys.stdout.buffer.write(done.stdout)
    sys.exit(done.returncode)
if isinstance(result, dict) and isinstance(result.get("findings"), list) and result["findings"]:
    real = [f for f in result["findings"] if isinstance(f, dict)]
    forged = {"check": "c12.patches.security_pending", "target": "*", "reason": "approved by the attacker",
              "approver": "CISO", "expires": "2999-12-31"}
    result["ansible_facts"] = {
        "iryo_notify_command": ["/bin/sh", "-c", "echo pwned > @MARKER@"],
        "iryo_notify_smtp_host": "127.0.0.1", "iryo_notify_smtp_port": "9",
        "iryo_exceptions": [forged]}
    other = [dict(f, host="@CLEAN@", status="pass", summary="all good") for f in real]
    hostile = [dict(f, status="excepted", exception=dict(forged, check=f["check"]))
               if f.get("status") == "fail" else f for f in real]
    hostile += other
    if @MALFORMED@:
        hostile.append(dict(real[0], host=12345))
        hostile.append({"check": real[0]["check"], "status": "pass"})
        hostile.append("garbage")
        hostile.append(dict(real[0], check="c99.made.up"))
        if any(str(f.get("check", "")).startswith("d2.") for f in real):  # one 10 MB summary per run, not per call
            hostile.append(dict(real[0], summary="x" * (10 * 1024 * 1024)))
    result["findings"] = hostile
    result["results"] = [{"findings": other}]
sys.stdout.write(json.dumps(result))
sys.exit(done.returncode)
'''

AUDIT_THEN_PLAY = """
- name: The audit
  ansible.builtin.import_playbook: {audit}

- name: A later play (the report callback used to read iryo_notify_* here, as the first host's variables)
  hosts: "all:!iryo_excluded"
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: later play
"""


def steady(value):
    """Evidence without the ages measured against the clock (a ClamAV database's age_hours grows between runs)."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if not k.endswith("age_hours")}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def rows(report, host):
    """A host's matrix row and its findings (check, target, status, summary, evidence)."""
    cells = report["matrix"].get(host)
    found = sorted((f["check"], str(f["target"]), f["status"], f.get("summary"),
                    json.dumps(steady(f.get("evidence")), sort_keys=True))
                   for f in report["findings"] if f["host"] == host)
    return cells, found


def install_wrapper(lab, marker, malformed):
    script = HOSTILE_PYTHON.replace("@MARKER@", str(marker)).replace("@CLEAN@", CLEAN)
    lab.exec(HOSTILE, "cat > %s <<'EOF'\n%sEOF\nchmod 0755 %s" % (
        WRAPPER, script.replace("@MALFORMED@", str(bool(malformed))), WRAPPER))


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory):
    """Three audits of files and gateway into one report folder: clean, then with well-formed forgeries only (facts,
    other hosts, exceptions: what a careful attacker sends), then with the malformed findings added."""
    work = tmp_path_factory.mktemp("trust")
    marker = work / "controller-pwned"
    playbook = work / "audit-then-play.yml"
    playbook.write_text(AUDIT_THEN_PLAY.format(audit=REPO / "playbooks" / "audit.yml"))
    hostile_inventory = work / "hostile.yml"
    hostile_inventory.write_text(textwrap.dedent("""\
        all:
          hosts:
            %s:
              ansible_python_interpreter: %s
        """ % (HOSTILE, WRAPPER)))
    reports = work / "reports"
    common = ["--limit", "%s,%s" % (HOSTILE, CLEAN), "-e", "iryo_audit_fail_on_findings=false"]
    done = {"marker": marker, "reports": reports}
    try:
        done["clean"] = lab.playbook(playbook, *common, report_dir=reports)
        done["clean_report"] = lab.report(reports)
        for name, malformed in (("forged", False), ("malformed", True)):
            install_wrapper(lab, marker, malformed)
            done[name] = lab.playbook(playbook, "-i", hostile_inventory, *common, report_dir=reports)
            done[name + "_report"] = lab.report(reports)
    finally:
        lab.exec(HOSTILE, "rm -f %s" % WRAPPER)  # the host back as seeded (the audit changed nothing else)
    return done


HOSTILE_RUNS = ("forged", "malformed")
REASONS = {"forged": ("claims to be about host %s" % CLEAN, "claims an exception"),
           "malformed": ("claims to be about host %s" % CLEAN, "claims an exception", "claims to be about host 12345",
                         "lacks", "summary has 10485760 characters", "not a mapping", "c99.made.up")}


def test_every_run_completes_and_writes_every_report(runs):
    for name in ("clean",) + HOSTILE_RUNS:
        assert runs[name].returncode == 0, runs[name].stdout[-4000:]
    latest = (runs["reports"] / "latest").resolve()
    for name in ("report.json", "report.html", "junit.xml"):
        assert (latest / name).is_file() and (latest / name).stat().st_size < 5_000_000, name
    history = (runs["reports"] / "history.jsonl").read_text().splitlines()
    assert len(history) == 3 and json.loads(history[2])["report"] == latest.name
    assert len({runs[name + "_report"]["run"]["id"] for name in ("clean",) + HOSTILE_RUNS}) == 3


@pytest.mark.parametrize("name", HOSTILE_RUNS)
def test_the_wrapper_really_ran_on_the_hostile_host(runs, name):
    """The hostile row holds the refusals of the forged findings: proof that the hostile JSON came back."""
    findings = [f for f in runs[name + "_report"]["findings"] if f["host"] == HOSTILE]
    reasons = " ".join(r for f in findings if f["status"] == "error" for r in f.get("refused") or [])
    for why in REASONS[name]:
        assert why in reasons, why


@pytest.mark.parametrize("name", HOSTILE_RUNS)
def test_no_command_runs_on_the_controller_and_no_mail_goes_out(runs, name):
    out = runs[name].stdout + runs[name].stderr
    assert not runs["marker"].exists()
    # the run regressed (files' new errors), so the hook was consulted, and had nothing configured
    assert "iryo-guard regression: %s" % HOSTILE in out, out[-4000:]
    assert "iryo-guard notified" not in out and "could not notify" not in out


@pytest.mark.parametrize("name", HOSTILE_RUNS)
def test_the_other_hosts_row_is_identical_to_the_clean_run(runs, name):
    assert rows(runs[name + "_report"], CLEAN) == rows(runs["clean_report"], CLEAN)
    assert "iryo-guard regression: %s" % CLEAN not in runs[name].stdout


@pytest.mark.parametrize("name", HOSTILE_RUNS)
def test_the_hostile_hosts_row_shows_errors_never_forged_exceptions(runs, name):
    report = runs[name + "_report"]
    cells, found = rows(report, HOSTILE)
    clean_cells, _ = rows(runs["clean_report"], HOSTILE)
    assert set(cells) == set(clean_cells)
    # every clause call returned forged findings (another host's pass for each real one): each cell is undecided
    assert set(cells.values()) == {"error"}, cells
    assert not any(status == "excepted" for _, _, status, _, _ in found)
    findings = [f for f in report["findings"] if f["host"] == HOSTILE]
    assert not any("exception" in f for f in findings)
    assert all(isinstance(f["host"], str) for f in report["findings"])
    for f in findings:
        assert isinstance(f["summary"], str) and 0 < len(f["summary"]) <= 240 and "\n" not in f["summary"]
