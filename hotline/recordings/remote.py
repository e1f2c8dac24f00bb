"""Recordings relayed over HTTP from a file server that has Asterisk's monitor directory
(``HOTLINE_RECORDINGS_URL``, e.g. ``http://files.example/monitor/``), for a PBX whose disk is not
mounted here.

The file is streamed through as it arrives, never held whole: the client's ``Range`` goes to the
file server, and its answer comes back with its status (200, 206; 416 as our JSON error) and its
Content-Range, Content-Length and Content-Type. A file the server does not have is our 404; a
server that is down, slow or answers anything else is 503 ``recordings_unavailable``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import PurePosixPath
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web
from yarl import URL

from hotline.errors import NotFound, ServiceUnavailable
from hotline.recordings.local import RangeNotSatisfiable

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# A Range header is printable ASCII by its grammar: one that is not, or is absurdly long, is not
# passed on, and the whole file comes, as from a server that ignores a Range it cannot read.
_SENDABLE = re.compile(r"^[\x20-\x7e]{1,200}$")
# What the file server tells about the bytes that is passed on to the player.
_PASSED = ("Content-Range", "Accept-Ranges", "Last-Modified", "ETag")


class RecordingsUnavailable(ServiceUnavailable):
    code = "recordings_unavailable"


def check_base(url: str) -> str:
    """The base URL with its trailing slash, or ValueError: http(s), a host, no query or fragment
    (a file's name is appended to it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("HOTLINE_RECORDINGS_URL must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValueError("HOTLINE_RECORDINGS_URL takes no query or fragment: a file's name is appended to it")
    return url if url.endswith("/") else url + "/"


def url_of(base: str, name: PurePosixPath) -> URL:
    """``base`` + the name, each character that is not plain in a path percent-encoded (a name
    is a file's, not a query). ``encoded``: yarl must not undo it."""
    return URL(base + quote(name.as_posix(), safe="/"), encoded=True)


def new_client(timeout_seconds: float) -> aiohttp.ClientSession:
    """The client session recordings are fetched with (one per app; the caller closes it)."""
    # No total timeout: a long file streams for as long as it takes. Connecting, and each next
    # piece, each have the setting's seconds.
    s = timeout_seconds
    timeout = aiohttp.ClientTimeout(total=None, connect=s, sock_connect=s, sock_read=s)
    return aiohttp.ClientSession(timeout=timeout, auto_decompress=False)


@asynccontextmanager
async def fetch(
    session: aiohttp.ClientSession, base: str, name: PurePosixPath, request: web.Request
) -> AsyncIterator[aiohttp.ClientResponse]:
    """The file server's answer for ``name`` under ``base`` (status 200, 206 or 416), its body not
    read yet. NotFound when it has no such file, RecordingsUnavailable when it cannot say."""
    url = url_of(base, name)
    headers = {"Accept-Encoding": "identity"}  # byte ranges of the file itself, not of a compressed copy
    asked = request.headers.get("Range")
    if asked is not None and _SENDABLE.match(asked):
        headers["Range"] = asked  # one the file server cannot parse it ignores (RFC 7233 §3.1)
    method = "HEAD" if request.method == "HEAD" else "GET"
    try:
        upstream = await session.request(method, url, headers=headers)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("recordings server unreachable", extra={"recording": str(name), "error": type(exc).__name__})
        raise RecordingsUnavailable("the recordings server is unreachable; retry shortly") from None
    try:
        if upstream.status in (404, 410):
            raise NotFound("the recording's file is not there (yet)")
        if upstream.status not in (200, 206, 416):
            log.warning("recordings server refused", extra={"recording": str(name), "status": upstream.status})
            raise RecordingsUnavailable(
                "the recordings server did not give the file; retry shortly", {"upstream_status": upstream.status}
            )
        yield upstream
    finally:
        upstream.release()


async def relay(request: web.Request, upstream: aiohttp.ClientResponse, content_type: str) -> web.StreamResponse:
    """Stream the file server's answer to the client. ``content_type``: ours, for an answer
    without one (or with the generic one)."""
    if upstream.status == 416:
        error = RangeNotSatisfiable("the range asked for is not in the recording")
        if "Content-Range" in upstream.headers:
            error.headers["Content-Range"] = upstream.headers["Content-Range"]
        raise error
    response = web.StreamResponse(status=upstream.status)
    told = upstream.headers.get("Content-Type", "")
    generic = not told or told.startswith("application/octet-stream")
    response.headers["Content-Type"] = content_type if generic else told
    response.headers["Cache-Control"] = "private"
    for header in _PASSED:
        if header in upstream.headers:
            response.headers[header] = upstream.headers[header]
    if upstream.content_length is not None:
        response.content_length = upstream.content_length
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_chunked(CHUNK):
            await response.write(chunk)
    except ConnectionResetError:
        return response  # the player went away (a seek): nothing more to send
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Too late for an error answer: the status is sent. Closing the connection short of its
        # Content-Length tells the player the file broke off.
        log.warning("recordings server broke off", extra={"path": request.path, "error": type(exc).__name__})
        response.force_close()
        return response
    await response.write_eof()
    return response
