"""What guards the app before a request reaches it: the API key (``Authorization: Bearer KEY`` or
``X-API-Key: KEY``; ``/health`` and ``/ready`` stay open), CORS for the origins asked for, and the
body-size limit (413 before anything is parsed), which also turns a POST /extract away with 503 while
the queue is full, before its body is read."""
import hmac
import os
from typing import Callable, Mapping, Optional, Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from .batching import Batcher, QueueFull

API_KEY_ENV = "SPACY_TRIPLES_API_KEY"
# endpoints that stay open with an API key: the probes of a load balancer or an orchestrator
OPEN_PATHS = ("/health", "/ready")


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


def _header(scope, name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


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
    """The 503 answer to a request the queue has no room for, with its ``Retry-After``."""
    return JSONResponse(status_code=503, headers={"Retry-After": str(error.retry_after)},
                        content={"detail": error.detail})


def add_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """CORS headers for ``origins`` (GET and POST, with the API key headers); none when it is empty."""
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
