# Controller half of the iryo_cl clause module (library/iryo_cl.py): see iryo_guard/check_action.py
# (ClauseAction: --tags/--skip-tags per check module, unattended hold-back per check module).

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import ClauseAction as ActionModule

__all__ = ["ActionModule"]
