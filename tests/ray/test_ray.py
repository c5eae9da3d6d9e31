"""Issue 16: extract on Ray Data writes the records of the single-process extract, one per input
record, also when an actor is killed mid-run. The Ray runs use a local Ray (num_cpus=2) and are --slow."""
import datetime
import decimal
import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from spacy_triples.extract import ray_engine as sray  # noqa: E402
from spacy_triples.cli import check_engine_options, extract, main  # noqa: E402
from spacy_triples.extract.records import InputRecord, output_record, parse_jsonl_line  # noqa: E402
from spacy_triples.safe_io import check_output_folder  # noqa: E402

from ..util import save_with_component  # noqa: E402

OBAMA = "Barack Obama was born in Honolulu ."
MICROSOFT = "Microsoft hired Satya Nadella in Redmond ."
PARIS = "Paris is the capital and largest city of France ."
BOOM = "BOOM said Barack Obama in Honolulu ."


def _register_boom():
    from spacy.language import Language

    if not Language.has_factory("triples_test_boom_ray"):
        @Language.component("triples_test_boom_ray")
        def boom(doc):
            """Fails on one chosen document (one whose text holds "BOOM")."""
            if "BOOM" in doc.text:
                raise RuntimeError(f"the test component refuses {doc.text!r}")
            return doc


_register_boom()  # also in Ray's workers, which import this module for BoomActor


class BoomActor(sray.TripleExtractorActor):
    """The engine's actor, from this module, so that a Ray worker registers the BOOM component
    (by importing this module) before it loads the pipeline."""


@pytest.fixture(scope="module")
def model_dir(trained_model_dir):
    return str(trained_model_dir)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for the module (RAY_ADDRESS set by the caller is put aside)."""
    import ray

    address = os.environ.pop("RAY_ADDRESS", None)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    if address is not None:
        os.environ["RAY_ADDRESS"] = address


def _lines(path):
    # JSON lines end at "\n" only (str.splitlines would also split at U+2028 inside a string)
    return [json.loads(line) for line in Path(path).read_text(encoding="utf8").split("\n") if line]


def _shards(folder, suffix="jsonl"):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith("." + suffix))


def _concat(folder):
    return b"".join((Path(folder) / name).read_bytes() for name in _shards(folder))


def _same(got: bytes, expected: bytes) -> bool:
    """Equal bytes but for the last digits of the scores: padding in a batch of documents of other
    lengths changes float rounding (single-process extract with --batch-size 4 and 8 differ so too)."""
    def scores(data):
        return [float(x) for x in re.findall(rb'"score": ([-0-9.e]+)', data)]

    a, b = scores(got), scores(expected)
    blank = re.compile(rb'"score": [-0-9.e]+')
    return (blank.sub(b"", got) == blank.sub(b"", expected) and len(a) == len(b)
            and all(abs(x - y) < 1e-6 for x, y in zip(a, b)))


# ---------------------------------------------------------------------------------- pure functions
def test_order_keys_round_trip_and_sort_by_file_then_line():
    assert sray.split_seq(sray.make_seq(3, 17)) == (3, 17)
    keys = [sray.make_seq(f, n) for f, n in [(0, 1), (0, 2), (0, 4_000_000_000), (1, 1), (2, 5)]]
    assert keys == sorted(keys)
    with pytest.raises(ValueError, match="split it"):
        sray.make_seq(0, 1 << 32)
    names = [sray.shard_name(k, 0, "jsonl") for k in reversed(keys)]
    assert sorted(names) == list(reversed(names))  # names sort as the keys do
    assert sray.shard_name(None, 7, "parquet") == "part-task000007.parquet"


def test_input_format_from_names():
    assert sray.choose_format(["/d/a.jsonl.gz"], "auto", False) == ("jsonl", ["/d/a.jsonl.gz"])
    assert sray.choose_format(["/d/a.parquet"], "auto", False)[0] == "parquet"
    assert sray.choose_format(["/d/a.csv"], "auto", False)[0] == "text"
    assert sray.choose_format(["/d/a.jsonl"], "text", False)[0] == "text"
    # a folder of .txt is one document per file, as extract reads it; other files are left out
    assert sray.choose_format(["/d/a.txt", "/d/b.txt", "/d/x.md"], "auto", True) == ("files", ["/d/a.txt", "/d/b.txt"])
    assert sray.choose_format(["/d/a.txt", "/d/x.md"], "text", True) == ("text", ["/d/a.txt", "/d/x.md"])
    with pytest.raises(ValueError, match=r"several kinds of files \(1 jsonl, 1 parquet\): give --input-format"):
        sray.choose_format(["/d/a.jsonl", "/d/b.parquet"], "auto", True)
    with pytest.raises(ValueError, match="no .txt, .jsonl, .json or .parquet"):
        sray.choose_format(["/d/x.md"], "auto", True)
    with pytest.raises(ValueError, match="Unknown input format 'csv'"):
        sray.choose_format(["/d/x.md"], "csv", True)


def test_table_rows_become_records_like_jsonl_lines():
    row = {"id": 7, "text": OBAMA, "when": datetime.datetime(2024, 5, 1, 12, 30), "price": decimal.Decimal("1.10"),
           "tags": ["a", "b"], "nested": {"k": None}}
    record = sray.record_from_row(row, "row 1", 1, 1)
    assert (record.id, record.text, record.error) == (7, OBAMA, None)
    assert record.meta == {"when": "2024-05-01T12:30:00", "price": "1.10", "tags": ["a", "b"], "nested": {"k": None}}
    # the same row as a JSONL line gives the same record, and a null / non-string text the same error
    for text in (None, 3):
        as_row = sray.record_from_row({"id": "x", "text": text}, "line 4", 4, 4)
        as_line = parse_jsonl_line(4, json.dumps({"id": "x", "text": text}).encode())
        assert as_row == as_line and "expected an object with a string 'text' field" in as_row.error
    missing = sray.record_from_row({"id": "y", "title": "no text"}, "row 2", 2, 2)
    assert missing.id == "y" and "string 'text' field" in missing.error
    blob = sray.record_from_row({"text": OBAMA, "id": 5, "blob": b"\x00"}, "row 3", 3, 3)
    assert blob.id == 5 and blob.error == ("row 3: column 'blob' holds a bytes value, which JSON cannot hold; "
                                           "drop the column or convert it (to text)")
    # a lone surrogate (possible in a Dataset of Python strings) is an error, as in JSONL
    assert "lone surrogate" in sray.record_from_row({"text": "a\ud800"}, "row", None, None).error
    np = pytest.importorskip("numpy")
    assert sray.json_value({"v": np.int64(3), "a": np.arange(2)}) == {"v": 3, "a": [0, 1]}


def test_records_cross_arrow_unchanged():
    for record in (InputRecord(id=1, text=OBAMA, meta={"a": [1, "x"]}), InputRecord(id="1", text=""),
                   InputRecord(id=None, error="line 3: bad", line=3), InputRecord(id=2.5, text="\ud800 kept")):
        table = pa.table({sray.SEQ: [1], sray.INPUT: [sray.encode_record(record)]})
        seqs, records = sray.records_of_batch(table, 100)
        assert seqs == [1] and records == [record] and type(records[0].id) is type(record.id)


def test_rows_of_a_dataset_of_your_own_with_an_order_column():
    table = pa.table({"text": [OBAMA, None, "x" * 20, " "], "id": ["a", "b", "c", "d"], "n": [10, 11, 12, 13],
                      "source": ["s", "t", "u", "v"]})
    seqs, records = sray.records_of_batch(table, 10, order_column="n")
    assert seqs == [10, 11, 12, 13] and [r.id for r in records] == ["a", "b", "c", "d"]
    assert records[0].meta == {"source": "s"}  # the order column is not meta
    assert records[1].error == "row 11: expected an object with a string 'text' field"
    assert "--max-length 10" in records[2].error and records[3].warning == "empty document"
    with pytest.raises(ValueError, match="order column 'source' holds 's'"):
        sray.records_of_batch(table, 10, order_column="source")
    seqs, records = sray.records_of_batch(pa.table({"text": [OBAMA]}), 100)
    assert seqs == [None] and records[0].id is None


def test_parquet_rows_round_trip_to_the_same_json(trained_model_dir):
    import spacy

    from spacy_triples.triples import Triple

    nlp = spacy.load(trained_model_dir)
    doc = nlp(OBAMA)
    assert [f.name for f in sray.TRIPLE_TYPE] == list(doc._.triples[0].to_dict())
    assert isinstance(doc._.triples[0], Triple)
    records = [output_record(InputRecord(id=1, text=OBAMA, meta={"z": 1, "a": [None]}), doc),
               output_record(InputRecord(id="1", text="", warning="empty document"), nlp("")),
               output_record(InputRecord(id=None, error="line 3: malformed JSON", line=3), None),
               output_record(InputRecord(id={"k": 1}, error="too long"), None)]
    table = pa.Table.from_pylist([sray.parquet_row(r, k) for k, r in enumerate(records)], schema=sray.PARQUET_SCHEMA)
    back = [sray.record_of_parquet_row(row) for row in table.to_pylist()]
    assert [json.dumps(r) for r in back] == [json.dumps(r) for r in records]


def test_completeness_check_finds_gaps_overlaps_and_duplicates():
    def shard(name, lines):  # lines: {file: [first, last]} written consecutively
        seqs = [sray.make_seq(f, n) for f, (a, b) in lines.items() for n in range(a, b + 1)]
        return {"file": name, "first": min(seqs), "last": max(seqs), "duplicates": 0,
                "lines": {f: [b - a + 1, a, b] for f, (a, b) in lines.items()}}

    good = [shard("p1", {0: (1, 5)}), shard("p2", {0: (6, 9), 1: (1, 2)}), shard("p3", {2: (1, 1)})]
    assert sray.check_complete(good) == []
    gap = [shard("p1", {0: (1, 5)}), shard("p2", {0: (7, 9)})]
    assert sray.check_complete(gap, file_names=["/in/a.txt"]) == [
        "input file /in/a.txt: 8 records written for lines 1..9, 1 missing"]
    assert sray.check_complete([shard("p2", {0: (2, 3)})]) == [
        "input file number 0: 2 records written for lines 2..3, 1 missing"]
    overlap = [shard("p1", {0: (1, 5)}), shard("p2", {0: (5, 9)})]
    assert "overlap" in sray.check_complete(overlap)[0]
    twice = [dict(shard("p1", {0: (1, 2)}), duplicates=1)]
    assert sray.check_complete(twice) == ["shard p1 holds 1 records twice"]


def test_output_folder_must_be_new_or_empty(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text(OBAMA)
    assert check_output_folder(tmp_path / "new", src) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty", src)
    with pytest.raises(ValueError, match="is not empty"):
        check_output_folder(src, tmp_path / "elsewhere.txt")
    with pytest.raises(ValueError, match="is inside the input"):
        check_output_folder(src / "out", src)
    with pytest.raises(ValueError, match="is a file"):
        check_output_folder(src / "a.txt", tmp_path / "other.txt")


@pytest.mark.parametrize("args,message", [
    (["-", "out"], "not stdin/stdout"),
    (["in.txt", "out", "--resume"], "--resume is not supported with --engine ray"),
    (["in.txt", "out", "--n-process", "2"], "--n-process is for the spaCy engine: give --num-actors"),
    (["in.txt", "out", "--gpu-id", "0"], "--gpu-id is for the spaCy engine: give --gpus-per-actor 1"),
])
def test_ray_options_are_checked_before_any_work(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["extract", "no-model", *args, "--engine", "ray", "--quiet"]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_ray_options_need_the_ray_engine_and_ray(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["extract", "m", "in.txt", "o.jsonl", "--num-actors", "2", "--output-format", "parquet"]) == 1
    assert "--num-actors, --output-format only work with --engine ray" in capsys.readouterr().err
    assert main(["extract", "m", "in.parquet", "o.jsonl", "--input-format", "parquet"]) == 1
    assert "Parquet input needs --engine ray" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["extract", "m", "in.txt", "out", "--engine", "ray", "--gpus-per-actor", "-1"])
    assert "--gpus-per-actor: must be 0 (CPU) or more, got -1" in capsys.readouterr().err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ValueError, match=r'pip install "spacy-triples\[ray\]"'):
        check_engine_options("ray", "in.txt", "out")


# ---------------------------------------------------------------------------------- on a local Ray
@pytest.mark.slow
def test_ray_writes_the_records_of_extract(model_dir, tmp_path, local_ray, capsys):
    src = tmp_path / "in.txt"
    src.write_bytes(
        (OBAMA + "\n\nbad \xff\xfe bytes\n" + "word " * 50 + "\n" + MICROSOFT + "\r\n"
         + "split\u2028not here " + PARIS + "\n").encode("utf8").replace("\xff\xfe".encode("utf8"), b"\xff\xfe")
        + "".join(f"{[OBAMA, MICROSOFT, PARIS, ''][k % 4]}\n" for k in range(140)).encode("utf8")
    )
    ref = tmp_path / "ref.jsonl"
    expected = extract(model_dir, str(src), str(ref), batch_size=8, max_length=200)
    summary = extract(model_dir, str(src), str(tmp_path / "out"), batch_size=8, max_length=200, engine="ray",
                      num_actors=2, rows_per_shard=40)
    # the shards in name order are the file extract writes, byte for byte
    sizes = [len(_lines(tmp_path / "out" / name)) for name in _shards(tmp_path / "out")]
    assert len(sizes) > 1 and min(sizes[:-1]) >= 40 and sum(sizes) == 146
    assert _same(_concat(tmp_path / "out"), ref.read_bytes())
    records = _lines(ref)
    assert len(records) == 146 and "invalid UTF-8 at byte 4" in records[2]["error"]
    assert records[5]["text"].startswith("split\u2028not here")
    assert (summary.read, summary.written, summary.failed, summary.triples) == (
        expected.read, expected.written, expected.failed, expected.triples) == (146, 146, 2, expected.triples)
    # the command line prints extract's summary, and refuses to mix its shards with an earlier run's
    capsys.readouterr()
    assert main(["extract", model_dir, str(src), str(tmp_path / "out2"), "--engine", "ray", "--quiet",
                 "--max-length", "200", "--output-format", "parquet"]) == 0
    assert "146 documents read, 146 written, 2 failed" in capsys.readouterr().err
    parquet = b"".join((json.dumps(r, ensure_ascii=False) + "\n").encode() for r in sray.read_output(str(tmp_path / "out2")))
    assert _same(parquet, ref.read_bytes())
    assert main(["extract", model_dir, str(src), str(tmp_path / "out2"), "--engine", "ray", "--quiet"]) == 1
    assert "is not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_jsonl_bad_records_and_ids_round_trip(model_dir, tmp_path, local_ray):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([
        json.dumps({"id": 1, "text": OBAMA, "source": "wiki", "tags": [1, "a"]}),
        json.dumps({"id": "1", "text": MICROSOFT}),
        json.dumps({"id": None, "text": PARIS}),
        json.dumps({"id": {"doc": 3}, "text": ""}),
        "{not json",
        json.dumps({"id": 6, "text": None}),
        json.dumps({"id": 7, "text": 12}),
        json.dumps({"title": "no text"}),
        '{"id": 9, "text": "lone \\ud800"}',
        json.dumps([1, 2]),
        "",
        json.dumps({"text": "x" * 300}),
        json.dumps({"text": OBAMA, "score": float("nan")}),
    ]) + "\n", encoding="utf8")
    ref = tmp_path / "ref.jsonl"
    extract(model_dir, str(src), str(ref), max_length=200)
    for fmt in ("jsonl", "parquet"):
        summary = extract(model_dir, str(src), str(tmp_path / fmt), max_length=200, engine="ray",
                          output_format=fmt, batch_size=3)
        got = list(sray.read_output(str(tmp_path / fmt)))
        assert _same("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in got).encode(), ref.read_bytes())
        assert [type(r["id"]) for r in got[:4]] == [int, str, type(None), dict]
        assert (summary.read, summary.written, summary.failed) == (13, 13, 7)
    assert _same(_concat(tmp_path / "jsonl"), ref.read_bytes())


@pytest.mark.slow
def test_ray_reads_parquet_and_folders(model_dir, tmp_path, local_ray):
    shards = tmp_path / "pq"
    shards.mkdir()
    pq.write_table(pa.table({"id": [10, 11, 12], "text": [OBAMA, None, MICROSOFT],
                             "when": [datetime.date(2024, 1, 2)] * 3}), shards / "a.parquet")
    pq.write_table(pa.table({"text": [PARIS, ""], "blob": [b"x", None]}), shards / "b.parquet")
    (shards / "c.parquet").write_bytes(b"not parquet at all")
    (shards / "_SUCCESS").write_text("")
    summary = extract(model_dir, str(shards), str(tmp_path / "out"), engine="ray")
    got = list(sray.read_output(str(tmp_path / "out")))
    assert [r["id"] for r in got] == [10, 11, 12, "b.parquet:1", "b.parquet:2", "c.parquet"]
    assert got[0]["meta"] == {"when": "2024-01-02"} and got[0]["triples"][0]["relation"] == "born_in"
    assert got[1]["error"] == "a.parquet row 2: expected an object with a string 'text' field" and got[1]["line"] == 2
    assert got[3]["error"] == ("b.parquet row 1: column 'blob' holds a bytes value, which JSON cannot hold; "
                               "drop the column or convert it (to text)")
    assert got[4]["warning"] == "empty document" and got[4]["meta"] == {"blob": None}
    assert got[5]["error"].startswith("c.parquet: cannot be read as Parquet")
    assert (summary.read, summary.failed) == (6, 3)
    # a folder of .txt files: one document per file, as extract reads it
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b.txt").write_text(OBAMA, encoding="utf8")
    (folder / "a.txt").write_text("", encoding="utf8")
    (folder / "c.txt").write_bytes(b"\xff")
    (folder / "notes.md").write_text("left out", encoding="utf8")
    extract(model_dir, str(folder), str(tmp_path / "ref.jsonl"))
    extract(model_dir, str(folder), str(tmp_path / "out-docs"), engine="ray")
    assert _same(_concat(tmp_path / "out-docs"), (tmp_path / "ref.jsonl").read_bytes())
    # a folder of JSONL shards, one gzipped: ids and messages name the file
    import gzip

    jsonl = tmp_path / "jsonl"
    (jsonl / "sub").mkdir(parents=True)
    (jsonl / "a.jsonl").write_text(json.dumps({"text": OBAMA}) + "\n{bad\n", encoding="utf8")
    (jsonl / "sub" / "b.jsonl.gz").write_bytes(gzip.compress((json.dumps({"id": "own", "text": PARIS}) + "\n"
                                                                + json.dumps({"text": MICROSOFT}) + "\n").encode()))
    extract(model_dir, str(jsonl), str(tmp_path / "out-jsonl"), engine="ray")
    got = list(sray.read_output(str(tmp_path / "out-jsonl")))
    assert [r["id"] for r in got] == ["a.jsonl:1", None, "own", "sub/b.jsonl.gz:2"]
    assert got[1]["error"].startswith("a.jsonl line 2: malformed JSON") and got[1]["line"] == 2
    assert got[2]["triples"][0]["relation"] == "capital_of" and got[3]["triples"]


@pytest.mark.slow
def test_extract_dataset_on_a_dataset_of_your_own(model_dir, local_ray):
    import ray.data

    items = [{"text": t, "id": f"d{k}", "k": k, "lang": "en"} for k, t in enumerate([OBAMA, MICROSOFT, PARIS] * 10)]
    items[4]["text"] = None
    out = sray.extract_dataset(ray.data.from_items(items), model_dir, num_actors=2, batch_size=4, order_column="k")
    rows = out.take_all()
    assert [r["seq"] for r in rows] == list(range(30))  # in input order
    records = [json.loads(r["record"]) for r in rows]
    assert [r["id"] for r in records] == [f"d{k}" for k in range(30)]
    assert records[0]["meta"] == {"lang": "en"} and records[0]["triples"][0]["relation"] == "born_in"
    assert records[4]["error"] == "row 4: expected an object with a string 'text' field"
    assert [r["failed"] for r in rows].count(True) == 1
    assert sum(r["n_triples"] for r in rows) == sum(len(r.get("triples", [])) for r in records)
    with pytest.raises(ValueError, match="no 'text' column"):
        sray.extract_dataset(ray.data.from_items([{"body": OBAMA}]).materialize(), model_dir)


def _actors():
    """The extraction actors in Ray's GCS actor table (the public state API needs the dashboard)."""
    from ray._private import state

    return [a for a in state.actors().values() if "TripleExtractorActor" in a["ActorClassName"]]


@pytest.mark.slow
def test_a_killed_actor_loses_nothing(model_dir, tmp_path, local_ray):
    n = 3000
    src = tmp_path / "in.jsonl"
    texts = [OBAMA, MICROSOFT, PARIS, "", "The University of Chicago was founded by John Rockefeller ."]
    src.write_text("".join(json.dumps({"id": f"doc-{k}" if k % 3 else k, "text": texts[k % 5] + (" ." * (k % 7))})
                           + "\n" for k in range(n)), encoding="utf8")
    ref = tmp_path / "ref.jsonl"
    extract(model_dir, str(src), str(ref), batch_size=8, progress=False)
    out = tmp_path / "out"
    result = {}

    def run():
        try:
            result["summary"] = sray.extract_to_folder(model_dir, str(src), str(out), num_actors=2, batch_size=8,
                                                       rows_per_shard=500)
        except BaseException as err:  # reported by the assertions below
            result["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 240
    alive = []
    while time.monotonic() < deadline and thread.is_alive() and len(alive) < 2:
        time.sleep(0.05)  # until both actors have loaded the pipeline and are extracting
        alive = [a["Pid"] for a in _actors() if a["State"] == "ALIVE" and a["Pid"]]
    assert thread.is_alive() and len(alive) == 2, "the run ended (or never started) before an actor could be killed"
    time.sleep(0.3)
    os.kill(alive[0], signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive() and "error" not in result, result.get("error")
    # the killed actor was restarted (so it died mid-run) and its batch was done again
    assert any(a["NumRestarts"] > 0 for a in _actors()), "the killed actor was not restarted"
    assert _same(_concat(out), ref.read_bytes())  # one record per input, in order, the same triples
    summary = result["summary"]
    assert (summary.read, summary.written) == (n, n) and len(_shards(out)) > 1


@pytest.fixture(scope="module")
def boom_model_dir(trained_model_dir, tmp_path_factory):
    return save_with_component(trained_model_dir, "triples_test_boom_ray", tmp_path_factory.mktemp("boom"))


BOOM_LINES = [OBAMA, MICROSOFT, BOOM, PARIS, "", OBAMA, BOOM + " again", MICROSOFT]


def _check_isolated(records, reference):
    """Only the BOOM documents failed, with the exception's type and message; the others are the
    reference's records (scores to float rounding)."""
    assert len(records) == len(reference) == len(BOOM_LINES)
    for k, (got, want) in enumerate(zip(records, reference)):
        if "BOOM" in BOOM_LINES[k]:
            assert set(got) == {"id", "text", "error", "line"} and got["text"] == BOOM_LINES[k]
            assert got["error"].startswith(f"document {k + 1}: the pipeline raised RuntimeError: ")
            assert "the test component refuses" in got["error"]
        else:
            assert _same(json.dumps(got).encode(), json.dumps(want).encode())
    assert reference[0]["triples"]


def test_the_actor_isolates_a_failing_document(model_dir, boom_model_dir):
    """The actor's batch (what map_batches gives it) with a document the pipeline raises on: that one
    becomes an error record, the rest of the batch is processed (no Ray needed to call the actor)."""
    from spacy_triples.extract.records import parse_text_line

    records = [(n, parse_text_line(n, text.encode())) for n, text in enumerate(BOOM_LINES, 1)]
    batch = next(sray._blocks(records, 0, 1000))
    results = []
    for model in (model_dir, boom_model_dir):
        table = sray.TripleExtractorActor(model, batch_size=3, max_length=1000, use_gpu=False)(batch)
        assert table.schema == sray.OUTPUT_SCHEMA and table["seq"].to_pylist() == list(range(1, 9))
        results.append(table)
    reference, got = ([json.loads(line) for line in t["record"].to_pylist()] for t in results)
    _check_isolated(got, reference)
    assert results[1]["failed"].to_pylist() == ["BOOM" in line for line in BOOM_LINES]
    assert results[1]["n_triples"].to_pylist() == [
        0 if "BOOM" in line else n for line, n in zip(BOOM_LINES, results[0]["n_triples"].to_pylist())]


def test_the_actor_sets_the_precision_it_is_given(model_dir):
    """--precision reaches every Ray actor: the CNN pipeline has no transformer to quantize, so int8
    warns and the records are those of float32."""
    from spacy_triples.extract.records import parse_text_line

    records = [(n, parse_text_line(n, text.encode())) for n, text in enumerate(BOOM_LINES, 1) if "BOOM" not in text]
    batch = next(sray._blocks(records, 0, 1000))
    plain = sray.TripleExtractorActor(model_dir, batch_size=3, max_length=1000, use_gpu=False)(batch)
    with pytest.warns(UserWarning, match="precision int8: the pipeline has no Hugging Face transformer"):
        actor = sray.TripleExtractorActor(model_dir, batch_size=3, max_length=1000, use_gpu=False, precision="int8")
    assert actor(batch)["record"].to_pylist() == plain["record"].to_pylist()
    with pytest.raises(ValueError, match="must be one of"):
        sray.TripleExtractorActor(model_dir, batch_size=3, max_length=1000, use_gpu=False, precision="int4")


@pytest.mark.slow
def test_ray_isolates_a_failing_document(model_dir, boom_model_dir, tmp_path, local_ray, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("".join(line + "\n" for line in BOOM_LINES), encoding="utf8")
    extract(model_dir, str(src), str(tmp_path / "ref.jsonl"), batch_size=3, progress=False)
    monkeypatch.setattr(sray.actors, "TripleExtractorActor", BoomActor)  # the class extract_dataset maps with
    summary = sray.extract_to_folder(boom_model_dir, str(src), str(tmp_path / "out"), batch_size=3)
    _check_isolated(list(sray.read_output(str(tmp_path / "out"))), _lines(tmp_path / "ref.jsonl"))
    assert (summary.read, summary.written, summary.failed) == (8, 8, 2)


def test_a_row_with_an_unusable_id_keeps_what_it_can():
    record = sray.record_from_row({"id": b"\x01", "text": OBAMA}, "row 1", 1, 1)
    assert record.id is None and "column 'id' holds a bytes value" in record.error
    record = sray.record_from_row({"text": OBAMA, "blob": b"x"}, "row 2", "f.parquet:2", 2)
    assert record.id == "f.parquet:2" and record.line == 2
