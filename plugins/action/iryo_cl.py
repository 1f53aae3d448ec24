# Controller half of the iryo_cl clause module (library/iryo_cl.py): see iryo_guard/check_action.py
# (ClauseAction: --tags/--skip-tags per check module, unattended hold-back per check module).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for iryo_guard

from iryo_guard.check_action import ClauseAction as ActionModule  # noqa: E402

__all__ = ["ActionModule"]
