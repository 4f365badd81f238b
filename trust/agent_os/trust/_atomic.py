"""Replacing a file whole: readers see the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def replace_file(path: Path, body: bytes, mode: int, *, sync_dir: bool = False) -> os.stat_result:
    """Write ``body`` to a new file beside ``path`` (``mode``), sync it, rename it over ``path``.

    Returns the new file's ``stat`` (a rename keeps its inode and mtime). With
    ``sync_dir`` the directory is synced too, so the rename survives a power
    cut. Raises ``OSError``, with the temporary file removed.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
            st = os.fstat(f.fileno())
        os.replace(tmp, path)
        if sync_dir:
            _sync_dir(path.parent)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return st


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
