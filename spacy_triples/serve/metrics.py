"""Prometheus metrics of the service (``GET /metrics``): requests by endpoint and status, their
latency, rejections by reason, the queue's depth and capacity, and the worker's counters. Each app has
a registry of its own."""
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily

from .batching import Batcher

# the ``endpoint`` label of the metrics: these paths, every other one is "other" (a bounded set)
ENDPOINTS = ("/extract", "/health", "/ready", "/metrics", "/", "/docs", "/openapi.json")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _WorkerCounters:
    """The worker's counters (``Batcher.stats``) as Prometheus counters, read when scraped."""

    COUNTERS = (("spacy_triples_texts_processed", "texts", "texts run through the pipeline"),
                ("spacy_triples_batches", "batches", "nlp.pipe calls"),
                ("spacy_triples_skipped_requests", "skipped",
                 "queued requests skipped because their client timed out or went away"))

    def __init__(self, batcher: Batcher):
        self.batcher = batcher

    def collect(self):
        for name, key, doc in self.COUNTERS:
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], self.batcher.stats[key])
            yield counter


class Metrics:
    """The Prometheus metrics of one app, in a registry of its own (two apps in one process, as in
    the tests, do not collide)."""

    def __init__(self, batcher: Batcher):
        self.registry = CollectorRegistry()
        self.requests = Counter("spacy_triples_requests", "HTTP requests answered, by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("spacy_triples_request_duration_seconds", "time to answer a request, by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rejected = Counter("spacy_triples_rejected", "requests refused or given up, by reason (queue_full, "
                                "timeout, client_gone, body_too_large, unauthorized)", ["reason"], registry=self.registry)
        queue = Gauge("spacy_triples_queue_texts", "texts waiting for the worker", registry=self.registry)
        queue.set_function(lambda: batcher.depth)
        capacity = Gauge("spacy_triples_queue_capacity_texts", "most texts that may wait (--max-queue)",
                         registry=self.registry)
        capacity.set(batcher.max_queue)
        self.registry.register(_WorkerCounters(batcher))

    def reject(self, reason: str) -> None:
        """Count a request refused or given up (``spacy_triples_rejected_total{reason}``)."""
        self.rejected.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every answer by endpoint and status and times it (outermost: sees the 401s, 413s and
    503s of the other middlewares). A request whose client left before the answer counts as 499."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        endpoint = scope["path"] if scope["path"] in ENDPOINTS else "other"
        status = 499
        started = time.perf_counter()

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            status = 500
            raise
        finally:
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
