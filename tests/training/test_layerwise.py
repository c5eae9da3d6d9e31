"""spacy_triples.LayerwiseAdam.v1: each encoder layer learns at its own rate."""
import numpy
import pytest
import torch
from spacy.util import registry

from spacy_triples.training.freeze import pytorch_modules
from spacy_triples.training.layerwise import LayerwiseOptimizer, layer_scale, make_layerwise_adam

from ..util import init_tiny_gp, make_examples, tiny_gp_config


@pytest.mark.parametrize("name,expected", [
    ("encoder.layer.5.output.dense.weight", 1.0),
    ("encoder.layer.4.attention.self.query.bias", 0.5),
    ("encoder.layer.0.intermediate.dense.weight", 0.5 ** 5),
    ("embeddings.LayerNorm.weight", 0.5 ** 6),
    ("embeddings.word_embeddings.weight", 0.5 ** 6),
    ("pooler.dense.weight", 1.0),
    ("head.qk.weight", 1.0),
    ("W", 1.0),
    ("relayer.3.x", 1.0),
])
def test_layer_scale(name, expected):
    assert layer_scale(name, 0.5, 6) == pytest.approx(expected)
    assert layer_scale(name, 1.0, 6) == 1.0


def test_a_layer_beyond_num_layers_is_an_error():
    with pytest.raises(ValueError, match="is in layer 6, but num_layers is 6"):
        layer_scale("encoder.layer.6.output.dense.weight", 0.8, 6)


@pytest.mark.parametrize("settings,message", [
    ({"layer_decay": 0.0, "num_layers": 6}, "layer_decay must be a number in"),
    ({"layer_decay": 1.5, "num_layers": 6}, "layer_decay must be a number in"),
    ({"layer_decay": "0.8", "num_layers": 6}, "layer_decay must be a number in"),
    ({"layer_decay": 0.8, "num_layers": 0}, "num_layers must be the encoder's number of layers"),
    ({"layer_decay": 0.8, "num_layers": 6.0}, "num_layers must be the encoder's number of layers"),
    ({"layer_decay": 0.8, "num_layers": 6, "layer_pattern": "layer"}, "exactly one group"),
    ({"layer_decay": 0.8, "num_layers": 6, "embeddings_pattern": "("}, "not a regular expression"),
])
def test_bad_settings_are_an_error(settings, message):
    with pytest.raises(ValueError, match=message):
        make_layerwise_adam(0.001, **settings)


def test_registered_and_resolved_from_a_config():
    optimizer = registry.resolve({"o": {"@optimizers": "spacy_triples.LayerwiseAdam.v1", "learn_rate": 0.002,
                                        "layer_decay": 0.8, "num_layers": 6, "L2": 0.01, "use_averages": False}})["o"]
    assert isinstance(optimizer, LayerwiseOptimizer)
    assert optimizer.learn_rate == pytest.approx(0.002) and optimizer.L2 == pytest.approx(0.01)
    assert optimizer.averages is None
    assert optimizer.scale_for((1, "encoder.layer.0.output.dense.weight")) == pytest.approx(0.8 ** 5)
    assert optimizer.scale_for("not a tuple") == 1.0


def test_plain_arrays_get_the_scaled_adam_step():
    """Adam's first step moves each weight by the learning rate (the sign of its gradient):
    the layer's scale and the caller's lr_scale multiply it."""
    optimizer = make_layerwise_adam(0.01, layer_decay=0.5, num_layers=2, grad_clip=0.0)
    gradient = numpy.array([1.0, -2.0, 3.0], dtype="f")
    for name, lr_scale, step in [("encoder.layer.1.w", 1.0, 0.01), ("encoder.layer.0.w", 1.0, 0.005),
                                 ("embeddings.w", 2.0, 0.005), ("head.w", 10.0, 0.1)]:
        weights = numpy.zeros(3, dtype="f")
        weights, _ = optimizer((7, name), weights, gradient.copy(), lr_scale=lr_scale)
        assert numpy.allclose(weights, -step * numpy.sign(gradient), rtol=1e-4, atol=1e-9), name


def test_each_layer_of_a_pipeline_moves_at_its_rate(tiny_bert, tmp_path):
    """Updates of the tiny-BERT GlobalPointer pipeline: no weight moves further than the rate times
    its layer's scale (the head's: head_learn_rate_scale), and on the first Adam step the largest
    move in each layer is exactly that."""
    config = tiny_gp_config(tiny_bert, all_layers=True)  # both layers, to see two rates
    config["initialize"]["after_init"] = None  # MiniLM's config freezes the word embeddings
    nlp = init_tiny_gp(config, tmp_path)
    head_scale = nlp.get_pipe("triple_extractor").cfg["head_learn_rate_scale"]
    assert head_scale == 10.0
    lr = 0.001
    optimizer = make_layerwise_adam(lr, layer_decay=0.5, num_layers=2, grad_clip=0.0, L2=0.0, eps=1e-14)
    hf = nlp.get_pipe("transformer").model.layers[0].shims[0]._model
    head = [m for m in pytorch_modules(nlp) if m is not hf]
    assert len(head) == 1
    expected = {"encoder.layer.1.": 1.0, "encoder.layer.0.": 0.5, "embeddings.": 0.25}
    # the fresh head's projections start at zero, so the first update moves the head only; the
    # second is the encoder's first Adam step
    for step in (0, 1):
        before = {(id(m), n): p.detach().clone() for m in (hf, head[0]) for n, p in m.named_parameters()}
        nlp.update(make_examples(nlp), sgd=optimizer, drop=0.0)
        largest = {}
        for module in (hf, head[0]) if step == 0 else (hf,):  # (the head's second step is not checked)
            for name, param in module.named_parameters():
                moved = float((param.detach() - before[(id(module), name)]).abs().max())
                if module is head[0]:
                    prefix, scale = "head", head_scale
                else:
                    prefix = next((p for p in expected if name.startswith(p)), None)
                    scale = expected[prefix] if prefix else 1.0
                if moved == 0.0:
                    continue
                assert moved <= lr * scale * 1.001, (name, moved)
                largest[prefix] = max(largest.get(prefix, 0.0), moved / scale)
        if step == 0:
            assert list(largest) == ["head"]
        else:
            assert {"encoder.layer.1.", "encoder.layer.0.", "embeddings."} <= set(largest)
        # on a tensor's first Adam step a weight with a clear gradient moves by the rate exactly
        assert all(value == pytest.approx(lr, rel=1e-3) for value in largest.values()), largest


def test_a_config_that_names_too_few_layers_fails_on_the_first_encoder_update(tiny_bert, tmp_path):
    nlp = init_tiny_gp(tiny_gp_config(tiny_bert, all_layers=True), tmp_path)
    examples = make_examples(nlp)
    optimizer = make_layerwise_adam(0.001, layer_decay=0.8, num_layers=1)
    nlp.update(examples, sgd=optimizer)  # the head only (its projections start at zero)
    with pytest.raises(ValueError, match="is in layer 1, but num_layers is 1"):
        nlp.update(examples, sgd=optimizer)
    assert torch.is_grad_enabled()
