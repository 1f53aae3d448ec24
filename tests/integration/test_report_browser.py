"""The HTML report in a real browser: headless Chromium opens it from disk (file://).

Run with ``pytest -m browser tests/integration/test_report_browser.py``. Fails when
/usr/bin/chromium is missing (`./iryo setup` installs it). Set IRYO_GUARD_UPDATE_SCREENSHOT=1 to copy the screenshot to
docs/report-screenshot.png (the picture in docs/report.md).
"""

from __future__ import annotations

import base64
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


# -- the inspection checklist printed on its own (issue 14 item 4) ---------------------------------------------
#
# report.html#checklist prints the checklist only, on A4 portrait pages (print CSS). Chromium prints it to PDF
# (its page boxes are read from the PDF), and the same page, laid out for print at the width of an A4 page inside
# its margins, is measured over the DevTools protocol (Runtime.evaluate is not bound by the report's CSP).

A4_POINTS = (595.28, 841.89)  # 210 mm x 297 mm
# 190 mm (A4 less the 10 mm margins of @page iryo-checklist) in CSS pixels (96 per inch).
A4_CONTENT_PX = round(190 / 25.4 * 96)


class DevTools:
    """Chromium over --remote-debugging-pipe (commands on fd 3, replies and events on fd 4, NUL-separated)."""

    def __init__(self, profile: Path):
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()

        def wire():
            # Through fds above 4 first: a pipe end may itself be 3 or 4, and dup2 onto itself keeps close-on-exec.
            a, b = os.dup2(os.dup(to_child), 100), os.dup2(os.dup(from_child), 101)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._id, self._events, self.session = b"", 0, [], None

    def _message(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._in, 1 << 20)
            assert chunk, "chromium closed the DevTools pipe"
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self._id:
                assert "error" not in reply, (method, reply["error"])
                return reply["result"]
            self._events.append(reply)

    def wait_for(self, event: str) -> dict:
        for i, message in enumerate(self._events):
            if message.get("method") == event:
                return self._events.pop(i)
        while True:
            message = self._message()
            if message.get("method") == event:
                return message
            self._events.append(message)

    def open(self, url: str, width: int, media: str = "print"):
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable")
        self.send("Emulation.setEmulatedMedia", media=media)
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=1200, deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")  # none for an expression without a value

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self._in)
            os.close(self._out)


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    """Width and height in points of every page of a PDF Chromium wrote (page dictionaries are not compressed)."""
    boxes = re.findall(rb"/Type\s*/Page\b(?:(?!/Type).)*?/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
                       data, re.S)
    assert len(boxes) == len(re.findall(rb"/Type\s*/Page\b", data)), "a page without a MediaBox"
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


def is_a4(size, landscape=False) -> bool:
    want = tuple(reversed(A4_POINTS)) if landscape else A4_POINTS
    return all(abs(got - w) < 1.5 for got, w in zip(size, want))


@pytest.fixture(scope="module")
def checklist_report():
    import checklist_fixture

    report = checklist_fixture.report(targets={"2-6": "2026-03-31"})
    # Hostile to the layout: a summary with no place to break, a long unbroken host name in a vendor sheet.
    item = next(i for i in report["checklist"]["items"] if i["key"] == "2-6")
    item["hosts"][0]["checks"][0].update(status="fail", summary="x" * 400)
    report["checklist"]["per_vendor"][0]["hosts"].append("h" * 120)
    return report


@pytest.fixture(scope="module")
def checklist_file(checklist_report, tmp_path_factory):
    path = tmp_path_factory.mktemp("checklist") / "report.html"
    path.write_text(render_html(checklist_report), encoding="utf-8")
    return path


MEASURE = """(() => {
  const shown = el => !!el && getComputedStyle(el).display !== "none";
  const width = document.documentElement.clientWidth;
  const outside = [];
  document.querySelectorAll("#checklist .cl-sheet, #checklist .cl-sheet *").forEach(el => {
    const box = el.getBoundingClientRect();
    if (box.width && (box.right > width + 0.5 || box.left < -0.5)) {
      outside.push(el.tagName + "." + el.className + " right=" + Math.round(box.right));
    }
  });
  return {width: width, scrollWidth: document.documentElement.scrollWidth, outside: outside.slice(0, 5),
          sheets: document.querySelectorAll("#checklist .cl-sheet").length,
          lang: document.documentElement.getAttribute("data-lang"),
          shown: {checklist: shown(document.getElementById("checklist")),
                  header: shown(document.querySelector("header.top")), matrix: shown(document.getElementById("matrix")),
                  findings: shown(document.getElementById("findings")),
                  clauses: shown(document.getElementById("clauses"))}};
})()"""


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_checklist_prints_alone_within_the_a4_width(checklist_file, checklist_report, tmp_path, lang):
    tools = DevTools(tmp_path / "profile")
    try:
        tools.open(checklist_file.as_uri() + "#checklist", A4_CONTENT_PX)
        if lang == "en":
            tools.evaluate('document.querySelector("label[for=ig-lang-en]").click()')
        measured = tools.evaluate(MEASURE)
        pdf = base64.b64decode(tools.send("Page.printToPDF", preferCSSPageSize=True, printBackground=True)["data"])
    finally:
        tools.close()
    assert measured["lang"] == lang
    assert measured["shown"] == {"checklist": True, "header": False, "matrix": False, "findings": False,
                                 "clauses": False}
    assert measured["sheets"] == 1 + len(checklist_report["checklist"]["per_vendor"])
    assert measured["width"] == A4_CONTENT_PX and measured["scrollWidth"] == A4_CONTENT_PX, measured
    assert measured["outside"] == [], measured["outside"]
    pages = pdf_pages(pdf)
    assert pages and all(is_a4(page) for page in pages), pages
    # Every sheet starts on a page of its own; 18 items with their evidence take at most four pages each.
    assert measured["sheets"] <= len(pages) <= 4 * measured["sheets"], len(pages)


def test_the_whole_report_still_prints_landscape_with_the_checklist_in_portrait(checklist_file, tmp_path):
    pdf = tmp_path / "report.pdf"
    result = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", checklist_file.as_uri())
    assert pdf.exists(), result.stderr[-2000:]
    pages = pdf_pages(pdf.read_bytes())
    assert is_a4(pages[0], landscape=True)  # the header and the matrix
    assert any(is_a4(page) for page in pages) and all(is_a4(p) or is_a4(p, landscape=True) for p in pages)
