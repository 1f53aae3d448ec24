"""Load a module from library/ as a plain Python module, for tests of its functions."""

import importlib
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def register_module_utils():
    """Every module_utils/*.py under ansible.module_utils.<name>, in an order that satisfies their imports
    of each other (a module that imports one not yet registered is retried after the others)."""
    pending = [path.stem for path in sorted((REPO / "module_utils").glob("*.py"))
               if "ansible.module_utils." + path.stem not in sys.modules]
    while pending:
        progress = False
        for stem in list(pending):
            try:
                sys.modules["ansible.module_utils." + stem] = importlib.import_module(stem)
            except ModuleNotFoundError as exc:
                if not str(exc.name).startswith("ansible.module_utils.iryo"):
                    raise
                sys.modules.pop(stem, None)
                continue
            pending.remove(stem)
            progress = True
        if not progress:
            raise ImportError("module_utils import each other in a circle: %s" % ", ".join(pending))


def load_library_module(name):
    """The logic of check module <name> as a plain Python module, so its functions can be tested directly:
    module_utils/iryo_check_<name>.py where the module's logic lives there (modules a clause module runs,
    module_utils/iryo_clause.py), else library/<name>.py itself. Every module_utils/*.py is registered
    under ansible.module_utils.* as AnsiballZ would ship them."""
    register_module_utils()
    if (REPO / "module_utils" / ("iryo_check_%s.py" % name)).exists():
        return sys.modules["ansible.module_utils.iryo_check_%s" % name]
    spec = importlib.util.spec_from_file_location(name, REPO / "library" / ("%s.py" % name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
