"""Notification hook: tell somebody when a host regresses (iryo_guard.history.regressions).

Two channels, either or both:
- a command (iryo_notify_command / IRYO_NOTIFY_COMMAND): run without a shell, gets the JSON
  summary on stdin; e.g. a script that opens a ticket or posts to the hospital's chat;
- a mail over SMTP (smtplib): iryo_notify_smtp_host / _port / _from / _to / _starttls / _tls /
  _ca_file / _user (see the report callback for where the controller reads them); the password only
  from the environment (IRYO_NOTIFY_SMTP_PASSWORD), so that it is never in an inventory or a log.

Transport security: STARTTLS (_starttls) and implicit TLS (_tls, "SMTPS", port 465 by default) verify
the relay's certificate and host name with ssl.create_default_context() (the system's CAs, or only
_ca_file for a hospital's private CA); a relay that fails the check gets nothing. A password is
never sent over a connection without TLS: the mail is refused with one line saying why.

A notification that cannot be delivered is reported (warning, and `errors` in the result); it
never loses the report or the history, which are written first.
"""

import json
import os
import shlex
import smtplib
import ssl
import subprocess
from email.message import EmailMessage

SETTINGS = ("command", "smtp_host", "smtp_port", "smtp_from", "smtp_to", "smtp_starttls", "smtp_tls", "smtp_ca_file",
            "smtp_user")
COMMAND_TIMEOUT = 120
SMTP_TIMEOUT = 30


class NotifyError(Exception):
    pass


def settings_from(variables=None, environ=None):
    """Settings from the controller's variables (iryo_notify_*: extra variables and the report callback's
    options), else the environment (IRYO_NOTIFY_*). Never pass a host's variables here (issue 16, item A)."""
    variables = variables or {}
    environ = os.environ if environ is None else environ
    settings = {}
    for key in SETTINGS:
        value = variables.get("iryo_notify_" + key)
        if value in (None, ""):
            value = environ.get("IRYO_NOTIFY_" + key.upper())
        if value not in (None, ""):
            settings[key] = value
    password = environ.get("IRYO_NOTIFY_SMTP_PASSWORD")
    if password:
        settings["smtp_password"] = password
    return settings


def summary(entry, found, report_html=None):
    """The JSON document a command gets on stdin and a mail carries."""
    hosts = sorted({r["host"] for r in found})
    return {
        "event": "iryo-guard.regression",
        "run_id": entry.get("run_id"),
        "started": entry.get("started"),
        "finished": entry.get("finished"),
        "playbook": entry.get("playbook"),
        "report": str(report_html) if report_html else entry.get("report"),
        "hosts": hosts,
        "regressions": found,
        "totals": entry.get("totals"),
    }


def _text(doc):
    lines = ["iryo-guard: %d regression(s) in run %s (%s)" % (len(doc["regressions"]), doc["run_id"], doc["playbook"]),
             "report: %s" % doc["report"], ""]
    words = {"regressed": "was %(previous_status)s, now %(status)s",
             "more_failures": "%(previous_failures)d -> %(failures)d failing checks (%(status)s)",
             "new_fail": "new, %(status)s"}
    for item in doc["regressions"]:
        lines.append("  %-20s %-5s %s" % (item["host"], item["clause"], words[item["kind"]] % item))
    return "\n".join(lines) + "\n"


def _as_list(value):
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _bool(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def run_command(command, doc, timeout=COMMAND_TIMEOUT):
    argv = command if isinstance(command, (list, tuple)) else shlex.split(str(command))
    if not argv:
        raise NotifyError("iryo_notify_command is empty")
    try:
        result = subprocess.run([str(a) for a in argv], input=json.dumps(doc, ensure_ascii=False, indent=2),
                                capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise NotifyError("notify command not found: %s" % argv[0]) from None
    except subprocess.TimeoutExpired:
        raise NotifyError("notify command timed out after %ss: %s" % (timeout, argv[0])) from None
    if result.returncode != 0:
        raise NotifyError("notify command %s exited %d: %s" % (argv[0], result.returncode,
                                                               (result.stderr or result.stdout).strip()[-500:]))
    return result


def tls_context(ca_file=None):
    """Certificate and host name verified (ssl.create_default_context): the system's CAs, or only ca_file."""
    if ca_file and not os.path.isfile(str(ca_file)):
        raise NotifyError("iryo_notify_smtp_ca_file %s is not a readable file" % ca_file)
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def send_mail(settings, doc, timeout=SMTP_TIMEOUT):
    recipients = _as_list(settings.get("smtp_to") or "")
    sender = settings.get("smtp_from")
    if not recipients or not sender:
        raise NotifyError("SMTP notification needs iryo_notify_smtp_from and iryo_notify_smtp_to")
    message = EmailMessage()
    message["Subject"] = "[iryo-guard] regression on %s (%s)" % (", ".join(doc["hosts"]), doc["run_id"])
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(_text(doc))
    message.add_attachment(json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"),
                           maintype="application", subtype="json", filename="iryo-guard-regression.json")
    implicit_tls = _bool(settings.get("smtp_tls", False))
    starttls = _bool(settings.get("smtp_starttls", False)) and not implicit_tls
    port = int(settings.get("smtp_port") or (465 if implicit_tls else 25))
    if settings.get("smtp_user") and not (implicit_tls or starttls):
        # Without TLS the password would cross the network in clear (AUTH PLAIN/LOGIN is base64 only).
        raise NotifyError("SMTP %s:%d: refusing to send the password of %s without TLS; set "
                          "iryo_notify_smtp_starttls=true or iryo_notify_smtp_tls=true"
                          % (settings["smtp_host"], port, settings["smtp_user"]))
    try:
        context = tls_context(settings.get("smtp_ca_file")) if (implicit_tls or starttls) else None
        if implicit_tls:
            connection = smtplib.SMTP_SSL(str(settings["smtp_host"]), port, timeout=timeout, context=context)
        else:
            connection = smtplib.SMTP(str(settings["smtp_host"]), port, timeout=timeout)
        with connection as smtp:
            if starttls:
                smtp.starttls(context=context)
            if settings.get("smtp_user"):
                smtp.login(str(settings["smtp_user"]), settings.get("smtp_password", ""))
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError("SMTP %s:%d: %s" % (settings["smtp_host"], port, " ".join(str(exc).split()))) from None
    if refused:
        raise NotifyError("SMTP refused recipients: %s" % ", ".join(sorted(refused)))
    return message


def notify(settings, doc):
    """Deliver doc through every configured channel; returns {"sent": [...], "errors": [...]}."""
    sent, errors = [], []
    if settings.get("command"):
        try:
            run_command(settings["command"], doc)
            sent.append("command")
        except NotifyError as exc:
            errors.append(str(exc))
    if settings.get("smtp_host"):
        try:
            send_mail(settings, doc)
            sent.append("smtp")
        except NotifyError as exc:
            errors.append(str(exc))
    return {"sent": sent, "errors": errors}
