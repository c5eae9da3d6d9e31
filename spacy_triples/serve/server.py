"""``serve()``: load the pipeline, build the app and run it under uvicorn until SIGTERM or Ctrl+C,
answering what is queued before the process exits with status 0."""
import logging
import math
from typing import Optional, Sequence

from .app import DEFAULT_TIMEOUT, create_app
from .security import API_KEY_ENV, resolve_api_key

logger = logging.getLogger("spacy_triples.serve")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def load_for_serving(model: str, gpu_id: int = -1, precision: Optional[str] = None):
    """The pipeline to serve (``util.load_pipeline``), refusing a CPU precision on a GPU first."""
    from ..util import load_pipeline

    if precision is not None and gpu_id >= 0 and precision != "auto":
        raise ValueError(f"--precision {precision} is for the CPU; on a GPU, set mixed_precision = true in the "
                         "transformer's config instead (or drop --gpu-id).")
    return load_pipeline(model, gpu_id, precision=precision)


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, max_length: int = 100_000, max_texts: int = 64,
          batch_size: int = 32, batch_wait: float = 0.005, gpu_id: int = -1, max_queue: Optional[int] = None,
          timeout: Optional[float] = DEFAULT_TIMEOUT, max_body_bytes: Optional[int] = None,
          api_key_file: Optional[str] = None, cors_origins: Sequence[str] = (),
          precision: Optional[str] = None) -> None:
    """Load ``model`` and serve it until SIGTERM or Ctrl+C. On SIGTERM uvicorn stops accepting
    connections, waits for the open requests (at most ``timeout`` + 5 s), the worker answers what is
    queued, and this returns (the process exits with 0). ``precision``: fp32, bf16, int8 or auto on
    the CPU (``spacy_triples.set_precision``; None keeps the pipeline's own setting)."""
    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover
        raise ValueError("spacy-triples serve needs uvicorn: pip install 'spacy-triples[serve]'.") from err
    api_key = resolve_api_key(api_key_file)
    nlp = load_for_serving(model, gpu_id, precision)
    app = create_app(nlp, max_length, max_texts, batch_size, batch_wait, model_name=str(model), max_queue=max_queue,
                     timeout=timeout, max_body_bytes=max_body_bytes, api_key=api_key, cors_origins=cors_origins)
    if api_key is None and host not in LOCAL_HOSTS:
        logger.warning("serving on %s without an API key: anyone who reaches this port can use it "
                       "(--api-key-file or %s)", host, API_KEY_ENV)
    config = uvicorn.Config(app, host=host, port=port, log_level="info",
                            timeout_graceful_shutdown=None if timeout is None else math.ceil(timeout) + 5)
    server = uvicorn.Server(config)
    if not run_until_stopped(server):
        raise ValueError(f"the server did not start on {host}:{port} (the log above says why: is the port in use?)")


def run_until_stopped(server) -> bool:
    """Run the uvicorn ``server`` until it stops; False when it never started and no SIGTERM asked it
    to stop (the port was in use, say). A SIGTERM ends it with a clean stop, not the signal."""
    import signal
    import threading

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
    return bool(server.started or terminated)
