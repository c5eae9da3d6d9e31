"""Every ``spacy-triples`` command: its ``--help`` lists each of its options, and one real call on a
small input works; the command line reads its arguments as argparse did (spacy_triples/cli/_util.py)."""
import json
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_triples.cli import main

from ..util import FIXTURES, build_tiny_bert, make_examples

OBAMA = "Barack Obama was born in Honolulu ."

# command -> (positional arguments, options): a dropped or renamed option fails test_help_lists_every_option
COMMANDS = {
    "convert": (["input", "output"], ["--format", "--lang", "--schema", "--strict", "--entities-from-triples",
                 "--every-occurrence"]),
    "stats": (["input"], ["--format", "--lang", "--max-wordpieces", "--wordpiece-model", "--json"]),
    "extract": (["model", "input", "output"],
                ["--input-format", "--batch-size", "--n-process", "--gpu-id", "--max-length", "--show", "--bf16",
                 "--precision", "--resume", "--quiet", "--engine", "--num-actors", "--gpus-per-actor",
                 "--output-format", "--rows-per-shard"]),
    "evaluate": (["model", "data"], ["--output", "--gpu-id", "--bf16", "--precision"]),
    "init-vectors": (["output"], ["--lang", "--model-folder"]),
    "export": (["input", "output"], ["--format", "--namespace", "--no-provenance", "--lang", "--as"]),
    "graph": (["input", "store"], ["--aliases", "--min-score", "--schema", "--namespace", "--strip-accents",
                                   "--pipeline", "--quiet"]),
    "graph-query": (["store", "sparql"], ["--format"]),
    "render": (["model", "text"], ["--input", "--output", "--limit"]),
    "tune-thresholds": (["model", "dev"], ["--global", "--output", "--component"]),
    "serve": (["model"], ["--host", "--port", "--max-length", "--max-texts", "--batch-size", "--batch-wait-ms",
                          "--max-queue", "--timeout", "--max-body-bytes", "--api-key-file", "--cors-origin",
                          "--precision", "--gpu-id"]),
}
CHOICES = {("convert", "--format"): "{auto,casrel,", ("extract", "--engine"): "{spacy,ray}",
           ("extract", "--precision"): "{fp32,bf16,int8,auto}", ("export", "--as"): "{auto,predictions,annotations}",
           ("graph-query", "--format"): "{table,json,csv}"}


def _option_names(help_text):
    return {word.rstrip(",") for line in help_text.splitlines() for word in line.split()[:2] if word.startswith("--")}


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["-h"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_lists_every_option(command, capsys):
    arguments, options = COMMANDS[command]
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert _option_names(out) == set(options) | {"--help"}
    for argument in arguments:
        assert f" {argument} " in out.split("Arguments:")[1].split("Options:")[0]
    for (name, option), shown in CHOICES.items():
        if name == command:
            assert f"{option} {shown}" in out


def test_python_m_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "spacy_triples", "convert", "-h"], capture_output=True, text=True)
    assert result.returncode == 0 and "--strict" in result.stdout


# --------------------------------------------------------------------------- one real call per command
@pytest.fixture(scope="module")
def work(tmp_path_factory, trained_model_dir):
    """A folder with the trained pipeline's path, a dev set and a text file."""
    folder = tmp_path_factory.mktemp("cli_commands")
    docs = [eg.reference for eg in make_examples(spacy.blank("en"))]
    DocBin(store_user_data=True, docs=docs).to_disk(folder / "dev.spacy")
    (folder / "in.txt").write_text(f"{OBAMA}\n\nxyz\n", encoding="utf8")
    return {"dir": folder, "model": str(trained_model_dir), "dev": str(folder / "dev.spacy"),
            "text": str(folder / "in.txt")}


@pytest.fixture(scope="module")
def extracted(work):
    """The JSONL that ``extract`` writes for in.txt."""
    out = work["dir"] / "extracted.jsonl"
    assert main(["extract", work["model"], work["text"], str(out), "--quiet"]) == 0
    return out


def test_convert(tmp_path, capsys):
    assert main(["convert", str(FIXTURES / "unified_bad.json"), str(tmp_path / "x.spacy"), "--format", "unified"]) == 0
    assert "docs written" in capsys.readouterr().out
    assert len(list(DocBin().from_disk(tmp_path / "x.spacy").get_docs(spacy.blank("en").vocab))) == 2
    assert main(["convert", str(FIXTURES / "unified_bad.json"), str(tmp_path / "y.spacy"), "--strict"]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_stats(work, capsys):
    assert main(["stats", work["dev"], "--json", "--max-wordpieces", "8"]) == 0
    assert json.loads(capsys.readouterr().out)["docs"] == len(make_examples(spacy.blank("en")))


def test_extract(work, extracted, tmp_path, capsys):
    records = [json.loads(line) for line in extracted.read_text(encoding="utf8").splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3] and records[0]["triples"][0]["relation"] == "born_in"
    capsys.readouterr()
    assert main(["extract", work["model"], work["text"], str(tmp_path / "o.jsonl"), "--quiet", "--show",
                 "--batch-size", "2", "--max-length", "100"]) == 0
    err = capsys.readouterr().err
    assert "(Barack Obama | born_in | Honolulu)" in err and "3 documents read, 3 written, 0 failed" in err


def test_evaluate(work, tmp_path, capsys):
    assert main(["evaluate", work["model"], work["dev"], "--output", str(tmp_path / "s.json")]) == 0
    assert "triples (exact)" in capsys.readouterr().out
    assert json.loads((tmp_path / "s.json").read_text())["triples_f"] == 1.0


def test_init_vectors(tmp_path, capsys):
    pytest.importorskip("transformers")
    (tmp_path / "bert").mkdir()
    folder = build_tiny_bert(tmp_path / "bert")
    assert main(["init-vectors", str(tmp_path / "vectors"), "--model-folder", folder, "--lang", "en"]) == 0
    assert "word vectors written to" in capsys.readouterr().out
    assert spacy.load(tmp_path / "vectors").vocab.vectors.shape[1] == 32


def test_export(extracted, tmp_path, capsys):
    assert main(["export", str(extracted), str(tmp_path / "t.csv")]) == 0
    assert "1 triples exported to" in capsys.readouterr().err
    assert "born_in" in (tmp_path / "t.csv").read_text(encoding="utf8")


def test_graph_and_graph_query(extracted, tmp_path, capsys):
    pytest.importorskip("pyoxigraph")
    store = str(tmp_path / "store")
    assert main(["graph", str(extracted), store, "--quiet", "--min-score", "0.1", "--pipeline", "p@1"]) == 0
    assert "1 triples read" in capsys.readouterr().err
    query = "SELECT ?r WHERE { ?s ?r ?o . FILTER(CONTAINS(STR(?r), 'born_in')) } LIMIT 1"
    assert main(["graph-query", store, query, "--format", "csv"]) == 0
    assert "born_in" in capsys.readouterr().out


def test_render(work, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["render", work["model"], "--input", work["text"], "--output", str(out), "--limit", "1"]) == 0
    assert "1 documents rendered" in capsys.readouterr().err and "Barack Obama" in out.read_text(encoding="utf8")


def test_tune_thresholds(work, tmp_path, capsys):
    assert main(["tune-thresholds", work["model"], work["dev"], "--global", "--output", str(tmp_path / "m")]) == 0
    assert "for every relation" in capsys.readouterr().out and (tmp_path / "m" / "meta.json").exists()


def test_serve_hands_its_options_to_serve(work, monkeypatch):
    """The server itself runs in test_serve.py; here only what the command passes to it."""
    pytest.importorskip("fastapi")
    import spacy_triples.serve

    calls = []
    monkeypatch.setattr(spacy_triples.serve, "serve", lambda *args, **kwargs: calls.append((args, kwargs)))
    assert main(["serve", work["model"], "--port", "9", "--batch-wait-ms", "20", "--cors-origin", "http://a",
                 "--cors-origin", "http://b", "--precision", "fp32"]) == 0
    ((args, kwargs),) = calls
    assert args == (work["model"], "127.0.0.1", 9, 100_000, 64, 32, 0.02, -1)
    assert kwargs["cors_origins"] == ["http://a", "http://b"] and kwargs["precision"] == "fp32"


def test_engine_ray_hands_only_the_given_options_to_the_engine(work, tmp_path, monkeypatch, capsys):
    """--engine ray is a thin alias: the Ray engine gets its options (and checks them); the ones not
    given keep the engine's defaults."""
    pytest.importorskip("ray")
    from types import SimpleNamespace

    from spacy_triples.extract import ray_engine

    calls = []
    summary = SimpleNamespace(line=lambda: "3 documents read, 3 written, 0 failed")
    monkeypatch.setattr(ray_engine, "extract_to_folder", lambda *args, **kwargs: calls.append(kwargs) or summary)
    assert main(["extract", work["model"], work["text"], str(tmp_path / "out"), "--engine", "ray", "--quiet",
                 "--num-actors", "2", "--output-format", "parquet"]) == 0
    assert "3 documents read, 3 written" in capsys.readouterr().err
    (kwargs,) = calls
    assert kwargs["num_actors"] == 2 and kwargs["output_format"] == "parquet"
    assert "rows_per_shard" not in kwargs and "gpus_per_actor" not in kwargs


# ------------------------------------------------------------------------- argparse's parsing rules
@pytest.mark.parametrize("argv,message", [
    ([], "spacy-triples: error: the following arguments are required: command"),
    (["nope"], "argument command: invalid choice: 'nope' (choose from 'convert', 'stats',"),
    (["extract"], "spacy-triples extract: error: the following arguments are required: model, input, output"),
    (["extract", "m", "in.txt", "out", "extra", "--bogus"],
     "spacy-triples: error: unrecognized arguments: --bogus extra"),
    (["extract", "m", "in.txt", "out", "--batch-size"], "argument --batch-size: expected one argument"),
    (["extract", "m", "in.txt", "out", "--batch-size", "--quiet"], "argument --batch-size: expected one argument"),
    (["extract", "m", "in.txt", "out", "--batch-size", "-3"], "argument --batch-size: must be at least 1, got -3"),
    (["extract", "m", "in.txt", "out", "--engine", "dask"], "invalid choice: 'dask' (choose from 'spacy', 'ray')"),
    (["extract", "m", "in.txt", "out", "--show=yes"], "argument --show: ignored explicit argument 'yes'"),
    (["serve", "m", "--max", "3"], "ambiguous option: --max could match --max-length, --max-texts"),
    (["serve", "m", "--port", "http"], "argument --port: invalid int value: 'http'"),
    (["graph", "in", "store", "--min-score", "high"], "argument --min-score: invalid float value: 'high'"),
])
def test_usage_errors_exit_2_with_argparse_messages(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_abbreviations_stdin_and_negative_numbers(work, tmp_path, capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{OBAMA}\n".encode("utf8"))))
    # a unique prefix names its option; "-" is stdin; -1 is a value, not an option
    assert main(["extract", work["model"], "-", str(tmp_path / "o.jsonl"), "--qui", "--batch=2", "--gpu-id", "-1"]) == 0
    assert "1 documents read" in capsys.readouterr().err
    out = tmp_path / "r.html"
    assert main(["render", work["model"], "-5 degrees in Honolulu", "--out", str(out)]) == 0  # a text, not an option
    assert "Honolulu" in out.read_text(encoding="utf8")


def test_errors_of_a_command_exit_1(work, tmp_path, capsys):
    assert main(["evaluate", work["model"], str(tmp_path / "missing.spacy")]) == 1
    assert capsys.readouterr().err.startswith("error: Evaluation data")
    assert main(["extract", work["model"], work["text"], str(tmp_path / "o.jsonl"), "--num-actors", "2"]) == 1
    assert "--num-actors only work with --engine ray" in capsys.readouterr().err
