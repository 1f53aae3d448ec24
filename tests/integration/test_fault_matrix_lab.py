"""The "Faults" figures (issue 16): every enforcing module against the faults a change can meet.

Rows are modules, columns faults. Each cell calls the module once, ad hoc, on a lab host in a state where
it wants to change something (the lab's seeded weaknesses), with one fault injected:

- validation failure: the module's validator (nginx -t, sshd -t, rsyslogd -N1, freshclam --config-file,
  OpenSSL on the new text) refuses. FIXTURE: a wrapper ahead of the real binary on sudo's PATH
  (/usr/local/sbin) exits 1 for the validation call and runs the real binary for every other call.
- reload failure: the service manager refuses to reload / restart the daemon (a wrapper ahead of
  systemctl, same way); for ip_forwarding the kernel refuses the value (read-only /proc/sys file).
- full disk: the target folder is a small tmpfs holding a copy of its files and filled to the last block.
- read-only target: the target folder bind-mounted read-only over itself.
- concurrent edit: another writer appends a line to the module's target file while the module runs
  (injected from the validator wrapper, i.e. after the module read the file and before it finished);
  for patch_level another package manager holds the dpkg lock.

Held means: the daemon's own answer is what it was (nginx handshakes, an SSH login as root, the OpenSSL
client suites, /proc/sys, rsyslog active, installed package versions), no file of the module's scope changed
(sha256 of every file before and after; for concurrent edit, the other writer's line is still there), and the
module reported an error in one line naming the host (the finding's host) and the file or folder (for concurrent
edit too: a module that keeps the other writer's edit must say it did not apply its own).
Cells measured not to hold are listed in KNOWN_GAPS with the exact problems they report (see there).
Pairs that mean nothing for a module are N/A with the reason. The table is printed at the end and, with
IRYO_FAULTS_TABLE=path, written there as markdown.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import ENV, INVENTORY, REPO, VENV_BIN

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "tls_config"))
import harness  # noqa: E402  (the C.11 server profile, as the TLS tests use it)

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

FAULTS = ("validation failure", "reload failure", "full disk", "read-only target", "concurrent edit")
FM = "/run/iryo-fm"  # the matrix's scratch folder inside a container (tmpfs: gone at a restart)
MARKER = "# iryo-fault-matrix: concurrent edit"
STATE = REPO / "lab" / ".state"


def podman(*args, check=True, timeout=120):
    result = subprocess.run(["podman", *args], env=ENV, capture_output=True, text=True, timeout=timeout)
    assert not check or result.returncode == 0, (args, result.stdout[-1000:], result.stderr[-1000:])
    return result


def sh(host, command, privileged=False, check=True):
    return podman("exec", *(["--privileged"] if privileged else []), "iryo-lab-" + host, "sh", "-c", command,
                  check=check)


def adhoc(host, module, args, tree):
    env = dict(ENV, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=str(tree))
    run = subprocess.run([str(VENV_BIN / "ansible"), "-i", str(INVENTORY), host, "-m", module, "-a", json.dumps(args)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert (tree / host).exists(), run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads((tree / host).read_text())


# ---- the daemons' answers ---------------------------------------------------------------------

def tls_answers(_host):
    """What nginx on portal answers a fresh client: protocol, cipher and certificate per offer."""
    answers = []
    for offer in (["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], ["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
                  ["-tls1_2"], ["-tls1_3"]):
        run = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:8443", "-servername", "portal.lab.iryo",
                              *offer], input="", capture_output=True, text=True, timeout=30)
        lines = [line.strip() for line in run.stdout.splitlines()
                 if line.strip().startswith(("Protocol  :", "Cipher    :", "subject="))]
        answers.append((" ".join(offer), run.returncode == 0, lines))
    return answers


def ssh_answers(host):
    """A fresh SSH login as root and as the administrator (the seed lets root in with a key)."""
    port = {"portal": 2201, "ehr": 2202, "files": 2203, "gateway": 2204}[host]
    out = []
    for user in ("root", "iryoadmin"):
        run = subprocess.run(["ssh", "-p", str(port), "-i", str(STATE / "id_ed25519"), "-o", "IdentitiesOnly=yes",
                              "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
                              "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "%s@127.0.0.1" % user, "true"],
                             capture_output=True, text=True, timeout=30)
        out.append((user, run.returncode))
    return out


def in_container(command):
    return lambda host: sh(host, command, check=False).stdout


@dataclass
class Case:
    host: str
    args: dict
    scope: tuple            # folders/files whose every file must keep its sha256
    folder: str             # the folder the module writes its target file in
    target: str             # the file a concurrent writer edits (and the error should name)
    answer: object          # host -> the daemon's answer
    validator: tuple = ()   # (binary, shell `case` pattern of its validation call)
    reload_unit: str = ""   # systemctl unit whose reload/restart fails
    na: dict = field(default_factory=dict)   # fault -> why it means nothing here
    unmeasured: dict = field(default_factory=dict)  # fault -> why this matrix cannot inject it (yet)
    restart_after: str = ""  # shell run after restoring files (reload the daemon with them)


HIGH = {"tls12_suites": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
        "tls13_suites": ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"], "groups": ["x25519", "secp256r1"]}
TLS_PROFILE = dict(harness.PROFILE_C11_TLS12, verify_client="none")

CASES = {
    "tls_config": Case(
        "portal", dict(TLS_PROFILE, state="enforced", server="nginx", check_id="c10.tls.server_config"),
        ("/etc/nginx",), "/etc/nginx/sites-available", "/etc/nginx/sites-available/portal-tls", tls_answers,
        validator=("nginx", '*" -t "*'), reload_unit="nginx", restart_after="systemctl reload nginx"),
    "sshd_hardening": Case(
        "files", {"state": "enforced", "admin_users": ["iryoadmin"], "algorithms": False, "sources": False},
        ("/etc/ssh",), "/etc/ssh/sshd_config.d", "/etc/ssh/sshd_config.d/00-iryo-guard.conf", ssh_answers,
        validator=("sshd", '*" -t "*'), reload_unit="ssh", restart_after="systemctl reload ssh",
        unmeasured=dict.fromkeys(("validation failure", "concurrent edit"),
                                 "the module validates through systemd-run with sshd's absolute path, past the "
                                 "wrapper on PATH; injecting needs the real binary replaced, not done yet")),
    "access_logging": Case(
        "files", {"state": "enforced", "access_logs": False, "journal_persistent": False,
                  "collector": {"host": "10.89.0.250", "port": 514, "protocol": "tcp"}},
        ("/etc/rsyslog.conf", "/etc/rsyslog.d"), "/etc/rsyslog.d", "/etc/rsyslog.d/60-iryo-guard-forward.conf",
        in_container("systemctl is-active rsyslog; rsyslogd -N1 >/dev/null 2>&1; echo $?"),
        validator=("rsyslogd", '*" -N1 "*'), reload_unit="rsyslog", restart_after="systemctl restart rsyslog",
        unmeasured=dict.fromkeys(("validation failure", "concurrent edit"),
                                 "the module finds rsyslogd in /usr/sbin before the PATH folder of the wrapper; "
                                 "injecting needs the real binary replaced (dpkg-divert), not done yet")),
    "freshclam_config": Case(
        "files", {"state": "enforced", "private_mirrors": ["http://mirror/clamav"], "remove_public_mirror": True},
        ("/etc/clamav",), "/etc/clamav", "/etc/clamav/freshclam.conf",
        in_container("systemctl is-active clamav-daemon clamav-freshclam; true"),
        validator=("freshclam", '*--config-file*'),
        na={"reload failure": "the module reloads no daemon for freshclam.conf: freshclam reads it at each update "
                              "(update_now is off here)"}),
    "crypto_defaults": Case(
        "files", dict(HIGH, state="enforced", backend="openssl"), ("/etc/ssl/openssl.cnf",), "/etc/ssl",
        "/etc/ssl/openssl.cnf", in_container("openssl ciphers -s -stdname"),
        # OpenSSL evaluating the NEW text (a temp copy holding the profile's groups) is the validation.
        validator=("openssl", '*'),
        na={"reload failure": "no daemon: clients read openssl.cnf when they start; nothing is reloaded"}),
    "ip_forwarding": Case(
        "files", {"state": "disabled"}, ("/etc/sysctl.d",), "/etc/sysctl.d",
        "/etc/sysctl.d/99-zz-iryo-guard-forwarding.conf", in_container("cat /proc/sys/net/ipv4/ip_forward"),
        na={"validation failure": "nothing validates a sysctl drop-in; the kernel's answer after the write is the "
                                  "check (reload column)"},
        unmeasured={"concurrent edit": "the module runs no external command between reading and writing the "
                                       "drop-in, so there is no point to inject the other writer deterministically"}),
    "key_protection": Case(
        "portal", {"state": "enforced", "pkcs11": False}, ("/etc/nginx/ssl",), "/etc/nginx/ssl",
        "/etc/nginx/ssl/portal.lab.iryo.key",
        lambda host: (tls_answers(host), sh(host, "stat -c '%a %U %G' /etc/nginx/ssl/portal.lab.iryo.key").stdout),
        na={"validation failure": "only owner and mode change; there is no configuration to validate",
            "reload failure": "owner and mode take effect at once; nginx holds the key it loaded, no reload",
            "full disk": "chmod/chown change the inode only and need no free block",
            "concurrent edit": "the file swapped between scan and change is issue 16 item 1 (its own test)"},
        restart_after=""),
    "patch_level": Case(
        "files", {"apply": "security"}, (), "/var/cache/apt/archives", "/var/lib/dpkg/lock-frontend",
        in_container("dpkg-query -W -f '${Package} ${Version}\\n'"),
        na={"validation failure": "apt has no validation step the module runs before installing",
            "reload failure": "the module reloads nothing; services restart in the packages' own scripts"}),
}

# Cells measured NOT to hold, written down so that CI stays green while they are open: (module, fault) ->
# (reason shown in the table, the exact problems the cell reports). Such a cell passes only while it reports
# exactly these problems: it fails as soon as the gap changes or closes, and then this entry must be updated
# (or removed). Never counted as held.
KNOWN_GAPS = {}

# The module's own error line must name the file or folder it could not change.
NAMES = {name: (case.target, case.folder) + tuple(case.scope) for name, case in CASES.items()}


def scope_sums(host, scope):
    if not scope:
        return ""
    return sh(host, "find %s -type f -not -name '.iryo-fm-fill' -exec sha256sum {} + 2>/dev/null | sort"
              % " ".join(scope), check=False).stdout


# ---- fault injection --------------------------------------------------------------------------

WRAPPER = """#!/bin/sh
# FIXTURE of the fault matrix (tests/integration/test_fault_matrix_lab.py): {what}
case " $* " in
  {pattern})
    if {condition}; then
      touch {fm}/hit
      {action}
    fi ;;
esac
exec {real} "$@"
"""


def install_wrapper(host, tmp_path, binary, pattern, condition, action, what):
    real = sh(host, "command -v %s || ls /usr/sbin/%s" % (binary, binary)).stdout.split()[0]
    text = WRAPPER.format(what=what, pattern=pattern, condition=condition, action=action, fm=FM, real=real)
    local = tmp_path / ("wrapper-" + binary)
    local.write_text(text)
    podman("cp", str(local), "iryo-lab-%s:/usr/local/sbin/%s" % (host, binary))
    sh(host, "chmod 755 /usr/local/sbin/%s" % binary)
    return "/usr/local/sbin/" + binary


def validation_condition(name, case):
    if name == "crypto_defaults":
        # only OpenSSL's evaluation of the new text (a temp copy with the profile's groups)
        return '[ "$1" = ciphers ] && case "$OPENSSL_CONF" in */iryo-openssl-*) grep -q "X25519:P-256" ' \
               '"$OPENSSL_CONF";; *) false;; esac'
    if name == "tls_config":
        # tls_config runs `nginx -t` once before writing ("validate before") and once on the new files:
        # refuse only the second, or the cell measures the pre-check instead of the new configuration.
        return "{ [ -e %s/seen ] || { touch %s/seen; false; }; }" % (FM, FM)
    return "true"


def concurrent_condition(name, case):
    """The other writer strikes at the module's first validator call (after it read the target)."""
    return "true" if name == "tls_config" else validation_condition(name, case)


def mount_copy(host, folder, extra_kb=48, read_only=False):
    """A tmpfs over folder holding a copy of its files: full (filled to the last block) or read-only."""
    stage = FM + "/stage"
    sh(host, "rm -rf {s} && mkdir -p {s} && cp -a {f}/. {s}/ && size=$(( $(du -sk {s} | cut -f1) + {x} )) && "
             "mount -t tmpfs -o size=${{size}}k,mode=$(stat -c %a {f}) tmpfs {f} && cp -a {s}/. {f}/"
       .format(s=stage, f=folder, x=extra_kb), privileged=True)
    if read_only:
        sh(host, "mount -o remount,ro %s" % folder, privileged=True)
    else:
        sh(host, "dd if=/dev/zero of=%s/.iryo-fm-fill bs=1k 2>/dev/null; sync; true" % folder, privileged=True)


def unmount(host, folder):
    sh(host, "umount %s" % folder, privileged=True)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    cells = {}
    yield cells
    lines = ["| module | " + " | ".join(FAULTS) + " |", "|---" * (len(FAULTS) + 1) + "|"]
    for name in CASES:
        lines.append("| %s | %s |" % (name, " | ".join(cells.get((name, f), "not run") for f in FAULTS)))
    verdicts = [v for k, v in cells.items() if k[0] != "said"]
    measured = [v for v in verdicts if v in ("held", "FAILED", "NOT INJECTED") or v.startswith("did not hold")]
    summary = "%d faults x %d modules = %d pairs: %d meaningful and measured, %d held, %d did not hold " \
              "(%d of them known gaps), %d N/A" % (
                  len(FAULTS), len(CASES), len(FAULTS) * len(CASES), len(measured), measured.count("held"),
                  len(measured) - measured.count("held"), sum(1 for v in measured if v.startswith("did not hold")),
                  sum(1 for v in verdicts if v.startswith("N/A")))
    text = "\n".join(lines) + "\n\n" + summary + "\n"
    said = [(key, cells[("said",) + key]) for key in sorted(k[1:] for k in cells if k[0] == "said")]
    if said:  # what the module reported in each measured cell, for the reader of the table
        text += "\n" + "".join("- %s, %s: %s\n" % (n, f, m) for (n, f), m in said)
    print("\n" + text)
    target = os.environ.get("IRYO_FAULTS_TABLE")
    if target:
        Path(target).write_text(text)


def save(host, case):
    if case.scope:
        sh(host, "mkdir -p %s && tar -cpf %s/save.tar %s 2>/dev/null" % (FM, FM, " ".join(case.scope)))


def restore(host, case):
    """Put the scope back as it was (only after a cell that did not hold)."""
    if case.scope:
        sh(host, "for d in %s; do [ -d $d ] && find $d -type f -newer %s/save.tar -delete; done; "
                 "tar -xpf %s/save.tar -C /" % (" ".join(case.scope), FM, FM))
    if case.restart_after:
        sh(host, case.restart_after, check=False)


PARAMS = [pytest.param(name, fault, id="%s-%s" % (name, fault.replace(" ", "_")))
          for name in CASES for fault in FAULTS]


@pytest.mark.parametrize("name,fault", PARAMS)
def test_fault(name, fault, table, tmp_path):
    case = CASES[name]
    if fault in case.na:
        table[(name, fault)] = "N/A: " + case.na[fault]
        return
    if fault in case.unmeasured:
        # Meaningful but not injected: shown as such in the table, never counted as held.
        table[(name, fault)] = "not measured: " + case.unmeasured[fault]
        return
    host = case.host
    table[(name, fault)] = "FAILED"
    sh(host, "rm -rf %s && mkdir -p %s" % (FM, FM))
    save(host, case)
    before_answer = case.answer(host)
    wrappers, mounted, holder = [], None, None
    try:
        if fault == "validation failure":
            binary, pattern = case.validator
            wrappers.append(install_wrapper(host, tmp_path, binary, pattern, validation_condition(name, case),
                                            'echo "fixture: validation refused" >&2; exit 1',
                                            "the validator refuses the new configuration"))
        elif fault == "reload failure" and name == "ip_forwarding":
            path = "/proc/sys/net/ipv4/ip_forward"
            sh(host, "mount --bind {p} {p} && mount -o remount,bind,ro {p} && touch {fm}/hit".format(p=path, fm=FM),
               privileged=True)
            mounted = path
        elif fault == "reload failure":
            wrappers.append(install_wrapper(host, tmp_path, "systemctl",
                                            '*" reload "*%s*|*" restart "*%s*|*" try-reload-or-restart "*%s*'
                                            % ((case.reload_unit,) * 3), "true",
                                            'echo "fixture: Job for %s failed" >&2; exit 1' % case.reload_unit,
                                            "systemd refuses to reload the daemon"))
        elif fault in ("full disk", "read-only target"):
            mount_copy(host, case.folder, read_only=fault == "read-only target")
            mounted = case.folder
            sh(host, "touch %s/hit" % FM)
        elif fault == "concurrent edit" and name == "patch_level":
            holder = subprocess.Popen(["podman", "exec", "iryo-lab-" + host, "python3", "-c",
                                       "import fcntl, os, time; f = open('/var/lib/dpkg/lock-frontend', 'w'); "
                                       "fcntl.lockf(f, fcntl.LOCK_EX); "
                                       "open('%s/hit', 'w').write(str(os.getpid())); "
                                       "time.sleep(120)" % FM], env=ENV)
            deadline = time.monotonic() + 20
            while sh(host, "test -e %s/hit" % FM, check=False).returncode != 0:
                assert time.monotonic() < deadline, "the dpkg lock holder did not start"
                time.sleep(0.2)
        elif fault == "concurrent edit":
            binary, pattern = case.validator
            wrappers.append(install_wrapper(
                host, tmp_path, binary, pattern, "[ ! -e %s/hit ] && { %s; }" % (FM, concurrent_condition(name, case)),
                "printf '%%s\\n' '%s' >> %s" % (MARKER, case.target),
                "another writer edits the target file while the module runs"))
        sums_before = scope_sums(host, case.scope)
        if fault == "concurrent edit" and name != "patch_level":
            sums_before = None  # the other writer changes the file on purpose; its line is checked instead
        result = adhoc(host, name, case.args, tmp_path / "tree")
        hit = sh(host, "test -e %s/hit" % FM, check=False).returncode == 0
        if not hit:
            table[(name, fault)] = "NOT INJECTED"
        assert hit, "the fault was never reached (the module did not call what was wrapped): %s" % json.dumps(
            result)[:1500]
        errors = [f for f in result.get("findings", []) if f["status"] == "error"]
        message = result.get("msg") or (errors[0]["summary"] if errors else "")
        table[("said", name, fault)] = " ".join(str(message).split())[:400] or "(no error)"
        problems = []
        if fault == "concurrent edit" and name != "patch_level":
            if MARKER not in sh(host, "cat %s 2>/dev/null || true" % case.target).stdout:
                problems.append("the other writer's line is gone from %s (module result: %s)"
                                % (case.target, message or "success"))
        if not (result.get("failed") or errors):
            problems.append("no error reported (changed=%s)" % result.get("changed"))
        elif "\n" in message.strip() or not any(n in message for n in NAMES[name]):
            problems.append("error not one line naming the file: %r" % message[:500])
        if errors and any(f["host"] != host for f in errors):
            problems.append("error finding names another host")
        if sums_before is not None:
            after = scope_sums(host, case.scope)
            if after != sums_before:
                problems.append("files changed: %s" % sorted(set(after.splitlines()) ^ set(sums_before.splitlines())))
        if mounted:
            unmount(host, mounted)
            mounted = None
        for path in wrappers:
            sh(host, "rm -f %s" % path)
        wrappers = []
        after_answer = case.answer(host)
        if fault != "concurrent edit" and after_answer != before_answer:
            problems.append("the daemon answers differently: %r -> %r" % (before_answer, after_answer))
        if not problems:
            table[(name, fault)] = "held"
        if (name, fault) in KNOWN_GAPS:
            reason, known = KNOWN_GAPS[(name, fault)]
            if problems == known:
                table[(name, fault)] = "did not hold (known: %s)" % reason
            assert problems == known, ("known gap changed or closed: update KNOWN_GAPS", problems)
        else:
            assert not problems, problems
    finally:
        if holder:
            # Killing `podman exec` leaves its process running in the container: end it by its own pid.
            sh(host, "kill $(cat %s/hit) 2>/dev/null; true" % FM, check=False)
            holder.kill()
            holder.wait()
        if mounted:
            unmount(host, mounted)
        for path in wrappers:
            sh(host, "rm -f %s" % path, check=False)
        # Whatever went wrong (a cell that did not hold, a fault never reached, a crash of the test),
        # the lab's files go back as they were, so that the next cell and the next test start seeded.
        if fault == "concurrent edit" or table[(name, fault)] != "held":
            restore(host, case)
        sh(host, "rm -rf %s" % FM, check=False)
