"""GeoReport v2's two formats: JSON, and XML with the spec's element names; its errors as a
list of ``{code, description}`` in either."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from aiohttp import web

# The element each list's items get in XML, as the spec's examples name them.
ITEM = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
        "values": "value"}  # fmt: skip


class Open311Error(Exception):
    """An error in the spec's format; ``status`` is also the HTTP status."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def render(data: Any, fmt: str, root: str, status: int = 200) -> web.Response:
    """``data`` (a list for the list roots, a dict otherwise) as JSON or as XML under ``root``."""
    if fmt == "xml":
        element = ET.Element(root)
        _fill(element, root, data)
        body = ET.tostring(element, encoding="unicode", xml_declaration=False)
        return web.Response(
            text='<?xml version="1.0" encoding="utf-8"?>' + body,
            status=status,
            content_type="text/xml",
            charset="utf-8",
        )
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status, content_type="application/json")


def error(status: int, description: str, fmt: str) -> web.Response:
    return render([{"code": status, "description": description}], fmt, "errors", status)


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM.get(name, "item")), ITEM.get(name, "item"), item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def fmt_of(request: web.Request) -> str:
    """The format the path asks for (``.xml`` or ``.json``); JSON when it names none."""
    return "xml" if request.path.endswith(".xml") else "json"
