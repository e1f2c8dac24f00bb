"""``SmppSender``: citizens' notices over SMPP 3.4, the interface operators' SMS centres and
most resellers in China offer besides CMPP, through ``smpplib``.

smpplib is synchronous, so one dedicated thread owns the session: it connects and binds
(a transceiver, so delivery receipts come back on the same session), takes messages from a
queue, sends each as ``submit_sm`` parts (UCS2, data_coding 8; a long text split with a UDH
concatenation header) asking for a receipt, and between messages reads what the SMSC sends
(receipts, citizens' replies, enquire_link) and keeps the link alive. A failed session is
dropped and bound again; a refused or failing bind is retried with growing backoff, and a
message handed over meanwhile fails at once with the reason, for the relay to retry later.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import smpplib.client
import smpplib.consts as c
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

from hotline.sms import dlr
from hotline.sms.senders import Outgoing, SendFailed
from hotline.sms.smpp_url import SmppConfig

log = logging.getLogger(__name__)
ReceiptHandler = Callable[[str, bool], Awaitable[object]]  # (provider_id, delivered)
MessageHandler = Callable[[str, str], Awaitable[object]]  # (phone, text) of a citizen's reply
SESSION_ERRORS = (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError)
RECEIPT_TYPE = 0x04  # esm_class message type "SMSC delivery receipt" (SMPP 3.4 §5.2.12)


class SessionBroken(Exception):
    """The session is out of step (a generic_nack, no answer in time): drop it and bind again."""


@dataclass(frozen=True)
class BindBackoff:
    first: float = 1.0
    most: float = 60.0

    def after(self, failures: int) -> float:
        return min(self.first * 2 ** (failures - 1), self.most)


@dataclass
class _Job:
    message: Outgoing
    result: Future[str] = field(default_factory=Future)


class SmppSender:
    def __init__(
        self,
        config: SmppConfig,
        *,
        on_receipt: ReceiptHandler | None = None,
        on_message: MessageHandler | None = None,
        timeout: float = 10.0,
        backoff: BindBackoff = BindBackoff(),
        enquire_every: float = 30.0,
    ) -> None:
        self.config, self.timeout, self.backoff, self.enquire_every = config, timeout, backoff, enquire_every
        self.on_receipt, self.on_message = on_receipt, on_message
        self.binds = 0  # bind attempts, for /metrics and tests
        self.last_error = ""
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: smpplib.client.Client | None = None
        self._responses: dict[int, str] = {}
        self._parts = dlr.PartTracker()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="smpp-sender", daemon=True)
        self._thread.start()

    async def send(self, message: Outgoing) -> str:
        assert self._thread is not None, "start() the sender first"
        job = _Job(message)
        self._jobs.put(job)
        parts = len(smpplib.gsm.make_parts(message.body, c.SMPP_ENCODING_ISO10646)[0])
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.result), self.timeout * (parts + 1))
        except TimeoutError:
            job.result.cancel()  # not sent if still queued; the thread's own timeouts end a send in progress
            raise SendFailed("the SMPP session did not answer in time") from None

    async def close(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    # --- the session thread -------------------------------------------------------------------

    def _run(self) -> None:
        failures, next_bind = 0, 0.0
        last_heard = time.monotonic()
        while not self._stop.is_set():
            try:
                failures, next_bind, last_heard = self._step(failures, next_bind, last_heard)
            except Exception:  # a bug in handling one PDU must not end the thread that sends every SMS
                log.exception("SMPP sender step failed; binding again")
                self._drop()
        self._unbind()
        while not self._jobs.empty():
            left = self._jobs.get_nowait()
            if left is not None and left.result.set_running_or_notify_cancel():
                left.result.set_exception(SendFailed("the SMPP sender stopped"))

    def _step(self, failures: int, next_bind: float, last_heard: float) -> tuple[int, float, float]:
        """Bind when due, then one message or one look at what the SMSC sent."""
        if self._client is None and time.monotonic() >= next_bind:
            try:
                self._bind()
                failures, last_heard = 0, time.monotonic()
            except SESSION_ERRORS as exc:
                failures += 1
                wait = self.backoff.after(failures)
                next_bind = time.monotonic() + wait
                self.last_error = f"SMPP bind to {self.config.host}:{self.config.port} failed: {_reason(exc)}"
                log.error(self.last_error, extra={"failures": failures, "retry_in": wait})
                self._drop()
        try:
            job = self._jobs.get(timeout=0.1)
        except queue.Empty:
            job = None
            if self._client is not None:
                last_heard = self._idle(last_heard)
        if job is not None and job.result.set_running_or_notify_cancel():
            self._submit(job, next_bind)
        return failures, next_bind, last_heard

    def _bind(self) -> None:
        self.binds += 1
        client = smpplib.client.Client(
            self.config.host, self.config.port, timeout=self.timeout, allow_unknown_opt_params=True
        )
        client.set_message_received_handler(self._received)
        client.set_message_sent_handler(self._sent)
        client.set_error_pdu_handler(self._error_pdu)
        self._client = client
        client.connect()
        bind = client.bind_transceiver if self.config.mode == "transceiver" else client.bind_transmitter
        bind(system_id=self.config.system_id, password=self.config.password, system_type=self.config.system_type)
        self.last_error = ""
        log.info("SMPP bound", extra={"host": self.config.host, "mode": self.config.mode})

    def _submit(self, job: _Job, next_bind: float) -> None:
        if self._client is None:
            wait = max(0.0, next_bind - time.monotonic())
            job.result.set_exception(SendFailed(f"{self.last_error or 'SMPP not bound'}; next bind in {wait:.0f}s"))
            return
        try:
            ids = self._submit_parts(job.message)
        except smpplib.exceptions.PDUError as exc:  # the SMSC refused this message; the session is fine
            job.result.set_exception(SendFailed(f"SMSC refused the message: {_reason(exc)}"))
            return
        except (SessionBroken, *SESSION_ERRORS) as exc:
            self._drop()
            job.result.set_exception(SendFailed(f"SMPP session lost: {_reason(exc)}"))
            return
        self._parts.sent(ids)
        job.result.set_result(ids[0])

    def _submit_parts(self, message: Outgoing) -> list[str]:
        assert self._client is not None
        parts, coding, esm_class = smpplib.gsm.make_parts(message.body, c.SMPP_ENCODING_ISO10646)
        ids = []
        for part in parts:
            pdu = self._client.send_message(
                source_addr_ton=c.SMPP_TON_UNK, source_addr_npi=c.SMPP_NPI_UNK, source_addr=self.config.source,
                dest_addr_ton=c.SMPP_TON_UNK, dest_addr_npi=c.SMPP_NPI_ISDN, destination_addr=message.phone,
                short_message=part, data_coding=coding, esm_class=esm_class,
                registered_delivery=c.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
            )  # fmt: skip
            ids.append(self._await_response(pdu.sequence))
            if not ids[-1]:
                raise SessionBroken("submit_sm_resp without a message_id")
        return ids

    def _await_response(self, sequence: int) -> str:
        assert self._client is not None
        deadline = time.monotonic() + self.timeout
        while sequence not in self._responses:
            if time.monotonic() > deadline:
                raise SessionBroken(f"no submit_sm_resp within {self.timeout:g}s")
            try:
                self._client.read_once(auto_send_enquire_link=False)
            except TimeoutError:  # socket.timeout
                raise SessionBroken(f"no submit_sm_resp within {self.timeout:g}s") from None
        return self._responses.pop(sequence)

    def _idle(self, last_heard: float) -> float:
        """Read what the SMSC sent meanwhile; an enquire_link when the link has been quiet."""
        assert self._client is not None
        try:
            self._client.poll(auto_send_enquire_link=False)
            if time.monotonic() - last_heard >= self.enquire_every:
                self._client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=self._client))
                last_heard = time.monotonic()
        except (SessionBroken, TimeoutError, *SESSION_ERRORS) as exc:
            log.warning("SMPP session lost while idle", extra={"error": _reason(exc)})
            self._drop()
        return last_heard

    def _unbind(self) -> None:
        if self._client is not None and self._client.state != c.SMPP_CLIENT_STATE_CLOSED:
            try:
                self._client.unbind()
            except (*SESSION_ERRORS, TimeoutError):
                pass
        self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client = None
        self._responses.clear()

    # --- smpplib's handlers (called on the session thread) --------------------------------------

    def _sent(self, pdu: smpplib.command.Command, **_: object) -> None:
        self._responses[pdu.sequence] = _text(pdu.message_id)

    def _error_pdu(self, pdu: smpplib.command.Command) -> None:
        if pdu.command == "generic_nack":
            raise SessionBroken(f"generic_nack status {pdu.status:#x} ({c.DESCRIPTIONS.get(pdu.status, 'unknown')})")
        raise smpplib.exceptions.PDUError(
            f"{pdu.command} status {pdu.status:#x} ({c.DESCRIPTIONS.get(pdu.status, 'unknown')})", int(pdu.status)
        )

    def _received(self, pdu: smpplib.command.Command, **_: object) -> int:
        if (pdu.esm_class or 0) & 0x3C == RECEIPT_TYPE:
            receipt = dlr.parse(pdu.short_message or b"", pdu.receipted_message_id, pdu.message_state)
            settled = self._parts.settle(receipt) if receipt else None
            if settled and self.on_receipt:
                self._hand_over(self.on_receipt(*settled))
        elif self.on_message:
            phone = _text(pdu.source_addr)
            self._hand_over(self.on_message(phone, _decode(pdu.short_message or b"", pdu.data_coding, pdu.esm_class)))
        return c.SMPP_ESME_ROK

    def _hand_over(self, work: Awaitable[object]) -> None:
        assert self._loop is not None
        try:
            done = asyncio.run_coroutine_threadsafe(work, self._loop)  # type: ignore[arg-type]
        except RuntimeError:  # the loop is closing: the SMSC sends the receipt again when unanswered
            getattr(work, "close", lambda: None)()
            return
        done.add_done_callback(_log_failure)


def _reason(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _text(value: bytes | str | None) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def _decode(body: bytes, coding: int | None, esm_class: int | None) -> str:
    if (esm_class or 0) & c.SMPP_GSMFEAT_UDHI and body:
        body = body[1 + body[0] :]  # a citizen's long reply: only this part's text
    if coding == c.SMPP_ENCODING_ISO10646:
        return body.decode("utf-16-be", errors="replace")
    return body.decode("latin-1")


def _log_failure(done: Future[object]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("SMPP receipt or reply not recorded", exc_info=done.exception())
