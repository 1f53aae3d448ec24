"""The corpus table of docs/tls-probe.md ("Configuration corpus"), from a test run's results.

    IRYO_CORPUS_TABLE=/tmp/corpus.md .venv/bin/pytest tests/integration/test_tls_config_corpus.py
    IRYO_CORPUS_TABLE=docs/tls-probe.md ...   # replaces the table between the config-corpus markers there

Each row is one endpoint (case, site name:source port): what sslyze and tls_probe conclude
against the case's profile before and after one enforcement, what openssl s_client and curl saw,
and what tls_config's enforcement did to the case's tree.
"""

from iryo_guard.tls.profiles import get_profile
from iryo_guard.tls.verdict import evaluate


def _verdict(facts, profile):
    findings, compliant = evaluate(facts, profile)
    if compliant:
        return "compliant"
    return "fails " + ", ".join(sorted(f["check"].split(".")[-1] for f in findings if f["status"] != "pass"))


def _clients(result):
    openssl = "chain ok" if result["openssl"]["ok"] else "chain REFUSED"
    curves = len(result["openssl_tls12_groups"])
    if curves:
        openssl += ", %d TLS 1.2 curves" % curves
    without = result["curl"]
    if without["rc"] != 0:
        seen = "refused without cert"
    else:
        seen = "HTTP %d without cert" % without["http"]
    return "%s; %s" % (openssl, seen)


def _enforce(per, case):
    enforced, second = per["enforce"], per["second"]
    if enforced.get("failed"):
        return "FAILED: %s" % enforced.get("msg", "")[:80]
    parts = ["%d edits in %d files" % (len(enforced["changes"]), len(enforced.get("diff", [])))]
    if all(f["status"] == "pass" for f in enforced["findings"]):
        parts.append("config compliant after 1 enforce")
    parts.append("changed=%s on 2nd" % ("0" if second["changed"] is False and per["second_unchanged"] else "1"))
    parts.append("-t ok" if per["validate_after"].returncode == 0 else "-t FAILS")
    if per.get("role_steps"):
        parts.insert(0, "role: " + ", ".join(per["role_steps"]))
    if case.cannot_serve_before:
        parts.append("served only after enforcement")
    return "; ".join(parts)


def markdown(run):
    lines = ["| case | endpoint | sslyze before → after | openssl / curl before → after | "
             "tls_probe before → after | enforce |", "| --- | --- | --- | --- | --- | --- |"]
    for case in run["corpus"].cases:
        profile = get_profile(case.profile)
        for site in case.sites:
            key = "%s %s" % (case.name, site.label)
            before, after = run.get("before", {}).get(key), run["after"][key]
            not_served = "not served (%s)" % case.refuses_with if case.cannot_serve_before else "-"
            cells = [case.name, site.label]
            for judge in ("theirs", None, "ours"):
                if judge is None:
                    then = _clients(before) if before else not_served
                    cells.append("%s → %s" % (then, _clients(after)))
                else:
                    then = _verdict(before[judge], profile) if before else not_served
                    cells.append("%s → %s" % (then, _verdict(after[judge], profile)))
            cells.append(_enforce(run["per_case"][case.name], case))
            lines.append("| %s |" % " | ".join(cells))
    timings = run["timings"]
    lines.append("")
    lines.append("Measured: " + ", ".join("%s %.1f s" % (k, v) for k, v in timings.items()) + ".")
    return "\n".join(lines) + "\n"


START, END = "<!-- config-corpus:start -->", "<!-- config-corpus:end -->"


def write(path, table):
    """Write ``table`` to ``path``; a file that has the config-corpus markers gets it between them."""
    from pathlib import Path
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        table = head + START + "\n" + table + END + rest.split(END, 1)[1]
    path.write_text(table)
