"""Deadline policies (admin) and the supervisor's overdue / due-soon views."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
