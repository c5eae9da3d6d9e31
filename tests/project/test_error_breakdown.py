"""benchmarks/error_breakdown.py: where a pipeline's triples are lost, level by level."""
import sys

import pytest

from ..util import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import error_breakdown as eb  # noqa: E402  (stdlib only at import)


def test_each_level_and_each_kind_of_error_is_counted():
    # gold: A -r-> B, A -s-> C. Predicted: A -r-> B (right), A -t-> B (wrong relation on a gold
    # pair), B -r-> C (a wrong pair of two gold entities), A -s-> "C D" (C's boundary wrong)
    A, B, C, CD = (0, 1), (4, 5), (8, 9), (8, 11)
    gold = {(*A, "r", *B), (*A, "s", *C)}
    pred = {(*A, "r", *B), (*A, "t", *B), (*B, "r", *C), (*A, "s", *CD)}
    out = eb.breakdown([(gold, pred)])
    assert (out["triples"]["tp"], out["triples"]["predicted"], out["triples"]["gold"]) == (1, 4, 2)
    assert (out["pairs"]["tp"], out["pairs"]["predicted"], out["pairs"]["gold"]) == (1, 3, 2)
    assert (out["entities"]["tp"], out["entities"]["predicted"], out["entities"]["gold"]) == (3, 4, 3)
    assert out["relation_right_on_gold_pairs"] == {"share": 50.0, "right": 1, "predicted_on_gold_pairs": 2}
    assert out["wrong_pairs"] == {"of_gold_entities": 1, "with_a_wrong_entity": 1}
    assert out["missed_pairs"] == {"entities_both_predicted": 1, "an_entity_missed": 0}
    assert out["entity_errors"] == {"missed_overlapping_a_predicted_span": 0, "missed_nothing_predicted_there": 0,
                                    "wrong_overlapping_a_gold_span": 1, "wrong_no_gold_span_there": 0}
    assert out["triples"]["f"] == round(100 * 2 * 0.25 * 0.5 / 0.75, 2)


def test_nothing_predicted_scores_zero_without_dividing_by_zero():
    out = eb.breakdown([({(0, 1, "r", 2, 3)}, set())])
    assert out["triples"] == {"p": 0.0, "r": 0.0, "f": 0.0, "tp": 0, "predicted": 0, "gold": 1}
    assert out["entity_errors"]["missed_nothing_predicted_there"] == 2


def test_triples_are_also_scored_by_the_number_of_gold_triples_in_a_doc():
    one = ({(0, 1, "r", 2, 3)}, set())  # one gold triple, nothing predicted
    two = ({(0, 1, "r", 2, 3), (0, 1, "s", 4, 5)}, {(0, 1, "r", 2, 3), (6, 7, "r", 8, 9)})
    many = ({(i, i + 1, "r", 50, 51) for i in range(7)}, {(0, 1, "r", 50, 51)})
    none = (set(), {(0, 1, "r", 2, 3)})
    out = eb.breakdown([one, two, many, none, one])["triples_by_gold_count"]
    assert list(out) == ["0", "1", "2", "6+"]
    assert out["1"] == {"p": 0.0, "r": 0.0, "f": 0.0, "tp": 0, "predicted": 0, "gold": 2, "docs": 2,
                        "docs_nothing_predicted": 2}
    assert (out["2"]["tp"], out["2"]["predicted"], out["2"]["gold"], out["2"]["f"]) == (1, 2, 2, 50.0)
    assert (out["6+"]["tp"], out["6+"]["gold"], out["6+"]["docs"], out["6+"]["docs_nothing_predicted"]) == (1, 7, 1, 0)
    assert (out["0"]["predicted"], out["0"]["gold"], out["0"]["docs_nothing_predicted"]) == (1, 0, 0)


def test_a_training_sample_is_seeded_without_repeats_and_keeps_the_file_order():
    items = list(range(100))
    drawn = eb.sample(items, 10, seed=0)
    assert len(drawn) == len(set(drawn)) == 10 and drawn == sorted(drawn)
    assert drawn == eb.sample(items, 10, seed=0)  # the same seed, the same docs
    assert drawn != eb.sample(items, 10, seed=1)
    assert eb.sample(items, None) == items and eb.sample(items, 500) == items  # all of them
    with pytest.raises(ValueError, match="--sample"):
        eb.sample(items, 0)
