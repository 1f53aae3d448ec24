"""The findings schema, shared with the modules.

module_utils/iryo_findings.py is the single definition; modules import it through
AnsiballZ (as ansible.module_utils.iryo_findings in the checkout, as the collection's module_utils in the built
collection), controller code through this bridge, which loads the file by path in either layout.
"""

import importlib.util

from . import MODULE_UTILS_DIR

_PATH = MODULE_UTILS_DIR / "iryo_findings.py"
_spec = importlib.util.spec_from_file_location("iryo_findings", _PATH)
_findings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_findings)

SCHEMA_VERSION = _findings.SCHEMA_VERSION
STATUSES = _findings.STATUSES
SEVERITIES = _findings.SEVERITIES
CELL_PRECEDENCE = _findings.CELL_PRECEDENCE
MAX_SUMMARY = _findings.MAX_SUMMARY
FindingError = _findings.FindingError
make_finding = _findings.make_finding
validate_finding = _findings.validate_finding
cell_status = _findings.cell_status
error_finding = _findings.error_finding
fit_summary = _findings.fit_summary
some = _findings.some
