# Controller half of the sshd_hardening module: see iryo_guard/check_action.py and docs/ssh.md.
#
# The lockout guard must know who Ansible logs in as, from which address sshd sees it, and whether it may log in
# with a password. With become the module runs under sudo, which resets the environment (no SSH_CONNECTION), and
# root inside a container lacks CAP_SYS_PTRACE, so it cannot read the login shell's /proc/PID/environ either. The
# robust way: before the module, run one command over the same connection WITHOUT become; sshd set SSH_CONNECTION
# in that login session. Whether a password is in play only the controller knows (play context, connection options,
# variables). After an enforced change the controller logs in again over a NEW connection and confirms it; if it
# cannot, the timer the module armed on the host restores the previous drop-in (as nft_firewall does).

import time

from ansible.errors import AnsibleError

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import CheckAction

PROBE = "printf 'IRYO-CONN|%s|%s\\n' \"$SSH_CONNECTION\" \"$(id -un)\""
# Every variable a connection plugin of ansible-core reads a login password from (ssh: ansible_password,
# ansible_ssh_pass, ansible_ssh_password; paramiko: also ansible_paramiko_pass / ansible_paramiko_password).
PASSWORD_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_paramiko_pass",
                 "ansible_paramiko_password")
# Seconds the controller waits beyond the restore timer before it checks that the host lets it in again.
AFTER_TIMER = 8


def parse_probe(stdout):
    """'IRYO-CONN|<src> <sport> <dst> <dport>|<user>' -> (source, user); None for what is not there."""
    for line in (stdout or "").splitlines():
        if line.startswith("IRYO-CONN|"):
            _, conn, user = (line.split("|") + ["", ""])[:3]
            parts = conn.split()
            return (parts[0] if len(parts) == 4 else None), (user.strip() or None)
    return None, None


def password_source(play_context, connection, task_vars):
    """Where a login password for this connection comes from (a name for the message), or None.

    --ask-pass and connection_password reach the play context; the connection's own `password` option holds
    what its variables gave (ansible_password, ansible_ssh_pass, ansible_ssh_password, ...). With a password
    set, ssh (sshpass) and paramiko may authenticate with it, so the connection counts as password-based."""
    for name in PASSWORD_VARS:
        if (task_vars or {}).get(name):
            return name
    try:
        if connection is not None and connection.get_option("password"):
            return "the connection's password option"
    except (AttributeError, KeyError, AnsibleError):
        pass
    if getattr(play_context, "password", None):
        return "--ask-pass / connection_password"
    return None


class ActionModule(CheckAction):
    def execute_check(self, task_vars):
        args = dict(self._task.args)
        transport = getattr(self._connection, "transport", None) or self._play_context.connection
        args.setdefault("connection_transport", transport)
        if not args.get("connection_source") and transport not in ("local", "ansible.builtin.local"):
            result = self._low_level_execute_command(PROBE, sudoable=False)
            source, user = parse_probe(result.get("stdout"))
            if source:
                args["connection_source"] = source
            if user and not args.get("connection_user"):
                args["connection_user"] = user
        if not args.get("connection_user"):
            user = None
            try:
                user = self._connection.get_option("remote_user")
            except (AttributeError, KeyError):
                pass
            args["connection_user"] = user or task_vars.get("ansible_user") or self._play_context.remote_user
        found = password_source(self._play_context, self._connection, task_vars)
        if found:
            args["connection_auth"] = "password"
            args["connection_password_source"] = found
        result = self._execute_module(module_name=self._task.action, module_args=args, task_vars=task_vars)
        if result.get("failed") or not result.get("pending_confirmation"):
            return result
        return self.confirm(args, result, task_vars)

    def confirm(self, args, result, task_vars):
        """Log in again over a NEW connection (the ControlMaster / paramiko session is closed first) and cancel
        the host's restore timer; when that fails, wait for the timer and check that the host lets us in again."""
        armed_at = time.monotonic()
        timeout = int(result["rollback"]["timeout"])
        confirmed = {}
        try:
            self._connection.reset()
            confirmed = self._execute_module(module_name=self._task.action,
                                             module_args=dict(args, state="confirmed"), task_vars=task_vars)
        except AnsibleError as exc:
            confirmed = {"failed": True, "msg": str(exc)}
        if not confirmed.get("failed") and not confirmed.get("unreachable") and confirmed.get("confirmed"):
            merged = dict(result, pending_confirmation=False,
                          confirmation={"fresh_login": True, "timer_cancelled": True})
            for key in ("findings", "effective", "probes"):
                if key in confirmed:
                    merged[key] = confirmed[key]
            return merged
        if confirmed.get("failed") or confirmed.get("unreachable"):
            why = " ".join(str(confirmed.get("msg") or "no message").split())[:300]
        else:
            why = "the restore timer had already fired"
        time.sleep(max(0, timeout - (time.monotonic() - armed_at)) + AFTER_TIMER)
        back = "and the controller can log in again"
        try:
            self._connection.reset()
            again = self._low_level_execute_command("true", sudoable=False)
            if again.get("rc") != 0:
                back = "but a new login still fails (rc %s): use the console" % again.get("rc")
        except AnsibleError as exc:
            back = "but a new login still fails (%s): use the console" % " ".join(str(exc).split())[:200]
        result = dict(result, failed=True, pending_confirmation=False,
                      confirmation={"fresh_login": False, "timer_cancelled": False})
        result["msg"] = ("sshd_hardening: the new sshd configuration was applied, but a fresh login from the "
                         "controller failed (%s); the host put the previous drop-in back after %d s %s"
                         % (why, timeout, back))
        return result


__all__ = ["ActionModule", "parse_probe", "password_source"]
