"""extract: every input kind, bad records become error entries, order and output survive."""
import json
import subprocess
import sys


import pytest
import spacy
from spacy.language import Language

from spacy_triples.cli import extract, main
from spacy_triples.extract import records as records_module
from spacy_triples.extract.local import InputRecord, pipe_records, read_inputs

from ..util import ROOT, save_with_component

OBAMA = "Barack Obama was born in Honolulu ."
MICROSOFT = "Microsoft hired Satya Nadella in Redmond ."
BOOM = "BOOM said Barack Obama in Honolulu ."


@Language.component("triples_test_boom")
def boom_component(doc):
    """A component that fails on one chosen document (one whose text holds "BOOM")."""
    if "BOOM" in doc.text:
        raise RuntimeError(f"the test component refuses {doc.text!r}")
    return doc



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

    monkeypatch.setattr(records_module, "_open", CountingFile)
    records = read_inputs(str(src))
    first = next(records)
    assert first.id == 1 and first.text == "line"
    assert CountingFile.pulled == 1  # one line read for one record, not the whole file
    assert sum(1 for _ in records) == 999 and CountingFile.pulled == 1000


def test_missing_input_is_a_clear_error(model_dir, tmp_path, capsys):
    assert main(["extract", model_dir, str(tmp_path / "nope.txt"), str(tmp_path / "o.jsonl")]) == 1
    assert "does not exist" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- a failing document
@pytest.fixture(scope="module")
def boom_model_dir(trained_model_dir, tmp_path_factory):
    """The trained pipeline with the BOOM component after the triple extractor."""
    return save_with_component(trained_model_dir, "triples_test_boom", tmp_path_factory.mktemp("boom"))


def _boom_input(tmp_path):
    src = tmp_path / "in.txt"
    lines = [OBAMA, MICROSOFT, BOOM, OBAMA, "", "bad \udcff bytes", MICROSOFT, BOOM + " again", OBAMA]
    src.write_bytes("\n".join(lines).encode("utf8", "surrogateescape") + b"\n")
    return src, len(lines)


def _without_scores(records):
    scores = [t.pop("score") for r in records for t in r.get("triples", ())]
    return records, scores


def _check_isolated(records, reference):
    """Only the BOOM documents failed, with the exception's type and message; every other record is the
    reference's (scores to float rounding: the retried batch is run one document at a time)."""
    assert [r["id"] for r in records] == [r["id"] for r in reference]
    boom = [k for k, r in enumerate(reference) if "BOOM" in r["text"]]
    assert boom == [2, 7]
    for k in boom:
        assert set(records[k]) == {"id", "text", "error", "line"} and records[k]["line"] == k + 1
        assert records[k]["text"] == reference[k]["text"]
        assert records[k]["error"].startswith(f"document {k + 1}: the pipeline raised RuntimeError: ")
        assert "the test component refuses" in records[k]["error"]
    rest = [r for k, r in enumerate(records) if k not in boom]
    expected = [r for k, r in enumerate(reference) if k not in boom]
    (rest, got), (expected, want) = _without_scores(rest), _without_scores(expected)
    assert rest == expected and len(got) == len(want) and all(abs(a - b) < 1e-5 for a, b in zip(got, want))
    assert reference[0]["triples"] and "error" in reference[5]  # the comparison covers triples and bad input


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_a_failing_document_becomes_an_error_record(model_dir, boom_model_dir, tmp_path, batch_size):
    src, n = _boom_input(tmp_path)
    extract(model_dir, str(src), str(tmp_path / "ref.jsonl"), batch_size=batch_size, progress=False)
    summary = extract(boom_model_dir, str(src), str(tmp_path / "out.jsonl"), batch_size=batch_size,
                      progress=False)
    _check_isolated(_records(tmp_path / "out.jsonl"), _records(tmp_path / "ref.jsonl"))
    assert (summary.read, summary.written, summary.failed) == (n, n, 3)  # 2 BOOM + 1 invalid UTF-8


def test_a_failing_document_with_two_processes(model_dir, boom_model_dir, tmp_path):
    """n_process=2: the worker's failure reaches this process as spaCy's E871; the documents sent out
    and not returned are run here one at a time, and the workers start again on the rest."""
    src, n = _boom_input(tmp_path)
    extract(model_dir, str(src), str(tmp_path / "ref.jsonl"), batch_size=2, progress=False)
    # a new process that registers the BOOM component (forked workers inherit it)
    code = "import sys, tests.extract.test_extract; from spacy_triples.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", code, "extract", boom_model_dir, str(src), str(tmp_path / "out.jsonl"), "--quiet",
         "--n-process", "2", "--batch-size", "2"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert f"{n} documents read, {n} written, 3 failed" in result.stderr
    _check_isolated(_records(tmp_path / "out.jsonl"), _records(tmp_path / "ref.jsonl"))


def test_reading_errors_are_not_document_errors():
    """An exception from the input is not the pipeline's: it stops the run (after what was done), and a
    pipeline that fails on every document makes every record an error record, and ends."""
    nlp = spacy.blank("en")
    nlp.add_pipe("triples_test_boom")

    def records():
        yield InputRecord(id=1, text="fine")
        raise OSError("the disk went away")

    got = []
    with pytest.raises(OSError, match="went away"):
        for record, doc in pipe_records(nlp, records(), batch_size=4):
            got.append((record.id, doc.text))
    assert got == [(1, "fine")]
    out = list(pipe_records(nlp, (InputRecord(id=k, text=f"BOOM {k}") for k in range(5)), batch_size=2))
    assert [(r.id, doc) for r, doc in out] == [(k, None) for k in range(5)]
    assert all("RuntimeError" in r.error for r, _ in out)
