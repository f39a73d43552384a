"""Prometheus metrics of a consumer service, in a registry its runtime owns (no global state).

``Stage.process`` counts each message here; the runtime refreshes the stream gauges (length,
group lag and pending: FastStream exports none of them) from XINFO and serves the registry on
``NEWSWIRE_METRICS_PORT`` + the service's offset (0: no endpoint).
"""

from __future__ import annotations

import time
from datetime import datetime
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from shared.streams import StreamStats

# Port offsets from NEWSWIRE_METRICS_PORT; intake serves /metrics on its own HTTP port.
METRICS_PORT_OFFSETS = {"tagger": 1, "dedup": 2, "pusher": 3}
# Seconds: a message takes milliseconds per stage; an article's age spans retries and backlogs.
PROCESSING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)

log = structlog.stdlib.get_logger("newswire.metrics")


def metrics_port(service: str, base: int) -> int | None:
    """The port this service's metrics endpoint listens on, or None when it has none."""
    if base == 0 or service not in METRICS_PORT_OFFSETS:
        return None
    return base + METRICS_PORT_OFFSETS[service]


class StageMetrics:
    """The counters, histograms and gauges of one consumer process."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.processed = Counter(
            "newswire_messages_processed",
            "Messages a stage handled to the end and acknowledged, by outcome",
            ["stage", "outcome"],
            registry=self.registry,
        )
        self.failed = Counter(
            "newswire_messages_failed",
            "Messages whose handling failed: left pending for a retry, or dead-lettered",
            ["stage", "result"],
            registry=self.registry,
        )
        self.processing_seconds = Histogram(
            "newswire_processing_seconds",
            "Time to handle one message (handler, publish, status)",
            ["stage"],
            buckets=PROCESSING_BUCKETS,
            registry=self.registry,
        )
        self.article_age_seconds = Histogram(
            "newswire_article_age_seconds",
            "Age of an article (since intake accepted it) when a stage finished it; "
            "stage=pusher is the end-to-end latency from acceptance to delivery",
            ["stage"],
            buckets=AGE_BUCKETS,
            registry=self.registry,
        )
        self.stream_length = Gauge(
            "newswire_stream_length", "Entries in a stream", ["stream"], registry=self.registry
        )
        self.group_lag = Gauge(
            "newswire_group_lag",
            "Entries of a stream a consumer group has not read yet (at most the count cap)",
            ["stream", "group"],
            registry=self.registry,
        )
        self.group_pending = Gauge(
            "newswire_group_pending",
            "Entries a consumer group has read but not acknowledged",
            ["stream", "group"],
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "newswire_dead_letters",
            "Entries in a stage's dead-letter stream",
            ["stage"],
            registry=self.registry,
        )
        self.trimmed = Counter(
            "newswire_stream_trimmed_entries",
            "Entries deleted from a stage stream by retention",
            ["stream"],
            registry=self.registry,
        )
        self.webhook_attempts = Counter(
            "newswire_webhook_attempts",
            "Webhook delivery attempts per subscription, by outcome (success, failure, gone)",
            ["subscription", "outcome"],
            registry=self.registry,
        )
        self.subscription_deliveries = Counter(
            "newswire_subscription_deliveries",
            "Articles added to a subscription's stream, per subscription (a retried message counts once)",
            ["subscription"],
            registry=self.registry,
        )
        self.webhook_attempt_seconds = Histogram(
            "newswire_webhook_attempt_seconds",
            "Time of one webhook attempt, per subscription",
            ["subscription"],
            buckets=PROCESSING_BUCKETS,
            registry=self.registry,
        )
        self.dedup_script_calls = Counter(
            "newswire_dedup_script_calls",
            "Dedup's judging script calls, by reply: judged, recorded (a redelivery), sent_back (the "
            "outlet's template changed: fingerprinted and sent again), held (may copy one sent back), error",
            ["reply"],
            registry=self.registry,
        )
        self._server: WSGIServer | None = None
        self._thread: Thread | None = None

    def message_processed(self, outcome: str, seconds: float, received_at: datetime | None) -> None:
        self.processed.labels(self.service, outcome).inc()
        self.processing_seconds.labels(self.service).observe(seconds)
        if received_at is not None:
            age = time.time() - received_at.timestamp()
            self.article_age_seconds.labels(self.service).observe(max(age, 0.0))

    def webhook_attempted(self, subscription: str, outcome: str, seconds: float) -> None:
        self.webhook_attempts.labels(subscription, outcome).inc()
        self.webhook_attempt_seconds.labels(subscription).observe(seconds)

    def delivered_to(self, subscription: str) -> None:
        self.subscription_deliveries.labels(subscription).inc()

    def dedup_replied(self, reply: str) -> None:
        self.dedup_script_calls.labels(reply).inc()

    def message_failed(self, result: str) -> None:
        self.failed.labels(self.service, result).inc()

    def streams_observed(self, streams: list[StreamStats]) -> None:
        for stream in streams:
            self.stream_length.labels(stream.name).set(stream.length)
            for group in stream.groups:
                self.group_lag.labels(stream.name, group.name).set(group.lag or 0)
                self.group_pending.labels(stream.name, group.name).set(group.pending)

    def serve(self, host: str, port: int) -> int:
        """Serve the registry over HTTP on a daemon thread; the port it listens on."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def received_at_of(event: Any) -> datetime | None:
    """When intake accepted the article an event carries, if it carries one."""
    article = getattr(event, "article", None)
    received = getattr(article, "received_at", None)
    return received if isinstance(received, datetime) else None
