"""Unit HMAC secrets encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``).

HMAC needs the secret itself on our side, so it cannot be hashed like a password; it is
sealed with a key from ``HOTLINE_SECRET_KEY`` (a Fernet key: 32 url-safe base64 bytes, made
by ``hotline secrets new-key``) and stored as ``fernet:<token>``. With no key, secrets are
stored as issued and a warning is logged; once any secret is sealed, a process without the
key refuses to start rather than fail every signed request. The embedded set-up (no
DATABASE_URL) makes a key once and keeps it in the data folder. ``hotline secrets rotate``
re-seals every secret under a new key (and seals any still in clear).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import asyncpg
from cryptography.fernet import Fernet, InvalidToken

from hotline.config import ConfigError, Settings

log = logging.getLogger(__name__)
PREFIX = "fernet:"
KEY_FILE = "secret.key"


class SecretKeyMissing(ConfigError):
    pass


class SecretBox:
    """Seals and opens stored secrets; an empty box stores them as given."""

    def __init__(self, key: str | None = None) -> None:
        try:
            self._fernet = Fernet(key.encode()) if key else None
        except ValueError:
            raise ConfigError("HOTLINE_SECRET_KEY is not a Fernet key (make one: hotline secrets new-key)") from None

    @property
    def sealing(self) -> bool:
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        return PREFIX + self._fernet.encrypt(secret.encode()).decode() if self._fernet else secret

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise SecretKeyMissing("a unit secret is encrypted but HOTLINE_SECRET_KEY is not set")
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise ConfigError("a unit secret does not open with HOTLINE_SECRET_KEY (wrong or rotated key)") from None


def new_key() -> str:
    return Fernet.generate_key().decode()


def embedded_key(data_dir: Path) -> str:
    """The embedded set-up's key: made once, kept (owner-only) under the data folder."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    log.info("secret key made for the embedded set-up", extra={"path": str(path)})
    return key


def key_for(settings: Settings) -> str | None:
    """The key the server seals with, for commands that must seal and open as it does:
    HOTLINE_SECRET_KEY, else (the embedded set-up, no DATABASE_URL) the data folder's key file."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    return embedded_key(settings.data_dir) if settings.database_url is None else None


def box_for(settings: Settings) -> SecretBox:
    return SecretBox(key_for(settings))


async def check_startup(conn: asyncpg.Connection, box: SecretBox) -> None:
    """Refuse to start without the key when sealed secrets exist; warn when secrets lie in clear."""
    sealed = await conn.fetchval("SELECT count(*) FROM unit_keys WHERE secret LIKE $1", PREFIX + "%")
    if sealed and not box.sealing:
        raise SecretKeyMissing(
            f"HOTLINE_SECRET_KEY is not set, but {sealed} unit secret(s) are encrypted with it: "
            "set it to the key they were sealed with"
        )
    if not box.sealing:
        log.warning("HOTLINE_SECRET_KEY is not set: unit HMAC secrets are stored in clear")


async def rotate(conn: asyncpg.Connection, old: SecretBox, new: SecretBox) -> int:
    """Re-seal every unit secret and channel intake secret under ``new`` in one transaction;
    returns how many."""
    if not new.sealing:
        raise ConfigError("the new key is empty")
    count = 0
    async with conn.transaction():
        for table in ("unit_keys", "intake_keys"):
            rows = await conn.fetch(f"SELECT key_id, secret FROM {table} FOR UPDATE")
            for r in rows:
                await conn.execute(
                    f"UPDATE {table} SET secret = $2 WHERE key_id = $1", r["key_id"], new.seal(old.open(r["secret"]))
                )
            count += len(rows)
    return count
