# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apache httpd configuration for the tls_config module: parse, find TLS vhosts, audit, plan edits.

Standard library only, Python >= 3.8 (runs on managed hosts).

Parsing follows httpd's util.c / config.c: logical lines (a trailing backslash continues a
line), ``#`` comment lines, words as ap_getword_conf reads them ("double" or 'single' quoted),
sections ``<Name args>`` ... ``</Name>``. ``Include``/``IncludeOptional`` take globs or
directories relative to ServerRoot (the ``ServerRoot`` directive, else the main file's folder).
``<IfModule>`` is evaluated against the modules loaded so far (LoadModule plus httpd's built-in
ones); other ``<If*>`` configuration sections (IfDefine, IfVersion, IfFile, ...) count as true.

Scopes: a directive in a ``<VirtualHost>`` overrides the server-wide one (per directive, per
``SSLCipherSuite`` protocol, per ``SSLOpenSSLConfCmd`` command). Within one context the last
occurrence wins, so duplicates are commented out when the first one is replaced.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

try:
    from ansible.module_utils.iryo_tlsconf import (DEFAULTS, PROTOCOLS, ConfigError, Node, canonical_group,
                                                   read_text, render_groups)
except ImportError:  # imported as a plain module by the controller's tests
    from iryo_tlsconf import DEFAULTS, PROTOCOLS, ConfigError, Node, canonical_group, read_text, render_groups

KIND = "apache"
DEFAULT_CONFIGS = ("/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf")

# setting -> (lower-cased directive, sub-key)
DIRECTIVES = {
    "protocols": ("sslprotocol", None),
    "tls12_ciphers": ("sslciphersuite", "ssl"),
    "tls13_ciphersuites": ("sslciphersuite", "tlsv1.3"),
    "groups": ("sslopensslconfcmd", "groups"),
    "dhparam": ("sslopensslconfcmd", "dhparameters"),
    "prefer_server_ciphers": ("sslhonorcipherorder", None),
    "session_tickets": ("sslsessiontickets", None),
    "compression": ("sslcompression", None),
    "verify_client": ("sslverifyclient", None),
    "client_ca_file": ("sslcacertificatefile", None),
    "verify_depth": ("sslverifydepth", None),
    "hsts": ("header", "strict-transport-security"),
}
VERIFY_MAP = {"require": "required", "optional": "optional", "optional_no_ca": "optional_no_ca", "none": "none"}
VERIFY_WRITE = {"required": "require", "optional": "optional", "optional_no_ca": "optional_no_ca", "none": "none"}
ALL_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")  # mod_ssl's "all" (OpenSSL without SSLv3)
# Debian's and RHEL's httpd binaries have these compiled in (`apache2 -l`).
BUILTIN_MODULES = {"core.c", "mod_so.c", "mod_watchdog.c", "http_core.c", "mod_log_config.c", "mod_logio.c",
                   "mod_version.c", "mod_unixd.c", "core_module", "so_module", "watchdog_module", "http_module",
                   "log_config_module", "logio_module", "version_module", "unixd_module"}
TRANSPARENT = {"ifmodule", "ifdefine", "ifversion", "iffile", "ifdirective", "ifsection"}
_MAX_INCLUDE_DEPTH = 32


# ---------------------------------------------------------------------------------------------
# logical lines, words, parser

def logical_lines(text):
    """Yield (start, end, line, content): ``start`` at the first non-blank character, ``end`` at
    the end of the last physical line (before its newline), content with continuations joined."""
    pos, n, line = 0, len(text), 1
    while pos < n:
        parts, first_line, start, end = [], line, None, pos
        while True:
            eol = text.find("\n", pos)
            stop = n if eol == -1 else eol
            physical = text[pos:stop]
            if physical.endswith("\r"):
                physical = physical[:-1]
            if start is None:
                stripped = len(physical) - len(physical.lstrip())
                start = pos + stripped
            end = pos + len(physical)
            pos = n if eol == -1 else eol + 1
            line += 1
            # httpd continues a line only on a single backslash right before the newline
            if physical.endswith("\\") and not physical.endswith("\\\\") and pos < n:
                parts.append(physical[:-1])
                continue
            parts.append(physical)
            break
        content = "".join(parts).strip()
        if content:
            yield start, end, first_line, content


def words(text):
    """ap_getword_conf: whitespace-separated words, quotes removed (backslash-escaped quotes kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        if text[i] in "\"'":
            quote, j, buf = text[i], i + 1, []
            while j < n and text[j] != quote:
                if text[j] == "\\" and j + 1 < n and text[j + 1] == quote:
                    j += 1
                buf.append(text[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t":
                j += 1
            out.append(text[i:j])
            i = j
    return out


class Config:
    """A parsed httpd configuration: the main file's nodes plus every file read."""

    def __init__(self, main):
        self.main = os.path.realpath(main)
        self.server_root = os.path.dirname(os.path.abspath(main))
        self.texts = {}
        self.modules = set(BUILTIN_MODULES)
        self.root = Node("(main)", [], self.main, 0, 0, 0, kind="root")
        self.root.children = self._parse_file(self.main, self.root, 0, True)

    def _resolve(self, pattern, optional, path, line):
        if not os.path.isabs(pattern):
            pattern = os.path.join(self.server_root, pattern)
        if glob.has_magic(pattern):
            found = sorted(glob.glob(pattern))
            if not found and not optional:
                raise ConfigError(path, line, "Include %s matches no file (httpd refuses that; use IncludeOptional)"
                                  % pattern)
        elif os.path.exists(pattern):
            found = [pattern]
        elif optional:
            found = []
        else:
            raise ConfigError(path, line, "included file %s does not exist" % pattern)
        files = []
        for item in found:
            if os.path.isdir(item):
                for folder, dirs, names in os.walk(item):
                    dirs.sort()
                    files.extend(os.path.join(folder, name) for name in sorted(names))
            else:
                files.append(item)
        return files

    def _parse_file(self, path, parent, depth, active):
        if depth > _MAX_INCLUDE_DEPTH:
            raise ConfigError(path, 0, "includes nested deeper than %d levels (a loop?)" % _MAX_INCLUDE_DEPTH)
        real = os.path.realpath(path)
        if real not in self.texts:
            try:
                self.texts[real] = read_text(real)
            except (IOError, OSError) as exc:
                raise ConfigError(path, 0, "cannot read: %s" % exc) from None
        stack = [parent]
        top = []
        for start, end, line, content in logical_lines(self.texts[real]):
            if content.startswith("#"):
                continue
            current = stack[-1]
            siblings = top if current is parent else current.children
            is_active = active and all(s.active for s in stack[1:])
            if content.startswith("</"):
                name = content[2:].rstrip(">").strip()
                if current is parent:
                    raise ConfigError(real, line, "</%s> without matching <%s> section" % (name, name))
                if name.lower() != current.lname:
                    raise ConfigError(real, line, "</%s> closes <%s> opened at line %d"
                                      % (name, current.name, current.line))
                current.close_start, current.close_end = start, end
                stack.pop()
                continue
            if content.startswith("<"):
                if not content.endswith(">"):
                    raise ConfigError(real, line, "section %s lacks its closing '>'" % content.split()[0])
                inner = content[1:-1].strip()
                name = inner.split(None, 1)[0] if inner else ""
                node = Node(name, words(inner[len(name):]), real, line, start, end, kind="block", parent=current)
                node.children = []
                if node.lname == "ifmodule":
                    node.active = self._module_loaded(node.args[0] if node.args else "")
                siblings.append(node)
                stack.append(node)
                continue
            parts = words(content)
            node = Node(parts[0], parts[1:], real, line, start, end, parent=current)
            siblings.append(node)
            is_active = is_active and all(s.active for s in stack[1:])
            lname = node.lname
            if lname == "serverroot" and node.args and is_active:
                self.server_root = node.args[0]
            elif lname == "loadmodule" and len(node.args) >= 2 and is_active:
                self.modules.add(node.args[0])
                self.modules.add(re.sub(r"\.so$", ".c", os.path.basename(node.args[1])))
            elif lname in ("include", "includeoptional"):
                if len(node.args) != 1:
                    raise ConfigError(real, line, "%s takes one argument" % node.name)
                node.kind = "include"
                node.children = []
                if is_active:
                    for included in self._resolve(node.args[0], lname == "includeoptional", real, line):
                        node.children.extend(self._parse_file(included, node, depth + 1, True))
        if len(stack) > 1:
            raise ConfigError(real, stack[-1].line, "<%s> section is never closed" % stack[-1].name)
        return top

    def _module_loaded(self, name):
        negate = name.startswith("!")
        name = name.lstrip("!")
        return (name in self.modules) != negate


def scope(block):
    """Directives that take effect in ``block`` itself: includes and true conditional sections
    flattened; VirtualHost, Directory, Location, <If> and the like excluded."""
    for node in block.children or ():
        if node.kind == "include":
            for inner in scope(node):
                yield inner
        elif node.kind == "block" and node.lname in TRANSPARENT:
            if node.active:
                for inner in scope(node):
                    yield inner
        else:
            yield node


def scope_list(block):
    if block.scope_cache is None:
        block.scope_cache = list(scope(block))
    return block.scope_cache


def vhosts(config):
    return [n for n in scope(config.root) if n.kind == "block" and n.lname == "virtualhost"]


# ---------------------------------------------------------------------------------------------
# values

def header_name(node):
    """The header a mod_headers ``Header`` directive sets (None for unset/edit/echo/note)."""
    args = list(node.args)
    if args and args[0].lower() in ("always", "onsuccess"):
        args = args[1:]
    if len(args) >= 2 and args[0].lower() in ("set", "add", "append", "merge", "setifempty"):
        return args[1].lower()
    return None


def header_value(node):
    args = list(node.args)
    if args and args[0].lower() in ("always", "onsuccess"):
        args = args[1:]
    return args[2] if len(args) > 2 else ""


def key(node):
    name, sub = node.lname, None
    if name == "sslciphersuite":
        sub = node.args[0].lower() if len(node.args) > 1 else "ssl"
    elif name == "sslopensslconfcmd" and node.args:
        sub = node.args[0].lower()
        sub = "groups" if sub == "curves" else sub
    elif name == "header":
        sub = header_name(node)
    return name, sub


def parse_protocols(args):
    enabled = set()
    for token in args:
        op = token[0] if token[:1] in "+-" else ""
        name = token[len(op):]
        names = set(ALL_PROTOCOLS) if name.lower() == "all" else {
            next((p for p in PROTOCOLS if p.lower() == name.lower()), name)}
        if op == "+":
            enabled |= names
        elif op == "-":
            enabled -= names
        else:
            enabled = set(names)
    return [p for p in PROTOCOLS if p in enabled] + sorted(enabled - set(PROTOCOLS))


class Lookup:
    def __init__(self, level, level_name, occurrences, named):
        self.level, self.level_name = level, level_name
        self.occurrences, self.named = occurrences, named


class VHost:
    def __init__(self, node):
        self.node = node
        own = list(scope(node))
        self.names = [a for n in own if n.lname in ("servername", "serveralias") for a in n.args]
        self.addresses = list(node.args)
        engine = [n for n in own if n.lname == "sslengine" and n.args]
        self.engine = engine[-1].args[0].lower() if engine else None

    @property
    def path(self):
        return self.node.path

    @property
    def line(self):
        return self.node.line

    def label(self):
        return self.names[0] if self.names else " ".join(self.addresses) or "-"

    def target(self):
        return "%s %s:%d %s" % (KIND, self.path, self.line, self.label())


def _address_key(address):
    """'_default_:443' -> '*:443'; '[::1]:443', '*' (any port) and '[::1]' stay as they are."""
    address = address.lower()
    if address.endswith("]") or ":" not in address:
        host, port = address, ""
    else:
        host, _, port = address.rpartition(":")
    host = "*" if host == "_default_" else host
    return host + (":" + port if port else "")


def quote(value):
    if re.search(r"[\s\"'#]", value) or not value:
        return '"%s"' % value.replace('"', '\\"')
    return value


class Adapter:
    """The tls_config module's view of one httpd installation."""

    kind = KIND
    # mod_ssl (2.4.71, OpenSSL 3.0) switches to the SNI vhost's context in its ClientHello callback, so
    # protocols and suites follow the name; the groups do not (OpenSSL copied them from the context the
    # connection started with): the first vhost of the address decides them for every name on it.
    DEFAULT_SERVER_DECIDES = ("groups",)

    def __init__(self, config_root):
        self.config = Config(config_root)
        self.global_engine = next((n.args[0].lower() for n in reversed(list(scope(self.config.root)))
                                   if n.lname == "sslengine" and n.args), None)
        self.servers = []
        for node in vhosts(self.config):
            vhost = VHost(node)
            engine = vhost.engine if vhost.engine is not None else self.global_engine
            if engine in ("on", "optional"):
                self.servers.append(vhost)

    @property
    def texts(self):
        return self.config.texts

    def _abs(self, path):
        return os.path.normpath(path if os.path.isabs(path) else os.path.join(self.config.server_root, path))

    def chain(self, server):
        return [(server.node, "vhost"), (self.config.root, "global")]

    def lookup(self, server, setting):
        wanted_key = DIRECTIVES[setting]
        for block, level_name in self.chain(server):
            occurrences = [n for n in scope_list(block) if n.kind == "directive" and key(n) == wanted_key]
            if occurrences:
                return Lookup(block, level_name, occurrences, occurrences)
        return Lookup(None, "default", [], [])

    def value(self, setting, occurrences):
        if not occurrences:
            if setting in DEFAULTS:
                return DEFAULTS[setting]
            return "none" if setting == "verify_client" else None
        last = occurrences[-1]
        args = last.args
        if setting == "protocols":
            return parse_protocols(args)
        if not args:
            return None
        if setting == "tls12_ciphers":
            return args[-1]
        if setting == "tls13_ciphersuites":
            return [s for s in args[-1].split(":") if s]
        if setting == "groups":
            return [canonical_group(g) for g in args[1].split(":") if g] if len(args) > 1 else []
        if setting == "dhparam":
            return self._abs(args[1]) if len(args) > 1 else None
        if setting == "client_ca_file":
            return self._abs(args[0])
        if setting in ("prefer_server_ciphers", "session_tickets", "compression"):
            return args[0].lower() == "on"
        if setting == "verify_client":
            return VERIFY_MAP.get(args[0].lower(), args[0])
        if setting == "verify_depth":
            return int(args[0]) if args[0].isdigit() else args[0]
        if setting == "hsts":
            return header_value(last)
        return args[0]

    def render(self, setting, wanted, existing=None):
        if setting == "protocols":
            return "SSLProtocol -all %s" % " ".join("+" + p for p in wanted)
        if setting == "tls12_ciphers":
            return "SSLCipherSuite %s" % ":".join(wanted)
        if setting == "tls13_ciphersuites":
            return "SSLCipherSuite TLSv1.3 %s" % ":".join(wanted)
        if setting == "groups":
            command = existing.args[0] if existing is not None and existing.args else "Curves"
            return "SSLOpenSSLConfCmd %s %s" % (command, render_groups(wanted))
        if setting == "dhparam":
            return "SSLOpenSSLConfCmd DHParameters %s" % quote(wanted)
        if setting == "prefer_server_ciphers":
            return "SSLHonorCipherOrder %s" % ("on" if wanted else "off")
        if setting == "session_tickets":
            return "SSLSessionTickets %s" % ("on" if wanted else "off")
        if setting == "compression":
            return "SSLCompression %s" % ("on" if wanted else "off")
        if setting == "verify_client":
            return "SSLVerifyClient %s" % VERIFY_WRITE[wanted]
        if setting == "client_ca_file":
            return "SSLCACertificateFile %s" % quote(wanted)
        if setting == "verify_depth":
            return "SSLVerifyDepth %d" % wanted
        if setting == "hsts":
            return 'Header always set Strict-Transport-Security "%s"' % wanted
        raise ValueError(setting)

    def unfixable(self, setting, wanted):
        if setting == "dhparam" and not os.path.isfile(wanted):
            return ("dhparam file %s does not exist on the host; create it (openssl dhparam -out %s 3072) "
                    "and run again" % (wanted, wanted))
        if setting == "hsts" and not {"headers_module", "mod_headers.c"} & self.config.modules:
            return "mod_headers is not loaded, so httpd cannot send HSTS; enable it (a2enmod headers) and run again"
        return None

    def describe(self, server):
        return {"server_name": server.names, "listen": server.addresses, "default_server_for": []}

    def socket_defaults(self, server):
        """{address: first TLS vhost of that address} for each of ``server``'s addresses whose first
        vhost is another one (name-based vhosts: the first one listed answers before SNI is known).
        ``_default_`` counts as ``*``; a vhost on a specific IP is a different address than ``*``."""
        out = {}
        for address in server.addresses:
            key = _address_key(address)
            first = next(v for v in self.servers if key in (_address_key(a) for a in v.addresses))
            if first is not server:
                out[key] = first
        return out

    def extra_scopes(self, server, setting):
        return []

    def block_lookup(self, block, setting):
        return Lookup(None, "default", [], [])

    def anchor(self, block):
        own = [n for n in (block.children or ()) if n.kind != "block" and n.path == block.path]
        for pick in (lambda n: n.lname.startswith("ssl"), lambda n: True):
            chosen = [n for n in own if pick(n)]
            if chosen:
                return chosen[-1]
        return None

    def insert(self, edits_for, block, directive, description, after=None):
        anchor = after or self.anchor(block)
        if anchor is not None:
            edits = edits_for(anchor.path)
            indent = edits.indent_at(anchor.start)
            end = anchor.end
        else:
            edits = edits_for(block.path)
            indent = edits.indent_at(block.start) + edits.indent_unit()
            end = block.end
        eol = edits.text.find("\n", end)
        if eol == -1:
            edits.insert(end, edits.newline + indent + directive, description)
        else:
            edits.insert(eol + 1, indent + directive + edits.newline, description)

    def duplicate_note(self, setting, kept):
        return "iryo-guard: duplicate of %s (the last one wins in httpd)" % kept.where()
