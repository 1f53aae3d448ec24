"""Self-contained bilingual (Japanese / English) HTML report.

``render_html(report)`` turns the report model (report.json) into one HTML file with inline CSS
and JavaScript. It fetches nothing, opens from disk (file://) and reads without JavaScript:
the language switch is two radio buttons driven by CSS, and every drill-down is a
``<details>`` element that a plain link can reach. JavaScript only adds comfort (remember the
language, open the cell that was clicked, expand all, open everything before printing).

Each finding shows its summary (the one sentence its check wrote) first; its evidence and what is
expected follow as key/value lists and tables, never as raw JSON (report.json keeps the data as is).

Every value taken from the model is escaped with ``html.escape``; the evidence comes from the
audited hosts and is treated as hostile. A Content-Security-Policy that allows only the
report's own script and style (by hash) is a second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import datetime

from ._common import (
    ORG_HOST,
    STATUS_ORDER,
    cell,
    clause_ids,
    finding_summary,
    host_names,
    hosts_by_name,
    index_findings,
    strip_controls,
    text,
    totals,
)

# status -> (symbol, Japanese label, English label). The symbol and the text make the status
# readable without colour.
STATUS_LABELS = {
    "pass": ("\u2713", "適合", "PASS"),
    "fail": ("\u2717", "不適合", "FAIL"),
    "error": ("!", "エラー", "ERROR"),
    "excepted": ("\u2691", "例外承認", "EXCEPTED"),
    "manual": ("\u270e", "手動確認", "MANUAL"),
    "not_applicable": ("\u2298", "対象外", "N/A"),
}

STATUS_HELP = {
    "pass": ("要件を満たしている", "The requirement is met."),
    "fail": ("要件を満たしていない（要是正）", "The requirement is not met: remediate."),
    "error": ("判定できなかった（再実行が必要）", "The check could not decide: fix and run again."),
    "excepted": ("不適合だが有効な例外承認がある", "Not met, but covered by a valid, approved exception."),
    "manual": ("自動では判定できない：証跡を確認する", "Cannot be automated: an auditor reviews evidence."),
    "not_applicable": ("このホストには該当しない", "Does not apply to this host."),
}

CONFIDENCE_LABELS = {
    "confirmed": ("\u2713", "原典確認済", "confirmed"),
    "secondary": ("\u25d0", "二次資料", "secondary"),
    "unconfirmed": ("\u26a0", "未確認", "UNCONFIRMED"),
}

SEVERITY_LABELS = {
    "critical": ("緊急", "critical"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
    "info": ("情報", "info"),
}

GROUP_LABELS = {
    "C": ("最低限のガイドライン（C）", "Minimum requirements (C)"),
    "D": ("推奨されるガイドライン（D）", "Recommended (D)"),
}

ORG_LABEL = ("組織（運用・契約）", "Organisation (policy & contracts)")

LANG_STORAGE_KEY = "iryo-guard.report.lang"


def e(value) -> str:
    """Escape any model value for HTML text or a quoted attribute."""
    return html.escape(strip_controls(text(value)), quote=True)


def bi(ja, en, tag: str = "span", cls: str = "") -> str:
    """The same text in both languages; CSS shows the chosen one."""
    extra = (" " + cls) if cls else ""
    return (f'<{tag} class="l-ja{extra}" lang="ja">{e(ja)}</{tag}>'
            f'<{tag} class="l-en{extra}" lang="en">{e(en)}</{tag}>')


def bi_raw(ja_html: str, en_html: str) -> str:
    """Like ``bi`` for already escaped HTML fragments."""
    return f'<span class="l-ja" lang="ja">{ja_html}</span><span class="l-en" lang="en">{en_html}</span>'


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# Evidence as readable data: a list of objects becomes a table when it has at most this many keys
# and only plain values; a list of plain values stays on one line up to this many items and characters.
DATA_TABLE_MAX_COLUMNS = 8
DATA_INLINE_MAX_ITEMS = 8
DATA_INLINE_MAX_CHARS = 160
DATA_MAX_DEPTH = 8


def _plain(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _plain_or_plain_list(value) -> bool:
    return _plain(value) or (isinstance(value, (list, tuple)) and all(_plain(v) for v in value))


def _none() -> str:
    return f'<span class="nil">{bi("なし", "none")}</span>'


def _scalar(value) -> str:
    if value is None:
        return '<span class="nil">\u2014</span>'
    if isinstance(value, bool):
        return bi("はい", "yes") if value else bi("いいえ", "no")
    return e(value)


def _words(value) -> str:
    """Plain words for data nested deeper than DATA_MAX_DEPTH (no brackets, no quotes)."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_words(v) for v in value)
    return "" if value is None else text(value)


def _key(key) -> str:
    return e(text(key).replace("_", " "))


def render_data(value, depth: int = 0) -> str:
    """Evidence or expected values as HTML: mappings as key/value lists, lists of records as tables,
    lists of words inline or as a list. Every value is escaped; nothing is shown as JSON."""
    if _plain(value):
        return _scalar(value)
    if depth >= DATA_MAX_DEPTH:
        return e(_words(value))
    if isinstance(value, dict):
        if not value:
            return _none()
        rows = "".join(f"<div><dt>{_key(k)}</dt><dd>{render_data(v, depth + 1)}</dd></div>" for k, v in value.items())
        return f'<dl class="data">{rows}</dl>'
    if isinstance(value, (list, tuple)):
        if not value:
            return _none()
        if all(_plain(v) for v in value):
            if len(value) <= DATA_INLINE_MAX_ITEMS and sum(len(text(v)) for v in value) <= DATA_INLINE_MAX_CHARS:
                return '<span class="data-inline">' + ", ".join(_scalar(v) for v in value) + "</span>"
            return '<ul class="data-list">' + "".join(f"<li>{_scalar(v)}</li>" for v in value) + "</ul>"
        if all(isinstance(v, dict) for v in value):
            keys: list = []
            for item in value:
                keys += [k for k in item if k not in keys]
            if len(keys) <= DATA_TABLE_MAX_COLUMNS and all(_plain_or_plain_list(x) for v in value for x in v.values()):
                head = "".join(f'<th scope="col">{_key(k)}</th>' for k in keys)
                body = "".join("<tr>" + "".join(f"<td>{render_data(item[k], depth + 1) if k in item else _scalar(None)}"
                                                "</td>" for k in keys) + "</tr>" for item in value)
                return (f'<div class="data-table"><table><thead><tr>{head}</tr></thead>'
                        f"<tbody>{body}</tbody></table></div>")
        return '<ol class="data-items">' + "".join(f"<li>{render_data(v, depth + 1)}</li>" for v in value) + "</ol>"
    return e(_words(value))


class _Ids:
    """Readable, unique, attribute-safe element ids (host and clause names are data)."""

    def __init__(self):
        self._used: dict[str, str] = {}
        self._taken: set[str] = set()

    def get(self, *parts: str) -> str:
        key = "\x00".join(parts)
        if key in self._used:
            return self._used[key]
        slug = "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", p).strip("_") or "x" for p in parts)
        candidate, n = slug, 2
        while candidate in self._taken:
            candidate, n = f"{slug}-{n}", n + 1
        self._taken.add(candidate)
        self._used[key] = candidate
        return candidate


def status_badge(status, count: int | None = None, small: bool = False) -> str:
    status = text(status)
    sym, ja, en = STATUS_LABELS.get(status, ("?", status or "不明", status.upper() or "UNKNOWN"))
    cls = "st-" + re.sub(r"[^a-z_]", "", status) if status in STATUS_LABELS else "st-unknown"
    count_html = f' <span class="cnt">{count}</span>' if count is not None else ""
    size = " badge-sm" if small else ""
    return (f'<span class="badge {cls}{size}" data-status="{e(status)}">'
            f'<span class="sym" aria-hidden="true">{e(sym)}</span>'
            f'{bi(ja, en)}{count_html}</span>')


def confidence_badge(confidence) -> str:
    conf = text(confidence) or "unconfirmed"
    sym, ja, en = CONFIDENCE_LABELS.get(conf, ("?", conf, conf.upper()))
    cls = "conf-" + (conf if conf in CONFIDENCE_LABELS else "unknown")
    if conf == "unconfirmed":
        # Visible in both languages: an auditor must never miss it.
        label = f'{e(ja)} {e(en)}'
        return (f'<span class="conf {cls}" title="本文は原典で未確認 / text not verified against the source">'
                f'<span aria-hidden="true">{e(sym)}</span> {label}</span>')
    return f'<span class="conf {cls}"><span aria-hidden="true">{e(sym)}</span> {bi(ja, en)}</span>'


def severity_chip(severity, prefix: bool = True) -> str:
    sev = text(severity)
    ja, en = SEVERITY_LABELS.get(sev, (sev, sev))
    cls = "sev-" + (sev if sev in SEVERITY_LABELS else "unknown")
    if prefix:
        ja, en = "重要度 " + ja, "severity " + en
    return f'<span class="sev {cls}">{bi(ja, en)}</span>'


def host_label(name: str) -> str:
    if name == ORG_HOST:
        return bi(*ORG_LABEL)
    return e(name)


def _duration(started, finished) -> str:
    try:
        a = datetime.fromisoformat(text(started))
        b = datetime.fromisoformat(text(finished))
    except ValueError:
        return ""
    seconds = int((b - a).total_seconds())
    if seconds < 0:
        return ""
    minutes, sec = divmod(seconds, 60)
    return f"{minutes} min {sec} s" if minutes else f"{sec} s"


# --------------------------------------------------------------------------------------------
# Sections


def _header(report: dict) -> str:
    run = report.get("run") or {}
    doc = report.get("document") or {}
    tot = totals(report)
    n_findings = len(report.get("findings") or [])
    check_mode = run.get("check_mode")
    if check_mode is False:
        mode = ('<p class="mode mode-enforce">'
                + bi("是正モード：ホストの設定を変更した実行です",
                     "Enforce mode: this run changed host configuration")
                + "</p>")
    else:
        mode = ('<p class="mode mode-check">'
                + bi("監査モード（チェックモード）：ホストは変更されていません",
                     "Audit only (check mode): no host was changed")
                + "</p>")
    playbooks = ", ".join(text(p) for p in run.get("playbooks") or [])
    duration = _duration(run.get("started"), run.get("finished"))
    meta = [
        (("実行 ID", "Run id"), f'<code>{e(run.get("id"))}</code>'),
        (("開始", "Started"), f'<time>{e(run.get("started"))}</time>'),
        (("終了", "Finished"),
         f'<time>{e(run.get("finished"))}</time>' + (f' <span class="muted">({e(duration)})</span>'
                                                     if duration else "")),
        (("プレイブック", "Playbook"), f"<code>{e(playbooks)}</code>"),
        (("コントローラ", "Controller"),
         f'{e(run.get("controller"))} <span class="muted">ansible-core {e(run.get("ansible_core"))}</span>'),
        (("対象文書", "Document"),
         f'{e(doc.get("id"))} <span class="muted">v{e(doc.get("version"))} §{e(doc.get("section"))}</span> '
         + confidence_badge(doc.get("confidence"))),
    ]
    meta_html = "".join(f"<div><dt>{bi(*label)}</dt><dd>{value}</dd></div>" for label, value in meta)
    chips = "".join(
        f'<li><a class="chip st-{s}" href="#status-legend" '
        f'title="{e(STATUS_HELP[s][0])} / {e(STATUS_HELP[s][1])}">'
        f'<span class="sym" aria-hidden="true">{e(STATUS_LABELS[s][0])}</span>'
        f'{bi(STATUS_LABELS[s][1], STATUS_LABELS[s][2])}<b class="num">{tot.get(s, 0)}</b></a></li>'
        for s in STATUS_ORDER)
    n_hosts = len([h for h in host_names(report) if h != ORG_HOST])
    return f"""<header class="top">
<div class="topbar">
<p class="kicker">iryo-guard · {bi("監査報告書", "Audit report")}</p>
<div class="langswitch" role="group" aria-label="言語 / Language">
<label for="ig-lang-ja" lang="ja">日本語</label><label for="ig-lang-en" lang="en">English</label>
</div>
</div>
<h1>{bi(doc.get("title_ja") or "医療情報システムの安全管理に関するガイドライン",
        doc.get("title_en") or "MHLW security guideline for medical information systems")}</h1>
{mode}
<dl class="runmeta">{meta_html}</dl>
<div class="totals-wrap">
<h2 class="sr-only">{bi("集計", "Totals")}</h2>
<p class="totals-caption">{bi(f"所見 {n_findings} 件 · ホスト {n_hosts} 台 + 組織",
                               f"{n_findings} findings · {n_hosts} hosts + organisation")}</p>
<ul class="totals">{chips}</ul>
</div>
</header>"""


def _matrix(report: dict, ids: _Ids, index: dict) -> str:
    clauses = {c.get("id"): c for c in report.get("clauses") or []}
    cols = clause_ids(report)
    hosts = host_names(report)
    hinfo = hosts_by_name(report)

    # Group header row: C (minimum) and D (recommended), in catalog order.
    groups: list[list] = []
    for cid in cols:
        group = text((clauses.get(cid) or {}).get("group") or cid.split(".")[0])
        if groups and groups[-1][0] == group:
            groups[-1][1] += 1
        else:
            groups.append([group, 1])
    group_row = "".join(
        f'<th scope="colgroup" colspan="{n}" class="grp grp-{e(g)}">'
        f'{bi(*GROUP_LABELS.get(g, (g, g)))}</th>' for g, n in groups)

    head = []
    for cid in cols:
        c = clauses.get(cid) or {}
        conf = text(c.get("confidence"))
        warn = ""
        if conf == "unconfirmed":
            warn = ('<span class="colwarn" title="本文未確認 / text UNCONFIRMED">'
                    '<span aria-hidden="true">\u26a0</span><span class="sr-only">UNCONFIRMED</span></span>')
        elif not c:
            warn = '<span class="colwarn" title="カタログにない条項 / clause not in catalog">?</span>'
        title = f'{text(c.get("title_ja"))} / {text(c.get("title_en"))}' if c else cid
        head.append(f'<th scope="col" class="col" data-clause="{e(cid)}">'
                    f'<a href="#{ids.get("clause", cid)}" title="{e(title)}">{e(cid)}</a>{warn}</th>')

    rows = []
    for host in hosts:
        h = hinfo.get(host) or {}
        groups_txt = ", ".join(text(g) for g in h.get("groups") or [])
        unreachable = ""
        if h.get("reachable") is False:
            unreachable = ' <span class="unreach">' + bi("到達不能", "unreachable") + "</span>"
        sub = f'<span class="hgroups">{e(groups_txt)}</span>' if groups_txt else ""
        if host == ORG_HOST:
            sub = '<span class="hgroups">' + bi("手動確認の項目", "manual evidence") + "</span>"
        cells = []
        counts: dict[str, int] = {}
        for cid in cols:
            found = index.get((host, cid)) or []
            for f in found:
                counts[f.get("status")] = counts.get(f.get("status"), 0) + 1
            status = cell(report, host, cid, index)
            if status is None:
                cells.append(f'<td class="cell empty" data-clause="{e(cid)}">'
                             f'<span class="none" title="チェックなし / no check">·</span>'
                             f'<span class="sr-only">{bi("チェックなし", "no check")}</span></td>')
                continue
            tip = (f'{text(host)} × {cid}: {STATUS_LABELS.get(status, ("", status, status))[1]} / '
                   f'{STATUS_LABELS.get(status, ("", status, status))[2]} — '
                   f'{len(found)} 件 / findings')
            cells.append(f'<td class="cell" data-clause="{e(cid)}" data-status="{e(status)}">'
                         f'<a class="cell-link" href="#{ids.get("cell", host, cid)}" title="{e(tip)}">'
                         f'{status_badge(status, small=True)}'
                         f'<span class="ncount">{bi(f"{len(found)}件", plural(len(found), "finding"))}</span>'
                         '</a></td>')
        summary = " ".join(
            f'<span class="mini st-{s}" title="{e(STATUS_LABELS[s][2])}">'
            f'<span aria-hidden="true">{e(STATUS_LABELS[s][0])}</span>{counts[s]}'
            f'<span class="sr-only"> {e(STATUS_LABELS[s][2])}</span></span>'
            for s in STATUS_ORDER if counts.get(s))
        row_cls = "row-org" if host == ORG_HOST else "row-host"
        rows.append(f'<tr class="{row_cls}" data-host="{e(host)}">'
                    f'<th scope="row" class="host"><a href="#{ids.get("host", host)}">{host_label(host)}</a>'
                    f'{unreachable}{sub}</th>{"".join(cells)}<td class="rowsum">{summary}</td></tr>')

    unconfirmed_note = bi("列見出しの ⚠ は、条項本文が原典で未確認（UNCONFIRMED）であることを示します。",
                          "⚠ under a clause id: the clause text is UNCONFIRMED against the source.")
    legend = "".join(
        f'<li>{status_badge(s, small=True)} {bi(*STATUS_HELP[s])}</li>' for s in STATUS_ORDER)
    precedence = bi_raw(" &gt; ".join(e(STATUS_LABELS[s][1]) for s in STATUS_ORDER),
                        " &gt; ".join(e(STATUS_LABELS[s][2]) for s in STATUS_ORDER))
    hint = bi("セルを選ぶとそのホスト・条項の所見を表示します。"
              "空欄（·）はそのホストに該当条項のチェックがないことを示します。",
              "Select a cell to see the findings for that host and clause. "
              "An empty cell (·) means no check for that clause on that host.")
    return f"""<section id="matrix" class="sec">
<h2>{bi("ホスト × 条項 マトリクス", "Host × clause matrix")}</h2>
<p class="hint">{hint}</p>
<div class="tablewrap">
<table class="matrix">
<caption class="sr-only">{bi("ホストごと・条項ごとの判定", "Result per host and clause")}</caption>
<colgroup><col class="c-host">{'<col class="c-clause">' * len(cols)}<col class="c-sum"></colgroup>
<thead><tr><td class="corner" rowspan="2"></td>{group_row}
<th scope="col" class="sumh" rowspan="2">{bi("内訳", "Breakdown")}</th></tr>
<tr>{"".join(head)}</tr></thead>
<tbody>{"".join(rows)}</tbody>
</table>
</div>
<div id="status-legend" class="legend">
<h3>{bi("判定の凡例", "Status legend")}</h3>
<ul>{legend}</ul>
<p class="muted">{bi("セルの判定は、そのセルの所見のうち次の順で最初に現れる状態です：",
                     "A cell shows the first of these statuses that occurs among its findings:")}
<span class="prec">{precedence}</span></p>
<p class="muted">{unconfirmed_note}</p>
</div>
</section>"""


def _kv(label, value_html: str, cls: str = "") -> str:
    return f'<div class="kv {cls}"><dt>{bi(*label)}</dt><dd>{value_html}</dd></div>'


def _exception(exc: dict) -> str:
    expired = bool(exc.get("expired"))
    if expired:
        label = bi("期限切れ（無効）", "EXPIRED: no longer valid")
        state = f'<span class="exc-state exc-expired">{label}</span>'
    else:
        state = f'<span class="exc-state exc-valid">{bi("有効", "valid")}</span>'
    cls = "exception expired" if expired else "exception"
    return (f'<div class="{cls}"><h5>{bi("例外承認", "Exception")} {state}</h5><dl>'
            + _kv(("理由", "Reason"), e(exc.get("reason")))
            + _kv(("承認者", "Approver"), e(exc.get("approver")))
            + _kv(("有効期限", "Expires"), f'<time>{e(exc.get("expires"))}</time>')
            + "</dl></div>")


def _finding(f: dict, fid: str, manual_evidence: list) -> str:
    status = text(f.get("status"))
    src = f.get("source") or {}
    src_html = ""
    if src:
        src_html = (f'{e(src.get("document"))} ' + confidence_badge(src.get("confidence"))
                    if isinstance(src, dict) else e(src))
    fixable = f.get("fixable")
    fix_html = (f'<span class="fix fix-yes">{bi("自動是正：可", "auto-fix: yes")}</span>' if fixable
                else f'<span class="fix fix-no">{bi("自動是正：不可", "auto-fix: no")}</span>')
    remediation = text(f.get("remediation"))
    target = text(f.get("target"))
    check = text(f.get("check"))
    needed = ""
    if status == "manual" and manual_evidence:
        needed = ('<div class="needed"><h5>' + bi("必要な証跡", "Evidence needed") + "</h5><ul>"
                  + "".join(f"<li>{e(x)}</li>" for x in manual_evidence) + "</ul></div>")
    parts = [
        f'<article class="finding st-{e(status)}" id="{fid}" data-status="{e(status)}">',
        '<header class="fhead">',
        status_badge(status),
        severity_chip(f.get("severity")),
        f'<code class="checkid">{e(f.get("check"))}</code>',
        "</header>",
        f'<h4 class="ftitle">{bi(f.get("title_ja") or check, f.get("title_en") or check)}</h4>',
        # The check's own sentence, in English (docs/report.md): what was seen against what is required.
        f'<p class="fsummary" lang="en">{e(finding_summary(f))}</p>',
        '<dl class="fmeta">',
        _kv(("対象", "Target"), f'<code class="target">{e(target)}</code>' if target else "—"),
        _kv(("是正", "Remediation"), (e(remediation) if remediation else "—") + " " + fix_html),
        _kv(("根拠", "Source"), src_html or "—"),
        "</dl>",
        '<div class="ev">',
        (f'<div><h5>{bi("観測値（証跡）", "Evidence (observed)")}</h5>'
         f'<div class="ev-data ev-evidence">{render_data(f.get("evidence"))}</div></div>'),
        (f'<div><h5>{bi("期待値", "Expected")}</h5>'
         f'<div class="ev-data ev-expected">{render_data(f.get("expected"))}</div></div>'),
        "</div>",
        needed,
    ]
    if isinstance(f.get("exception"), dict):
        parts.append(_exception(f["exception"]))
    parts.append("</article>")
    return "\n".join(p for p in parts if p)


def _findings(report: dict, ids: _Ids, index: dict) -> str:
    clauses = {c.get("id"): c for c in report.get("clauses") or []}
    manual_needed = {k.get("id"): k.get("evidence_needed") or []
                     for c in report.get("clauses") or [] for k in c.get("checks") or []
                     if k.get("kind") == "manual"}
    hinfo = hosts_by_name(report)
    out = [f'<section id="findings" class="sec"><h2>{bi("所見の詳細（ホスト別）", "Findings by host")}</h2>']
    for host in host_names(report):
        h = hinfo.get(host) or {}
        groups_txt = ", ".join(text(g) for g in h.get("groups") or [])
        unreachable = ""
        if h.get("reachable") is False:
            unreachable = ' <span class="unreach">' + bi("到達不能", "unreachable") + "</span>"
        out.append(f'<section class="host" id="{ids.get("host", host)}" data-host="{e(host)}">'
                   f'<h3>{host_label(host)}{unreachable}'
                   + (f' <span class="hgroups">{e(groups_txt)}</span>' if groups_txt else "")
                   + "</h3>")
        any_cell = False
        for cid in clause_ids(report):
            found = index.get((host, cid))
            if not found:
                continue
            any_cell = True
            c = clauses.get(cid) or {}
            status = cell(report, host, cid, index)
            body = []
            for f in found:
                body.append(_finding(f, ids.get("f", host, cid, text(f.get("check")), text(f.get("target"))),
                                     manual_needed.get(f.get("check"), [])))
            out.append(
                f'<details class="drill" id="{ids.get("d", host, cid)}" data-status="{e(status)}">'
                f'<summary>{status_badge(status)} <b class="cid">{e(cid)}</b> '
                f'{bi(c.get("title_ja") or cid, c.get("title_en") or cid, cls="ctitle")}'
                f' <span class="muted">{bi(f"{len(found)} 件", plural(len(found), "finding"))}</span>'
                f' <a class="tocl" href="#{ids.get("clause", cid)}">{bi("条項へ", "clause")}</a></summary>'
                # The cell links point inside the <details>: browsers open a closed <details> when
                # a link targets its content, so drill-down works without JavaScript too.
                + f'<div class="drill-body" id="{ids.get("cell", host, cid)}">'
                + "\n".join(body) + "</div></details>")
        if not any_cell:
            none = bi("このホストの所見はありません。", "No findings for this host.")
            out.append(f'<p class="muted">{none}</p>')
        out.append("</section>")
    out.append("</section>")
    return "\n".join(out)


def _clauses(report: dict, ids: _Ids) -> str:
    hint = bi("条項の本文・英語要旨・原典確認の状況・第6.0版との対応・チェック一覧。",
              "Clause text, English summary, how far the text is confirmed, cross-references "
              "to guideline 6.0 and the checks.")
    out = [f'<section id="clauses" class="sec"><h2>{bi("条項一覧", "Clauses")}</h2>',
           f'<p class="hint">{hint}</p>']
    for c in report.get("clauses") or []:
        cid = text(c.get("id"))
        conf = text(c.get("confidence"))
        checks = []
        for k in c.get("checks") or []:
            kind = text(k.get("kind"))
            kind_html = (f'<span class="kind kind-manual">{bi("手動", "manual")}</span>' if kind == "manual"
                         else f'<span class="kind kind-auto">{bi("自動", "automated")}</span>')
            needed = ""
            if kind == "manual" and k.get("evidence_needed"):
                items = "".join(f"<li>{e(x)}</li>" for x in k.get("evidence_needed") or [])
                label = bi("必要な証跡：", "Evidence needed: ")
                needed = f'<div class="needed-inline">{label}<ul>{items}</ul></div>'
            kid = text(k.get("id"))
            if k.get("planned"):
                kind_html += (f' <span class="planned" title="{e(k.get("planned"))}">'
                              f'{bi("実装予定", "planned")}</span>')
            checks.append(f'<tr><td>{kind_html}</td><td><code>{e(kid)}</code></td>'
                          f'<td>{bi(k.get("title_ja") or kid, k.get("title_en") or kid)}{needed}</td>'
                          f'<td>{severity_chip(k.get("severity"), prefix=False)}</td></tr>')
        checks_html = (
            f'<table class="checks"><thead><tr><th scope="col">{bi("種別", "Kind")}</th>'
            f'<th scope="col">{bi("チェック ID", "Check id")}</th><th scope="col">{bi("内容", "What")}</th>'
            f'<th scope="col">{bi("重要度", "Severity")}</th></tr></thead>'
            f'<tbody>{"".join(checks)}</tbody></table>'
            if checks else f'<p class="muted">{bi("iryo-guard のチェックなし", "No iryo-guard checks")}</p>')
        refs = c.get("guideline_6_0") or []
        refs_html = ("<ul class=\"refs\">" + "".join(
            f'<li><b>{e(r.get("ref"))}</b> {e(r.get("note_en"))} {confidence_badge(r.get("confidence"))}</li>'
            for r in refs) + "</ul>") if refs else f'<p class="muted">{bi("対応なし", "none recorded")}</p>'
        out.append(
            f'<article class="clause conf-row-{e(conf)}" id="{ids.get("clause", cid)}">'
            f'<h3><span class="cid">{e(cid)}</span> {bi(c.get("title_ja") or "", c.get("title_en") or "")} '
            f'{confidence_badge(conf)}</h3>'
            f'<blockquote class="text-ja" lang="ja">{e(c.get("text_ja"))}</blockquote>'
            f'<p class="summary-en" lang="en"><span class="lbl">English summary:</span> '
            f'{e(c.get("summary_en"))}</p>'
            f'<p class="csrc muted">{bi("出典：", "Source: ")}{e(c.get("source"))}</p>'
            f'<div class="cgrid"><div><h4>{bi("第6.0版との対応", "Guideline 6.0 cross-references")}</h4>'
            f'{refs_html}</div>'
            f'<div><h4>{bi("チェック", "Checks")}</h4>{checks_html}</div></div>'
            "</article>")
    out.append("</section>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# The MHLW inspection checklist (report model `checklist`, iryo_guard/checklist.py): one sheet for the
# hospital and one per vendor, laid out like the printed sheet (sections, item numbers, はい/いいえ, 確認日,
# 目標日), with what each answer rests on per host. Printed on its own, A4 portrait, from report.html#checklist.

ANSWER_LABELS = {"yes": ("はい", "Yes"), "no": ("いいえ", "No"), "to_confirm": ("要確認", "To confirm")}
ANSWER_HELP = {
    "yes": ("対応するチェックがすべてのホストで適合し、証跡が記録済みかつ有効",
            "every mapped check passes on every host it covers and the mapped evidence is recorded and current"),
    "no": ("対応するチェックがいずれかのホストで不適合、または記録された証跡が期限切れ",
           "a mapped check fails on a host, or recorded evidence has expired"),
    "to_confirm": ("証跡が未記録、判定不能・例外承認・未実装のチェックがある、または対象ホストがない",
                   "evidence not recorded, a check could not decide, is excepted or not implemented yet, "
                   "or no host is covered"),
}
COVERAGE_LABELS = {"full": ("全体", "full"), "partial": ("一部", "partial")}
# How many hosts a compact evidence line names before "+N".
CL_HOSTS_SHOWN = 4


def _cl_answer(answer: str) -> str:
    """The answer as on the paper sheet: はい・いいえ with the chosen one circled; 要確認 when neither can be."""
    if answer == "to_confirm":
        opts = "".join(f'<span class="cl-opt">{bi(*ANSWER_LABELS[a])}</span>' for a in ("yes", "no"))
        return (f'<span class="cl-opts">{opts}</span>'
                f'<span class="cl-pending">{bi(*ANSWER_LABELS["to_confirm"])}</span>')
    opts = "".join(
        (f'<span class="cl-opt cl-sel" aria-current="true">{bi(*ANSWER_LABELS[a])}</span>' if a == answer else
         f'<span class="cl-opt">{bi(*ANSWER_LABELS[a])}</span>')
        for a in ("yes", "no"))
    return f'<span class="cl-opts">{opts}</span>'


def _cl_hosts(names: list) -> str:
    shown = ", ".join(e(n) for n in names[:CL_HOSTS_SHOWN])
    more = len(names) - CL_HOSTS_SHOWN
    return shown + (f' <span class="muted">+{more}</span>' if more > 0 else "")


def _cl_evidence(item: dict) -> str:
    """What the answer rests on, compactly: the hosts where every mapped check passed, each problem once with
    the hosts that have it and the first host's summary, checks that reported nothing, the evidence records."""
    lines = []
    passing = [row.get("host") for row in item.get("hosts") or []
               if all(c.get("status") in ("pass", "not_applicable") for c in row.get("checks") or [])
               and any(c.get("status") == "pass" for c in row.get("checks") or [])]
    if passing:
        lines.append(f'<li class="cl-ok">{status_badge("pass", small=True)} {_cl_hosts(passing)}</li>')
    problems: dict = {}
    for row in item.get("hosts") or []:
        for c in row.get("checks") or []:
            if c.get("status") in ("pass", "not_applicable"):
                continue
            entry = problems.setdefault((text(c.get("check")), text(c.get("status"))), {"hosts": [], "summary": ""})
            if row.get("host") not in entry["hosts"]:
                entry["hosts"].append(row.get("host"))
            if not entry["summary"]:
                entry["summary"] = f'{text(row.get("host"))}: {text(c.get("summary"))}'
    for (check, status), entry in sorted(problems.items(), key=lambda kv: (status_rank_of(kv[0][1]), kv[0][0])):
        lines.append(f'<li>{status_badge(status, small=True)} <code>{e(check)}</code> {_cl_hosts(entry["hosts"])}'
                     f'<span class="cl-sum" lang="en">{e(entry["summary"])}</span></li>')
    for gap in item.get("unreported") or []:
        if gap.get("planned"):
            why = bi("未実装（実装予定）", "not implemented yet (planned)")
        else:
            why = bi("結果なし：", "no result on: ") + _cl_hosts(gap.get("missing_on") or [])
        lines.append(f'<li class="cl-gap"><span class="cl-q" aria-hidden="true">?</span> '
                     f'<code>{e(gap.get("check"))}</code> {why}</li>')
    for record in item.get("evidence") or []:
        status = record.get("status")
        if status == "pass":
            what = (f'{e(record.get("evidence_ref"))} <span class="muted">({e(record.get("last_confirmed"))}, '
                    f'{e(record.get("confirmed_by"))})</span>')
        elif status == "manual":
            what = bi("証跡未記録", "evidence not recorded")
        elif status is None:
            what = bi("この実行に含まれない", "not in this run")
        else:
            what = f'<span class="cl-sum" lang="en">{e(record.get("summary"))}</span>'
        badge = status_badge(status, small=True) if status else '<span class="cl-q" aria-hidden="true">?</span>'
        lines.append(f'<li class="cl-rec">{badge} <span class="cl-reclbl">{bi("証跡", "evidence")}</span> '
                     f'<code>{e(record.get("check"))}</code> {what}</li>')
    return f'<ul class="cl-evlist">{"".join(lines)}</ul>' if lines else ""


def status_rank_of(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def _cl_item(item: dict, sheet_id: str, ids: _Ids) -> str:
    answer = text(item.get("answer"))
    if answer not in ANSWER_LABELS:
        answer = "to_confirm"
    conf = text(item.get("confidence"))
    number = e(item.get("number"))
    if item.get("number_confidence") == "unconfirmed":
        number = (f'<span title="番号は原典で未確認 / number UNCONFIRMED">{number}'
                  '<span class="cl-numwarn" aria-hidden="true">\u26a0</span></span>')
    badge = f" {confidence_badge(conf)}" if conf != "confirmed" else ""
    scope = f' <span class="cl-scope">{e(item.get("scope_ja"))}</span>' if item.get("scope_ja") else ""
    note = f'<span class="cl-note" lang="ja">{e(item.get("note_ja"))}</span>' if item.get("note_ja") else ""
    cov = COVERAGE_LABELS.get(text(item.get("coverage")), (text(item.get("coverage")),) * 2)
    coverage = (f'<div class="cl-cov">{bi("iryo-guard の対応範囲：" + cov[0], "iryo-guard covers: " + cov[1])} '
                f'<span lang="en">{e(item.get("coverage_note"))}</span></div>')
    target = f'<time>{e(item.get("target_date"))}</time>' if item.get("target_date") else ""
    if item.get("target_note"):
        target += f'<span class="cl-tnote" lang="en">{e(item.get("target_note"))}</span>'
    confirmed = f'<time>{e(item.get("confirmed_on"))}</time>' if item.get("confirmed_on") else ""
    return (f'<tr class="cl-item ans-{answer}" id="{ids.get("cl", sheet_id, text(item.get("key")))}" '
            f'data-item="{e(item.get("key"))}" data-answer="{answer}">'
            f'<td class="cl-no">{number}</td>'
            f'<td class="cl-text"><span class="cl-ja" lang="ja">{e(item.get("text_ja"))}</span>{scope}{badge}{note}'
            f'<span class="l-en cl-gloss" lang="en">{e(item.get("gloss_en"))}</span>{coverage}</td>'
            f'<td class="cl-ans">{_cl_answer(answer)}</td>'
            f'<td class="cl-date">{confirmed}</td><td class="cl-target">{target}</td>'
            f'<td class="cl-ev">{_cl_evidence(item)}</td></tr>')


def _cl_sheet(checklist: dict, sheet: dict, sheet_id: str, vendor, ids: _Ids) -> str:
    edition = checklist.get("edition") or {}
    kind = text(sheet.get("sheet")) or "hospital"
    titles = (checklist.get("sheets") or {}).get(kind) or {}
    title_ja = text(titles.get("title_ja")) or ("医療機関確認用" if kind == "hospital" else "事業者確認用")
    title_en = text(titles.get("title_en")) or kind
    heading = bi(f"【{title_ja}】", f"{title_en[:1].upper()}{title_en[1:]}")
    if vendor is not None:
        heading += f' <span class="cl-vendor">{e(vendor)}</span>'
    counts = sheet.get("totals") or {}
    answers = " ".join(f'<span class="cl-count ans-{a}">{bi(*ANSWER_LABELS[a])} <b>{int(counts.get(a, 0))}</b></span>'
                       for a in ("yes", "no", "to_confirm"))
    sections = checklist.get("sections") or []
    by_section: dict = {}
    for item in sheet.get("items") or []:
        by_section.setdefault(text(item.get("section")) if item.get("section") is not None else None, []).append(item)
    body = []
    order = [(text(s.get("id")), s.get("title_ja"), s.get("title_en")) for s in sections]
    order += [(sid, sid, sid) for sid in by_section if sid is not None and sid not in [o[0] for o in order]]
    order.append((None, "区分未確認", "section not read"))
    for sid, title_ja_s, title_en_s in order:
        items = by_section.get(sid)
        if not items:
            continue
        label = (bi(f"{sid} {text(title_ja_s)}", f"{sid} {text(title_en_s)}") if sid is not None else
                 bi("区分・番号未確認（UNCONFIRMED）", "Section and number not read (UNCONFIRMED)"))
        body.append(f'<tbody class="cl-section" data-section="{e(sid or "")}">'
                    f'<tr class="cl-sec"><th scope="rowgroup" colspan="6">{label}</th></tr>'
                    + "".join(_cl_item(item, sheet_id, ids) for item in items) + "</tbody>")
    hosts = sheet.get("hosts") or []
    vendor_attr = f' data-vendor="{e(vendor)}"' if vendor is not None else ""
    return f"""<article class="cl-sheet" id="{sheet_id}" data-sheet="{e(kind)}"{vendor_attr}>
<header class="cl-head">
<p class="cl-edition">{e(edition.get("title_ja"))} {e(edition.get("fiscal_year"))}版
<span class="l-en" lang="en">({e(edition.get("title_en"))})</span></p>
<h3>{heading}</h3>
<dl class="cl-meta">
<div><dt>{bi("確認日", "Date checked")}</dt><dd><time>{e(checklist.get("confirmed_on"))}</time></dd></div>
<div><dt>{bi("対象ホスト", "Hosts")}</dt><dd>{", ".join(e(h) for h in hosts) or "—"}</dd></div>
<div><dt>{bi("回答", "Answers")}</dt><dd>{answers}</dd></div>
</dl>
</header>
<table class="cl-table">
<colgroup><col class="cl-c-no"><col class="cl-c-text"><col class="cl-c-ans"><col class="cl-c-date">
<col class="cl-c-date"><col class="cl-c-ev"></colgroup>
<thead><tr><th scope="col">{bi("No.", "No.")}</th><th scope="col">{bi("確認項目", "Item")}</th>
<th scope="col">{bi("回答", "Answer")}</th><th scope="col">{bi("確認日", "Date checked")}</th>
<th scope="col">{bi("目標日", "Target date")}</th>
<th scope="col">{bi("根拠（ホスト・証跡）", "Based on (hosts, evidence)")}</th></tr></thead>
{"".join(body)}
</table>
</article>"""


def _checklist(report: dict, ids: _Ids) -> str:
    checklist = report.get("checklist")
    if not isinstance(checklist, dict):
        return ""
    title = bi("サイバーセキュリティ対策チェックリスト", "MHLW cybersecurity checklist")
    head = f'<section id="checklist" class="sec"><h2>{title}</h2>'
    if checklist.get("error"):
        why = bi("チェックリストを回答できませんでした：", "The checklist could not be answered: ")
        return head + f'<p class="cl-error">{why}<span lang="en">{e(checklist.get("error"))}</span></p></section>'
    edition = checklist.get("edition") or {}
    sheets = [(ids.get("checklist", "hospital"), checklist, None)]
    sheets += [(ids.get("checklist", "vendor", text(v.get("vendor"))), v, text(v.get("vendor")))
               for v in checklist.get("per_vendor") or [] if isinstance(v, dict)]
    nav = " ".join(
        f'<a href="#{sid}">'
        + (bi("医療機関確認用", "Hospital sheet") if vendor is None
           else bi("事業者確認用：", "Vendor sheet: ") + e(vendor))
        + "</a>" for sid, _, vendor in sheets)
    notes = "".join(f'<li lang="en">{e(n)}</li>' for n in checklist.get("notes") or [])
    legend = "".join(f'<li><span class="cl-count ans-{a}">{bi(*ANSWER_LABELS[a])}</span> {bi(*ANSWER_HELP[a])}</li>'
                     for a in ("yes", "no", "to_confirm"))
    hint = bi(f"{text(edition.get('fiscal_year'))}版の各項目を、この実行の所見と証跡の記録から回答しています"
              "（対応表：data/checklist/、docs/checklist.md）。確認日は実行日、目標日はインベントリの "
              "iryo_checklist_targets（いいえの項目のみ）。report.html#checklist を開いて印刷すると、"
              "このチェックリストだけが A4 縦で印刷されます。",
              f"Each item of the {text(edition.get('fiscal_year'))} edition ({text(edition.get('id'))}) answered from "
              "this run's findings and the evidence register (mapping: data/checklist/, docs/checklist.md). Date "
              "checked is the run's date; target dates come from the inventory's iryo_checklist_targets (items "
              "answered No only). Open report.html#checklist and print: only the checklist prints, A4 portrait.")
    body = "".join(_cl_sheet(checklist, data, sid, vendor, ids) for sid, data, vendor in sheets)
    return (head + f'<p class="hint cl-intro">{hint}</p>'
            + f'<nav class="cl-nav" aria-label="シート / Sheets">{nav}</nav>'
            + (f'<ul class="cl-notes">{notes}</ul>' if notes else "")
            + f'<div class="cl-legend"><ul>{legend}</ul></div>'
            + body + "</section>")


TREND_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#5a2a82", "excepted": "#d99a00",
                 "manual": "#3b6aa0", "not_applicable": "#c4cad1"}
# Stack order of a bar, bottom up: passing cells at the foot, problems on top where the eye goes.
TREND_STACK = ("pass", "not_applicable", "manual", "excepted", "error", "fail")


def _sparkline(points: list) -> str:
    """Inline SVG, one stacked bar per run (host cells by status); every bar has a <title>."""
    bar, gap, height = 8, 2, 30
    tallest = max((sum(p["counts"].values()) for p in points), default=1) or 1
    width = len(points) * (bar + gap)
    parts = []
    for i, point in enumerate(points):
        x = i * (bar + gap)
        y = height
        tip = ", ".join(f"{s} {point['counts'][s]}" for s in STATUS_ORDER if point["counts"].get(s))
        segs = []
        for status in TREND_STACK:
            n = point["counts"].get(status, 0)
            if not n:
                continue
            h = max(1, round(n * height / tallest))
            y -= h
            segs.append(f'<rect x="{x}" y="{y}" width="{bar}" height="{h}" fill="{TREND_COLOURS[status]}"/>')
        parts.append(f'<g><title>{e(point.get("started"))} {e(point.get("playbook"))}: {e(tip)}</title>'
                     + "".join(segs) + "</g>")
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="trend">{"".join(parts)}</svg>')


def _share(point: dict) -> str:
    counts = point["counts"]
    total = sum(counts.values())
    failing = counts.get("fail", 0) + counts.get("error", 0)
    return f"{total - failing}/{total}"


def _trend(report: dict, trend: dict) -> str:
    clauses = {c.get("id"): c for c in report.get("clauses") or []}
    rows = []
    for cid in clause_ids(report):
        points = trend.get(cid) or []
        if not points:
            continue
        c = clauses.get(cid) or {}
        first, last = points[0], points[-1]
        rows.append(
            f'<tr data-clause="{e(cid)}"><th scope="row"><b>{e(cid)}</b> '
            f'{bi(c.get("title_ja") or cid, c.get("title_en") or cid, cls="ctitle")}</th>'
            f'<td class="spark-cell">{_sparkline(points)}</td>'
            f'<td class="num">{e(_share(last))}</td><td class="num">{e(_share(first))}</td>'
            f'<td class="num">{len(points)}</td></tr>')
    if not rows:
        return ""
    legend = " ".join(f'<span class="swatch st-{s}"></span>{bi(STATUS_LABELS[s][1], STATUS_LABELS[s][2])}'
                      for s in ("fail", "error", "excepted", "pass"))
    hint = bi("条項ごとの推移（古い実行→新しい実行）。棒は実行ごとのホスト数を判定別に積み上げたもの。"
              "「適合」は不適合・エラーでないホスト数／ホスト数。",
              "Per clause, oldest run to newest: each bar stacks that run's hosts by status. "
              "'Not failing' counts hosts without fail or error.")
    return f"""<section id="trend" class="sec">
<h2>{bi("適合状況の推移", "Compliance trend")}</h2>
<p class="hint">{hint}</p>
<table class="trend">
<thead><tr><th scope="col">{bi("条項", "Clause")}</th><th scope="col">{bi("推移", "Trend")}</th>
<th scope="col">{bi("今回 適合", "Not failing now")}</th><th scope="col">{bi("最初", "First shown")}</th>
<th scope="col">{bi("実行数", "Runs")}</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table>
<p class="muted trend-legend">{legend}</p>
</section>"""


# --------------------------------------------------------------------------------------------
# Page


CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;--accent:#0b4f8a;
--pass:#1a7f37;--fail:#cf222e;--error:#5a2a82;--manual:#3b6aa0;--excepted:#d99a00;--na:#e3e6ea;}
*{box-sizing:border-box}
html{font-family:"Noto Sans CJK JP","Noto Sans JP","Hiragino Sans","Hiragino Kaku Gothic ProN",
"Yu Gothic UI","Yu Gothic",Meiryo,"IPAexGothic","IPAGothic",system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;
color:var(--fg);background:var(--bg);font-size:15px;line-height:1.55}
body{margin:0}
code,pre{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,
"Noto Sans Mono CJK JP",monospace;
font-size:.86em}
a{color:var(--accent)}
.page{max-width:1360px;margin:0 auto;padding:0 24px 48px}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);
white-space:nowrap;border:0}
.muted{color:var(--muted)}
/* language switch: two radios before the page, styled through their labels (works without JS) */
.lang-radio{position:absolute;opacity:0;pointer-events:none}
#ig-lang-ja:checked ~ .page .l-en{display:none}
#ig-lang-en:checked ~ .page .l-ja{display:none}
.langswitch{display:inline-flex;border:1px solid #9fb3c8;border-radius:6px;overflow:hidden;background:#fff}
.langswitch label{padding:4px 14px;cursor:pointer;font-size:.9em;color:var(--accent);user-select:none}
#ig-lang-ja:checked ~ .page label[for=ig-lang-ja],#ig-lang-en:checked ~ .page label[for=ig-lang-en]
{background:var(--accent);color:#fff;font-weight:600}
#ig-lang-ja:focus-visible ~ .page label[for=ig-lang-ja],
#ig-lang-en:focus-visible ~ .page label[for=ig-lang-en]
{outline:3px solid #f0b429;outline-offset:-3px}
/* header */
.top{border-bottom:3px solid var(--accent);padding:14px 0 14px;margin-bottom:8px}
.topbar{display:flex;justify-content:space-between;align-items:center;gap:16px}
.kicker{margin:0;font-size:.85em;letter-spacing:.04em;color:var(--muted);font-weight:600;text-transform:uppercase}
h1{font-size:1.45em;line-height:1.35;margin:6px 0 8px}
h2{font-size:1.25em;border-left:5px solid var(--accent);padding-left:10px;margin:28px 0 10px}
h3{font-size:1.08em;margin:18px 0 8px}
h4{font-size:1em;margin:8px 0 6px}
h5{font-size:.85em;margin:6px 0 4px;color:var(--muted)}
.mode{display:inline-block;margin:0 0 10px;padding:3px 10px;border-radius:4px;font-weight:600;font-size:.92em}
.mode-check{background:#e7f0fa;color:#0b4f8a;border:1px solid #a9c6e6}
.mode-enforce{background:#fff1e5;color:#8a3c00;border:1px solid #f0b27a}
.runmeta{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:2px 24px;margin:0 0 12px}
.runmeta div{display:flex;gap:10px;align-items:baseline;min-width:0}
.runmeta dt{flex:0 0 7.5em;color:var(--muted);font-size:.88em}
.runmeta dd{margin:0;min-width:0;overflow-wrap:anywhere}
.totals-caption{margin:4px 0;color:var(--muted);font-size:.9em}
.totals{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:8px}
.chip{display:inline-flex;align-items:center;gap:6px;padding:5px 12px;border-radius:999px;
text-decoration:none;
font-weight:600;border:1px solid transparent}
.chip .num{font-size:1.15em;margin-left:2px}
/* status colours: colour is never the only carrier, every badge has a symbol and a word */
.st-pass{--c:var(--pass);--t:#fff}.st-fail{--c:var(--fail);--t:#fff}.st-error{--c:var(--error);--t:#fff}
.st-manual{--c:var(--manual);--t:#fff}.st-excepted{--c:var(--excepted);--t:#1f2328}
.st-not_applicable{--c:var(--na);--t:#3d444d}.st-unknown{--c:#8c959f;--t:#fff}
.chip,.badge{background:var(--c);color:var(--t)}
.badge{display:inline-flex;align-items:center;gap:4px;padding:1px 8px;border-radius:4px;font-weight:700;
font-size:.85em;white-space:nowrap;line-height:1.6}
.badge-sm{font-size:.78em;padding:0 5px}
.badge .sym{font-weight:700}
.st-not_applicable.badge,.st-not_applicable.chip{border:1px solid #c4cad1}
/* matrix */
.hint{color:var(--muted);margin:0 0 8px;font-size:.92em}
.tablewrap{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table.matrix{border-collapse:collapse;width:100%;font-size:.92em;table-layout:fixed;min-width:1080px}
col.c-host{width:190px}col.c-sum{width:108px}
.matrix th,.matrix td{border:1px solid var(--line);padding:0;text-align:center}
.matrix thead th{background:var(--soft);padding:4px 4px}
.matrix th.grp{font-size:.82em;color:var(--muted);font-weight:600}
.matrix th.grp-D{background:#eef3f8}
.matrix th.col a{font-weight:700;text-decoration:none;color:var(--fg)}
.matrix th.col a:hover{text-decoration:underline}
.colwarn{display:block;color:#b35900;font-size:.8em;line-height:1}
.matrix th.host{text-align:left;padding:6px 10px;background:#fff;position:sticky;left:0;z-index:1;
overflow-wrap:anywhere}
.matrix th.host a{font-weight:700;font-size:1.05em}
.hgroups{display:block;font-weight:400;font-size:.78em;color:var(--muted)}
.row-org th.host,.row-org td{border-top:3px double #9fb3c8}
.row-org th.host{background:#f3f6fa}
.cell-link{display:flex;flex-direction:column;align-items:center;justify-content:center;gap:1px;min-height:46px;
padding:4px 3px;text-decoration:none;color:inherit}
.cell-link:hover,.cell-link:focus-visible{background:#fff8c5;outline:2px solid var(--accent);
outline-offset:-2px}
.ncount{font-size:.72em;color:var(--muted);white-space:nowrap}
.cell.empty{background:repeating-linear-gradient(135deg,#fff,#fff 6px,#f6f8fa 6px,#f6f8fa 12px)}
.none{color:#afb8c1}
.rowsum{padding:3px 4px!important;text-align:left!important;font-size:.8em;line-height:1.7}
.matrix th.sumh{font-size:.82em;color:var(--muted);font-weight:600}
.mini{display:inline-block;padding:0 5px;margin:1px;border-radius:3px;background:var(--c);color:var(--t);
font-weight:700}
.unreach{display:inline-block;background:#57606a;color:#fff;border-radius:3px;padding:0 5px;font-size:.75em}
.legend{margin-top:10px;padding:8px 12px;background:var(--soft);border-radius:6px}
.legend h3{margin:0 0 6px;font-size:.95em}
.legend ul{list-style:none;margin:0;padding:0;display:grid;
grid-template-columns:repeat(auto-fill,minmax(380px,1fr));
gap:4px 18px;font-size:.9em}
.legend p{margin:6px 0 0;font-size:.88em}
.prec{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-weight:600;color:var(--fg)}
/* drill-down */
section.host{margin:12px 0 20px}
section.host>h3{font-size:1.15em;background:#e7f0fa;border-left:5px solid #9fb3c8;padding:5px 10px;
border-radius:0 5px 5px 0;display:flex;align-items:baseline;gap:10px;flex-wrap:wrap}
section.host>h3 .hgroups{display:inline;font-size:.72em}
details.drill{border:1px solid var(--line);border-left:6px solid var(--c,#8c959f);border-radius:6px;
margin:6px 0;
background:#fff}
details.drill[data-status=pass]{--c:var(--pass)}details.drill[data-status=fail]{--c:var(--fail)}
details.drill[data-status=error]{--c:var(--error)}details.drill[data-status=manual]{--c:var(--manual)}
details.drill[data-status=excepted]{--c:var(--excepted)}details.drill[data-status=not_applicable]{--c:#c4cad1}
details.drill>summary{cursor:pointer;padding:7px 10px;list-style-position:inside}
details.drill>summary .cid{margin:0 4px}
details.drill[open]>summary{border-bottom:1px solid var(--line);background:var(--soft)}
.tocl{font-size:.8em;margin-left:6px}
.flash{animation:flash 1.6s ease-out}
@keyframes flash{0%{box-shadow:0 0 0 4px #f0b429}100%{box-shadow:0 0 0 0 transparent}}
.drill-body{scroll-margin-top:3.2em}
.finding{padding:10px 14px;border-top:1px dashed var(--line)}
.finding:first-of-type{border-top:0}
.fhead{display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.checkid{background:var(--soft);padding:1px 6px;border-radius:4px}
.ftitle{margin:6px 0 4px;font-size:1em}
.sev{font-size:.78em;border:1px solid var(--line);border-radius:4px;padding:0 6px;color:var(--muted)}
.st-fail .sev-critical,.st-error .sev-critical{border-color:#82071e;color:#82071e;font-weight:700}
.st-fail .sev-high,.st-error .sev-high{border-color:#cf222e;color:#a40e26}
.fmeta{margin:0;display:grid;grid-template-columns:1fr;gap:2px}
.kv{display:flex;gap:10px;align-items:baseline}
.kv dt{flex:0 0 7em;color:var(--muted);font-size:.86em}
.kv dd{margin:0;min-width:0;overflow-wrap:anywhere}
.target{background:var(--soft);padding:1px 5px;border-radius:3px}
.fix{font-size:.78em;border-radius:3px;padding:0 5px;white-space:nowrap}
.fix-yes{background:#dafbe1;color:#116329}.fix-no{background:#eaeef2;color:#424a53}
.ev{display:grid;grid-template-columns:3fr 2fr;gap:12px;margin-top:6px}
.fsummary{margin:2px 0 8px;padding:5px 10px;background:var(--soft);border-left:4px solid var(--c,#8c959f);
border-radius:0 4px 4px 0;font-weight:600;overflow-wrap:anywhere}
.st-pass .fsummary{--c:var(--pass)}.st-fail .fsummary{--c:var(--fail)}.st-error .fsummary{--c:var(--error)}
.st-manual .fsummary{--c:var(--manual)}.st-excepted .fsummary{--c:var(--excepted)}
.ev-data{background:#f6f8fa;border:1px solid var(--line);border-radius:5px;padding:6px 10px;max-height:420px;
overflow:auto;font-size:.85em;line-height:1.45;overflow-wrap:anywhere}
dl.data{margin:0}
dl.data>div{display:flex;gap:8px;align-items:baseline;padding:1px 0}
dl.data>div>dt{flex:0 0 auto;min-width:8em;max-width:40%;color:var(--muted)}
dl.data>div>dd{margin:0;min-width:0;flex:1 1 auto}
dl.data dl.data{border-left:2px solid var(--line);padding-left:8px}
ul.data-list,ol.data-items{margin:0;padding-left:1.3em}
ol.data-items>li{margin:2px 0}
.data-table{overflow-x:auto}
.data-table table{border-collapse:collapse;font-size:.95em}
.data-table th,.data-table td{border:1px solid var(--line);padding:1px 6px;text-align:left;vertical-align:top;
overflow-wrap:normal}
.data-table th{background:#fff;font-weight:600;color:var(--muted);white-space:nowrap}
.nil{color:var(--muted)}
.exception{margin-top:8px;padding:6px 10px;border:1px solid #e3b341;background:#fff8e1;border-radius:5px}
.exception.expired{border-color:var(--fail);background:#ffebe9}
.exception h5{margin:0 0 4px;color:var(--fg)}
.exception dl{margin:0}
.exc-state{font-size:.85em;border-radius:3px;padding:0 6px;margin-left:6px}
.exc-valid{background:#dafbe1;color:#116329}.exc-expired{background:var(--fail);color:#fff}
.needed{margin-top:8px;padding:6px 10px;border:1px solid #a9c6e6;background:#eef5fc;border-radius:5px}
.needed h5{margin:0}.needed ul{margin:2px 0 0 1.2em;padding:0}
/* clauses */
.clause{border:1px solid var(--line);border-radius:6px;padding:8px 14px 10px;margin:10px 0}
.clause h3{margin:2px 0 6px;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.clause .cid{background:var(--accent);color:#fff;border-radius:4px;padding:0 8px}
.conf-row-unconfirmed{border:2px solid #d1242f;background:#fffafa}
.text-ja{margin:4px 0;padding:6px 12px;border-left:4px solid #9fb3c8;background:var(--soft)}
.summary-en{margin:4px 0}.summary-en .lbl{font-weight:600;color:var(--muted)}
.csrc{font-size:.82em;margin:2px 0 6px}
.cgrid{display:grid;grid-template-columns:2fr 3fr;gap:16px}
.conf{display:inline-block;font-size:.78em;font-weight:700;border-radius:4px;padding:0 6px;white-space:nowrap}
.conf-confirmed{border:1px solid #1a7f37;color:#116329;background:#f0fff4}
.conf-secondary{border:1px solid #9a6700;color:#7d4e00;background:#fff8c5}
.conf-unconfirmed{border:1px solid #a40e26;color:#fff;background:#d1242f;letter-spacing:.02em}
.conf-unknown{border:1px solid #8c959f;color:#424a53}
.refs{margin:0;padding-left:1.2em;font-size:.92em}
table.checks{border-collapse:collapse;width:100%;font-size:.9em}
.checks th,.checks td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
.kind{font-size:.8em;border-radius:3px;padding:0 5px;white-space:nowrap}
.kind-auto{background:#ddf4ff;color:#0a3069}
.planned{font-size:.75em;border:1px dashed #8c959f;border-radius:3px;padding:0 4px;color:var(--muted);
white-space:nowrap}
.kind-manual{background:#eaeef2;color:#3b6aa0;border:1px solid #3b6aa0}
.needed-inline{font-size:.88em;color:var(--muted)}.needed-inline ul{margin:0 0 0 1.2em;padding:0}
/* the inspection checklist, laid out like the printed sheet */
.cl-nav a{margin-right:14px}
.cl-notes{margin:4px 0;padding-left:1.2em;font-size:.88em;color:#7d4e00}
.cl-legend ul{list-style:none;margin:6px 0;padding:0;font-size:.86em;display:grid;gap:2px}
.cl-sheet{margin:16px 0 24px;padding:10px 12px;border:1px solid #8c959f;border-radius:4px;background:#fff}
.cl-head h3{margin:2px 0 4px;font-size:1.1em}
.cl-edition{margin:0;font-weight:700}
.cl-vendor{display:inline-block;margin-left:8px;padding:0 8px;border:1px solid var(--fg);border-radius:3px}
.cl-meta{display:flex;flex-wrap:wrap;gap:2px 22px;margin:0 0 8px;font-size:.9em}
.cl-meta div{display:flex;gap:8px;min-width:0}.cl-meta dt{color:var(--muted);flex:0 0 auto}
.cl-meta dd{margin:0;min-width:0;overflow-wrap:anywhere}
.cl-head{overflow-wrap:anywhere}
.cl-count{display:inline-block;margin-right:8px;padding:0 6px;border:1px solid var(--line);border-radius:3px}
.cl-count.ans-yes{border-color:var(--pass)}.cl-count.ans-no{border-color:var(--fail)}
.cl-count.ans-to_confirm{border-color:var(--excepted)}
table.cl-table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:.86em}
.cl-table th,.cl-table td{border:1px solid #57606a;padding:3px 5px;vertical-align:top;text-align:left;
overflow-wrap:anywhere}
.cl-table thead th{background:#eaeef2;font-weight:700;text-align:center}
col.cl-c-no{width:5%}col.cl-c-text{width:36%}col.cl-c-ans{width:11%}col.cl-c-date{width:9%}col.cl-c-ev{width:30%}
.cl-sec th{background:#f3f6fa;font-weight:700}
.cl-no,.cl-ans,.cl-date,.cl-target{text-align:center!important}
.cl-numwarn{color:#b35900;font-size:.8em}
.cl-scope{color:var(--muted);font-size:.92em}
.cl-note{display:block;font-size:.85em;color:var(--muted)}
.cl-gloss{display:block;font-size:.88em;color:#424a53;margin-top:2px}
#ig-lang-ja:checked ~ .page .cl-gloss{display:none}
.cl-cov{font-size:.78em;color:var(--muted);margin-top:3px}
.cl-opts{display:flex;justify-content:center;gap:4px;flex-wrap:wrap}
.cl-opt{display:inline-block;padding:0 6px;border:2px solid transparent;border-radius:999px;color:#8c959f}
.cl-opt.cl-sel{border-color:var(--fg);color:var(--fg);font-weight:700}
.ans-no .cl-opt.cl-sel{border-color:var(--fail);color:var(--fail)}
.cl-pending{display:inline-block;margin-top:3px;padding:0 6px;border:2px dashed var(--excepted);border-radius:4px;
font-weight:700;color:#7d4e00}
.cl-tnote{display:block;font-size:.75em;color:#7d4e00;text-align:left}
.cl-evlist{list-style:none;margin:0;padding:0;font-size:.86em;line-height:1.4}
.cl-evlist li{margin:0 0 2px}
.cl-evlist code{font-size:.92em}
.cl-sum{display:block;color:#424a53;font-size:.92em}
.cl-q{display:inline-block;width:1.3em;text-align:center;font-weight:700;color:#7d4e00;border:1px dashed #9a6700;
border-radius:3px}
.cl-reclbl{color:var(--muted)}
.cl-error{color:var(--fail);font-weight:600}
/* trend */
table.trend{border-collapse:collapse;font-size:.92em}
.trend th,.trend td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:middle}
.trend td.num{text-align:right;font-variant-numeric:tabular-nums}
svg.spark{display:block}
.swatch{display:inline-block;width:10px;height:10px;background:var(--c);margin:0 4px 0 10px;vertical-align:middle}
/* toolbar added by JS */
.toolbar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:10px 0 0;font-size:.9em}
.toolbar button{font:inherit;padding:3px 10px;border:1px solid #9fb3c8;border-radius:5px;background:#fff;
color:var(--accent);cursor:pointer}
.toolbar button:hover{background:#e7f0fa}
.toolbar label{display:inline-flex;gap:4px;align-items:center;cursor:pointer}
body.only-problems details.drill:not([data-status=fail]):not([data-status=error]){display:none}
nav.toc{font-size:.9em;margin:6px 0}
nav.toc a{margin-right:14px}
footer{margin-top:36px;border-top:1px solid var(--line);padding-top:8px;font-size:.82em;color:var(--muted)}
@media screen and (max-width:800px){.ev,.cgrid{grid-template-columns:1fr}}
/* The checklist prints on A4 portrait pages of its own (a named page), one sheet per page run. */
@page iryo-checklist{size:A4 portrait;margin:10mm}
#checklist{page:iryo-checklist}
@media print{
 @page{size:A4 landscape;margin:10mm}
 .cl-sheet{border:0;padding:0;margin:0}
 .cl-sheet+.cl-sheet{break-before:page}
 .cl-item,.cl-head{break-inside:avoid}
 .cl-table thead{display:table-header-group}
 .cl-nav,.cl-intro{display:none}
 /* Opened as report.html#checklist, the report prints the checklist only. */
 body:has(#checklist:target) .top,body:has(#checklist:target) nav.toc,body:has(#checklist:target) footer,
 body:has(#checklist:target) main>:not(#checklist){display:none!important}
 body:has(#checklist:target) #checklist>h2{margin-top:0}
 html{font-size:9.5pt}
 .langswitch,.toolbar,nav.toc,.tocl{display:none!important}
 table.matrix{min-width:0}
 .page{max-width:none;padding:0}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .tablewrap{overflow:visible;border:0}
 .matrix th.host{position:static;min-width:0}
 .cell-link{min-height:0}
 .clause,.legend,tr,.ev-data,.exception,.fhead{break-inside:avoid}
 details.drill>summary{break-after:avoid}
 .ev-data{max-height:none;overflow:visible;font-size:.75em;line-height:1.3;padding:4px 8px}
 .finding{padding:6px 10px}
 h2,h3{break-after:avoid}
 #findings,#clauses{break-before:page}
 a{color:inherit;text-decoration:none}
}
"""

JS = """
(function () {
  "use strict";
  var KEY = "__KEY__";
  var root = document.documentElement;
  var radios = {ja: document.getElementById("ig-lang-ja"), en: document.getElementById("ig-lang-en")};
  function setLang(lang, store) {
    if (!radios[lang]) { return; }
    radios[lang].checked = true;
    root.setAttribute("lang", lang);
    root.setAttribute("data-lang", lang);
    if (store) { try { window.localStorage.setItem(KEY, lang); } catch (err) { /* file:// may refuse */ } }
  }
  var saved = null;
  try { saved = window.localStorage.getItem(KEY); } catch (err) { saved = null; }
  if (saved === "ja" || saved === "en") { setLang(saved, false); }
  Object.keys(radios).forEach(function (lang) {
    if (radios[lang]) { radios[lang].addEventListener("change", function () { setLang(lang, true); }); }
  });

  function openTarget(id, scroll) {
    if (!id) { return; }
    var el = document.getElementById(id);
    if (!el) { return; }
    if (el.tagName === "DETAILS") { el.open = true; }
    if (el.classList.contains("host")) {
      el.querySelectorAll("details.drill").forEach(function (d) { d.open = true; });
    }
    for (var p = el.parentElement; p; p = p.parentElement) { if (p.tagName === "DETAILS") { p.open = true; } }
    var shown = el.classList.contains("drill-body") ? el.parentElement : el;
    if (scroll) { shown.scrollIntoView({block: "start"}); }
    shown.classList.remove("flash"); void shown.offsetWidth; shown.classList.add("flash");
  }
  function fromHash() {
    var h = window.location.hash.slice(1);
    try { h = decodeURIComponent(h); } catch (err) { /* keep raw */ }
    openTarget(h, true);
  }
  window.addEventListener("hashchange", fromHash);
  if (window.location.hash) { fromHash(); }

  var drills = function () { return document.querySelectorAll("details.drill"); };
  var bar = document.createElement("div");
  bar.className = "toolbar";
  bar.id = "ig-toolbar";
  bar.setAttribute("role", "toolbar");
  function span(cls, lang, txt) {
    var s = document.createElement("span");
    s.className = cls; s.lang = lang; s.textContent = txt;
    return s;
  }
  function button(ja, en, onclick) {
    var b = document.createElement("button");
    b.type = "button";
    b.appendChild(span("l-ja", "ja", ja));
    b.appendChild(span("l-en", "en", en));
    b.addEventListener("click", onclick);
    return b;
  }
  function setAll(open) { drills().forEach(function (d) { d.open = open; }); }
  bar.appendChild(button("すべて開く", "Expand all", function () { setAll(true); }));
  bar.appendChild(button("すべて閉じる", "Collapse all", function () { setAll(false); }));
  var only = document.createElement("label");
  var box = document.createElement("input"); box.type = "checkbox"; box.id = "ig-only-problems";
  box.addEventListener("change", function () {
    document.body.classList.toggle("only-problems", box.checked);
  });
  only.appendChild(box);
  only.appendChild(span("l-ja", "ja", "不適合・エラーのみ表示"));
  only.appendChild(span("l-en", "en", "Only fail and error"));
  bar.appendChild(only);
  bar.appendChild(button("印刷", "Print", function () { window.print(); }));
  var findings = document.getElementById("findings");
  if (findings) {
    var heading = findings.querySelector("h2");
    findings.insertBefore(bar, heading ? heading.nextSibling : findings.firstChild);
  }

  // The checklist prints on its own when the page is at #checklist (print CSS); this button goes there first.
  var sheet = document.getElementById("checklist");
  if (sheet) {
    var clbar = document.createElement("div");
    clbar.className = "toolbar";
    clbar.id = "ig-checklist-toolbar";
    clbar.appendChild(button("チェックリストを印刷（A4）", "Print the checklist (A4)", function () {
      if (window.location.hash !== "#checklist") { window.location.hash = "checklist"; }
      window.print();
    }));
    var clhead = sheet.querySelector("h2");
    sheet.insertBefore(clbar, clhead ? clhead.nextSibling : sheet.firstChild);
  }

  var before = [];
  window.addEventListener("beforeprint", function () {
    before = [];
    drills().forEach(function (d) { before.push(d.open); d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    drills().forEach(function (d, i) { if (i < before.length) { d.open = before[i]; } });
  });
  root.setAttribute("data-js", "ready");
})();
""".replace("__KEY__", LANG_STORAGE_KEY)


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def render_html(report: dict, trend: dict | None = None) -> str:
    """Render the report model as one self-contained HTML document (UTF-8 text).

    trend: {clause: [{run_id, started, playbook, counts}]} from iryo_guard.history.trend, oldest
    first; shown as a table with an inline SVG per clause (nothing fetched, no script)."""
    ids = _Ids()
    index = index_findings(report)
    run = report.get("run") or {}
    csp = ("default-src 'none'; img-src data:; "
           f"style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; "
           "base-uri 'none'; form-action 'none'")
    body = "\n".join([
        _header(report),
        ('<nav class="toc" aria-label="目次 / Contents">'
         f'<a href="#matrix">{bi("マトリクス", "Matrix")}</a>'
         + (f'<a href="#checklist">{bi("チェックリスト", "Checklist")}</a>'
            if isinstance(report.get("checklist"), dict) else "")
         + (f'<a href="#trend">{bi("推移", "Trend")}</a>' if any((trend or {}).values()) else "") +
         f'<a href="#findings">{bi("所見の詳細", "Findings")}</a>'
         f'<a href="#clauses">{bi("条項一覧", "Clauses")}</a></nav>'),
        "<main>",
        _matrix(report, ids, index),
        _checklist(report, ids),
        _trend(report, trend or {}),
        _findings(report, ids, index),
        _clauses(report, ids),
        "</main>",
        f'<footer>{e(report.get("generator") or "iryo-guard")} · schema {e(report.get("schema_version"))} · '
        + bi("本報告書はホストから収集した証跡を含みます。取り扱いに注意してください。",
             "This report contains evidence collected from hosts; handle it accordingly.")
        + "</footer>",
    ])
    title = f'iryo-guard 監査報告 / audit report — {text(run.get("id"))}'
    return f"""<!DOCTYPE html>
<html lang="ja" data-lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{e(csp)}">
<meta name="generator" content="{e(report.get("generator") or "iryo-guard")}">
<title>{e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<input type="radio" name="ig-lang" id="ig-lang-ja" class="lang-radio" checked>
<input type="radio" name="ig-lang" id="ig-lang-en" class="lang-radio">
<div class="page">
{body}
</div>
<script>{JS}</script>
</body>
</html>
"""
