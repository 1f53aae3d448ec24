"""Write one run's report files (report.json, report.html, junit.xml) and keep its history.

The reports list every host's weaknesses: folders are created 0700 and files 0600 whatever the
process's umask (ansible-playbook run by hand keeps the usual 022; the nightly unit sets UMask=0077 too).
"""

import os
from pathlib import Path

from .. import history
from ._common import clause_ids
from .html import render_html
from .junit import render_junit
from .model import private_file, write_json

FOLDER_MODE = 0o700


def _write_text(path, text):
    tmp = "%s.tmp" % path
    with private_file(tmp) as handle:
        handle.write(text)
    os.replace(tmp, path)


def _private_dir(path):
    path.mkdir(mode=FOLDER_MODE)
    os.chmod(path, FOLDER_MODE)  # mkdir's mode is filtered by the umask; this is the mode we mean


# The folder this process's run writes to, once the report callback has reserved it. The audit gate
# (iryo_guard.controller_actions.GateAction) names it in its one-line failure. The callback reserves
# the folder in the controller's main process when the gate task starts; Ansible forks the worker
# that runs the gate after that (ansible.utils.multiprocessing uses the fork start method), so the
# worker sees this module's state as the callback left it.
_CURRENT = {"dir": None}


def reserve_run_dir(reports_root, run_id):
    """Create and return reports_root/<run id>/ (<run id>-2, -3, ... when taken: two runs in the same
    second must not write into one folder). mkdir is atomic, so two processes never get the same one."""
    root = Path(reports_root)
    if not root.is_dir():
        # A root we create is private; an existing one keeps the mode its owner gave it (e.g. an inbox that a
        # merge run reads), its run folders and the history are private either way.
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            _private_dir(root)
        except FileExistsError:
            pass
    out, suffix = root / run_id, 1
    while True:
        try:
            _private_dir(out)
        except FileExistsError:
            suffix += 1
            out = root / ("%s-%d" % (run_id, suffix))
            continue
        _CURRENT["dir"] = out
        return out


def publish_verdicts(findings, hosts, unreachable):
    """What the audit gate judges: {host: {(check, target): status}} from the findings the report
    callback collected in this run (a later finding for the same check and target replaces an earlier
    one: harden and the nightly enforce and report in one call, an older run's audit may precede), the
    hosts it saw, and the unreachable ones. Set in the main process when the gate task starts; the
    gate's forked worker reads it (current_verdicts). Findings never travel as host facts: a fact
    cache would feed an old run's findings to the gate."""
    verdicts = dict((host, {}) for host in hosts)
    for finding in findings:
        verdicts.setdefault(finding.get("host"), {})[(finding.get("check"), str(finding.get("target")))] = \
            finding.get("status")
    _CURRENT["verdicts"] = {"hosts": verdicts, "unreachable": sorted(unreachable)}


def current_verdicts():
    """The verdicts published for this run, or None when no report callback published any."""
    return _CURRENT.get("verdicts")


def current_report_html():
    """report.html of this process's run when its folder is reserved, else None."""
    return _CURRENT["dir"] / "report.html" if _CURRENT["dir"] is not None else None


def release_run_dir(out):
    """Remove a reserved folder that stayed empty (the run had nothing to report)."""
    try:
        Path(out).rmdir()
    except OSError:
        pass
    if _CURRENT["dir"] == Path(out):
        _CURRENT["dir"] = None


def write_reports(report, reports_root, out=None):
    """Write the run's files under reports_root/<run id>/ (or ``out``, a folder reserve_run_dir gave),
    append reports_root/history.jsonl and point reports_root/latest at the run. Returns the paths plus
    `entry` (the history line) and `regressions` (what got worse since the earlier runs,
    iryo_guard.history.regressions)."""
    root = Path(reports_root)
    out = Path(out) if out is not None else reserve_run_dir(root, report["run"]["id"])
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
