#!/usr/bin/env python3
"""Time the dry-run audit against `ansible -m ping` on the same lab hosts, in the same run.

    .venv/bin/python bench/audit_vs_ping.py [--repeat 3] [--limit hospital]

The ping is the floor: one SSH round and one tiny module per host. Prints the median wall
time of each, their ratio, and the controller's peak memory (max RSS of the child processes).
Needs a running lab (`./iryo lab up`, `--hosts N` for more hosts). Prints figures; asserts nothing.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"


def timed(cmd, env):
    start = time.monotonic()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode not in (0, 2):  # 2: the audit gate found failures, as seeded
        sys.exit("command failed (%d): %s\n%s" % (result.returncode, " ".join(cmd), result.stdout[-2000:]))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", default="hospital")
    args = parser.parse_args()
    inventory = REPO / "inventory" / "lab"
    if not (inventory / "hosts.yml").exists():
        sys.exit("the lab is not up: ./iryo lab up [--hosts N]")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), IRYO_REPORT_DIR=tempfile.mkdtemp())
    hosts = subprocess.run([BIN / "ansible", "-i", inventory, args.limit, "--list-hosts"], cwd=REPO, env=env,
                           capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    ping = [BIN / "ansible", "-i", inventory, args.limit, "-m", "ansible.builtin.ping"]
    audit = [BIN / "ansible-playbook", "-i", inventory, "playbooks/audit.yml", "-e", "iryo_targets=" + args.limit]
    ping_times, audit_times = [], []
    for _ in range(args.repeat):
        ping_times.append(timed([str(c) for c in ping], env))
        audit_times.append(timed([str(c) for c in audit], env))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    p, a = statistics.median(ping_times), statistics.median(audit_times)
    print("hosts            %d" % len(hosts))
    print("ping floor       %.2f s (median of %d)" % (p, args.repeat))
    print("audit            %.2f s (median of %d)" % (a, args.repeat))
    print("audit / ping     %.2fx" % (a / p))
    print("controller peak  %.0f MB RSS (largest child process)" % peak_mb)


if __name__ == "__main__":
    main()
