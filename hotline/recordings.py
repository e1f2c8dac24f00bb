"""Call recordings: from the MixMonitor file a call's events named to a file on this machine.

Asterisk names the file as the dialplan wrote it (``MixMonitor(${UNIQUEID}.wav)``): relative
names are under its monitor directory, absolute ones anywhere. The recordings are mounted (or
synced) on this machine under ``HOTLINE_RECORDINGS_DIR``; an absolute name under
``HOTLINE_RECORDINGS_ASTERISK_DIR`` maps into it. A name that would leave that directory (``..``,
a symbolic link out, an absolute name elsewhere) is refused: the stored name came from the PBX
and is not trusted to pick a file.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from hotline.errors import NotFound

AUDIO_TYPES = {".wav": "audio/wav", ".gsm": "audio/gsm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}


def file_of(stored_name: str | None, recordings_dir: str, asterisk_dir: str) -> Path:
    """The file on this machine for a call's stored recording name, or NotFound."""
    if not recordings_dir:
        # A door this deployment has not opened, not a dependency that is down.
        raise NotFound("recordings are not served here: HOTLINE_RECORDINGS_DIR is not set")
    if not stored_name:
        raise NotFound("this call has no recording")
    name = PurePosixPath(stored_name)
    if name.is_absolute():
        try:
            name = name.relative_to(PurePosixPath(asterisk_dir))
        except ValueError:
            raise NotFound("the recording is outside the recordings directory") from None
    root = Path(recordings_dir).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise NotFound("the recording is outside the recordings directory")
    if not path.is_file():
        raise NotFound("the recording's file is not there (yet)")
    return path


def content_type(path: Path) -> str:
    return AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
