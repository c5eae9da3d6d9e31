"""head_learn_rate_scale: the head learns at a multiple of the optimizer's rate, the encoder at its own."""
import numpy
import pytest
import spacy
from thinc.api import SGD, fix_random_seed

from ..util import param_snapshot, make_examples


def _one_step(scale):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"head_learn_rate_scale": scale})
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("triple_extractor")
    head_ids = {node.id for node in pipe.model.get_ref("output_layer").walk()}
    before = param_snapshot(pipe.model)
    fix_random_seed(1)
    nlp.update(examples, sgd=SGD(0.01, L2=0.0, grad_clip=0.0), drop=0.0)
    after = param_snapshot(pipe.model)
    deltas = {}
    for key in before:
        in_head = any(node.id in head_ids and node.name == key[0] for node in pipe.model.walk())
        deltas.setdefault("head" if in_head else "tok2vec", []).append(after[key] - before[key])
    return deltas


def test_the_head_moves_scale_times_as_far_and_the_encoder_as_before():
    base, scaled = _one_step(1.0), _one_step(10.0)
    assert base.keys() == {"head", "tok2vec"}
    for a, b in zip(base["head"], scaled["head"]):
        numpy.testing.assert_allclose(b, 10.0 * a, rtol=1e-3, atol=1e-7)
    assert any(numpy.abs(a).max() > 0 for a in base["head"])
    for a, b in zip(base["tok2vec"], scaled["tok2vec"]):
        numpy.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-8)
    assert any(numpy.abs(a).max() > 0 for a in base["tok2vec"])


@pytest.mark.parametrize("value", [0, -1.0, 0.0])
def test_a_bad_scale_is_refused(value):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="head_learn_rate_scale must be a positive number"):
        nlp.add_pipe("triple_extractor", config={"head_learn_rate_scale": value})


def test_the_scale_survives_saving(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"head_learn_rate_scale": 5.0})
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path)
    assert spacy.load(tmp_path).get_pipe("triple_extractor").cfg["head_learn_rate_scale"] == 5.0
