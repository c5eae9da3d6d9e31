"""Issue 18: careless or hostile input loses nothing and injects nothing (extract, render, convert,
export, and the CLI around them)."""
import json
import os
from pathlib import Path

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, DocBin

from spacy_triples import render
from spacy_triples.cli import convert, extract, main, read_dataset
from spacy_triples.convert import ConversionError, detect_format
from spacy_triples.export import read_triples, slug
from spacy_triples.extract.local import extract_to_jsonl, read_inputs

from ..util import TRAIN_DATA

OBAMA = "Barack Obama was born in Honolulu ."
MICROSOFT = "Microsoft hired Satya Nadella in Redmond ."


@pytest.fixture(scope="module")
def model_dir(trained_model_dir):
    return str(trained_model_dir)


@pytest.fixture(scope="module")
def nlp(trained_model_dir):
    return spacy.load(trained_model_dir)


def _records(path):
    # JSON lines end at "\n" only (str.splitlines would also split at U+0085 or U+2028 inside a string)
    return [json.loads(line) for line in Path(path).read_text(encoding="utf8").split("\n") if line]


def _jsonl(path, *records):
    Path(path).write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf8")
    return str(path)


# ---------------------------------------------------------------------- 1. data loss in extract
def test_extract_refuses_its_input_as_output(model_dir, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(OBAMA + "\n", encoding="utf8")
    assert main(["extract", model_dir, str(src), str(src), "--quiet"]) == 1
    assert "is the input" in capsys.readouterr().err
    assert src.read_text(encoding="utf8") == OBAMA + "\n"
    # also through another spelling of the same path, and through a hard link
    os.link(src, tmp_path / "link.txt")
    assert main(["extract", model_dir, str(tmp_path / "." / "in.txt"), str(tmp_path / "link.txt"), "--quiet"]) == 1
    assert src.read_text(encoding="utf8") == OBAMA + "\n"


def test_resume_on_a_foreign_file_leaves_it_untouched(model_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(OBAMA + "\n" + MICROSOFT + "\n", encoding="utf8")
    # a JSONL file that is not extract output (and ends without a newline)
    foreign = tmp_path / "notes.jsonl"
    foreign.write_bytes(b'{"note": 1}\n{"note": 2}\n{"note": 3')
    before = foreign.read_bytes()
    with pytest.raises(ValueError, match="Cannot resume.*line 1 is not a record written by 'extract'"):
        extract(model_dir, str(src), str(foreign), resume=True, progress=False)
    assert foreign.read_bytes() == before
    # extract output of another input, with a partial last line: refused before the cut
    other = tmp_path / "other.jsonl"
    other.write_bytes(b'{"id": "z", "text": "x", "triples": []}\n{"id": "y", "te')
    before = other.read_bytes()
    with pytest.raises(ValueError, match="Cannot resume"):
        extract(model_dir, str(src), str(other), resume=True, progress=False)
    assert other.read_bytes() == before


def test_document_over_spacys_max_length(model_dir, tmp_path):
    src = tmp_path / "in.txt"
    long_doc = "x" * 1_000_050
    src.write_text(OBAMA + "\n" + long_doc + "\n" + MICROSOFT + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    assert main(["extract", model_dir, str(src), str(out), "--quiet", "--max-length", "2000000"]) == 0
    records = _records(out)
    assert [r["id"] for r in records] == [1, 2, 3]
    assert "error" not in records[1] and records[1]["triples"] == []
    assert records[0]["triples"][0]["relation"] == "born_in" and records[2]["triples"]


def test_folder_with_entries_that_are_not_files(model_dir, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(OBAMA, encoding="utf8")
    (folder / "b.txt").mkdir()  # a folder with a .txt name
    (folder / "c.txt").symlink_to(tmp_path / "missing-target.txt")  # a broken link
    (folder / "d.txt").write_text(MICROSOFT, encoding="utf8")
    out = tmp_path / "out.jsonl"
    summary = extract(model_dir, str(folder), str(out), progress=False)
    records = _records(out)
    assert [r["id"] for r in records] == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert "cannot be read as a file" in records[1]["error"] and "cannot be read as a file" in records[2]["error"]
    assert records[0]["triples"] and records[3]["triples"]
    assert (summary.written, summary.failed) == (4, 2)


@pytest.mark.parametrize("option,value", [("--batch-size", "0"), ("--batch-size", "-3"), ("--max-length", "0"),
                                          ("--n-process", "0"), ("--gpu-id", "-2")])
def test_extract_options_are_validated(model_dir, tmp_path, capsys, option, value):
    src = tmp_path / "in.txt"
    src.write_text(OBAMA + "\n", encoding="utf8")
    with pytest.raises(SystemExit) as exc:
        main(["extract", model_dir, str(src), str(tmp_path / "out.jsonl"), option, value])
    assert exc.value.code == 2 and option in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_extract_function_refuses_zero_batch_size(model_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(OBAMA + "\n", encoding="utf8")
    with pytest.raises(ValueError, match="--batch-size must be a positive integer"):
        extract(model_dir, str(src), str(tmp_path / "out.jsonl"), batch_size=0, progress=False)
    assert not (tmp_path / "out.jsonl").exists()


def test_missing_input_does_not_truncate_the_output(model_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n", encoding="utf8")
    assert main(["extract", model_dir, str(tmp_path / "nope.txt"), str(out), "--quiet"]) == 1
    assert out.read_text(encoding="utf8") == "precious\n"


# ---------------------------------------------------------------------- 2. script injection in render
def test_render_escapes_relation_and_entity_labels():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words="Barack Obama was born in Honolulu .".split())
    subj, obj = doc[0:2], doc[5:6]
    subj.label_ = "<img src=x onerror=alert(2)>"
    obj.label_ = "LOC"
    doc._.triples = [(subj, "<script>alert(1)</script>", obj, 0.9)]
    markup = render(doc, jupyter=False)
    assert "<script>" not in markup and "<img" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "&lt;img src=x onerror=alert(2)&gt;" in markup


# ---------------------------------------------------------------------- 5. convert writes wrong gold
def test_convert_skips_extract_error_records(tmp_path):
    src = _jsonl(tmp_path / "pred.jsonl",
                 {"id": 1, "text": OBAMA, "triples": []},
                 {"id": 2, "text": "x" * 50, "error": "document 2 has 50 characters, more than --max-length 10", "line": 2},
                 {"id": None, "text": "", "error": "line 3: malformed JSON", "line": 3})
    report = convert(src, str(tmp_path / "out.spacy"))
    counts = report.as_dict()
    assert counts["records read"] == 3 and counts["docs written"] == 1
    assert counts["records skipped: extract error record (no prediction to learn from)"] == 2
    # extract output that starts with an error record is still recognised
    src2 = _jsonl(tmp_path / "pred2.jsonl", {"id": None, "text": "", "error": "x", "line": 1},
                  {"id": 2, "text": OBAMA, "triples": []})
    assert detect_format(Path(src2)) == "jsonl"


def test_spert_negative_entity_index_is_not_the_last_entity(tmp_path):
    record = {"tokens": OBAMA.split(), "entities": [{"type": "PER", "start": 0, "end": 2}, {"type": "LOC", "start": 5, "end": 6}],
              "relations": [{"type": "born_in", "head": 0, "tail": 1}, {"type": "born_in", "head": -1, "tail": 0},
                            {"type": "born_in", "head": True, "tail": 0}]}
    (tmp_path / "s.json").write_text(json.dumps([record]))
    report = convert(str(tmp_path / "s.json"), str(tmp_path / "s.spacy"), fmt="spert")
    counts = report.as_dict()
    assert counts["triples written"] == 1
    assert counts["triples skipped: entity index not an entity of the record"] == 2
    (doc,) = DocBin().from_disk(tmp_path / "s.spacy").get_docs(spacy.blank("en").vocab)
    assert [(t.subject.text, t.object.text) for t in doc._.triples] == [("Barack Obama", "Honolulu")]


def test_null_and_empty_relations_are_skipped_in_every_format(tmp_path):
    words = OBAMA.split()
    unified = [{"tokens": words, "entities": [[0, 2, "PER"], [5, 6, None]],
                "relations": [[0, 2, 5, 6, None], [0, 2, 5, 6, ""], [0, 2, 5, 6, "born_in"]]}]
    (tmp_path / "u.json").write_text(json.dumps(unified))
    spert = [{"tokens": words, "entities": [{"type": None, "start": 0, "end": 2}, {"type": "LOC", "start": 5, "end": 6}],
              "relations": [{"type": None, "head": 0, "tail": 1}, {"type": "born_in", "head": 0, "tail": 1}]}]
    (tmp_path / "s.json").write_text(json.dumps(spert))
    _jsonl(tmp_path / "j.jsonl", {"text": OBAMA, "triples": [
        {"subject_chars": [0, 12], "relation": None, "object_chars": [25, 33]},
        {"subject_chars": [0, 12], "relation": "  ", "object_chars": [25, 33]},
        {"subject_chars": [0, 12], "relation": "born_in", "object_chars": [25, 33]}]})
    _jsonl(tmp_path / "d.jsonl", {"text": OBAMA, "spo_list": [
        {"subject": "Barack Obama", "predicate": None, "object": "Honolulu"},
        {"subject": "Barack Obama", "predicate": "born_in", "object": "Honolulu"}]})
    (tmp_path / "c.json").write_text(json.dumps([{"text": OBAMA, "triple_list": [
        ["Barack Obama", "", "Honolulu"], ["Barack Obama", "born_in", "Honolulu"]]}]))
    for name, fmt, skipped in [("u.json", "unified", 2), ("s.json", "spert", 1), ("j.jsonl", "jsonl", 2),
                               ("d.jsonl", "duie", 1), ("c.json", "casrel", 1)]:
        report = convert(str(tmp_path / name), str(tmp_path / f"{name}.spacy"), fmt=fmt, lang="en")
        counts = report.as_dict()
        assert counts["triples skipped: relation label missing, empty or not a string"] == skipped, name
        assert counts["triples written"] == 1, name
        (doc,) = DocBin().from_disk(tmp_path / f"{name}.spacy").get_docs(spacy.blank("en").vocab)
        assert [t.relation for t in doc._.triples] == ["born_in"], name
        assert "None" not in {t.subject.label_ for t in doc._.triples} | {t.object.label_ for t in doc._.triples}


def test_booleans_and_strings_are_not_offsets(tmp_path):
    words = OBAMA.split()
    (tmp_path / "u.json").write_text(json.dumps([{"tokens": words, "entities": [],
                                                  "relations": [[False, True, 5, 6, "born_in"], [0, 2, "5", 6, "born_in"]]}]))
    report = convert(str(tmp_path / "u.json"), str(tmp_path / "u.spacy"), fmt="unified")
    assert report.as_dict()["triples written"] == 0
    assert report.as_dict()["triples skipped: span outside the tokens"] == 2
    _jsonl(tmp_path / "j.jsonl", {"text": OBAMA, "triples": [
        {"subject_chars": [False, True], "relation": "born_in", "object_chars": [25, 33]},
        {"subject_chars": ["0", "12"], "relation": "born_in", "object_chars": [25, 33]},
        {"subject_chars": [0.0, 12.0], "relation": "born_in", "object_chars": [25, 33]}]})
    report = convert(str(tmp_path / "j.jsonl"), str(tmp_path / "j.spacy"))
    assert report.as_dict()["triples skipped: malformed triple"] == 3
    prodigy = {"tokens": [{"text": w} for w in words], "relations": [
        {"head_span": {"token_start": False, "token_end": True}, "child_span": {"token_start": 5, "token_end": 5}, "label": "born_in"}]}
    _jsonl(tmp_path / "p.jsonl", prodigy)
    report = convert(str(tmp_path / "p.jsonl"), str(tmp_path / "p.spacy"), fmt="prodigy")
    assert report.as_dict()["triples skipped: malformed triple"] == 1


# ---------------------------------------------------------------------- 6. export merges entities
def _pred(tmp_path, pairs):
    """extract-style JSONL: one document per (subject, object) pair, 'subject rel object .'"""
    lines = []
    for n, (subj, obj) in enumerate(pairs):
        text = f"{subj} uses {obj} ."
        o0 = len(subj) + 6
        lines.append({"id": n, "text": text, "triples": [
            {"subject": subj, "subject_chars": [0, len(subj)], "relation": "uses", "object": obj,
             "object_chars": [o0, o0 + len(obj)], "score": 0.5}]})
    return _jsonl(tmp_path / "pred.jsonl", *lines)


def test_export_keeps_distinct_entities_distinct(tmp_path):
    rdflib = pytest.importorskip("rdflib")
    networkx = pytest.importorskip("networkx")
    names = ["C", "C++", "C#", "😀", "😎", "a_b", "a b", "100%"]
    src = _pred(tmp_path, [(name, "X") for name in names])
    assert len({slug(n) for n in names}) == len(names)
    assert slug("Barack  Obama") == slug("barack obama") == "barack_obama"  # normalisation still merges these
    assert main(["export", src, str(tmp_path / "t.nt")]) == 0
    graph = rdflib.Graph().parse(tmp_path / "t.nt", format="nt")
    entities = {str(s) for s in graph.subjects(rdflib.URIRef("http://example.org/triples/relation/uses"))}
    assert len(entities) == len(names)
    labels = {str(graph.value(rdflib.URIRef(e), rdflib.RDFS.label)) for e in entities}
    assert labels == set(names)
    assert main(["export", src, str(tmp_path / "g.graphml")]) == 0
    g = networkx.read_graphml(tmp_path / "g.graphml")
    assert g.number_of_nodes() == len(names) + 1 and {g.nodes[n]["text"] for n in g} == set(names) | {"X"}


def test_graphml_with_control_characters_reads_back(tmp_path):
    networkx = pytest.importorskip("networkx")
    src = _pred(tmp_path, [("a\x07b", "c\x00d"), ("a\x1bb", "e\ufffef")])
    assert main(["export", src, str(tmp_path / "g.graphml")]) == 0
    g = networkx.read_graphml(tmp_path / "g.graphml")
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 2
    assert {g.nodes[n]["text"] for n in g} == {"a\ufffdb", "c\ufffdd", "e\ufffdf"}


# ---------------------------------------------------------------------- 7. ids and messages
def test_error_records_keep_their_own_id_and_get_a_line(model_dir, tmp_path):
    src = _jsonl(tmp_path / "in.jsonl",
                 {"id": 1, "text": OBAMA},
                 {"id": 100, "text": 5},
                 "{broken",
                 {"id": 2, "text": MICROSOFT},
                 [1, 2],
                 {"text": OBAMA})
    out = tmp_path / "out.jsonl"
    extract(model_dir, src, str(out), progress=False)
    records = _records(out)
    assert [r["id"] for r in records] == [1, 100, None, 2, None, 6]
    assert [r.get("line") for r in records] == [None, 2, 3, None, 5, None]
    assert records[1]["error"].startswith("line 2:") and records[2]["error"].startswith("line 3: malformed JSON")
    ids = [r["id"] for r in records if r["id"] is not None]
    assert len(ids) == len(set(ids))


def test_lone_surrogates_become_error_records(model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "bad \\ud800 text"}\n{"id": 2, "text": "ok", "meta": "\\udfff"}\n'
                   + json.dumps({"id": 3, "text": OBAMA}) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    summary = extract(model_dir, str(src), str(out), progress=False)
    records = _records(out)
    assert [r["id"] for r in records] == [1, 2, 3] and summary.failed == 2
    assert "lone surrogate" in records[0]["error"] and records[0]["line"] == 1
    assert records[2]["triples"][0]["relation"] == "born_in"


def test_export_of_convert_style_jsonl_and_bad_records(tmp_path, capsys):
    # convert-style JSONL: no subject/object text, labels optional; the text fills them in
    src = _jsonl(tmp_path / "gold.jsonl", {"text": OBAMA, "triples": [
        {"subject_chars": [0, 12], "relation": "born_in", "object_chars": [25, 33]}]})
    (row,) = list(read_triples(src))
    assert (row["subject"], row["object"], row["doc_id"]) == ("Barack Obama", "Honolulu", 1)
    for bad, message in [({"text": OBAMA, "triples": None}, "'triples' must be a list"),
                         ({"triples": [{"subject_chars": [0, 12], "relation": "r", "object_chars": [25, 33]}]}, "no 'subject' text"),
                         ({"text": OBAMA, "triples": [{"subject_chars": [0, 12], "relation": "r", "object_chars": [25, 33], "score": "high"}]}, "'score'"),
                         ([1, 2], "expected a JSON object")]:
        path = _jsonl(tmp_path / "bad.jsonl", {"text": OBAMA, "triples": []}, bad)
        assert main(["export", path, str(tmp_path / "out.csv")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "bad.jsonl, line 2" in err and message in err, err
        assert "Traceback" not in err


def test_failed_export_leaves_no_partial_file(tmp_path, capsys):
    good = {"id": 1, "text": OBAMA, "triples": [{"subject": "Barack Obama", "subject_chars": [0, 12], "relation": "born_in",
                                                 "object": "Honolulu", "object_chars": [25, 33]}]}
    src = _jsonl(tmp_path / "pred.jsonl", *([good] * 50), "{broken")
    for suffix in ("jsonl", "csv", "nt", "graphml"):
        out = tmp_path / f"out.{suffix}"
        assert main(["export", src, str(out)]) == 1
        assert "pred.jsonl, line 51: malformed JSON" in capsys.readouterr().err
        assert not out.exists(), suffix
        assert not list(tmp_path.glob(".out*")), suffix  # no temporary file left behind
    # an existing output stays as it was
    (tmp_path / "out.csv").write_text("old\n")
    assert main(["export", src, str(tmp_path / "out.csv")]) == 1
    assert (tmp_path / "out.csv").read_text() == "old\n"


def test_convert_malformed_structures_are_clear_errors(tmp_path, capsys):
    (tmp_path / "u.json").write_text(json.dumps([{"tokens": ["a", "b"], "entities": 5, "relations": []}]))
    assert main(["convert", str(tmp_path / "u.json"), str(tmp_path / "u.spacy"), "--format", "unified"]) == 1
    err = capsys.readouterr().err
    assert "u.json, record 1: 'entities' must be a list" in err and "Traceback" not in err
    (tmp_path / "s.json").write_text(json.dumps([{"tokens": ["a", "b"], "entities": [], "relations": {"x": 1}}]))
    with pytest.raises(ConversionError, match="s.json, record 1: 'relations' must be a list"):
        convert(str(tmp_path / "s.json"), str(tmp_path / "s.spacy"), fmt="spert")
    assert not (tmp_path / "u.spacy").exists() and not (tmp_path / "s.spacy").exists()


def test_extract_output_that_cannot_be_written(model_dir, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(OBAMA + "\n", encoding="utf8")
    (tmp_path / "outdir").mkdir()
    assert main(["extract", model_dir, str(src), str(tmp_path / "outdir"), "--quiet"]) == 1
    assert "is a directory" in capsys.readouterr().err
    (tmp_path / "plain").write_text("x")  # a folder that cannot be made: its parent is a file
    assert main(["extract", model_dir, str(src), str(tmp_path / "plain" / "out.jsonl"), "--quiet"]) == 1
    assert "Cannot write the output" in capsys.readouterr().err
    if Path("/dev/full").exists():  # a disk that is full
        assert main(["extract", model_dir, str(src), "/dev/full", "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "No space left" in err and "--resume" in err and "Traceback" not in err


# ---------------------------------------------------------------------- same class, elsewhere
def test_convert_and_export_refuse_their_input_as_output(tmp_path, capsys):
    src = _pred(tmp_path, [("Barack Obama", "Honolulu")])
    before = Path(src).read_bytes()
    assert main(["export", src, src]) == 1
    assert main(["convert", src, src]) == 1
    assert "is the input" in capsys.readouterr().err
    assert Path(src).read_bytes() == before


def test_clear_errors_for_bad_paths_and_options(model_dir, tmp_path, capsys):
    src = _pred(tmp_path, [("Barack Obama", "Honolulu")])
    assert main(["extract", str(tmp_path / "no-model"), src, str(tmp_path / "o.jsonl"), "--quiet"]) == 1
    assert "Cannot load the pipeline" in capsys.readouterr().err
    assert main(["export", src, str(tmp_path / "t.ttl"), "--namespace", "not an iri"]) == 1
    assert "--namespace" in capsys.readouterr().err
    (tmp_path / "bad.spacy").write_bytes(b"\x00garbage")
    assert main(["export", str(tmp_path / "bad.spacy"), str(tmp_path / "t.csv")]) == 1
    assert "not a readable .spacy DocBin" in capsys.readouterr().err
    assert main(["convert", src, str(tmp_path / "x.spacy"), "--schema", str(tmp_path / "none.txt")]) == 1
    assert "Schema file" in capsys.readouterr().err
    assert main(["convert", src, str(tmp_path / "x.spacy"), "--lang", "qqq"]) == 1
    assert "Unknown --lang" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["render", model_dir, "text", "--limit", "0"])
    assert main(["stats", str(tmp_path / "bad.spacy")]) == 1
    assert "not a readable .spacy DocBin" in capsys.readouterr().err
    (tmp_path / "latin1.jsonl").write_bytes(b'{"text": "a", "triples": []}\n{"text": "caf\xe9", "triples": []}\n')
    assert main(["convert", str(tmp_path / "latin1.jsonl"), str(tmp_path / "x.spacy")]) == 1
    assert "latin1.jsonl, line 2: invalid UTF-8 at byte 13" in capsys.readouterr().err


def test_render_cli_skips_error_records_and_writes_atomically(model_dir, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": OBAMA}) + "\n{broken\n", encoding="utf8")
    out = tmp_path / "page.html"
    assert main(["render", model_dir, "--input", str(src), "--output", str(out)]) == 0
    assert "born_in" in out.read_text(encoding="utf8")
    assert "line 2: malformed JSON" in capsys.readouterr().err
    assert main(["render", model_dir, "--input", str(src), "--output", str(src)]) == 1
    assert "{broken" in src.read_text(encoding="utf8")


# ---------------------------------------------------------------------- property: extract -> export -> convert
TEXTS = [" ".join(words) for words, _ in TRAIN_DATA[:5]] + ["xyz", "Paris is nice .", ""]
INVALID = ["{broken", "[1, 2]", '{"id": 9}', '{"text": 5, "id": "t"}', '{"text": "a \\ud800 b"}', "null", '"just a string"']


@st.composite
def input_lines(draw):
    lines = []
    for k in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            record = {"text": draw(st.sampled_from(TEXTS))}
            if draw(st.booleans()):
                record["id"] = draw(st.one_of(st.integers(-5, 10**6), st.text(max_size=5)))
            if draw(st.booleans()):
                record["source"] = draw(st.text(max_size=5))
            lines.append(json.dumps(record, ensure_ascii=draw(st.booleans())))
        else:
            lines.append(draw(st.sampled_from(INVALID)))
    return lines


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=input_lines())
def test_extract_export_convert_keep_every_record_and_exact_triples(nlp, tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("chain")
    src = folder / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf8")
    with open(folder / "out.jsonl", "w", encoding="utf8") as out:
        summary = extract_to_jsonl(nlp, read_inputs(str(src)), out, batch_size=3, progress=False)
    records = _records(folder / "out.jsonl")
    assert len(records) == len(lines) == summary.written  # one record per input line, in order
    for n, (line, record) in enumerate(zip(lines, records), 1):
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if isinstance(data, dict) and "text" in data and isinstance(data["text"], str) and "\ud800" not in data["text"]:
            assert "error" not in record and record["id"] == data.get("id", n) and record["text"] == data["text"]
        else:
            assert "error" in record and record["line"] == n and "triples" not in record
            assert record["id"] == (data.get("id", n) if isinstance(data, dict) else None)
    # export: exactly the predicted triples, one row each
    rows = list(read_triples(str(folder / "out.jsonl")))
    expected = [(r["id"], t["subject"], t["subject_chars"], t["relation"], t["object"], t["object_chars"], t["score"])
                for r in records for t in r.get("triples", [])]
    assert [(r["doc_id"], r["subject"], [r["subject_start"], r["subject_end"]], r["relation"], r["object"],
             [r["object_start"], r["object_end"]], r["score"]) for r in rows] == expected
    assert main(["export", str(folder / "out.jsonl"), str(folder / "t.csv")]) == 0
    # convert: every record accounted for, the same triples as gold
    docs, report = read_dataset(str(folder / "out.jsonl"), fmt="jsonl")
    docs = list(docs)
    report.check()
    assert report.records_read == len(lines)
    assert report.docs_written == sum(1 for r in records if "error" not in r and r["text"].strip())
    kept = [r for r in records if "error" not in r and r["text"].strip()]
    for doc, record in zip(docs, kept):
        assert doc.text == record["text"]
        assert sorted((t.subject.start_char, t.subject.end_char, t.subject.label_, t.relation, t.object.start_char,
                       t.object.end_char, t.object.label_) for t in doc._.triples) == sorted(
            (*t["subject_chars"], t["subject_label"], t["relation"], *t["object_chars"], t["object_label"])
            for t in record["triples"])


@pytest.mark.parametrize("raw,message", [
    (b'{"text": "caf\xe9"}\n', "f.jsonl, line 4: invalid UTF-8 at byte 13."),
    (b'{"text": \n', "f.jsonl, line 4: malformed JSON (Expecting value)."),
    (b"[" * 100_000, "f.jsonl, line 4: malformed JSON (nested too deeply)."),
])
def test_one_jsonl_decoder_names_the_line_of_a_bad_one(raw, message):
    # convert, export, graph and the alias tables all decode JSONL lines through safe_io.json_line
    from spacy_triples.safe_io import JsonLineError, json_line

    with pytest.raises(JsonLineError) as err:
        json_line(raw, "f.jsonl, line 4")
    assert str(err.value) == message


def test_one_jsonl_decoder_skips_blank_lines_and_reads_text_or_bytes():
    from spacy_triples.safe_io import BLANK_LINE, json_line

    assert json_line(b"  \r\n", "x") is BLANK_LINE and json_line("\t", "x") is BLANK_LINE
    assert json_line(b'{"a": "\xc3\xa9"}\n', "x") == {"a": "é"} == json_line('{"a": "é"}', "x")
