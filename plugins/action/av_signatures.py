# Controller half of the av_signatures module: see iryo_guard/check_action.py.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.check_action import CheckAction as ActionModule

__all__ = ["ActionModule"]
