# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pending security updates and the reboot hint on the RHEL family (dnf 4 and dnf 5).

RHEL 8, 9 and 10 and their rebuilds (Rocky, Alma) ship dnf 4; Fedora 41+ ships dnf 5, whose
tables look different. Every parser here is checked against real output captured elsewhere
(tests/fixtures/dnf/README.md names each source): RHEL cannot run in this lab.

The rule throughout: output that is not understood is an error (DnfError), never "no updates".
Standard library only, Python 3.6 compatible: this runs on managed hosts (RHEL 8 platform-python).
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

DNF_ENV = {"LANG": "C", "LC_ALL": "C"}

SEVERITIES = ("Critical", "Important", "Moderate", "Low")


class DnfError(Exception):
    """dnf failed, or printed something this module does not understand."""


# Lines dnf, its plugins or subscription-manager print around the data; skipped wherever they
# appear (dnf 5 prints its repository banner on stdout in some versions, see the fixtures).
_CHATTER = [re.compile(p) for p in (
    r"^Last metadata expiration check",
    r"^Updating Subscription Management repositories\.$",
    r"^Unable to read consumer identity$",
    r"^This system is not registered",
    r"^Updating and loading repositories:$",
    r"^Repositories loaded\.$",
    r"^Security: \S+ is (an installed security update|the currently running version)$",
    # repository download progress: "AlmaLinux 8 - BaseOS   4.5 MB/s | 8.3 MB     00:01"
    r"\|\s*[\d.]+\s+[kMG]?i?B\s+\d\d:\d\d\s*$",
)]


def _is_chatter(line):
    return any(p.search(line) for p in _CHATTER)


def _error_lines(text):
    return [line.strip() for line in text.splitlines()
            if line.strip().startswith(("Error", "Errors during downloading", "- Curl error", "- Status code"))]


def describe_failure(what, rc, out, err):
    """One clear message for a failed dnf run, naming metadata trouble when that is the cause."""
    text = "\n".join(t for t in (err, out) if t)
    lines = _error_lines(text) or [line.strip() for line in text.splitlines() if line.strip()][-3:]
    detail = " | ".join(lines) if lines else "no output"
    if "Failed to download metadata" in text or "Cannot download repomd.xml" in text \
            or "Curl error" in text or "Cannot prepare internal mirrorlist" in text:
        return ("%s failed (rc=%s): repository metadata could not be fetched; the host cannot reach its "
                "repository or mirror, so pending updates are unknown: %s" % (what, rc, detail))
    return "%s failed (rc=%s): %s" % (what, rc, detail)


# ---------------------------------------------------------------------------------------------
# NEVRA
# ---------------------------------------------------------------------------------------------
_NEVRA = re.compile(r"^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-:]+)\.(?P<arch>[^.]+)$")


def parse_nevra(text):
    """'NetworkManager-1:1.12.0-8.el7_6.x86_64' -> {name, epoch, version, release, arch, evr}."""
    match = _NEVRA.match(text)
    if not match:
        raise DnfError("not a package NEVRA: %r" % text)
    epoch = match.group("epoch")
    evr = "%s-%s" % (match.group("version"), match.group("release"))
    return {"name": match.group("name"), "epoch": epoch or "0", "version": match.group("version"),
            "release": match.group("release"), "arch": match.group("arch"),
            "evr": "%s:%s" % (epoch, evr) if epoch and epoch != "0" else evr}


# ---------------------------------------------------------------------------------------------
# updateinfo / advisory list
# ---------------------------------------------------------------------------------------------
# dnf 4 (dnf/cli/commands/updateinfo.py display_list): "%s%-*s %-*s %s" % (mark, id, label, nevra);
# mark is "i " / "  " only with "all". Labels: Critical/Sec. ... Unknown/Sec., bugfix, enhancement,
# newpackage, unknown (yum on RHEL 7 also prints a bare "Sec.").
_DNF4_ROW = re.compile(r"^(?:i )?\s*(?P<id>\S+)\s+(?P<label>\S+)\s+(?P<nevra>\S+)$")
_DNF4_LABEL = re.compile(r"^(?:(?P<sev>Critical|Important|Moderate|Low|Unknown)/)?Sec\.$")
_DNF4_TYPES = ("bugfix", "enhancement", "newpackage", "unknown", "security")
# dnf 5 (libdnf5-cli advisorylist): header "Name Type Severity Package Issued", then
# id type severity nevra date time; columns may be cut to the terminal width ("secu", "Importan").
_DNF5_HEADER = re.compile(r"^Name\s+Type\s+Severity\s+Package\s+Issued\s*$")
_DNF5_ROW = re.compile(r"^(?P<id>\S+)\s+(?P<type>\S+)\s+(?P<sev>\S+)\s+(?P<nevra>\S+)\s+"
                       r"(?P<issued>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*$")


def _severity(word):
    """'Importan' (cut by dnf 5) -> 'Important'; None/unknown -> None."""
    word = (word or "").strip()
    if len(word) >= 3:
        for sev in SEVERITIES:
            if sev.lower().startswith(word.lower()):
                return sev
    return None


def _advisory(adv_id, typ, sev, nevra):
    pkg = parse_nevra(nevra)
    return {"package": pkg["name"], "nevra": nevra, "arch": pkg["arch"], "evr": pkg["evr"],
            "advisory": adv_id, "type": typ, "severity": sev, "security": typ == "security"}


def parse_updateinfo(output):
    """Parse `dnf updateinfo list` (dnf 4) or `dnf advisory list` (dnf 5).

    Returns [{package, nevra, arch, evr, advisory, type, severity, security}], one per
    (advisory, package) row. Empty output means no advisories. Any line that is neither a row
    nor known chatter raises DnfError.
    """
    advisories, unknown, dnf5 = [], [], False
    for raw in output.splitlines():
        line = raw.rstrip()
        if not line.strip() or _is_chatter(line):
            continue
        if _DNF5_HEADER.match(line.strip()):
            dnf5 = True
            continue
        if dnf5:
            match = _DNF5_ROW.match(line.strip())
            if match:
                typ = match.group("type").lower()
                typ = next((t for t in _DNF4_TYPES if len(typ) >= 3 and t.startswith(typ)), typ)
                try:
                    advisories.append(_advisory(match.group("id"), typ, _severity(match.group("sev")),
                                                match.group("nevra")))
                    continue
                except DnfError:
                    pass
            unknown.append(line)
            continue
        match = _DNF4_ROW.match(line)
        if match:
            label = match.group("label")
            sec = _DNF4_LABEL.match(label)
            try:
                if sec:
                    advisories.append(_advisory(match.group("id"), "security", _severity(sec.group("sev")),
                                                match.group("nevra")))
                    continue
                if label in _DNF4_TYPES:
                    advisories.append(_advisory(match.group("id"), label, None, match.group("nevra")))
                    continue
            except DnfError:
                pass
        unknown.append(line)
    if unknown:
        raise DnfError("unrecognised updateinfo output (%d line(s)), first: %r" % (len(unknown), unknown[0]))
    return advisories


# ---------------------------------------------------------------------------------------------
# check-update
# ---------------------------------------------------------------------------------------------
def _rows(output, stop=("Obsoleting Packages",)):
    """Yield token lists of 'name.arch evr repo' rows, joining rows dnf 4 wrapped.

    dnf 4 (cli/output.py fmtColumns) puts a value wider than its column on its own line and
    continues the row on the next line, indented to the following column; without a terminal
    it formats for 80 columns, so long package names do wrap in unattended runs.
    """
    pending = []
    for raw in output.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.strip() in stop:
            break
        if _is_chatter(line):
            continue
        tokens = line.split()
        if pending and raw[:1].isspace():
            pending.extend(tokens)
        else:
            if pending:
                yield pending
            pending = list(tokens)
        if len(pending) >= 3:
            yield pending
            pending = []
    if pending:
        yield pending


def parse_check_update(output, rc):
    """Parse `dnf -q check-update [--security]`: rc 100 updates, 0 none, anything else an error.

    Returns [{package, arch, candidate, repo}] sorted by package.
    """
    if rc not in (0, 100):
        raise DnfError(describe_failure("dnf check-update", rc, output, ""))
    updates, unknown = [], []
    for tokens in _rows(output):
        name_arch = tokens[0]
        if len(tokens) != 3 or "." not in name_arch[1:]:
            unknown.append(" ".join(tokens))
            continue
        name, _, arch = name_arch.rpartition(".")
        updates.append({"package": name, "arch": arch, "candidate": tokens[1], "repo": tokens[2]})
    if unknown:
        raise DnfError("unrecognised check-update output (%d line(s)), first: %r" % (len(unknown), unknown[0]))
    if rc == 100 and not updates:
        raise DnfError("dnf check-update said updates are available (rc=100) but listed none that could be parsed")
    if rc == 0 and updates:
        raise DnfError("dnf check-update listed %d update(s) but exited 0 (no updates); refusing to guess"
                       % len(updates))
    return sorted(updates, key=lambda u: (u["package"], u["arch"]))


def build_pending(updates, security_updates, advisories):
    """Combine into the pending shape of module_utils/iryo_apt.py (plus advisories).

    updates: parse_check_update of plain check-update; security_updates: of check-update --security
    (dnf's own security filter decides what is security); advisories: parse_updateinfo rows.
    """
    security_keys = {(u["package"], u["arch"]) for u in security_updates}
    missing = security_keys - {(u["package"], u["arch"]) for u in updates}
    if missing:
        # --security is a filter on the same set; a security update absent from the full list
        # means the two runs saw different metadata (a refresh in between).
        raise DnfError("check-update --security lists %s, absent from plain check-update; run again"
                       % ", ".join(sorted("%s.%s" % k for k in missing)))
    by_pkg = {}
    for adv in advisories:
        if adv["security"]:
            by_pkg.setdefault((adv["package"], adv["arch"]), []).append(adv)
    pending = []
    for upd in updates:
        key = (upd["package"], upd["arch"])
        advs = by_pkg.get(key, [])
        sevs = [a["severity"] for a in advs if a["severity"]]
        pending.append({
            "package": upd["package"],
            "installed": None,  # check-update does not say; rpm -q would
            "candidate": upd["candidate"],
            "arch": upd["arch"],
            "origins": [upd["repo"]],
            "security": key in security_keys,
            "advisories": sorted({a["advisory"] for a in advs}),
            "severity": min(sevs, key=SEVERITIES.index) if sevs else None,
        })
    return sorted(pending, key=lambda p: (p["package"], p["arch"]))


# ---------------------------------------------------------------------------------------------
# needs-restarting -r
# ---------------------------------------------------------------------------------------------
def parse_needs_restarting(output, rc):
    """`needs-restarting -r` / `dnf needs-restarting -r` -> (reboot_required, reasons).

    rc 1 with the reboot text: True and the listed packages; rc 0 with the no-reboot text:
    False. rc 1 without the text is a failure of the tool (unknown option, missing plugin), and
    any other combination is not understood: both raise DnfError.
    """
    text = output or ""
    packages = [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("* ")]
    says_reboot = ("Reboot is required" in text
                   or "Core libraries or services have been updated since boot-up:" in text)
    says_fine = "Reboot should not be necessary" in text
    if rc == 1 and says_reboot and not says_fine:
        return True, ["updated since boot: %s" % p for p in packages] or ["needs-restarting: reboot is required"]
    if rc == 0 and says_fine and not says_reboot:
        return False, []
    raise DnfError(describe_failure("needs-restarting -r", rc, text, "")
                   + " (expected rc 1 with 'Reboot is required' or rc 0 with 'Reboot should not be necessary')")


# ---------------------------------------------------------------------------------------------
# transaction table (upgrade --security --assumeno)
# ---------------------------------------------------------------------------------------------
_SECTIONS = {
    "Installing": "install", "Upgrading": "upgrade", "Reinstalling": "reinstall",
    "Downgrading": "downgrade", "Removing": "remove", "Installing dependencies": "install-dep",
    "Installing weak dependencies": "install-weak", "Removing dependent packages": "remove-dep",
    "Removing unused dependencies": "remove-unused", "Obsoleting": "obsolete",
    "Installing group/module packages": "install-group",
}
_HEADER = re.compile(r"^\s*Package(\s+Arch(itecture)?\s+Version\s+Repository\s+Size)?\s*$")
_SUMMARY = re.compile(r"^Transaction Summary:?\s*$")


def parse_transaction(output):
    """Parse the transaction table dnf 4 / dnf 5 print before asking (or with --assumeno).

    Returns {"nothing_to_do": bool, "packages": [{action, package, arch, version, repo}],
    "replaced": [{package, arch, version, repo}]}. A table without its "Transaction Summary"
    (truncated output), an unknown section or a row that cannot be read raises DnfError.
    """
    lines = output.splitlines()
    if any(line.strip() == "Nothing to do." for line in lines) and not any(_SUMMARY.match(line) for line in lines):
        return {"nothing_to_do": True, "packages": [], "replaced": []}
    packages, replaced, problems = [], [], []
    section, row, in_table, summary = None, None, False, False

    def flush(current):
        if current is None:
            return
        kind, tokens = current
        if kind == "replacing" and len(tokens) == 2 and "." in tokens[0]:
            # dnf 4 prints "     replacing  name.arch evr" (cli/output.py list_transaction);
            # taken from the source, no captured sample (see docs/patch-level-rhel.md)
            name, _, arch = tokens[0].rpartition(".")
            replaced.append({"package": name, "arch": arch, "version": tokens[1], "repo": None})
            return
        # name arch version repo size [unit]; dnf 4 sizes read "8.8 M", dnf 5 "450.7 KiB"
        if len(tokens) < 5:
            problems.append(" ".join(tokens))
            return
        entry = {"package": tokens[0], "arch": tokens[1], "version": tokens[2], "repo": tokens[3]}
        if kind == "replacing":
            replaced.append(entry)
        else:
            entry["action"] = kind
            packages.append(entry)

    for raw in lines:
        line = raw.rstrip()
        if _SUMMARY.match(line.strip()):
            flush(row)
            row, summary = None, True
            break
        if not line.strip() or set(line.strip()) == {"="} or _is_chatter(line):
            continue
        if _HEADER.match(line):
            in_table = True
            continue
        if not in_table:
            continue  # "Dependencies resolved." and other preamble
        if not raw[:1].isspace():
            flush(row)
            row = None
            name = line.strip().rstrip(":")
            if line.strip().endswith(":") and name in _SECTIONS:
                section = _SECTIONS[name]
                continue
            if name in ("Arch", "Version") or line.split()[0] == "Arch":
                continue
            problems.append(line)
            section = None
            continue
        stripped = raw.lstrip()
        indent = len(raw) - len(stripped)
        if section is None:
            # the second line of a header dnf 4 wrapped ("Package" alone, then "Arch Version ...")
            if stripped.split()[:2] == ["Arch", "Version"]:
                continue
            problems.append(line)
            continue
        if stripped.startswith("replacing "):
            flush(row)
            row = ("replacing", stripped.split()[1:])
        elif indent == 1:
            flush(row)
            row = (section, stripped.split())
        elif row is not None:
            row[1].extend(stripped.split())
        else:
            problems.append(line)
    if problems:
        raise DnfError("unrecognised transaction output (%d line(s)), first: %r" % (len(problems), problems[0]))
    if in_table and not summary:
        raise DnfError("transaction table without 'Transaction Summary': output truncated or not understood")
    if not in_table:
        raise DnfError("no transaction table and no 'Nothing to do.' in dnf output")
    return {"nothing_to_do": not packages, "packages": packages, "replaced": replaced}


# ---------------------------------------------------------------------------------------------
# running dnf through an AnsibleModule-like object (run_command, get_bin_path)
# ---------------------------------------------------------------------------------------------
def dnf_binary(module):
    """(path, major) of dnf; major 5 for dnf5 (Fedora 41+), 4 otherwise (RHEL 8/9/10)."""
    path = module.get_bin_path("dnf")
    if path is None:
        raise DnfError("dnf not found")
    rc, out, err = module.run_command([path, "--version"], environ_update=DNF_ENV)
    text = (out or "") + (err or "")
    major = 5 if re.search(r"\bdnf5\b|^5\.\d", text, re.M) else 4
    return path, major


def _run(module, argv, what, ok=(0,)):
    rc, out, err = module.run_command(argv, environ_update=DNF_ENV)
    if rc not in ok:
        raise DnfError(describe_failure(what, rc, out, err))
    return rc, out, err


def security_advisories(module, dnf=None):
    """Security advisories for updates available to this host, parsed."""
    path, _ = dnf or dnf_binary(module)
    # dnf 5 keeps "updateinfo" as an alias of "advisory" with the same list/--security/--available
    argv = [path, "-q", "updateinfo", "list", "--security", "--available"]
    _, out, _ = _run(module, argv, " ".join(argv[1:]))
    return parse_updateinfo(out)


def check_update(module, security=False, dnf=None):
    path, _ = dnf or dnf_binary(module)
    argv = [path, "-q", "check-update"] + (["--security"] if security else [])
    rc, out, err = module.run_command(argv, environ_update=DNF_ENV)
    if rc not in (0, 100):
        raise DnfError(describe_failure(" ".join(argv[1:]), rc, out, err))
    return parse_check_update(out, rc)


def pending_updates(module):
    """Every pending update, classified by dnf's security filter, in the iryo_apt pending shape."""
    dnf = dnf_binary(module)
    updates = check_update(module, False, dnf)
    security = check_update(module, True, dnf)
    advisories = security_advisories(module, dnf)
    return build_pending(updates, security, advisories)


def reboot_required(module):
    """(reboot_required, reasons) from needs-restarting -r (dnf-utils / yum-utils or the dnf plugin)."""
    tool = module.get_bin_path("needs-restarting")
    argv = [tool, "-r"] if tool else [dnf_binary(module)[0], "needs-restarting", "-r"]
    rc, out, err = module.run_command(argv, environ_update=DNF_ENV)
    if rc not in (0, 1) or ("No such command" in (out or "") + (err or "")):
        raise DnfError(describe_failure(" ".join(argv), rc, out, err)
                       + " (install dnf-utils / dnf-plugins-core for needs-restarting)")
    return parse_needs_restarting(out, rc)


def security_upgrade_plan(module, dnf=None):
    """What `dnf upgrade --security` would do, without doing it (--assumeno).

    dnf answers no and exits 1 ("Operation aborted.") after printing the table; 0 when there
    is nothing to do. An 'Error:' in the output is a failure whatever the exit code.
    """
    path, _ = dnf or dnf_binary(module)
    argv = [path, "upgrade", "--security", "--assumeno"]
    rc, out, err = module.run_command(argv, environ_update=DNF_ENV)
    if rc not in (0, 1) or _error_lines(out or "") or _error_lines(err or ""):
        raise DnfError(describe_failure("dnf upgrade --security --assumeno", rc, out, err))
    plan = parse_transaction(out)
    if rc == 1 and plan["nothing_to_do"]:
        raise DnfError(describe_failure("dnf upgrade --security --assumeno", rc, out, err))
    return plan


def apply_security_upgrade(module, dnf=None):
    """Install the security updates: `dnf -y upgrade --security`, never a plain upgrade."""
    path, _ = dnf or dnf_binary(module)
    _, out, _ = _run(module, [path, "-y", "upgrade", "--security"], "dnf -y upgrade --security")
    return out
