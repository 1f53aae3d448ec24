"""Controller-side code of iryo-guard: clause catalog, finding enrichment and reports.

Runs on the control node only (Ansible plugins and tools import it); code that runs on
managed hosts lives in library/ and module_utils/ and uses the standard library only.

The same package runs in two layouts, so every import inside it is relative:
- the checkout: top-level ``iryo_guard`` (tests, tools, bench, lab) and, for the plugins, the same files as
  ``ansible_collections.iryo.guard.plugins.plugin_utils.iryo_guard`` through the committed symlink tree under
  collections/ (docs/collection.md);
- the built collection iryo.guard: a copy at plugins/plugin_utils/iryo_guard/.
"""

from pathlib import Path

CATALOG_MARKER = Path("data") / "catalog"


def find_root(start):
    """The first folder at or above `start` that holds data/catalog: the checkout's root, or the installed
    collection's root (ansible_collections/iryo/guard). Symlinks are resolved first, so the checkout's collection
    view (collections/.../plugin_utils/iryo_guard -> iryo_guard) finds the checkout, never a folder of the view."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / CATALOG_MARKER).is_dir():
            return folder
    raise RuntimeError("iryo-guard: no data/catalog folder at or above %s (neither a checkout nor a collection)"
                       % here)


# REPO_ROOT keeps its name for the code that already uses it: in an installed collection it is the collection's
# root, which has the same roles/, playbooks/ and data/ folders as the checkout.
REPO_ROOT = find_root(Path(__file__).parent)
DATA_DIR = REPO_ROOT / "data"
# The host-side helpers: module_utils/ in the checkout, plugins/module_utils/ in the collection.
MODULE_UTILS_DIR = next((p for p in (REPO_ROOT / "module_utils", REPO_ROOT / "plugins" / "module_utils")
                         if p.is_dir()), REPO_ROOT / "module_utils")
# The checkout has this package at its root; a collection (built or installed) under plugins/plugin_utils/.
IS_CHECKOUT = (REPO_ROOT / "iryo_guard" / "__init__.py").is_file()


def load_yaml(text):
    """YAML data (safe) with libyaml's C parser where PyYAML has it: about ten times faster than the pure
    Python one, which matters because every forked Ansible worker that has not inherited a loaded file
    reads it again."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
