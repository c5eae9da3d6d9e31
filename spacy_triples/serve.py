"""``spacy-triples serve MODEL``: a trained pipeline behind an HTTP API, with a page to try it.

- ``POST /extract`` with ``{"text": "..."}`` returns one record of the ``extract`` schema
  (``{"id", "text", "triples": [...]}``); with ``{"texts": ["...", ...]}`` it returns
  ``{"records": [...]}`` in the same order. Concurrent requests are gathered into one ``nlp.pipe``
  call (up to ``batch_size`` texts, waiting at most ``batch_wait`` seconds for more).
- ``GET /health``: the pipeline and counters. ``GET /docs``: the OpenAPI documentation.
- ``GET /``: a page with a text box; submitting it (or opening ``/?text=...``) shows the entity spans,
  the triples as arcs (the displaCy view of ``spacy_triples.render``) and a table.

Bad input gets a 4xx JSON answer with a readable ``detail`` (400 not JSON, 422 missing or wrong
fields, 413 over ``max_length`` characters or ``max_texts`` texts); the server keeps serving.
Needs the ``serve`` extra: ``pip install 'spacy-triples[serve]'``.
"""
import asyncio
import html
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Dict, List, Optional

try:
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from pydantic import BaseModel, ConfigDict, Field
except ImportError as err:  # pragma: no cover - the serve extra is missing
    raise ImportError(
        "spacy-triples serve needs FastAPI and uvicorn: pip install 'spacy-triples[serve]'."
    ) from err

EXAMPLE = "Barack Obama was born in Honolulu ."


class ExtractRequest(BaseModel):
    """Give ``text`` (one document) or ``texts`` (a list of documents), not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": EXAMPLE}, {"texts": [EXAMPLE]}]})
    text: Optional[str] = Field(None, description="one document")
    texts: Optional[List[str]] = Field(None, description="several documents, answered in order")


class InputError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def doc_record(doc, id_: Any) -> Dict[str, Any]:
    """The record ``spacy-triples extract`` writes for a document."""
    record = {"id": id_, "text": doc.text, "triples": [t.to_dict() for t in doc._.triples]}
    if not doc.text.strip():
        record["warning"] = "empty document"
    return record


class Batcher:
    """Gathers the texts of concurrent requests into one ``nlp.pipe`` call, run in one worker thread
    (the pipeline is never used by two threads at once)."""

    def __init__(self, nlp, batch_size: int = 32, batch_wait: float = 0.005):
        self.nlp, self.batch_size, self.batch_wait = nlp, batch_size, batch_wait
        self.queue: Optional[asyncio.Queue] = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")
        self.stats = {"requests": 0, "texts": 0, "batches": 0, "largest_batch": 0, "errors": 0}
        self.task = None

    async def start(self):
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def stop(self):
        if self.task:
            self.task.cancel()
        self.executor.shutdown(wait=False)

    async def process(self, texts: List[str]):
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            n = len(jobs[0][0])
            deadline = loop.time() + self.batch_wait
            while n < self.batch_size:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                n += len(job[0])
            texts = [text for job_texts, _ in jobs for text in job_texts]
            try:
                docs = await loop.run_in_executor(
                    self.executor, lambda: list(self.nlp.pipe(texts, batch_size=self.batch_size)))
            except Exception as err:  # the pipeline failed: answer every waiting request, keep serving
                self.stats["errors"] += 1
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.stats["batches"] += 1
            self.stats["texts"] += len(texts)
            self.stats["requests"] += len(jobs)
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(texts))
            start = 0
            for job_texts, future in jobs:
                if not future.done():
                    future.set_result(docs[start:start + len(job_texts)])
                start += len(job_texts)


def _readable(errors) -> str:
    parts = []
    for e in errors:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        if e.get("type") == "extra_forbidden":
            parts.append(f"unknown field '{where}': give 'text' (a string) or 'texts' (a list of strings)")
        else:
            parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts)


def create_app(nlp, max_length: int = 100_000, max_texts: int = 64, batch_size: int = 32,
               batch_wait: float = 0.005, model_name: str = "") -> FastAPI:
    from .render import render

    batcher = Batcher(nlp, batch_size, batch_wait)
    started = time.time()

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="spacy-triples",
        description=f"Relational triples (subject, relation, object, score) extracted by the pipeline {model_name}. "
                    f"Limits: {max_length} characters per text, {max_texts} texts per request.",
        lifespan=lifespan,
    )
    app.state.batcher = batcher

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
        return JSONResponse(status_code=exc.status, content={"detail": exc.detail})

    def check(texts: List[str]) -> None:
        if len(texts) > max_texts:
            raise InputError(413, f"{len(texts)} texts in one request, more than the limit of {max_texts} "
                                  "(--max-texts); send them in several requests")
        for i, text in enumerate(texts):
            if len(text) > max_length:
                which = "the text" if len(texts) == 1 else f"text {i}"
                raise InputError(413, f"{which} has {len(text)} characters, more than the limit of {max_length} "
                                      "(--max-length); split it or start the server with a higher --max-length")

    async def run(texts: List[str]):
        try:
            return await batcher.process(texts)
        except Exception as err:
            raise InputError(500, f"the pipeline failed on this input ({type(err).__name__}: {err})") from err

    @app.post("/extract", summary="Extract triples from one text or a list of texts")
    async def extract(body: ExtractRequest) -> Dict[str, Any]:
        if (body.text is None) == (body.texts is None):
            raise InputError(422, "give either 'text' (one string) or 'texts' (a list of strings), "
                                  'e.g. {"text": "Barack Obama was born in Honolulu ."}')
        texts = [body.text] if body.text is not None else body.texts
        if not texts:
            raise InputError(422, "'texts' is empty: give at least one string")
        check(texts)
        docs = await run(texts)
        if body.text is not None:
            return doc_record(docs[0], 0)
        return {"records": [doc_record(doc, i) for i, doc in enumerate(docs)]}

    @app.get("/health", summary="Liveness, the pipeline and counters")
    async def health() -> Dict[str, Any]:
        return {"status": "ok", "model": model_name, "lang": nlp.lang, "pipeline": nlp.pipe_names,
                "max_length": max_length, "max_texts": max_texts, "uptime_s": round(time.time() - started, 1),
                **batcher.stats}

    @app.get("/", response_class=HTMLResponse, summary="A page to try the pipeline")
    async def page(text: Optional[str] = Query(None, description="a text to analyse")):
        result, status = "", 200
        if text is not None and text.strip():
            try:
                check([text])
                docs = await run([text])
                result = render(docs, page=False, jupyter=False)
                n = len(docs[0]._.triples)
                result = f'<p class="st-count">{n} triple{"s" * (n != 1)}</p>' + result
            except InputError as err:
                status = err.status
                result = f'<p class="st-error">{html.escape(err.detail)}</p>'
        return HTMLResponse(PAGE.format(model=html.escape(model_name), text=html.escape(text or EXAMPLE),
                                        max_length=max_length, result=result), status_code=status)

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
          batch_size: int = 32, batch_wait: float = 0.005, gpu_id: int = -1) -> None:
    import spacy

    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover
        raise ValueError("spacy-triples serve needs uvicorn: pip install 'spacy-triples[serve]'.") from err
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    app = create_app(nlp, max_length, max_texts, batch_size, batch_wait, model_name=str(model))
    uvicorn.run(app, host=host, port=port, log_level="info")
