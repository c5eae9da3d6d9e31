"""spacy_triples.triple_entity_patterns.v1: the names of a corpus's triples as entity_ruler patterns,
so a pipeline marks the names it saw in training (doc.ents, ENT_IOB for the head's token features)."""
import pytest
import spacy
from spacy.attrs import ENT_IOB
from spacy.tokens import DocBin

from spacy_triples.training.gazetteer import read_triple_entity_patterns

from ..util import TRAIN_DATA, make_doc


@pytest.fixture
def train_file(tmp_path):
    nlp = spacy.blank("en")
    path = tmp_path / "train.spacy"
    data = TRAIN_DATA + [("A met B at Tesla .".split(), [(0, 1, "met", 2, 3), (0, 1, "works_for", 4, 5)])]
    DocBin(docs=[make_doc(nlp, words, triples) for words, triples in data], store_user_data=True).to_disk(path)
    return path


def test_patterns_are_the_distinct_subject_and_object_texts(train_file):
    patterns = read_triple_entity_patterns(train_file)
    texts = [p["pattern"] for p in patterns]
    assert texts[:3] == ["Barack Obama", "Honolulu", "Angela Merkel"]  # in the order first seen
    assert len(texts) == len(set(texts))  # the repeated Obama / Honolulu sentence adds nothing
    assert {"Berlin", "the German government", "University of Chicago", "Chicago", "Tesla"} <= set(texts)
    assert "A" not in texts and "B" not in texts  # shorter than min_chars = 2
    assert {p["label"] for p in patterns} == {"SEEN"}
    assert "A" in [p["pattern"] for p in read_triple_entity_patterns(train_file, min_chars=1, label="KNOWN")]
    long_names = [p["pattern"] for p in read_triple_entity_patterns(train_file, max_words=2)]
    assert "the German government" not in long_names and "University of Chicago" not in long_names


def test_a_ruler_initialised_from_the_training_file_marks_the_names_it_saw(train_file):
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH"})
    nlp.config["initialize"]["components"]["entity_ruler"] = {
        "patterns": {"@readers": "spacy_triples.triple_entity_patterns.v1", "path": str(train_file)}}
    nlp.initialize()
    doc = nlp("Yesterday Angela Merkel flew from Berlin to Paris , not to Lyon .")
    assert [(e.text, e.label_) for e in doc.ents] == [("Angela Merkel", "SEEN"), ("Berlin", "SEEN"), ("Paris", "SEEN")]
    # what spacy_triples.TokenFeatures.v1 reads with attrs = [..., "ENT_IOB"]: B = 3, I = 1, O = 2
    assert list(doc.to_array([ENT_IOB])) == [2, 3, 1, 2, 2, 3, 2, 3, 2, 2, 2, 2, 2]


@pytest.mark.parametrize("kwargs,message", [
    ({"path": "missing.spacy"}, "no .spacy file at missing.spacy: give the training corpus"),
    ({"label": ""}, "label must be a non-empty string"),
    ({"min_chars": 0}, "min_chars must be a whole number >= 1, got 0"),
    ({"max_words": 2.5}, "max_words must be a whole number >= 1, got 2.5"),
])
def test_bad_settings_say_what_to_fix(train_file, kwargs, message):
    with pytest.raises(ValueError, match=message):
        read_triple_entity_patterns(**{"path": train_file, **kwargs})
