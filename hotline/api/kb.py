"""The knowledge base over HTTP: parsing and permission checks; the work is in hotline.kb.

| method | path | who | what |
| --- | --- | --- | --- |
| POST | `/api/kb/articles` | unit handler (own unit) or centre staff | a new article, its first version a draft |
| GET | `/api/kb/articles?status=` | any | articles newest first; `status=draft` is the review queue |
| GET | `/api/kb/articles/{id}?order_id=` | any | an article and its versions; `order_id` records that it was opened on that order |
| PUT | `/api/kb/articles/{id}` | owning unit or centre staff | a new draft version |
| POST | `/api/kb/articles/{id}/publish` | supervisor, admin | publish draft `{version, note?}` |
| POST | `/api/kb/articles/{id}/reject` | supervisor, admin | reject draft `{version, note}` |
| GET | `/api/kb/search?q=&category=&limit=` | any | ranked `items` (`id`, `title`, `rank` …) valid now |
| GET | `/api/kb/suggest?q=&category=` | any | the best five for the order text typed so far |
| GET | `/api/kb/figures?from=&to=` | supervisor, admin | per-article direct-answer rate; unused articles |
| GET | `/api/kb/export` | admin | every published article and the synonyms as JSON |
| POST | `/api/kb/import` | admin | load such a file (one transaction, published) |
"""

from __future__ import annotations

from aiohttp import web

from hotline.api.body import parse, parse_query, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SERVICES
from hotline.api.middleware import ADMINS, SUPERVISORS, principal, require_role
from hotline.kb import models as kbm
from hotline.kb import search, store, transfer, usage
from hotline.kb.models import ArticleFilter, ArticleText, FiguresQuery, NewArticle, Review, SearchQuery, ViewQuery

routes = web.RouteTableDef()


def _now(request: web.Request):
    return request.app[SERVICES].clock()


@routes.post("/api/kb/articles")
@operation("Knowledge base: create", "knowledge base", body=NewArticle, status=201, response=kbm.Article)
async def create(request: web.Request) -> web.Response:
    data = await parse(request, NewArticle)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await store.create_article(conn, principal(request), data, _now(request)), status=201)


@routes.get("/api/kb/articles")
@operation("Knowledge base: list", "knowledge base", query=ArticleFilter, response=kbm.ArticleList)
async def list_(request: web.Request) -> web.Response:
    f = parse_query(request, ArticleFilter)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await store.list_articles(conn, principal(request), f))


@routes.get("/api/kb/articles/{article_id}")
@operation("Knowledge base: get", "knowledge base", query=ViewQuery, response=kbm.Article)
async def get(request: web.Request) -> web.Response:
    article_id, q = path_id(request, "article_id"), parse_query(request, ViewQuery)
    async with request.app[POOL].acquire() as conn:
        article = await store.get_article(conn, principal(request), article_id)
        if q.order_id is not None and principal(request).is_centre:
            await usage.record_view(conn, article_id, q.order_id, _now(request))
    return respond(request, article)


@routes.put("/api/kb/articles/{article_id}")
@operation("Knowledge base: update", "knowledge base", body=ArticleText, response=kbm.Article)
async def update(request: web.Request) -> web.Response:
    article_id, data = path_id(request, "article_id"), await parse(request, ArticleText)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await store.draft_version(conn, principal(request), article_id, data, _now(request)))


@routes.post("/api/kb/articles/{article_id}/publish")
@operation("Knowledge base: publish", "knowledge base", body=Review, response=kbm.Article)
async def publish(request: web.Request) -> web.Response:
    article_id, review = path_id(request, "article_id"), await parse(request, Review)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await store.publish(conn, principal(request), article_id, review, _now(request)))


@routes.post("/api/kb/articles/{article_id}/reject")
@operation("Knowledge base: reject", "knowledge base", body=Review, response=kbm.Article)
async def reject(request: web.Request) -> web.Response:
    article_id, review = path_id(request, "article_id"), await parse(request, Review)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await store.reject(conn, principal(request), article_id, review, _now(request)))


@routes.get("/api/kb/search")
@operation("Knowledge base: search", "knowledge base", query=SearchQuery, response=kbm.SearchResult)
async def search_(request: web.Request) -> web.Response:
    q = parse_query(request, SearchQuery)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await search.search(conn, q.q, _now(request), category=q.category, limit=q.limit))


@routes.get("/api/kb/suggest")
@operation("Knowledge base: suggest", "knowledge base", query=SearchQuery, response=kbm.Suggestions)
async def suggest(request: web.Request) -> web.Response:
    q = parse_query(request, SearchQuery)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await search.suggest(conn, q.q, _now(request), q.category))


@routes.get("/api/kb/figures")
@operation("Knowledge base: figures", "knowledge base", query=FiguresQuery, response=kbm.Figures)
async def figures(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "knowledge-base figures are for supervisors")
    q = parse_query(request, FiguresQuery)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await usage.figures(conn, q.start, q.end, _now(request)))


@routes.get("/api/kb/export")
@operation("Knowledge base: export", "knowledge base", response=kbm.Export)
async def export(request: web.Request) -> web.Response:
    require_role(request, ADMINS, "only an admin exports the knowledge base")
    async with request.app[POOL].acquire() as conn:
        return respond(request, await transfer.export(conn))


@routes.post("/api/kb/import")
@operation("Knowledge base: import", "knowledge base", body=transfer.ImportFile, response=kbm.Imported)
async def import_(request: web.Request) -> web.Response:
    data = await parse(request, transfer.ImportFile)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await transfer.import_(conn, principal(request), data, _now(request)))
