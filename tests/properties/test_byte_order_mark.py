"""Issue 41, item 2: a UTF-8 byte-order mark at the start of a file (Windows tools write one) is not part
of the text. Every reader drops it: the file with a BOM gives exactly what the same file without it gives
(same texts, records and documents, so character offsets stay right), and nothing is counted for it."""
import io
import json
import sys

import pytest

from spacy_triples.cli import convert, extract, read_dataset
from spacy_triples.convert import load_schema
from spacy_triples.export import AnnotationExport, read_documents, read_triples
from spacy_triples.extract.local import read_inputs
from ..util import FIXTURES

BOM = "\ufeff".encode("utf8")
OBAMA = "Barack Obama was born in Honolulu ."
MICROSOFT = "Microsoft hired Satya Nadella in Redmond ."


def _pair(tmp_path, name: str, data: bytes):
    """The same file, ``plain/<name>`` without and ``bom/<name>`` with a byte-order mark (same name, so
    that ids and sources taken from the name agree)."""
    paths = []
    for folder, prefix in (("plain", b""), ("bom", BOM)):
        path = tmp_path / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(prefix + data)
        paths.append(path)
    assert paths[1].read_bytes()[:3] == b"\xef\xbb\xbf"
    return paths


# ---------------------------------------------------------------------------------- extract's readers
def test_extract_text_lines(tmp_path):
    plain, bom = _pair(tmp_path, "in.txt", f"{OBAMA}\n{MICROSOFT}\n".encode("utf8"))
    records = list(read_inputs(str(bom)))
    assert records == list(read_inputs(str(plain)))
    assert records[0].text == OBAMA and records[0].error is None


def test_extract_jsonl(tmp_path):
    data = (json.dumps({"id": "a", "text": OBAMA, "source": "x"}) + "\n" + json.dumps({"text": MICROSOFT}) + "\n")
    plain, bom = _pair(tmp_path, "in.jsonl", data.encode("utf8"))
    records = list(read_inputs(str(bom)))
    assert records == list(read_inputs(str(plain)))
    assert records[0].id == "a" and records[0].error is None and records[0].meta == {"source": "x"}


def test_extract_folder_of_txt_files(tmp_path):
    for folder, prefix in (("plain", b""), ("bom", BOM)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.txt").write_bytes(prefix + OBAMA.encode("utf8"))
        (tmp_path / folder / "b.txt").write_bytes(prefix + b"\n" + MICROSOFT.encode("utf8"))
    records = list(read_inputs(str(tmp_path / "bom")))
    assert records == list(read_inputs(str(tmp_path / "plain")))
    assert [r.text for r in records] == [OBAMA, "\n" + MICROSOFT]


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_extract_stdin(monkeypatch, fmt):
    data = (OBAMA if fmt == "text" else json.dumps({"text": OBAMA})).encode("utf8") + b"\nxyz\n"
    got = []
    for prefix in (b"", BOM):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(prefix + data), encoding="utf8"))
        got.append(list(read_inputs("-", fmt)))
    assert got[0] == got[1] and got[1][0].text == OBAMA and got[1][0].error is None


def test_only_the_mark_at_the_start_is_dropped(tmp_path):
    """U+FEFF inside the text (a zero-width no-break space) is text, and a file of only a BOM is empty."""
    src = tmp_path / "in.txt"
    src.write_bytes(BOM + BOM + b"x\n" + BOM + b"y\n")
    assert [r.text for r in read_inputs(str(src))] == ["\ufeffx", "\ufeffy"]
    src.write_bytes(BOM)
    assert list(read_inputs(str(src))) == []


def test_extract_output_offsets_ignore_the_mark(trained_model_dir, tmp_path):
    """The whole run: the same JSON lines, so the first entity is "Barack Obama" at [0, 12]."""
    plain, bom = _pair(tmp_path, "in.txt", f"{OBAMA}\n{MICROSOFT}\n".encode("utf8"))
    out = []
    for src in (plain, bom):
        path = src.parent / "out.jsonl"
        summary = extract(str(trained_model_dir), str(src), str(path), progress=False)
        assert (summary.read, summary.failed) == (2, 0)
        out.append(path.read_bytes())
    assert out[0] == out[1]
    first = json.loads(out[1].split(b"\n")[0])["triples"][0]
    assert (first["subject"], first["subject_chars"]) == ("Barack Obama", [0, 12])


# ---------------------------------------------------------------------------------- the Ray engine's reader
@pytest.mark.parametrize("fmt,name,data", [
    ("text", "in.txt", f"{OBAMA}\n{MICROSOFT}\n"),
    ("jsonl", "in.jsonl", json.dumps({"id": 1, "text": OBAMA}) + "\n" + json.dumps({"text": MICROSOFT}) + "\n"),
    ("files", "a.txt", OBAMA),
])
def test_ray_reader(fmt, name, data):
    """The records Ray's datasource parses from a file's stream (the code each read task runs)."""
    pytest.importorskip("ray")
    pa = pytest.importorskip("pyarrow")
    from spacy_triples.extract.ray_engine import RecordsDatasource

    source = RecordsDatasource.__new__(RecordsDatasource)  # no Ray needed to parse a stream
    source._fmt = fmt
    got = []
    for prefix in (b"", BOM):
        got.append(list(source._records(pa.BufferReader(prefix + data.encode("utf8")), name, False)))
    assert got[0] == got[1] and got[1][0][1].text == OBAMA and got[1][0][1].error is None


def test_ray_output_reader(tmp_path):
    """read_output (--show, tests) reads shards the same with a mark (a shard edited on Windows)."""
    pytest.importorskip("ray")
    from spacy_triples.extract.ray_engine import read_output

    line = json.dumps({"id": 1, "text": OBAMA, "triples": []}) + "\n"
    plain, bom = _pair(tmp_path, "part-00000000000000000001.jsonl", line.encode("utf8"))
    assert list(read_output(str(bom.parent))) == list(read_output(str(plain.parent))) == [json.loads(line)]


# ---------------------------------------------------------------------------------- convert's readers
DOCCANO = json.dumps({"id": 1, "text": OBAMA, "entities": [
    {"id": 10, "label": "PER", "start_offset": 0, "end_offset": 12},
    {"id": 11, "label": "LOC", "start_offset": 25, "end_offset": 33}],
    "relations": [{"id": 0, "from_id": 10, "to_id": 11, "type": "born_in"}]}) + "\n"
LABELSTUDIO = json.dumps([{"data": {"text": OBAMA}, "annotations": [{"result": [
    {"id": "e0", "from_name": "label", "to_name": "text", "type": "labels",
     "value": {"start": 0, "end": 12, "text": "Barack Obama", "labels": ["PER"]}},
    {"id": "e1", "from_name": "label", "to_name": "text", "type": "labels",
     "value": {"start": 25, "end": 33, "text": "Honolulu", "labels": ["LOC"]}},
    {"type": "relation", "from_id": "e0", "to_id": "e1", "direction": "right", "labels": ["born_in"]}]}]}])


def _doc_summary(doc):
    return (doc.text, [t.text for t in doc], [t.to_dict() for t in doc._.triples],
            {key: [(s.start, s.end, s.label_) for s in group] for key, group in doc.spans.items()},
            doc.user_data.get("source"))


@pytest.mark.parametrize("name,fmt,data", [
    ("casrel.json", "casrel", None),
    ("spert.json", "spert", None),
    ("unified_bad.json", "unified", None),
    ("duie1.jsonl", "duie", None),
    ("duie2.jsonl", "duie", None),
    ("prodigy.jsonl", "prodigy", None),
    ("triples.jsonl", "jsonl", None),
    ("doccano.jsonl", "doccano", DOCCANO),
    ("labelstudio.json", "labelstudio", LABELSTUDIO),
    ("labelstudio.jsonl", "labelstudio", "\n".join(json.dumps(t) for t in json.loads(LABELSTUDIO)) + "\n"),
])
@pytest.mark.parametrize("given", [False, True], ids=["auto", "format"])
def test_convert_every_format(tmp_path, name, fmt, data, given):
    raw = (FIXTURES / name).read_bytes() if data is None else data.encode("utf8")
    assert not raw.startswith(BOM)
    results = []
    for path in _pair(tmp_path, name, raw):
        docs, report = read_dataset(str(path), fmt if given else "auto")
        results.append(([_doc_summary(doc) for doc in docs], report.as_dict()))
    assert results[0] == results[1]
    assert results[1][0] and not results[1][0][0][0].startswith("\ufeff")


def test_convert_writes_the_same_docbin(tmp_path):
    """The .spacy file itself: the same bytes with or without the mark."""
    written = []
    for path in _pair(tmp_path, "casrel.json", (FIXTURES / "casrel.json").read_bytes()):
        convert(str(path), str(path.with_suffix(".spacy")))
        written.append(path.with_suffix(".spacy").read_bytes())
    assert written[0] == written[1]


@pytest.mark.parametrize("name,data", [
    ("schema.json", json.dumps({"born_in": 0, "works_for": 1})),
    ("id2rel.json", json.dumps([{"0": "born_in"}, {"born_in": 0}])),
    ("duie_list.json", json.dumps([{"predicate": "born_in"}, {"predicate": "works_for"}])),
    ("duie_schema.jsonl", json.dumps({"predicate": "born_in"}) + "\n" + json.dumps({"predicate": "works_for"})),
    ("relations.txt", "born_in\nworks_for\n"),
])
def test_convert_schema_files(tmp_path, name, data):
    plain, bom = _pair(tmp_path, name, data.encode("utf8"))
    names = load_schema(bom)
    assert names == load_schema(plain) and "born_in" in names


# ---------------------------------------------------------------------------------- export's readers
def _extract_jsonl():
    records = [
        {"id": 1, "text": OBAMA, "triples": [{"subject": "Barack Obama", "subject_chars": [0, 12],
                                               "subject_label": "PER", "relation": "born_in", "object": "Honolulu",
                                               "object_chars": [25, 33], "object_label": "LOC", "score": 0.9}]},
        {"id": 2, "text": "xyz", "error": "line 2: malformed JSON"},
    ]
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf8")


def test_export_read_triples(tmp_path):
    plain, bom = _pair(tmp_path, "out.jsonl", _extract_jsonl())
    triples = list(read_triples(str(bom)))
    assert triples == list(read_triples(str(plain))) and len(triples) == 1


def test_export_read_documents(tmp_path):
    plain, bom = _pair(tmp_path, "out.jsonl", _extract_jsonl())
    got = []
    for path in (plain, bom):
        summary = AnnotationExport()
        got.append((list(read_documents(str(path), summary)), summary.line()))
    assert got[0] == got[1] and got[1][0][0]["text"] == OBAMA


def test_export_command_writes_the_same_file(tmp_path):
    from spacy_triples.export import export

    written = []
    for path in _pair(tmp_path, "out.jsonl", _extract_jsonl()):
        export(str(path), str(path.with_suffix(".csv")))
        written.append(path.with_suffix(".csv").read_bytes())
    assert written[0] == written[1] and b"Barack Obama" in written[1]



@pytest.mark.parametrize("content", [
    "Live_In: [Peop] -> [Loc, Org]\nWork_For: [Peop] -> [Org]\n",
    '{"predicate": "作者", "subject_type": "图书作品", "object_type": {"@value": "人物"}}\n',
    '[{"predicate": "作者", "subject_type": "歌曲", "object_type": "人物"}]',
], ids=["text", "duie-jsonl", "duie-list"])
def test_the_pipelines_relation_schema_reader_drops_a_bom(tmp_path, content):
    # the schema a triple_extractor stores in its cfg (schema.py), not convert's: "\ufeffLive_In" would
    # silently be a relation no prediction has
    from spacy_triples.schema import load_relation_schema

    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    plain.write_text(content, encoding="utf8")
    marked.write_bytes(b"\xef\xbb\xbf" + content.encode("utf8"))
    assert load_relation_schema(marked) == load_relation_schema(plain) != {}
