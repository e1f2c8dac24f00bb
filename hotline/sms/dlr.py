"""SMPP delivery receipts: the operator's ``deliver_sm`` whose text is the de-facto receipt
format of SMPP 3.4 Appendix B (``id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:…``),
and which parts of a long message are still to report, so a notice counts as delivered only
when every part arrived and as failed as soon as one did not."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

RECEIPT = re.compile(r"\bid:(?P<id>\S+).*?\bstat:(?P<stat>[A-Z]+)", re.IGNORECASE | re.DOTALL)
# Final states (SMPP 3.4 §5.2.28 message_state, as the receipt text spells them).
DELIVERED = frozenset({"DELIVRD"})
UNDELIVERED = frozenset({"EXPIRED", "DELETED", "UNDELIV", "REJECTD", "UNKNOWN"})
# message_state TLV values (§5.3.2.35) for the same states.
STATE_CODES = {2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 7: "UNKNOWN", 8: "REJECTD"}


@dataclass(frozen=True)
class Receipt:
    message_id: str
    state: str

    @property
    def final(self) -> bool:
        return self.state in DELIVERED or self.state in UNDELIVERED

    @property
    def delivered(self) -> bool:
        return self.state in DELIVERED


def parse(text: bytes | str, receipted_id: bytes | str | None = None, state: int | None = None) -> Receipt | None:
    """The receipt in a ``deliver_sm``; None when it is an ordinary (mobile-originated) message."""
    body = text.decode("latin-1") if isinstance(text, bytes) else text
    match = RECEIPT.search(body)
    tlv_id = receipted_id.decode("latin-1") if isinstance(receipted_id, bytes) else receipted_id
    message_id = (tlv_id or (match.group("id") if match else "")).strip("\x00 ")
    stat = STATE_CODES.get(state or 0) or (match.group("stat").upper() if match else "")
    return Receipt(message_id, stat) if message_id and stat else None


class PartTracker:
    """The SMSC gives each part of a concatenated message its own id and receipt; we keep the
    first part's id as the notice's ``provider_id`` and remember, for a bounded number of
    recent messages, which part ids still owe a receipt."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._head: dict[str, str] = {}  # part id -> first part's id
        self._waiting: OrderedDict[str, set[str]] = OrderedDict()  # first id -> part ids still to report

    def sent(self, part_ids: list[str]) -> None:
        head = part_ids[0]
        self._waiting[head] = set(part_ids)
        for part in part_ids:
            self._head[part] = head
        while len(self._waiting) > self.keep:
            _old, parts = self._waiting.popitem(last=False)
            for part in parts:
                self._head.pop(part, None)

    def settle(self, receipt: Receipt) -> tuple[str, bool] | None:
        """(the notice's provider_id, delivered) once the message's outcome is known, else None.
        A receipt for an id we do not track (sent before a restart) settles that id alone."""
        if not receipt.final:
            return None
        head = self._head.pop(receipt.message_id, None)
        if head is None:
            return receipt.message_id, receipt.delivered
        waiting = self._waiting.get(head, set())
        waiting.discard(receipt.message_id)
        if receipt.delivered and waiting:
            return None
        for part in self._waiting.pop(head, set()):
            self._head.pop(part, None)
        return head, receipt.delivered
