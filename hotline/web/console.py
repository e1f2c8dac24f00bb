"""Wiring: templates, static files, pages and the console's own read endpoint."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hotline.api.middleware import Handler
from hotline.web import catalog, pages

HERE = Path(__file__).resolve().parent


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not request.path.startswith("/api/"):
        # Our pages load only our own scripts and styles, and no other site may frame them.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    app.middlewares.append(security_headers)
    app.add_routes(pages.routes)
    app.add_routes(catalog.routes)
    app.router.add_static("/static/", HERE / "static", name="static", append_version=True)
