"""``spacy-triples serve``: a pipeline behind an HTTP API (the work: ``spacy_triples.serve.serve``)."""
from pathlib import Path
from typing import List, Optional

import spacy
import typer

from ._util import Command, app, as_float, as_int, precision_option


@app.command("serve", cls=Command, help="serve a pipeline over HTTP (POST /extract, GET /health, /ready, /metrics, a "
             "page at /; docs/serving.md); needs pip install 'spacy-triples[serve]'")
def serve_cli(
    # fmt: off
    model: str = typer.Argument(..., show_default=False),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0 for every interface)"),
    port: int = typer.Option(8000, "--port", parser=as_int),
    max_length: int = typer.Option(100_000, "--max-length", parser=as_int, help="longest text accepted, in characters "
                                   "(413 above)"),
    max_texts: int = typer.Option(64, "--max-texts", parser=as_int, help="most texts in one request (413 above)"),
    batch_size: int = typer.Option(32, "--batch-size", parser=as_int, help="texts gathered from concurrent requests "
                                   "into one nlp.pipe call"),
    batch_wait_ms: float = typer.Option(5.0, "--batch-wait-ms", parser=as_float, help="how long a batch waits for "
                                        "more requests"),
    max_queue: Optional[int] = typer.Option(None, "--max-queue", parser=as_int, help="most texts waiting for the "
                                            "worker; a request that does not fit gets 503 with Retry-After (default: "
                                            "4 x --batch-size, at least --max-texts)"),
    timeout: float = typer.Option(30.0, "--timeout", parser=as_float, help="seconds until a request gets 504; its "
                                  "queued work is then skipped (default: 30)"),
    max_body_bytes: Optional[int] = typer.Option(None, "--max-body-bytes", parser=as_int, help="largest request body, "
                                                 "checked before it is read (413 above; default: 6 x --max-length x "
                                                 "--max-texts + 64 KiB)"),
    api_key_file: Optional[str] = typer.Option(None, "--api-key-file", help="file holding an API key that every "
                                               "endpoint but /health and /ready then asks for (Authorization: Bearer "
                                               "KEY or X-API-Key: KEY; 401 without); default: the environment variable "
                                               "SPACY_TRIPLES_API_KEY, if set"),
    cors_origin: List[str] = typer.Option([], "--cors-origin", metavar="ORIGIN", help="an origin allowed to call the "
                                          "API from a browser (repeat for several); no CORS headers without it"),
    precision: Optional[str] = precision_option(),
    gpu_id: int = typer.Option(-1, "--gpu-id", parser=as_int),
    # fmt: on
) -> None:
    try:
        from ..serve import serve
    except ImportError as err:
        raise ValueError(str(err)) from err
    if not Path(model).exists() and not spacy.util.is_package(model):
        raise ValueError(f"Model {model} is neither a folder nor an installed pipeline package.")
    serve(model, host, port, max_length, max_texts, batch_size, batch_wait_ms / 1000, gpu_id, max_queue=max_queue,
          timeout=timeout, max_body_bytes=max_body_bytes, api_key_file=api_key_file, cors_origins=list(cors_origin),
          precision=precision)
