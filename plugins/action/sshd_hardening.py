# Controller half of the sshd_hardening module: see iryo_guard/check_action.py.
#
# The lockout guard must know who Ansible logs in as and from which address sshd sees it.
# With become the module runs under sudo, which resets the environment (no SSH_CONNECTION), and
# root inside a container lacks CAP_SYS_PTRACE, so it cannot read the login shell's
# /proc/PID/environ either. The robust way: before the module, run one command over the same
# connection WITHOUT become; sshd set SSH_CONNECTION in that login session. The controller adds
# what only it knows: the connection plugin and whether it authenticates with a password.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import CheckAction

PROBE = "printf 'IRYO-CONN|%s|%s\\n' \"$SSH_CONNECTION\" \"$(id -un)\""


def parse_probe(stdout):
    """'IRYO-CONN|<src> <sport> <dst> <dport>|<user>' -> (source, user); None for what is not there."""
    for line in (stdout or "").splitlines():
        if line.startswith("IRYO-CONN|"):
            _, conn, user = (line.split("|") + ["", ""])[:3]
            parts = conn.split()
            return (parts[0] if len(parts) == 4 else None), (user.strip() or None)
    return None, None


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
        if task_vars.get("ansible_password") or task_vars.get("ansible_ssh_pass"):
            args.setdefault("connection_auth", "password")
        return self._execute_module(module_name=self._task.action, module_args=args, task_vars=task_vars)


__all__ = ["ActionModule", "parse_probe"]
