"""Typed entities: per-type entity pointers, strict scores, doc.ents."""
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

from .util import TRAIN_DATA, assert_same_triples

TYPES = {"Barack Obama": "PER", "Honolulu": "LOC", "Angela Merkel": "PER", "Berlin": "LOC",
         "the German government": "ORG", "Paris": "LOC", "France": "LOC", "University of Chicago": "ORG",
         "Chicago": "LOC", "John Rockefeller": "PER", "Microsoft": "ORG", "Satya Nadella": "PER", "Redmond": "LOC"}


def _typed_examples(nlp):
    examples = []
    for words, triples in TRAIN_DATA:
        ref = Doc(nlp.vocab, words=words)
        ref._.triples = [(Span(ref, s0, s1, label=TYPES[ref[s0:s1].text]), rel,
                          Span(ref, o0, o1, label=TYPES[ref[o0:o1].text])) for s0, s1, rel, o0, o1 in triples]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    return examples


@pytest.fixture(scope="module")
def typed():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"set_ents": True})
    examples = _typed_examples(nlp)
    spacy.util.fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(200):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp, examples


def test_typed_overfit_to_strict_f1_one(typed, tmp_path):
    nlp, examples = typed
    pipe = nlp.get_pipe("triple_extractor")
    assert pipe.entity_labels == ("LOC", "ORG", "PER")  # found in the data: typed_entities = None -> on
    scores = nlp.evaluate(examples)
    assert scores["triples_strict_f"] == 1.0 and scores["triples_f"] == 1.0
    assert scores["triple_ents_per_type"]["ORG"]["f"] == 1.0
    doc = nlp("Angela Merkel lives in Berlin and works for the German government .")
    assert {(t.subject.label_, t.object.text, t.object.label_) for t in doc._.triples} == {
        ("PER", "Berlin", "LOC"), ("PER", "the German government", "ORG")}
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Angela Merkel", "PER"), ("Berlin", "LOC"), ("the German government", "ORG")]
    nlp.to_disk(tmp_path / "m")
    nlp2 = spacy.load(tmp_path / "m")
    doc2 = nlp2(doc.text)
    assert_same_triples([doc2], [doc])


def test_typed_entities_true_without_types_is_an_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"typed_entities": True})
    from .util import make_examples

    with pytest.raises(ValueError, match="typed_entities = true"):
        nlp.initialize(lambda: make_examples(nlp))


def test_typed_entities_false_ignores_types():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor", config={"typed_entities": False})
    nlp.initialize(lambda: _typed_examples(nlp))
    assert pipe.entity_labels == ()
