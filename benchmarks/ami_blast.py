"""A bare AMI server for benchmarks/ami.py: answers Login, the reconciliation actions and Ping,
then writes a trace's whole pre-rendered stream at once. The replay server (adapters/ami/replay.py)
keeps a model of every call it plays, which made it, not the adapter, the slower end of the socket.

    python benchmarks/ami_blast.py TRACE PORT ROUNDS   (prints "listening" when ready)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.ami.trace import SEPARATOR, load_trace, parse_headers, retagged  # noqa: E402


def _reply(action: str, action_id: str) -> bytes:
    lines = [f"Response: Success\r\nActionID: {action_id}\r\n"]
    if action == "login":
        lines.append("Message: Authentication accepted\r\n\r\n")
    elif action == "ping":
        lines.append("Ping: Pong\r\n\r\n")
    else:  # an empty list: CoreShowChannels, QueueStatus
        lines.append(f"EventList: start\r\n\r\nEvent: {action}Complete\r\nActionID: {action_id}\r\nEventList: Complete\r\n"
                     "ListItems: 0\r\n\r\n")  # fmt: skip
    return "".join(lines).encode()


async def serve(stream: bytes, banner: bytes, port: int) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        answered: set[str] = set()
        sent = False
        buffer = b""
        while data := await reader.read(65536):
            buffer += data
            while SEPARATOR in buffer:
                block, buffer = buffer.split(SEPARATOR, 1)
                h = parse_headers(block)
                action = h.get("Action", "").lower()
                writer.write(_reply(action, h.get("ActionID", "")))
                answered.add(action)
                if not sent and {"coreshowchannels", "queuestatus"} <= answered:
                    writer.write(stream)
                    sent = True
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", port)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    path, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    trace = retagged(load_trace(path), rounds)
    stream = b"".join(m.raw for m in trace.stream)
    assert all(parse_headers(m.raw[: -len(SEPARATOR)]).get("Event") for m in trace.stream)
    asyncio.run(serve(stream, trace.banner, port))


if __name__ == "__main__":
    main()
