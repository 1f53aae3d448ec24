# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables for C.10: what a live ruleset lets in, the ruleset iryo-guard owns, the lockout guard.

Standard library only (runs on managed hosts, Python >= 3.8); the controller's unit tests import it too.

Reading (``analyse``): the JSON of ``nft -j list ruleset`` is reduced, per address family, to
  - whether inbound traffic is dropped by default (a base chain on the input hook whose policy is
    drop or that ends in an unconditional drop/reject), and
  - the *grants*: which protocol/ports are accepted from which source networks for new connections.
The model is deliberately conservative: conditions it does not understand (interfaces other than
lo, marks, rate limits, negations, iptables-nft ``xt`` matches) are ignored on accept rules, and
conditional drop rules are ignored, so what it reports as open can only be *wider* than the truth.
A false alarm is possible, a false pass is not.

Several base chains on the same hook: a packet must be accepted by every one of them (a drop is
final), so the effective grants are the intersection of the grants of the default-drop chains.

Writing (``render``): one table, ``inet iryo_guard``, which iryo-guard owns completely. The file
starts with ``table inet iryo_guard`` + ``delete table inet iryo_guard`` so that ``nft -f`` replaces
the table in one transaction, whether it existed before or not; every other table is left alone.
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import json

__metaclass__ = type

TABLE_FAMILY = "inet"
TABLE_NAME = "iryo_guard"
ANY_V4 = ipaddress.ip_network("0.0.0.0/0")
ANY_V6 = ipaddress.ip_network("::/0")
ALL_PORTS = ((0, 65535),)
FAMILIES = ("ipv4", "ipv6")
TABLE_FAMILIES = {"inet": ("ipv4", "ipv6"), "ip": ("ipv4",), "ip6": ("ipv6",)}
DROP_VERDICTS = ("drop", "reject")

# ICMP that IPv4/IPv6 need to work (PMTU discovery, errors, IPv6 neighbour discovery); RFC 4890 §4.4
# for ICMPv6. Echo request is separate (monitoring pings); see render().
ICMP_V4_NEEDED = ("destination-unreachable", "time-exceeded", "parameter-problem")
ICMP_V6_NEEDED = ("destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem",
                  "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert",
                  "mld-listener-query", "mld-listener-report", "mld2-listener-report")


class PolicyError(ValueError):
    """A declared policy that cannot be rendered (bad CIDR, port, protocol)."""


# ---------------------------------------------------------------------------------------------
# small value helpers


def network(text):
    """'10.0.0.0/8', '10.0.0.1', 'any' -> list of ip_network (any = both families)."""
    text = str(text).strip()
    if text in ("any", "0.0.0.0/0,::/0"):
        return [ANY_V4, ANY_V6]
    try:
        return [ipaddress.ip_network(text, strict=False)]
    except ValueError:
        raise PolicyError("%r is not an IP address or CIDR network" % text) from None


def networks(values):
    """A list of CIDR strings -> collapsed ip_networks; empty or 'any' -> both whole families."""
    if not values:
        return [ANY_V4, ANY_V6]
    found = []
    for value in values:
        found.extend(network(value))
    return collapse(found)


def collapse(nets):
    v4 = list(ipaddress.collapse_addresses([n for n in nets if n.version == 4]))
    v6 = list(ipaddress.collapse_addresses([n for n in nets if n.version == 6]))
    return v4 + v6


def family_of(net):
    return "ipv4" if net.version == 4 else "ipv6"


def intersect_nets(left, right):
    out = []
    for a in left:
        for b in right:
            if a.version != b.version:
                continue
            if a.subnet_of(b):
                out.append(a)
            elif b.subnet_of(a):
                out.append(b)
    return collapse(out)


def covered_by(nets, allowed):
    """Every network of `nets` lies inside the union of `allowed`."""
    allowed = collapse(allowed)
    for net in nets:
        if not any(net.version == a.version and net.subnet_of(a) for a in allowed):
            return False
    return True


def intersect_ports(left, right):
    if left is None:
        return right
    if right is None:
        return left
    out = []
    for lo1, hi1 in left:
        for lo2, hi2 in right:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return tuple(sorted(out))


def subtract_ports(ranges, ports):
    """Port ranges minus a set of single ports."""
    out = []
    for lo, hi in ranges:
        cur = lo
        for port in sorted(p for p in ports if lo <= p <= hi):
            if port > cur:
                out.append((cur, port - 1))
            cur = port + 1
        if cur <= hi:
            out.append((cur, hi))
    return out


def ports_text(ranges):
    if ranges is None:
        return "any"
    return ",".join(str(lo) if lo == hi else "%d-%d" % (lo, hi) for lo, hi in ranges)


def nets_text(nets):
    if nets is None:
        return ["any"]
    return [str(n) for n in nets]


# ---------------------------------------------------------------------------------------------
# reading a live ruleset


def objects(ruleset_json):
    """The list of objects in ``nft -j list ruleset`` output (text or parsed)."""
    data = json.loads(ruleset_json) if isinstance(ruleset_json, str) else ruleset_json
    return [item for item in (data or {}).get("nftables", []) if "metainfo" not in item]


class Ruleset:
    def __init__(self, ruleset_json):
        self.chains, self.rules, self.sets = {}, {}, {}
        for item in objects(ruleset_json):
            if "chain" in item:
                chain = item["chain"]
                key = (chain["family"], chain["table"], chain["name"])
                self.chains[key] = chain
                self.rules.setdefault(key, [])
            elif "rule" in item:
                rule = item["rule"]
                self.rules.setdefault((rule["family"], rule["table"], rule["chain"]), []).append(rule)
            elif "set" in item or "map" in item:
                body = item.get("set") or item.get("map")
                self.sets[(body["family"], body["table"], body["name"])] = body

    def input_chains(self):
        """Base chains of family inet/ip/ip6 on the input hook, in (priority) order."""
        found = [key for key, chain in self.chains.items()
                 if chain.get("hook") == "input" and chain.get("family") in TABLE_FAMILIES]
        return sorted(found, key=lambda k: (prio(self.chains[k].get("prio")), k))

    def tables(self):
        return sorted({(f, t) for f, t, _ in self.chains})


def prio(value):
    names = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return names.get(str(value), 0)


class Cond:
    """What a rule's matches say about the packets it applies to."""

    def __init__(self):
        self.protos = None      # None = any, else set of "tcp"/"udp"/"icmp"/"ipv6-icmp"/other
        self.ports = None       # None = any destination port, else tuple of (lo, hi)
        self.sources = None     # None = any, else list of ip_network
        self.families = set(FAMILIES)
        self.ct_states = None   # None = any, else set of states
        self.loopback = False
        self.dnat = False       # ct status dnat: port forwards, decided by the nat table's DNAT rules
        self.ignored = []       # matches the model does not evaluate (makes grants wider, never narrower)
        self.never = False      # the rule can never match (e.g. ip saddr in an ip6 table)

    def copy(self):
        other = Cond()
        other.__dict__.update({k: (set(v) if isinstance(v, set) else list(v) if isinstance(v, list) else v)
                               for k, v in self.__dict__.items()})
        return other

    def unconditional(self, table_families=FAMILIES):
        return (self.protos is None and self.ports is None and self.sources is None and self.ct_states is None
                and not self.loopback and not self.dnat and not self.ignored
                and self.families >= set(table_families))

    def merge(self, other):
        """Both conditions at once (a rule reached through a jump carries the jump's conditions)."""
        out = self.copy()
        if other.protos is not None:
            out.protos = other.protos if out.protos is None else out.protos & other.protos
            if not out.protos:
                out.never = True
        out.ports = intersect_ports(out.ports, other.ports)
        if out.ports == ():
            out.never = True
        if other.sources is not None:
            out.sources = other.sources if out.sources is None else intersect_nets(out.sources, other.sources)
            if not out.sources:
                out.never = True
        out.families &= other.families
        if other.ct_states is not None:
            out.ct_states = other.ct_states if out.ct_states is None else out.ct_states & other.ct_states
        out.loopback = out.loopback or other.loopback
        out.dnat = out.dnat or other.dnat
        out.ignored = out.ignored + other.ignored
        out.never = out.never or other.never or not out.families
        return out

    def opens_new(self):
        """Applies to packets that start new connections from the network (not lo, not established-only)."""
        if self.never or self.loopback or self.dnat:
            return False
        return self.ct_states is None or bool(self.ct_states & {"new", "untracked"})


def values(right, ruleset, family, table):
    """A match's right-hand side as a flat list of plain values (ints, strings, prefixes, ranges)."""
    if isinstance(right, str) and right.startswith("@"):
        body = ruleset.sets.get((family, table, right[1:]), {})
        elems = body.get("elem") or []
        return [e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e for e in elems]
    if isinstance(right, dict) and "set" in right:
        return [e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e for e in right["set"]]
    if isinstance(right, list):
        return right
    return [right]


def port_ranges(items):
    out = []
    for item in items:
        if isinstance(item, int):
            out.append((item, item))
        elif isinstance(item, dict) and "range" in item:
            out.append((int(item["range"][0]), int(item["range"][1])))
        elif isinstance(item, str) and item.isdigit():
            out.append((int(item), int(item)))
        else:
            return None  # a service name or something we cannot read: treat as any port
    return tuple(sorted(out))


def address_nets(items):
    out = []
    for item in items:
        try:
            if isinstance(item, dict) and "prefix" in item:
                out.append(ipaddress.ip_network("%s/%s" % (item["prefix"]["addr"], item["prefix"]["len"]),
                                                strict=False))
            elif isinstance(item, dict) and "range" in item:
                lo, hi = (ipaddress.ip_address(v) for v in item["range"])
                out.extend(ipaddress.summarize_address_range(lo, hi))
            else:
                out.append(ipaddress.ip_network(str(item), strict=False))
        except (ValueError, TypeError, KeyError):
            return None
    return out


L4_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp"}


def read_match(cond, match, ruleset, family, table):
    """Fold one ``match`` expression into `cond`; unknown ones go to cond.ignored."""
    op, left, right = match.get("op", "=="), match.get("left"), match.get("right")
    text = json.dumps(match, sort_keys=True)
    if op not in ("==", "in"):
        cond.ignored.append(text)
        return
    items = values(right, ruleset, family, table)
    if isinstance(left, dict) and "payload" in left:
        payload = left["payload"]
        proto, field = payload.get("protocol"), payload.get("field")
        if proto in ("tcp", "udp", "th") and field == "dport":
            ranges = port_ranges(items)
            if ranges is None:
                cond.ignored.append(text)
            else:
                cond.ports = intersect_ports(cond.ports, ranges)
            if proto != "th":
                cond.protos = {proto} if cond.protos is None else cond.protos & {proto}
            return
        if proto in ("tcp", "udp") or proto in ("icmp", "icmpv6"):
            # a match on another header field (flags, sport, icmp type) still fixes the protocol
            name = "ipv6-icmp" if proto == "icmpv6" else proto
            cond.protos = {name} if cond.protos is None else cond.protos & {name}
            if proto in ("tcp", "udp"):
                cond.ignored.append(text)
            return
        if proto in ("ip", "ip6") and field == "saddr":
            nets = address_nets(items)
            fam = "ipv4" if proto == "ip" else "ipv6"
            cond.families &= {fam}
            if nets is None:
                cond.ignored.append(text)
            else:
                cond.sources = nets if cond.sources is None else intersect_nets(cond.sources, nets)
                if not cond.sources:
                    cond.never = True
            return
        if proto == "ip" and field == "protocol" or proto == "ip6" and field == "nexthdr":
            cond.families &= {"ipv4" if proto == "ip" else "ipv6"}
            cond.protos = {L4_NAMES.get(str(i), str(i)) for i in items}
            return
        if proto in ("ip", "ip6"):
            # any other IPv4/IPv6 header match (daddr, ttl...) still says which family the rule is for
            cond.families &= {"ipv4" if proto == "ip" else "ipv6"}
        cond.ignored.append(text)
        return
    if isinstance(left, dict) and "meta" in left:
        key = left["meta"].get("key")
        if key in ("iif", "iifname"):
            if all(str(i) == "lo" for i in items):
                cond.loopback = True
            else:
                cond.ignored.append(text)
            return
        if key == "l4proto":
            protos = {L4_NAMES.get(str(i), str(i)) for i in items}
            cond.protos = protos if cond.protos is None else cond.protos & protos
            return
        if key == "nfproto":
            cond.families &= {"ipv4" if str(i) == "ipv4" else "ipv6" for i in items}
            return
        cond.ignored.append(text)
        return
    if isinstance(left, dict) and "ct" in left and left["ct"].get("key") == "state":
        states = set()
        for item in items:
            states.update(item if isinstance(item, list) else [item])
        cond.ct_states = states if cond.ct_states is None else cond.ct_states & states
        return
    if isinstance(left, dict) and "ct" in left and left["ct"].get("key") == "status" and \
            all(str(i) == "dnat" for i in items):
        cond.dnat = True
        return
    if isinstance(left, dict) and "fib" in left:
        # e.g. firewalld's "fib daddr . iif type local": a check on the destination, not a source limit
        cond.ignored.append(text)
        return
    cond.ignored.append(text)


def verdict_of(statement):
    for name in ("accept", "drop", "reject", "return"):
        if name in statement:
            return name, None
    for name in ("jump", "goto"):
        if name in statement:
            return name, statement[name]["target"]
    return None, None


def rule_cases(rule, ruleset):
    """A rule as a list of (Cond, verdict, target): one case, or one per element of a verdict map."""
    family, table = rule["family"], rule["table"]
    cond, cases = Cond(), []
    for statement in rule.get("expr") or []:
        if "match" in statement:
            read_match(cond, statement["match"], ruleset, family, table)
            continue
        if "vmap" in statement:
            vmap = statement["vmap"]
            for element in values(vmap.get("data"), ruleset, family, table):
                if not (isinstance(element, list) and len(element) == 2):
                    continue
                key, verdict = element
                sub = cond.copy()
                read_match(sub, {"op": "==", "left": vmap.get("key"), "right": key}, ruleset, family, table)
                name, target = verdict_of(verdict)
                if name:
                    cases.append((sub, name, target))
            return cases
        name, target = verdict_of(statement)
        if name:
            cases.append((cond, name, target))
            return cases
        if any(k in statement for k in ("limit", "quota", "xt")):
            cond.ignored.append(json.dumps(statement, sort_keys=True))
    return cases  # no verdict: a counter/log-only rule


def restrict(cond, table_family):
    cond = cond.copy()
    cond.families &= set(TABLE_FAMILIES[table_family])
    if cond.protos is not None and "ipv6-icmp" in cond.protos and cond.protos <= {"ipv6-icmp", "icmp"}:
        cond.families &= {"ipv6"} if "icmp" not in cond.protos else cond.families
    if not cond.families:
        cond.never = True
    return cond


def walk(ruleset, key, outer, depth=0, seen=()):
    """Grants and the terminal verdict of a chain: ([(Cond, rule handle, comment)], 'drop'|'accept'|None).

    None means the chain falls through (to the caller, or to the base chain's policy)."""
    grants = []
    if depth > 16 or key in seen:
        return grants, None
    family = key[0]
    fams = TABLE_FAMILIES[family]
    for rule in ruleset.rules.get(key, []):
        for cond, verdict, target in rule_cases(rule, ruleset):
            cond = restrict(outer.merge(cond), family)
            if cond.never:
                continue
            where = {"chain": "%s %s %s" % key, "handle": rule.get("handle"), "comment": rule.get("comment")}
            if verdict == "accept":
                if cond.opens_new():
                    grants.append((cond, where))
                if cond.unconditional(fams):
                    return grants, "accept"
            elif verdict in DROP_VERDICTS:
                if cond.unconditional(fams):
                    return grants, "drop"
            elif verdict in ("jump", "goto"):
                sub_grants, terminal = walk(ruleset, (family, key[1], target), cond, depth + 1, seen + (key,))
                grants.extend(sub_grants)
                if cond.unconditional(fams) and terminal is not None:
                    return grants, terminal
                if verdict == "goto" and cond.unconditional(fams):
                    return grants, None
            elif verdict == "return" and cond.unconditional(fams):
                return grants, None
    return grants, None


def grant_view(cond, where, family):
    sources = cond.sources
    if sources is None:
        sources = [ANY_V4] if family == "ipv4" else [ANY_V6]
    sources = [n for n in sources if family_of(n) == family]
    protos = sorted(cond.protos) if cond.protos is not None else ["any"]
    return {"protos": protos, "ports": cond.ports, "sources": sources, "family": family,
            "ignored_conditions": list(cond.ignored), "where": where}


def intersect_grants(left, right):
    out = []
    for a in left:
        for b in right:
            if "any" in a["protos"]:
                protos = b["protos"]
            elif "any" in b["protos"]:
                protos = a["protos"]
            else:
                protos = sorted(set(a["protos"]) & set(b["protos"]))
            ports = intersect_ports(a["ports"], b["ports"])
            sources = intersect_nets(a["sources"], b["sources"])
            if protos and ports != () and sources:
                out.append(dict(a, protos=protos, ports=ports, sources=sources,
                                ignored_conditions=a["ignored_conditions"] + b["ignored_conditions"]))
    return out


def analyse(ruleset_json):
    """The live ruleset's verdict per family: default drop, chains looked at, effective grants."""
    ruleset = Ruleset(ruleset_json)
    result = {"tables": ["%s %s" % t for t in ruleset.tables()], "chains": [], "families": {}}
    per_family = {fam: [] for fam in FAMILIES}
    for key in ruleset.input_chains():
        chain = ruleset.chains[key]
        grants, terminal = walk(ruleset, key, Cond())
        policy = chain.get("policy", "accept")
        drops = terminal == "drop" or (terminal is None and policy == "drop")
        info = {"chain": "%s %s %s" % key, "policy": policy, "prio": chain.get("prio"),
                "ends_in": terminal or "policy", "default_drop": drops, "accepts": len(grants)}
        result["chains"].append(info)
        for fam in TABLE_FAMILIES[key[0]]:
            per_family[fam].append((info, [grant_view(c, w, fam) for c, w in grants if fam in c.families]))
    for fam in FAMILIES:
        dropping = [(info, grants) for info, grants in per_family[fam] if info["default_drop"]]
        if not dropping:
            effective = [{"protos": ["any"], "ports": None, "sources": [ANY_V4 if fam == "ipv4" else ANY_V6],
                          "family": fam, "ignored_conditions": [], "where": {"chain": None, "comment":
                                                                             "no default-drop input chain"}}]
        else:
            effective = dropping[0][1]
            for _, grants in dropping[1:]:
                effective = intersect_grants(effective, grants)
        result["families"][fam] = {
            "default_drop": bool(dropping),
            "dropping_chains": [info["chain"] for info, _ in dropping],
            "grants": effective,
        }
    return result


def public_grants(grants):
    """Grants as JSON-able evidence."""
    out = Unique()
    for g in grants:
        if set(g["protos"]) & {"tcp", "udp", "any"}:
            out.append({"protocols": g["protos"], "ports": ports_text(g["ports"]), "sources": nets_text(g["sources"]),
                        "family": g["family"], "rule": g["where"], "conditions_not_evaluated": g["ignored_conditions"]})
    return list(out)


# ---------------------------------------------------------------------------------------------
# the declared policy


def normalise_services(services, admin_sources, ssh_port):
    """Declared services (+ SSH from the admin sources) -> list of {name, proto, port, sources}."""
    out = []
    for svc in services or []:
        name = str(svc.get("name") or "")
        proto = str(svc.get("proto") or "tcp").lower()
        if proto not in ("tcp", "udp"):
            raise PolicyError("service %s: proto must be tcp or udp, not %r" % (name, proto))
        try:
            port = int(svc.get("port"))
        except (TypeError, ValueError):
            raise PolicyError("service %s: port %r is not a number" % (name, svc.get("port"))) from None
        if not 0 < port < 65536:
            raise PolicyError("service %s: port %d out of range" % (name, port))
        sources = svc.get("sources")
        out.append({"name": name or "%s/%d" % (proto, port), "proto": proto, "port": port,
                    "sources": networks(sources if sources not in (None, "any") else [])})
    if admin_sources:
        out.append({"name": "ssh (administration)", "proto": "tcp", "port": int(ssh_port),
                    "sources": networks(admin_sources)})
    return out


def judge(analysis, declared):
    """Grants of the live ruleset that go beyond the declared services: list of violations."""
    problems = Unique()
    for fam in FAMILIES:
        for grant in analysis["families"][fam]["grants"]:
            protos = grant["protos"]
            if "any" in protos:
                protos = ["tcp", "udp"]
            for proto in protos:
                if proto not in ("tcp", "udp"):
                    continue
                ranges = grant["ports"] if grant["ports"] is not None else ALL_PORTS
                mine = [d for d in declared if d["proto"] == proto]
                beyond = subtract_ports(ranges, {d["port"] for d in mine})
                if beyond:
                    problems.append({
                        "family": fam, "proto": proto, "ports": ports_text(beyond),
                        "sources": nets_text(grant["sources"]), "rule": grant["where"],
                        "why": "accepted but not declared" if analysis["families"][fam]["default_drop"]
                        else "no default drop: every port is open"})
                for port in sorted({d["port"] for d in mine}):
                    if not any(lo <= port <= hi for lo, hi in ranges):
                        continue
                    allowed = [n for d in mine if d["port"] == port for n in d["sources"]]
                    if not covered_by(grant["sources"], allowed):
                        problems.append({
                            "family": fam, "proto": proto, "ports": str(port),
                            "sources": nets_text(grant["sources"]), "rule": grant["where"],
                            "declared_sources": [str(n) for n in collapse(allowed) if family_of(n) == fam],
                            "why": "open to sources wider than declared"})
    return list(problems)


class Unique(list):
    """A list that keeps the first of equal entries (the same port reached through two jumps)."""

    def append(self, item):
        key = json.dumps(dict((k, v) for k, v in item.items() if k != "rule"), sort_keys=True)
        if key not in getattr(self, "_keys", set()):
            self._keys = getattr(self, "_keys", set()) | {key}
            list.append(self, item)


# ---------------------------------------------------------------------------------------------
# rendering the owned table


def set_text(items):
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


def render(declared, icmp_echo=True, header=None):
    """The complete file for table inet iryo_guard; `declared` as from normalise_services."""
    lines = []
    for line in header or []:
        lines.append("# " + line if line else "#")
    lines += [
        "table %s %s" % (TABLE_FAMILY, TABLE_NAME),
        "delete table %s %s" % (TABLE_FAMILY, TABLE_NAME),
        "",
        "table %s %s {" % (TABLE_FAMILY, TABLE_NAME),
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tct state invalid drop",
        "\t\tct state established,related accept",
        "\t\tiif \"lo\" accept",
        "\t\ticmp type %s accept" % set_text(ICMP_V4_NEEDED + (("echo-request",) if icmp_echo else ())),
        "\t\ticmpv6 type %s accept"
        % set_text(ICMP_V6_NEEDED + (("echo-request",) if icmp_echo else ())),
    ]
    for rule in rule_specs(declared):
        match = ""
        if rule["family"] == "ipv4":
            match = "ip saddr %s " % set_text(rule["sources"])
        elif rule["family"] == "ipv6":
            match = "ip6 saddr %s " % set_text(rule["sources"])
        lines.append("\t\t%s%s dport %s accept comment %s"
                     % (match, rule["proto"], set_text(rule["ports"]), json.dumps(rule["comment"])))
    lines += ["\t}", "}", ""]
    return "\n".join(lines)


def rule_specs(declared):
    """The accept rules of the owned table, grouped (one rule per proto, source list and family)."""
    groups = {}
    for svc in declared:
        nets = svc["sources"]
        anywhere = ANY_V4 in nets and ANY_V6 in nets
        if anywhere:
            parts = [("any", ())]
        else:
            parts = [(fam, tuple(str(n) for n in nets if family_of(n) == fam)) for fam in FAMILIES]
            parts = [(fam, srcs) for fam, srcs in parts if srcs]
        for fam, srcs in parts:
            key = (svc["proto"], fam, srcs)
            group = groups.setdefault(key, {"proto": svc["proto"], "family": fam, "sources": list(srcs),
                                            "ports": [], "names": []})
            if svc["port"] not in group["ports"]:
                group["ports"].append(svc["port"])
            if svc["name"] not in group["names"]:
                group["names"].append(svc["name"])
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1] != "any", k[1], k[2])):
        group = groups[key]
        group["ports"].sort()
        group["comment"] = ", ".join(group["names"])
        out.append(group)
    return out


def guard(declared, client_ip, server_port):
    """Would the rendered ruleset let a NEW connection client_ip -> tcp/server_port in? (bool, how)"""
    address = ipaddress.ip_address(client_ip)
    if address.is_loopback:
        return True, "loopback is accepted"
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    for svc in declared:
        if svc["proto"] == "tcp" and svc["port"] == int(server_port):
            if any(address.version == n.version and address in n for n in svc["sources"]):
                return True, "accepted by %s" % svc["name"]
    return False, None


def admin_paths(declared, ssh_ports):
    """Declared services that give an administrative (SSH) path in, from anywhere they are declared."""
    return [svc for svc in declared if svc["proto"] == "tcp" and svc["port"] in ssh_ports]


def parse_ssh_connection(value):
    """SSH_CONNECTION 'client_ip client_port server_ip server_port' -> dict, or None."""
    parts = str(value or "").split()
    if len(parts) != 4:
        return None
    try:
        ipaddress.ip_address(parts[0])
        ipaddress.ip_address(parts[2].split("%")[0])
        return {"client_ip": parts[0], "client_port": int(parts[1]), "server_ip": parts[2],
                "server_port": int(parts[3])}
    except ValueError:
        return None
