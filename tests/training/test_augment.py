"""spacy_triples.entity_swap.v1: entity mentions swapped for others of their type, triples kept."""
import random

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Corpus, Example
from spacy.util import registry

from spacy_triples import Triple
from spacy_triples.training.augment import EntitySwapAugmenter, entity_spans, swap_mentions, swappable_spans
from spacy_triples.gold import align_gold
from spacy_triples.triples import TripleRow, triple_rows


def typed_doc(nlp, words, triples, spaces=None):
    """triples: (s0, s1, s_type, relation, o0, o1, o_type), token offsets."""
    if spaces is None:
        spaces = [True] * (len(words) - 1) + [False]
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    doc._.triples = [
        Triple(Span(doc, s0, s1, label=st), rel, Span(doc, o0, o1, label=ot))
        for s0, s1, st, rel, o0, o1, ot in triples
    ]
    return doc


def texts(doc):
    return sorted((t.subject.text, t.subject.label_, t.relation, t.object.text, t.object.label_) for t in doc._.triples)


@pytest.fixture
def nlp():
    return spacy.blank("en")


def test_swap_mentions_moves_the_triples_with_the_text(nlp):
    doc = typed_doc(nlp, "Oswald shot Kennedy in Dallas .".split(),
                    [(0, 1, "Peop", "Kill", 2, 3, "Peop"), (2, 3, "Peop", "Live_In", 4, 5, "Loc")])
    rows = triple_rows(doc)
    new = swap_mentions(doc, rows, {(0, 1): (("Jack", "Ruby"), (True, True)),
                                    (4, 5): (("Fort", "Worth"), (True, False))})
    assert new.text == "Jack Ruby shot Kennedy in Fort Worth ."
    assert texts(new) == [("Jack Ruby", "Peop", "Kill", "Kennedy", "Peop"), ("Kennedy", "Peop", "Live_In", "Fort Worth", "Loc")]
    assert doc.text == "Oswald shot Kennedy in Dallas ."  # the input is not changed
    assert ("Oswald", "Peop", "Kill", "Kennedy", "Peop") in texts(doc)


def test_swap_mentions_keeps_the_space_after_the_span(nlp):
    doc = typed_doc(nlp, ["Smith", ",", "of", "IBM", "."], [(0, 1, "Peop", "Work_For", 3, 4, "Org")],
                    spaces=[False, True, True, False, False])
    new = swap_mentions(doc, triple_rows(doc), {(0, 1): (("Ann", "Lee"), (True, True)), (3, 4): (("Acme", "Corp"), (True, True))})
    assert new.text == "Ann Lee, of Acme Corp."
    assert texts(new) == [("Ann Lee", "Peop", "Work_For", "Acme Corp", "Org")]


def test_swap_mentions_refuses_bad_replacements(nlp):
    doc = typed_doc(nlp, "The University of Chicago opened .".split(), [(1, 4, "Org", "Based_In", 3, 4, "Loc")])
    rows = triple_rows(doc)
    with pytest.raises(ValueError, match="overlaps"):
        swap_mentions(doc, rows, {(3, 4): (("Boston",), (True,))})
    with pytest.raises(ValueError, match="Cannot replace the span"):
        swap_mentions(doc, rows, {(5, 9): (("Boston",), (True,))})
    with pytest.raises(ValueError, match="one space flag per word"):
        swap_mentions(doc, rows, {(0, 1): (("A", "B"), (True,))})


def test_entity_spans_and_swappable_spans():
    rows = [TripleRow(1, 4, "Based_In", 3, 4, "Org", "Loc"), TripleRow(6, 8, "Work_For", 1, 4, "Peop", "Org"),
            TripleRow(9, 10, "born_in", 11, 12, "", "")]
    spans = entity_spans(rows)
    assert spans == {(1, 4): "Org", (3, 4): "Loc", (6, 8): "Peop", (9, 10): "subject of born_in",
                     (11, 12): "object of born_in"}
    # the nested pair stays; the others can be swapped
    assert swappable_spans(spans) == [(6, 8), (9, 10), (11, 12)]


def corpus_docs(nlp):
    return [
        typed_doc(nlp, "Oswald shot Kennedy in Dallas .".split(),
                  [(0, 1, "Peop", "Kill", 2, 3, "Peop"), (2, 3, "Peop", "Live_In", 4, 5, "Loc")]),
        typed_doc(nlp, "Mary Smith works for IBM in Paris .".split(),
                  [(0, 2, "Peop", "Work_For", 4, 5, "Org"), (4, 5, "Org", "OrgBased_In", 6, 7, "Loc")]),
        typed_doc(nlp, "Ann Lee of Acme lives in Rome .".split(),
                  [(0, 2, "Peop", "Work_For", 3, 4, "Org"), (0, 2, "Peop", "Live_In", 6, 7, "Loc")]),
        typed_doc(nlp, "Nothing to see here .".split(), []),
    ]


def test_augmenter_swaps_like_for_like_and_gold_still_aligns(nlp):
    random.seed(0)
    augmenter = EntitySwapAugmenter(level=1.0, swap_probability=1.0)
    docs = corpus_docs(nlp)
    for doc in docs:  # the first pass fills the pool
        list(augmenter(nlp, Example(nlp.make_doc(doc.text), doc)))
    assert sorted(w for w, _ in augmenter.pool["Loc"]) == [("Dallas",), ("Paris",), ("Rome",)]
    assert sorted(w for w, _ in augmenter.pool["Peop"]) == [("Ann", "Lee"), ("Kennedy",), ("Mary", "Smith"), ("Oswald",)]
    assert sorted(w for w, _ in augmenter.pool["Org"]) == [("Acme",), ("IBM",)]
    for doc in docs[:3]:
        (eg,) = augmenter(nlp, Example(nlp.make_doc(doc.text), doc))
        assert eg.reference is not doc and eg.reference.text != doc.text
        old, new = texts(doc), texts(eg.reference)
        assert len(new) == len(old)
        # same relations and entity types; every entity text changed, to one of its type
        assert sorted((r[1], r[2], r[4]) for r in new) == sorted((r[1], r[2], r[4]) for r in old)
        old_mentions = {(r[0], r[1]) for r in old} | {(r[3], r[4]) for r in old}
        for subject, s_type, _, obj, o_type in new:
            for text, label in ((subject, s_type), (obj, o_type)):
                assert (text, label) not in old_mentions
                assert tuple(text.split()) in [w for w, _ in augmenter.pool[label]]
        # the variant trains: its gold aligns to its predicted doc
        labels = sorted({r[2] for r in old})
        aligned = align_gold(eg, labels, ["Loc", "Org", "Peop"])
        assert aligned is not None and len(aligned) == len(old)


def test_augmenter_level_zero_and_docs_without_triples_pass_through(nlp):
    docs = corpus_docs(nlp)
    augmenter = EntitySwapAugmenter(level=0.0)
    for doc in docs:
        eg = Example(nlp.make_doc(doc.text), doc)
        assert list(augmenter(nlp, eg)) == [eg]
    assert set(augmenter.pool) == {"Loc", "Org", "Peop"}  # mentions are collected all the same
    augmenter = EntitySwapAugmenter(level=1.0)
    eg = Example(nlp.make_doc(docs[3].text), docs[3])
    assert list(augmenter(nlp, eg)) == [eg]
    # nothing else of its type seen yet: the example passes through
    eg = Example(nlp.make_doc(docs[1].text), docs[1])
    assert [e.reference.text for e in augmenter(nlp, eg)] == [docs[1].text]


@pytest.mark.parametrize("kwargs", [{"level": 1.5}, {"level": -0.1}, {"level": 0.5, "swap_probability": 2}])
def test_augmenter_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        registry.resolve({"a": {"@augmenters": "spacy_triples.entity_swap.v1", **kwargs}})


def test_augmenter_in_a_spacy_corpus(nlp, tmp_path):
    """Through the registered name and spacy.Corpus, as ``[corpora.train] augmenter`` uses it:
    as many examples per epoch as documents, and in the second epoch (the pool full) a variant of
    every doc with triples, whose triples survive the DocBin round trip of the corpus."""
    from spacy_triples.triples import install_extensions

    install_extensions()
    docs = corpus_docs(nlp)
    DocBin(docs=docs, store_user_data=True).to_disk(tmp_path / "train.spacy")
    augmenter = registry.resolve({"a": {"@augmenters": "spacy_triples.entity_swap.v1", "level": 1.0}})["a"]
    corpus = Corpus(tmp_path / "train.spacy", augmenter=augmenter, shuffle=False)
    random.seed(1)
    first = list(corpus(nlp))
    second = list(corpus(nlp))
    assert len(first) == len(second) == len(docs)
    originals = {doc.text for doc in docs}
    changed = [eg for eg in second if eg.reference.text not in originals]
    assert len(changed) == 3  # every doc with triples; the empty one passes through
    for eg in second:
        assert len(eg.reference._.triples) == len(eg.reference._.triples_data["rows"])
        assert eg.predicted.text == eg.reference.text
