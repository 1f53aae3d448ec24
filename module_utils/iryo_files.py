# -*- coding: utf-8 -*-
# Copyright: iryo-guard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing configuration files on managed hosts: never half-written, nothing lost.

Standard library only: this runs on managed hosts (Python >= 3.8).
"""

from __future__ import absolute_import, division, print_function

import os
import tempfile

__metaclass__ = type


def write_text_atomically(module, path, text, backup=False, new_mode=0o644):
    """Replace `path` with `text` in one step; return the backup's path (or None).

    The new content goes to a temporary file in the same folder (a dot name, so that globbing
    includes such as sysctl.d/*.conf never load it), takes the old file's owner and mode (or
    `new_mode` for a new file), and module.atomic_move() renames it over the old one, so a reader
    sees the old file or the new one, never a mix. With `backup` a timestamped copy is kept first.
    """
    backup_file = module.backup_local(path) if backup and os.path.exists(path) else None
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".iryo-")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        if os.path.exists(path):
            st = os.stat(path)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.chown(tmp, st.st_uid, st.st_gid)
        else:
            os.chmod(tmp, new_mode)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return backup_file
