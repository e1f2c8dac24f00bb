"""The app factory: wiring only. Each resource has its own cleanup context, so
one that failed to start is not cleaned up, and the rest shut down in reverse."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from adapters.ami.adapter import AmiAdapter
from adapters.ami.config import parse_nodes
from adapters.ami.member_store import MemberHistoryPrune
from adapters.cel.worker import CelWorker, resolve_node
from adapters.webhook.config import RelayConfig
from adapters.webhook.relay import OutboxRelay
from dispatch.engine import Router
from hotline import bus, db, secretbox
from hotline.api import (
    access,
    agency_auth,
    agent_figures,
    assist,
    calls,
    channel_figures,
    city,
    deadlines,
    desktop,
    figures,
    health,
    intake,
    kb,
    openapi,
    orders,
    outbound,
    outbox,
    presence,
    public,
    routing,
    session,
    sms,
    units,
    wallboard,
)
from hotline.api.keys import METRICS, POOL, REDIS, SECRETS, SERVICES, SETTINGS
from hotline.api.metrics import Metrics
from hotline.api.middleware import authenticate, errors, metrics, text, token_cache
from hotline.api.operator_metrics import AmiMetricsSync
from hotline.api.workers import add_worker
from hotline.calendar import BusinessCalendar, parse_hours
from hotline.calendar_years import CalendarWatch
from hotline.config import Settings, instance_name, queue_wrapup
from hotline.deadlines.clock import DeadlineClock
from hotline.deadlines.service import Deadlines
from hotline.figures.rollups import RollupWatch
from hotline.hotspots.watch import HotspotRules, HotspotWatch
from hotline.open311 import http as open311
from hotline.orders.actions import Services
from hotline.secretbox import SecretBox
from hotline.sms.choose import sender_for
from hotline.sms.relay import SmsRelay
from hotline.web import console

log = logging.getLogger(__name__)


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.database_url, "the CLI resolves the database URL before building the app"
    pool = await db.create_pool(settings.database_url, min_size=settings.pool_min, max_size=settings.pool_max)
    async with pool.acquire() as conn:
        applied = await db.migrate(conn)
        await secretbox.check_startup(conn, app[SECRETS])
    if applied:
        log.info("migrations applied at start", extra={"migrations": applied})
    app[POOL] = pool
    yield
    await pool.close()


async def _router(app: web.Application) -> AsyncIterator[None]:
    """One routing engine per process; it reloads itself when the dispatch data changes."""
    async with app[POOL].acquire() as conn:
        app[SERVICES].router = await Router.load(conn)
    yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.redis_url
    client = bus.connect(settings.redis_url, instance_name(settings))
    app[REDIS] = client
    app[SERVICES].redis = client
    yield
    await bus.drain()  # live events of the last requests go out before the client closes
    await client.aclose()


# The adapter this process runs (role ami), for the metrics sync beside it.
AMI_RUNNING = web.AppKey("ami_running", dict)


def _ami_adapter(app: web.Application) -> AmiAdapter | None:
    nodes = parse_nodes(app[SETTINGS].ami_nodes)
    ttl = app[SETTINGS].command_ttl_seconds
    wrapup = queue_wrapup(app[SETTINGS])
    clock = app[SERVICES].clock
    adapter = AmiAdapter(nodes, app[POOL], app[REDIS], command_ttl=ttl, wrapup=wrapup, clock=clock) if nodes else None
    app[AMI_RUNNING]["adapter"] = adapter
    return adapter


def _ami_metrics(app: web.Application) -> AmiMetricsSync | None:
    adapter = app[AMI_RUNNING].get("adapter")
    return AmiMetricsSync(adapter, app[METRICS].operator) if adapter is not None else None


def _member_history_prune(app: web.Application) -> MemberHistoryPrune | None:
    days = app[SETTINGS].member_history_days
    return MemberHistoryPrune(app[POOL], days, clock=app[SERVICES].clock) if days else None


def _cel_worker(app: web.Application) -> CelWorker:
    settings = app[SETTINGS]
    node = resolve_node(settings.cel_node, settings.ami_nodes)
    return CelWorker(app[POOL], node, cel_url=settings.cel_database_url, interval=settings.cel_interval)


def _deadline_clock(app: web.Application) -> DeadlineClock:
    return DeadlineClock(app[POOL], app[REDIS], interval=app[SETTINGS].clock_interval)


def _outbox_relay(app: web.Application) -> OutboxRelay:
    return OutboxRelay(app[POOL], RelayConfig(), box=app[SECRETS])


def _hotspot_watch(app: web.Application) -> HotspotWatch:
    s = app[SETTINGS]
    rules = HotspotRules(
        window=timedelta(minutes=s.hotspot_window_minutes), floor=s.hotspot_floor,
        multiple=s.hotspot_multiple, weeks=s.hotspot_weeks, signature_keep=timedelta(days=s.repeat_content_days + 1),
    )  # fmt: skip
    return HotspotWatch(app[POOL], app[REDIS], rules=rules, interval=s.hotspot_interval)


def _sms_relay(app: web.Application) -> SmsRelay | None:
    settings = app[SETTINGS]
    sender = sender_for(settings, app[POOL], app[SERVICES])
    if sender is None:
        return None
    return SmsRelay(app[POOL], sender, ZoneInfo(settings.timezone), interval=settings.sms_interval)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[metrics, errors, text, authenticate, access.record_access], client_max_size=2 * 1024 * 1024
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[SECRETS] = SecretBox(settings.secret_key.get_secret_value() if settings.secret_key else None)
    calendar = BusinessCalendar(parse_hours(settings.work_hours), ZoneInfo(settings.timezone))
    app[SERVICES] = Services(deadlines=Deadlines(calendar))
    app.cleanup_ctx.append(_postgres)
    app.cleanup_ctx.append(token_cache)
    app.cleanup_ctx.append(_router)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(calls.recordings_client)
    app[AMI_RUNNING] = {}
    add_worker(app, "ami", _ami_adapter)
    add_worker(app, "ami", _ami_metrics)
    add_worker(app, "ami", _member_history_prune)
    add_worker(app, "cel", _cel_worker)
    add_worker(app, "clock", _deadline_clock)
    add_worker(app, "clock", lambda app: CalendarWatch(app[POOL], app[SERVICES].deadlines))
    add_worker(app, "clock", lambda app: RollupWatch(app[POOL], clock=app[SERVICES].clock))
    add_worker(app, "outbox", _outbox_relay)
    add_worker(app, "assist", _hotspot_watch)
    add_worker(app, "sms", _sms_relay)
    app.add_routes(health.routes)
    app.add_routes(session.routes)
    app.add_routes(orders.routes)
    app.add_routes(routing.routes)
    app.add_routes(city.routes)
    app.add_routes(calls.routes)
    app.add_routes(units.routes)
    app.add_routes(agency_auth.routes)
    app.add_routes(outbox.routes)
    openapi.setup(app)
    app.add_routes(deadlines.routes)
    app.add_routes(figures.routes)
    app.add_routes(kb.routes)
    app.add_routes(assist.routes)
    app.add_routes(access.routes)
    app.add_routes(intake.routes)
    app.add_routes(sms.routes)
    app.add_routes(public.routes)
    app.add_routes(channel_figures.routes)
    app.add_routes(agent_figures.routes)
    app.add_routes(outbound.routes)
    app.add_routes(presence.routes)
    app.add_routes(wallboard.routes)
    app.add_subapp("/open311/v2", open311.create())
    desktop.setup(app)
    console.setup(app)
    return app
