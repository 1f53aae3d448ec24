# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ClamAV signature databases: what is in a database directory, how old it is, whether it can be trusted.

Used by library/av_signatures.py on the managed host: Python standard library only, Python >= 3.8.
Every function takes ``now`` (Unix seconds) so tests can fix the clock.

Official databases (main/daily/bytecode .cvd and .cld) start with a 512-byte ASCII header
(libclamav/cvd.c ``cl_cvdparse``, sigtool ``build()``)::

    ClamAV-VDB:<build time>:<version>:<signatures>:<functionality level>:<md5>:<dsig>:<builder>[:<stime>]

``<build time>`` is written by ``strftime("%d %b %Y %H-%M %z")`` in the C locale, ``<stime>`` (Unix
seconds) is optional ("old file format"). A ``.cvd`` continues with a gzip tar whose MD5 is
``<md5>``; a ``.cld`` (built by freshclam from cdiffs) continues with a plain tar starting with
``COPYING``, or a gzip one with CompressLocalDatabase, and usually carries ``X`` for md5 and dsig.
Custom databases (.hdb, .ndb, ... plain text, unsigned) carry no date: their age is their mtime,
i.e. when freshclam fetched them (DatabaseCustomURL) or someone copied them in.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import hashlib
import os
import re
import stat
import time

HEADER_SIZE = 512
MAGIC = b"ClamAV-VDB:"
# libclamav warns about a database "timestamp in the future" beyond one hour; so do we, as an error.
FUTURE_TOLERANCE_SECONDS = 3600

OFFICIAL_EXTENSIONS = (".cvd", ".cld")
# .cud: an unsigned container with the same header (CVD_TYPE_CUD in libclamav); judged by its header.
HEADER_EXTENSIONS = OFFICIAL_EXTENSIONS + (".cud",)
# Plain-text (or bytecode/YARA) databases that add detections.
DETECTION_EXTENSIONS = (".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".mdu", ".msu", ".ndb", ".ndu",
                        ".ldb", ".ldu", ".cdb", ".idb", ".pdb", ".gdb", ".imp", ".cbc", ".yar", ".yara")
# Files that only suppress or allow (false-positive lists, ignore lists, phishing allow list): listed,
# but a fresh allow list never makes stale signatures look fresh.
ALLOWLIST_EXTENSIONS = (".fp", ".sfp", ".ign", ".ign2", ".wdb")
# Custom files larger than this are not read to count their signatures (their age needs only stat).
COUNT_LIMIT_BYTES = 64 * 1024 * 1024

MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
          "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}
BUILD_TIME_RE = re.compile(r"^(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2})-(\d{2}) ([+-])(\d{2})(\d{2})$")
MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")
YARA_RULE_RE = re.compile(r"^\s*(?:(?:private|global)\s+)*rule\s+\w+", re.MULTILINE)


class HeaderError(ValueError):
    """A database file whose header (or body) ClamAV could not use; the message says why."""


def iso_utc(timestamp):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def age_hours(timestamp, now):
    return round((now - timestamp) / 3600.0, 2)


def parse_build_time(text):
    """Unix seconds of a header's build-time field, e.g. ``25 Nov 2026 22-16 +0000``.

    Parsed by hand: strptime's %b follows the host locale (a ja_JP host would reject "Nov").
    """
    match = BUILD_TIME_RE.match(text.strip())
    if not match:
        raise HeaderError("build time %r is not in ClamAV's form 'DD Mon YYYY HH-MM +ZZZZ'" % text)
    day, month, year, hour, minute, sign, off_h, off_m = match.groups()
    if month.capitalize() not in MONTHS:
        raise HeaderError("build time %r has an unknown month %r" % (text, month))
    day, year, hour, minute = int(day), int(year), int(hour), int(minute)
    month = MONTHS[month.capitalize()]
    if not (1970 <= year <= 9999 and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour < 24 and minute < 60 and int(off_h) <= 14 and int(off_m) < 60):
        raise HeaderError("build time %r is not a real date and time" % text)
    offset = (int(off_h) * 3600 + int(off_m) * 60) * (1 if sign == "+" else -1)
    return calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0)) - offset


def _number(value, what):
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        raise HeaderError("%s %r is not a number" % (what, value))
    return int(value)


def parse_header(head):
    """Parse the first 512 bytes of a .cvd/.cld/.cud file. Raises HeaderError with the reason."""
    if not head:
        raise HeaderError("empty file (0 bytes)")
    if not (head.startswith(MAGIC) or (len(head) < len(MAGIC) and MAGIC.startswith(head))):
        raise HeaderError("wrong magic: the file starts with %r, not %r" % (head[:16], MAGIC))
    if len(head) < HEADER_SIZE:
        raise HeaderError("truncated: %d bytes, shorter than the %d-byte header" % (len(head), HEADER_SIZE))
    # Like cl_cvdhead: the header ends at the first newline (or NUL, for C), padding is spaces.
    line = re.split(b"[\r\n\x00]", head[:HEADER_SIZE], maxsplit=1)[0].rstrip(b" ")
    for offset, byte in enumerate(bytearray(line)):
        if byte < 0x20 or byte > 0x7e:
            raise HeaderError("header is not printable ASCII: byte 0x%02x at offset %d" % (byte, offset))
    fields = line.decode("ascii").split(":")
    if len(fields) < 8:
        raise HeaderError("header has %d fields, ClamAV needs at least 8 "
                          "(magic, build time, version, signatures, functionality level, md5, dsig, builder)"
                          % len(fields))
    names = ("build time", "version", "signature count", "functionality level", "md5", "dsig", "builder")
    for name, value in zip(names, fields[1:8]):
        if not value.strip():
            raise HeaderError("header field %r is empty" % name)
    header = {
        "build_time_field": fields[1],
        "version": _number(fields[2], "version"),
        "signatures": _number(fields[3], "signature count"),
        "functionality_level": _number(fields[4], "functionality level"),
        "md5": fields[5].strip(),
        "dsig": fields[6].strip(),
        "builder": fields[7].strip(),
        "stime": None,
    }
    built = parse_build_time(fields[1])
    if len(fields) > 8 and fields[8].strip():
        header["stime"] = _number(fields[8], "build time in seconds (stime)")
    if header["stime"]:  # 0 or absent: old file format, the build-time field is all there is
        header["timestamp"], header["time_source"] = header["stime"], "stime"
    else:
        header["timestamp"], header["time_source"] = built, "build time field"
    return header


def _md5():
    try:
        return hashlib.md5(usedforsecurity=False)  # Python >= 3.9; works on FIPS hosts
    except TypeError:
        return hashlib.md5()  # noqa: S324 - an integrity check against the header, not security


def _check_body(handle, name, header, verify_checksums):
    """What follows the header must be the database itself. Returns the body MD5 verdict."""
    ext = os.path.splitext(name)[1].lower()
    start = handle.read(8)
    if not start:
        raise HeaderError("truncated: a header but no database after it")
    gzip = start.startswith(b"\x1f\x8b")
    if ext == ".cld":
        if not (gzip or start.startswith(b"COPYING")):
            raise HeaderError("the body after the header is neither a tar starting with COPYING nor gzip data")
        return "not applicable (.cld)"
    if not gzip:
        raise HeaderError("the body after the header is not gzip data (a %s is a header and a gzip tar)" % ext)
    if not verify_checksums:
        return "not checked (verify_checksums=false)"
    if not MD5_RE.match(header["md5"]):
        return "not checked (the header carries no MD5)"
    try:
        digest = _md5()
    except ValueError:  # a FIPS-enforcing Python without usedforsecurity
        return "not checked (MD5 unavailable on this host)"
    digest.update(start)
    for chunk in iter(lambda: handle.read(1024 * 1024), b""):
        digest.update(chunk)
    if digest.hexdigest() != header["md5"].lower():
        raise HeaderError("the MD5 of the database body does not match its header "
                          "(a truncated or damaged copy; clamd refuses it)")
    return "match"


def inspect_header_file(path, now, verify_checksums=True):
    """One .cvd/.cld/.cud file: header fields, build time, age, or the problem that makes it unusable."""
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1].lower()
    entry = {"name": name, "kind": "official" if ext in OFFICIAL_EXTENSIONS else "custom", "version": None,
             "signatures": None, "build_time": None, "age_hours": None, "source": "header"}
    try:
        with open(path, "rb") as handle:
            header = parse_header(handle.read(HEADER_SIZE))
            entry.update(version=header["version"], signatures=header["signatures"],
                         functionality_level=header["functionality_level"], builder=header["builder"],
                         build_time=iso_utc(header["timestamp"]), time_source=header["time_source"],
                         age_hours=age_hours(header["timestamp"], now), timestamp=header["timestamp"])
            entry["body_md5"] = _check_body(handle, name, header, verify_checksums)
    except HeaderError as exc:
        entry["problem"] = str(exc)
    except (OSError, IOError) as exc:
        entry["problem"] = "cannot read: %s" % (exc.strerror or exc)
    return entry


def count_signatures(path, ext, size):
    """Signatures in a plain-text database: one per non-comment line (rules for YARA). None if unknown."""
    if ext == ".cbc" or size > COUNT_LIMIT_BYTES:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (OSError, IOError):
        return None
    if ext in (".yar", ".yara"):
        return len(YARA_RULE_RE.findall(data.decode("utf-8", "replace")))
    return sum(1 for line in data.splitlines() if line.strip() and not line.lstrip().startswith(b"#"))


def inspect_custom_file(path, st, now, kind):
    """A custom database: its age is its mtime, i.e. when it was built or fetched."""
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1].lower()
    entry = {"name": name, "kind": kind, "version": None,
             "signatures": count_signatures(path, ext, st.st_size),
             "build_time": iso_utc(st.st_mtime), "age_hours": age_hours(st.st_mtime, now), "source": "mtime",
             "timestamp": st.st_mtime}
    if st.st_size == 0:
        entry["signatures"] = 0
        entry["problem"] = "empty file: holds no signatures"
    return entry


def scan_directory(directory, now, custom_databases=True, verify_checksums=True):
    """Every database file in ``directory`` (not recursive, like clamd).

    Returns (databases, skipped_custom, error). ``error`` is a message when the directory itself
    cannot be read; a missing directory is not an error (it simply holds no database).
    """
    try:
        names = sorted(os.listdir(directory))
    except (OSError, IOError) as exc:
        if not os.path.exists(directory):
            return [], 0, None
        return [], 0, "cannot list %s: %s" % (directory, exc.strerror or exc)
    databases, skipped = [], 0
    for name in names:
        path = os.path.join(directory, name)
        ext = os.path.splitext(name)[1].lower()
        if ext not in HEADER_EXTENSIONS + DETECTION_EXTENSIONS + ALLOWLIST_EXTENSIONS:
            continue
        try:
            st = os.stat(path)
        except (OSError, IOError):
            continue  # vanished while we looked (freshclam renames into place)
        if not stat.S_ISREG(st.st_mode):
            continue
        if ext in HEADER_EXTENSIONS:
            if ext in OFFICIAL_EXTENSIONS or custom_databases:
                databases.append(inspect_header_file(path, now, verify_checksums))
            else:
                skipped += 1
        elif not custom_databases:
            skipped += 1
        else:
            kind = "allowlist" if ext in ALLOWLIST_EXTENSIONS else "custom"
            databases.append(inspect_custom_file(path, st, now, kind))
    return databases, skipped, None


def _future(entry, now):
    return entry.get("timestamp") is not None and entry["timestamp"] - now > FUTURE_TOLERANCE_SECONDS


def judge(directory, databases, max_age_hours, now, skipped_custom=0):
    """The verdict on one database directory.

    Returns {status: pass|fail|error, reason, newest_age_hours, decided_by, problems, notes}. Rules:

    1. A database dated more than an hour ahead of the host clock: error (the clock or the file
       is wrong, so no age can be trusted).
    2. Official databases decide when at least one is usable: the age of the newest build
       (daily, in practice). Custom databases decide only when no official one is usable.
       Allow lists never decide.
    3. The newest deciding database older than max_age_hours: fail. A malformed header file
       does not change a fail: it cannot make stale signatures fresh.
    4. Otherwise any malformed header file (.cvd/.cld/.cud): error. clamd refuses to load a
       directory with a broken official database, so "fresh" cannot be claimed.
    5. Nothing to decide on: fail ("no signature database"), or error when broken files were there.
    """
    problems, notes = [], []
    broken = [d for d in databases if d.get("problem") and d["source"] == "header"]
    for entry in broken:
        problems.append("%s: %s" % (entry["name"], entry["problem"]))
    for entry in databases:
        if entry.get("problem") and entry["source"] != "header":
            notes.append("%s: %s" % (entry["name"], entry["problem"]))
    usable = [d for d in databases if not d.get("problem") and d["kind"] != "allowlist"]
    official = [d for d in usable if d["kind"] == "official"]
    deciding = official or usable
    future = ["%s: dated in the future: %s is %.1f hours ahead of the host clock (%s)"
              % (d["name"], d["build_time"], -d["age_hours"], iso_utc(now)) for d in usable if _future(d, now)]
    problems.extend(future)
    names = [d["name"] for d in official]
    for base in sorted(set(os.path.splitext(n)[0] for n in names)):
        if base + ".cvd" in names and base + ".cld" in names:
            notes.append("%s.cvd and %s.cld both present: clamd loads the higher version and warns" % (base, base))
    if official and not any(n.startswith("daily.") for n in names):
        notes.append("no daily database: the age is that of the newest other official database")
    if official and [d for d in usable if d["kind"] == "custom"]:
        notes.append("custom databases are listed but do not decide: official databases are present")
    if skipped_custom:
        notes.append("%d custom database file(s) not judged (custom_databases=false)" % skipped_custom)

    result = {"problems": problems, "notes": notes, "newest_age_hours": None, "decided_by": None}
    if deciding:
        newest = max(deciding, key=lambda d: d["timestamp"])
        result.update(newest_age_hours=newest["age_hours"], decided_by=newest["name"])
    if future:
        return dict(result, status="error", reason="; ".join(future))
    if not deciding:
        if broken:
            return dict(result, status="error",
                        reason="no usable signature database in %s: %s" % (directory, "; ".join(problems)))
        return dict(result, status="fail", reason="no signature database in %s" % directory)
    if now - newest["timestamp"] > max_age_hours * 3600:
        what = "built" if newest["source"] == "header" else "fetched or written (mtime)"
        reason = ("newest signatures are %.1f hours old (limit %d): %s, %s %s"
                  % (newest["age_hours"], max_age_hours, newest["name"], what, newest["build_time"]))
        if broken:
            reason += "; also broken: %s" % "; ".join(problems)
        return dict(result, status="fail", reason=reason)
    if broken:
        return dict(result, status="error",
                    reason="signatures look fresh but the verdict cannot be trusted: %s" % "; ".join(problems))
    return dict(result, status="pass",
                reason="newest signatures are %.1f hours old (limit %d): %s"
                       % (newest["age_hours"], max_age_hours, newest["name"]))


def public(entry):
    """A database entry as the module returns it (without the internal timestamp)."""
    return dict((k, v) for k, v in entry.items() if k != "timestamp")
