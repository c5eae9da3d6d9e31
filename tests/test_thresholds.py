"""Thresholds: the sweeps find the known best values; tune-thresholds saves them."""
import spacy
from spacy.tokens import DocBin

from spacy_triples.cli import main
from spacy_triples.thresholds import sweep_global_threshold, sweep_thresholds

from .util import make_examples


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
