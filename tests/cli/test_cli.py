"""The command line: convert accounts for every record, extract and evaluate on a trained model."""
import json

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_triples.cli import main
from spacy_triples.triples import has_triples_annotation

from ..util import FIXTURES, TRAIN_DATA, build_tiny_bert, make_examples



def test_convert_accounts_for_every_record(tmp_path, capsys):
    out = tmp_path / "train.spacy"
    assert main(["convert", str(FIXTURES / "unified_bad.json"), str(out)]) == 0
    table = dict(line.rsplit(None, 1) for line in capsys.readouterr().out.splitlines())
    table = {name.strip(): int(value) for name, value in table.items()}
    assert table["records read"] == 3 and table["docs written"] == 2
    assert table["records skipped: no tokens, or an empty/whitespace token"] == 1
    assert table["triples written"] == 1 and table["duplicate triples dropped"] == 1
    assert table["triples skipped: span outside the tokens"] == 1
    assert table["triples skipped: malformed triple"] == 1
    assert table["triples read"] == 4
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    assert len(docs) == 2
    (t,) = docs[0]._.triples
    assert (t.subject.text, t.subject.label_, t.relation, t.object.text, t.object.label_) == (
        "Barack Obama", "Peop", "Live_In", "Honolulu", "Loc")
    assert docs[1]._.triples == [] and has_triples_annotation(docs[1])  # annotated, no triples


def test_convert_bad_input_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["convert", str(bad), str(tmp_path / "x.spacy")]) == 1
    assert "bad.json, line 1: malformed JSON" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing.json"), str(tmp_path / "x.spacy")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_extract_and_evaluate(tmp_path, capsys, trained_model_dir):
    examples = make_examples(spacy.blank("en"))
    texts = tmp_path / "in.txt"
    texts.write_text("Barack Obama was born in Honolulu .\n\nxyz\n", encoding="utf8")
    assert main(["extract", str(trained_model_dir), str(texts), str(tmp_path / "out" / "t.jsonl"), "--show"]) == 0
    records = [json.loads(line) for line in (tmp_path / "out" / "t.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3]  # line numbers
    (triple,) = records[0]["triples"]
    assert triple["subject"] == "Barack Obama" and triple["relation"] == "born_in" and triple["object"] == "Honolulu"
    assert triple["subject_chars"] == [0, 12] and triple["object_tokens"] == [5, 6]
    assert records[1]["triples"] == [] and records[1]["warning"] == "empty document" and records[2]["triples"] == []
    db = DocBin(store_user_data=True, docs=[eg.reference for eg in examples])
    db.to_disk(tmp_path / "dev.spacy")
    capsys.readouterr()
    assert main(["evaluate", str(trained_model_dir), str(tmp_path / "dev.spacy"), "--output", str(tmp_path / "s.json")]) == 0
    printed = capsys.readouterr().out
    assert "triples (exact)" in printed and "100.00" in printed and "born_in" in printed
    assert json.loads((tmp_path / "s.json").read_text())["triples_f"] == 1.0


def test_init_vectors_from_a_bert_folder(tmp_path, capsys):
    pytest.importorskip("transformers")
    folder = build_tiny_bert(_mkdir(tmp_path / "bert"))
    assert main(["init-vectors", str(tmp_path / "vectors"), "--model-folder", folder]) == 0
    nlp = spacy.load(tmp_path / "vectors")
    n_words = len({w.lower() for words, _ in TRAIN_DATA for w in words} | set("abcdefghijklmnopqrstuvwxyz."))
    assert nlp.vocab.vectors.shape == (n_words, 32)
    assert main(["init-vectors", str(tmp_path / "v2"), "--model-folder", str(tmp_path)]) == 1
    assert "vocab.txt" in capsys.readouterr().err


def _mkdir(path):
    path.mkdir(parents=True)
    return path
