"""The FastAPI app: ``create_app(nlp, ...)`` checks the limits, builds the worker (``batching``), the
metrics and the guards (``security``), and adds the routes: ``POST /extract``, ``GET /health``,
``GET /ready``, ``GET /metrics`` and the page at ``GET /``. Bad input gets a 4xx JSON answer with a
readable ``detail``."""
import html
import time
from contextlib import asynccontextmanager
from typing import Any, Dict, List, Optional, Sequence

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field

from ..extract.records import doc_record
from .batching import Batcher, ClientGone, QueueFull, RequestTimeout, default_max_queue
from .metrics import Metrics, MetricsMiddleware
from .security import ApiKeyMiddleware, BodyLimitMiddleware, add_cors, default_max_body_bytes, unavailable

EXAMPLE = "Barack Obama was born in Honolulu ."
DEFAULT_TIMEOUT = 30.0


class ExtractRequest(BaseModel):
    """Give ``text`` (one document) or ``texts`` (a list of documents), not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": EXAMPLE}, {"texts": [EXAMPLE]}]})
    text: Optional[str] = Field(None, description="one document")
    texts: Optional[List[str]] = Field(None, description="several documents, answered in order")


class InputError(Exception):
    """A request the service answers with ``status`` and a JSON ``detail`` (and ``headers``)."""

    def __init__(self, status: int, detail: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def _readable(errors) -> str:
    parts = []
    for e in errors:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        if e.get("type") == "extra_forbidden":
            parts.append(f"unknown field '{where}': give 'text' (a string) or 'texts' (a list of strings)")
        else:
            parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts)


async def _disconnected(request: Request) -> None:
    """Returns when the client of ``request`` (whose body has been read) closes the connection."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def check_limits(max_length: int, max_texts: int, batch_size: int, max_queue: int, max_body_bytes: int,
                 timeout: Optional[float], batch_wait: float) -> None:
    """ValueError for limits the service cannot run with, named by their command-line options."""
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


class _Service:
    """What the routes share: the pipeline, its worker, the metrics and the limits."""

    def __init__(self, nlp, batcher: Batcher, metrics: Metrics, model_name: str, max_length: int, max_texts: int,
                 max_body_bytes: int, timeout: Optional[float]):
        self.nlp, self.batcher, self.metrics, self.model_name = nlp, batcher, metrics, model_name
        self.max_length, self.max_texts = max_length, max_texts
        self.max_body_bytes, self.timeout = max_body_bytes, timeout
        self.started = time.time()

    def check(self, texts: List[str]) -> None:
        """InputError 413 for a request over ``max_texts`` texts or a text over ``max_length`` characters."""
        if len(texts) > self.max_texts:
            raise InputError(413, f"{len(texts)} texts in one request, more than the limit of {self.max_texts} "
                                  "(--max-texts); send them in several requests")
        for i, text in enumerate(texts):
            if len(text) > self.max_length:
                which = "the text" if len(texts) == 1 else f"text {i}"
                raise InputError(413, f"{which} has {len(text)} characters, more than the limit of {self.max_length} "
                                      "(--max-length); split it or start the server with a higher --max-length")

    async def run(self, texts: List[str], request: Request):
        """The docs of ``texts`` from the worker, or the InputError the request gets (503 queue full, 504
        timeout, 499 client gone, 500 the pipeline failed); refusals are counted in the metrics."""
        try:
            return await self.batcher.process(texts, self.timeout, lambda: _disconnected(request))
        except QueueFull as err:
            self.metrics.reject("queue_full")
            raise InputError(503, err.detail, {"Retry-After": str(err.retry_after)}) from err
        except RequestTimeout as err:
            self.metrics.reject("timeout")
            raise InputError(504, f"no answer within {self.timeout} s (--timeout): the server is busy or the texts "
                                  "are long; retry later, send fewer texts, or raise --timeout") from err
        except ClientGone as err:
            self.metrics.reject("client_gone")
            raise InputError(499, "the client closed the connection before the answer was ready") from err
        except Exception as err:
            raise InputError(500, f"the pipeline failed on this input ({type(err).__name__}: {err})") from err


def create_app(nlp, max_length: int = 100_000, max_texts: int = 64, batch_size: int = 32,
               batch_wait: float = 0.005, model_name: str = "", max_queue: Optional[int] = None,
               timeout: Optional[float] = DEFAULT_TIMEOUT, max_body_bytes: Optional[int] = None,
               api_key: Optional[str] = None, cors_origins: Sequence[str] = ()) -> FastAPI:
    """The app. ``max_queue`` (texts waiting for the worker) defaults to ``default_max_queue``,
    ``max_body_bytes`` to ``default_max_body_bytes``; ``timeout`` (seconds until a request gets
    504) None waits without limit; ``api_key`` None serves without a key; ``cors_origins`` empty
    sends no CORS headers."""
    max_queue = default_max_queue(batch_size, max_texts) if max_queue is None else max_queue
    max_body_bytes = default_max_body_bytes(max_length, max_texts) if max_body_bytes is None else max_body_bytes
    check_limits(max_length, max_texts, batch_size, max_queue, max_body_bytes, timeout, batch_wait)

    batcher = Batcher(nlp, batch_size, batch_wait, max_queue)
    metrics = Metrics(batcher)
    service = _Service(nlp, batcher, metrics, model_name, max_length, max_texts, max_body_bytes, timeout)

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
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, batcher=batcher, reject=metrics.reject)
    if api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key, reject=metrics.reject)
    add_cors(app, cors_origins)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _add_error_handlers(app)
    _add_routes(app, service)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """400 for a body that is not JSON, 422 with a readable ``detail`` for wrong fields, and the
    answer of an InputError."""

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


def _add_routes(app: FastAPI, service: _Service) -> None:
    """The endpoints: POST /extract, GET /health, /ready, /metrics and the page at /."""
    from ..render import render

    nlp, batcher, metrics = service.nlp, service.batcher, service.metrics

    @app.post("/extract", summary="Extract triples from one text or a list of texts")
    async def extract(body: ExtractRequest, request: Request) -> Dict[str, Any]:
        if (body.text is None) == (body.texts is None):
            raise InputError(422, "give either 'text' (one string) or 'texts' (a list of strings), "
                                  'e.g. {"text": "Barack Obama was born in Honolulu ."}')
        texts = [body.text] if body.text is not None else body.texts
        if not texts:
            raise InputError(422, "'texts' is empty: give at least one string")
        service.check(texts)
        docs = await service.run(texts, request)
        if body.text is not None:
            return doc_record(docs[0], 0)
        return {"records": [doc_record(doc, i) for i, doc in enumerate(docs)]}

    @app.get("/health", summary="Liveness, the pipeline and counters")
    async def health() -> Dict[str, Any]:
        return {"status": "ok", "model": service.model_name, "lang": nlp.lang, "pipeline": nlp.pipe_names,
                "max_length": service.max_length, "max_texts": service.max_texts,
                "max_body_bytes": service.max_body_bytes, "timeout_s": service.timeout, "queue_texts": batcher.depth,
                "max_queue": batcher.max_queue, "uptime_s": round(time.time() - service.started, 1), **batcher.stats}

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
                service.check([text])
                docs = await service.run([text], request)
                result = render(docs, page=False, jupyter=False)
                n = len(docs[0]._.triples)
                result = f'<p class="st-count">{n} triple{"s" * (n != 1)}</p>' + result
            except InputError as err:
                status, headers = err.status, err.headers
                result = f'<p class="st-error">{html.escape(err.detail)}</p>'
        return HTMLResponse(PAGE.format(model=html.escape(service.model_name), text=html.escape(text or EXAMPLE),
                                        max_length=service.max_length, result=result),
                            status_code=status, headers=headers)


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
