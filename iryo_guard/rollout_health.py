"""Check ops.nightly.health: after the nightly changed a host, the host still serves what it served before.

The nightly (playbooks/nightly.yml, through harden.yml's serial play) installs security updates with nobody
watching. An update can stop what a hospital server serves: a maintainer script that restarts a web server
into a broken configuration, a library that no longer loads. So every host of the nightly is looked at twice
by the nightly_health module (library/nightly_health.py, this action plugin):

- `phase: before`, first in the host's turn, before any role changes it: its listening sockets (read on the
  host from /proc/net, module_utils/iryo_sockets.py), the services it declares (c10_isolation_services and its
  host class's policy in data/c10_isolation.yml, sshd's port) and one full TLS handshake from the controller
  with the local OpenSSL to every declared TLS endpoint (c11_tls_endpoints; iryo_guard/tls/session.py). Not a
  compliance verdict: only "does a handshake complete, with which version".
- `phase: after`, after the clause roles and their handlers: the same reads, compared. Every TCP port that
  listened before must still listen (a port from the kernel's ephemeral range only when it is declared: a
  daemon may get another one when it restarts), every declared UDP service that was bound must still be,
  every endpoint whose handshake completed before must still complete one. Services restart when their
  packages are upgraded, so the comparison is repeated until it holds or `wait` seconds have passed. Last, the
  connection is reset and a trivial module runs over a new one: sshd still accepts the controller.

The result is one finding per host (pass, or fail naming what broke) and `iryo_nightly_health.line`, the one
line harden.yml's next task fails the host with. The play runs with max_fail_percentage 0, so that failure
stops the night and the hosts of later batches stay untouched.

`phase: before` also stops a host whose turn comes after a host that did not pass: Ansible (2.19) runs the
next batch when a host of the current one became unreachable (its whole-batch check counts such a host twice),
and a host that an update made unreachable is exactly what must stop the night. Hosts of the same batch that
are not yet changed are never contacted.

Reads only, in check mode too (the connection reset is no change to the host).
"""

import datetime
import time
from concurrent.futures import ThreadPoolExecutor

import yaml
from ansible.errors import AnsibleError

from . import DATA_DIR
from .check_action import CheckAction
from .schema import MAX_SUMMARY, error_finding, fit_summary, make_finding

CHECK = "ops.nightly.health"
RESULT_KEY = "iryo_nightly_health"
AFTER_REGISTER = "iryo_nightly_health_after"  # harden.yml registers the after phase under this name
WILDCARDS = ("0.0.0.0", "::")  # noqa: S104 - addresses read from the host, not bound here
DEFAULT_WAIT = 60
RETRY_INTERVAL = 5
MAX_PHRASES = 4  # problems named in the one line; the finding's evidence lists all


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- what the host declares ---------------------------------------------------------------------

def class_services(group_names, data_dir=DATA_DIR):
    """The inbound services of the host's class (data/c10_isolation.yml class_policies), for its groups."""
    data = yaml.safe_load((data_dir / "c10_isolation.yml").read_text(encoding="utf-8"))
    policies = (data.get("class_policies") or {}).get("value") or {}
    out = []
    for group in group_names or []:
        out.extend(policies.get(group) or [])
    return out


def declared_services(services, ssh_port, group_names):
    """[{name, port, proto}] the host declares: its class's services, c10_isolation_services and sshd."""
    declared, seen = [], set()
    for entry in list(class_services(group_names)) + list(services or []) + [
            {"name": "ssh", "port": ssh_port, "proto": "tcp"}]:
        try:
            key = (str(entry.get("proto") or "tcp").lower(), int(entry["port"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # the input play validated c10_isolation_services; nothing to watch in a malformed entry
        if key not in seen:
            seen.add(key)
            declared.append({"name": str(entry.get("name") or ""), "proto": key[0], "port": key[1]})
    return declared


def endpoints_of(raw_endpoints):
    """[{name, host, port, server_name}] from c11_tls_endpoints (probe_host / probe_port)."""
    out = []
    for entry in raw_endpoints or []:
        if not isinstance(entry, dict) or not entry.get("probe_host") or not entry.get("probe_port"):
            continue
        out.append({"name": str(entry.get("name") or ""), "host": str(entry["probe_host"]),
                    "port": int(entry["probe_port"]), "server_name": entry.get("server_name") or None})
    return out


# ---- observations ------------------------------------------------------------------------------

def handshake(endpoint, timeout=5.0, client_cert=None, client_key=None):
    """One full TLS handshake from here with the local OpenSSL: {target, ok, version, error}.

    `ok` means the handshake completed and the server did not end the session with an alert right after it
    (a TLS 1.3 server that requires a client certificate does that). Never raises for the endpoint."""
    from .tls.hello import Budget, ProbeFailure, resolve  # tlslite: imported when an endpoint is declared
    from .tls.session import run_session

    target = "%s:%d" % (endpoint["host"], endpoint["port"])
    out = {"name": endpoint.get("name") or "", "target": target, "server_name": endpoint.get("server_name"),
           "ok": False, "version": None, "error": None}
    try:
        resolved = resolve(endpoint["host"], endpoint["port"], endpoint.get("server_name"))
        session = run_session(resolved, Budget(timeout, timeout * 3, max_connections=1), http_check=False,
                              client_cert=client_cert or None, client_key=client_key or None)
    except ProbeFailure as exc:
        out["error"] = {"refused": "connection refused", "timeout": "no answer within %g s" % timeout}.get(
            exc.kind, exc.message)
        return out
    out["version"] = session.version
    out["ok"] = bool(session.ok and not session.error)
    if not out["ok"]:
        out["error"] = session.error or session.alert_text() or "the handshake did not complete"
    return out


def handshakes(endpoints, timeout, client_cert=None, client_key=None):
    if not endpoints:
        return []
    with ThreadPoolExecutor(min(8, len(endpoints))) as pool:
        return list(pool.map(lambda e: handshake(e, timeout, client_cert, client_key), endpoints))


def ephemeral(port, ports_range):
    return bool(ports_range) and ports_range[0] <= port <= ports_range[1]


def watched_sockets(listening, declared, ports_range):
    """The sockets that must still be there after the change: TCP listeners outside the ephemeral port range
    or declared, and bound UDP sockets of declared UDP services (other UDP sockets are clients)."""
    wanted = {(d["proto"], d["port"]) for d in declared}
    out = []
    for sock in listening or []:
        key = (sock["proto"], int(sock["port"]))
        if key in wanted or (sock["proto"] == "tcp" and not ephemeral(key[1], ports_range)):
            out.append({"proto": sock["proto"], "address": sock["address"], "port": int(sock["port"]),
                        "processes": list(sock.get("processes") or [])})
    return out


def _covered(sock, after):
    for other in after:
        if other["proto"] != sock["proto"] or int(other["port"]) != sock["port"]:
            continue
        # the same address, or a wildcard that includes it (:: also takes IPv4 unless the socket is v6only)
        if other["address"] in (sock["address"], "::") or (
                other["address"] == "0.0.0.0" and ":" not in sock["address"]):  # noqa: S104
            return True
    return False


# ---- the verdict -------------------------------------------------------------------------------

def problems_of(snapshot, listening, tls_after):
    """What the host no longer serves, [{kind, what, detail}]: endpoints first (what patients and clinics see),
    then ports."""
    problems = []
    now = {t["target"]: t for t in tls_after or []}
    for before in snapshot.get("tls") or []:
        if not before.get("ok"):
            continue  # it did not complete a handshake before the change either: nothing the night broke
        after = now.get(before["target"]) or {"ok": False, "error": "not probed"}
        if not after.get("ok"):
            problems.append({"kind": "tls", "what": "%s no longer completes a TLS handshake" % before["target"],
                             "detail": "before: %s; now: %s" % (before.get("version") or "completed",
                                                                 after.get("error") or "failed")})
    declared = {(d["proto"], d["port"]): d["name"] for d in snapshot.get("declared") or []}
    gone = [s for s in snapshot.get("watched") or [] if not _covered(s, listening or [])]
    by_port = {}
    for sock in gone:
        by_port.setdefault((sock["proto"], sock["port"]), []).append(sock)
    for (proto, port), socks in sorted(by_port.items(), key=lambda item: (item[0][1], item[0][0])):
        labels = [declared[(proto, port)]] if declared.get((proto, port)) else []
        labels += sorted({p for s in socks for p in s["processes"]} - set(labels))
        subject = "%d/%s%s" % (port, proto, " (%s)" % ", ".join(labels) if labels else "")
        problems.append({"kind": "socket", "what": "%s no longer listens" % subject,
                         "detail": "before: on %s" % ", ".join(sorted({s["address"] for s in socks}))})
    return problems


def ssh_problem(error, limit=120):
    """The refused connection; a connection error ends with its cause (ssh: connect to host ...: Connection
    refused), so a long one keeps its end."""
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = "\u2026" + text[-(limit - 1):].lstrip()
    return {"kind": "ssh", "what": "sshd no longer accepts a new connection from the controller", "detail": text}


def phrases(problems, run_name):
    """'A after the nightly (detail); B (detail)': the run is named once, after the first problem."""
    parts = []
    for index, problem in enumerate(problems[:MAX_PHRASES]):
        text = problem["what"] + (" after %s" % run_name if index == 0 else "")
        parts.append(text + (" (%s)" % problem["detail"] if problem.get("detail") else ""))
    if len(problems) > MAX_PHRASES:
        parts.append("and %d more (see the report)" % (len(problems) - MAX_PHRASES))
    return "; ".join(parts)


def fail_summary(problems, run_name):
    """The finding's sentence: what is no longer served (cut to fit), then what is required (never cut)."""
    tail = "; required: what the host served before the change still served"
    return fit_summary(phrases(problems, run_name), MAX_SUMMARY - len(tail)) + tail


def stop_tail(untouched):
    if not untouched:
        return "the night stopped (no host was left to change)"
    return "the night stopped, %d host%s untouched" % (len(untouched), "" if len(untouched) == 1 else "s")


def one_line(host, problems, untouched, run_name="the nightly"):
    """The line the host fails with: host, what broke, what happens to the rest of the night."""
    return "%s: %s; %s" % (host, phrases(problems, run_name), stop_tail(untouched))


def verdict(host, snapshot, listening, tls_after, ssh_error, untouched, waited, run_name="the nightly"):
    """(finding, line): one ops.nightly.health finding for the host, and the line to fail with (None: passed)."""
    problems = problems_of(snapshot, listening, tls_after)
    if ssh_error:
        problems.append(ssh_problem(ssh_error))
    evidence = {
        "before": {"taken": snapshot.get("taken"), "listening": snapshot.get("watched") or [],
                   "tls": snapshot.get("tls") or []},
        "after": {"listening": watched_sockets(listening, snapshot.get("declared") or [],
                                               snapshot.get("ephemeral_ports")),
                  "tls": tls_after or [], "ssh_new_connection": "accepted" if not ssh_error else ssh_error},
        "declared": snapshot.get("declared") or [],
        "ephemeral_ports": snapshot.get("ephemeral_ports"),
        "waited_s": round(waited, 1),
        "untouched_hosts": list(untouched),
        "problems": ["%s (%s)" % (p["what"], p["detail"]) if p.get("detail") else p["what"] for p in problems],
    }
    expected = {"listening": "every port that listened before the change", "tls": "every endpoint that "
                "completed a handshake before", "ssh": "a new connection from the controller is accepted"}
    if problems:
        finding = make_finding(
            CHECK, "fail", severity="high", target=host, evidence=evidence, expected=expected,
            remediation="Look at the host now: the night's changes (the C.12 findings of this run list the updates "
                        "installed) stopped what it served. Restore the service (or roll the package back), then run "
                        "the nightly again; the hosts not yet changed wait for it.",
            summary=fail_summary(problems, run_name))
        return finding, one_line(host, problems, untouched, run_name)
    served = len(snapshot.get("watched") or [])
    tls = [t for t in snapshot.get("tls") or [] if t.get("ok")]
    tls_text = ("TLS handshakes with %s" % ", ".join("%s (%s)" % (t["target"], t.get("version")) for t in tls[:3])
                if tls else "no TLS endpoint declared")
    finding = make_finding(
        CHECK, "pass", severity="high", target=host, evidence=evidence, expected=expected,
        summary="after %s the host still serves what it served before: %d listening port%s, %s, and sshd "
                "accepted a new connection" % (run_name, served, "" if served == 1 else "s", tls_text))
    return finding, None


def earlier_hosts(order, batch):
    """Hosts of the play whose turn came before this batch's (Ansible slices the play's host list in order)."""
    positions = [order.index(h) for h in batch if h in order]
    return order[:min(positions)] if positions else []


def passed(hostvars, host):
    """Did the host come through its after-phase health check in this run (harden.yml registers it)?

    No registered result: the host failed or became unreachable before the check ran. A result without a
    verdict that did not fail (the check switched off, or undecided in check mode, where nothing changed)
    lets the night go on; any other result must say ok."""
    try:
        registered = (hostvars.get(host) or {}).get(AFTER_REGISTER)
    except AnsibleError:
        return False
    if not isinstance(registered, dict) or registered.get("failed") or registered.get("unreachable"):
        return False
    if RESULT_KEY not in registered:
        return True
    return bool((registered.get(RESULT_KEY) or {}).get("ok"))


# ---- the action plugin -------------------------------------------------------------------------

class NightlyHealthAction(CheckAction):
    """Controller half of nightly_health (see the module docstring)."""

    _VALID_ARGS = frozenset(("phase", "before", "endpoints", "services", "ssh_port", "client_cert", "client_key",
                             "timeout", "wait", "run_name"))

    def _args(self):
        args = dict(self._task.args or {})
        phase = args.get("phase")
        if phase not in ("before", "after"):
            raise ValueError("phase must be before or after, not %r" % (phase,))
        try:
            wait = float(args.get("wait", DEFAULT_WAIT))
            timeout = float(args.get("timeout", 5))
            ssh_port = int(args.get("ssh_port") or 22)
        except (TypeError, ValueError) as exc:
            raise ValueError("wait, timeout and ssh_port must be numbers: %s" % exc) from None
        if wait < 0 or timeout <= 0:
            raise ValueError("wait must be >= 0 and timeout > 0 seconds")
        return dict(args, phase=phase, wait=wait, timeout=timeout, ssh_port=ssh_port,
                    run_name=str(args.get("run_name") or "the nightly"))

    def _read_host(self, task_vars):
        """The host's listening sockets and ephemeral port range (the module), or raise AnsibleError."""
        result = self._execute_module(module_name=self._task.action, module_args={}, task_vars=task_vars)
        if result.get("failed") or result.get("unreachable"):
            raise AnsibleError("nightly_health could not read the host: %s" % (result.get("msg") or "no message"))
        return result.get("listening") or [], result.get("ephemeral_ports")

    def _fresh_connection(self, task_vars):
        """None when sshd accepts a new connection from the controller and a trivial module runs, else why not."""
        try:
            self._connection.reset()
            result = self._execute_module(module_name="ansible.builtin.ping", module_args={}, task_vars=task_vars)
        except AnsibleError as exc:
            return str(exc.message if hasattr(exc, "message") else exc) or type(exc).__name__
        if result.get("failed") or result.get("unreachable") or result.get("ping") != "pong":
            return str(result.get("msg") or "the ping module did not answer pong")
        return None

    def _untouched(self, task_vars):
        order = list(task_vars.get("ansible_play_hosts_all") or [])
        batch = list(task_vars.get("ansible_play_batch") or [])
        positions = [order.index(h) for h in batch if h in order]
        return order[max(positions) + 1:] if positions else []

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        try:
            args = self._args()
        except ValueError as exc:
            result = super(CheckAction, self).run(tmp, task_vars)
            return dict(result, failed=True, msg="nightly_health: %s" % exc)
        if args["phase"] == "before":
            refused = self._earlier_batch_failed(task_vars, args["run_name"])
            if refused:  # decided on the controller: this host is not contacted
                result = super(CheckAction, self).run(tmp, task_vars)
                return dict(result, failed=True, changed=False, msg=refused)
        self._args_checked = args
        return super().run(tmp, task_vars)

    def _earlier_batch_failed(self, task_vars, run_name):
        order = list(task_vars.get("ansible_play_hosts_all") or [])
        batch = list(task_vars.get("ansible_play_batch") or [])
        hostvars = task_vars.get("hostvars") or {}
        failed = [h for h in earlier_hosts(order, batch) if not passed(hostvars, h)]
        if not failed:
            return None
        host = task_vars.get("inventory_hostname", "?")
        untouched = [h for h in order if h not in earlier_hosts(order, batch)]
        return ("%s: not changed: %s of an earlier batch did not pass its health check after %s (it failed or could "
                "not be reached; see its own lines); %s" % (host, ", ".join(failed), run_name, stop_tail(untouched)))

    def execute_check(self, task_vars):
        args = self._args_checked
        host = task_vars.get("inventory_hostname", "localhost")
        endpoints = endpoints_of(args.get("endpoints"))
        tls_options = (args["timeout"], args.get("client_cert"), args.get("client_key"))
        try:
            if args["phase"] == "before":
                return self._before(task_vars, endpoints, tls_options, args)
            return self._after(task_vars, host, endpoints, tls_options, args)
        except AnsibleError as exc:
            return {"failed": True, "msg": str(exc.message if hasattr(exc, "message") else exc)}

    def _before(self, task_vars, endpoints, tls_options, args):
        listening, ports_range = self._read_host(task_vars)
        declared = declared_services(args.get("services"), args["ssh_port"], task_vars.get("group_names"))
        snapshot = {"taken": utc_now(), "declared": declared, "ephemeral_ports": ports_range,
                    "watched": watched_sockets(listening, declared, ports_range),
                    "tls": handshakes(endpoints, *tls_options)}
        served = ["%d/%s" % (s["port"], s["proto"]) for s in snapshot["watched"]]
        tls = ["%s (%s)" % (t["target"], t["version"]) for t in snapshot["tls"] if t["ok"]]
        return {"changed": False, "findings": [], RESULT_KEY: {"ok": True, "snapshot": snapshot},
                "msg": "before the change: listening %s; TLS %s" % (", ".join(sorted(set(served))) or "nothing",
                                                                  ", ".join(tls) or "no declared endpoint")}

    def _after(self, task_vars, host, endpoints, tls_options, args):
        before = args.get("before") or {}
        snapshot = (before.get(RESULT_KEY) or {}).get("snapshot") if isinstance(before, dict) else None
        if not snapshot:
            message = "no snapshot from before the change (the before phase did not run for this host)"
            line = "%s: %s; %s" % (host, message, stop_tail(self._untouched(task_vars)))
            return {"changed": False, RESULT_KEY: {"ok": False, "line": line},
                    "findings": [error_finding(CHECK, message, target=host, summary="could not decide: " + message)]}
        started = time.monotonic()
        deadline = started + args["wait"]
        while True:  # services restart when their packages are upgraded: give them `wait` seconds
            listening, _ = self._read_host(task_vars)
            tls_after = handshakes(endpoints, *tls_options)
            if not problems_of(snapshot, listening, tls_after) or time.monotonic() >= deadline:
                break
            time.sleep(max(0.0, min(RETRY_INTERVAL, deadline - time.monotonic())))
        ssh_error = self._fresh_connection(task_vars)
        while ssh_error and time.monotonic() < deadline:
            time.sleep(max(0.0, min(RETRY_INTERVAL, deadline - time.monotonic())))
            ssh_error = self._fresh_connection(task_vars)
        finding, line = verdict(host, snapshot, listening, tls_after, ssh_error, self._untouched(task_vars),
                                time.monotonic() - started, args["run_name"])
        return {"changed": False, "findings": [finding], RESULT_KEY: {"ok": line is None, "line": line},
                "msg": line or finding["summary"]}
