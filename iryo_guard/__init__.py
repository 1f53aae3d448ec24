"""Controller-side code of iryo-guard: clause catalog, finding enrichment and reports.

Runs on the control node only (Ansible plugins and tools import it); code that runs on
managed hosts lives in library/ and module_utils/ and uses the standard library only.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
