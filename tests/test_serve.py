"""spacy-triples serve: a real server on 127.0.0.1, called over HTTP."""
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).parent.parent
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
