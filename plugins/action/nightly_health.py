# Controller half of the nightly_health module (check ops.nightly.health): see iryo_guard/rollout_health.py.

from ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard.rollout_health import (
    NightlyHealthAction as ActionModule)

__all__ = ["ActionModule"]
