"""Recordings mounted (or synced) on this machine under ``HOTLINE_RECORDINGS_DIR``."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from aiohttp import web

from hotline.errors import ApiError, NotFound


class RangeNotSatisfiable(ApiError):
    status, code = 416, "range_not_satisfiable"


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


def check_range(request: web.Request, path: Path) -> None:
    """RangeNotSatisfiable (416, ``Content-Range: bytes */size``) for a Range the file cannot
    give, decided as aiohttp's FileResponse would decide it, so that answer is our JSON error as
    every other error is (and as the relay's 416 is), not the file response's empty 416."""
    if "Range" not in request.headers:
        return
    stat = path.stat()
    if_range = request.if_range
    if if_range is not None and stat.st_mtime > if_range.timestamp():
        return  # the file changed since the player's copy: the whole file comes, range or none
    try:
        start, stop = request.http_range.start, request.http_range.stop
    except ValueError:
        start, stop = stat.st_size, None  # a Range that is not a byte range: nothing it names is here
    if start is None or (start < 0 and stop is None) or start < stat.st_size:
        return
    error = RangeNotSatisfiable("the range asked for is not in the recording", {"size": stat.st_size})
    error.headers["Content-Range"] = f"bytes */{stat.st_size}"
    raise error
