"""benchmarks/corpus_stats.py: the counts that bound a model on a dataset (issue 40)."""
import sys

import spacy

from ..util import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import corpus_stats as cs  # noqa: E402  (stdlib only at import)


def test_pairs_with_several_relations_and_entities_without_letters_are_counted():
    # sentence 1: Paris -capital_of-> France and Paris -largest_city_of-> France (one pair, two
    # relations), Paris -in-> Europe; sentence 2: `` -r-> Bob (an entity with no letter or digit)
    one = {("Paris", 0, 5, "capital_of", "France", 10, 16), ("Paris", 0, 5, "largest_city_of", "France", 10, 16),
           ("Paris", 0, 5, "in", "Europe", 20, 26)}
    two = {("``", 0, 2, "r", "Bob", 3, 6)}
    out = cs.triple_stats([one, two])
    assert (out["sentences"], out["triples"], out["relation_types"]) == (2, 4, 4)
    assert out["triples_on_a_pair_with_several_relations"] == 2
    assert out["pairs_with_several_relations"] == 1
    assert out["recall_ceiling_one_relation_per_pair"] == 75.0  # 3 of the 4 triples
    assert out["triples_with_an_entity_without_letters_or_digits"] == 1


def test_the_same_text_at_another_place_is_another_pair():
    # "A ... B ... A ... B": the two (A, B) pairs are at different offsets, so neither shares a pair
    keys = {("A", 0, 1, "r", "B", 2, 3), ("A", 4, 5, "s", "B", 6, 7)}
    out = cs.triple_stats([keys])
    assert out["pairs_with_several_relations"] == 0
    assert out["recall_ceiling_one_relation_per_pair"] == 100.0


def test_no_sentences_counts_zero_without_dividing_by_zero():
    out = cs.triple_stats([])
    assert out["triples"] == 0 and out["share_on_a_pair_with_several_relations"] == 0.0


def test_entity_mentions_seen_in_train_count_each_span_once_and_keep_case():
    train = [{("Paris", 0, 5, "in", "France", 9, 15)}]
    # "Paris" twice in one sentence at different places (two mentions), "paris" (another case:
    # not seen), "France" as the object of two triples (one mention), "Bob" never in train
    test = [{("Paris", 0, 5, "in", "France", 20, 26), ("Paris", 10, 15, "near", "France", 20, 26)},
            {("paris", 0, 5, "knows", "Bob", 6, 9)}]
    out = cs.seen_in_train(train, test)
    assert out["entity_mentions"] == 5  # Paris@0, Paris@10, France@20, paris@0, Bob@6
    assert out["entity_mentions_seen_in_train"] == 3
    assert out["share_of_entity_mentions_seen_in_train"] == 60.0
    assert out["distinct_entity_texts"] == 4  # Paris, France, paris, Bob
    assert out["share_of_distinct_entity_texts_seen_in_train"] == 50.0


def test_seen_in_train_of_nothing_divides_by_nothing():
    assert cs.seen_in_train([], [])["share_of_entity_mentions_seen_in_train"] == 0.0


def test_gold_triples_are_read_from_a_doc():
    import spacy_triples  # noqa: F401  (registers doc._.triples)

    nlp = spacy.blank("en")
    doc = nlp("Paris is in France .")
    doc._.triples = [(doc[0:1], "in", doc[3:4])]
    assert cs.doc_triples(doc) == {("Paris", 0, 5, "in", "France", 12, 18)}
