"""Where a unit's pushes may go: checked when an admin saves a ``webhook_url``.

Only ``http``/``https`` URLs with a host; and, unless ``HOTLINE_WEBHOOK_ALLOW_PRIVATE=true``
(a test bench, an all-internal deployment), no target that resolves to a loopback,
link-local, private, multicast or reserved address — a pushed order must not become a
request into our own network (SSRF).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from hotline.errors import InvalidInput


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return (ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)  # fmt: skip


async def check(url: str, *, allow_private: bool) -> None:
    """InvalidInput (422) naming the reason when pushes may not go to ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("webhook_url must be an http:// or https:// URL with a host", {"webhook_url": url})
    if allow_private:
        return
    host = parts.hostname
    try:
        bad = await private_addresses(host, parts.port)
    except OSError:
        raise InvalidInput("webhook_url's host does not resolve", {"host": host}) from None
    if bad:
        raise InvalidInput(
            "webhook_url points at a loopback, link-local or private address; pushes go to the agency's "
            "public endpoint (set HOTLINE_WEBHOOK_ALLOW_PRIVATE=true for an internal deployment)",
            {"host": host, "addresses": bad},
        )


async def private_addresses(host: str, port: int | None) -> list[str]:
    """The loopback, link-local, private or reserved addresses ``host`` is or resolves to
    (OSError when it does not resolve); also used for the SMS gateway's URL."""
    addresses = [host] if _is_ip(host) else await _resolve(host, port)
    return sorted({a for a in addresses if _forbidden(a)})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int | None) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
