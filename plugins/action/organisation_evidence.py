# Controller-only action: see iryo_guard/controller_actions.py.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for iryo_guard

from iryo_guard.controller_actions import OrganisationAction as ActionModule  # noqa: E402

__all__ = ["ActionModule"]
