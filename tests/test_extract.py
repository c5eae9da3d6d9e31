"""extract: every input kind, bad records become error entries, order and output survive."""
import json
import subprocess
import sys

import pytest
import spacy

from spacy_triples.cli import extract, main
from spacy_triples import extract as extract_module
from spacy_triples.extract import read_inputs



@pytest.fixture
def model_dir(trained_model_dir):
    return str(trained_model_dir)


def _records(path):
    return [json.loads(line) for line in open(path, encoding="utf8")]


def test_text_lines_with_bad_records(model_dir, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(
        b"Barack Obama was born in Honolulu .\n"
        b"\n"
        b"bad \xff\xfe bytes\n"
        + b"word " * 50 + b"\n"
        b"Microsoft hired Satya Nadella in Redmond .\n"
    )
    out = tmp_path / "out.jsonl"
    summary = extract(model_dir, str(src), str(out), batch_size=2, max_length=200)
    records = _records(out)
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5]
    assert [t["relation"] for t in records[0]["triples"]] == ["born_in"]
    assert records[1]["warning"] == "empty document" and records[1]["triples"] == []
    assert "invalid UTF-8 at byte 4" in records[2]["error"] and "triples" not in records[2]
    assert "--max-length 200" in records[3]["error"]
    assert {t["relation"] for t in records[4]["triples"]} == {"works_for", "located_in"}
    assert (summary.read, summary.written, summary.failed) == (5, 5, 2)


def test_jsonl_keeps_metadata_and_reports_malformed_lines(model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": "Barack Obama was born in Honolulu .", "source": "wiki"}) + "\n"
        + "{not json\n"
        + json.dumps({"title": "no text"}) + "\n"
        + json.dumps({"text": "xyz"}) + "\n",
        encoding="utf8",
    )
    out = tmp_path / "out.jsonl"
    summary = extract(model_dir, str(src), str(out))
    records = _records(out)
    assert records[0]["id"] == "a" and records[0]["meta"] == {"source": "wiki"}
    assert records[0]["triples"][0]["subject_chars"] == [0, 12]
    assert records[1]["error"].startswith("line 2: malformed JSON")
    assert "string 'text' field" in records[2]["error"]
    assert records[3]["id"] == 4 and records[3]["triples"] == []
    assert summary.failed == 2 and summary.written == 4


def test_directory_of_txt_files(model_dir, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b.txt").write_text("Barack Obama was born in Honolulu .", encoding="utf8")
    (folder / "a.txt").write_text("", encoding="utf8")
    (folder / "ignored.md").write_text("x", encoding="utf8")
    out = tmp_path / "out.jsonl"
    extract(model_dir, str(folder), str(out))
    records = _records(out)
    assert [r["id"] for r in records] == ["a.txt", "b.txt"]
    assert records[1]["triples"][0]["relation"] == "born_in"


def test_stdin_to_stdout_and_n_process(model_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "spacy_triples", "extract", model_dir, "-", "-", "--quiet", "--n-process", "2",
         "--batch-size", "1"],
        input="Barack Obama was born in Honolulu .\nxyz\nBarack Obama was born in Honolulu .\n",
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3]
    assert records[0]["triples"] == records[2]["triples"] != []
    assert "3 documents read, 3 written, 0 failed" in result.stderr


def test_inputs_are_streamed_not_loaded(tmp_path, monkeypatch):
    src = tmp_path / "big.txt"
    src.write_text("line\n" * 1000, encoding="utf8")

    class CountingFile:
        pulled = 0

        def __init__(self, path):
            self._handle = open(path, "rb")

        def __iter__(self):
            for line in self._handle:
                CountingFile.pulled += 1
                yield line

        def close(self):
            self._handle.close()

    monkeypatch.setattr(extract_module, "_open", CountingFile)
    records = read_inputs(str(src))
    first = next(records)
    assert first.id == 1 and first.text == "line"
    assert CountingFile.pulled == 1  # one line read for one record, not the whole file
    assert sum(1 for _ in records) == 999 and CountingFile.pulled == 1000


def test_missing_input_is_a_clear_error(model_dir, tmp_path, capsys):
    assert main(["extract", model_dir, str(tmp_path / "nope.txt"), str(tmp_path / "o.jsonl")]) == 1
    assert "does not exist" in capsys.readouterr().err
