# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx configuration for the tls_config module: parse, find TLS servers, audit, plan edits.

Standard library only, Python >= 3.8 (runs on managed hosts).

Parsing follows ngx_conf_file.c: words, "double" and 'single' quoted strings with backslash
escapes, ``#`` comments where a word could start, ``${var}`` inside words, ``;`` ends a
directive, ``{``/``}`` open and close blocks. ``include`` globs are resolved relative to the
directory of the main configuration file (nginx's conf prefix) and parsed in place.

Scopes (what a server block inherits): a directive in ``server{}`` overrides the one in
``http{}`` by *name*. For array directives (``ssl_conf_command``, ``add_header``) a server that
has any directive of that name inherits none from ``http{}``. Two ``ssl_protocols`` in the same
context are merged (bitmask), so a second one cannot narrow the first: the fix replaces the
directive where it lives and comments out the duplicates.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

try:
    from ansible.module_utils.iryo_tlsconf import (DEFAULTS, PROTOCOLS, ConfigError, Node,
                                                   canonical_group, insertion, read_text, render_groups)
except ImportError:  # imported as a plain module by the controller's tests
    from iryo_tlsconf import (DEFAULTS, PROTOCOLS, ConfigError, Node, canonical_group, insertion,
                              read_text, render_groups)

KIND = "nginx"
DEFAULT_CONFIG = "/etc/nginx/nginx.conf"

# setting -> (directive name, sub-key: first argument, lower-cased, for array directives)
DIRECTIVES = {
    "protocols": ("ssl_protocols", None),
    "tls12_ciphers": ("ssl_ciphers", None),
    "tls13_ciphersuites": ("ssl_conf_command", "ciphersuites"),
    "groups": ("ssl_ecdh_curve", None),
    "dhparam": ("ssl_dhparam", None),
    "prefer_server_ciphers": ("ssl_prefer_server_ciphers", None),
    "session_tickets": ("ssl_session_tickets", None),
    "verify_client": ("ssl_verify_client", None),
    "handshake_verify": ("ssl_conf_command", "verifymode"),
    "client_ca_file": ("ssl_client_certificate", None),
    "verify_depth": ("ssl_verify_depth", None),
    "hsts": ("add_header", "strict-transport-security"),
}
# OpenSSL SSL_CONF VerifyMode that refuses a client without a certificate in the handshake.
HANDSHAKE_VERIFY_MODE = "Peer,Request,Require"
VERIFY_MAP = {"on": "required", "optional": "optional", "optional_no_ca": "optional_no_ca", "off": "none"}
VERIFY_WRITE = {"required": "on", "optional": "optional", "optional_no_ca": "optional_no_ca", "none": "off"}

_MAX_INCLUDE_DEPTH = 32
_SPACE = " \t\r\n"


# ---------------------------------------------------------------------------------------------
# tokenizer and parser

def tokenize(text, path):
    """Yield (kind, value, start, end, line): kind is 'word' (value unquoted), ';', '{' or '}'."""
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in _SPACE:
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j == -1 else j
        elif c in ";{}":
            yield c, c, i, i + 1, line
            i += 1
        elif c in "\"'":
            j, buf, start_line = i + 1, [], line
            while True:
                if j >= n:
                    raise ConfigError(path, start_line, "unterminated %s-quoted string" % c)
                ch = text[j]
                if ch == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    buf.append({"t": "\t", "r": "\r", "n": "\n"}.get(nxt, nxt) if nxt in "\"'\\trn" else "\\" + nxt)
                    line += nxt == "\n"
                    j += 2
                    continue
                if ch == c:
                    break
                line += ch == "\n"
                buf.append(ch)
                j += 1
            yield "word", "".join(buf), i, j + 1, start_line
            i = j + 1
            if i < n and text[i] not in _SPACE + ";{})":
                raise ConfigError(path, line, "unexpected %r after a quoted string" % text[i])
        else:
            j, buf = i, []
            while j < n:
                ch = text[j]
                if ch == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                if ch == "$" and j + 1 < n and text[j + 1] == "{":
                    k = text.find("}", j)
                    if k == -1:
                        raise ConfigError(path, line, "unterminated ${variable}")
                    buf.append(text[j:k + 1])
                    j = k + 1
                    continue
                if ch in _SPACE or ch in ";{}":
                    break
                buf.append(ch)
                j += 1
            yield "word", "".join(buf), i, j, line
            i = j


class Config:
    """A parsed nginx configuration: the main file's nodes plus every file read."""

    def __init__(self, main):
        self.main = os.path.realpath(main)
        self.prefix = os.path.dirname(os.path.abspath(main))
        self.texts = {}  # real path -> text
        self.includes_missing = []
        self.root = Node("(main)", [], self.main, 0, 0, 0, kind="root")
        self.root.children = self._parse_file(self.main, self.root, 0)

    def _resolve(self, pattern):
        if not os.path.isabs(pattern):
            pattern = os.path.join(self.prefix, pattern)
        if glob.has_magic(pattern):
            return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        return [pattern]

    def _parse_file(self, path, parent, depth):
        if depth > _MAX_INCLUDE_DEPTH:
            raise ConfigError(path, 0, "includes nested deeper than %d levels (a loop?)" % _MAX_INCLUDE_DEPTH)
        real = os.path.realpath(path)
        if real not in self.texts:
            try:
                self.texts[real] = read_text(real)
            except (IOError, OSError) as exc:
                raise ConfigError(path, 0, "cannot read: %s" % exc) from None
        tokens = list(tokenize(self.texts[real], real))
        pos, nodes = self._parse_block(tokens, 0, real, parent, depth, top=True)
        return nodes

    def _parse_block(self, tokens, pos, path, parent, depth, top):
        nodes, words = [], []
        while pos < len(tokens):
            kind, value, start, end, line = tokens[pos]
            pos += 1
            if kind == "word":
                words.append((value, start, line))
                continue
            if kind == "}":
                if words:
                    raise ConfigError(path, words[0][2], "directive %r is not terminated by ';'" % words[0][0])
                if top:
                    raise ConfigError(path, line, "unexpected '}'")
                parent.close_start, parent.close_end = start, end
                return pos, nodes
            if not words:
                raise ConfigError(path, line, "unexpected %r" % kind)
            name, name_start, name_line = words[0]
            node = Node(name, [w[0] for w in words[1:]], path, name_line, name_start, end, parent=parent)
            words = []
            nodes.append(node)
            if kind == "{":
                node.kind = "block"
                pos, node.children = self._parse_block(tokens, pos, path, node, depth, top=False)
            elif name == "include":
                if len(node.args) != 1:
                    raise ConfigError(path, name_line, "include takes one argument")
                node.kind = "include"
                node.children = []
                for included in self._resolve(node.args[0]):
                    if not os.path.exists(included):
                        raise ConfigError(path, name_line, "included file %s does not exist" % included)
                    node.children.extend(self._parse_file(included, node, depth + 1))
        if words:
            raise ConfigError(path, words[0][2], "unexpected end of file in directive %r" % words[0][0])
        if not top:
            raise ConfigError(path, tokens[-1][4] if tokens else 1, "unexpected end of file, expecting '}'")
        return pos, nodes


def scope(block):
    """Directives that take effect in ``block`` itself (includes flattened, nested blocks excluded)."""
    for node in block.children or ():
        if node.kind == "include":
            for inner in scope(node):
                yield inner
        else:
            yield node


def scope_list(block):
    if block.scope_cache is None:
        block.scope_cache = list(scope(block))
    return block.scope_cache


def blocks(block, name):
    return [n for n in scope(block) if n.kind == "block" and n.name == name]


# ---------------------------------------------------------------------------------------------
# TLS servers

def normalise_listen(arg):
    if arg.startswith("unix:"):
        return arg
    if re.match(r"^\d+$", arg):
        return "*:" + arg
    if arg.startswith("["):
        return arg if "]:" in arg else arg + ":80"
    if ":" in arg:
        return arg
    return arg + ":80"


class Server:
    """One server{} block inside http{}."""

    def __init__(self, node, http):
        self.node, self.http = node, http
        own = list(scope(node))
        self.listen = [n for n in own if n.name == "listen"]
        self.names = [a for n in own if n.name == "server_name" for a in n.args]
        self.sockets = [normalise_listen(n.args[0]) for n in self.listen if n.args] or ["*:80"]
        self.ssl_listen = {normalise_listen(n.args[0]) for n in self.listen if n.args and "ssl" in n.args[1:]}
        self.ssl_on = any(n.name == "ssl" and n.args[:1] == ["on"] for n in own)
        self.explicit_default = {normalise_listen(n.args[0]) for n in self.listen
                                 if n.args and ("default_server" in n.args[1:] or "default" in n.args[1:])}
        self.tls = False
        self.default_for = []

    @property
    def path(self):
        return self.node.path

    @property
    def line(self):
        return self.node.line

    def label(self):
        name = next((n for n in self.names if n not in ("", "_")), None)
        return name or (self.sockets[0] if self.sockets else "-")

    def target(self):
        return "%s %s:%d %s" % (KIND, self.path, self.line, self.label())


def find_servers(config):
    """Every server{} of every http{} (mail/stream are left out), TLS flag and socket defaults set.

    nginx ORs the ``ssl`` listen flag over all servers of one address:port, so a server without
    ``ssl`` on a socket another server declares ``ssl`` is a TLS server too.
    """
    servers = []
    for http in blocks(config.root, "http"):
        for node in blocks(http, "server"):
            servers.append(Server(node, http))
    ssl_sockets = set()
    for server in servers:
        ssl_sockets |= server.ssl_listen
        if server.ssl_on:
            ssl_sockets |= set(server.sockets)
    defaults = {}
    for server in servers:
        for sock in server.sockets:
            if sock in server.explicit_default:
                defaults[sock] = server
    for server in servers:
        for sock in server.sockets:
            defaults.setdefault(sock, server)
    for server in servers:
        server.tls = server.ssl_on or any(s in ssl_sockets for s in server.sockets)
        server.default_for = [s for s in server.sockets if defaults.get(s) is server]
        server.socket_defaults = {s: defaults[s] for s in server.sockets if s in ssl_sockets}
    return servers


# ---------------------------------------------------------------------------------------------
# values

def _key(node):
    name, sub = node.name, None
    if name in ("ssl_conf_command", "add_header") and node.args:
        sub = node.args[0].lower()
    return name, sub


class Lookup:
    """Where a setting is decided for a block: the level's block, its occurrences, its value."""

    def __init__(self, level, level_name, occurrences, named):
        self.level, self.level_name = level, level_name
        self.occurrences, self.named = occurrences, named


def lookup(block_chain, setting):
    """Walk from the innermost block outwards; the first level with a directive of that name wins."""
    name, sub = DIRECTIVES[setting]
    for block, level_name in block_chain:
        named = [n for n in scope_list(block) if n.kind == "directive" and n.name == name]
        if named:
            occurrences = [n for n in named if _key(n) == (name, sub)]
            return Lookup(block, level_name, occurrences, named)
    return Lookup(None, "default", [], [])


def _abs(config, path):
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(config.prefix, path))


def value_of(config, setting, occurrences):
    """The effective value of ``occurrences`` (all at one level), normalised like build_wanted."""
    if setting == "compression":
        return False  # nginx turns TLS compression off itself (SSL_OP_NO_COMPRESSION), no directive
    if not occurrences:
        if setting in DEFAULTS:
            return DEFAULTS[setting]
        return "none" if setting == "verify_client" else None
    last = occurrences[-1]
    if setting == "protocols":  # merged
        seen = {a for n in occurrences for a in n.args}
        return [p for p in PROTOCOLS if p in seen] + sorted(seen - set(PROTOCOLS))
    if not last.args:
        return None
    if setting == "tls12_ciphers":
        return last.args[0]
    if setting == "tls13_ciphersuites":
        return [s for s in last.args[1].split(":") if s] if len(last.args) > 1 else []
    if setting == "groups":
        return [canonical_group(g) for g in last.args[0].split(":") if g]
    if setting in ("dhparam", "client_ca_file"):
        return _abs(config, last.args[0])
    if setting in ("prefer_server_ciphers", "session_tickets"):
        return last.args[0].lower() == "on"
    if setting == "verify_client":
        return VERIFY_MAP.get(last.args[0].lower(), last.args[0])
    if setting == "handshake_verify":
        return len(last.args) > 1 and last.args[1].replace(" ", "").lower() == HANDSHAKE_VERIFY_MODE.lower()
    if setting == "verify_depth":
        return int(last.args[0]) if last.args[0].isdigit() else last.args[0]
    if setting == "hsts":
        return last.args[1] if len(last.args) > 1 else ""
    return last.args[0]


def render(setting, wanted):
    if setting == "protocols":
        return "ssl_protocols %s;" % " ".join(wanted)
    if setting == "tls12_ciphers":
        return "ssl_ciphers %s;" % ":".join(wanted)
    if setting == "tls13_ciphersuites":
        return "ssl_conf_command Ciphersuites %s;" % ":".join(wanted)
    if setting == "groups":
        return "ssl_ecdh_curve %s;" % render_groups(wanted)
    if setting in ("dhparam", "client_ca_file"):
        return "%s %s;" % (DIRECTIVES[setting][0], quote(wanted))
    if setting in ("prefer_server_ciphers", "session_tickets"):
        return "%s %s;" % (DIRECTIVES[setting][0], "on" if wanted else "off")
    if setting == "verify_client":
        return "ssl_verify_client %s;" % VERIFY_WRITE[wanted]
    if setting == "handshake_verify":
        return "ssl_conf_command VerifyMode %s;" % HANDSHAKE_VERIFY_MODE
    if setting == "verify_depth":
        return "ssl_verify_depth %d;" % wanted
    if setting == "hsts":
        return 'add_header Strict-Transport-Security "%s" always;' % wanted
    raise ValueError(setting)


def quote(value):
    if re.search(r"[\s;{}#\"'\\$]", value):
        return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    return value


# ---------------------------------------------------------------------------------------------
# audit + plan

class Adapter:
    """The tls_config module's view of one nginx installation."""

    kind = KIND
    level_names = ("server", "http")
    # nginx < 1.29.2 switches to the SNI server's SSL context in OpenSSL's servername callback, after
    # OpenSSL has taken the protocol versions, the groups and the TLS 1.3 suites from the context the
    # connection started with: the default server's. Measured with nginx 1.22.1 / OpenSSL 3.0 (a
    # non-default server's own ssl_ecdh_curve and Ciphersuites have no effect; its ssl_ciphers does).
    DEFAULT_SERVER_DECIDES = ("protocols", "groups", "tls13_ciphersuites")

    def __init__(self, config_root):
        self.config = Config(config_root)
        self.servers = [s for s in find_servers(self.config) if s.tls]

    @property
    def texts(self):
        return self.config.texts

    def chain(self, server):
        return [(server.node, "server"), (server.http, "http")]

    def lookup(self, server, setting):
        return lookup(self.chain(server), setting)

    def value(self, setting, occurrences):
        return value_of(self.config, setting, occurrences)

    def render(self, setting, wanted, existing=None):
        return render(setting, wanted)

    def unfixable(self, setting, wanted):
        """Why enforcement will not write ``setting`` (None when it will)."""
        if setting == "compression" and wanted:
            return "nginx always turns TLS compression off; there is no directive to turn it on"
        if setting == "dhparam" and not os.path.isfile(wanted):
            return ("dhparam file %s does not exist on the host; create it (openssl dhparam -out %s 3072) "
                    "and run again" % (wanted, wanted))
        return None

    def describe(self, server):
        return {"server_name": server.names, "listen": [" ".join(n.args) for n in server.listen],
                "default_server_for": server.default_for}

    def socket_defaults(self, server):
        """The default server of each of the server's TLS sockets, when it is another server: it decides
        DEFAULT_SERVER_DECIDES for every name on that socket (nginx < 1.29.2)."""
        return {sock: other for sock, other in server.socket_defaults.items() if other is not server}

    def extra_scopes(self, server, setting):
        """Blocks below the server that must carry their own copy (add_header is not inherited into
        a location that has add_header of its own)."""
        if setting != "hsts":
            return []
        found = []

        def walk(block):
            for node in scope(block):
                if node.kind == "block" and node.name in ("location", "if", "limit_except"):
                    if any(n.kind == "directive" and n.name == "add_header" for n in scope(node)):
                        found.append(node)
                    walk(node)
        walk(server.node)
        return found

    def block_lookup(self, block, setting):
        return lookup([(block, "location")], setting)

    def anchor(self, block):
        """The directive after which a missing directive goes: the last ssl_* (else listen /
        server_name, else any simple directive) written in the block's own file."""
        own = [n for n in (block.children or ()) if n.kind != "block" and n.path == block.path]
        for pick in (lambda n: n.name.startswith("ssl_"), lambda n: n.name in ("listen", "server_name"),
                     lambda n: True):
            chosen = [n for n in own if pick(n)]
            if chosen:
                return chosen[-1]
        return None

    def insert(self, edits_for, block, directive, description, after=None):
        """Insert ``directive`` into ``block``, after ``after`` (in that node's file) when given."""
        anchor = after or self.anchor(block)
        if anchor is not None:
            edits = edits_for(anchor.path)
            close = block.close_start if anchor.path == block.path else None
            offset, text = insertion(edits, anchor.end, close, edits.indent_at(anchor.start), directive)
        else:
            edits = edits_for(block.path)
            indent = edits.indent_at(block.start) + edits.indent_unit()
            offset, text = insertion(edits, block.end, block.close_start, indent, directive)
        edits.insert(offset, text, description)

    def duplicate_note(self, setting, kept):
        if setting == "protocols":
            return "iryo-guard: nginx merged this into %s, so it could only add protocols" % kept.where()
        return "iryo-guard: duplicate of %s" % kept.where()
