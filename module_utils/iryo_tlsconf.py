# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tls_config module wants, how it compares, and how it edits text.

Shared by module_utils/iryo_nginx.py and iryo_apache.py. Runs on managed hosts: Python
standard library only, Python >= 3.8.

- ``build_wanted(params)`` turns the module's options into normalised wanted values (only the
  settings the caller asked for; ``None`` means "leave alone").
- ``matches(setting, current, wanted)`` decides one setting.
- ``TextEdits`` collects minimal text edits per file (replace a directive's span, insert a line,
  comment out a duplicate) and applies them, so comments and layout stay as they were.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

# The settings in the order the module reports them and inserts missing directives.
SETTINGS = ("protocols", "tls12_ciphers", "tls13_ciphersuites", "groups", "dhparam", "prefer_server_ciphers",
            "session_tickets", "compression", "verify_client", "handshake_verify", "client_ca_file", "verify_depth",
            "hsts")
# Settings only one server kind needs. nginx's `ssl_verify_client on` completes the handshake without
# a certificate and answers 400 at the HTTP layer; `ssl_conf_command VerifyMode Peer,Request,Require`
# makes OpenSSL refuse in the handshake, as Apache's `SSLVerifyClient require` does by itself.
ONLY_FOR = {"handshake_verify": "nginx"}

PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

TLS13_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
                "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256")

# IANA (RFC) name -> OpenSSL name of every TLS <= 1.2 suite OpenSSL 3.0 implements with
# certificate authentication (no PSK/SRP/anonymous/NULL). From `openssl ciphers -stdname
# 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'` (OpenSSL 3.0.19); tests/unit/test_tls_config.py re-checks it
# against the controller's openssl. The profiles (data/tls_profiles.yml) list IANA names.
_IANA_TABLE = """
TLS_DHE_DSS_WITH_AES_128_CBC_SHA DHE-DSS-AES128-SHA
TLS_DHE_DSS_WITH_AES_128_CBC_SHA256 DHE-DSS-AES128-SHA256
TLS_DHE_DSS_WITH_AES_128_GCM_SHA256 DHE-DSS-AES128-GCM-SHA256
TLS_DHE_DSS_WITH_AES_256_CBC_SHA DHE-DSS-AES256-SHA
TLS_DHE_DSS_WITH_AES_256_CBC_SHA256 DHE-DSS-AES256-SHA256
TLS_DHE_DSS_WITH_AES_256_GCM_SHA384 DHE-DSS-AES256-GCM-SHA384
TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256 DHE-DSS-ARIA128-GCM-SHA256
TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384 DHE-DSS-ARIA256-GCM-SHA384
TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA DHE-DSS-CAMELLIA128-SHA
TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256 DHE-DSS-CAMELLIA128-SHA256
TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA DHE-DSS-CAMELLIA256-SHA
TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256 DHE-DSS-CAMELLIA256-SHA256
TLS_DHE_RSA_WITH_AES_128_CBC_SHA DHE-RSA-AES128-SHA
TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 DHE-RSA-AES128-SHA256
TLS_DHE_RSA_WITH_AES_128_CCM DHE-RSA-AES128-CCM
TLS_DHE_RSA_WITH_AES_128_CCM_8 DHE-RSA-AES128-CCM8
TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 DHE-RSA-AES128-GCM-SHA256
TLS_DHE_RSA_WITH_AES_256_CBC_SHA DHE-RSA-AES256-SHA
TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 DHE-RSA-AES256-SHA256
TLS_DHE_RSA_WITH_AES_256_CCM DHE-RSA-AES256-CCM
TLS_DHE_RSA_WITH_AES_256_CCM_8 DHE-RSA-AES256-CCM8
TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 DHE-RSA-AES256-GCM-SHA384
TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256 DHE-RSA-ARIA128-GCM-SHA256
TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384 DHE-RSA-ARIA256-GCM-SHA384
TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA DHE-RSA-CAMELLIA128-SHA
TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256 DHE-RSA-CAMELLIA128-SHA256
TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA DHE-RSA-CAMELLIA256-SHA
TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256 DHE-RSA-CAMELLIA256-SHA256
TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 DHE-RSA-CHACHA20-POLY1305
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA ECDHE-ECDSA-AES128-SHA
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 ECDHE-ECDSA-AES128-SHA256
TLS_ECDHE_ECDSA_WITH_AES_128_CCM ECDHE-ECDSA-AES128-CCM
TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 ECDHE-ECDSA-AES128-CCM8
TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ECDHE-ECDSA-AES128-GCM-SHA256
TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA ECDHE-ECDSA-AES256-SHA
TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 ECDHE-ECDSA-AES256-SHA384
TLS_ECDHE_ECDSA_WITH_AES_256_CCM ECDHE-ECDSA-AES256-CCM
TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8 ECDHE-ECDSA-AES256-CCM8
TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 ECDHE-ECDSA-AES256-GCM-SHA384
TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256 ECDHE-ECDSA-ARIA128-GCM-SHA256
TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384 ECDHE-ECDSA-ARIA256-GCM-SHA384
TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256 ECDHE-ECDSA-CAMELLIA128-SHA256
TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384 ECDHE-ECDSA-CAMELLIA256-SHA384
TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 ECDHE-ECDSA-CHACHA20-POLY1305
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA ECDHE-RSA-AES128-SHA
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 ECDHE-RSA-AES128-SHA256
TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ECDHE-RSA-AES128-GCM-SHA256
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA ECDHE-RSA-AES256-SHA
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 ECDHE-RSA-AES256-SHA384
TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 ECDHE-RSA-AES256-GCM-SHA384
TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256 ECDHE-ARIA128-GCM-SHA256
TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384 ECDHE-ARIA256-GCM-SHA384
TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256 ECDHE-RSA-CAMELLIA128-SHA256
TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384 ECDHE-RSA-CAMELLIA256-SHA384
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 ECDHE-RSA-CHACHA20-POLY1305
TLS_RSA_WITH_AES_128_CBC_SHA AES128-SHA
TLS_RSA_WITH_AES_128_CBC_SHA256 AES128-SHA256
TLS_RSA_WITH_AES_128_CCM AES128-CCM
TLS_RSA_WITH_AES_128_CCM_8 AES128-CCM8
TLS_RSA_WITH_AES_128_GCM_SHA256 AES128-GCM-SHA256
TLS_RSA_WITH_AES_256_CBC_SHA AES256-SHA
TLS_RSA_WITH_AES_256_CBC_SHA256 AES256-SHA256
TLS_RSA_WITH_AES_256_CCM AES256-CCM
TLS_RSA_WITH_AES_256_CCM_8 AES256-CCM8
TLS_RSA_WITH_AES_256_GCM_SHA384 AES256-GCM-SHA384
TLS_RSA_WITH_ARIA_128_GCM_SHA256 ARIA128-GCM-SHA256
TLS_RSA_WITH_ARIA_256_GCM_SHA384 ARIA256-GCM-SHA384
TLS_RSA_WITH_CAMELLIA_128_CBC_SHA CAMELLIA128-SHA
TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256 CAMELLIA128-SHA256
TLS_RSA_WITH_CAMELLIA_256_CBC_SHA CAMELLIA256-SHA
TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256 CAMELLIA256-SHA256
"""
IANA_TO_OPENSSL = dict(line.split() for line in _IANA_TABLE.strip().splitlines())

# TLS SupportedGroups names (as in data/tls_profiles.yml) -> the spelling written into configs.
# NIST names (P-256) work with OpenSSL 1.0.2 through 3.x; "secp256r1" only from OpenSSL 3.0.
GROUP_SPELLING = {
    "x25519": "X25519", "x448": "X448",
    "secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521",
    "ffdhe2048": "ffdhe2048", "ffdhe3072": "ffdhe3072", "ffdhe4096": "ffdhe4096",
    "ffdhe6144": "ffdhe6144", "ffdhe8192": "ffdhe8192",
}
_GROUP_ALIASES = {"p-256": "secp256r1", "prime256v1": "secp256r1", "p-384": "secp384r1", "p-521": "secp521r1"}

VERIFY_CLIENT = ("required", "optional", "optional_no_ca", "none")

# Server defaults where not setting a directive is itself a value (nginx and Apache agree).
DEFAULTS = {"prefer_server_ciphers": False, "session_tickets": True, "compression": False, "verify_depth": 1}


class WantedError(ValueError):
    """An option value the module cannot turn into configuration."""


class ConfigError(ValueError):
    """A configuration file the parser cannot read: names file and line."""

    def __init__(self, path, line, message):
        ValueError.__init__(self, "%s:%s: %s" % (path, line, message))
        self.path, self.line, self.message = path, line, message


def canonical_group(name):
    low = name.strip().lower()
    return _GROUP_ALIASES.get(low, low)


def openssl_cipher_names(names):
    """IANA suite names -> OpenSSL names; OpenSSL names and cipher-string elements pass through."""
    out = []
    for name in names:
        for part in str(name).split(":"):
            part = part.strip()
            if not part:
                continue
            if part.startswith("TLS_") and part not in IANA_TO_OPENSSL:
                if part in TLS13_SUITES:
                    raise WantedError("%s is a TLS 1.3 suite: pass it in tls13_ciphersuites, not tls12_ciphers" % part)
                raise WantedError("OpenSSL implements no TLS 1.2 suite named %s (IANA name unknown to this module)"
                                  % part)
            out.append(IANA_TO_OPENSSL.get(part, part))
    return out


def normalise_hsts(value):
    """'max-age=63072000;includeSubDomains' -> 'max-age=63072000; includeSubDomains' (order kept)."""
    parts = [p.strip() for p in str(value).strip().strip('"').split(";") if p.strip()]
    out = []
    for part in parts:
        key, sep, val = part.partition("=")
        key = key.strip()
        if key.lower() == "max-age":
            key = "max-age"
        elif key.lower() == "includesubdomains":
            key = "includeSubDomains"
        elif key.lower() == "preload":
            key = "preload"
        out.append(key + (sep + val.strip().strip('"') if sep else ""))
    return "; ".join(out)


def _hsts_parts(value):
    """(max-age in seconds or None, {other directives, lower-cased}) of a Strict-Transport-Security value."""
    max_age, flags = None, set()
    for part in normalise_hsts(value).split(";"):
        name, _, arg = part.strip().partition("=")
        if name == "max-age":
            max_age = int(arg) if arg.strip().isdigit() else None
        elif name:
            flags.add(name.lower())
    return max_age, flags


def hsts_satisfies(current, wanted):
    """A header at least as strict as the wanted one: max-age as long or longer, and every directive the
    wanted value has (includeSubDomains, preload). Enforcing an exact value would shorten a stronger
    policy, e.g. Mozilla's "max-age=63072000; includeSubDomains" to the role's "max-age=31536000"
    (measured on the corpus, tests/tls_corpus/configs), which browsers would then remember instead."""
    have_age, have_flags = _hsts_parts(current)
    want_age, want_flags = _hsts_parts(wanted)
    return have_age is not None and want_age is not None and have_age >= want_age and want_flags <= have_flags


def build_wanted(params):
    """Module options -> {setting: normalised wanted value}; settings left at None are not managed."""
    wanted = {}
    if params.get("protocols") is not None:
        protos = []
        for proto in params["protocols"]:
            match = [p for p in PROTOCOLS if p.lower() == str(proto).strip().lower()]
            if not match:
                raise WantedError("unknown protocol %r; use %s" % (proto, ", ".join(PROTOCOLS)))
            protos.append(match[0])
        if not protos:
            raise WantedError("protocols must name at least one protocol")
        wanted["protocols"] = [p for p in PROTOCOLS if p in protos]
    if params.get("tls12_ciphers") is not None:
        names = openssl_cipher_names(params["tls12_ciphers"])
        if not names:
            raise WantedError("tls12_ciphers is empty")
        wanted["tls12_ciphers"] = names
    if params.get("tls13_ciphersuites") is not None:
        suites = [str(s).strip() for s in params["tls13_ciphersuites"] for s in str(s).split(":") if s.strip()]
        unknown = [s for s in suites if s not in TLS13_SUITES]
        if unknown or not suites:
            raise WantedError("tls13_ciphersuites must be RFC 8446 suite names (%s); got %s"
                              % (", ".join(TLS13_SUITES), ", ".join(unknown) or "nothing"))
        wanted["tls13_ciphersuites"] = suites
    if params.get("groups") is not None:
        groups = [canonical_group(g) for g in params["groups"] for g in str(g).split(":") if g.strip()]
        if not groups:
            raise WantedError("groups is empty")
        wanted["groups"] = groups
    for key in ("dhparam", "client_ca_file"):
        if params.get(key):
            wanted[key] = os.path.normpath(params[key])
    for key in ("prefer_server_ciphers", "session_tickets", "compression"):
        if params.get(key) is not None:
            wanted[key] = bool(params[key])
    if params.get("verify_depth") is not None:
        if int(params["verify_depth"]) < 1:
            raise WantedError("verify_depth must be at least 1")
        wanted["verify_depth"] = int(params["verify_depth"])
    if params.get("verify_client") is not None:
        if params["verify_client"] not in VERIFY_CLIENT:
            raise WantedError("verify_client must be one of %s" % ", ".join(VERIFY_CLIENT))
        wanted["verify_client"] = params["verify_client"]
        if params["verify_client"] == "required":
            wanted["handshake_verify"] = True
    if params.get("hsts") not in (None, ""):
        value = str(params["hsts"]).strip()
        if re.match(r"^\d+$", value):
            value = "max-age=%s" % value
        if not re.match(r"(?i)^\s*max-age\s*=\s*\"?\d+", value):
            raise WantedError("hsts must start with max-age=SECONDS (e.g. 'max-age=63072000; includeSubDomains')")
        wanted["hsts"] = normalise_hsts(value)
    return wanted


def render_groups(groups):
    return ":".join(GROUP_SPELLING.get(g, g) for g in groups)


def _expand_ciphers(cipher_string):
    """The TLS <= 1.2 suites an OpenSSL cipher string selects, in order, or None when unknown."""
    try:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_ciphers(cipher_string)
        return [c["name"] for c in context.get_ciphers() if c.get("protocol") != "TLSv1.3"]
    except Exception:  # no ssl module, an OpenSSL that does not know a name, an empty selection
        return None


def ciphers_match(current, wanted_names):
    """The same suites, in any order: the same names, or (checked with the host's OpenSSL) a string that
    selects the same set. No cited source sets an order for TLS 1.2 suites (data/tls_profiles.yml), so a
    server configured with the guideline's pattern example (OpenSSL orders CCM_8 before CCM) matches the
    profile's list (CCM before CCM_8, as the examples list them)."""
    if current is None:
        return False
    wanted = ":".join(wanted_names)
    current_names = [p for p in current.split(":") if p]
    if sorted(current_names) == sorted(wanted_names):
        return True
    have, want = _expand_ciphers(current), _expand_ciphers(wanted)
    return bool(have) and want is not None and sorted(have) == sorted(want)


def matches(setting, current, wanted):
    """Does the current (normalised) value satisfy the wanted one?"""
    if setting == "protocols":
        return current is not None and set(current) == set(wanted)
    if setting == "tls12_ciphers":
        return ciphers_match(current, wanted)
    if setting in ("tls13_ciphersuites", "groups"):
        return current is not None and list(current) == list(wanted)
    if setting in ("dhparam", "client_ca_file"):
        return current is not None and os.path.normpath(current) == wanted
    if setting == "hsts":
        return current is not None and hsts_satisfies(current, wanted)
    return current == wanted


class TextEdits:
    """Minimal edits of one file's text: replace spans, insert text, comment out directives.

    Offsets are character offsets into the text as read. Edits never overlap; several inserts at
    one offset keep the order they were added in.
    """

    def __init__(self, path, text):
        self.path = path
        self.text = text
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self._edits = {}  # (start, end) -> (order, replacement, description)
        self._inserts = {}  # offset -> [(text, description)]
        self.descriptions = []

    def _describe(self, offset, description):
        entry = {"file": self.path, "line": self.line_of(offset)}
        entry.update(description)
        self.descriptions.append(entry)

    def replace(self, start, end, replacement, description):
        """``description``: {setting, action} for the result's ``changes`` (file and line added)."""
        key = (start, end)
        if key in self._edits:
            if self._edits[key][1] != replacement:
                raise ValueError("%s: conflicting edits of offset %d" % (self.path, start))
            return
        for (s, e) in self._edits:
            if s < end and start < e:
                raise ValueError("%s: overlapping edits at offsets %d and %d" % (self.path, s, start))
        self._edits[key] = (len(self._edits), replacement, description)
        self._describe(start, dict(description, before=self.text[start:end], after=replacement))

    def insert(self, offset, text, description):
        pending = self._inserts.setdefault(offset, [])
        if any(t == text for t, _ in pending):
            return
        pending.append((text, description))
        self._describe(offset, dict(description, before="", after=text.strip()))

    def line_of(self, offset):
        return self.text.count("\n", 0, offset) + 1

    def line_start(self, offset):
        return self.text.rfind("\n", 0, offset) + 1

    def indent_at(self, offset):
        start = self.line_start(offset)
        match = re.match(r"[ \t]*", self.text[start:])
        return match.group(0)

    def indent_unit(self):
        return "\t" if re.search(r"^\t", self.text, re.M) else "    "

    def comment_out(self, start, end, note, description):
        """Disable a directive: comment its lines when it has them to itself, else cut it out."""
        first = self.line_start(start)
        last_nl = self.text.find("\n", end)
        last = len(self.text) if last_nl == -1 else last_nl
        before, after = self.text[first:start], self.text[end:last]
        if not before.strip() and (not after.strip() or after.strip().startswith("#")):
            body = self.text[start:end]
            lines = body.split("\n")
            commented = ("\n".join("# " + line.lstrip() if i else "# " + line for i, line in enumerate(lines)))
            self.replace(start, end, commented + "  # " + note, description)
        else:
            self.replace(start, end, "", description)

    @property
    def changed(self):
        return bool(self._edits or self._inserts)

    def apply(self):
        points = [(s, e, r) for (s, e), (_, r, _) in self._edits.items()]
        points += [(o, o, "".join(t for t, _ in items)) for o, items in self._inserts.items()]
        # inserts at an offset where a replacement starts go first: sort by (start, end)
        points.sort(key=lambda p: (p[0], p[1]))
        out, pos = [], 0
        for start, end, replacement in points:
            if start < pos:
                raise ValueError("%s: overlapping edits at offset %d" % (self.path, start))
            out.append(self.text[pos:start])
            out.append(replacement)
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


class Node:
    """One directive or block of a parsed configuration, with where it sits in which file.

    ``start``/``end``: the directive's span (nginx: name to ``;`` or ``{``; Apache: the logical
    line, or the opening tag of a section). Blocks have ``children`` and ``close_start``/``close_end``
    (nginx ``}``, Apache's closing tag line). ``include`` nodes hold the included files' nodes as
    children; ``active`` is False for Apache conditional sections that evaluate false.
    """

    __slots__ = ("name", "args", "path", "line", "start", "end", "children", "parent", "close_start",
                 "close_end", "kind", "active", "scope_cache")

    def __init__(self, name, args, path, line, start, end, kind="directive", parent=None):
        self.name, self.args, self.path, self.line = name, args, path, line
        self.start, self.end, self.kind, self.parent = start, end, kind, parent
        self.children = None
        self.close_start = self.close_end = None
        self.active = True
        self.scope_cache = None  # the parsers' scope() result, kept once computed

    @property
    def lname(self):
        return self.name.lower()

    def where(self):
        return "%s:%d" % (self.path, self.line)

    def __repr__(self):
        return "Node(%s %s @%s)" % (self.name, " ".join(self.args), self.where())


def read_text(path):
    """A configuration file's text; bytes that are not UTF-8 survive a write-back unchanged."""
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "surrogateescape")


def encode_text(text):
    return text.encode("utf-8", "surrogateescape")


def insertion(edits, anchor_end, close_start, indent, directive):
    """Where and what to insert so ``directive`` lands after ``anchor_end`` inside its block.

    On its own line with ``indent`` when the block continues on a later line; inline (after a
    space) when the block closes on the anchor's line.
    """
    text, newline = edits.text, edits.newline
    eol = text.find("\n", anchor_end)
    if eol == -1:
        return anchor_end, newline + indent + directive
    if close_start is not None and eol >= close_start:
        return anchor_end, " " + directive
    return eol + 1, indent + directive + newline


# ---------------------------------------------------------------------------------------------
# audit and plan, the same for nginx and Apache (iryo_nginx.Adapter, iryo_apache.Adapter)

def _describe_value(value):
    if isinstance(value, list):
        return " ".join(value) if value else "(empty)"
    return str(value)


def plan(adapter, wanted):
    """Audit every TLS server of ``adapter`` against ``wanted`` and plan the edits that fix it.

    Returns (reports, edits): one report dict per TLS server, {path: TextEdits} for every file
    an edit touches. A directive is replaced where it takes effect for the server (its own block,
    or the enclosing http{}/server-wide level it inherits from); duplicates at that level are
    commented out; a missing directive is inserted into the server block (or, for array
    directives the server inherits, next to its siblings at the inherited level).
    """
    edits = {}

    def edits_for(path):
        if path not in edits:
            edits[path] = TextEdits(path, adapter.texts[path])
        return edits[path]

    def fix(server, block, found, setting, want):
        existing = found.occurrences[0] if found.occurrences else None
        directive = adapter.render(setting, want, existing)
        if existing is not None:
            edits_for(existing.path).replace(existing.start, existing.end, directive,
                                             {"setting": setting, "action": "replace"})
            for duplicate in found.occurrences[1:]:
                edits_for(duplicate.path).comment_out(
                    duplicate.start, duplicate.end, adapter.duplicate_note(setting, existing),
                    {"setting": setting, "action": "comment_out_duplicate"})
        elif found.named:
            adapter.insert(edits_for, found.level, directive, {"setting": setting, "action": "add"},
                           after=found.named[-1])
        else:
            adapter.insert(edits_for, block, directive, {"setting": setting, "action": "add"})

    reports = []
    for server in adapter.servers:
        entries = {}
        for setting in SETTINGS:
            if setting not in wanted or ONLY_FOR.get(setting, adapter.kind) != adapter.kind:
                continue
            want = wanted[setting]
            if setting == "compression" and adapter.kind == "nginx":
                found = None
                current = adapter.value(setting, [])
                entry = {"current": current, "wanted": want, "level": "built-in", "set_at": []}
            else:
                found = adapter.lookup(server, setting)
                current = adapter.value(setting, found.occurrences)
                entry = {"current": current, "wanted": want, "level": found.level_name,
                         "set_at": [o.where() for o in found.occurrences]}
            entry["ok"] = matches(setting, current, want)
            reason = adapter.unfixable(setting, want)
            if not entry["ok"]:
                if reason:
                    entry["unfixable"] = reason
                elif found is not None:
                    fix(server, server.node, found, setting, want)
            for block in adapter.extra_scopes(server, setting):
                inner = adapter.block_lookup(block, setting)
                inner_value = adapter.value(setting, inner.occurrences)
                if not matches(setting, inner_value, want):
                    entry["ok"] = False
                    entry.setdefault("overridden_in", []).append(
                        {"block": "%s %s" % (block.name, " ".join(block.args)), "at": block.where(),
                         "current": inner_value})
                    if not reason:
                        fix(server, block, inner, setting, want)
            entries[setting] = entry
        report = {"server": adapter.kind, "file": server.path, "line": server.line, "target": server.target(),
                  "settings": entries}
        report.update(adapter.describe(server))
        reports.append((server, report))

    # Settings the server takes from the default server of an address:port, whatever the name the
    # client asks for (adapter.DEFAULT_SERVER_DECIDES): a server is ok only when that default is too.
    by_server = dict((id(s), r) for s, r in reports)
    decided = [s for s in adapter.DEFAULT_SERVER_DECIDES if s in wanted]
    for server, report in reports:
        for sock, other in sorted(adapter.socket_defaults(server).items()):
            for setting in decided:
                theirs = by_server[id(other)]["settings"][setting]
                entry = report["settings"][setting]
                entry.setdefault("negotiated_by", []).append(
                    {"socket": sock, "default_server": other.target(), setting: theirs["current"]})
                if not theirs["ok"]:
                    entry["ok"] = False
    out = []
    for _server, report in reports:
        report["mismatches"] = [s for s, e in report["settings"].items() if not e["ok"]]
        report["unfixable"] = dict((s, e["unfixable"]) for s, e in report["settings"].items()
                                   if not e["ok"] and e.get("unfixable"))
        out.append(report)
    return out, dict((p, e) for p, e in edits.items() if e.changed)
