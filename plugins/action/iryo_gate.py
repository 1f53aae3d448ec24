# Controller-only action: see iryo_guard/controller_actions.py.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.controller_actions import GateAction as ActionModule

__all__ = ["ActionModule"]
