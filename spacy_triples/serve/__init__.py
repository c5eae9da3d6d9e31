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

The modules, by job: ``app`` (``create_app``: the routes, request checks, error answers),
``batching`` (the bounded queue, the worker and its timeouts), ``security`` (API key, CORS, body-size
limit), ``metrics`` (Prometheus) and ``server`` (``serve``: loading, uvicorn, the SIGTERM drain).
"""
try:  # the serve extra; each module below imports what it uses from these
    import fastapi  # noqa: F401
    import prometheus_client  # noqa: F401
    import pydantic  # noqa: F401
except ImportError as err:  # pragma: no cover - the serve extra is missing
    raise ImportError(
        "spacy-triples serve needs FastAPI, uvicorn and prometheus-client: pip install 'spacy-triples[serve]' "
        f"({err})."
    ) from err

from ..extract.records import doc_record
from .app import DEFAULT_TIMEOUT, EXAMPLE, PAGE, ExtractRequest, InputError, check_limits, create_app
from .batching import Batcher, ClientGone, QueueFull, RequestTimeout, default_max_queue
from .metrics import ENDPOINTS, LATENCY_BUCKETS, Metrics, MetricsMiddleware
from .security import (API_KEY_ENV, OPEN_PATHS, ApiKeyMiddleware, BodyLimitMiddleware, add_cors,
                       default_max_body_bytes, resolve_api_key, unavailable)
from .server import load_for_serving, serve

__all__ = [
    "API_KEY_ENV", "ApiKeyMiddleware", "Batcher", "BodyLimitMiddleware", "ClientGone", "DEFAULT_TIMEOUT", "ENDPOINTS",
    "EXAMPLE", "ExtractRequest", "InputError", "LATENCY_BUCKETS", "Metrics", "MetricsMiddleware", "OPEN_PATHS", "PAGE",
    "QueueFull", "RequestTimeout", "add_cors", "check_limits", "create_app", "default_max_body_bytes",
    "default_max_queue", "doc_record", "load_for_serving", "resolve_api_key", "serve", "unavailable",
]
