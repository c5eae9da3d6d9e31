"""spacy-triples serve: a real server on 127.0.0.1, called over HTTP."""
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from ..util import ROOT

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

TEXT = "Barack Obama was born in Honolulu ."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_model_dir):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacy_triples", "serve", str(trained_model_dir), "--host", "127.0.0.1",
         "--port", str(port), "--max-length", "200", "--max-texts", "4", "--batch-wait-ms", "300"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            proc.kill()
            pytest.fail("server did not answer /health within 120 s")
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_extract_one_text_gives_an_extract_record(server):
    r = httpx.post(f"{server}/extract", json={"text": TEXT}, timeout=30)
    assert r.status_code == 200
    record = r.json()
    assert record["id"] == 0 and record["text"] == TEXT
    (t,) = record["triples"]
    assert (t["subject"], t["relation"], t["object"]) == ("Barack Obama", "born_in", "Honolulu")
    assert t["subject_chars"] == [0, 12] and t["object_tokens"] == [5, 6] and 0.5 < t["score"] <= 1
    assert set(t) == {"subject", "subject_label", "subject_tokens", "subject_chars", "relation", "object",
                      "object_label", "object_tokens", "object_chars", "score"}


def test_extract_list_keeps_order_and_concurrent_requests_share_a_batch(server):
    texts = [TEXT, "Microsoft hired Satya Nadella in Redmond .", ""]
    r = httpx.post(f"{server}/extract", json={"texts": texts}, timeout=30)
    assert r.status_code == 200
    records = r.json()["records"]
    assert [x["text"] for x in records] == texts and [x["id"] for x in records] == [0, 1, 2]
    assert records[0]["triples"] and records[2]["triples"] == [] and records[2]["warning"] == "empty document"
    before = httpx.get(f"{server}/health").json()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: httpx.post(f"{server}/extract", json={"text": TEXT}, timeout=30), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert all(a.json()["triples"][0]["relation"] == "born_in" for a in answers)
    after = httpx.get(f"{server}/health").json()
    assert after["requests"] - before["requests"] == 4
    assert after["batches"] - before["batches"] < 4 and after["largest_batch"] >= 2  # gathered into nlp.pipe


@pytest.mark.parametrize("kwargs,status,words", [
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, ["not valid JSON"]),
    ({"json": {}}, 422, ["give either 'text'", "'texts'"]),
    ({"json": {"text": TEXT, "texts": [TEXT]}}, 422, ["either 'text'"]),
    ({"json": {"txt": TEXT}}, 422, ["unknown field 'txt'"]),
    ({"json": {"text": 5}}, 422, ["text:", "string"]),
    ({"json": {"texts": []}}, 422, ["'texts' is empty"]),
    ({"json": {"text": "x" * 201}}, 413, ["201 characters", "limit of 200", "--max-length"]),
    ({"json": {"texts": [TEXT, "y" * 300]}}, 413, ["text 1 has 300 characters"]),
    ({"json": {"texts": [TEXT] * 5}}, 413, ["5 texts", "limit of 4", "--max-texts"]),
])
def test_bad_input_gets_a_clear_4xx_and_the_server_keeps_serving(server, kwargs, status, words):
    r = httpx.post(f"{server}/extract", timeout=30, **kwargs)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and all(w in detail for w in words), detail
    assert httpx.post(f"{server}/extract", json={"text": TEXT}, timeout=30).status_code == 200


def test_health_and_openapi(server):
    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["pipeline"] == ["triple_extractor"]
    assert health["max_length"] == 200 and health["max_texts"] == 4
    spec = httpx.get(f"{server}/openapi.json").json()
    assert {"/extract", "/health", "/"} <= set(spec["paths"])
    assert httpx.get(f"{server}/docs").status_code == 200


def test_page_shows_spans_arcs_and_table(server):
    empty = httpx.get(f"{server}/")
    assert empty.status_code == 200 and "<textarea" in empty.text and "<form" in empty.text
    r = httpx.get(f"{server}/", params={"text": TEXT})
    assert r.status_code == 200
    page = r.text
    assert "1 triple<" in page
    assert "Barack Obama" in page and "<svg" in page and "born_in" in page  # displaCy arcs
    assert "<table>" in page and "<td><b>born_in</b></td>" in page
    too_long = httpx.get(f"{server}/", params={"text": "z" * 300})
    assert too_long.status_code == 413 and "more than the limit of 200" in too_long.text


def test_serve_without_a_model_says_so(tmp_path):
    from spacy_triples.cli import main

    assert main(["serve", str(tmp_path / "missing")]) == 1


def test_serve_takes_a_precision_and_refuses_a_bad_one(trained_model_dir, capsys):
    from spacy_triples.cli import main
    from spacy_triples.serve import serve

    with pytest.raises(SystemExit):  # argparse: not one of the choices
        main(["serve", str(trained_model_dir), "--precision", "int4"])
    assert "fp32" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must be one of fp32, bf16, int8, auto"):
        serve(str(trained_model_dir), port=_free_port(), precision="int4")  # refused before serving
    with pytest.raises(ValueError, match="for the CPU"):
        serve(str(trained_model_dir), port=_free_port(), precision="int8", gpu_id=0)


# --- under load: an in-process server whose pipeline waits on an Event, so the queue fills on cue ---


class GatedNLP:
    """Stands in for a pipeline: ``pipe`` records its texts, says so on ``entered`` and waits for
    ``release`` (30 s at most) before making the docs; the tests open and close the gate."""

    lang = "en"
    pipe_names = ["gate"]

    def __init__(self):
        import spacy

        import spacy_triples  # noqa: F401  (Doc._.triples)

        self.blank = spacy.blank("en")
        self.release, self.entered = threading.Event(), threading.Event()
        self.seen = []

    def pipe(self, texts, batch_size=32):
        texts = list(texts)
        self.seen.extend(texts)
        self.entered.set()
        if not self.release.wait(30):
            raise RuntimeError("the test never released the gate")
        return [self.blank.make_doc(t) for t in texts]


@contextmanager
def running(app):
    """``app`` behind uvicorn on 127.0.0.1 in a thread; yields (url, server)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the in-process server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the in-process server did not stop"


def _wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _queued(url) -> int:
    return httpx.get(f"{url}/health", timeout=10).json()["queue_texts"]


def _app(nlp, **kwargs):
    from spacy_triples.serve import create_app

    settings = {"max_texts": 2, "batch_size": 2, "batch_wait": 0.0, "max_queue": 2, "timeout": 30.0, **kwargs}
    return create_app(nlp, **settings)


def test_a_full_queue_answers_503_with_retry_after_and_loses_nothing_queued():
    nlp = GatedNLP()
    with running(_app(nlp)) as (url, _), ThreadPoolExecutor(2) as pool:
        first = pool.submit(httpx.post, f"{url}/extract", json={"text": "a"}, timeout=30)
        assert nlp.entered.wait(10)  # "a" is in the pipeline, the queue is empty
        second = pool.submit(httpx.post, f"{url}/extract", json={"texts": ["b1", "b2"]}, timeout=30)
        _wait_for(lambda: _queued(url) == 2, "two texts queued")
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 503
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200  # alive, only not ready
        full = httpx.post(f"{url}/extract", json={"text": "c"}, timeout=10)
        assert full.status_code == 503, full.text
        assert int(full.headers["Retry-After"]) >= 1
        assert "queue is full" in full.json()["detail"] and "--max-queue" in full.json()["detail"]
        nlp.release.set()
        assert first.result(timeout=30).status_code == 200
        answer = second.result(timeout=30)
        assert answer.status_code == 200 and [r["text"] for r in answer.json()["records"]] == ["b1", "b2"]
        assert nlp.seen == ["a", "b1", "b2"]  # "c" was never queued nor run
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 200
        assert httpx.post(f"{url}/extract", json={"text": "d"}, timeout=10).status_code == 200


def test_a_request_over_the_timeout_gets_504_and_its_work_is_skipped():
    nlp = GatedNLP()
    with running(_app(nlp, timeout=0.5)) as (url, _), ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{url}/extract", json={"text": "a"}, timeout=30)
        assert nlp.entered.wait(10)
        late = httpx.post(f"{url}/extract", json={"text": "b"}, timeout=30)  # queued behind the closed gate
        assert late.status_code == 504, late.text
        assert "--timeout" in late.json()["detail"]
        assert first.result(timeout=30).status_code == 504  # "a" is running, but its answer is late too
        assert _queued(url) == 0  # the timed-out request left the queue at once
        nlp.release.set()
        _wait_for(lambda: httpx.get(f"{url}/health", timeout=10).json()["skipped"] == 1, "the worker to skip 'b'")
        assert nlp.seen == ["a"]  # "b" was skipped, never computed


def test_a_client_that_goes_away_has_its_queued_work_skipped():
    nlp = GatedNLP()
    with running(_app(nlp)) as (url, _), ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{url}/extract", json={"text": "a"}, timeout=30)
        assert nlp.entered.wait(10)
        with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes its connection
            httpx.post(f"{url}/extract", json={"text": "b"}, timeout=httpx.Timeout(30, read=0.5))
        _wait_for(lambda: _queued(url) == 0, "the server to drop the abandoned request")
        nlp.release.set()
        assert first.result(timeout=30).status_code == 200
        assert httpx.post(f"{url}/extract", json={"text": "c"}, timeout=30).status_code == 200
        assert nlp.seen == ["a", "c"]


def test_a_body_over_the_limit_gets_413_before_it_is_parsed_with_or_without_content_length():
    nlp = GatedNLP()
    nlp.release.set()
    with running(_app(nlp, max_body_bytes=1000)) as (url, _):
        declared = httpx.post(f"{url}/extract", content=b"{" * 1500, headers={"Content-Type": "application/json"},
                              timeout=10)  # not JSON either: the size is checked first
        assert declared.status_code == 413, declared.text
        assert "1500 bytes" in declared.json()["detail"] and "--max-body-bytes" in declared.json()["detail"]

        def chunks():
            yield b'{"text": "'
            for _ in range(6):
                yield b"x" * 300
            yield b'"}'

        streamed = httpx.post(f"{url}/extract", content=chunks(), headers={"Content-Type": "application/json"},
                              timeout=10)
        assert streamed.status_code == 413, streamed.text
        assert "limit of 1000" in streamed.json()["detail"]
        assert nlp.seen == []
        small = httpx.post(f"{url}/extract", content=iter([b'{"text": ', b'"ok"}']),  # chunked, small
                           headers={"Content-Type": "application/json"}, timeout=10)
        assert small.status_code == 200 and small.json()["text"] == "ok"


def test_an_api_key_guards_everything_but_health_and_ready():
    nlp = GatedNLP()
    nlp.release.set()
    with running(_app(nlp, api_key="s3cret-key")) as (url, _):
        missing = httpx.post(f"{url}/extract", json={"text": "a"}, timeout=10)
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
        assert "X-API-Key" in missing.json()["detail"]
        wrong = httpx.post(f"{url}/extract", json={"text": "a"}, headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        for headers in ({"Authorization": "Bearer s3cret-key"}, {"X-API-Key": "s3cret-key"}):
            assert httpx.post(f"{url}/extract", json={"text": "a"}, headers=headers, timeout=10).status_code == 200
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 200
        assert httpx.get(f"{url}/metrics", timeout=10).status_code == 401
        assert httpx.get(f"{url}/", params={"text": "a"}, timeout=10).status_code == 401
        assert nlp.seen == ["a", "a"]


def test_the_api_key_comes_from_the_file_or_the_environment(tmp_path):
    from spacy_triples.serve import resolve_api_key

    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    assert resolve_api_key(str(key_file), {"SPACY_TRIPLES_API_KEY": "from-env"}) == "from-file"
    assert resolve_api_key(None, {"SPACY_TRIPLES_API_KEY": " from-env "}) == "from-env"
    assert resolve_api_key(None, {}) is None
    key_file.write_bytes(b"\xef\xbb\xbffrom-notepad\r\n")  # a key file saved by a Windows editor
    assert resolve_api_key(str(key_file), {}) == "from-notepad"
    key_file.write_text("  \n")
    with pytest.raises(ValueError, match="is empty"):
        resolve_api_key(str(key_file), {})


def test_cors_headers_only_for_the_origins_asked_for():
    nlp = GatedNLP()
    nlp.release.set()
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with running(_app(nlp)) as (url, _):
        r = httpx.options(f"{url}/extract", headers=preflight, timeout=10)
        assert "access-control-allow-origin" not in r.headers
    with running(_app(nlp, cors_origins=["https://app.example"], api_key="k")) as (url, _):
        r = httpx.options(f"{url}/extract", headers=preflight, timeout=10)  # a preflight needs no key
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
        other = httpx.options(f"{url}/extract", headers={**preflight, "Origin": "https://evil.example"}, timeout=10)
        assert "access-control-allow-origin" not in other.headers


def test_metrics_are_prometheus_text_with_requests_latency_queue_and_rejections():
    from prometheus_client.parser import text_string_to_metric_families

    nlp = GatedNLP()
    nlp.release.set()
    with running(_app(nlp, max_body_bytes=1000)) as (url, _):
        assert httpx.post(f"{url}/extract", json={"text": "a"}, timeout=10).status_code == 200
        assert httpx.post(f"{url}/extract", content=b"x" * 2000, timeout=10).status_code == 413
        r = httpx.get(f"{url}/metrics", timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert samples[("spacy_triples_requests_total", (("endpoint", "/extract"), ("status", "200")))] == 1
    assert samples[("spacy_triples_requests_total", (("endpoint", "/extract"), ("status", "413")))] == 1
    assert samples[("spacy_triples_request_duration_seconds_count", (("endpoint", "/extract"),))] == 2
    assert samples[("spacy_triples_rejected_total", (("reason", "body_too_large"),))] == 1
    assert samples[("spacy_triples_queue_texts", ())] == 0
    assert samples[("spacy_triples_queue_capacity_texts", ())] == 2
    assert samples[("spacy_triples_texts_processed_total", ())] == 1


def test_shutdown_answers_what_is_queued_first():
    nlp = GatedNLP()
    with running(_app(nlp)) as (url, server), ThreadPoolExecutor(2) as pool:
        first = pool.submit(httpx.post, f"{url}/extract", json={"text": "a"}, timeout=30)
        assert nlp.entered.wait(10)
        second = pool.submit(httpx.post, f"{url}/extract", json={"text": "b"}, timeout=30)
        _wait_for(lambda: _queued(url) == 1, "one text queued")
        server.should_exit = True  # what uvicorn's SIGTERM handler does
        nlp.release.set()
        assert first.result(timeout=30).status_code == 200
        assert second.result(timeout=30).status_code == 200
        assert nlp.seen == ["a", "b"]


def test_max_queue_below_max_texts_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="--max-queue 2 is below --max-texts 4"):
        _app(GatedNLP(), max_queue=2, max_texts=4)


def test_sigterm_stops_the_server_with_exit_status_0(trained_model_dir):
    import signal

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "spacy_triples", "serve", str(trained_model_dir),
                             "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"server exited with {proc.returncode}:\n{proc.stdout.read()}"
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server not ready within 120 s"
            time.sleep(0.2)
        assert httpx.post(f"{url}/extract", json={"text": TEXT}, timeout=30).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
