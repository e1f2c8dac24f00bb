"""CEL rows as cel_pgsql writes them, read from PostgreSQL or from a ``\\copy … csv header`` export.

Only the columns the interpreter reads are kept on :class:`CelRow`; the CSV loader keeps every
column for the ``cel`` table (:data:`COLUMNS`, the names cel_pgsql.c fills, in table order).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

COLUMNS = (
    "eventtype", "eventtime", "userdeftype", "cid_name", "cid_num", "cid_ani", "cid_rdnis", "cid_dnid", "exten",
    "context", "channame", "appname", "appdata", "amaflags", "accountcode", "peeraccount", "uniqueid", "linkedid",
    "userfield", "peer", "extra",
)  # fmt: skip


class CelFileError(ValueError):
    """A CEL export that cannot be loaded; the message names the line and the problem."""


@dataclass(frozen=True, slots=True)
class CelRow:
    id: int
    eventtype: str
    eventtime: datetime
    channame: str
    appname: str
    appdata: str
    uniqueid: str
    linkedid: str
    cid_num: str = ""
    cid_name: str = ""
    userdeftype: str = ""
    peer: str = ""
    extra: str = ""

    def extra_json(self) -> dict[str, Any]:
        """``extra`` is JSON on the rows that carry one (bridge, transfer, hang-up); {} otherwise."""
        if not self.extra or not self.extra.startswith("{"):
            return {}
        try:
            value = json.loads(self.extra)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def queue(self) -> str | None:
        """The queue this row's channel runs, from ``Queue`` appdata (``hotline,t,,,300``)."""
        if self.appname != "Queue":
            return None
        return self.appdata.split(",", 1)[0] or None


def from_record(r: Mapping[str, Any]) -> CelRow:
    """A row of the ``cel`` table (asyncpg Record or dict)."""
    return CelRow(
        id=int(r["id"]),
        eventtype=r["eventtype"],
        eventtime=r["eventtime"],
        channame=r["channame"],
        appname=r["appname"],
        appdata=r["appdata"],
        uniqueid=r["uniqueid"],
        linkedid=r["linkedid"],
        cid_num=r["cid_num"],
        cid_name=r["cid_name"],
        userdeftype=r["userdeftype"],
        peer=r["peer"],
        extra=r["extra"] or "",
    )


def parse_eventtime(value: str) -> datetime:
    """``2026-12-02 01:45:38.75701+00`` (PostgreSQL's timestamptz text) → aware datetime."""
    text = value.strip()
    if len(text) > 3 and text[-3] in "+-" and text[-2:].isdigit():
        text += ":00"
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("eventtime without a time zone")
    return at


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(id, column values for the cel table) per line of an export; CelFileError on a bad line."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"id", *COLUMNS} - set(reader.fieldnames or ())
        if missing:
            raise CelFileError(f"{path.name}: not a CEL export, missing columns {sorted(missing)}")
        for line, raw in enumerate(reader, start=2):
            try:
                values: dict[str, Any] = {c: raw[c] or "" for c in COLUMNS}
                values["eventtime"] = parse_eventtime(raw["eventtime"])
                values["amaflags"] = int(raw["amaflags"] or 0)
                values["extra"] = raw["extra"] or None
                yield int(raw["id"]), values
            except (ValueError, TypeError, KeyError) as exc:
                raise CelFileError(f"{path.name} line {line}: {exc}") from None


def calls_in_csv(path: Path) -> dict[str, list[CelRow]]:
    """An export's rows by Linkedid (in file order): what the interpreter takes, without a database."""
    out: dict[str, list[CelRow]] = {}
    for row_id, values in read_csv(path):
        out.setdefault(values["linkedid"], []).append(from_record({"id": row_id, **values}))
    return out
