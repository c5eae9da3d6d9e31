"""spacy_triples.cpu_autocast.v1: the transformer computes in bfloat16 on the CPU, everything it
hands on (and every weight) stays float32, and the switch survives saving and loading."""
import copy
import pickle
import subprocess
import sys
import warnings

import numpy
import pytest
import spacy
import torch
from thinc.api import Config, PyTorchWrapper_v2

from spacy_triples.precision import autocast_shim, make_cpu_autocast

from .util import TRAIN_DATA, make_examples, tiny_gp_config, train


def _linear_model(seed=0, hook=True):
    torch.manual_seed(seed)
    linear = torch.nn.Linear(16, 8)
    seen = []
    if hook:  # records the dtype the layer computed in (a hook is not picklable)
        linear.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    return PyTorchWrapper_v2(linear), linear, seen


def test_autocast_shim_computes_in_bfloat16_and_returns_float32():
    model, linear, seen = _linear_model()
    X = numpy.random.default_rng(0).normal(size=(5, 16)).astype("f")
    plain, _ = model(X, is_train=False)
    autocast_shim(model.shims[0], torch.bfloat16)
    Y, backprop = model(X, is_train=True)
    assert seen == [torch.float32, torch.bfloat16]  # the layer itself ran in bfloat16
    assert Y.dtype == numpy.float32
    assert not numpy.array_equal(Y, plain)  # reduced precision, so not bit-identical ...
    numpy.testing.assert_allclose(Y, plain, atol=0.05)  # ... but close
    dX = backprop(numpy.ones_like(Y))
    assert dX.dtype == numpy.float32 and dX.shape == X.shape
    # the gradient reaches the float32 weights
    assert linear.weight.dtype == torch.float32 and linear.weight.grad is not None
    assert linear.weight.grad.dtype == torch.float32 and float(linear.weight.grad.abs().sum()) > 0
    predicted = model.predict(X)
    assert predicted.dtype == numpy.float32 and seen[-1] == torch.bfloat16


def test_autocast_shim_is_idempotent_copies_and_pickles():
    model, _, _ = _linear_model(hook=False)
    shim = model.shims[0]
    base = type(shim)
    autocast_shim(shim, torch.bfloat16)
    patched = type(shim)
    autocast_shim(shim, torch.bfloat16)
    assert type(shim) is patched and patched.__mro__[1] is base
    X = numpy.ones((2, 16), dtype="f")
    for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(other.shims[0]) is patched
        numpy.testing.assert_allclose(other.predict(X), model.predict(X), atol=1e-6)
    # a fresh process (spawned workers) finds the patched class by name
    code = ("import pickle, sys; m = pickle.loads(sys.stdin.buffer.read()); "
            "print(type(m.shims[0]).__name__, m.shims[0].autocast_dtype)")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(model), capture_output=True, check=True)
    assert out.stdout.decode().split() == ["CPUAutocastPyTorchShim", "torch.bfloat16"]
    # float16 replaces bfloat16 on the same shim rather than stacking another subclass
    autocast_shim(shim, torch.float16)
    assert type(shim) is patched and shim.autocast_dtype == torch.float16


@pytest.mark.parametrize("kwargs,message", [
    ({"dtype": "float64"}, "dtype must be one of"),
    ({"enabled": "yes"}, "enabled must be true or false"),
    ({"components": "transformer"}, "components must be a list"),
])
def test_bad_settings_say_what_to_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_cpu_autocast(**kwargs)


def test_pipeline_without_transformer_warns_and_is_unchanged():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    with pytest.warns(UserWarning, match="no Hugging Face transformer"):
        make_cpu_autocast()(nlp)
    with pytest.raises(ValueError, match="no component named"):
        make_cpu_autocast(components=["transformer"])(nlp)


def _config(name: str, enabled: bool) -> Config:
    config = tiny_gp_config(name)
    config["nlp"]["after_pipeline_creation"] = {"@callbacks": "spacy_triples.cpu_autocast.v1", "enabled": enabled}
    return config


def _trf_shim(nlp):
    return nlp.get_pipe("transformer").model.layers[0].shims[0]


def test_disabled_leaves_the_transformer_alone(tiny_bert):
    nlp = spacy.util.load_model_from_config(_config(tiny_bert, False), auto_fill=True, validate=True)
    assert not hasattr(_trf_shim(nlp), "autocast_dtype")


def test_bfloat16_pipeline_overfits_and_round_trips(tiny_bert, tmp_path):
    nlp = spacy.util.load_model_from_config(_config(tiny_bert, True), auto_fill=True, validate=True)
    assert _trf_shim(nlp).autocast_dtype == torch.bfloat16
    examples = make_examples(nlp)
    seen = []
    train(nlp, examples[:1], n_iter=1, learn_rate=0.003)  # builds the transformer
    hf = _trf_shim(nlp)._model
    hf.encoder.layer[0].attention.self.query.register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    train(nlp, examples, n_iter=150, learn_rate=0.003)
    assert seen and set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in hf.parameters())
    scores = nlp.evaluate(examples)
    assert scores["triples_f"] > 0.9
    for doc in nlp.pipe(" ".join(words) for words, _ in TRAIN_DATA):
        assert all(type(t.score) is float for t in doc._.triples)
    nlp.to_disk(tmp_path / "model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nlp2 = spacy.load(tmp_path / "model")
    assert _trf_shim(nlp2).autocast_dtype == torch.bfloat16  # the switch is in the saved config
    texts = [" ".join(words) for words, _ in TRAIN_DATA]
    for d1, d2 in zip(nlp.pipe(texts), nlp2.pipe(texts)):
        assert [t.to_dict() for t in d1._.triples] == [t.to_dict() for t in d2._.triples]


def test_bf16_option_refuses_what_it_cannot_do():
    from spacy_triples.cli import check_bf16

    check_bf16(False, 0, "ray")  # off: anything goes
    check_bf16(True, -1, "spacy")
    with pytest.raises(ValueError, match="mixed_precision"):
        check_bf16(True, 0)
    with pytest.raises(ValueError, match="engine spacy"):
        check_bf16(True, -1, "ray")


def test_extract_bf16_finds_the_float32_triples(tiny_bert, tmp_path):
    import json

    from spacy_triples.cli import _load, main

    nlp = spacy.util.load_model_from_config(_config(tiny_bert, False), auto_fill=True, validate=True)
    train(nlp, make_examples(nlp), n_iter=150, learn_rate=0.003)
    nlp.to_disk(tmp_path / "model")
    assert not hasattr(_trf_shim(_load(str(tmp_path / "model"))), "autocast_dtype")
    assert _trf_shim(_load(str(tmp_path / "model"), bf16=True)).autocast_dtype == torch.bfloat16
    (tmp_path / "in.txt").write_text("\n".join(" ".join(words) for words, _ in TRAIN_DATA) + "\n")
    found = {}
    for name, extra in (("fp32", []), ("bf16", ["--bf16"])):
        out = tmp_path / f"{name}.jsonl"
        assert main(["extract", str(tmp_path / "model"), str(tmp_path / "in.txt"), str(out), "--quiet", *extra]) == 0
        found[name] = [sorted((t["subject"], t["relation"], t["object"]) for t in json.loads(line)["triples"])
                       for line in out.read_text().splitlines()]
    assert len(found["bf16"]) == len(TRAIN_DATA) and sum(map(len, found["fp32"])) > 0
    assert found["bf16"] == found["fp32"]
