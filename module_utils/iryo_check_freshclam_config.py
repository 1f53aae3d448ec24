# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the freshclam_config module (library/freshclam_config.py documents it), importable by clause modules
(module_utils/iryo_clause.py): ARGUMENT_SPEC, CHECKS and run_module(module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import tempfile
import time

from ansible.module_utils.iryo_clamav import judge as judge_signatures
from ansible.module_utils.iryo_clamav import scan_directory
from ansible.module_utils.iryo_files import ChangedMeanwhile, failure_line
from ansible.module_utils.iryo_findings import make_finding, some

CHECK = "c12.antimalware.mirror_config"
CHECKS = (CHECK,)
OPTIONS = ("PrivateMirror", "DatabaseCustomURL", "DatabaseMirror")
MARK = "# iryo-guard (C.12): public mirror off, updates come from the hospital mirror: "
LOG_STAMP = re.compile(r"^(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}) -> ")
LOG_OK = re.compile(r"( updated \(version| is up-to-date \(version)")
LOG_STARTED = "ClamAV update process started"
UPDATED = re.compile(r"(\S+) updated \(version")
SERVICE = "clamav-freshclam.service"

# Secrets freshclam.conf can hold: the proxy password, and credentials in a mirror URL
# (https://user:pass@mirror/). They never leave the host: diffs, findings, messages and the echoed
# arguments show "********" instead (issue 16 item 2).
MASK = "********"
SECRET_OPTIONS = ("HTTPProxyPassword",)
URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s]*)@")
# Values stricter than freshclam's own parser: one token without blanks or control characters, so that a
# value can never add a second option line (a newline in an inventory value) or be read as two words.
BAD_VALUE = re.compile(r"[\s\x00-\x1f\x7f]")
# freshclam 1.4 reads its file in fixed-size lines: a PrivateMirror line with a 1000-character URL splits and
# fails ("Missing argument"), one with 510 characters is read (measured on the lab, 1.4.3 and 1.4.6).
MAX_URL = 500


def split_option(line):
    """(name, value) of an active option line, else None."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split(None, 1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def _mask_userinfo(match):
    userinfo = match.group(2)
    if ":" in userinfo:
        # the user name helps whoever reads the report; the password does not
        return "%s%s:%s@" % (match.group(1), userinfo.split(":", 1)[0], MASK)
    return "%s%s@" % (match.group(1), MASK)  # a bare token


def secrets_in(text, values=()):
    """The secret strings of a freshclam.conf text and of URL option values: proxy passwords, URL passwords."""
    found = set()
    for line in (text or "").splitlines():
        option = split_option(line)
        if option and option[0] in SECRET_OPTIONS and option[1]:
            found.add(option[1])
    for value in list(values) + [text or ""]:
        for match in URL_CREDENTIALS.finditer(value or ""):
            userinfo = match.group(2)
            secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
            if secret:
                found.add(secret)
    return found


def redact(value, secrets=()):
    """`value` (str, list, dict; nested) with every secret masked: the value of a secret option line, URL
    credentials, and any of `secrets` wherever it appears (longest first, so one secret inside another
    cannot leave a tail)."""
    if isinstance(value, dict):
        return dict((key, redact(item, secrets)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    if not isinstance(value, str):
        return value
    value = printable(value)
    lines = []
    for line in value.splitlines(True):
        option = split_option(line)
        if option and option[0] in SECRET_OPTIONS and option[1]:
            indent = line[:len(line) - len(line.lstrip())]
            line = "%s%s %s%s" % (indent, option[0], MASK, "\n" if line.endswith("\n") else "")
        lines.append(line)
    text = URL_CREDENTIALS.sub(_mask_userinfo, "".join(lines))
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def secret_lines(text):
    """The secret option names the text sets (HTTPProxyPassword)."""
    return [option[0] for option in map(split_option, text.splitlines()) if option and option[0] in SECRET_OPTIONS]


def mode_problem(path, text):
    """Why the file's mode is wrong for what it holds, or None: with a password in it, group and others must not
    read it, and freshclam itself refuses to start then."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        return None
    if secret_lines(text) and mode & 0o077:
        return ("%s holds HTTPProxyPassword but is mode %04o: other users can read the password and freshclam "
                "refuses to run (at most 0700)" % (path, mode))
    return None


def read_text(path):
    """The file as text, byte for byte: bytes that are not UTF-8 (a Shift_JIS comment) survive the edit
    unchanged (surrogateescape) instead of failing the read; freshclam itself reads bytes."""
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def printable(text):
    """The text for a diff or a report: bytes that are not UTF-8 shown as U+FFFD (JSON cannot carry them)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def refuse_bad_values(module, params):
    """Fail before reading anything when a URL could not be one option value (blanks, newlines, control
    characters): written as is, a newline would add an option line to freshclam.conf."""
    for name in ("private_mirrors", "custom_urls"):
        for value in params[name]:
            if not value or BAD_VALUE.search(value) or len(value) > MAX_URL:
                shown = json.dumps(redact(value, secrets_in("", [value]))[:120], ensure_ascii=False)
                module.fail_json(msg="%s: %s is not one URL (empty, blanks or control characters in it, or "
                                     "longer than %d characters); "
                                     "nothing was read or written" % (name, shown, MAX_URL))


class Redacting(object):
    """The module as run_module sees it: every result and message leaves through redact(), with the secrets
    known so far (the set grows once the file is read). The secrets also join the module's no_log values,
    so Ansible masks them in what it adds itself (the echoed arguments); only from 4 characters on, since
    Ansible masks a no_log value wherever it occurs and a 1-character one would garble the whole result."""

    def __init__(self, module, secrets):
        self._module = module
        self.secrets = secrets

    def learn(self, found):
        self.secrets.update(found)
        try:
            self._module.no_log_values.update(s for s in found if len(s) >= 4)
        except AttributeError:  # a stand-in without no_log_values (unit tests)
            pass

    def exit_json(self, **result):
        self._module.exit_json(**redact(result, self.secrets))

    def fail_json(self, msg, **result):
        self._module.fail_json(msg=redact(msg, self.secrets), **redact(result, self.secrets))

    def warn(self, warning):
        self._module.warn(redact(warning, self.secrets))

    def __getattr__(self, name):
        return getattr(self._module, name)


def is_public(value):
    host = re.sub(r"^[a-z]+://", "", value.strip().lower()).split("/")[0].split(":")[0]
    return host == "clamav.net" or host.endswith(".clamav.net")


def parse(text):
    configured = {name: [] for name in OPTIONS}
    other = {}
    for line in text.splitlines():
        option = split_option(line)
        if option is None:
            continue
        if option[0] in configured:
            configured[option[0]].append(option[1])
        else:
            other[option[0]] = option[1]
    configured["UpdateLogFile"] = other.get("UpdateLogFile")
    return configured


def parse_value(text, name):
    """The value of a single-valued option (the last active line wins, as in freshclam), or None."""
    value = None
    for line in text.splitlines():
        option = split_option(line)
        if option and option[0] == name:
            value = option[1]
    return value


def edit(text, private_mirrors, custom_urls, remove_public):
    """The new text: minimal line edits. Lists are exact for PrivateMirror and DatabaseCustomURL."""
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    wanted = {"PrivateMirror": list(private_mirrors), "DatabaseCustomURL": list(custom_urls)}
    out, seen = [], {name: [] for name in wanted}
    for line in lines:
        option = split_option(line)
        if option and option[0] in wanted:
            if option[1] in wanted[option[0]] and option[1] not in seen[option[0]]:
                seen[option[0]].append(option[1])
                out.append(line)
            continue  # not listed (or a duplicate): removed
        if option and option[0] == "DatabaseMirror" and remove_public and is_public(option[1]):
            out.append(MARK + line.lstrip())
            continue
        out.append(line)
    for name in ("PrivateMirror", "DatabaseCustomURL"):
        missing = ["%s %s\n" % (name, value) for value in wanted[name] if value not in seen[name]]
        if not missing:
            continue
        anchors = [i for i, line in enumerate(out) if (split_option(line) or ("",))[0] == name]
        if not anchors:
            anchors = [i for i, line in enumerate(out)
                       if (split_option(line) or ("",))[0] in ("PrivateMirror", "DatabaseMirror")
                       or line.startswith(MARK)]
        at = anchors[-1] + 1 if anchors else len(out)
        out[at:at] = missing
    return "".join(out)


def problems_of(configured, private_mirrors, custom_urls, remove_public):
    found = []
    for name, wanted in (("PrivateMirror", private_mirrors), ("DatabaseCustomURL", custom_urls)):
        if sorted(set(configured[name])) != sorted(set(wanted)):
            # Plain words, not Python lists: these lines are shown to people in the report.
            found.append("%s is %s, expected %s" % (name, ", ".join(configured[name]) or "not set",
                                                    ", ".join(wanted) or "not set"))
    public = [m for m in configured["DatabaseMirror"] if is_public(m)]
    if remove_public and public:
        found.append("DatabaseMirror still names the public mirror (%s)" % ", ".join(public))
    if not private_mirrors and not custom_urls and not configured["PrivateMirror"] and public:
        found.append("freshclam updates only from the public mirror (%s), unreachable on a closed network; "
                     "no hospital mirror declared" % ", ".join(public))
    return found


def mirror_finding(path, evidence, expected, problems, declared, remove_public):
    """The finding on freshclam.conf as read (evidence: path, configured, service, last_success)."""
    if problems:
        return make_finding(CHECK, "fail", "medium", path, dict(evidence, problems=problems), expected,
                            "Point freshclam at the hospital's mirror: PrivateMirror for the official databases, "
                            "DatabaseCustomURL for local ones, public DatabaseMirror lines off "
                            "(c12_patches_antimalware_private_mirrors / _custom_urls, then harden).", declared,
                            summary="freshclam: %s" % some(problems, 3, sep="; ", width=225))
    configured = evidence["configured"]
    sources = configured["PrivateMirror"] + configured["DatabaseCustomURL"]
    return make_finding(CHECK, "pass", "medium", path, evidence, expected, "", True,
                        summary="freshclam updates from %s%s; clamav-freshclam is %s" % (
                            some(sources, 2) if sources else some(configured["DatabaseMirror"], 2),
                            ", no public mirror" if remove_public else "",
                            evidence["service"].get("active") or "not known (no systemctl)"))


def last_success(log_path):
    """Stamp of the last update run in freshclam's log that reported a database and no error."""
    if not log_path:
        return None
    try:
        with open(log_path, errors="replace") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    result, stamp, ok, error = None, None, False, False
    for line in lines + [LOG_STARTED]:
        if LOG_STARTED in line:
            if stamp and ok and not error:
                result = stamp
            stamp, ok, error = None, False, False
            match = LOG_STAMP.match(line)
            stamp = match.group(1) if match else None
            continue
        if "ERROR:" in line:
            error = True
        elif LOG_OK.search(line):
            ok = True
            match = LOG_STAMP.match(line)
            stamp = match.group(1) if match else stamp
    return result


def service_state(module):
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return {"enabled": None, "active": None}
    state = {}
    for key, verb in (("enabled", "is-enabled"), ("active", "is-active")):
        _, out, _ = module.run_command([systemctl, verb, "clamav-freshclam.service"])
        state[key] = out.strip() or None
    return state


def validate(module, path, target=None):
    """freshclam loads `path` (the new text in a temporary file); `target` is the file it is meant for."""
    freshclam = module.get_bin_path("freshclam")
    if not freshclam:
        return "freshclam not installed: the new file was parsed back only"
    rc, out, err = module.run_command([freshclam, "--config-file=%s" % path, "--version"])
    if rc != 0:
        module.fail_json(msg="freshclam refuses the new configuration for %s, file left unchanged: %s"
                         % (target or path, " ".join((err or out).split())), rc=rc)
    return None


ARGUMENT_SPEC = dict(
    state=dict(type="str", default="audit", choices=["audit", "enforced"]),
    private_mirrors=dict(type="list", elements="str", default=[]),
    custom_urls=dict(type="list", elements="str", default=[]),
    remove_public_mirror=dict(type="bool"),
    path=dict(type="path", default="/etc/clamav/freshclam.conf"),
    backup=dict(type="bool", default=True),
    validate=dict(type="bool", default=True),
    update_now=dict(type="bool", default=False),
    update_db=dict(type="list", elements="str", default=[]),
    database_dir=dict(type="path"),
    max_age_hours=dict(type="int", default=72),
    service_dropin=dict(type="str"),
)

DROPIN = "/etc/systemd/system/clamav-freshclam.service.d/iryo-guard.conf"


def service_needs(module, service, service_dropin):
    """What the freshclam service still needs that a role's builtin tasks provide (packages aside): its
    drop-in as wanted (`service_dropin`: the wanted content, "" for none, None when not judged) and being
    enabled and running. The nightly then skips those tasks when nothing is needed."""
    needs = []
    if service_dropin is not None:
        try:
            with open(DROPIN) as handle:
                current = handle.read()
        except (IOError, OSError):
            current = None
        if (current or "") != service_dropin and not (current is None and service_dropin == ""):
            needs.append("dropin")
    if service.get("enabled") != "enabled" or service.get("active") != "active":
        needs.append("service")
    return needs
MODULE_KWARGS = {}


def signatures_stale(directory, max_age, now=None):
    """Why the ClamAV signatures in `directory` need an update (None: they are fresh). Judged as
    av_signatures judges them, from the headers only: freshclam itself decides from the header's version,
    so a body that fails its MD5 would not be fetched again anyway (av_signatures reports that one)."""
    now = time.time() if now is None else now
    databases, skipped, error = scan_directory(directory, now, True, False)
    if error:
        return error
    verdict = judge_signatures(directory, databases, max_age, now, skipped)
    return None if verdict["status"] == "pass" else verdict["reason"]


def update_argv(freshclam, path, update_db):
    return [freshclam, "--stdout", "--config-file=%s" % path] + ["--update-db=%s" % name for name in update_db]


def run_update(module, path, update_db, reason):
    """One freshclam run from the configured mirror; returns what it did. The clamav-freshclam daemon holds
    freshclam's log lock while it runs (a second freshclam stops at "Failed to lock the log file"), so
    an active daemon is stopped for the run and started again afterwards, also when the run fails; the
    restart makes it read a configuration that just changed."""
    freshclam = module.get_bin_path("freshclam")
    if not freshclam:
        module.fail_json(msg="update_now: freshclam is not installed (install clamav-freshclam first)")
    argv = update_argv(freshclam, path, update_db)
    record = {"due": True, "reason": reason, "ran": True, "cmd": argv, "updated": [], "service_restarted": False}
    systemctl = module.get_bin_path("systemctl")
    active = False
    if systemctl:
        _, out, _ = module.run_command([systemctl, "is-active", SERVICE])
        active = out.strip() == "active"
    if active:
        rc, out, err = module.run_command([systemctl, "stop", SERVICE])
        if rc != 0:
            module.fail_json(msg="could not stop %s for the freshclam run: %s" % (SERVICE, (err or out).strip()),
                             update=record)
    try:
        rc, out, err = module.run_command(argv, environ_update={"LANG": "C", "LC_ALL": "C"})
    finally:
        if active:
            started, sout, serr = module.run_command([systemctl, "start", SERVICE])
            record["service_restarted"] = started == 0
            if started != 0:
                module.warn("%s did not start again after the freshclam run: %s" % (SERVICE, (serr or sout).strip()))
    record.update(rc=rc, updated=UPDATED.findall(out))
    record["output"] = [line for line in out.splitlines() if line.strip()][-20:]
    if rc != 0:
        errors = [line.strip() for line in (out + "\n" + err).splitlines() if "ERROR" in line]
        module.fail_json(msg="freshclam could not update the signatures from the configured mirror (rc=%d): %s"
                         % (rc, "; ".join(errors[-3:]) or (err or out).strip()[-300:]), update=record)
    return record


def run_module(module):
    module = Redacting(module, set())
    params = module.params
    path, mirrors, urls = params["path"], params["private_mirrors"], params["custom_urls"]
    module.learn(secrets_in("", mirrors + urls))
    refuse_bad_values(module, params)
    remove_public = params["remove_public_mirror"]
    if remove_public is None:
        remove_public = bool(mirrors or urls)
    expected = {"PrivateMirror": mirrors, "DatabaseCustomURL": urls,
                "public DatabaseMirror": "none" if remove_public else "allowed"}

    if not os.path.exists(path):
        finding = make_finding(CHECK, "fail", "medium", path, {"exists": False}, expected,
                               "Install clamav-freshclam and point it at the hospital mirror.", True,
                               summary="%s does not exist (freshclam not installed); required: freshclam updating "
                                       "from %s" % (path, some(mirrors + urls, 2) if mirrors or urls
                                                    else "the hospital mirror"))
        # Not a failure: the role installs the packages when the call says it needs them, then calls again.
        module.exit_json(changed=False, configured={}, service=service_state(module), last_success=None,
                         findings=[finding], needs=["packages", "dropin", "service"])
    current = read_text(path)
    module.learn(secrets_in(current))

    changed, diff, result = False, [], {}
    notes = []
    text = current
    if params["state"] == "enforced":
        wanted = edit(current, mirrors, urls, remove_public)
        after = parse(wanted)
        if not after["PrivateMirror"] and not after["DatabaseMirror"]:
            module.fail_json(msg="the result would have no PrivateMirror or DatabaseMirror line, and freshclam 1.4 "
                                 "then refuses to run (also for custom databases only): set private_mirrors")
        if wanted != current:
            changed = True
            diff.append({"before_header": path, "after_header": path, "before": printable(current),
                         "after": printable(wanted)})
            if not module.check_mode:
                folder = os.path.dirname(path) or "."
                tmp = None
                moved = False
                try:
                    fd, tmp = tempfile.mkstemp(prefix=".freshclam.conf.", dir=folder)
                    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
                        handle.write(wanted)
                    if params["validate"]:
                        note = validate(module, tmp, path)
                        if note:
                            notes.append(note)
                    if problems_of(parse(read_text(tmp)), mirrors, urls, remove_public):
                        module.fail_json(msg="the new %s does not parse back as intended, left unchanged" % path)
                    # Another writer may have changed the file since we read it (freshclam ran in between):
                    # renaming ours over it would drop that edit silently.
                    # Read the same way as `current` (text, surrogateescape) so that only a real edit differs.
                    if read_text(path) != current:
                        raise ChangedMeanwhile(path)
                    if params["backup"]:
                        result["backup_file"] = module.backup_local(path)
                        if secret_lines(current):
                            os.chmod(result["backup_file"], 0o600)  # the copy holds the password too
                    module.atomic_move(tmp, path)
                    moved = True
                except (IOError, OSError) as exc:
                    # temporary file + rename: the previous file is as it was (full disk, read-only
                    # folder, or changed by another writer, whose file is left as it is)
                    module.fail_json(msg="%s; the previous file is unchanged" % failure_line(path, exc))
                finally:
                    if tmp is not None and os.path.exists(tmp):
                        os.unlink(tmp)
                    backup_file = result.get("backup_file")
                    if not moved and backup_file and os.path.exists(backup_file):
                        os.unlink(backup_file)
                text = read_text(path)
        mode = os.stat(path).st_mode & 0o7777
        if secret_lines(wanted) and mode & 0o077:
            # freshclam refuses a file with HTTPProxyPassword that group or others can read ("Insecure
            # permissions ... must have no more than 0700 permissions", then "Initialization error", ClamAV
            # 1.4), and so should we: the password is not for every local user.
            changed = True
            diff.append({"before_header": "%s (mode)" % path, "after_header": "%s (mode)" % path,
                         "before": "%04o\n" % mode, "after": "%04o\n" % (mode & 0o700)})
            if not module.check_mode:
                os.chmod(path, mode & 0o700)

    update = None
    if params["state"] == "enforced" and params["update_now"]:
        if params["max_age_hours"] < 1:
            module.fail_json(msg="max_age_hours must be at least 1, got %d" % params["max_age_hours"])
        # Only when something is to fetch: a configuration that points elsewhere now, or signatures that
        # are missing, broken or older than the limit. Never in check mode (it says what would run).
        directory = params["database_dir"] or parse_value(text, "DatabaseDirectory") or "/var/lib/clamav"
        reason = "the configuration changed" if changed else None
        stale = signatures_stale(directory, params["max_age_hours"])
        if stale:
            reason = "%s; %s" % (reason, stale) if reason else stale
        if reason and module.check_mode:
            update = {"due": True, "reason": reason, "ran": False,
                      "cmd": update_argv("freshclam", path, params["update_db"])}
        elif reason:
            update = run_update(module, path, params["update_db"], reason)
            changed = changed or bool(update["updated"])
        else:
            update = {"due": False, "ran": False}
        result["update"] = update

    configured = parse(text)
    service = service_state(module)
    success = last_success(configured.pop("UpdateLogFile") or "/var/log/clamav/freshclam.log")
    evidence = {"path": path, "configured": configured, "service": service, "last_success": success}
    if notes:
        evidence["notes"] = notes
    if module.check_mode and changed:
        evidence["would_change"] = True
    if update and update["due"]:
        # what the enforcement fetched (or, in check mode, would fetch) and why
        evidence["update"] = {"ran": update["ran"], "reason": update["reason"], "updated": update.get("updated", [])}
    problems = problems_of(configured, mirrors, urls, remove_public)
    wrong_mode = mode_problem(path, text)  # in check mode the file as it is; the diff says what enforce changes
    if wrong_mode:
        problems.insert(0, wrong_mode)  # first: freshclam does not run at all then
    finding = mirror_finding(path, evidence, expected, problems, bool(mirrors or urls), remove_public)
    module.exit_json(changed=changed, diff=diff, configured=configured, service=service, last_success=success,
                     findings=[finding], needs=service_needs(module, service, params["service_dropin"]), **result)

