# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing configuration files on managed hosts: never half-written, nothing lost, mode as intended.

Standard library only: this runs on managed hosts (Python >= 3.8).
"""

from __future__ import absolute_import, division, print_function

import errno
import os
import tempfile

__metaclass__ = type


def _placeholder(path, mode):
    """Create `path` empty with exactly `mode` (O_EXCL: never an existing file or a symlink); its (dev, ino).

    ansible-core's atomic_move() gives a destination it CREATES the mode 0666 minus the umask, whatever the
    temporary file had (issue 16 item 3: nft rollback files meant 0600 came out 0644). When the destination
    already exists it copies that file's mode onto the new one instead, so we create it first with the mode
    we want; fchmod because os.open's mode is filtered by the umask too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode & 0o777)
    try:
        os.fchmod(fd, mode & 0o7777)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return st.st_dev, st.st_ino


class ChangedMeanwhile(OSError):
    """The target is no longer what the caller read: another writer changed it (issue 16 item 2)."""

    def __init__(self, path):
        OSError.__init__(self, errno.EAGAIN, "changed by another writer since it was read, left as that writer made "
                         "it", path)


def _as_bytes(text):
    return text.encode("utf-8", "surrogateescape") if not isinstance(text, bytes) else text


def refuse_if_changed(path, expected):
    """Raise ChangedMeanwhile unless `path` holds exactly `expected` (text or bytes; None: must not exist).

    Called just before the rename: renaming our file over one another writer changed after we read it
    would drop that writer's edit silently. A window remains between this read and the rename (no lock
    is shared with other writers), but it shrinks from the whole run to a few system calls."""
    try:
        with open(path, "rb") as handle:
            now = handle.read()
    except (IOError, OSError) as exc:
        if exc.errno != errno.ENOENT:
            raise
        now = None
    if (None if expected is None else _as_bytes(expected)) != now:
        raise ChangedMeanwhile(path)


def write_text_atomically(module, path, text, backup=False, new_mode=0o644, expected=False):
    """Replace `path` with `text` in one step; return the backup's path (or None).

    The new content goes to a temporary file in the same folder (a dot name, so that globbing
    includes such as sysctl.d/*.conf never load it), takes the old file's owner and mode (or
    `new_mode` for a new file), and module.atomic_move() renames it over the old one, so a reader
    sees the old file or the new one, never a mix. With `backup` a timestamped copy is kept first.
    A new file is first created empty with `new_mode` (a reader may see it empty for that moment,
    which for a file that did not exist means the same), so no reader ever sees it with a wider mode.
    With `expected` (what the caller read: text, bytes, or None for "did not exist") the write is refused
    with ChangedMeanwhile when the file differs from it just before the rename; the default False skips this.
    Any failure raises an OSError (ChangedMeanwhile included) with the target untouched and no temporary
    file left; callers turn it into one line naming the file with failure_line().
    """
    backup_file = module.backup_local(path) if backup and os.path.exists(path) else None
    tmp = placeholder = None
    moved = False
    try:
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".iryo-")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        if os.path.lexists(path):
            st = os.stat(path)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.chown(tmp, st.st_uid, st.st_gid)
        else:
            os.chmod(tmp, new_mode)
        if expected is not False:
            refuse_if_changed(path, expected)
        if not os.path.lexists(path):
            placeholder = _placeholder(path, new_mode)
        module.atomic_move(tmp, path)
        moved = True
        placeholder = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if placeholder is not None:
            # the move failed: take away the empty file we created, if it is still ours
            try:
                st = os.lstat(path)
                if (st.st_dev, st.st_ino) == placeholder and st.st_size == 0:
                    os.unlink(path)
            except OSError:
                pass
        if not moved and backup_file and os.path.exists(backup_file):
            # nothing was replaced (or another writer's file stays): the copy would only be a stray file
            try:
                os.unlink(backup_file)
            except OSError:
                pass
    return backup_file

def failure_line(path, exc):
    """One line naming the file for a failed write: 'cannot write /etc/x.conf (No space left on device)'."""
    return "cannot write %s (%s)" % (path, getattr(exc, "strerror", None) or exc)
