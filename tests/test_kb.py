"""Knowledge base: Chinese search ranking, synonyms, validity, the review flow, citations,
figures, import and export. Every time is pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from hotline import chinese
from hotline.errors import Conflict, DuplicateKey, Forbidden, InvalidInput, NotFound
from hotline.kb import search, store, transfer, usage
from hotline.kb.models import ArticleText, NewArticle, Review
from hotline.orders import actions
from hotline.orders.states import Action
from tests.assist_helpers import published
from tests.orders_helpers import new_order, unit_id, who

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)

LIBRARY = [
    ("社会保障卡挂失补办", "社会保障卡遗失后，先拨打12333或到社保经办网点办理挂失，再携带居民身份证到网点补办新卡。"),
    ("居民身份证丢失补办", "身份证丢了，请到户籍所在地派出所或异地受理点申请补领，需本人到场采集照片。"),
    ("社会保险缴费基数查询", "职工可通过江苏智慧人社APP查询本人社会保险缴费基数和缴费记录。"),
    ("医疗保险异地就医备案", "参保人员异地就医前应办理备案，可在国家医保服务平台APP上申请。"),
    ("住房公积金提取条件", "购房、租房、退休等情形可以申请提取住房公积金。"),
    ("驾驶证遗失补证", "机动车驾驶证遗失的，可到车管所或交管12123申请补领。"),
    ("停水通知查询", "计划停水信息在自来水公司官网公布，突发停水请拨打供水热线。"),
]


async def _library(pool: asyncpg.Pool) -> dict[str, int]:
    return {title: await published(pool, title, body, NOW - timedelta(days=30)) for title, body in LIBRARY}


def test_bigrams_cut_at_fillers_and_keep_latin_words() -> None:
    assert chinese.tokens("社保卡丢了怎么补办") == ["社保", "保卡", "卡丢", "补办"]
    assert chinese.tokens("ＡＰＰ下载12333") == ["app", "下载", "12333"]
    assert chinese.tokens("？！") == []


async def test_everyday_words_find_the_official_title_first(seeded_pool: asyncpg.Pool) -> None:
    ids = await _library(seeded_pool)
    async with seeded_pool.acquire() as conn:
        found = await search.search(conn, "社保卡丢了怎么补办", NOW)
    titles = [item["title"] for item in found["items"]]
    assert titles[0] == "社会保障卡挂失补办"
    assert found["items"][0]["id"] == ids["社会保障卡挂失补办"]
    # A lost ID card shares 丢失/补办 but not the card: it ranks below, not above.
    assert titles.index("居民身份证丢失补办") > 0
    assert found["items"][0]["rank"] > found["items"][1]["rank"]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("驾照丢了", "驾驶证遗失补证"),
        ("公积金怎么提取", "住房公积金提取条件"),
        ("异地看病医保要备案吗", "医疗保险异地就医备案"),
        ("家里停水了", "停水通知查询"),
    ],
)
async def test_other_queries_rank_their_article_first(seeded_pool: asyncpg.Pool, query: str, first: str) -> None:
    await _library(seeded_pool)
    async with seeded_pool.acquire() as conn:
        found = await search.search(conn, query, NOW)
    assert found["items"][0]["title"] == first


async def test_search_by_category_and_no_match(seeded_pool: asyncpg.Pool) -> None:
    await published(seeded_pool, "社保卡补办流程", "到网点补办", NOW, category_code="0602")
    await published(seeded_pool, "社保卡丢失后停水怎么办", "无关", NOW, category_code="0201")
    async with seeded_pool.acquire() as conn:
        only = await search.search(conn, "社保卡", NOW, category="06")
        nothing = await search.search(conn, "量子计算", NOW)
        fillers = await search.search(conn, "怎么办呢？", NOW)
    assert [i["title"] for i in only["items"]] == ["社保卡补办流程"]
    assert nothing["items"] == [] and fillers == {"items": [], "tokens": []}


async def test_expired_and_future_articles_leave_and_join_search_by_themselves(seeded_pool: asyncpg.Pool) -> None:
    until = NOW + timedelta(days=1)
    await published(seeded_pool, "2026年春季消费券申领", "消费券申领办法", NOW, valid_until=until)
    await published(seeded_pool, "2026年夏季消费券申领", "消费券申领办法", NOW, valid_from=NOW + timedelta(days=90))
    async with seeded_pool.acquire() as conn:
        before = await search.search(conn, "消费券", NOW)
        at_end = await search.search(conn, "消费券", until)
        summer = await search.search(conn, "消费券", NOW + timedelta(days=91))
    assert [i["title"] for i in before["items"]] == ["2026年春季消费券申领"]
    assert at_end["items"] == []
    assert [i["title"] for i in summer["items"]] == ["2026年夏季消费券申领"]


async def test_review_flow_unit_drafts_centre_publishes(seeded_pool: asyncpg.Pool) -> None:
    handler, boss, agent = [await who(seeded_pool, u) for u in ("cgj", "supervisor", "agent1001")]
    other_unit = await unit_id(seeded_pool, "street.320302001")
    text = {"title": "占道经营投诉处理", "body": "城管部门接到投诉后两小时内到场。"}
    async with seeded_pool.acquire() as conn:
        with pytest.raises(Forbidden):
            await store.create_article(conn, handler, NewArticle(**text, unit_id=other_unit), NOW)
        article = await store.create_article(conn, handler, NewArticle(**text), NOW)
        aid = article["id"]
        assert article["versions"][0]["status"] == "draft" and article["published_version"] is None
        assert (await search.search(conn, "占道经营", NOW))["items"] == []  # a draft is not searchable
        with pytest.raises(Forbidden):
            await store.publish(conn, handler, aid, Review(version=1), NOW)
        with pytest.raises(Forbidden):
            await store.publish(conn, agent, aid, Review(version=1), NOW)
        await store.publish(conn, boss, aid, Review(version=1), NOW)
        with pytest.raises(Conflict):
            await store.publish(conn, boss, aid, Review(version=1), NOW)  # not a draft any more
        # The unit updates its answer: version 2 is a draft; search still shows version 1.
        v2 = ArticleText(title="占道经营投诉处理时限", body="城管部门接到投诉后一小时内到场。")
        await store.draft_version(conn, handler, aid, v2, NOW + timedelta(hours=1))
        assert (await search.search(conn, "占道经营", NOW))["items"][0]["title"] == "占道经营投诉处理"
        with pytest.raises(InvalidInput):
            await store.reject(conn, boss, aid, Review(version=2), NOW)  # a rejection says why
        await store.publish(conn, boss, aid, Review(version=2, note="时限已核实"), NOW + timedelta(hours=2))
        found = await search.search(conn, "占道经营", NOW + timedelta(hours=2))
        assert [(i["title"], i["version"]) for i in found["items"]] == [("占道经营投诉处理时限", 2)]
        v3 = await store.draft_version(conn, handler, aid, ArticleText(title="占道经营", body="错字"), NOW)
        rejected = await store.reject(conn, boss, aid, Review(version=3, note="内容不完整"), NOW)
        street = await who(seeded_pool, "huanglou")
        with pytest.raises(NotFound):  # another unit cannot touch it
            await store.draft_version(conn, street, aid, v2, NOW)
        seen_by_street = await store.get_article(conn, street, aid)
    assert v3["versions"][0]["status"] == "draft"
    assert [(v["version"], v["status"]) for v in rejected["versions"]] == [
        (3, "rejected"), (2, "published"), (1, "superseded"),
    ]  # fmt: skip
    assert rejected["versions"][1]["review_note"] == "时限已核实"
    assert [v["version"] for v in seen_by_street["versions"]] == [2]  # others see only what is published


async def test_bad_articles_are_refused(seeded_pool: asyncpg.Pool) -> None:
    agent = await who(seeded_pool, "agent1001")
    cgj = await unit_id(seeded_pool, "city.cgj")
    async with seeded_pool.acquire() as conn:
        with pytest.raises(InvalidInput):
            await store.create_article(conn, agent, NewArticle(title="无主文章", body="x"), NOW)  # no unit named
        with pytest.raises(InvalidInput):
            await store.create_article(conn, agent, NewArticle(title="标题", body="x", unit_id=999999), NOW)
        with pytest.raises(InvalidInput):
            bad = NewArticle(title="标题", body="x", unit_id=cgj, category_code="9999")
            await store.create_article(conn, agent, bad, NOW)
        with pytest.raises(InvalidInput):  # ends before it starts (valid_from defaults to now)
            await store.create_article(
                conn, agent, NewArticle(title="标题", body="x", unit_id=cgj, valid_until=NOW - timedelta(days=1)), NOW
            )
        await store.create_article(conn, agent, NewArticle(title="标题", body="x", unit_id=cgj, code="a1"), NOW)
        with pytest.raises(DuplicateKey):
            await store.create_article(conn, agent, NewArticle(title="标题", body="x", unit_id=cgj, code="a1"), NOW)
        with pytest.raises(NotFound):
            await store.get_article(conn, agent, 424242)


async def test_resolving_directly_cites_articles_and_figures_count_them(seeded_pool: asyncpg.Pool) -> None:
    ids = await _library(seeded_pool)
    card, tax = ids["社会保障卡挂失补办"], ids["社会保险缴费基数查询"]
    services = actions.Services(clock=lambda: NOW)
    agent = await who(seeded_pool, "agent1001")
    answered, dispatched = await new_order(seeded_pool), await new_order(seeded_pool)
    async with seeded_pool.acquire() as conn:
        await usage.record_view(conn, card, answered["id"], NOW)
        await usage.record_view(conn, card, dispatched["id"], NOW)
        await usage.record_view(conn, card, dispatched["id"], NOW)  # twice on one order counts once
        with pytest.raises(NotFound):
            await usage.record_view(conn, card, 987654, NOW)
    body = actions.parse_payload(Action.RESOLVE_DIRECTLY, {"note": "已告知补办流程", "article_ids": [card, 55555]})
    with pytest.raises(InvalidInput):  # an unknown article: nothing is written
        await actions.act(seeded_pool, services, agent, answered["id"], Action.RESOLVE_DIRECTLY, body)
    body = actions.parse_payload(Action.RESOLVE_DIRECTLY, {"note": "已告知补办流程", "article_ids": [card]})
    order = await actions.act(seeded_pool, services, agent, answered["id"], Action.RESOLVE_DIRECTLY, body)
    assert order["status"] == "resolved_directly"
    audit = await seeded_pool.fetchval(
        "SELECT payload FROM audit_events WHERE order_id = $1 AND action = 'resolve_directly'", answered["id"]
    )
    assert audit["articles"][0]["article_id"] == card and audit["articles"][0]["title"] == "社会保障卡挂失补办"
    async with seeded_pool.acquire() as conn:
        figs = await usage.figures(conn, NOW - timedelta(days=1), NOW + timedelta(days=1), NOW)
        later = await usage.figures(conn, NOW + timedelta(days=1), NOW + timedelta(days=2), NOW)
    row = next(a for a in figs["articles"] if a["id"] == card)
    assert (row["orders"], row["direct_answers"], row["direct_answer_rate"]) == (2, 1, 0.5)
    unused = {a["id"] for a in figs["unused"]}
    assert tax in unused and card not in unused and len(unused) == len(LIBRARY) - 1
    assert later["articles"] == [] and card in {a["id"] for a in later["unused"]}


async def test_expired_article_cannot_be_cited(seeded_pool: asyncpg.Pool) -> None:
    old = await published(seeded_pool, "旧政策", "已废止", NOW - timedelta(days=10), valid_until=NOW)
    order = await new_order(seeded_pool)
    async with seeded_pool.acquire() as conn, conn.transaction():
        with pytest.raises(InvalidInput):
            await usage.cite(conn, order["id"], [old], NOW)
        assert await usage.cite(conn, order["id"], [old], NOW - timedelta(days=1))


async def test_export_then_import_round_trips(seeded_pool: asyncpg.Pool) -> None:
    await _library(seeded_pool)
    admin = await who(seeded_pool, "admin")
    async with seeded_pool.acquire() as conn:
        dumped = await transfer.export(conn)
        assert len(dumped["articles"]) == len(LIBRARY) and dumped["synonyms"]
        data = transfer.ImportFile.model_validate(dumped)
        with pytest.raises(Forbidden):
            await transfer.import_(conn, await who(seeded_pool, "supervisor"), data, NOW)
        again = await transfer.import_(conn, admin, data, NOW)  # same codes: new published versions
        assert again == {"created": 0, "updated": len(LIBRARY), "synonyms": len(dumped["synonyms"])}
        found = await search.search(conn, "社保卡丢了怎么补办", NOW)
        assert found["items"][0]["title"] == "社会保障卡挂失补办" and found["items"][0]["version"] == 2
        bad = transfer.ImportFile.model_validate(
            {"articles": [{**dumped["articles"][0], "code": "new-1", "unit_code": "no.such.unit"}]}
        )
        with pytest.raises(InvalidInput):
            await transfer.import_(conn, admin, bad, NOW)
        fresh = transfer.ImportFile.model_validate(
            {"articles": [{**dumped["articles"][0], "code": "new-1"}, {**dumped["articles"][1], "code": "new-2"}],
             "synonyms": [{"term": "社保卡", "expansions": ["社会保障卡"]}]}
        )  # fmt: skip
        assert await transfer.import_(conn, admin, fresh, NOW) == {"created": 2, "updated": 0, "synonyms": 1}


async def test_search_filters_on_the_rarest_bigrams_and_publishing_counts_them(seeded_pool: asyncpg.Pool) -> None:
    from hotline.kb import index

    await published(seeded_pool, "社会保障卡挂失补办", "补办", NOW)
    await published(seeded_pool, "居民身份证补办", "补办", NOW)
    async with seeded_pool.acquire() as conn:
        df = dict(await conn.fetch("SELECT token, df FROM kb_terms WHERE token IN ('补办', '社会', '居民')"))
        assert df == {"补办": 2, "社会": 1, "居民": 1}
        await conn.execute("UPDATE kb_terms SET df = $1 WHERE token = '补办'", index.POSTINGS_BUDGET)
        # The rarest first; a bigram over the budget joins only to make up the minimum of two.
        assert await index.filter_tokens(conn, ["补办", "社会", "会保", "量子"]) == ["会保", "社会"]
        assert await index.filter_tokens(conn, ["补办", "社会"]) == ["社会", "补办"]
        assert await index.filter_tokens(conn, ["量子"]) == []
