"""A small HTTP file server for the recordings relay tests, with byte ranges as RFC 7233 says
(written from the RFC, not from the code under test): one ``bytes`` range per request, answered
206 with Content-Range; a set of ranges none of which overlaps the file, 416 with
``Content-Range: bytes */length``; a Range it cannot parse, or of another unit, ignored (200).
Several ranges are answered as the whole file (200), which §3.1 allows."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, length: int) -> tuple[int, int] | str | None:
    """(first, last) to send, None for the whole file, or "unsatisfiable" (§2.1, §4.4)."""
    if header is None:
        return None
    spec = _RANGE.match(header.replace(" ", ""))
    if spec is None:
        return None  # several ranges, another unit or bad syntax: the whole file
    first, last = spec.groups()
    if not first and not last:
        return None  # "bytes=-" is not a range-spec
    if not first:  # suffix-byte-range-spec: the last N bytes
        suffix = int(last)
        return (max(0, length - suffix), length - 1) if suffix > 0 and length > 0 else "unsatisfiable"
    start = int(first)
    end = min(int(last), length - 1) if last else length - 1
    if last and int(last) < start:
        return None  # an invalid byte-range-spec: the field is ignored
    return (start, end) if start < length else "unsatisfiable"


@dataclass
class FileServer:
    files: dict[str, bytes]  # path → bytes
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    status: int | None = None  # answer every request with this status instead
    hold: asyncio.Event | None = None  # send half of a body, then wait for this before the rest
    cut: bool = False  # send half of a body, then drop the connection
    base: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.path, request.headers.get("Range")))
        if self.status is not None:
            return web.Response(status=self.status, text="no")
        body = self.files.get(request.path)
        if body is None:
            return web.Response(status=404, text="not found")
        picked = byte_range(request.headers.get("Range"), len(body))
        if picked == "unsatisfiable":
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(body)}"})
        response = web.StreamResponse(status=200 if picked is None else 206)
        response.headers["Accept-Ranges"] = "bytes"
        response.content_type = "audio/x-wav"
        part = body
        if isinstance(picked, tuple):
            first, last = picked
            part = body[first : last + 1]
            response.headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        response.content_length = len(part)
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        half = len(part) // 2
        await response.write(part[:half])
        if self.cut:
            assert request.transport is not None
            request.transport.close()
            return response
        if self.hold is not None:
            await self.hold.wait()
        await response.write(part[half:])
        await response.write_eof()
        return response


@asynccontextmanager
async def file_server(files: dict[str, bytes]) -> AsyncIterator[FileServer]:
    server = FileServer(files)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        if server.hold is not None:
            server.hold.set()
        await runner.cleanup()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
