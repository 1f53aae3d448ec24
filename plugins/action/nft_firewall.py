# Controller half of the nft_firewall module: see iryo_guard/check_action.py and docs/firewall.md.
#
# Besides enriching findings like every check, it does the two things only the controller can do:
# - tell the host which address Ansible is connected from: SSH_CONNECTION read over the same
#   connection WITHOUT become (sudo's env_reset drops it, so the module's own environment cannot be
#   trusted to have it);
# - confirm an applied ruleset over a NEW connection ("commit confirmed"): reset the connection (ssh:
#   stop the ControlPersist master; paramiko: reconnect), run the module with state=confirmed, which
#   cancels the host's rollback timer and persists the ruleset. If that new connection cannot be made,
#   the timer on the host restores the previous table by itself.
import sys
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for iryo_guard

from iryo_guard.check_action import CheckAction  # noqa: E402

NO_SSH = ("local",)


class ActionModule(CheckAction):

    def ssh_connection(self):
        """SSH_CONNECTION of this very session as the host sees it, read without become."""
        if self._connection.transport in NO_SSH:
            return ""
        try:
            res = self._low_level_execute_command('echo "$SSH_CONNECTION"', sudoable=False)
        except AnsibleError:
            return ""
        return (res.get("stdout") or "").strip() if res.get("rc") == 0 else ""

    def execute_check(self, task_vars):
        args = dict(self._task.args)
        state = args.get("state") or "audit"
        if state not in ("enforced", "confirmed"):
            return super().execute_check(task_vars)
        confirm = boolean(args.pop("confirm", True), strict=False)
        args["connection_type"] = self._connection.transport
        if not args.get("connection"):
            args["connection"] = self.ssh_connection()
        result = self._execute_module(module_name=self._task.action, module_args=args, task_vars=task_vars)
        if result.get("failed") or not result.get("pending_confirmation"):
            return result
        timeout = args.get("rollback_timeout", 120)
        if not confirm:
            result.setdefault("warnings", []).append(
                "nft_firewall: confirmation skipped on purpose (confirm=false); the host restores its previous "
                "table in %s s and nothing was persisted" % timeout)
            return result

        first = args["connection"]
        try:
            self._connection.reset()
            again = self.ssh_connection()
            confirmed = self._execute_module(module_name=self._task.action,
                                             module_args=dict(args, state="confirmed", connection=again or first),
                                             task_vars=task_vars)
        except AnsibleError as exc:
            confirmed = {"failed": True, "msg": str(exc)}
        if confirmed.get("failed") or confirmed.get("unreachable"):
            result.update(failed=True, msg=(
                "nft_firewall: the new ruleset was applied, but a new connection to confirm it failed (%s). "
                "The host restores its previous table within %s s of the change; nothing was persisted."
                % ((confirmed.get("msg") or "no message").strip(), timeout)))
            return result
        result["confirmation"] = {"first_connection": first, "new_connection": again,
                                  "timer_cancelled": bool(confirmed.get("confirmed")),
                                  "persisted": bool(confirmed.get("persisted"))}
        result["pending_confirmation"] = False
        result["diff"] = (result.get("diff") or []) + [d for d in confirmed.get("diff") or [] if d not in
                                                       (result.get("diff") or [])]
        for key in ("findings", "analysis", "violations", "persistent"):
            result[key] = confirmed.get(key, result.get(key))
        result["changed"] = bool(result.get("changed") or confirmed.get("changed"))
        return result
