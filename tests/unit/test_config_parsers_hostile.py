"""Hostile configuration files for the nginx and Apache readers (issue 16, "Hostile input" figure): include
loops (a file that includes itself, and two files that include their folder: a fan-out that doubles per
level), UTF-16, a Shift_JIS comment and a 1 MB line. Expected: a clear ConfigError naming the file, or a
correct parse, within a few seconds; never a hang. Timed with a wall clock in a child process, so a hang fails
the test instead of stalling the suite."""

import multiprocessing
import time

import pytest

from library_loader import register_module_utils

register_module_utils()
from ansible.module_utils import iryo_apache, iryo_nginx  # noqa: E402

LIMIT = 10.0


def _parse(kind, path, queue):
    reader = {"nginx": iryo_nginx, "apache": iryo_apache}[kind]
    try:
        config = reader.Config(path)
        found = iryo_apache.vhosts(config) if kind == "apache" else iryo_nginx.find_servers(config)
        queue.put(("parsed", len(found)))  # how many virtual hosts / server blocks it found
    except reader.ConfigError as exc:
        queue.put(("ConfigError", str(exc)))
    except Exception as exc:  # noqa: BLE001 - what a hostile file does to the reader is the measurement
        queue.put((type(exc).__name__, str(exc)))


def parse(kind, path):
    """(outcome, detail, seconds) of reading `path`; ('hang', ...) when it takes longer than LIMIT."""
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_parse, args=(kind, str(path), queue))
    started = time.monotonic()
    child.start()
    child.join(LIMIT)
    if child.is_alive():
        child.kill()
        child.join()
        return "hang", "", LIMIT
    return queue.get(timeout=5) + (time.monotonic() - started,)


INCLUDE = {"nginx": "include %s;\n", "apache": "Include %s\n"}
BASE = {"nginx": "events {}\nhttp {\n%s server { listen 443 ssl; ssl_protocols TLSv1; }\n}\n",
        "apache": "ServerName x\n%s<VirtualHost *:443>\nSSLEngine on\nSSLProtocol all\n</VirtualHost>\n"}


def write_main(tmp_path, kind, body):
    main = tmp_path / "main.conf"
    main.write_text(BASE[kind] % body)
    return main


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_a_file_including_itself_is_a_clear_error(tmp_path, kind):
    loop = tmp_path / "loop.conf"
    loop.write_text(INCLUDE[kind] % loop)
    outcome, detail, seconds = parse(kind, write_main(tmp_path, kind, INCLUDE[kind] % loop))
    assert outcome == "ConfigError" and "loop" in detail and str(loop) in detail, (outcome, detail)
    assert seconds < LIMIT


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_an_include_fan_out_ends_within_the_limit(tmp_path, kind):
    folder = tmp_path / "d"
    folder.mkdir()
    for name in ("a.conf", "b.conf"):  # each includes both: 2^depth reads without a guard
        (folder / name).write_text(INCLUDE[kind] % (folder / "*.conf"))
    outcome, detail, seconds = parse(kind, write_main(tmp_path, kind, INCLUDE[kind] % (folder / "*.conf")))
    print("%s fan-out: %s %.2fs %s" % (kind, outcome, seconds, detail[:160]))
    assert outcome == "ConfigError", (outcome, detail)
    assert seconds < LIMIT


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_utf16_is_an_error_or_a_parse_never_a_crash(tmp_path, kind):
    main = tmp_path / "main.conf"
    main.write_bytes((BASE[kind] % "").encode("utf-16"))
    outcome, detail, seconds = parse(kind, main)
    print("%s utf-16: %s %s" % (kind, outcome, str(detail)[:160]))
    # nginx stops at the NUL bytes; the Apache reader finds no directive it knows in them (so no virtual host
    # and nothing to pass); neither crashes
    assert outcome == {"nginx": "ConfigError", "apache": "parsed"}[kind], (outcome, detail)
    assert outcome == "ConfigError" or detail == 0  # parsed: no virtual host seen, so nothing to pass
    assert seconds < LIMIT


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_shift_jis_comment_and_1mb_line_parse(tmp_path, kind):
    main = tmp_path / "main.conf"
    body = ("# " + "x" * (1 << 20) + "\n").encode() + "# 院内\n".encode("shift_jis")
    main.write_bytes(body + (BASE[kind] % "").encode())
    outcome, detail, seconds = parse(kind, main)
    assert (outcome, detail) == ("parsed", 1)  # the TLS host after them is still seen
    assert seconds < LIMIT
