"""Typed application keys: the shared resources of one app, no globals."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from hotline.api.metrics import Metrics
from hotline.config import Settings
from hotline.orders.actions import Services
from hotline.secretbox import SecretBox

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
SERVICES = web.AppKey("services", Services)
METRICS = web.AppKey("metrics", Metrics)
SECRETS = web.AppKey("secrets", SecretBox)
