"""``spacy_triples.TokenFeatures.v1``: lexical features (by default the token's shape) beside any
tok2vec, so a head over an uncased encoder still sees capitalisation."""
import pytest
import spacy

from spacy_triples.encoders.token_features import build_token_features

from ..util import DGCNN, GP2, TRAIN_DATA, assert_same_triples, train_head

TEXTS = [" ".join(words) for words, _ in TRAIN_DATA]
LOWERCASING = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["LOWER"], "rows": [500],
               "include_static_vectors": False}


def test_features_add_what_an_uncased_tok2vec_cannot_see():
    nlp = spacy.blank("en")
    inner = spacy.registry.resolve({"x": LOWERCASING})["x"]
    model = build_token_features(inner, width=8)
    docs = [nlp("The Premier League"), nlp("the premier league")]
    model.initialize(X=docs)
    upper, lower = model.predict(docs)
    assert upper.shape == (3, 24) and lower.shape == (3, 24)
    assert abs(upper[:, :16] - lower[:, :16]).max() == 0  # the inner tok2vec lowercases
    assert abs(upper[:, 16:] - lower[:, 16:]).max() > 0  # the shape ("Xxx" against "xxx") tells them apart


def test_a_head_over_token_features_overfits_and_survives_a_round_trip(tmp_path):
    tok2vec = {"@architectures": "spacy_triples.TokenFeatures.v1", "tok2vec": DGCNN, "width": 16}
    nlp, examples = train_head(GP2, tok2vec)
    assert nlp.evaluate(examples)["triples_f"] == 1.0
    nlp.to_disk(tmp_path / "gp")
    loaded = spacy.load(tmp_path / "gp")
    assert_same_triples(list(loaded.pipe(TEXTS)), list(nlp.pipe(TEXTS)))


@pytest.mark.parametrize("kwargs,message", [
    ({"attrs": ["SHAPE", "PREFIX"], "rows": [100]}, "one rows entry per attribute"),
    ({"attrs": [], "rows": []}, "one rows entry per attribute"),
    ({"width": 0}, "width must be a positive integer"),
])
def test_bad_settings_are_refused_with_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_token_features(None, **kwargs)
