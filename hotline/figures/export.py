"""A figures table as CSV that Excel opens with the Chinese intact: UTF-8 with a BOM, one header row."""

from __future__ import annotations

import csv
import io

from hotline.figures.rates import FigureRow, FiguresTable

BOM = "\ufeff"
# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...), +cmd|...):
# such a cell is written with a leading apostrophe, which shows the text as typed.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_COUNT_HEADERS = {
    "dispatched": "派单量",
    "signed_on_time": "按时签收",
    "replied": "已回复",
    "replied_on_time": "按时回复",
    "returned": "退单",
    "responded": "按时响应",
    "visited": "已回访",
    "satisfied": "满意",
    "resolved": "已解决",
    "received": "受理量",
    "resolved_directly": "直接答复",
}
_RATE_HEADERS = {
    "sign_on_time_rate": "签收率(%)",
    "reply_rate": "回复率(%)",
    "reply_on_time_rate": "按时回复率(%)",
    "return_rate": "退单率(%)",
    "response_rate": "响应率(%)",
    "satisfaction_rate": "满意率(%)",
    "resolution_rate": "解决率(%)",
    "visit_rate": "回访率(%)",
    "direct_rate": "直接答复率(%)",
}


def figures_csv(table: FiguresTable) -> bytes:
    """Rows in table order, then the total; rates as percentages with two decimals, blank when null."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["代码", "名称", *_COUNT_HEADERS.values(), *_RATE_HEADERS.values()])
    for row in [*table.rows, table.total]:
        writer.writerow([escape_cell(cell) for cell in _cells(row)])
    return (BOM + out.getvalue()).encode("utf-8")


def _cells(row: FigureRow) -> list[str]:
    rates = row.rates
    return [
        row.code or "",
        row.name,
        *(str(row.counts[name]) for name in _COUNT_HEADERS),
        *(_percent(rates[name]) for name in _RATE_HEADERS),
    ]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}"


def escape_cell(cell: str) -> str:
    """The cell as a spreadsheet shows it literally (OWASP CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell
