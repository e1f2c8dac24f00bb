"""A call's recording name, relative to Asterisk's monitor directory.

Asterisk names the file as the dialplan wrote it (``MixMonitor(${UNIQUEID}.wav)``): relative names
are under its monitor directory, absolute ones anywhere; the AMI adapter stores the name the
``MIXMONITOR_FILENAME`` VarSet told. CEL and queue_log never tell it, so a call known only from
them gets the name from ``HOTLINE_RECORDINGS_NAME``, filled from its own fields. Either way the
name came from the PBX and is not trusted to pick a file: one that would leave the monitor
directory (``..``, an absolute name elsewhere) is refused.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from pathlib import PurePosixPath
from string import Formatter

from hotline.errors import NotFound

# What a name template may use: the caller leg's Uniqueid (the channel that ran MixMonitor in the
# dialplan) and the call's Linkedid.
PLACEHOLDERS = ("uniqueid", "linkedid")
AUDIO_TYPES = {".wav": "audio/wav", ".gsm": "audio/gsm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}


def check_template(template: str) -> None:
    """ValueError unless ``template`` is empty (no names made) or names each call by its own
    fields: only known placeholders, without conversions or format specs."""
    if not template:
        return
    try:
        parts = list(Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"HOTLINE_RECORDINGS_NAME {template!r}: {exc}") from None
    fields = [(name, spec, conversion) for _, name, spec, conversion in parts if name is not None]
    if not fields:
        # One fixed name would hand every call the same file.
        raise ValueError("HOTLINE_RECORDINGS_NAME must name the call with {uniqueid} or {linkedid}")
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ValueError(f"HOTLINE_RECORDINGS_NAME has an unknown placeholder {{{name}}}; known: {known}")
        if spec or conversion:
            raise ValueError(f"HOTLINE_RECORDINGS_NAME: {{{name}}} takes no conversion or format spec")


def name_of(stored: str | None, template: str, call: Mapping[str, str | None]) -> str | None:
    """The name the call's events stored, else the template filled from ``call`` (None when the
    template is empty or a field it needs is unknown)."""
    if stored:
        return stored
    if not template or any(not call.get(field) for field in _fields(template)):
        return None
    return template.format_map({p: call.get(p) or "" for p in PLACEHOLDERS})


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name is not None}


def relative_name(name: str | None, asterisk_dir: str) -> PurePosixPath:
    """``name`` relative to the monitor directory ``asterisk_dir``, or NotFound."""
    if not name:
        raise NotFound("this call has no recording")
    path = PurePosixPath(name)
    if path.is_absolute():
        try:
            path = path.relative_to(PurePosixPath(asterisk_dir))
        except ValueError:
            raise NotFound("the recording is outside the recordings directory") from None
    if not path.parts or ".." in path.parts or "\\" in name or "\x00" in name:
        raise NotFound("the recording is outside the recordings directory")
    return path


def content_type(name: PurePosixPath) -> str:
    return AUDIO_TYPES.get(name.suffix.lower()) or mimetypes.guess_type(name.name)[0] or "application/octet-stream"
