"""Controller-side code of iryo-guard: clause catalog, finding enrichment and reports.

Runs on the control node only (Ansible plugins and tools import it); code that runs on
managed hosts lives in library/ and module_utils/ and uses the standard library only.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"


def load_yaml(text):
    """YAML data (safe) with libyaml's C parser where PyYAML has it: about ten times faster than the pure
    Python one, which matters because every forked Ansible worker that has not inherited a loaded file
    reads it again."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
