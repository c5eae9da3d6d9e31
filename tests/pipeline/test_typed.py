"""Typed entities: per-type entity pointers, strict scores, doc.ents."""
import pytest
import spacy

from ..util import assert_same_triples, typed_examples

@pytest.fixture(scope="module")
def typed():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"set_ents": True})
    examples = typed_examples(nlp)
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
    from ..util import make_examples

    with pytest.raises(ValueError, match="typed_entities = true"):
        nlp.initialize(lambda: make_examples(nlp))


def test_typed_entities_false_ignores_types():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor", config={"typed_entities": False})
    nlp.initialize(lambda: typed_examples(nlp))
    assert pipe.entity_labels == ()
