"""``spacy-triples serve MODEL``: a trained pipeline behind an HTTP API, with a page to try it.

- ``POST /extract`` with ``{"text": "..."}`` returns one record of the ``extract`` schema
  (``{"id", "text", "triples": [...]}``); with ``{"texts": ["...", ...]}`` it returns
  ``{"records": [...]}`` in the same order. Concurrent requests are gathered into one ``nlp.pipe``
  call (up to ``batch_size`` texts, waiting at most ``batch_wait`` seconds for more).
- ``GET /health``: liveness, the pipeline and counters (always open). ``GET /ready``: 200 when the
  pipeline is running and the queue has room, else 503. ``GET /metrics``: Prometheus text format.
  ``GET /docs``: the OpenAPI documentation.
- ``GET /``: a page with a text box; submitting it (or opening ``/?text=...``) shows the entity spans,
  the triples as arcs (the displaCy view of ``spacy_triples.render``) and a table.

Under load: at most ``max_queue`` texts wait for the worker; a request that does not fit gets 503
with ``Retry-After`` and is not queued. A request not answered within ``timeout`` seconds gets 504,
and the work of a request whose client timed out or went away is skipped, never computed. Bodies
over ``max_body_bytes`` get 413 before they are parsed (``Content-Length`` or streamed). With an
API key, every endpoint but ``/health`` and ``/ready`` needs ``Authorization: Bearer KEY`` or
``X-API-Key: KEY`` (401 without). On SIGTERM the server stops accepting, answers what it holds and
exits with status 0. docs/serving.md has the whole picture.

Bad input gets a 4xx JSON answer with a readable ``detail`` (400 not JSON, 422 missing or wrong
fields, 413 over ``max_length`` characters, ``max_texts`` texts or ``max_body_bytes`` bytes); the
server keeps serving. Needs the ``serve`` extra: ``pip install 'spacy-triples[serve]'``.
"""
import asyncio
import hmac
import html
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence

try:
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
    from prometheus_client.core import CounterMetricFamily
    from pydantic import BaseModel, ConfigDict, Field
except ImportError as err:  # pragma: no cover - the serve extra is missing
    raise ImportError(
        "spacy-triples serve needs FastAPI, uvicorn and prometheus-client: pip install 'spacy-triples[serve]' "
        f"({err})."
    ) from err

EXAMPLE = "Barack Obama was born in Honolulu ."
DEFAULT_TIMEOUT = 30.0
API_KEY_ENV = "SPACY_TRIPLES_API_KEY"
# endpoints that stay open with an API key: the probes of a load balancer or an orchestrator
OPEN_PATHS = ("/health", "/ready")
# the ``endpoint`` label of the metrics: these paths, every other one is "other" (a bounded set)
ENDPOINTS = ("/extract", "/health", "/ready", "/metrics", "/", "/docs", "/openapi.json")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
logger = logging.getLogger("spacy_triples.serve")


def default_max_queue(batch_size: int, max_texts: int) -> int:
    """Texts that may wait for the worker by default: four batches, and never fewer than one full
    request (``max_texts``), so that every request the limits accept can be queued."""
    return max(4 * batch_size, max_texts)


def default_max_body_bytes(max_length: int, max_texts: int) -> int:
    """The largest body accepted by default: ``max_texts`` texts of ``max_length`` characters at 6
    bytes a character (JSON's ``\\uXXXX`` escape, which ``json.dumps`` writes for every non-ASCII
    character by default) and 64 KiB for the rest of the JSON."""
    return 6 * max_length * max_texts + 65536


def resolve_api_key(api_key_file: Optional[str] = None, environ: Mapping[str, str] = os.environ) -> Optional[str]:
    """The API key: the content of ``api_key_file`` (surrounding whitespace removed), else the
    environment variable ``SPACY_TRIPLES_API_KEY``, else None (no key asked)."""
    if api_key_file:
        with open(api_key_file, encoding="utf-8-sig") as f:  # a byte-order mark is not part of the key
            key = f.read().strip()
        if not key:
            raise ValueError(f"the API key file {api_key_file} is empty: write the key into it, or leave "
                             "--api-key-file out to serve without a key")
        return key
    key = environ.get(API_KEY_ENV, "").strip()
    return key or None


class ExtractRequest(BaseModel):
    """Give ``text`` (one document) or ``texts`` (a list of documents), not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": EXAMPLE}, {"texts": [EXAMPLE]}]})
    text: Optional[str] = Field(None, description="one document")
    texts: Optional[List[str]] = Field(None, description="several documents, answered in order")


class InputError(Exception):
    def __init__(self, status: int, detail: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


class QueueFull(Exception):
    """The queue has no room for a request's texts (503); ``retry_after`` in whole seconds."""

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


class RequestTimeout(Exception):
    """No answer within the request timeout (504)."""


class ClientGone(Exception):
    """The client closed the connection before its answer was ready."""


def doc_record(doc, id_: Any) -> Dict[str, Any]:
    """The record ``spacy-triples extract`` writes for a document."""
    record = {"id": id_, "text": doc.text, "triples": [t.to_dict() for t in doc._.triples]}
    if not doc.text.strip():
        record["warning"] = "empty document"
    return record


class _Job:
    __slots__ = ("texts", "future", "queued")

    def __init__(self, texts: List[str], future: asyncio.Future):
        self.texts, self.future, self.queued = texts, future, True


class Batcher:
    """Gathers the texts of concurrent requests into one ``nlp.pipe`` call, run in one worker thread
    (the pipeline is never used by two threads at once).

    At most ``max_queue`` texts wait in the queue (the batch being run is not counted); ``submit``
    refuses a request that does not fit instead of queueing it. A request whose future is done
    before the worker reaches it (its client timed out or went away) is skipped, never computed."""

    def __init__(self, nlp, batch_size: int = 32, batch_wait: float = 0.005, max_queue: Optional[int] = None):
        self.nlp, self.batch_size, self.batch_wait = nlp, batch_size, batch_wait
        self.max_queue = max_queue if max_queue is not None else 4 * batch_size
        self.queue: Optional[asyncio.Queue] = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")
        self.stats = {"requests": 0, "texts": 0, "batches": 0, "largest_batch": 0, "errors": 0,
                      "rejected": 0, "skipped": 0}
        self.depth = 0  # texts waiting in the queue, the requests that are done (cancelled) not counted
        self.batch_seconds: Optional[float] = None  # moving average of a batch's time, for Retry-After
        self.task: Optional[asyncio.Task] = None
        self.closing = False

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done() and not self.closing

    def full(self, n: int = 1) -> bool:
        """Whether ``n`` more texts would overflow the queue."""
        return self.depth + n > self.max_queue

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: the batches waiting (and the one running)
        times the average time of a batch so far; 1 before the first batch."""
        if self.batch_seconds is None:
            return 1
        batches = math.ceil(self.depth / self.batch_size) + 1
        return max(1, math.ceil(self.batch_seconds * batches))

    async def start(self):
        self.queue = asyncio.Queue()
        self.closing = False
        self.task = asyncio.create_task(self._run())
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:  # a bug: say so, /ready turns 503
            logger.error("the worker stopped: every request now gets 503", exc_info=task.exception())

    async def stop(self):
        """Finish what is queued (requests still waiting for it), then stop the worker thread."""
        self.closing = True
        if self.task is not None and not self.task.done():
            self.queue.put_nowait(None)  # the worker answers every job queued before it, then ends
            try:
                await self.task
            except asyncio.CancelledError:  # pragma: no cover - the server cancelled us
                pass
        while self.queue is not None and not self.queue.empty():  # nothing lost silently
            job = self.queue.get_nowait()
            if job is not None and not job.future.done():
                job.future.set_exception(RuntimeError("the server stopped before this request was run"))
        self.executor.shutdown(wait=True)

    def submit(self, texts: List[str]) -> asyncio.Future:
        """Queue ``texts`` and return the future of their docs, or raise QueueFull. Synchronous: no
        other request is admitted between the check and the put."""
        if not self.running:
            raise QueueFull("the server is starting or shutting down", 1)
        if self.full(len(texts)):
            self.stats["rejected"] += 1
            raise QueueFull(f"the queue is full ({self.depth} texts waiting, the limit is {self.max_queue}, "
                            "--max-queue); retry after the Retry-After seconds", self.retry_after())
        job = _Job(texts, asyncio.get_running_loop().create_future())
        self.depth += len(texts)
        job.future.add_done_callback(lambda _, job=job: self._leave(job))
        self.queue.put_nowait(job)
        return job.future

    def _leave(self, job: _Job) -> bool:
        """Take ``job`` off the depth count (once); True if it still wants an answer."""
        if job.queued:
            job.queued = False
            self.depth -= len(job.texts)
        return not job.future.done()

    async def process(self, texts: List[str], timeout: Optional[float] = None,
                      disconnected: Optional[Callable[[], Awaitable[Any]]] = None):
        """The docs of ``texts``. Raises QueueFull, RequestTimeout after ``timeout`` seconds, or
        ClientGone when ``disconnected()`` returns first; the job is then cancelled and skipped."""
        future = self.submit(texts)
        watcher = asyncio.ensure_future(disconnected()) if disconnected is not None else None
        try:
            waiting = {future} if watcher is None else {future, watcher}
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if future in done:
                return future.result()
            if watcher is not None and watcher in done:
                raise ClientGone()
            raise RequestTimeout()
        finally:
            if not future.done():
                future.cancel()  # the worker skips it
            if watcher is not None:
                watcher.cancel()

    async def _run(self):
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            job = await self.queue.get()
            if job is None:  # stop(): everything queued before it has been answered
                break
            if not self._leave(job):
                self.stats["skipped"] += 1
                continue
            jobs, n = [job], len(job.texts)
            deadline = loop.time() + self.batch_wait
            while n < self.batch_size:  # what is queued already, then what comes within batch_wait
                try:
                    job = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self.queue.get(), timeout)
                    except asyncio.TimeoutError:
                        break
                if job is None:
                    stopping = True
                    break
                if self._leave(job):
                    jobs.append(job)
                    n += len(job.texts)
                else:
                    self.stats["skipped"] += 1
            live = [j for j in jobs if not j.future.done()]  # gone or timed out while the batch gathered
            self.stats["skipped"] += len(jobs) - len(live)
            jobs = live
            if not jobs:
                continue
            texts = [text for j in jobs for text in j.texts]
            started = loop.time()
            try:
                docs = await loop.run_in_executor(
                    self.executor, lambda: list(self.nlp.pipe(texts, batch_size=self.batch_size)))
            except Exception as err:  # the pipeline failed: answer every waiting request, keep serving
                self.stats["errors"] += 1
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(err)
                continue
            seconds = loop.time() - started
            self.batch_seconds = seconds if self.batch_seconds is None else 0.8 * self.batch_seconds + 0.2 * seconds
            self.stats["batches"] += 1
            self.stats["texts"] += len(texts)
            self.stats["requests"] += len(jobs)
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(texts))
            start = 0
            for j in jobs:
                if not j.future.done():
                    j.future.set_result(docs[start:start + len(j.texts)])
                start += len(j.texts)


def _readable(errors) -> str:
    parts = []
    for e in errors:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        if e.get("type") == "extra_forbidden":
            parts.append(f"unknown field '{where}': give 'text' (a string) or 'texts' (a list of strings)")
        else:
            parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts)


def _header(scope, name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


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


class ApiKeyMiddleware:
    """401 unless ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` matches (compared in constant
    time); ``OPEN_PATHS`` stay open."""

    def __init__(self, app, api_key: str, reject: Callable[[str], None]):
        self.app, self.key, self.reject = app, api_key.encode("utf8"), reject

    def authorized(self, scope) -> bool:
        headers = {key.lower(): value for key, value in scope.get("headers", ())}
        given = headers.get(b"x-api-key")
        if given is None:
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            given = token.strip() if scheme.lower() == b"bearer" else None
        return given is not None and hmac.compare_digest(given.strip(), self.key)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self.authorized(scope):
            return await self.app(scope, receive, send)
        self.reject("unauthorized")
        response = JSONResponse(status_code=401, headers={"WWW-Authenticate": "Bearer"}, content={
            "detail": "this server needs an API key: send the header 'Authorization: Bearer KEY' or 'X-API-Key: KEY' "
                      "(the key is in the server's --api-key-file or its SPACY_TRIPLES_API_KEY)"})
        await response(scope, receive, send)


class BodyLimitMiddleware:
    """Reads the body before the app does, at most ``max_bytes`` of it: 413 as soon as the declared
    ``Content-Length`` or the bytes streamed so far (chunked) exceed it, without reading the rest or
    parsing anything. A POST /extract that arrives while the queue is full gets its 503 here, before
    its body is read. The app then gets the body in one message; later ``receive`` calls go to the
    server (they tell a disconnect)."""

    def __init__(self, app, max_bytes: int, batcher: Batcher, reject: Callable[[str], None]):
        self.app, self.max_bytes, self.batcher, self.reject = app, max_bytes, batcher, reject

    async def too_large(self, scope, receive, send, size: str):
        self.reject("body_too_large")
        response = JSONResponse(status_code=413, content={
            "detail": f"the request body has {size} bytes, more than the limit of {self.max_bytes} (--max-body-bytes); "
                      "send fewer or shorter texts per request, or start the server with a higher --max-body-bytes"})
        await response(scope, receive, send)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            return await self.too_large(scope, receive, send, declared.strip())
        if scope["method"] == "POST" and scope["path"] == "/extract" and self.batcher.full():
            self.reject("queue_full")
            self.batcher.stats["rejected"] += 1
            error = QueueFull(f"the queue is full ({self.batcher.depth} texts waiting, the limit is "
                              f"{self.batcher.max_queue}, --max-queue); retry after the Retry-After seconds",
                              self.batcher.retry_after())
            return await unavailable(error)(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left while sending: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self.too_large(scope, receive, send, f"more than {self.max_bytes}")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def unavailable(error: QueueFull) -> JSONResponse:
    return JSONResponse(status_code=503, headers={"Retry-After": str(error.retry_after)},
                        content={"detail": error.detail})


async def _disconnected(request: Request) -> None:
    """Returns when the client of ``request`` (whose body has been read) closes the connection."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def create_app(nlp, max_length: int = 100_000, max_texts: int = 64, batch_size: int = 32,
               batch_wait: float = 0.005, model_name: str = "", max_queue: Optional[int] = None,
               timeout: Optional[float] = DEFAULT_TIMEOUT, max_body_bytes: Optional[int] = None,
               api_key: Optional[str] = None, cors_origins: Sequence[str] = ()) -> FastAPI:
    """The app. ``max_queue`` (texts waiting for the worker) defaults to ``default_max_queue``,
    ``max_body_bytes`` to ``default_max_body_bytes``; ``timeout`` (seconds until a request gets
    504) None waits without limit; ``api_key`` None serves without a key; ``cors_origins`` empty
    sends no CORS headers."""
    from ..render import render

    max_queue = default_max_queue(batch_size, max_texts) if max_queue is None else max_queue
    max_body_bytes = default_max_body_bytes(max_length, max_texts) if max_body_bytes is None else max_body_bytes
    for name, value in (("--max-length", max_length), ("--max-texts", max_texts), ("--batch-size", batch_size),
                        ("--max-queue", max_queue), ("--max-body-bytes", max_body_bytes)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if max_queue < max_texts:
        raise ValueError(f"--max-queue {max_queue} is below --max-texts {max_texts}: a request with {max_texts} texts "
                         "could never be queued; raise --max-queue or lower --max-texts")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"--timeout must be a positive number of seconds, got {timeout}")
    if batch_wait < 0:
        raise ValueError(f"--batch-wait-ms must not be negative, got {batch_wait * 1000}")

    batcher = Batcher(nlp, batch_size, batch_wait, max_queue)
    metrics = Metrics(batcher)
    started = time.time()

    def reject(reason: str) -> None:
        metrics.rejected.labels(reason).inc()

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="spacy-triples",
        description=f"Relational triples (subject, relation, object, score) extracted by the pipeline {model_name}. "
                    f"Limits: {max_length} characters per text, {max_texts} texts per request, {max_body_bytes} "
                    f"bytes per body, {max_queue} texts waiting, {timeout} s per request.",
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.state.metrics = metrics
    # the first added is the innermost: metrics see everything, CORS answers preflights without a key
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, batcher=batcher, reject=reject)
    if api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key, reject=reject)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        invalid = [e for e in errors if e.get("type") == "json_invalid"]
        if invalid:
            ctx = invalid[0].get("ctx") or {}
            return JSONResponse(status_code=400, content={
                "detail": f"the request body is not valid JSON ({ctx.get('error', invalid[0].get('msg'))}); "
                          'send {"text": "..."} or {"texts": ["...", ...]} with Content-Type: application/json'})
        return JSONResponse(status_code=422, content={"detail": _readable(errors)})

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        return JSONResponse(status_code=exc.status, content={"detail": exc.detail}, headers=exc.headers)

    def check(texts: List[str]) -> None:
        if len(texts) > max_texts:
            raise InputError(413, f"{len(texts)} texts in one request, more than the limit of {max_texts} "
                                  "(--max-texts); send them in several requests")
        for i, text in enumerate(texts):
            if len(text) > max_length:
                which = "the text" if len(texts) == 1 else f"text {i}"
                raise InputError(413, f"{which} has {len(text)} characters, more than the limit of {max_length} "
                                      "(--max-length); split it or start the server with a higher --max-length")

    async def run(texts: List[str], request: Request):
        try:
            return await batcher.process(texts, timeout, lambda: _disconnected(request))
        except QueueFull as err:
            reject("queue_full")
            raise InputError(503, err.detail, {"Retry-After": str(err.retry_after)}) from err
        except RequestTimeout as err:
            reject("timeout")
            raise InputError(504, f"no answer within {timeout} s (--timeout): the server is busy or the texts "
                                  "are long; retry later, send fewer texts, or raise --timeout") from err
        except ClientGone as err:
            reject("client_gone")
            raise InputError(499, "the client closed the connection before the answer was ready") from err
        except Exception as err:
            raise InputError(500, f"the pipeline failed on this input ({type(err).__name__}: {err})") from err

    @app.post("/extract", summary="Extract triples from one text or a list of texts")
    async def extract(body: ExtractRequest, request: Request) -> Dict[str, Any]:
        if (body.text is None) == (body.texts is None):
            raise InputError(422, "give either 'text' (one string) or 'texts' (a list of strings), "
                                  'e.g. {"text": "Barack Obama was born in Honolulu ."}')
        texts = [body.text] if body.text is not None else body.texts
        if not texts:
            raise InputError(422, "'texts' is empty: give at least one string")
        check(texts)
        docs = await run(texts, request)
        if body.text is not None:
            return doc_record(docs[0], 0)
        return {"records": [doc_record(doc, i) for i, doc in enumerate(docs)]}

    @app.get("/health", summary="Liveness, the pipeline and counters")
    async def health() -> Dict[str, Any]:
        return {"status": "ok", "model": model_name, "lang": nlp.lang, "pipeline": nlp.pipe_names,
                "max_length": max_length, "max_texts": max_texts, "max_body_bytes": max_body_bytes,
                "timeout_s": timeout, "queue_texts": batcher.depth, "max_queue": batcher.max_queue,
                "uptime_s": round(time.time() - started, 1), **batcher.stats}

    @app.get("/ready", summary="Readiness: 200 when the pipeline runs and the queue has room, else 503")
    async def ready():
        if not batcher.running:
            return JSONResponse(status_code=503, headers={"Retry-After": "1"},
                                content={"status": "unavailable", "detail": "the pipeline is starting or stopping"})
        if batcher.full():
            return unavailable(QueueFull(f"the queue is full ({batcher.depth} of {batcher.max_queue} texts waiting)",
                                         batcher.retry_after()))
        return {"status": "ready", "queue_texts": batcher.depth, "max_queue": batcher.max_queue}

    @app.get("/metrics", summary="Prometheus metrics (text format)")
    async def prometheus_metrics():
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, summary="A page to try the pipeline")
    async def page(request: Request, text: Optional[str] = Query(None, description="a text to analyse")):
        result, status, headers = "", 200, None
        if text is not None and text.strip():
            try:
                check([text])
                docs = await run([text], request)
                result = render(docs, page=False, jupyter=False)
                n = len(docs[0]._.triples)
                result = f'<p class="st-count">{n} triple{"s" * (n != 1)}</p>' + result
            except InputError as err:
                status, headers = err.status, err.headers
                result = f'<p class="st-error">{html.escape(err.detail)}</p>'
        return HTMLResponse(PAGE.format(model=html.escape(model_name), text=html.escape(text or EXAMPLE),
                                        max_length=max_length, result=result), status_code=status, headers=headers)

    return app


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>spacy-triples {model}</title>
<style>
body {{ font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em; color: #222; }}
textarea {{ width: 100%; max-width: 60em; height: 6em; font-size: 15px; padding: .5em; }}
button {{ font-size: 15px; padding: .4em 1.2em; margin-top: .5em; cursor: pointer; }}
.st-error {{ color: #b00020; font-weight: bold; }} .st-count {{ color: #555; }}
header small {{ color: #777; }}
</style></head>
<body><header><h2>spacy-triples <small>{model}</small></h2></header>
<form method="get" action="/">
<textarea name="text" maxlength="{max_length}" aria-label="text to analyse">{text}</textarea><br>
<button type="submit">Extract triples</button>
<a href="/docs" style="margin-left:1em">API docs</a>
</form>
<div id="result">{result}</div>
</body></html>
"""


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, max_length: int = 100_000, max_texts: int = 64,
          batch_size: int = 32, batch_wait: float = 0.005, gpu_id: int = -1, max_queue: Optional[int] = None,
          timeout: Optional[float] = DEFAULT_TIMEOUT, max_body_bytes: Optional[int] = None,
          api_key_file: Optional[str] = None, cors_origins: Sequence[str] = (),
          precision: Optional[str] = None) -> None:
    """Load ``model`` and serve it until SIGTERM or Ctrl+C. On SIGTERM uvicorn stops accepting
    connections, waits for the open requests (at most ``timeout`` + 5 s), the worker answers what is
    queued, and this returns (the process exits with 0). ``precision``: fp32, bf16, int8 or auto on
    the CPU (``spacy_triples.set_precision``; None keeps the pipeline's own setting)."""
    import signal
    import threading

    import spacy

    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover
        raise ValueError("spacy-triples serve needs uvicorn: pip install 'spacy-triples[serve]'.") from err
    api_key = resolve_api_key(api_key_file)
    if precision is not None and gpu_id >= 0 and precision != "auto":
        raise ValueError(f"--precision {precision} is for the CPU; on a GPU, set mixed_precision = true in the "
                         "transformer's config instead (or drop --gpu-id).")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    if precision is not None:
        from ..training.precision import set_precision

        set_precision(nlp, precision, save=False)
    app = create_app(nlp, max_length, max_texts, batch_size, batch_wait, model_name=str(model), max_queue=max_queue,
                     timeout=timeout, max_body_bytes=max_body_bytes, api_key=api_key, cors_origins=cors_origins)
    if api_key is None and host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("serving on %s without an API key: anyone who reaches this port can use it "
                       "(--api-key-file or %s)", host, API_KEY_ENV)
    config = uvicorn.Config(app, host=host, port=port, log_level="info",
                            timeout_graceful_shutdown=None if timeout is None else math.ceil(timeout) + 5)
    server = uvicorn.Server(config)
    terminated = []

    def on_sigterm(sig, frame):  # before uvicorn's handlers are in place, and after they are removed
        terminated.append(sig)
        server.should_exit = True

    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again, which would kill the
    # process with -15 after a clean stop; this handler, restored by uvicorn, takes it instead (exit 0)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    try:
        server.run()
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    if not server.started and not terminated:
        raise ValueError(f"the server did not start on {host}:{port} (the log above says why: is the port in use?)")
