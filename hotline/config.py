"""Settings read from the environment, validated once at start.

``DATABASE_URL`` and ``REDIS_URL`` keep their conventional names; everything
else is ``HOTLINE_*``. A missing database or Redis URL means "start the
embedded server" (see :mod:`hotline.embedded`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, StringConstraints, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from pydantic import ValidationInfo

Role = Literal["api", "ami", "cel", "clock", "outbox", "assist", "sms"]


class ConfigError(Exception):
    """A setting has a bad value; the message names it and says why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "HOTLINE_DATABASE_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "HOTLINE_REDIS_URL"))
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path("var")
    token_ttl_hours: int = Field(default=12, ge=1, le=24 * 30)
    # A bearer token's check is kept this long in each API process (0: never); revocation is immediate.
    token_cache_seconds: float = Field(default=5, ge=0, le=300)
    # API processes `hotline serve` runs on one port (SO_REUSEPORT); background roles run in one of them.
    workers: int = Field(default=1, ge=1, le=64)
    # The event loop `hotline serve` runs on: uvloop (libuv; the server's and asyncpg's socket work
    # costs about a third less CPU) or the standard library's asyncio.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    pool_min: int = Field(default=2, ge=1)
    pool_max: int = Field(default=20, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    # Which parts this process runs: comma-separated, e.g. HOTLINE_ROLES=api or HOTLINE_ROLES=clock,outbox.
    roles: Annotated[list[Role], NoDecode] = Field(
        default_factory=lambda: ["api", "ami", "cel", "clock", "outbox", "assist", "sms"]
    )
    timezone: str = "Asia/Shanghai"
    # Working hours deadlines are counted in, e.g. 08:30-12:00,13:30-17:30.
    work_hours: str = "08:30-12:00,13:30-17:30"
    # Seconds between two runs of the deadline clock.
    clock_interval: float = Field(default=15.0, gt=0, le=3600)
    # Asterisk nodes, e.g. ami://hotline:secret@10.0.0.5:5038/pbx1,ami://…/pbx2 (see adapters/ami/config.py).
    ami_nodes: str = ""
    # Agent assist (hotline/similar, hotline/hotspots): duplicate windows and hotspot alert rules.
    repeat_place_days: int = Field(default=7, ge=1, le=90)
    repeat_content_days: int = Field(default=7, ge=1, le=90)
    hotspot_window_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60)
    hotspot_floor: int = Field(default=5, ge=2, le=10_000)
    hotspot_multiple: float = Field(default=3.0, ge=1.0, le=100.0)
    hotspot_weeks: int = Field(default=4, ge=1, le=26)
    hotspot_interval: float = Field(default=60.0, gt=0, le=3600)
    # The deployment's name on a shared Redis: every channel and key starts hotline:{instance}:.
    # Unset: the database's name, so two deployments on one Redis stay apart by default.
    instance: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None
    # Login throttle: failures allowed per username and per client address in the window,
    # and failures per username after which the account is locked until an admin unlocks it.
    login_window_seconds: int = Field(default=300, ge=1, le=86400)
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(default=30, ge=1, le=100000)
    login_lockout_failures: int = Field(default=20, ge=1, le=100000)
    # Fernet key sealing unit HMAC secrets at rest (hotline secrets new-key); see hotline.secretbox.
    secret_key: SecretStr | None = None
    # Agency webhook URLs may point at loopback or private networks only when this is true.
    webhook_allow_private: bool = False
    # Where Asterisk's cel_pgsql writes, when not into this database's own cel table.
    cel_database_url: str = ""
    # calls.node of the call records the CEL pass writes (default: the only AMI node, else pbx1).
    cel_node: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]{0,64}$")
    # Seconds between two looks at the CEL table when it had nothing new.
    cel_interval: float = Field(default=1.0, gt=0, le=3600)
    # Days of queue members' state changes kept (the agents' day figures); 0 keeps them all.
    member_history_days: int = Field(default=400, ge=0, le=36500)
    # Citizens' SMS: the HTTP gateway messages are posted to (no URL: the sms role sends nothing),
    # its bearer token, and the token the gateway sends with inbound messages and receipts.
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""
    sms_inbound_token: str = ""
    sms_interval: float = Field(default=5.0, gt=0, le=3600)
    # Citizens' SMS over SMPP 3.4 instead of the HTTP gateway, e.g.
    # smpp://system_id:password@host:2775?source=12345 (see hotline/sms/smpp_url.py).
    sms_smpp_url: str = ""
    # The HTTP SMS gateway may be on loopback or a private network only when this is true.
    sms_gateway_allow_private: bool = False
    # Call recordings (MixMonitor files): where they are mounted on this machine (empty: not served),
    # and the directory Asterisk names them under (an absolute name there maps into ours).
    recordings_dir: str = ""
    recordings_asterisk_dir: str = "/var/spool/asterisk/monitor"
    # Or relayed over HTTP from a file server that has Asterisk's monitor directory at this URL
    # (http/https, e.g. http://files.example/monitor/): set it or recordings_dir, not both. Seconds
    # the server has to connect and to send each next piece before the route answers 503.
    recordings_url: str = ""
    recordings_timeout: float = Field(default=10.0, gt=0, le=300)
    # A call's file name when its events named none (a call known only from CEL or queue_log), as
    # the dialplan's MixMonitor(${UNIQUEID}.wav) writes it: {uniqueid} (the caller leg's), {linkedid}.
    # Empty: such calls have no recording.
    recordings_name: str = "{uniqueid}.wav"
    # What the end-of-call survey's keys mean (hotline/figures/survey.py).
    survey_scale: str = "1=satisfied,2=basically_satisfied,3=unsatisfied"
    # Click-to-call (hotline.api.outbound): the agent's phone ({extension} of the agent's queue
    # interface), the dialplan context the citizen's number is dialled through, the caller id shown.
    agent_phone: str = Field(default="Local/{extension}@agent-phone", pattern=r"\{extension\}")
    outbound_context: str = Field(default="outbound", pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    centre_caller_id: str = Field(default='"12345热线" <12345>', min_length=1, max_length=80)
    originate_timeout_ms: int = Field(default=30000, ge=1000, le=300000)
    # An AMI command (click-to-call, presence) not sent within this many seconds fails instead.
    command_ttl_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Agent presence (hotline.api.presence): the queues an agent signs in to, the pause reasons offered.
    agent_queues: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$")
    pause_reasons: str = Field(default="小休,培训,会议,后处理", min_length=1)
    # Wrap-up seconds per queue (queues.conf ``wrapuptime``), e.g. ``hotline=10,expert=0``: how long
    # a member shows ``wrapup`` after a call. A member's own Wrapuptime from Asterisk wins when not 0.
    queue_wrapup: str = Field(default="", pattern=r"^([A-Za-z0-9_.-]+=\d{1,4}(,[A-Za-z0-9_.-]+=\d{1,4})*)?$")

    @field_validator("survey_scale")
    @classmethod
    def _survey_scale(cls, v: str) -> str:
        from hotline.figures.survey import parse_scale

        parse_scale(v)
        return v

    @field_validator("recordings_url")
    @classmethod
    def _recordings_url(cls, v: str, info: ValidationInfo) -> str:
        from hotline.recordings.remote import check_base

        if v and info.data.get("recordings_dir"):
            raise ValueError(
                "set HOTLINE_RECORDINGS_DIR or HOTLINE_RECORDINGS_URL, not both: each says where files are"
            )
        return check_base(v) if v else v

    @field_validator("recordings_name")
    @classmethod
    def _recordings_name(cls, v: str) -> str:
        from hotline.recordings.names import check_template

        check_template(v)
        return v

    @field_validator("sms_smpp_url")
    @classmethod
    def _smpp_url_parse(cls, v: str, info: ValidationInfo) -> str:
        from hotline.sms.smpp_url import parse

        if v and info.data.get("sms_gateway_url"):
            raise ValueError("set HOTLINE_SMS_GATEWAY_URL or HOTLINE_SMS_SMPP_URL, not both: each chooses the sender")
        if v:
            parse(v)
        return v

    @field_validator("sms_gateway_url")
    @classmethod
    def _sms_gateway_http(cls, v: str) -> str:
        from urllib.parse import urlsplit

        if v and (urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).hostname):
            raise ValueError("HOTLINE_SMS_GATEWAY_URL must be an http:// or https:// URL with a host")
        return v

    @field_validator("roles", mode="before")
    @classmethod
    def _split_roles(cls, v: object) -> object:
        return [part.strip() for part in v.split(",") if part.strip()] if isinstance(v, str) else v

    @field_validator("ami_nodes")
    @classmethod
    def _ami_nodes_parse(cls, v: str) -> str:
        from adapters.ami.config import AmiConfigError, parse_nodes

        try:
            parse_nodes(v)
        except AmiConfigError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("work_hours")
    @classmethod
    def _work_hours_parse(cls, v: str) -> str:
        from hotline.calendar import parse_hours

        parse_hours(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, v: str | None) -> str | None:
        if v and not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return v or None

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, v: str | None) -> str | None:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return v or None


def queue_wrapup(settings: Settings) -> dict[str, int]:
    """``HOTLINE_QUEUE_WRAPUP`` as queue -> seconds."""
    pairs = (part.partition("=") for part in settings.queue_wrapup.split(",") if part)
    return {queue: int(seconds) for queue, _, seconds in pairs}


def instance_name(settings: Settings) -> str:
    """HOTLINE_INSTANCE, else the database's name (safe characters only), else "default"."""
    if settings.instance:
        return settings.instance
    from urllib.parse import urlsplit

    name = urlsplit(settings.database_url or "").path.lstrip("/")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "default"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ConfigError with a readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
