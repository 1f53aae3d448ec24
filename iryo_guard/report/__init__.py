"""Report renderers: the report model (report.json) as HTML, JUnit XML and a terminal table.

Each renderer takes the model dict built by ``iryo_guard.report.model`` and returns text.
"""

from .html import render_html
from .junit import render_junit
from .terminal import render_table

__all__ = ["render_html", "render_junit", "render_table"]
