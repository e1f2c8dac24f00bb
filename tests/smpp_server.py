"""A minimal SMSC for tests, written from the SMPP 3.4 specification (not from smpplib):
PDUs are a 16-octet header (command_length, command_id, command_status, sequence_number,
all big-endian uint32) and a body of C-octet strings, integers and TLVs (§3.2, §4, §5.3).

It answers bind_transmitter/bind_transceiver (refusing a wrong password with
ESME_RINVPASWD), submit_sm with a message_id, enquire_link and unbind; plays a ``script``
of misbehaviour one submit_sm at a time (``syserr`` answers ESME_RSYSERR, ``nack`` a
generic_nack, ``silent`` never answers, ``close`` drops the connection); decodes UCS2 and
reassembles UDH-concatenated parts into whole messages; and sends deliver_sm receipts."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

BIND_TRANSMITTER, BIND_TRANSCEIVER, SUBMIT_SM, DELIVER_SM = 0x02, 0x09, 0x04, 0x05
UNBIND, ENQUIRE_LINK, GENERIC_NACK, RESP = 0x06, 0x15, 0x80000000, 0x80000000
ESME_ROK, ESME_RSYSERR, ESME_RINVPASWD, ESME_RINVCMDID = 0x00, 0x08, 0x0E, 0x03
TLV_RECEIPTED_MESSAGE_ID, TLV_MESSAGE_STATE = 0x001E, 0x0427


def pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def cstr(value: str) -> bytes:
    return value.encode("latin-1") + b"\x00"


class Body:
    """Reads a PDU body field by field, in the order §4 lists them."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def cstr(self) -> str:
        end = self.data.index(b"\x00", self.at)
        value, self.at = self.data[self.at : end].decode("latin-1"), end + 1
        return value

    def u8(self) -> int:
        self.at += 1
        return self.data[self.at - 1]

    def octets(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n : self.at]


def parse_submit(body: bytes) -> dict[str, Any]:
    b = Body(body)
    sm: dict[str, Any] = {"service_type": b.cstr(), "source_ton": b.u8(), "source_npi": b.u8(), "source": b.cstr()}
    sm |= {"dest_ton": b.u8(), "dest_npi": b.u8(), "destination": b.cstr(), "esm_class": b.u8()}
    sm |= {"protocol_id": b.u8(), "priority": b.u8(), "schedule": b.cstr(), "validity": b.cstr()}
    sm |= {"registered_delivery": b.u8(), "replace": b.u8(), "data_coding": b.u8(), "default_msg_id": b.u8()}
    sm["short_message"] = b.octets(b.u8())
    return sm


def split_udh(esm_class: int, message: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """(reference, total, number) of a concatenated part (GSM 03.40 IEI 0x00 or 0x08) and its payload."""
    if not esm_class & 0x40:
        return None, message
    udhl, header, at = message[0], message[1 : 1 + message[0]], 0
    while at < udhl:
        iei, length = header[at], header[at + 1]
        ie = header[at + 2 : at + 2 + length]
        if iei == 0x00:
            return (ie[0], ie[1], ie[2]), message[1 + udhl :]
        if iei == 0x08:
            return (ie[0] << 8 | ie[1], ie[2], ie[3]), message[1 + udhl :]
        at += 2 + length
    return None, message[1 + udhl :]


@dataclass
class Smsc:
    system_id: str = "hotline"
    password: str = "secret"
    port: int = 0
    script: list[str] = field(default_factory=list)
    binds: list[dict[str, Any]] = field(default_factory=list)  # every attempt, with its loop time
    submits: list[dict[str, Any]] = field(default_factory=list)  # every submit_sm answered with an id
    messages: list[tuple[str, str]] = field(default_factory=list)  # (destination, whole text)
    message_ids: list[list[str]] = field(default_factory=list)  # per whole message, its parts' ids
    receipts_answered: list[int] = field(default_factory=list)  # deliver_sm_resp statuses
    _server: asyncio.Server | None = None
    _sessions: list[asyncio.StreamWriter] = field(default_factory=list)
    _parts: dict[tuple[str, int], dict[int, tuple[str, bytes]]] = field(default_factory=dict)
    _sequence: int = 0x10000

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in self._sessions:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, password: str | None = None, mode: str = "transceiver") -> str:
        return f"smpp://{self.system_id}:{password or self.password}@127.0.0.1:{self.port}?source=12345&mode={mode}"

    @property
    def bound(self) -> list[asyncio.StreamWriter]:
        return [w for w in self._sessions if not w.is_closing()]

    async def send_receipt(self, message_id: str, stat: str = "DELIVRD", *, tlvs: bool = False) -> None:
        """A deliver_sm receipt (SMPP 3.4 Appendix B text) to the bound session."""
        text = f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:2612021000 "
        text += f"done date:2612021001 stat:{stat} err:000 text:"
        body = cstr("") + bytes([1, 1]) + cstr("13912341234") + bytes([0, 0]) + cstr("12345") + bytes([0x04, 0, 0])
        body += cstr("") + cstr("") + bytes([0, 0, 0, 0]) + bytes([len(text)]) + text.encode()
        if tlvs:
            mid = cstr(message_id)
            body += struct.pack(">HH", TLV_RECEIPTED_MESSAGE_ID, len(mid)) + mid
            body += struct.pack(">HHB", TLV_MESSAGE_STATE, 1, 2 if stat == "DELIVRD" else 5)
        await self._deliver(body)

    async def send_mobile_originated(self, phone: str, text: str) -> None:
        """A citizen's reply, UCS2, as the SMSC forwards it."""
        message = text.encode("utf-16-be")
        body = cstr("") + bytes([1, 1]) + cstr(phone) + bytes([0, 0]) + cstr("12345") + bytes([0, 0, 0])
        body += cstr("") + cstr("") + bytes([0, 0, 8, 0]) + bytes([len(message)]) + message
        await self._deliver(body)

    async def _deliver(self, body: bytes) -> None:
        writer = self.bound[-1]
        self._sequence += 1
        writer.write(pdu(DELIVER_SM, ESME_ROK, self._sequence, body))
        await writer.drain()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        bound = False
        try:
            while True:
                header = await reader.readexactly(16)
                length, command, status, sequence = struct.unpack(">IIII", header)
                body = await reader.readexactly(length - 16)
                if command in (BIND_TRANSMITTER, BIND_TRANSCEIVER):
                    bound = self._bind(writer, command, sequence, body)
                elif command == SUBMIT_SM and bound:
                    if not await self._submit(writer, sequence, body):
                        return
                elif command == ENQUIRE_LINK:
                    writer.write(pdu(ENQUIRE_LINK | RESP, ESME_ROK, sequence))
                elif command == UNBIND:
                    writer.write(pdu(UNBIND | RESP, ESME_ROK, sequence))
                    await writer.drain()
                    return
                elif command == DELIVER_SM | RESP:
                    self.receipts_answered.append(status)
                else:
                    writer.write(pdu(GENERIC_NACK, ESME_RINVCMDID, sequence))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    def _bind(self, writer: asyncio.StreamWriter, command: int, sequence: int, body: bytes) -> bool:
        b = Body(body)
        system_id, password, system_type = b.cstr(), b.cstr(), b.cstr()
        version = b.u8()
        loop_time = asyncio.get_running_loop().time()
        self.binds.append({"command": command, "system_id": system_id, "password": password,
                           "system_type": system_type, "version": version, "at": loop_time})  # fmt: skip
        if (system_id, password) != (self.system_id, self.password):
            writer.write(pdu(command | RESP, ESME_RINVPASWD, sequence))  # §4.1.2: no body on an error
            return False
        writer.write(pdu(command | RESP, ESME_ROK, sequence, cstr("SMSC")))
        self._sessions.append(writer)
        return True

    async def _submit(self, writer: asyncio.StreamWriter, sequence: int, body: bytes) -> bool:
        step = self.script.pop(0) if self.script else "ok"
        if step == "close":
            return False
        if step == "silent":
            return True
        if step in ("syserr", "nack"):
            writer.write(pdu(SUBMIT_SM | RESP if step == "syserr" else GENERIC_NACK, ESME_RSYSERR, sequence))
            return True
        sm = parse_submit(body)
        message_id = f"smsc-{len(self.submits) + 1}"
        sm["message_id"] = message_id
        self.submits.append(sm)
        writer.write(pdu(SUBMIT_SM | RESP, ESME_ROK, sequence, cstr(message_id)))
        self._reassemble(sm)
        return True

    def _reassemble(self, sm: dict[str, Any]) -> None:
        concat, payload = split_udh(sm["esm_class"], sm["short_message"])
        text_of = (lambda b: b.decode("utf-16-be")) if sm["data_coding"] == 8 else (lambda b: b.decode("latin-1"))
        if concat is None:
            self.messages.append((sm["destination"], text_of(payload)))
            self.message_ids.append([sm["message_id"]])
            return
        ref, total, number = concat
        parts = self._parts.setdefault((sm["destination"], ref), {})
        parts[number] = (sm["message_id"], payload)
        if len(parts) == total:
            del self._parts[(sm["destination"], ref)]
            ordered = [parts[n] for n in range(1, total + 1)]
            self.messages.append((sm["destination"], text_of(b"".join(p for _, p in ordered))))
            self.message_ids.append([i for i, _ in ordered])
