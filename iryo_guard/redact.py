"""The controller's last line against secrets in what it writes (issue 16 item 2).

Modules mask what they know to be secret (freshclam_config masks the proxy password and URL credentials,
key_protection never reads key material out). A module that forgets, or a host that returns more than asked,
must still not put a secret in report.json/html, junit, history or a notification: every finding passes
through `redact_finding` where it enters the report, and everything derived from the report inherits that.

Three rules, none of them judging by a dictionary key alone (evidence uses `password` for an account's password
*state*, `token` for a PKCS#11 token label, and those must stay readable):

- text patterns that are secret wherever they appear: a PEM private key block (also one cut off before its END
  line), credentials in a URL (`scheme://user:pass@host` keeps the user), and `name value` / `name=value`
  settings whose name says password or PIN (freshclam's HTTPProxyPassword, a PKCS#11 URI's pin-value=...);
- explicit secrets the controller knows (the values of no_log inputs, e.g. PKCS#11 PINs, the SMTP password),
  gathered with `secrets_in_mapping`: masked wherever they occur; one shorter than 8 characters (a 4-digit PIN)
  only where it stands alone (not inside a longer word or number). A report may then show "RSA ********" where
  a key size equals a PIN: the price of never printing the PIN;
- bytes that are not text are left to the callers (findings are JSON already).

Standard library only.
"""

import re

MASK = "********"

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s]*)@")
# A setting whose name says it is a password or PIN, with its value: "password=x", "pin-value=x", "PIN: x"
# anywhere, and a configuration line "HTTPProxyPassword x" (a name with a prefix, at the start of a line; prose
# such as "password authentication is allowed" is not a setting). The value ends at a blank, ';', '&', ',' or
# a quote.
_SETTING = re.compile(r"(?i)\b((?:[a-z0-9_-]*pass(?:word|wd|phrase)|pin(?:-value)?|so-pin|secret)\s*[=:]\s*)"
                      r"([^\s;&,\"']+)")
_CONFIG_LINE = re.compile(r"(?m)^(\s*[A-Za-z0-9_]+(?:Password|Passwd|Passphrase|Secret)[ \t]+)(\S+)")
# Key names that mark a controller-side input as secret (its string leaves are collected, never judged here).
SECRET_KEY = re.compile(r"(?i)(pass(word|wd|phrase)|(^|_)pins?($|_)|pin_value|secret|api_?key|credential)")
# Keys that match SECRET_KEY but hold settings, not secrets (sshd's PasswordAuthentication switch, where a
# connection password came from): their values (no, ansible_password, ...) must stay readable in summaries.
NOT_SECRET_KEYS = frozenset(("password_auth", "connection_password_source"))
SHORT = 8


def _mask_userinfo(match):
    userinfo = match.group(2)
    if ":" in userinfo:
        return "%s%s:%s@" % (match.group(1), userinfo.split(":", 1)[0], MASK)
    return "%s%s@" % (match.group(1), MASK)  # a bare token


def _mask_setting(match):
    value = match.group(2)
    if value == MASK or value.lower() in ("none", "null", "true", "false", "yes", "no", "set", "unset", "locked",
                                           "empty"):
        return match.group(0)  # a state word, not a secret ("password locked", "pin: none")
    return match.group(1) + MASK


def redact_text(text, secrets=()):
    """`text` with every secret pattern and every one of `secrets` masked."""
    text = _PEM.sub(lambda m: "-----BEGIN %sPRIVATE KEY----- %s -----END %sPRIVATE KEY-----"
                    % (m.group(1), MASK, m.group(1)), text)
    text = _URL_CREDENTIALS.sub(_mask_userinfo, text)
    text = _SETTING.sub(_mask_setting, text)
    text = _CONFIG_LINE.sub(_mask_setting, text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if not secret:
            continue
        if len(secret) >= SHORT:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(secret), MASK, text)
    return text


def redact(value, secrets=()):
    """A copy of `value` (dicts, lists, strings; nested) with every string redacted; keys are kept as they are
    unless they themselves hold a secret (a mapping keyed by URL)."""
    secrets = tuple(s for s in secrets if isinstance(s, str) and s)
    if isinstance(value, dict):
        return dict((redact_text(k, secrets) if isinstance(k, str) else k, redact(v, secrets))
                    for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value


def redact_finding(finding, secrets=()):
    """The finding as the report may store it: every string in it redacted (summary, evidence, expected,
    remediation, notes). Not a dict: returned unchanged (the caller's schema check refuses it)."""
    if not isinstance(finding, dict):
        return finding
    return redact(finding, secrets)


def secrets_in_mapping(value, _secret=False):
    """The secret strings of controller-side inputs (task arguments, variables): every string leaf under a key
    that names a secret (SECRET_KEY), and the password of every URL with credentials anywhere."""
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in NOT_SECRET_KEYS:
                continue
            found |= secrets_in_mapping(item, _secret or bool(isinstance(key, str) and SECRET_KEY.search(key)))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= secrets_in_mapping(item, _secret)
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        if _secret and text:
            found.add(text)
        for match in _URL_CREDENTIALS.finditer(text):
            userinfo = match.group(2)
            secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
            if secret:
                found.add(secret)
    return found
