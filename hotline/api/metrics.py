"""Prometheus metrics, one registry per app (tests run many apps in one process).

Under ``hotline serve --workers N`` (PROMETHEUS_MULTIPROC_DIR set) every process writes its
values to the shared folder and ``render`` answers with the sum over all processes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from hotline.api.operator_metrics import OperatorMetrics


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "hotline_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "hotline_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.order_actions = Counter(
            "hotline_order_actions_total", "Work-order actions applied", ["action"], registry=self.registry
        )
        self.operator = OperatorMetrics(self.registry)

    def render(self) -> bytes:
        if folder := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=folder)
            return generate_latest(merged)
        return generate_latest(self.registry)
