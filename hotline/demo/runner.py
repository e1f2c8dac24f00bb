"""The demo, step by step: a day at the centre compressed into a minute.

1. a fresh ``hotline_demo`` database, migrated and seeded with 徐州;
2. the server with every role on a free port; an AMI replay server plays a recorded
   Asterisk trace into it (real TCP, the real adapter);
3. the agents who answered calls open orders on them; the engine routes each; consults are
   answered directly, the rest dispatched;
4. agency systems answer through the signed callback API (city agencies and street offices
   with HMAC keys; district hubs' people with their tokens, re-dispatching down to streets);
   one unit returns a misrouted order; some answer late (the demo moves their deadlines into
   the past, the clock does the rest);
5. the centre reviews the replies and calls citizens back; one is unhappy (重办) and one never
   answers three calls;
6. a supervisor summary.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from adapters.ami.replay import ReplayServer
from adapters.ami.trace import load_trace
from adapters.webhook.receiver import Receiver, serve
from hotline import db
from hotline.agency.keystore import create_key
from hotline.api.app import create_app
from hotline.auth import create_user
from hotline.config import Settings
from hotline.deadlines.clock import DeadlineClock
from hotline.demo.agency import AgencySystem
from hotline.demo.scenario import REQUESTS
from hotline.figures import TZ, Period, between, call_kpis, figures, today
from hotline.orders import store
from hotline.orders.assignment_states import AssignmentStatus
from hotline.seed import DEMO_PASSWORD, seed_demo

log = logging.getLogger(__name__)
AMI_USER, AMI_SECRET = "hotline", "demo-ami-secret"
DEMO_DB = "hotline_demo"


@dataclass
class DemoResult:
    calls: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    pushes_delivered: int = 0
    summary: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    def __init__(
        self,
        settings: Settings,
        trace: Path,
        divisions: Path,
        say: Callable[[str], None],
        database: str = DEMO_DB,
    ) -> None:
        self.settings, self.trace, self.divisions, self.say = settings, trace, divisions, say
        self.database = database
        self.result = DemoResult()
        self.tokens: dict[str, str] = {}

    async def run(self) -> DemoResult:
        assert self.settings.database_url and self.settings.redis_url
        url = await db.create_database(self.settings.database_url, self.database, replace=True)
        self.pool = await db.create_pool(url, min_size=1, max_size=5)
        try:
            async with self.pool.acquire() as conn:
                await db.migrate(conn)
                seeded = await seed_demo(conn, self.divisions)
            self.say(
                f"seeded 徐州市: {seeded.divisions} divisions, {seeded.units} units, {seeded.rules} dispatch rules"
            )
            await self._with_servers(url)
        finally:
            await self.pool.close()
        return self.result

    async def _with_servers(self, url: str) -> None:
        replay = ReplayServer(load_trace(self.trace), username=AMI_USER, secret=AMI_SECRET, gate_actions=())
        await replay.start()
        nodes = f"ami://{AMI_USER}:{AMI_SECRET}@127.0.0.1:{replay.port}/pbx1"
        receiver = Receiver(keys={})
        settings = self.settings.model_copy(update={"database_url": url, "ami_nodes": nodes})
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        self.base = f"http://127.0.0.1:{port}"
        self.say(f"server on {self.base}; replaying {self.trace.name} over AMI")
        try:
            async with serve(receiver) as hook_base, aiohttp.ClientSession() as session:
                self.session, self.receiver, self.hook_base = session, receiver, hook_base
                await asyncio.wait_for(replay.done.wait(), 60)
                await self._calls_settled()
                await self._scenario()
        finally:
            await runner.cleanup()
            await replay.close()

    # ------------------------------------------------------------ steps

    async def _calls_settled(self) -> None:
        """The adapter writes asynchronously: wait until the call count stops moving."""
        last = -1
        for _ in range(100):
            count = await self.pool.fetchval("SELECT count(*) FROM calls WHERE state = 'ended'")
            if count == last:
                break
            last = count
            await asyncio.sleep(0.3)
        rows = await self.pool.fetch("SELECT coalesce(outcome, 'unknown') AS o, count(*) AS n FROM calls GROUP BY 1")
        self.result.calls = {r["o"]: r["n"] for r in rows}
        self.say("calls recorded: " + ", ".join(f"{k} {v}" for k, v in sorted(self.result.calls.items())))

    async def _scenario(self) -> None:
        await self._agency_systems()
        orders = await self._take_orders()
        await self._dispatch(orders)
        await self._hubs_send_down()
        late = await self._make_some_late(orders)
        await self._clock_tick()
        await self._agencies_answer(orders)
        await self._hubs_review()
        await self._centre_reviews()
        await self._visits()
        await self._hubs_send_down()  # the reopened one comes back to its unit
        await self._agencies_answer(orders)
        await self._hubs_review()
        await self._centre_reviews()
        await self._visits()
        await self._close_visited()
        await self._wait_for_pushes()
        self.say(f"{len(late)} assignments were answered late on purpose")
        self.result.summary = await summary(self.pool)

    async def _agency_systems(self) -> None:
        """Every agency and street office gets a key and a webhook (the demo receiver)."""
        units = await self.pool.fetch("SELECT id, code FROM units WHERE kind IN ('agency', 'office') ORDER BY id")
        await self.pool.execute(
            "UPDATE units SET webhook_url = $1 WHERE kind IN ('agency', 'office')", self.hook_base + "/hook"
        )
        self.systems = {u["id"]: await self.agency(u["id"]) for u in units}
        self.hubs = {
            u["id"]: await self.hub_person(u["id"])
            for u in await self.pool.fetch("SELECT id FROM units WHERE kind = 'hub'")
        }

    async def _take_orders(self) -> list[dict[str, Any]]:
        """Each answered call becomes an order by the agent who took it; web requests fill the rest."""
        answered = await self.pool.fetch(
            """SELECT c.id, u.username FROM calls c JOIN users u ON u.id = c.agent_user_id
               WHERE c.outcome = 'answered' ORDER BY c.entered_at"""
        )
        orders = []
        for i, request in enumerate(REQUESTS):
            body = {"kind": request.kind, "category_code": request.category_code, "content": request.content,
                    "address": request.address, "urgency": request.urgency}  # fmt: skip
            if i < len(answered):
                call = answered[i]
                orders.append(await self.api(call["username"], "POST", f"/api/calls/{call['id']}/order", body))
            else:
                body |= {"channel": "web", "caller_number": f"1380000{i:04d}"}
                orders.append(await self.api("agent1001", "POST", "/api/orders", body))
        self.say(f"orders taken: {len(orders)} ({min(len(answered), len(orders))} on answered calls)")
        return orders

    async def _dispatch(self, orders: list[dict[str, Any]]) -> None:
        direct = dispatched = 0
        for order in orders:
            if order["kind"] in ("consult", "praise"):
                await self.api("agent1001", "POST", f"/api/orders/{order['id']}/actions/resolve_directly",
                               {"note": "依据知识库直接答复"})  # fmt: skip
                await self.api("agent1001", "POST", f"/api/orders/{order['id']}/actions/close", {})
                direct += 1
                continue
            suggestion = await self.api("agent1001", "GET", f"/api/orders/{order['id']}/route")
            await self.api("agent1001", "POST", f"/api/orders/{order['id']}/actions/dispatch",
                           {"unit_id": suggestion["dispatch_to_unit_id"]})  # fmt: skip
            dispatched += 1
        self.say(f"answered directly: {direct}; dispatched on the engine's suggestion: {dispatched}")

    async def _hubs_send_down(self) -> None:
        sent = 0
        for hub_id, person in self.hubs.items():
            rows = await self.pool.fetch(
                "SELECT order_id FROM assignments WHERE unit_id = $1 AND status = $2",
                hub_id,
                AssignmentStatus.DISPATCHED.value,
            )
            for r in rows:
                await self.api(person, "POST", f"/api/orders/{r['order_id']}/actions/sign", {})
                where = await self.api(person, "GET", f"/api/orders/{r['order_id']}/route")
                if where["dispatch_to_unit_id"]:
                    await self.api(person, "POST", f"/api/orders/{r['order_id']}/actions/redispatch",
                                   {"unit_id": where["dispatch_to_unit_id"], "note": "转街道办理"})  # fmt: skip
                    sent += 1
        self.say(f"district hubs re-dispatched {_n(sent, 'order')} down to street offices")

    async def _make_some_late(self, orders: list[dict[str, Any]]) -> list[int]:
        """Compress time, as if days went by: two assignments are past their reply-by, a third
        is past 80 % of its time (a warning) with two hours to go."""
        rows = await self.pool.fetch(
            "SELECT id FROM assignments WHERE status = $1 AND role = 'lead' ORDER BY id LIMIT 3",
            AssignmentStatus.DISPATCHED.value,
        )
        ids = [r["id"] for r in rows]
        # The process's clock, which the deadline clock also reads (not the database server's now()).
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            for aid in ids:
                await store.update(
                    conn, aid, dispatched_at=now - timedelta(days=20), sign_due_at=now - timedelta(days=19),
                    reply_due_at=now + (timedelta(hours=2) if aid == ids[-1] else timedelta(hours=-1)),
                )  # fmt: skip
        # The timers follow: warning at 80 % of the (compressed) time, overdue at the deadline.
        await self.pool.execute(
            """UPDATE deadline_timers t
               SET due_at = CASE t.clock WHEN 'sign' THEN a.sign_due_at ELSE a.reply_due_at END,
                   fire_at = a.dispatched_at + ((CASE t.clock WHEN 'sign' THEN a.sign_due_at ELSE a.reply_due_at END)
                                                - a.dispatched_at) * CASE t.kind WHEN 'overdue' THEN 1 ELSE 0.8 END
               FROM assignments a
               WHERE a.id = t.assignment_id AND a.id = ANY($1::bigint[]) AND t.fired_at IS NULL""",
            ids,
        )
        return ids

    async def _clock_tick(self) -> None:
        """One run of the deadline clock (the server's own clock would do the same a moment later)."""
        sent = await DeadlineClock(self.pool).tick()
        self.say(f"deadline clock: {sent} reminders sent (warnings and overdue)")

    async def _agencies_answer(self, orders: list[dict[str, Any]]) -> None:
        returned = getattr(self, "_returned", False)
        answered = 0
        for unit_id, system in self.systems.items():
            items = [a for a in await system.open_assignments() if a["unit_id"] == unit_id]
            items += [a for a in await self._signed(system, unit_id)]
            for a in items:
                if a["status"] == "dispatched":
                    await system.act(a["id"], "sign", {})
                if not returned and a["order"]["category_code"] == "0601":
                    # misrouted: the wage arrears are on a construction site the district supervises
                    await system.act(a["id"], "return", {"reason": "该工地由区住建部门监管，请改派"})
                    await self._redispatch_returned(a["order_id"])
                    returned = self._returned = True
                    continue
                await system.act(a["id"], "contact", {"note": "已电话联系诉求人"})
                await system.act(a["id"], "reply", {"text": "已现场核查并处理完毕", "result": "resolved"})
                answered += 1
        if answered:
            self.say(f"agency systems replied to {_n(answered, 'assignment')} through the signed callback")

    async def _signed(self, system: AgencySystem, unit_id: int) -> list[dict[str, Any]]:
        status, body = await system.call("GET", "/api/units/me/assignments?status=signed&limit=200")
        return [a for a in body["items"] if a["unit_id"] == unit_id] if status == 200 else []

    async def _redispatch_returned(self, order_id: int) -> None:
        target = await self.pool.fetchval("SELECT id FROM units WHERE code = 'district.320305.zjj'")
        await self.api("agent1001", "POST", f"/api/orders/{order_id}/actions/dispatch",
                       {"unit_id": target, "override_reason": "承办单位退单：工地由贾汪区住建局监管"})  # fmt: skip
        self.say("one unit returned a misrouted order; the centre re-dispatched it with a reason")

    async def _hubs_review(self) -> None:
        for hub_id, person in self.hubs.items():
            rows = await self.pool.fetch(
                """SELECT order_id FROM assignments
                   WHERE dispatcher_unit_id = $1 AND status = $2""",
                hub_id,
                AssignmentStatus.REPLIED.value,
            )
            for r in rows:
                await self.api(person, "POST", f"/api/orders/{r['order_id']}/actions/review", {"accept": True})

    async def _centre_reviews(self) -> None:
        for r in await self.pool.fetch("SELECT id FROM work_orders WHERE status = 'replied' ORDER BY id"):
            await self.api("supervisor", "POST", f"/api/orders/{r['id']}/actions/review", {"accept": True})

    async def _visits(self) -> None:
        waiting = await self.pool.fetch(
            "SELECT id, reopen_count FROM work_orders WHERE status = 'awaiting_visit' ORDER BY id"
        )
        for i, r in enumerate(waiting):
            path = f"/api/orders/{r['id']}/actions/visit"
            if i == 0 and r["reopen_count"] == 0:  # unhappy: 重办
                await self.api("agent1002", "POST", path,
                               {"reached": True, "satisfaction": "unsatisfied", "resolved": False})  # fmt: skip
            elif i == 1 and r["reopen_count"] == 0:  # never picks up
                for _ in range(3):
                    await self.api("agent1002", "POST", path, {"reached": False, "note": "无人接听"})
            else:
                verdict = "basically_satisfied" if i % 3 == 0 else "satisfied"
                await self.api("agent1002", "POST", path, {"reached": True, "satisfaction": verdict, "resolved": True})

    async def _close_visited(self) -> None:
        for r in await self.pool.fetch("SELECT id FROM work_orders WHERE status = 'visited'"):
            await self.api("agent1002", "POST", f"/api/orders/{r['id']}/actions/close", {})

    async def _wait_for_pushes(self) -> None:
        """The relay delivers on its own schedule; give it a moment to empty the outbox."""
        for _ in range(50):
            if not await self.pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'"):
                break
            await asyncio.sleep(0.2)
        self.result.pushes_delivered = len(self.receiver.stored)
        rows = await self.pool.fetch("SELECT status, count(*) AS n FROM work_orders GROUP BY 1 ORDER BY 1")
        self.result.orders = {r["status"]: r["n"] for r in rows}

    async def login(self, username: str) -> str:
        if username not in self.tokens:
            async with self.session.post(
                f"{self.base}/api/auth/login", json={"username": username, "password": DEMO_PASSWORD}
            ) as r:
                self.tokens[username] = (await r.json())["token"]
        return self.tokens[username]

    async def api(self, username: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {await self.login(username)}"}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as r:
            answer = await r.json(content_type=None)
            if r.status >= 400:
                raise RuntimeError(f"{username} {method} {path}: {r.status} {answer}")
            return answer

    async def agency(self, unit_id: int) -> AgencySystem:
        """A unit's system with a fresh HMAC key; its webhook goes to the demo receiver."""
        async with self.pool.acquire() as conn:
            code = await conn.fetchval("SELECT code FROM units WHERE id = $1", unit_id)
            issued = await create_key(conn, unit_id)
        self.receiver.keys[issued.key_id] = issued.secret
        return AgencySystem(self.session, self.base, code, issued.key_id, issued.secret)

    async def hub_person(self, unit_id: int) -> str:
        username = f"demo.hub.{unit_id}"
        async with self.pool.acquire() as conn:
            await create_user(conn, username, DEMO_PASSWORD, "handler", f"分中心承办人{unit_id}", unit_id)
        return username


async def summary(pool: asyncpg.Pool) -> list[str]:
    """The supervisor's view of the run, as plain text lines, from the figures module: calls
    over the trace's own days, orders and assignments over a period that spans every deadline
    the run's assignments got."""
    period = between(today() - timedelta(days=1), today() + timedelta(days=90))
    async with pool.acquire() as conn:
        _, calls = await call_kpis(conn, await _trace_days(conn), "queue")
        table = await figures(conn, period, "unit")
        o = await conn.fetchrow(
            """SELECT count(*) AS received,
                      count(*) FILTER (WHERE close_reason = 'resolved_directly') AS direct,
                      count(*) FILTER (WHERE status = 'closed') AS closed,
                      count(*) FILTER (WHERE close_reason = 'unreachable') AS unreachable,
                      sum(reopen_count) AS reopened
               FROM work_orders"""
        )
        flags = await conn.fetch(
            "SELECT action, count(*) AS n FROM audit_events WHERE action LIKE 'deadline_%' GROUP BY 1 ORDER BY 1"
        )
    c = calls.as_dict()
    lines = [
        f"calls: offered {c['offered']}, answered {c['answered']} ({_pct(c['answer_rate'])}), "
        f"abandoned {c['abandoned']}, service level 15 s {_pct(c['service_level_15s'])}, "
        f"20 s {_pct(c['service_level_20s'])}, avg speed of answer {_secs(c['asa_seconds'])}, "
        f"avg handle {_secs(c['aht_seconds'])}",
        f"orders: received {o['received']}, answered directly {o['direct']}, closed {o['closed']} "
        f"(unreachable {o['unreachable']}), reopened (重办) {o['reopened']}",
    ]
    t = table.total.as_dict()
    lines.append(
        f"assignments: dispatched {t['dispatched']}, signed on time {_pct(t['sign_on_time_rate'])}, "
        f"replied {_pct(t['reply_rate'])}, on time {_pct(t['reply_on_time_rate'])}, "
        f"returned {_pct(t['return_rate'])}, contacted within 24 h {_pct(t['response_rate'])}"
    )
    lines.append(
        f"visits: visited {_pct(t['visit_rate'])} of replies, satisfied {_pct(t['satisfaction_rate'])}, "
        f"resolved {_pct(t['resolution_rate'])}; answered directly {_pct(t['direct_rate'])} of orders"
    )
    if flags:
        lines.append("deadline clock: " + ", ".join(f"{r['action']} {r['n']}" for r in flags))
    lines.append("")
    lines.append(f"{_pad('unit', 30)}{'dispatched':>11}{'replied':>9}{'on time':>9}{'returned':>10}{'satisfied':>11}")
    busy = sorted((r for r in table.rows if r.counts["dispatched"]), key=lambda r: (-r.counts["dispatched"], r.name))
    for r in busy:
        n = r.counts
        lines.append(
            f"{_pad(r.name, 30)}{n['dispatched']:>11}{n['replied']:>9}{n['replied_on_time']:>9}{n['returned']:>10}"
            f"{_pct(r.rates['satisfaction_rate']):>11}"
        )
    return lines


async def _trace_days(conn: asyncpg.Connection) -> Period:
    """The days the replayed calls entered the queue: a recording keeps the times it was made
    at, so its calls are counted over their own days, whatever day the demo runs."""
    first, last = await conn.fetchrow("SELECT min(entered_at), max(entered_at) FROM calls")
    if first is None:
        return between(today(), today())
    return between(first.astimezone(TZ).date(), last.astimezone(TZ).date())


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{float(value):.1f} s"


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal where a Chinese character takes two columns."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 1)
