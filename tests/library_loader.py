"""Load a module from library/ as a plain Python module, for tests of its functions."""

import importlib
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_library_module(name):
    """Import library/<name>.py as a plain module, with every module_utils/*.py registered under
    ansible.module_utils.* as AnsiballZ would ship them, so its functions can be tested directly."""
    for path in sorted((REPO / "module_utils").glob("*.py")):
        sys.modules.setdefault("ansible.module_utils." + path.stem, importlib.import_module(path.stem))
    spec = importlib.util.spec_from_file_location(name, REPO / "library" / ("%s.py" % name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
