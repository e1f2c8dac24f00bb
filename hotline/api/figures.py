"""Supervisor figures and call-centre KPIs (placeholder: filled in by the figures work)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
