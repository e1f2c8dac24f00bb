"""How the outbox relay sends: read from ``HOTLINE_WEBHOOK_*`` environment variables.

``HOTLINE_WEBHOOK_STAGING_URL`` is the staging switch: when set, every delivery goes to
that one receiver instead of the units' own URLs (signed with the unit's key as usual,
the unit's URL in ``X-Hotline-Original-Url``), so a staging copy of production data
never reaches a real agency.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Seconds = Annotated[float, Field(gt=0)]


class RelayConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_WEBHOOK_", extra="ignore")

    # Names this relay in the outbox rows it holds (locked_by) and in its logs.
    name: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    batch_size: int = Field(default=20, ge=1, le=500)
    concurrency: int = Field(default=16, ge=1, le=500)  # deliveries in flight at once
    poll_seconds: Seconds = 1.0  # how often an idle relay looks for due rows
    timeout_seconds: Seconds = 10.0  # one POST, connect to last byte
    # A claimed row is this relay's for lease_seconds; a relay that dies leaves it to be claimed
    # again after that. Must outlast a delivery's timeout.
    lease_seconds: Seconds = 60.0
    max_attempts: int = Field(default=10, ge=1, le=100)  # then the row is dead, for a supervisor to retry
    backoff_base_seconds: Seconds = 5.0  # the wait after the first failure, doubled after each
    backoff_cap_seconds: Seconds = 3600.0
    staging_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    # Idempotency keys of callbacks are kept this long, then pruned by the relay's housekeeping.
    idempotency_retention_hours: int = Field(default=72, ge=1)
    housekeeping_seconds: Seconds = 600.0
    stop_grace_seconds: Seconds = 5.0  # on stop, deliveries in flight get this long to finish

    @model_validator(mode="after")
    def _lease_outlasts_timeout(self) -> RelayConfig:
        if self.lease_seconds <= self.timeout_seconds + 1:
            raise ValueError("lease_seconds must exceed timeout_seconds by more than a second")
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_cap_seconds must not be below backoff_base_seconds")
        return self
