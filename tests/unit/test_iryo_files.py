"""module_utils/iryo_files.py with the REAL AnsibleModule.atomic_move of the installed ansible-core (issue 16 item 3):
a new file keeps the mode the caller intends whatever the umask; an existing file keeps its own mode; a failed move
leaves nothing behind."""

import os
import stat

import pytest

import ansible.module_utils.basic as basic

import iryo_files


class Module:
    """The part of AnsibleModule write_text_atomically uses, with ansible-core's own atomic_move (not a copy)."""
    atomic_move = basic.AnsibleModule.atomic_move
    cleanup = basic.AnsibleModule.cleanup

    def selinux_enabled(self):
        return False


@pytest.fixture
def module():
    return Module()


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("wanted", [0o600, 0o755, 0o640, 0o644])
def test_a_new_file_gets_the_intended_mode(module, umask_022, tmp_path, wanted):
    target = tmp_path / "iryo-guard.nft"
    iryo_files.write_text_atomically(module, str(target), "table inet x {}\n", new_mode=wanted)
    assert target.read_text() == "table inet x {}\n"
    assert mode(target) == wanted
    assert [p.name for p in tmp_path.iterdir()] == ["iryo-guard.nft"]       # no temporary file left


def test_an_existing_file_keeps_its_own_mode_and_owner(module, umask_022, tmp_path):
    target = tmp_path / "nftables.conf"
    target.write_text("old\n")
    os.chmod(target, 0o750)
    iryo_files.write_text_atomically(module, str(target), "new\n", new_mode=0o600)
    assert target.read_text() == "new\n" and mode(target) == 0o750


def test_a_failed_move_removes_the_empty_file_it_created(module, tmp_path, monkeypatch):
    target = tmp_path / "new.conf"

    def broken(src, dest, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(module, "atomic_move", broken)
    with pytest.raises(OSError):
        iryo_files.write_text_atomically(module, str(target), "x\n", new_mode=0o600)
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_planted_at_a_new_path_is_not_followed(module, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("canary\n")
    os.chmod(canary, 0o600)
    target = tmp_path / "dropin.conf"
    target.symlink_to(canary)
    iryo_files.write_text_atomically(module, str(target), "x\n", new_mode=0o644)
    # the existing-path branch replaces the link itself (rename), the canary keeps content and mode
    assert canary.read_text() == "canary\n" and mode(canary) == 0o600


def test_a_file_changed_since_it_was_read_is_left_to_the_other_writer(module, tmp_path):
    """Issue 16 item 2: with `expected` (what the caller read), another writer's edit is never renamed over."""
    target = tmp_path / "openssl.cnf"
    target.write_text("read\nother writer\n")
    with pytest.raises(iryo_files.ChangedMeanwhile) as raised:
        iryo_files.write_text_atomically(module, str(target), "ours\n", expected="read\n")
    assert target.read_text() == "read\nother writer\n"
    assert [p.name for p in tmp_path.iterdir()] == ["openssl.cnf"]     # no temporary file left
    line = iryo_files.failure_line(str(target), raised.value)
    assert line.startswith("cannot write %s (changed by another writer" % target) and "\n" not in line


def test_a_file_unchanged_since_it_was_read_is_replaced(module, tmp_path):
    target = tmp_path / "openssl.cnf"
    target.write_bytes("read \u00e9\n".encode())
    iryo_files.write_text_atomically(module, str(target), "ours\n", expected="read \u00e9\n")
    assert target.read_text() == "ours\n"
    absent = tmp_path / "new.conf"
    iryo_files.write_text_atomically(module, str(absent), "new\n", expected=None)   # None: must not exist yet
    assert absent.read_text() == "new\n"


def test_a_failed_write_names_the_file_and_leaves_no_backup(module, tmp_path, monkeypatch):
    target = tmp_path / "freshclam.conf"
    target.write_text("old\n")
    backup = tmp_path / "freshclam.conf.bak"
    monkeypatch.setattr(module, "backup_local", lambda path: str(backup) if backup.write_text("old\n") else None,
                        raising=False)

    def full(src, dest, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "atomic_move", full)
    with pytest.raises(OSError) as raised:
        iryo_files.write_text_atomically(module, str(target), "new\n", backup=True)
    assert iryo_files.failure_line(str(target), raised.value) == \
        "cannot write %s (No space left on device)" % target
    assert [p.name for p in tmp_path.iterdir()] == ["freshclam.conf"] and target.read_text() == "old\n"
