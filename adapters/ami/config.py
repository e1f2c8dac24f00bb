"""AMI node settings: one entry per Asterisk node.

From the environment, one variable holds every node, either as comma-separated
URLs (secret URL-encoded; options as query parameters)::

    HOTLINE_AMI_NODES=ami://hotline:s3cret@10.0.0.5:5038/pbx1,ami://hotline:s3cret@10.0.0.6/pbx2?ping_interval=5

or as a JSON list of objects with the fields of :class:`AmiNode`.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, model_validator

Seconds = Annotated[float, Field(gt=0, le=3600)]


class AmiNode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="stored in calls.node")
    host: str = Field(min_length=1)
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = Field(min_length=1)
    secret: SecretStr
    ping_interval: Seconds = 10.0  # our liveness check: a Ping this often …
    ping_timeout: Seconds = 5.0  # … must be answered within this, or we reconnect
    connect_timeout: Seconds = 5.0
    action_timeout: Seconds = 15.0  # login and reconciliation actions
    reconnect_min: Seconds = 0.25  # backoff after a lost connection, doubling …
    # … up to this: at most 1.5 s between attempts, so the adapter is logged in
    # again within 2 s of Asterisk taking connections again (a call-centre cannot be blind for 13 s).
    reconnect_max: Annotated[float, Field(gt=0, le=1.5)] = 1.0

    @model_validator(mode="after")
    def _backoff_order(self) -> AmiNode:
        if self.reconnect_min > self.reconnect_max:
            raise ValueError("reconnect_min must not exceed reconnect_max")
        return self


class AmiConfigError(ValueError):
    """The AMI node setting cannot be read; the message says which part and why."""


_NODES = TypeAdapter(list[AmiNode])


def _from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme != "ami":
        raise AmiConfigError(f"AMI node URL must start with ami://, got {parts.scheme or url!r}")
    fields: dict[str, object] = {
        "name": parts.path.strip("/") or parts.hostname or "",
        "host": parts.hostname or "",
        "username": unquote(parts.username or ""),
        "secret": unquote(parts.password or ""),
    }
    if parts.port:
        fields["port"] = parts.port
    fields.update(parse_qsl(parts.query))
    return fields


def parse_nodes(value: str) -> list[AmiNode]:
    """Read ``HOTLINE_AMI_NODES`` (URLs or JSON). Empty → no node (the adapter is not started)."""
    value = value.strip()
    if not value:
        return []
    try:
        raw = (
            json.loads(value)
            if value.startswith("[")
            else [_from_url(u.strip()) for u in value.split(",") if u.strip()]
        )
        nodes = _NODES.validate_python(raw)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise AmiConfigError(f"invalid AMI node setting: {exc}") from None
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise AmiConfigError(f"AMI node names must be unique: {names}")
    return nodes
