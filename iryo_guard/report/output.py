"""Write one run's report files (report.json, report.html, junit.xml) and keep its history."""

import os
from pathlib import Path

from iryo_guard import history
from iryo_guard.report._common import clause_ids
from iryo_guard.report.html import render_html
from iryo_guard.report.junit import render_junit
from iryo_guard.report.model import write_json


def _write_text(path, text):
    tmp = "%s.tmp" % path
    Path(tmp).write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_reports(report, reports_root):
    """Write the run's files under reports_root/<run id>/, append reports_root/history.jsonl and point
    reports_root/latest at the run. Returns the paths plus `entry` (the history line) and
    `regressions` (what got worse since the earlier runs, iryo_guard.history.regressions)."""
    root = Path(reports_root)
    out = root / report["run"]["id"]
    suffix = 1
    while out.exists():  # two runs in the same second must not overwrite each other
        suffix += 1
        out = root / ("%s-%d" % (report["run"]["id"], suffix))
    out.mkdir(parents=True)
    earlier = history.load(root)
    entry = history.entry_from_report(report, out.name)
    trend = history.trend(earlier + [entry], clause_ids(report))
    paths = {"json": out / "report.json", "html": out / "report.html", "junit": out / "junit.xml"}
    write_json(report, paths["json"])
    _write_text(paths["html"], render_html(report, trend=trend))
    _write_text(paths["junit"], render_junit(report))
    # The history line only once the run's files are complete: an entry always has its report.
    paths["history"] = history.append(root, entry)
    latest = root / "latest"
    tmp_link = root / ".latest.tmp"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(out.name)
    os.replace(tmp_link, latest)
    paths["entry"] = entry
    paths["regressions"] = history.regressions(earlier, entry)
    return paths
