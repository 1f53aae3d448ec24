# Controller half of the backup_freshness module: see iryo_guard/check_action.py.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for iryo_guard

from iryo_guard.check_action import CheckAction as ActionModule  # noqa: E402

__all__ = ["ActionModule"]
