"""Hostile and broken input for freshclam_config on a real lab host (issue 16 item 6 and the "Hostile input" figure).

Item 6: the validation command (`freshclam --config-file=FILE --version`) really parses the file. Measured on the
lab (ClamAV 1.4.3 and 1.4.6): an unknown option, a bad value and an option without its argument make it print
"ERROR: Parse error ..." / "Can't open/parse the config file" and exit 2, a good file exits 0. Here the module
enforces on copies of the host's own freshclam.conf, made broken in those three ways: it must fail naming
freshclam's error and leave the file byte for byte as it was (no temp file, no backup left); on the good copy
it changes the file. Then hostile files and values: UTF-16, a Shift_JIS comment, a 1 MB line, a URL with a
newline (an option-line injection). Every case ends within its timeout with a clear error or the right
verdict, never a pass on a file it could not read. Works in /tmp/iryo-hostile on the host (removed after)."""

import json
import time

import pytest

from conftest import ENV, INVENTORY, REPO, VENV_BIN, run

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("lab")]

HOST = "files"
DIR = "/tmp/iryo-hostile"
MIRROR = "http://mirror/clamav"
LIMIT = 60  # seconds one ad hoc call may take, connection included


def adhoc(tmp_path, args, check=False):
    """The module on the lab host through Ansible; (result dict, seconds)."""
    tree = tmp_path / "tree"
    env = dict(ENV, ANSIBLE_CALLBACKS_ENABLED="tree", ANSIBLE_CALLBACK_TREE_DIR=str(tree),
               IRYO_REPORT_DIR=str(tmp_path / "reports"))
    started = time.monotonic()
    done = run([VENV_BIN / "ansible", "-i", INVENTORY, HOST, "-m", "freshclam_config", "-a", json.dumps(args)]
               + (["--check"] if check else []), env=env, timeout=LIMIT + 30, cwd=REPO)
    elapsed = time.monotonic() - started
    result = json.loads((tree / HOST).read_text())
    return result, elapsed, done


def refused(result):
    """The module's error message when it refused (the action turns a module failure into `error` findings), or
    None when it decided."""
    (finding,) = result["findings"]
    if finding["status"] != "error":
        return None
    return finding["evidence"]["error"]


def enforce(path, **more):
    return dict({"state": "enforced", "path": path, "private_mirrors": [MIRROR], "backup": True}, **more)


@pytest.fixture(scope="module")
def host(lab):
    lab.exec(HOST, "rm -rf %s && mkdir -m 0700 %s" % (DIR, DIR))
    yield lab
    lab.exec(HOST, "rm -rf %s" % DIR)


BROKEN = [
    ("unknown option", "echo 'NoSuchOption yes'", "Unknown option NoSuchOption"),
    ("bad value", "echo 'Checks notanumber'", "Incorrect argument format for option Checks"),
    ("option without argument", "echo 'LogVerbose'", "Missing argument for option"),
]


@pytest.mark.parametrize("name,line,error", BROKEN, ids=[b[0] for b in BROKEN])
def test_validation_parses_the_file_and_a_broken_one_is_left_as_it_was(host, tmp_path, name, line, error):
    case = "%s/%s" % (DIR, name.replace(" ", "-"))
    conf = case + "/freshclam.conf"
    host.exec(HOST, "mkdir -p %s && { cat /etc/clamav/freshclam.conf; %s; } > %s" % (case, line, conf))
    before = host.exec(HOST, "sha256sum %s" % conf)
    result, elapsed, done = adhoc(tmp_path, enforce(conf))
    message = refused(result)
    assert message and "freshclam refuses the new configuration" in message and error in message, result
    assert "\n" not in message  # one line
    assert host.exec(HOST, "sha256sum %s" % conf) == before
    assert host.exec(HOST, "ls -A %s" % case).split() == ["freshclam.conf"]  # no temp file, no backup
    assert elapsed < LIMIT


def test_a_good_file_passes_validation_and_is_changed(host, tmp_path):
    conf = DIR + "/good/freshclam.conf"
    host.exec(HOST, "mkdir -p %s/good && cp /etc/clamav/freshclam.conf %s" % (DIR, conf))
    result, _, done = adhoc(tmp_path, enforce(conf))
    assert refused(result) is None, result
    assert result["changed"] is True and result["findings"][0]["status"] == "pass"
    assert "freshclam not installed" not in json.dumps(result)  # validated by the real freshclam
    assert "PrivateMirror %s" % MIRROR in host.exec(HOST, "cat %s" % conf)
    assert host.exec(HOST, "freshclam --config-file=%s --version >/dev/null 2>&1; echo $?" % conf).strip() == "0"


def test_utf16_file_is_never_a_pass(host, tmp_path):
    conf = DIR + "/utf16/freshclam.conf"
    host.exec(HOST, "mkdir -p %s/utf16 && printf 'PrivateMirror %s\\n' | iconv -f UTF-8 -t UTF-16 > %s"
              % (DIR, MIRROR, conf))
    audit, elapsed, _ = adhoc(tmp_path, {"path": conf, "private_mirrors": [MIRROR]})
    assert audit["findings"][0]["status"] == "fail", audit  # we cannot read a PrivateMirror line in it
    assert elapsed < LIMIT
    before = host.exec(HOST, "sha256sum %s" % conf)
    result, _, _ = adhoc(tmp_path, enforce(conf))
    # freshclam cannot parse UTF-16 either: refused, left alone
    assert "freshclam refuses" in (refused(result) or ""), result
    assert host.exec(HOST, "sha256sum %s" % conf) == before


def test_shift_jis_comment_and_a_1mb_line_are_edited_byte_for_byte(host, tmp_path):
    case = DIR + "/sjis"
    conf = case + "/freshclam.conf"
    host.exec(HOST, "mkdir -p %s && { printf '# 院内ミラー設定\\n' | iconv -f UTF-8 -t SHIFT_JIS; "
                    "printf '#'; head -c 1048576 /dev/zero | tr '\\\\0' x; echo; "
                    "cat /etc/clamav/freshclam.conf; } > %s" % (case, conf))
    head = host.exec(HOST, "head -n 2 %s | sha256sum" % conf)
    result, elapsed, _ = adhoc(tmp_path, enforce(conf))
    assert refused(result) is None, result
    assert result["findings"][0]["status"] == "pass" and elapsed < LIMIT
    assert host.exec(HOST, "head -n 2 %s | sha256sum" % conf) == head  # the comment bytes and the long line kept


@pytest.mark.parametrize("value", ["%s\nNoSuchOption yes" % MIRROR, MIRROR + " extra", "x" * 100000])
def test_a_hostile_url_is_refused_before_the_file_is_touched(host, tmp_path, value):
    conf = DIR + "/inject/freshclam.conf"
    host.exec(HOST, "mkdir -p %s/inject && cp /etc/clamav/freshclam.conf %s" % (DIR, conf))
    before = host.exec(HOST, "sha256sum %s" % conf)
    result, elapsed, _ = adhoc(tmp_path, enforce(conf, private_mirrors=[value]))
    # refused by our own check, before freshclam would split the long line ("Missing argument", measured)
    assert "is not one URL" in (refused(result) or ""), result
    assert host.exec(HOST, "sha256sum %s" % conf) == before
    assert elapsed < LIMIT
