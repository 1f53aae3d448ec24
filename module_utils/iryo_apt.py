# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pending Debian/Ubuntu upgrades, classified security vs other.

Two backends that must agree (the lab tests compare them):
- python3-apt (apt_pkg), when the host's Python has it: Debian's own classifier pattern;
- `apt-get -s dist-upgrade` output, parsed, when it does not (python-apt is not on PyPI).
Standard library only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

import calendar
import glob
import os
import re
import time
from email.utils import parsedate_tz

__metaclass__ = type

LISTS_DIR = "/var/lib/apt/lists"

# Inst less [590-2] (590-2+deb12u1 Debian-Security:12/stable-security [amd64])
# Inst newdep (1.0 Debian:12.5/stable [amd64])            <- a new package, no installed version
_INST = re.compile(r"^Inst (?P<package>\S+) (?:\[(?P<installed>[^\]]*)\] )?"
                   r"\((?P<candidate>\S+) (?P<releases>.*?) \[(?P<arch>[^\]]+)\]\)")


def release_is_security(label, archive, codename=""):
    """Security origin by label or suite, never by archive alias: bookworm is now oldstable."""
    return ("security" in (label or "").lower()
            or (archive or "").endswith("-security")
            or (codename or "").endswith("-security"))


def parse_release_string(text):
    """'Debian-Security:12/stable-security, Debian:12.5/stable' -> [{label, version, archive}]."""
    releases = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        label, _, rest = part.partition(":")
        version, _, archive = rest.rpartition("/") if "/" in rest else ("", "", rest)
        releases.append({"label": label, "version": version, "archive": archive})
    return releases


def parse_simulation(output):
    """Parse `apt-get -s dist-upgrade` output into pending upgrades."""
    pending = []
    for line in output.splitlines():
        match = _INST.match(line)
        if not match:
            continue
        releases = parse_release_string(match.group("releases"))
        pending.append({
            "package": match.group("package"),
            "installed": match.group("installed") or None,
            "candidate": match.group("candidate"),
            "arch": match.group("arch"),
            "origins": sorted({"%s:%s" % (r["label"], r["archive"]) for r in releases}),
            "security": any(release_is_security(r["label"], r["archive"]) for r in releases),
        })
    return sorted(pending, key=lambda p: p["package"])


def pending_with_apt_pkg(apt_pkg):
    """The same list computed with python3-apt (module passed in: it may not exist)."""
    apt_pkg.init()
    cache = apt_pkg.Cache(None)
    depcache = apt_pkg.DepCache(cache)
    depcache.upgrade(True)  # dist-upgrade semantics, like `apt-get -s dist-upgrade`
    pending = []
    for pkg in cache.packages:
        if not (depcache.marked_upgrade(pkg) or depcache.marked_install(pkg)):
            continue
        candidate = depcache.get_candidate_ver(pkg)
        files = [pf for pf, _ in candidate.file_list if pf.archive != "now"]
        pending.append({
            "package": pkg.name,
            "installed": pkg.current_ver.ver_str if pkg.current_ver else None,
            "candidate": candidate.ver_str,
            "arch": candidate.arch,
            "origins": sorted({"%s:%s" % (pf.label, pf.archive) for pf in files}),
            "security": any(release_is_security(pf.label, pf.archive, pf.codename) for pf in files),
        })
    return sorted(pending, key=lambda p: p["package"])


def lists_age_hours(lists_dir=LISTS_DIR, now=None):
    """Hours since apt last fetched release files, or None when it never did."""
    stamps = [os.path.getmtime(p) for pattern in ("*_InRelease", "*_Release")
              for p in glob.glob(os.path.join(lists_dir, pattern))]
    if not stamps:
        return None
    return round(((now or time.time()) - max(stamps)) / 3600.0, 1)


def _release_fields(path):
    """The top-level fields of a Release/InRelease file (the clear-signed header is skipped)."""
    fields = {}
    with open(path, errors="replace") as handle:
        for line in handle:
            if line.startswith("-----BEGIN PGP SIGNATURE"):
                break
            if line.startswith((" ", "\t", "-----", "Hash:")) or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def release_dates(lists_dir=LISTS_DIR):
    """{"label:suite": epoch seconds} from the Release files apt fetched.

    Debian's Packages indexes carry no per-package dates; the Release file's `Date:` is the only
    statement the archive makes about time: the index it signs (and every package in it) was
    published then. A pending update was therefore available no later than that date, which makes
    `now - Date` a lower bound of how long it has been pending (docs/patch-level.md).
    """
    dates = {}
    for pattern in ("*_InRelease", "*_Release"):
        for path in glob.glob(os.path.join(lists_dir, pattern)):
            try:
                fields = _release_fields(path)
            except OSError:
                continue
            parsed = parsedate_tz(fields.get("Date", ""))
            if parsed is None:
                continue
            stamp = calendar.timegm(parsed[:9]) - (parsed[9] or 0)
            for suite in {fields.get("Suite"), fields.get("Codename")} - {None, ""}:
                key = "%s:%s" % (fields.get("Label", ""), suite)
                dates[key] = min(stamp, dates.get(key, stamp))
    return dates


def annotate_published(pending, dates, now=None):
    """Add `published` (ISO date of the oldest index listing the candidate) and
    `pending_days_at_least` to each pending upgrade whose origin apt has a Release date for."""
    now = now or time.time()
    for package in pending:
        stamps = [dates[o] for o in package.get("origins", []) if o in dates]
        if stamps:
            oldest = min(stamps)
            package["published"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(oldest))
            package["pending_days_at_least"] = max(0, int((now - oldest) // 86400))
        else:
            package["published"] = None
            package["pending_days_at_least"] = None
    return pending
