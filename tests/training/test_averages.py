"""spacy_triples.torch_averages.v1: the optimizer's weight averages reach PyTorch weights."""
import copy
import pickle

import numpy
import pytest
import spacy
import torch
from thinc.api import Config, Optimizer, PyTorchWrapper_v2

from spacy_triples.training.averages import average_shim, make_torch_averages, torch_shims

from ..util import init_tiny_gp, make_examples, tiny_gp_config


def _trained_linear(steps=5):
    """A PyTorch layer in thinc, updated ``steps`` times by an Adam that keeps averages."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(4, 3)
    model = PyTorchWrapper_v2(linear)
    optimizer = Optimizer(0.1, use_averages=True)
    X = numpy.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    for _ in range(steps):
        Y, backprop = model.begin_update(X)
        backprop(numpy.ones_like(Y))
        model.finish_update(optimizer)
    return model, linear, optimizer, X


def _average(optimizer, shim, name):
    return torch.from_numpy(numpy.asarray(optimizer.averages[(shim.id, name)]))


def test_use_params_swaps_in_the_averages_and_restores_the_weights():
    model, linear, optimizer, X = _trained_linear()
    shim = model.shims[0]
    raw = linear.weight.detach().clone()
    assert (shim.id, "weight") in optimizer.averages
    assert not torch.equal(_average(optimizer, shim, "weight"), raw)
    with model.use_params(optimizer.averages):  # thinc alone: the keys do not match, nothing changes
        assert torch.equal(linear.weight, raw)
    average_shim(shim)
    raw_out = model.predict(X)
    with model.use_params(optimizer.averages):
        assert torch.equal(linear.weight, _average(optimizer, shim, "weight"))
        assert torch.equal(linear.bias, _average(optimizer, shim, "bias"))
        assert not numpy.allclose(model.predict(X), raw_out, atol=1e-6)
    assert torch.equal(linear.weight, raw)
    numpy.testing.assert_array_equal(model.predict(X), raw_out)
    with model.use_params({}):  # no averages: nothing changes
        assert torch.equal(linear.weight, raw)


def test_restores_the_weights_when_the_body_raises():
    model, linear, optimizer, _ = _trained_linear()
    average_shim(model.shims[0])
    raw = linear.weight.detach().clone()
    with pytest.raises(RuntimeError):
        with model.use_params(optimizer.averages):
            raise RuntimeError("evaluation failed")
    assert torch.equal(linear.weight, raw)


def test_average_shim_is_idempotent_copies_and_pickles():
    model, linear, optimizer, X = _trained_linear()
    shim = model.shims[0]
    average_shim(shim)
    cls = type(shim)
    assert type(average_shim(shim)) is cls
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(clone.shims[0]).__name__ == cls.__name__
        numpy.testing.assert_allclose(clone.predict(X), model.predict(X), rtol=1e-5, atol=1e-6)


def test_warns_where_it_has_nothing_to_do():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with pytest.warns(UserWarning, match="no PyTorch model"):
        make_torch_averages()(nlp)


def test_covers_the_global_pointer_head_too():
    """The GlobalPointer head is a PyTorch module: without the callback its averages are not used either."""
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    nlp.initialize(lambda: make_examples(nlp))
    shims = torch_shims(nlp)
    assert shims
    with pytest.warns(UserWarning, match="use_averages is false"):  # a blank pipeline has no training config
        make_torch_averages()(nlp)
    assert all(type(s).__name__ == "TorchAveragesPyTorchShim" for s in shims)


def _config(name: str, use_averages: bool) -> Config:
    config = tiny_gp_config(name, all_layers=True)
    config["training"]["optimizer"]["use_averages"] = use_averages
    config["initialize"]["after_init"] = {"@callbacks": "spacy_triples.torch_averages.v1"}
    return config


def test_pipeline_evaluates_with_averaged_transformer_weights(tiny_bert, tmp_path):
    config = _config(tiny_bert, True)
    nlp = init_tiny_gp(config, tmp_path)
    shims = torch_shims(nlp)
    assert len(shims) == 2 and all(type(s).__name__.startswith("TorchAverages") for s in shims)
    optimizer = spacy.util.registry.resolve({"o": {**config["training"]["optimizer"], "learn_rate": 0.001}})["o"]
    examples = make_examples(nlp)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    trf_shim = nlp.get_pipe("transformer").model.layers[0].shims[0]
    hf = trf_shim._model
    averaged = [n for n, _ in hf.named_parameters() if (trf_shim.id, n) in optimizer.averages]
    assert len(averaged) >= 30  # every weight that had a gradient (not the unused pooler)
    raw = {n: p.detach().clone() for n, p in hf.named_parameters()}
    text = "Alice works for Acme ."
    raw_tensor = nlp(text)._.trf_data.tensors[0].copy()
    with nlp.use_params(optimizer.averages):
        changed = [n for n, p in hf.named_parameters() if not torch.equal(p, raw[n])]
        averaged_tensor = nlp(text)._.trf_data.tensors[0].copy()
    assert changed == averaged
    assert not numpy.allclose(averaged_tensor, raw_tensor, atol=1e-6)
    assert all(torch.equal(p, raw[n]) for n, p in hf.named_parameters())
    numpy.testing.assert_allclose(nlp(text)._.trf_data.tensors[0], raw_tensor, rtol=1e-5, atol=1e-6)
    head = nlp.get_pipe("triple_extractor").model
    assert any(shim in torch_shims(nlp) for node in head.walk() for shim in node.shims)  # the head's too


def test_warns_when_the_optimizer_keeps_no_averages(tiny_bert, tmp_path):
    nlp = spacy.util.load_model_from_config(_config(tiny_bert, False), auto_fill=True, validate=True)
    nlp.initialize(lambda: make_examples(nlp))
    with pytest.warns(UserWarning, match="use_averages is false"):
        make_torch_averages()(nlp)
    assert torch_shims(nlp)
