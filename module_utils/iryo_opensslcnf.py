# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and edit OpenSSL's config (openssl.cnf) system-wide TLS defaults, keeping its layout.

openssl.cnf is INI-like: keys before the first [section] form the default section;
`openssl_conf` names the init section, whose `ssl_conf` names a section whose
`system_default` names the section holding MinProtocol, CipherString, Ciphersuites, Groups.
Edits change only those lines (or add the missing links and sections), so comments and every
other section stay byte for byte. Standard library only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

_SECTION = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_.$-]+)\s*=\s*(.*?)\s*(?:#.*)?$")
DEFAULT = ""  # name of the unnamed leading section

# openssl.cnf accepts both spellings; TLS.MinProtocol is the newer one (crypto-policies uses it).
KEY_ALIASES = {"TLS.MinProtocol": "MinProtocol", "TLS.MaxProtocol": "MaxProtocol"}


def sections(lines):
    """{section: [(line index, key, value)]} in file order; the default section is ''."""
    result = {DEFAULT: []}
    current = DEFAULT
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if match:
            current = match.group(1)
            result.setdefault(current, [])
            continue
        assign = _ASSIGN.match(line)
        if assign and not line.lstrip().startswith(("#", ";")):
            result[current].append((index, assign.group(1), assign.group(2)))
    return result


def value_of(section_entries, key):
    for _, name, value in reversed(section_entries or []):
        if KEY_ALIASES.get(name, name) == key:
            return value
    return None


def system_default(text):
    """The effective system_default settings: {'section': name or None, 'settings': {key: value}}."""
    secs = sections(text.splitlines())
    init = value_of(secs.get(DEFAULT), "openssl_conf")
    ssl = value_of(secs.get(init), "ssl_conf") if init else None
    name = value_of(secs.get(ssl), "system_default") if ssl else None
    settings = {}
    for _, key, value in secs.get(name) or []:
        settings[KEY_ALIASES.get(key, key)] = value
    return {"init": init, "ssl_conf": ssl, "section": name, "settings": settings}


def _section_end(lines, name):
    """Index after the last setting of section `name` (or after its header); None if absent.

    Comments after the last setting are left below the insertion point: in Debian's file they
    describe other, commented-out sections."""
    inside = name == DEFAULT
    end = 0
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if match:
            if inside:
                return end
            inside = match.group(1) == name
            end = index + 1
        elif inside and _ASSIGN.match(line) and not line.lstrip().startswith(("#", ";")):
            end = index + 1
    return end if inside else None


def _set_in_section(lines, name, key, value):
    """Set key in section `name` (replace the last assignment, else add one at the section end)."""
    secs = sections(lines)
    entries = [e for e in secs.get(name, []) if KEY_ALIASES.get(e[1], e[1]) == key]
    new_line = "%s = %s" % (key, value)
    if entries:
        index, written_key, old = entries[-1]
        if old != value or written_key != key:
            lines[index] = new_line
        return lines
    end = _section_end(lines, name)
    if end is None:
        lines.extend(["", "[%s]" % name, new_line])
    else:
        lines.insert(end, new_line)
    return lines


def with_system_default(text, settings, init_name="openssl_init", ssl_name="iryo_guard_ssl",
                        default_name="iryo_guard_system_default"):
    """Return text with the system_default chain present and `settings` in its section."""
    lines = text.splitlines()
    current = system_default(text)
    init = current["init"] or init_name
    if not current["init"]:
        # openssl_conf must come before the first section header to be in the default section.
        first_section = next((i for i, line in enumerate(lines) if _SECTION.match(line)), len(lines))
        lines.insert(first_section, "openssl_conf = %s" % init)
    ssl = current["ssl_conf"] or ssl_name
    if not current["ssl_conf"]:
        lines = _set_in_section(lines, init, "ssl_conf", ssl)
    name = current["section"] or default_name
    if not current["section"]:
        lines = _set_in_section(lines, ssl, "system_default", name)
    for key, value in settings.items():
        lines = _set_in_section(lines, name, key, value)
    return "\n".join(lines) + "\n"
