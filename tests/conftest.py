"""Shared fixtures. Unit tests need nothing; lab tests get the lab from tests/lab_fixtures.py."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "module_utils"))  # host-side helpers, imported as plain modules in tests
sys.path.insert(0, str(REPO / "tests"))  # test helpers (library_loader); conftest names collide across folders

