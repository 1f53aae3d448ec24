# Controller-only action: the host order of harden.yml's serial play, see iryo_guard/rollout.py.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.rollout import RolloutPlanAction as ActionModule

__all__ = ["ActionModule"]
