"""Thresholds: the sweeps find the known best values; tune-thresholds saves them. The pipeline folders
that tune-thresholds and init-vectors save are written whole or not at all (issue 41, item 6)."""
import shutil
from pathlib import Path

import numpy
import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from spacy_triples.cli import main
from spacy_triples.training.thresholds import sweep_global_threshold, sweep_thresholds

from ..util import make_examples


def test_sweep_picks_the_known_best_threshold():
    # relation a: true triples score 0.8-0.9, false ones 0.3-0.6 -> anything in [0.6, 0.8) separates;
    # ties go to the higher threshold, so 0.75 on the 0.05 grid
    gold = {(0, 0, 1, "a", 2, 3), (1, 0, 1, "a", 2, 3)}
    predicted = [((0, 0, 1, "a", 2, 3), 0.9), ((1, 0, 1, "a", 2, 3), 0.8),
                 ((2, 0, 1, "a", 2, 3), 0.6), ((3, 0, 1, "a", 2, 3), 0.3),
                 # relation b: the only true triple scores 0.2, false ones 0.1 -> best is 0.15
                 ((0, 5, 6, "b", 7, 8), 0.2), ((1, 5, 6, "b", 7, 8), 0.1)]
    gold |= {(0, 5, 6, "b", 7, 8), (4, 5, 6, "b", 7, 8)}
    best = sweep_thresholds(predicted, gold)
    assert best["a"] == (0.75, 1.0)
    assert best["b"][0] == 0.15 and abs(best["b"][1] - 2 / 3) < 1e-9


def test_global_sweep_picks_one_threshold_for_all_relations():
    # true triples score 0.9, 0.7 (a) and 0.45 (b); false ones 0.6 (a) and 0.2, 0.3 (b).
    # t in [0.3, 0.45): 3 tp, 1 fp -> F1 6/7; t in [0.45, 0.6): 2 tp, 1 fp, 1 fn -> 2/3;
    # t in [0.6, 0.7): 2 tp, 1 fn -> 4/5; below 0.3 more false ones pass
    gold = {(0, 0, 1, "a", 2, 3), (1, 0, 1, "a", 2, 3), (2, 0, 1, "b", 2, 3)}
    predicted = [((0, 0, 1, "a", 2, 3), 0.9), ((1, 0, 1, "a", 2, 3), 0.7), ((3, 0, 1, "a", 2, 3), 0.6),
                 ((2, 0, 1, "b", 2, 3), 0.45), ((4, 0, 1, "b", 2, 3), 0.2), ((5, 0, 1, "b", 2, 3), 0.3)]
    t, f1 = sweep_global_threshold(predicted, gold)
    assert t == 0.4 and abs(f1 - 6 / 7) < 1e-9  # ties over [0.3, 0.45) go to the highest grid value
    # one threshold per relation can be stricter for a (0.65) than the global 0.4
    per_relation = sweep_thresholds(predicted, gold)
    assert per_relation["a"][0] == 0.65 and per_relation["b"][0] == 0.4
    assert sweep_global_threshold([], set()) == (0.95, 0.0)


def test_tune_thresholds_global_command_saves_one_threshold(tmp_path, capsys, trained_model_dir):
    examples = make_examples(spacy.blank("en"))
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    assert main(["tune-thresholds", str(trained_model_dir), str(tmp_path / "dev.spacy"), "--global",
                 "--output", str(tmp_path / "m2")]) == 0
    out = capsys.readouterr().out
    assert "for every relation" in out and "dev triples_f 100.00 -> 100.00" in out
    nlp2 = spacy.load(tmp_path / "m2")
    pipe = nlp2.get_pipe("triple_extractor")
    assert pipe.cfg["thresholds"] == {} and 0 < pipe.cfg["threshold"] < 1
    assert nlp2.config["components"]["triple_extractor"]["threshold"] == pipe.cfg["threshold"]
    assert nlp2.evaluate(examples)["triples_f"] == 1.0


def test_tune_thresholds_command_saves_values(tmp_path, capsys, trained_model_dir):
    examples = make_examples(spacy.blank("en"))
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    assert main(["tune-thresholds", str(trained_model_dir), str(tmp_path / "dev.spacy"), "--output", str(tmp_path / "m2")]) == 0
    assert "dev triples_f 100.00 -> 100.00" in capsys.readouterr().out
    nlp2 = spacy.load(tmp_path / "m2")
    pipe = nlp2.get_pipe("triple_extractor")
    assert set(pipe.cfg["thresholds"]) == set(pipe.labels)
    assert nlp2.config["components"]["triple_extractor"]["thresholds"] == pipe.cfg["thresholds"]
    assert nlp2.evaluate(examples)["triples_f"] == 1.0


# ---------------------------------------------------------------------------------- saved whole, or not at all
def _snapshot(folder: Path):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _fail_midway(monkeypatch):
    """nlp.to_disk writes the tokenizer, then meta.json: make that write fail (a full disk), after
    the tokenizer file is written and with meta.json half written."""
    def write_json(path, data, indent=2):
        Path(path).write_text('{"lang": ', encoding="utf8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(srsly, "write_json", write_json)


@pytest.mark.parametrize("into", ["model", "output"])
def test_tune_thresholds_failing_midway_keeps_the_earlier_pipeline(tmp_path, capsys, monkeypatch,
                                                                  trained_model_dir, into):
    """Overwriting MODEL (the default) or an earlier --output: a failed write leaves it as it was,
    and no partial or temporary folder."""
    examples = make_examples(spacy.blank("en"))
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    work = tmp_path / "work"
    shutil.copytree(trained_model_dir, work / "model")
    args = ["tune-thresholds", str(work / "model"), str(tmp_path / "dev.spacy")]
    if into == "output":
        args += ["--output", str(work / "tuned")]
        assert main(args) == 0  # the earlier output
    target = work / into if into == "model" else work / "tuned"
    before, entries = _snapshot(target), sorted(p.name for p in work.iterdir())
    capsys.readouterr()
    _fail_midway(monkeypatch)
    assert main(args) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert _snapshot(target) == before and sorted(p.name for p in work.iterdir()) == entries
    monkeypatch.undo()
    assert spacy.load(target).evaluate(examples)["triples_f"] == 1.0
    # a new output folder that fails is not created at all
    _fail_midway(monkeypatch)
    assert main(args[:3] + ["--output", str(work / "new")]) == 1
    assert sorted(p.name for p in work.iterdir()) == entries


def test_tune_thresholds_replaces_an_earlier_output_whole(tmp_path, trained_model_dir):
    examples = make_examples(spacy.blank("en"))
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.txt").write_text("from an earlier run")
    assert main(["tune-thresholds", str(trained_model_dir), str(tmp_path / "dev.spacy"), "--output",
                 str(tmp_path / "out")]) == 0
    assert not (tmp_path / "out" / "stale.txt").exists() and (tmp_path / "out" / "config.cfg").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.spacy", "out"]  # no temporary folder left


def _bert_folder(path: Path) -> str:
    """A BERT-style folder: vocab.txt and the input embedding table (nothing else is read)."""
    from safetensors.numpy import save_file

    path.mkdir()
    pieces = ["[PAD]", "[UNK]", "barack", "obama", "##s", "born", "honolulu"]
    (path / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf8")
    matrix = numpy.arange(len(pieces) * 4, dtype="float32").reshape(len(pieces), 4)
    save_file({"embeddings.word_embeddings.weight": matrix}, str(path / "model.safetensors"))
    return str(path)


def test_init_vectors_failing_midway_keeps_the_earlier_output(tmp_path, capsys, monkeypatch):
    bert = _bert_folder(tmp_path / "bert")
    work = tmp_path / "work"
    work.mkdir()
    assert main(["init-vectors", str(work / "vectors"), "--model-folder", bert]) == 0
    assert spacy.load(work / "vectors").vocab.vectors.shape == (4, 4)
    before = _snapshot(work / "vectors")
    capsys.readouterr()
    _fail_midway(monkeypatch)
    assert main(["init-vectors", str(work / "vectors"), "--model-folder", bert, "--lang", "de"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert _snapshot(work / "vectors") == before and [p.name for p in work.iterdir()] == ["vectors"]
    assert main(["init-vectors", str(work / "new"), "--model-folder", bert]) == 1
    assert [p.name for p in work.iterdir()] == ["vectors"]
    monkeypatch.undo()
    assert spacy.load(work / "vectors").lang == "en"
    # a file where the folder should go is refused, and left alone
    (work / "file").write_text("x")
    assert main(["init-vectors", str(work / "file"), "--model-folder", bert]) == 1
    assert "is a file" in capsys.readouterr().err and (work / "file").read_text() == "x"
