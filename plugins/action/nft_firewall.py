# Controller half of the nft_firewall module: see iryo_guard/check_action.py and docs/firewall.md.
#
# Besides enriching findings like every check, it does the two things only the controller can do
# (iryo_guard/nft_confirm.py, shared with the iryo_c10 clause module's plugin): tell the host which address
# Ansible is connected from, and confirm an applied ruleset over a NEW connection ("commit confirmed"), so
# that the host's rollback timer restores the previous table if the controller cannot get back in.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard import nft_confirm
from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import CheckAction


class ActionModule(CheckAction):

    def execute_check(self, task_vars):
        if (self._task.args.get("state") or "audit") not in nft_confirm.ENFORCING:
            return super().execute_check(task_vars)
        args, confirm = nft_confirm.prepare(self, self._task.args)
        result = self._execute_module(module_name=self._task.action, module_args=args, task_vars=task_vars)
        if result.get("failed") or not result.get("pending_confirmation"):
            return result
        timeout = args.get("rollback_timeout", 120)
        if not confirm:
            result.setdefault("warnings", []).append(nft_confirm.skipped_warning(timeout))
            return result

        def run(options):
            return self._execute_module(module_name=self._task.action, module_args=options, task_vars=task_vars)

        confirmed, again = nft_confirm.reconnect_and_confirm(self, args, run)
        if confirmed.get("failed") or confirmed.get("unreachable"):
            result.update(failed=True, msg=nft_confirm.unconfirmed_message(confirmed, timeout))
            return result
        return nft_confirm.merge_confirmation(result, confirmed, args["connection"], again)
