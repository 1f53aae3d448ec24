"""The HTML report in a real browser: headless Chromium opens it from disk (file://).

Run with ``pytest -m browser tests/integration/test_report_browser.py``. Fails when
/usr/bin/chromium is missing (`./iryo setup` installs it). Set IRYO_GUARD_UPDATE_SCREENSHOT=1 to copy the screenshot to
docs/report-screenshot.png (the picture in docs/report.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from iryo_guard.report import render_html

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = "/usr/bin/chromium"
FIXTURE = ROOT / "tests" / "fixtures" / "report-sample.json"
DOC_SCREENSHOT = ROOT / "docs" / "report-screenshot.png"
TIMEOUT = 120

pytestmark = [
    pytest.mark.browser,
    pytest.mark.requires_tools(CHROMIUM),
]


@pytest.fixture(scope="module")
def report():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def report_file(report, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                          check=False)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_screenshot_renders(report_file, tmp_path):
    png = tmp_path / "report.png"
    result = chromium(tmp_path, f"--screenshot={png}", "--window-size=1400,1000", report_file.as_uri())
    assert png.exists(), result.stderr[-2000:]
    assert png_size(png) == (1400, 1000)
    # A blank page compresses to a few kilobytes; the matrix with badges and text does not.
    assert png.stat().st_size > 20_000
    if os.environ.get("IRYO_GUARD_UPDATE_SCREENSHOT"):
        shutil.copyfile(png, DOC_SCREENSHOT)


def test_script_ran_and_kept_the_dom(report, report_file, tmp_path):
    result = chromium(tmp_path, "--dump-dom", report_file.as_uri())
    dom = result.stdout
    assert "</html>" in dom, result.stderr[-2000:]
    # The script ran to its end: it marks the root and adds the toolbar.
    assert re.search(r'<html[^>]*\bdata-js="ready"', dom)
    assert 'id="ig-toolbar"' in dom
    # The matrix is intact: one cell per host and clause.
    cells = re.findall(r'<td class="cell[ "]', dom)
    assert len(cells) == len(report["hosts"]) * len(report["clauses"])
    # Hostile evidence stayed text: the only script element is the report's own.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert dom.count("<script") == 1


def _open_drills(dom: str) -> list[str]:
    tags = re.findall(r'<details class="drill[^"]*"[^>]*>', dom)
    return [re.search(r'id="([^"]+)"', t).group(1) for t in tags if re.search(r"\bopen\b", t)]


def test_cell_link_opens_the_drilldown(report_file, tmp_path):
    page = report_file.read_text(encoding="utf-8")
    link = re.search(r'<tr class="row-host" data-host="portal">.*?</tr>', page, re.S).group(0)
    cell = r'<td class="cell" data-clause="C\.12"[^>]*><a class="cell-link" href="#([^"]+)"'
    href = re.search(cell, link).group(1)
    result = chromium(tmp_path, "--dump-dom", report_file.as_uri() + "#" + href)
    assert _open_drills(result.stdout) == ["d-portal-C.12"], result.stderr[-2000:]


def test_cell_link_opens_the_drilldown_without_javascript(report_file, tmp_path):
    page = report_file.read_text(encoding="utf-8")
    nojs = tmp_path / "nojs.html"
    nojs.write_text(re.sub(r"<script>.*?</script>", "", page, flags=re.S), encoding="utf-8")
    result = chromium(tmp_path, "--dump-dom", nojs.as_uri() + "#cell-ehr-C.12")
    assert 'data-js="ready"' not in result.stdout
    assert _open_drills(result.stdout) == ["d-ehr-C.12"], result.stderr[-2000:]
