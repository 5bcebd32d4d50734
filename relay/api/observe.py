"""Request ids, request metrics and GET /metrics (Prometheus).

Under gunicorn each worker is a process of its own: `relay serve` (and config/gunicorn.conf.py)
set PROMETHEUS_MULTIPROC_DIR before the workers start, every worker writes its counters
there, and a scrape adds them up over all workers, living and dead. Without that variable
(waitress, the tests) the counters live in this process.

The domain's gauges are read at scrape time with one query, kept METRICS_CACHE_SECONDS per
process.
"""

import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from relay import logs
from relay.db import WRITE_LOCK_OBSERVERS, reads_only
from relay.errors import N_, Forbidden, Unauthorized
from relay.maintenance import gauges
from relay.timeutil import utcnow

REQUESTS = Counter(
    "relay_http_requests_total",
    "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "relay_http_request_duration_seconds",
    "Time from the request reaching the app to its answer, by endpoint and method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WRITE_LOCK = Histogram(
    "relay_sqlite_write_lock_seconds",
    "SQLite: how long a write transaction held the database's one write lock, from BEGIN "
    "IMMEDIATE to the end of its COMMIT or ROLLBACK, by endpoint (background: the worker).",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
REQUEST_ID_HEADER = "X-Request-ID"


def init_app(app: Flask) -> None:
    """Give every request an id and a measurement; serve GET /metrics."""
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)
    app.extensions["relay_gauges"] = DomainCollector(float(app.config["METRICS_CACHE_SECONDS"]))
    app.add_url_rule("/metrics", "metrics", metrics)
    if _observe_write_lock not in WRITE_LOCK_OBSERVERS:
        WRITE_LOCK_OBSERVERS.append(_observe_write_lock)


def _observe_write_lock(held: float) -> None:
    endpoint = (request.endpoint or "unmatched") if has_request_context() else "background"
    WRITE_LOCK.labels(endpoint).observe(held)


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id = logs.accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    logs.set_request_id(g.request_id)


def _finish(response: Response) -> Response:
    # Also read back from the response by gunicorn's access log, which runs outside the app.
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or logs.new_request_id()
    key = (request.endpoint or "unmatched", request.method, response.status_code)
    counter, histogram = _children.get(key) or _child(key)
    counter.inc()
    started = g.get("request_started")
    if started is not None:
        histogram.observe(time.perf_counter() - started)
    return response


# The labelled series by (endpoint, method, status): prometheus-client's labels() costs more
# than the rest of the measurement, so each series is looked up once per process.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _child(key: tuple[str, str, int]) -> tuple[Any, Any]:
    endpoint, method, status = key
    pair = (REQUESTS.labels(endpoint, method, str(status)), LATENCY.labels(endpoint, method))
    _children[key] = pair
    return pair


def _forget(_error: BaseException | None) -> None:
    logs.set_request_id(None)


def _check_access() -> None:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise Unauthorized(
                N_("GET /metrics needs Authorization: Bearer <RELAY_METRICS_TOKEN>."),
                code="unauthorized",
            )
        return
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden(
            N_(
                "GET /metrics is open to loopback clients only; set RELAY_METRICS_TOKEN to "
                "read it from elsewhere."
            ),
            code="forbidden",
        )


def metrics() -> Response:
    """The Prometheus text format: request counters over all workers, then the gauges."""
    _check_access()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    gauges_registry = CollectorRegistry(auto_describe=False)
    gauges_registry.register(current_app.extensions["relay_gauges"])
    body = generate_latest(registry) + generate_latest(gauges_registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


class DomainCollector(Collector):
    """The domain's gauges, read with one query and kept ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._taken = float("-inf")
        self._snapshot = gauges.Snapshot()

    def current(self) -> gauges.Snapshot:
        """The cached snapshot, refreshed when older than the ttl."""
        with self._lock:
            if time.monotonic() - self._taken >= self.ttl:
                with reads_only():
                    self._snapshot = gauges.snapshot(utcnow())
                self._taken = time.monotonic()
            return self._snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.current()
        instances = GaugeMetricFamily(
            "relay_instances",
            "Instances waiting (queued) or in work (claimed), by business process.",
            labels=["business_process", "state"],
        )
        for (process, state), n in sorted(snap.instances.items()):
            instances.add_metric([process, state], n)
        yield instances
        yield _gauge(
            "relay_outbox_pending", "Webhook deliveries not yet made.", snap.outbox_pending
        )
        yield _gauge(
            "relay_outbox_dead", "Webhook deliveries given up (dead letters).", snap.outbox_dead
        )
        yield _gauge(
            "relay_devices_seen",
            "Active terminals seen in the last five minutes.",
            snap.devices_seen,
        )


def _gauge(name: str, documentation: str, value: Any) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
