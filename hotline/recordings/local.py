"""Recordings mounted (or synced) on this machine under ``HOTLINE_RECORDINGS_DIR``."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from hotline.errors import NotFound


def file_of(name: PurePosixPath, recordings_dir: str) -> Path:
    """The file for a name relative to the monitor directory, or NotFound. A symbolic link out of
    the directory is refused like a name that leaves it."""
    root = Path(recordings_dir).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise NotFound("the recording is outside the recordings directory")
    if not path.is_file():
        raise NotFound("the recording's file is not there (yet)")
    return path
