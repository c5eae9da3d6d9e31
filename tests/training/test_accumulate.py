"""training.accumulate_gradient: the sub-batches of one step add up to the whole batch's gradient."""
import numpy
import pytest
import spacy
from thinc.api import SGD

from ..util import CNN, GP2, POINTER, param_snapshot, TRAIN_DATA, make_examples


def _nlp(head, accumulate):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.config["training"]["accumulate_gradient"] = accumulate
    model = {"@architectures": head, "tok2vec": CNN}
    if head == POINTER:
        model["dropout"] = 0.0  # the head's own dropout (drop= does not reach it)
    nlp.add_pipe("triple_extractor", config={"model": model})
    # one example four times: every sub-batch has the same mean loss as the whole batch
    examples = make_examples(nlp, [TRAIN_DATA[0]]) * 4
    nlp.initialize(lambda: examples)
    return nlp, examples


def _step(head, accumulate, scale=None):
    """One optimizer step as spaCy's training loop takes it: ``accumulate`` updates without an
    optimizer, then finish_update. Returns the change of every weight."""
    nlp, examples = _nlp(head, accumulate)
    pipe = nlp.get_pipe("triple_extractor")
    if scale is not None:
        pipe.gradient_scale = scale
    before = param_snapshot(pipe.model)
    size = len(examples) // accumulate
    losses = {}
    for i in range(accumulate):
        nlp.update(examples[i * size : (i + 1) * size], sgd=False, drop=0.0, losses=losses)
    pipe.finish_update(SGD(0.01, L2=0.0, grad_clip=0.0))
    after = param_snapshot(pipe.model)
    # keyed by walk order and name (node ids differ between the pipelines)
    deltas = {(i, key[0], key[2]): after[key] - before[key] for i, key in enumerate(before)}
    return deltas, losses["triple_extractor"]


@pytest.mark.parametrize("head", [GP2, POINTER])
@pytest.mark.parametrize("accumulate", [2, 4])
def test_sub_batches_step_as_far_as_the_whole_batch(head, accumulate):
    whole, whole_loss = _step(head, 1)
    split, split_loss = _step(head, accumulate)
    assert any(numpy.abs(d).max() > 0 for d in whole.values())
    for key in whole:
        numpy.testing.assert_allclose(split[key], whole[key], rtol=1e-3, atol=1e-7, err_msg=str(key))
    assert split_loss == pytest.approx(whole_loss, rel=1e-4)
    # without the scale, the step is ``accumulate`` times as long (what training did before)
    unscaled, _ = _step(head, accumulate, scale=1.0)
    largest = max(whole, key=lambda key: numpy.abs(whole[key]).max())
    numpy.testing.assert_allclose(unscaled[largest], accumulate * whole[largest], rtol=1e-3, atol=1e-7)


def test_initialize_reads_the_setting_from_the_config():
    nlp, _ = _nlp(GP2, 4)
    assert nlp.get_pipe("triple_extractor").gradient_scale == 0.25
    nlp, _ = _nlp(GP2, 1)
    assert nlp.get_pipe("triple_extractor").gradient_scale == 1.0


@pytest.mark.parametrize("value", [0, -2, 1.5, "4"])
def test_a_bad_setting_is_refused_with_what_to_fix(value):
    nlp = spacy.blank("en")
    nlp.config["training"]["accumulate_gradient"] = value
    nlp.add_pipe("triple_extractor")
    examples = make_examples(nlp)
    with pytest.raises(ValueError, match=r"training.accumulate_gradient must be a whole number >= 1"):
        nlp.initialize(lambda: examples)


def test_a_head_without_scale_gradient_says_what_to_do():
    from spacy_triples.heads import TripleHead

    with pytest.raises(NotImplementedError, match="accumulate_gradient = 1"):
        TripleHead(None).scale_gradient(None, 0.5)
