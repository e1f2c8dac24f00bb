"""The bounds every input respects, on their own: nesting counted without parsing, strings
and integers no column holds found at any depth with their path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from hotline.bounds import INT64_MAX, MAX_JSON_DEPTH, When, control_character, out_of_bounds, too_deep


@pytest.mark.parametrize(
    ("raw", "deep"),
    [
        (b"{}", False),
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
        (b"[" * 5000, True),  # not even valid JSON: refused for its depth first
        (json.dumps({"a": "[" * 100}).encode(), False),
        (json.dumps({"a": '\\"[[[[' * 20}).encode(), False),  # escaped quotes keep the string open
        (json.dumps([[{"x": ["]]]]{{{{"] * 40}] * 3]).encode(), False),
    ],
)
def test_nesting_counts_brackets_outside_strings(raw: bytes, deep: bool) -> None:
    assert too_deep(raw) is deep


def test_a_large_flat_body_is_not_deep() -> None:
    assert not too_deep(json.dumps([[i] for i in range(200_000)]).encode())


def test_control_characters_are_named_and_tabs_and_newlines_pass() -> None:
    assert control_character("第一行\n第二行\t\r") is None
    assert control_character("a\x00b") == "U+0000"
    assert control_character("\x85") == "U+0085"
    assert control_character("\ud800") == "U+D800"


def test_out_of_bounds_walks_objects_and_arrays_with_paths() -> None:
    value = {"ok": "fine", "n": [1, INT64_MAX, INT64_MAX + 1, -INT64_MAX - 2], "deep": {"s": ["x", "y\x01"]}, "b": True}
    assert [(e["field"], e["type"]) for e in out_of_bounds(value)] == [
        ("n.2", "int_out_of_range"),
        ("n.3", "int_out_of_range"),
        ("deep.s.1", "string_control_character"),
    ]


def test_when_takes_aware_times_from_2000_to_2100() -> None:
    when = TypeAdapter(When)
    assert when.validate_python("2026-12-02T09:00:00+08:00") == datetime(2026, 12, 2, 1, tzinfo=UTC)
    for bad in ("2026-12-02T09:00:00", "1999-12-31T23:59:59+00:00", "9999-12-31T23:59:59+14:00"):
        with pytest.raises(ValidationError):
            when.validate_python(bad)
    east = timezone(timedelta(hours=14))
    with pytest.raises(ValidationError):
        when.validate_python(datetime(2101, 1, 2, 9, tzinfo=east))
