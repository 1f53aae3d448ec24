#!/usr/bin/env python3
"""Scale bench: the full audit and a no-op nightly on 1, 5 and 20 lab hosts, against the
`ansible -m ping` floor on the same hosts in the same run, with the controller's memory.

    .venv/bin/python bench/scale.py [--sizes 1 5 20] [--repeat 3] [--keep-hosts]

Starts generic lab hosts (lab.py up --hosts MAX; gen-01..gen-MAX, identical Debian 12 hosts) and
measures on gen-01..gen-N for each N:
- ping floor:  ansible gen-hosts -m ansible.builtin.ping (one SSH round and one tiny module per host)
- audit:       playbooks/audit.yml (check mode, every clause role)
- nightly:     playbooks/nightly.yml after one warm-up nightly, so nothing is left to change (no-op)
Each figure is the median of --repeat runs. The generic hosts get one C.10 host class
(--extra-vars, default {"c10_isolation_host_classes": ["internal"]}) for audit and nightly alike:
without one, C.10's enforce path stops a host before its other clauses (a real inventory gives
every host its class). A nightly whose report lacks a host x clause cell that the audit has is
flagged INCOMPLETE instead of being timed as if it had done the work. Memory: peak RSS of the largest controller process
(wait4 rusage of the run) and the peak sum over the run's whole process tree (sampled from /proc
every 0.1 s), so "flat in hosts" covers the forked workers too.
Takes the lab lock (lab/.state/lab.lock; IRYO_LAB_LOCK_HELD=1 when the caller holds it) and puts
the lab back to its default hosts afterwards (lab.py up --hosts 0) unless --keep-hosts.
CPU: the controller's (user + system of ansible and every worker it forked, from wait4) and the lab hosts'
(all lab containers together, from their cgroup): on this machine both share the same 2 cores, on a real
fleet the hosts' share runs elsewhere. --env NAME=VALUE sets Ansible settings for the runs (experiments).
Prints figures and Markdown tables for docs/performance.md; asserts nothing.
"""

import argparse
import contextlib
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
INVENTORY = REPO / "inventory" / "lab"
LOCK = REPO / "lab" / ".state" / "lab.lock"
PAGE = os.sysconf("SC_PAGE_SIZE")
# CPU time of every lab container together (cgroup v1 cpuacct of podman's parent group; cgroup v2: its cpu.stat).
HOSTS_CPU = (Path("/sys/fs/cgroup/cpuacct/libpod_parent/cpuacct.usage"),
             Path("/sys/fs/cgroup/machine.slice/cpu.stat"))


def hosts_cpu_seconds():
    """CPU seconds the lab hosts (containers) have used so far, or None where it cannot be read."""
    for path in HOSTS_CPU:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpuacct.usage":
            return int(text) / 1e9
        for line in text.splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
    return None


def tree_rss(root_pid):
    """Sum of RSS (bytes) of root_pid and all its descendants, from /proc."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measured(cmd, env, ok=(0, 2)):
    """Run cmd; return (seconds, peak RSS of its largest process, peak RSS of its process tree,
    controller CPU seconds (the command and every child it waited for), lab hosts' CPU seconds)."""
    hosts_before = hosts_cpu_seconds()
    start = time.monotonic()
    proc = subprocess.Popen([str(c) for c in cmd], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    peak_tree = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak_tree[0] = max(peak_tree[0], tree_rss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        sys.exit("command failed (%d): %s\n%s" % (proc.returncode, " ".join(map(str, cmd)),
                                                  output.decode(errors="replace")[-3000:]))
    hosts_after = hosts_cpu_seconds()
    hosts = hosts_after - hosts_before if hosts_before is not None and hosts_after is not None else float("nan")
    return elapsed, usage.ru_maxrss * 1024, peak_tree[0], usage.ru_utime + usage.ru_stime, hosts


@contextlib.contextmanager
def lab_lock():
    if os.environ.get("IRYO_LAB_LOCK_HELD"):
        yield
        return
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a") as handle:
        print("waiting for the lab lock %s ..." % LOCK, flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def lab_up(hosts):
    result = subprocess.run([sys.executable, REPO / "lab" / "lab.py", "up", "--hosts", str(hosts)], cwd=REPO,
                            capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        sys.exit("lab.py up --hosts %d failed:\n%s" % (hosts, (result.stdout + result.stderr)[-3000:]))


def last_cells(reports):
    """(host, clause) cells of the newest run in the bench's history (hosts only)."""
    lines = (Path(reports) / "history.jsonl").read_text().splitlines()
    cells = json.loads(lines[-1])["cells"]
    return {(h, c) for h, clauses in cells.items() if h != "_organisation" for c in clauses}


def median(samples, index):
    return statistics.median(s[index] for s in samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep-hosts", action="store_true", help="leave the generic hosts running")
    parser.add_argument("--extra-vars", default=json.dumps({"c10_isolation_host_classes": ["internal"]}),
                        help="JSON extra variables for audit and nightly (default: a C.10 host class)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment for the runs, e.g. ANSIBLE_FORKS=8 (repeatable): settings experiments")
    args = parser.parse_args()
    reports = tempfile.mkdtemp(prefix="iryo-bench-")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=reports, IRYO_REPORT_COLOR="false", ANSIBLE_NOCOLOR="1",
               CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"))
    env.update(item.split("=", 1) for item in args.env)
    rows = []
    with lab_lock():
        lab_up(max(args.sizes))
        try:
            for size in args.sizes:
                pattern = ",".join("gen-%02d" % i for i in range(1, size + 1))
                ping = [BIN / "ansible", "-i", INVENTORY, pattern, "-m", "ansible.builtin.ping"]
                audit = [BIN / "ansible-playbook", "-i", INVENTORY, REPO / "playbooks" / "audit.yml",
                         "-e", "iryo_targets=" + pattern, "-e", args.extra_vars]
                nightly = [BIN / "ansible-playbook", "-i", INVENTORY, REPO / "playbooks" / "nightly.yml",
                           "-e", "iryo_targets=" + pattern, "-e", args.extra_vars]
                measured(nightly, env)  # warm-up: whatever the nightly may change is changed now
                pings, audits, nightlies, incomplete = [], [], [], []
                for _ in range(args.repeat):
                    pings.append(measured(ping, env, ok=(0,)))
                    audits.append(measured(audit, env))
                    audit_cells = last_cells(reports)
                    nightlies.append(measured(nightly, env))
                    incomplete += sorted(audit_cells - last_cells(reports))
                row = {"hosts": size, "ping": median(pings, 0), "audit": median(audits, 0),
                       "nightly": median(nightlies, 0),
                       "audit_rss": max(s[1] for s in audits), "audit_tree": max(s[2] for s in audits),
                       "audit_cpu": median(audits, 3), "audit_hosts_cpu": median(audits, 4),
                       "ping_cpu": median(pings, 3), "ping_hosts_cpu": median(pings, 4),
                       "nightly_rss": max(s[1] for s in nightlies), "nightly_tree": max(s[2] for s in nightlies)}
                row["incomplete"] = sorted(set(incomplete))
                rows.append(row)
                if incomplete:
                    print("INCOMPLETE nightly on %d hosts: missing %s" % (size, row["incomplete"][:10]), flush=True)
                print("%2d hosts: ping %.2f s, audit %.2f s (%.2fx), no-op nightly %.2f s (%.2fx audit); "
                      "largest process %.0f MB, process tree %.0f MB; CPU: audit controller %.1f s + hosts %.1f s "
                      "(ping %.1f + %.1f s)"
                      % (size, row["ping"], row["audit"], row["audit"] / row["ping"], row["nightly"],
                         row["nightly"] / row["audit"], row["audit_rss"] / 2**20, row["audit_tree"] / 2**20,
                         row["audit_cpu"], row["audit_hosts_cpu"], row["ping_cpu"], row["ping_hosts_cpu"]),
                      flush=True)
        finally:
            if not args.keep_hosts:
                lab_up(0)
    print()
    print("| hosts | ping floor | audit | audit / ping | no-op nightly | nightly / audit "
          "| largest process (audit / nightly) | process tree (audit / nightly) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %d | %.2f s | %.2f s | %.2fx | %.2f s%s | %.2fx | %.0f / %.0f MB | %.0f / %.0f MB |"
              % (r["hosts"], r["ping"], r["audit"], r["audit"] / r["ping"], r["nightly"],
                 " (INCOMPLETE)" if r["incomplete"] else "", r["nightly"] / r["audit"],
                 r["audit_rss"] / 2**20, r["nightly_rss"] / 2**20, r["audit_tree"] / 2**20,
                 r["nightly_tree"] / 2**20))
    print()
    print("| hosts | audit CPU: controller | audit CPU: lab hosts | controller CPU per host | ping CPU: controller "
          "/ hosts |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %d | %.1f s | %.1f s | %.2f s | %.1f / %.1f s |" % (
            r["hosts"], r["audit_cpu"], r["audit_hosts_cpu"], r["audit_cpu"] / r["hosts"], r["ping_cpu"],
            r["ping_hosts_cpu"]))
    print("\nmedian of %d runs each; reports in %s" % (args.repeat, reports))


if __name__ == "__main__":
    main()
