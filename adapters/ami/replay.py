"""A real TCP AMI server that replays a recorded trace.

It speaks enough AMI for an adapter (ours or any other): banner, ``Login``
(checked), ``Ping``, ``CoreShowChannels``, ``QueueStatus`` (the trace's recorded
answers when it has them, as in latejoin.ami, else built from the calls the
replay has played so far), ``Originate``, ``Logoff``; anything else gets an
``Error`` carrying the ActionID. After login it plays the trace's events:

- ``speed``: 0 = as fast as possible, 1.0 = real time (from ``Timestamp``), 10 = ten times faster;
- ``chunk_size``: write in pieces of N bytes (split UTF-8 characters across reads);
- ``cuts``: close the connection after K events or at a byte offset, skip
  ``gap_events`` (what happens while the client is away), resume when it is back;
- ``mute_connections``: on those connection numbers (1-based) go silent after
  login: no events, no Pong (a half-dead Asterisk);
- ``gate_actions``: after each login, hold the stream until the client has asked
  for these (bounded by ``gate_timeout``), so a reconciliation snapshot describes
  exactly the resume point. Empty: stream at once, as a real Asterisk does;
- ``answers_in_place``: a recorded answer (e.g. the ``QueueStatus`` a recording asked for at its
  start and again at its end) is handed back only when the replay stands where it was recorded;
  elsewhere (a reconnect mid-stream) the answer is built from what has been played. Off: the
  recorded answers go out in order, one per request (a client recording's logins).

One client at a time shares the replay position. For the CLI: :func:`serve_replay`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.ami.replay_state import ReplayState, _block
from adapters.ami.trace import (
    SEPARATOR,
    Trace,
    TraceMessage,
    load_trace,
    parse_client_recording,
    parse_headers,
    retagged,
)

log = logging.getLogger(__name__)

WRITE_BATCH = 64 * 1024


@dataclass(frozen=True)
class Cut:
    after_events: int | None = None  # close once this many stream events were sent in total
    at_byte: int | None = None  # or once this many stream bytes were sent (may end mid-message)
    gap_events: int = 0  # events played to nobody while the client is away
    silent: bool = False  # instead of closing: go silent (no events, no Pong) until the client gives up


class _Client:
    def __init__(self, number: int, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.writer = writer
        self.lock = asyncio.Lock()
        self.logged_in = False
        self.answered: set[str] = set()
        self.gate = asyncio.Event()
        self.closed = False
        self.muted = False


class ReplayServer:
    def __init__(
        self,
        trace: Trace,
        *,
        username: str = "hotline",
        secret: str = "hotline",
        speed: float = 0.0,
        chunk_size: int | None = None,
        cuts: Iterable[Cut] = (),
        mute_connections: Iterable[int] = (),
        gate_actions: Sequence[str] = ("CoreShowChannels", "QueueStatus"),
        gate_timeout: float = 2.0,
        answers_in_place: bool = False,
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.trace = trace
        self.username = username
        self.secret = secret
        self.speed = speed
        self.chunk_size = chunk_size
        self.cuts = list(cuts)
        self.mute_connections = set(mute_connections)
        self.gate_actions = tuple(a.lower() for a in gate_actions)
        self.gate_timeout = gate_timeout
        self.answers_in_place = answers_in_place
        self.state = ReplayState()
        self.position = 0  # index of the next stream event
        self.events_sent = 0
        self.stream_bytes_sent = 0
        self.skipped: list[TraceMessage] = []  # events the client never received (cuts and gaps)
        self.connections = 0
        self.logins = 0
        self.pings = 0
        self.actions: list[str] = []
        self.done = asyncio.Event()  # every stream event has been played
        self._used_groups: set[int] = set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._clients: set[_Client] = set()

    # -- server lifetime ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._on_client, host, port)
        sock = self._server.sockets[0].getsockname()
        return sock[0], sock[1]

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.writer.transport.abort()
        # An aborted client's handler ends by itself; cancelling it instead makes asyncio's
        # start_server callback log the CancelledError (Python 3.11). Only stragglers are cancelled.
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=1.0)
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            # A client that connected while this was closing (an adapter reconnecting at that
            # moment) has a handler the passes above missed: abort it too, and never wait on it
            # for ever (wait_closed waits for the server's connections).
            for client in list(self._clients):
                client.writer.transport.abort()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            except TimeoutError:
                pass

    async def __aenter__(self) -> ReplayServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- one client ---------------------------------------------------------------------------

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        client = _Client(self.connections, writer)
        self._clients.add(client)
        streamer: asyncio.Task[None] | None = None
        try:
            writer.write(self.trace.banner)
            buffer = b""
            while not client.closed:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data
                while SEPARATOR in buffer and not client.closed:
                    block, buffer = buffer.split(SEPARATOR, 1)
                    if block.strip():
                        await self._on_action(client, parse_headers(block))
                        if client.logged_in and streamer is None and client.number not in self.mute_connections:
                            streamer = asyncio.create_task(self._stream(client))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            client.closed = True
            if streamer is not None:
                streamer.cancel()
                await asyncio.gather(streamer, return_exceptions=True)
            writer.transport.abort()
            self._clients.discard(client)
            self._handlers.discard(task)

    async def _send(self, client: _Client, data: bytes) -> None:
        async with client.lock:
            if client.closed:
                return
            if self.chunk_size:
                for i in range(0, len(data), self.chunk_size):
                    client.writer.write(data[i : i + self.chunk_size])
                    await client.writer.drain()
                    await asyncio.sleep(0)
            else:
                client.writer.write(data)
                if client.writer.transport.get_write_buffer_size() > 4 * WRITE_BATCH:
                    await client.writer.drain()

    async def _on_action(self, client: _Client, h: dict[str, str]) -> None:
        action = h.get("Action", "")
        name = action.lower()
        aid = h.get("ActionID", "")
        self.actions.append(action)
        if name == "login":
            if h.get("Username") == self.username and h.get("Secret") == self.secret:
                client.logged_in = True
                client.muted = client.number in self.mute_connections
                self.logins += 1
                await self._send(
                    client, _block([("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted")])
                )
            else:
                await self._send(
                    client, _block([("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")])
                )
                client.closed = True
            return
        if client.muted:
            return  # half-dead: reads, never answers
        if not client.logged_in:
            await self._send(
                client, _block([("Response", "Error"), ("ActionID", aid), ("Message", "Permission denied")])
            )
            return
        if name == "ping":
            self.pings += 1
            await self._send(
                client,
                _block(
                    [("Response", "Success"), ("ActionID", aid), ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]
                ),
            )
        elif name in ("coreshowchannels", "queuestatus"):
            await self._send(client, self._list_response(action, name, aid))
            client.answered.add(name)
            if all(a in client.answered for a in self.gate_actions):
                client.gate.set()
        elif name == "originate":
            await self._send(
                client,
                _block([("Response", "Success"), ("ActionID", aid), ("Message", "Originate successfully queued")]),
            )
        elif name == "logoff":
            await self._send(
                client, _block([("Response", "Goodbye"), ("ActionID", aid), ("Message", "Thanks for all the fish.")])
            )
            client.closed = True
        else:
            await self._send(
                client, _block([("Response", "Error"), ("ActionID", aid), ("Message", "Invalid/unknown command")])
            )

    def _list_response(self, action: str, name: str, action_id: str) -> bytes:
        for i, group in enumerate(self.trace.groups):
            if i in self._used_groups or (group.action or "").lower() != name:
                continue
            if self.answers_in_place and not self._in_place(group.at_event):
                continue
            self._used_groups.add(i)
            self.state.learn(group.messages)  # what Asterisk said then is what it holds now
            return group.replayed_for(action_id)
        if name == "coreshowchannels":
            return self.state.core_show_channels(action_id)
        return self.state.queue_status(action_id)

    def _in_place(self, at_event: int) -> bool:
        """Nothing that moves a call or a member lies between here and where the answer was recorded
        (a login's FullyBooted or SuccessfulAuth may)."""
        between = self.trace.stream[self.position : at_event] if at_event >= self.position else None
        return between is not None and not any({"Uniqueid", "Queue", "Interface"} & m.headers.keys() for m in between)

    # -- the event stream ---------------------------------------------------------------------

    async def _stream(self, client: _Client) -> None:
        if self.gate_actions:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.gate.wait(), self.gate_timeout)
        stream = self.trace.stream
        previous_ts: float | None = None
        pending = bytearray()
        while self.position < len(stream) and not client.closed:
            msg = stream[self.position]
            cut = self.cuts[0] if self.cuts else None
            if cut is not None and cut.after_events is not None and self.events_sent >= cut.after_events:
                await self._flush(client, pending)
                await self._cut(client, cut)
                return
            if self.speed > 0:
                ts = msg.timestamp
                if ts is not None and previous_ts is not None and ts > previous_ts:
                    await self._flush(client, pending)
                    await asyncio.sleep((ts - previous_ts) / self.speed)
                if ts is not None:
                    previous_ts = ts
            data = msg.raw
            if cut is not None and cut.at_byte is not None and self.stream_bytes_sent + len(data) > cut.at_byte:
                pending += data[: max(0, cut.at_byte - self.stream_bytes_sent)]
                await self._flush(client, pending)
                self._skip(msg)  # half-sent: the client can never parse it
                await self._cut(client, cut)
                return
            pending += data
            self.state.apply(msg)
            self.position += 1
            self.events_sent += 1
            self.stream_bytes_sent += len(data)
            if self.chunk_size or len(pending) >= WRITE_BATCH:
                await self._flush(client, pending)
        await self._flush(client, pending)
        if self.position >= len(stream):
            self.done.set()

    async def _flush(self, client: _Client, pending: bytearray) -> None:
        if pending:
            data = bytes(pending)
            pending.clear()
            await self._send(client, data)
            await asyncio.sleep(0)

    def _skip(self, msg: TraceMessage) -> None:
        self.state.apply(msg)
        self.skipped.append(msg)
        self.position += 1

    async def _cut(self, client: _Client, cut: Cut) -> None:
        self.cuts.pop(0)
        if cut.silent:
            client.muted = True
            log.info(
                "replay: connection gone silent", extra={"connection": client.number, "events_sent": self.events_sent}
            )
            return
        stream = self.trace.stream
        for _ in range(cut.gap_events):
            if self.position >= len(stream):
                break
            self._skip(stream[self.position])
        log.info(
            "replay: connection cut",
            extra={"connection": client.number, "events_sent": self.events_sent, "gap_events": cut.gap_events},
        )
        client.closed = True
        with contextlib.suppress(OSError):
            await client.writer.drain()
        client.writer.close()  # flushes what was written, then closes


def client_recording_server(path: str | Path, **options: object) -> ReplayServer:
    """A server replaying a client's recording across its connection losses: it cuts the
    connection where the client lost it and answers each login with that connection's own
    recorded snapshot; what happened while the client was away is not in the file at all."""
    trace, losses = parse_client_recording(Path(path).read_bytes())
    return ReplayServer(trace, cuts=[Cut(after_events=at) for at in losses], **options)  # type: ignore[arg-type]


async def serve_replay(
    path: str | Path,
    host: str = "127.0.0.1",
    port: int = 5038,
    speed: float = 1.0,
    *,
    chunk_size: int | None = None,
    username: str = "hotline",
    secret: str = "hotline",
    rounds: int = 1,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve a trace until cancelled (``rounds`` > 1 repeats it with distinct linkedids)."""
    trace = load_trace(path)
    if rounds > 1:
        trace = retagged(trace, rounds)
    server = ReplayServer(trace, username=username, secret=secret, speed=speed, chunk_size=chunk_size)
    bound_host, bound_port = await server.start(host, port)
    log.info(
        "replay: serving",
        extra={"trace": str(path), "host": bound_host, "port": bound_port, "events": len(trace.stream)},
    )
    print(f"AMI replay of {path} on {bound_host}:{bound_port} ({len(trace.stream)} events)", flush=True)
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Replay a recorded AMI trace as a TCP AMI server")
    parser.add_argument("trace")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--speed", type=float, default=1.0, help="0 = as fast as possible")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--username", default="hotline")
    parser.add_argument("--secret", default="hotline")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_replay(
                args.trace,
                args.host,
                args.port,
                args.speed,
                chunk_size=args.chunk_size,
                username=args.username,
                secret=args.secret,
                rounds=args.rounds,
            )
        )


if __name__ == "__main__":
    main()
