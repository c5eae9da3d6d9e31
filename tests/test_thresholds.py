"""Per-relation thresholds: the sweep finds the known best value; tune-thresholds saves it."""
import spacy
from spacy.tokens import DocBin

from spacy_triples.cli import main
from spacy_triples.thresholds import sweep_thresholds

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
