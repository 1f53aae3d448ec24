"""The order in which harden and the nightly change hosts: serial batches and redundancy groups.

playbooks/harden.yml changes hosts in serial batches (`serial: iryo_harden_serial`; the nightly sets it from
iryo_nightly_serial, by default a canary of one host, then 10 %, 25 % and the rest). Two servers that stand in
for each other (an EHR pair, two PACS nodes) must never be changed in the same batch: when the change breaks
one, the other still serves. A host says which pair it belongs to with `iryo_redundancy_group`.

Ansible forms the batches itself, by slicing the play's host list in order (PlaybookExecutor
._get_serialized_batches: every percentage of the whole host count, at least one host, the last item repeated
until every host is in a batch). So the only lever is the order of that list: plan() computes the batch sizes
exactly as Ansible will, puts the members of every redundancy group into different batches and returns the
host list in that order. The input play (first play of harden.yml) stores it for the serial play, whose
`hosts:` is that list.

Hosts without a group keep their inventory order; a run whose batches cannot separate a group (a group of
three with two batches) is refused before any host is touched, naming the group and what to change.
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

DEFAULT_HARDEN_SERIAL = "50%"  # harden.yml's default (people watching)
DEFAULT_NIGHTLY_SERIAL = [1, "10%", "25%", "100%"]  # nightly.yml's default: a canary, then growing batches
GROUP_VAR = "iryo_redundancy_group"
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")


class RolloutError(ValueError):
    """A serial value or a redundancy group the run cannot honour: refused before any host is touched."""


def parse_serial(value, name="iryo_nightly_serial"):
    """Ansible's `serial` (a count, a percentage "N%" or a list of them) -> list of int / "N%", or RolloutError.

    Stricter than Ansible, which takes 0 or a negative count as "all hosts at once" and fails late on "10.5%":
    an unattended run must not turn a typo into one big batch."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise RolloutError("%s is an empty list; give batch sizes such as [1, '10%%', '25%%', '100%%']" % name)
    out = []
    for item in items:
        if isinstance(item, bool):
            raise RolloutError("%s: %r is not a batch size (a host count >= 1 or a percentage 'N%%')" % (name, item))
        if isinstance(item, int):
            count = item
        elif isinstance(item, str) and _PERCENT.match(item):
            percent = int(_PERCENT.match(item).group(1))
            if not 1 <= percent <= 100:
                raise RolloutError("%s: %r is not a percentage from 1%% to 100%%" % (name, item))
            out.append("%d%%" % percent)
            continue
        elif isinstance(item, str) and item.strip().isdigit():
            count = int(item.strip())
        else:
            hint = (" (a list on the command line is JSON: -e '{\"%s\": [1, \"10%%\"]}')" % name
                    if isinstance(item, str) and item.strip().startswith("[") else "")
            raise RolloutError("%s: %r is not a batch size (a host count >= 1 or a percentage 'N%%')%s"
                               % (name, item, hint))
        if count < 1:
            raise RolloutError("%s: %r is not a batch size: at least one host per batch" % (name, item))
        out.append(count)
    return out


def _size(item, total):
    # ansible.utils.helpers.pct_to_int: a percentage of ALL hosts of the play (not of those left), at least 1
    if isinstance(item, str):
        return int((int(item[:-1]) / 100.0) * total) or 1
    return int(item)


def batch_sizes(serial, total):
    """The sizes of the batches Ansible forms for `total` hosts with this serial (as parse_serial returns it)."""
    sizes, left, index = [], total, 0
    while left > 0:
        take = min(_size(serial[min(index, len(serial) - 1)], total), left)
        sizes.append(take)
        left -= take
        index += 1
    return sizes


def redundancy_groups(hosts, group_of):
    """{group: [members in the order of hosts]} for the groups with members among hosts."""
    groups = {}
    for host in hosts:
        name = group_of.get(host)
        if name:
            groups.setdefault(name, []).append(host)
    return groups


def plan(hosts, group_of, serial):
    """The batches for `hosts` (in inventory order) such that no two members of a redundancy group share one.

    group_of: {host: group name or None}; serial: as parse_serial returns it.
    Returns {"order": [...], "batches": [[...], ...], "sizes": [...], "groups": {group: [members]}}.

    Groups are placed first, the largest first; each member goes to a different batch, those with the most free
    places first (ties: the earlier batch). This fills batches like the Gale-Ryser construction, so it finds a
    placement whenever one exists. The other hosts then fill the free places in inventory order, and each batch
    lists its hosts in inventory order, so a run without groups keeps the inventory order exactly."""
    hosts = list(hosts)
    sizes = batch_sizes(serial, len(hosts))
    groups = redundancy_groups(hosts, group_of)
    position = {host: index for index, host in enumerate(hosts)}
    free = list(sizes)
    batches = [[] for _ in sizes]
    for name in sorted(groups, key=lambda g: (-len(groups[g]), position[groups[g][0]])):
        members = groups[name]
        roomy = [i for i in sorted(range(len(sizes)), key=lambda i: (-free[i], i)) if free[i] > 0]
        if len(roomy) < len(members):
            raise RolloutError(
                "redundancy group %s has %d members here (%s) but %s: its members cannot all be in different "
                "batches; give more, smaller batches (iryo_nightly_serial / iryo_harden_serial) or fewer "
                "members to the group" % (name, len(members), ", ".join(members), _batches_text(sizes, free, roomy)))
        for host, index in zip(members, sorted(roomy[:len(members)])):
            batches[index].append(host)
            free[index] -= 1
    grouped = {host for members in groups.values() for host in members}
    index = 0
    for host in hosts:
        if host in grouped:
            continue
        while free[index] == 0:
            index += 1
        batches[index].append(host)
        free[index] -= 1
    batches = [sorted(batch, key=position.get) for batch in batches]
    return {"order": [host for batch in batches for host in batch], "batches": batches, "sizes": sizes,
            "groups": groups}


def _batches_text(sizes, free, roomy):
    text = "the run has %d batch%s (sizes %s)" % (len(sizes), "" if len(sizes) == 1 else "es",
                                                  ", ".join(str(s) for s in sizes))
    if len(roomy) < len(sizes):
        text += " and only %d of them with a free place left for it" % len(roomy)
    return text


def describe(result):
    """One line: the batches as Ansible will run them."""
    return "%d batch%s: %s" % (len(result["batches"]), "" if len(result["batches"]) == 1 else "es",
                               " | ".join(", ".join(batch) for batch in result["batches"]))


def group_problem(value, host):
    """Why a host's iryo_redundancy_group is refused (None: acceptable). Unset (None / "") means no group."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not GROUP_NAME.match(value):
        return ("host %s: %s must be a name of letters, digits and . _ : - (at most 63 characters), not %r"
                % (host, GROUP_VAR, value))
    return None


class RolloutPlanAction(ActionBase):
    """Controller-only: the host order for the serial play of harden.yml (see the module docstring)."""

    _supports_check_mode = True
    _VALID_ARGS = frozenset(("hosts", "serial"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        hosts = self._task.args.get("hosts") or []
        try:
            serial = parse_serial(self._task.args.get("serial", DEFAULT_HARDEN_SERIAL), name="serial")
            hostvars = task_vars.get("hostvars") or {}
            group_of, problems = {}, []
            for host in hosts:
                try:
                    value = (hostvars.get(host) or {}).get(GROUP_VAR)
                except AnsibleError as exc:  # a template in the inventory that cannot be evaluated
                    problems.append("host %s: %s cannot be evaluated: %s" % (host, GROUP_VAR, exc.message))
                    continue
                problem = group_problem(value, host)
                if problem:
                    problems.append(problem)
                group_of[host] = value or None
            if problems:
                raise RolloutError("; ".join(problems))
            planned = plan(hosts, group_of, serial)
        except RolloutError as exc:
            return dict(result, failed=True, changed=False, msg="refused before any host is touched: %s" % exc)
        return dict(result, changed=False, msg=describe(planned), **planned)
