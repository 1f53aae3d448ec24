"""The rollout's batches (iryo_guard/rollout.py): batch sizes as Ansible forms them, redundancy groups in different
batches, and the inputs refused before any host is touched.

Judges: Ansible's own batching (PlaybookExecutor._get_serialized_batches, and a real ansible-playbook run whose
serial play prints each batch it runs) and an exhaustive search over every placement for small cases.
"""

import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from ansible.executor.playbook_executor import PlaybookExecutor

from iryo_guard.rollout import RolloutError, batch_sizes, parse_serial, plan

REPO = Path(__file__).resolve().parents[2]
NIGHTLY = [1, "10%", "25%", "100%"]


def ansible_batches(serial, hosts):
    """The batches ansible-core forms for a play with this serial and these hosts (its own code)."""
    stub = SimpleNamespace(_inventory=SimpleNamespace(get_hosts=lambda pattern, order=None: list(hosts)))
    return PlaybookExecutor._get_serialized_batches(stub, SimpleNamespace(hosts="all", order=None, serial=serial))


@pytest.mark.parametrize("serial", [NIGHTLY, [1], ["50%"], [2, "30%"], ["1%", 3], ["100%"], [5, 1], ["33%", "34%"]])
@pytest.mark.parametrize("total", [1, 2, 3, 4, 7, 10, 24, 50, 101])
def test_batch_sizes_are_ansibles(serial, total):
    hosts = ["h%d" % i for i in range(total)]
    assert batch_sizes(parse_serial(serial), total) == [len(b) for b in ansible_batches(serial, hosts)]


@pytest.mark.parametrize("value, expected", [
    (1, [1]), ("2", [2]), ("25%", ["25%"]), ([1, "10%", "25%", "100%"], [1, "10%", "25%", "100%"]),
    ([" 5 ", "50 %"], [5, "50%"])])
def test_serial_values_accepted(value, expected):
    assert parse_serial(value) == expected


@pytest.mark.parametrize("value, message", [
    (0, "at least one host"), (-1, "at least one host"), ("0%", "from 1% to 100%"), ("150%", "from 1% to 100%"),
    ("10.5%", "not a batch size"), ([], "empty list"), (True, "not a batch size"), ("[1, 2]", "JSON"),
    ([1, "x"], "'x' is not a batch size")])
def test_serial_values_refused(value, message):
    with pytest.raises(RolloutError, match=message.replace("[", r"\[").replace("%", "%")):
        parse_serial(value)


def test_without_groups_the_order_is_the_inventory_order():
    hosts = ["h%02d" % i for i in range(24)]
    result = plan(hosts, {}, parse_serial(NIGHTLY))
    assert result["order"] == hosts and [len(b) for b in result["batches"]] == [1, 2, 6, 15]


def test_a_pair_is_split_over_two_batches_and_each_batch_keeps_inventory_order():
    hosts = ["portal", "ehr", "files", "gateway"]
    result = plan(hosts, {"portal": "web-pair", "ehr": "web-pair"}, [2])
    assert result["batches"] == [["portal", "files"], ["ehr", "gateway"]]
    assert result["order"] == ["portal", "files", "ehr", "gateway"]
    # Ansible, slicing that order with the same serial, forms exactly these batches
    assert [[h for h in b] for b in ansible_batches([2], result["order"])] == result["batches"]


def test_a_group_larger_than_the_number_of_batches_is_refused():
    hosts = ["a", "b", "c", "d"]
    with pytest.raises(RolloutError, match=r"redundancy group pacs has 3 members here \(a, b, c\) but the run has 2 "
                                           r"batches \(sizes 2, 2\)"):
        plan(hosts, {"a": "pacs", "b": "pacs", "c": "pacs"}, [2])


def feasible(hosts, group_of, sizes):
    """Exhaustive: is there any assignment of hosts to batches of these sizes keeping each group apart?"""
    for labels in itertools.product(range(len(sizes)), repeat=len(hosts)):
        if [labels.count(i) for i in range(len(sizes))] != sizes:
            continue
        seen = set()
        if all((group_of[h], b) not in seen and not seen.add((group_of[h], b))
               for h, b in zip(hosts, labels) if group_of.get(h)):
            return True
    return False


def test_plan_finds_a_placement_exactly_when_one_exists():
    rng = random.Random(15)  # fixed seed: the same cases every run
    serials = [[1, "10%", "25%", "100%"], [2], [1, 2], [3, 1], ["50%"], [1]]
    for _ in range(300):
        hosts = ["h%d" % i for i in range(rng.randint(1, 7))]
        group_of = {h: rng.choice([None, None, "g1", "g2", "g3"]) for h in hosts}
        serial = parse_serial(rng.choice(serials))
        sizes = batch_sizes(serial, len(hosts))
        try:
            result = plan(hosts, group_of, serial)
        except RolloutError:
            assert not feasible(hosts, group_of, sizes), (hosts, group_of, serial)
            continue
        assert sorted(result["order"]) == sorted(hosts) and [len(b) for b in result["batches"]] == sizes
        for batch in result["batches"]:
            groups = [group_of[h] for h in batch if group_of[h]]
            assert len(groups) == len(set(groups)), (batch, group_of)


# ---- through Ansible: the input play's plan drives the serial play's batches -------------------------------

def run_playbook(tmp_path, hosts, extra, serial_default="[2]"):
    inventory = {"all": {"hosts": {h: dict({"ansible_connection": "local",
                                            "ansible_python_interpreter": sys.executable}, **v)
                                   for h, v in hosts.items()}}}
    (tmp_path / "inventory.yml").write_text(json.dumps(inventory))
    # playbooks/harden.yml's own input play (validation and the plan), and its serial play (hosts, serial, the
    # ROLLOUT guard) with one task in place of the roles that prints each batch Ansible runs
    harden = yaml.safe_load((REPO / "playbooks" / "harden.yml").read_text())
    serial_play = {key: harden[1][key] for key in ("name", "hosts", "gather_facts", "serial")}
    serial_play["pre_tasks"] = [t for t in harden[1]["pre_tasks"] if t["name"].startswith("ROLLOUT |")]
    assert serial_play["pre_tasks"], "harden.yml's serial play has no ROLLOUT guard"
    serial_play["tasks"] = [{"name": "BATCH", "ansible.builtin.debug": {"msg": "BATCH {{ ansible_play_batch | "
                                                                        "join(',') }}"}, "run_once": True}]
    playbook = [harden[0], serial_play]
    (tmp_path / "play.yml").write_text(json.dumps(playbook))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".ansible"),
               IRYO_REPORT_DIR=str(tmp_path / "reports"), ANSIBLE_NOCOLOR="1")
    extra = dict({"iryo_harden_serial": [2]}, **extra) if extra is not None else {}
    return subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                           str(tmp_path / "play.yml"), "-e", json.dumps(extra)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_ansible_runs_the_planned_batches(tmp_path):
    hosts = {"portal": {"iryo_redundancy_group": "web-pair"}, "ehr": {"iryo_redundancy_group": "web-pair"},
             "files": {}, "gateway": {}, "pacs1": {"iryo_redundancy_group": "pacs"},
             "pacs2": {"iryo_redundancy_group": "pacs"}}
    done = run_playbook(tmp_path, hosts, {"iryo_harden_serial": [1, "10%", "25%", "100%"]})
    assert done.returncode == 0, done.stdout[-3000:]
    batches = [line.split("BATCH ", 1)[1].rstrip('"').split(",") for line in done.stdout.splitlines()
               if '"msg": "BATCH ' in line]
    expected = plan(list(hosts), {h: v.get("iryo_redundancy_group") for h, v in hosts.items()},
                    parse_serial(NIGHTLY))["batches"]
    assert batches == expected and len(batches) == 4  # 6 hosts: sizes 1, 1, 1, 3
    for pair in (("portal", "ehr"), ("pacs1", "pacs2")):
        assert not any(set(pair) <= set(batch) for batch in batches), batches
    # in inventory order Ansible would have changed pacs1 and pacs2 together, in the last batch
    assert ansible_batches(NIGHTLY, list(hosts))[-1] == ["gateway", "pacs1", "pacs2"]


@pytest.mark.parametrize("hosts, extra, message", [
    ({"a": {"iryo_redundancy_group": "ehr pair"}}, {}, "iryo_redundancy_group must be a name"),
    ({"a": {"iryo_redundancy_group": ["x"]}}, {}, "iryo_redundancy_group"),
    ({"a": {}}, {"iryo_nightly_serial": "[1, 2]"}, "a list on the command line is JSON"),
    ({"a": {}}, {"iryo_nightly_serial": 0}, "at least one host"),
    ({"a": {}}, {"iryo_nightly_serial": "0%"}, "is not a percentage from 1% to 100%"),
    ({"a": {}}, {"iryo_nightly_serial": "abc"}, "'abc' is not a batch size"),
    ({"a": {}}, {"iryo_nightly_serial": [1, "abc"]}, "'abc' is not a batch size"),
    ({"a": {}}, {"iryo_nightly_health_wait": 7200}, "iryo_nightly_health_wait must be a whole number"),
    ({"a": {"iryo_redundancy_group": "g"}, "b": {"iryo_redundancy_group": "g"}, "c": {"iryo_redundancy_group": "g"}},
     {}, "redundancy group g has 3 members here (a, b, c) but the run has 2 batches (sizes 2, 1)"),
])
def test_bad_rollout_input_stops_the_input_play(tmp_path, hosts, extra, message):
    done = run_playbook(tmp_path, hosts, extra)
    assert done.returncode != 0 and message in done.stdout, done.stdout[-3000:]
    assert '"msg": "BATCH' not in done.stdout  # no host's turn started


def test_a_serial_value_from_the_inventory_changes_no_host(tmp_path):
    """`serial:` never sees inventory variables, the plan (a task) does: batches of one planned, Ansible forms
    harden.yml's default 50 % batches. The guard stops the first batch before its first task."""
    hosts = {h: {"iryo_harden_serial": 1, "iryo_redundancy_group": g} for h, g in
             (("a", "pair"), ("b", "pair"), ("c", None), ("d", None))}
    for values in hosts.values():
        if values["iryo_redundancy_group"] is None:
            del values["iryo_redundancy_group"]
    done = run_playbook(tmp_path, hosts, None)
    assert done.returncode != 0, done.stdout[-3000:]
    assert '"msg": "BATCH' not in done.stdout, done.stdout[-3000:]
    assert ("not changed: this batch (a, b) is not one the rollout plan formed (a | b | c | d); give "
            "iryo_nightly_serial / iryo_harden_serial as an extra variable (-e), not in the inventory") in done.stdout
