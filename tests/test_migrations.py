import asyncio

import asyncpg

from hotline import db


async def test_migrations_run_twice_apply_nothing_the_second_time(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # the template already holds every migration: running again applies none
        assert await db.migrate(conn) == []
        assert await db.migrate(conn) == []
        count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(db.discover())
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(database_url: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("CREATE DATABASE hotline_race_target")
    finally:
        await admin.close()
    target = db.with_database(database_url, "hotline_race_target")
    conns = [await asyncpg.connect(target) for _ in range(2)]
    try:
        results = await asyncio.gather(*(db.migrate(c) for c in conns))
        applied = sorted(results[0] + results[1])
        assert applied == sorted(m.path.name for m in db.discover())
        rows = await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in db.discover()]
    finally:
        for c in conns:
            await c.close()
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute("DROP DATABASE hotline_race_target WITH (FORCE)")
        finally:
            await admin.close()


async def test_audit_events_refuse_update_and_delete(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO work_orders (number, kind, content, status) VALUES ('20261122-000001', 'consult', 'x', 'received')"
        )
        await conn.execute("INSERT INTO audit_events (order_id, action) VALUES (1, 'create')")
        for stmt in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            try:
                await conn.execute(stmt)
            except asyncpg.InsufficientPrivilegeError:
                pass
            else:
                raise AssertionError(f"{stmt} was allowed")
