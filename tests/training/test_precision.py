"""Precision on the CPU. spacy_triples.cpu_autocast.v1: the transformer computes in bfloat16, everything
it hands on (and every weight) stays float32, and the switch survives saving and loading.
set_precision / spacy_triples.precision.v1: fp32, bf16, int8 (dynamic quantization of the Linear
layers for prediction, float32 weights saved) and auto (decided from the CPU's flags), each
loading, predicting and round-tripping through to_disk / spacy.load."""
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

from spacy_triples.training.precision import autocast_shim, make_cpu_autocast

from ..util import TRAIN_DATA, assert_close, make_examples, tiny_gp_config, train


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
    ({"enabled": "yes"}, "enabled must be true, false or \"auto\""),
    ({"enabled": "auto", "dtype": "float16"}, "dtype must be \"bfloat16\""),
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


@pytest.mark.parametrize("native", [True, False])
def test_auto_autocasts_only_where_the_cpu_has_bfloat16(tiny_bert, monkeypatch, native):
    """enabled = "auto" (what a config can carry to any machine): bfloat16 where the CPU computes
    it natively, float32 and a warning elsewhere, never torch's slow emulation."""
    import spacy_triples.training.precision as precision

    monkeypatch.setattr(precision, "native_bfloat16", lambda: native)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nlp = spacy.util.load_model_from_config(_config(tiny_bert, "auto"), auto_fill=True, validate=True)
    fallback = [w for w in caught if "stays float32" in str(w.message)]
    if native:
        assert _trf_shim(nlp).autocast_dtype == torch.bfloat16 and not fallback
    else:
        assert not hasattr(_trf_shim(nlp), "autocast_dtype") and len(fallback) == 1


def test_bfloat16_pipeline_overfits_and_round_trips(tiny_bert, tmp_path):
    nlp = spacy.util.load_model_from_config(_config(tiny_bert, True), auto_fill=True, validate=True)
    assert _trf_shim(nlp).autocast_dtype == torch.bfloat16
    examples = make_examples(nlp)
    seen = []
    train(nlp, examples[:1], n_iter=1, learn_rate=0.003)  # builds the transformer
    hf = _trf_shim(nlp)._model
    hf.encoder.layer[0].attention.self.query.register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    train(nlp, examples, n_iter=250, learn_rate=0.003)
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
    from spacy_triples.util import check_bf16

    check_bf16(False, 0, "ray")  # off: anything goes
    check_bf16(True, -1, "spacy")
    with pytest.raises(ValueError, match="mixed_precision"):
        check_bf16(True, 0)
    with pytest.raises(ValueError, match="engine spacy"):
        check_bf16(True, -1, "ray")


def test_extract_bf16_finds_the_float32_triples(tiny_bert, tmp_path):
    import json

    from spacy_triples.cli import main
    from spacy_triples.util import load_pipeline as _load

    nlp = spacy.util.load_model_from_config(_config(tiny_bert, False), auto_fill=True, validate=True)
    train(nlp, make_examples(nlp), n_iter=150, learn_rate=0.003)
    nlp.to_disk(tmp_path / "model")
    assert not hasattr(_trf_shim(_load(str(tmp_path / "model"))), "autocast_dtype")
    # --bf16 runs the engine bf16_engine="auto" picks on this CPU (OpenVINO on AMX where installed)
    assert type(_trf_shim(_load(str(tmp_path / "model"), bf16=True))).__name__ == _bf16_class()
    (tmp_path / "in.txt").write_text("\n".join(" ".join(words) for words, _ in TRAIN_DATA) + "\n")
    found = {}
    for name, extra in (("fp32", []), ("bf16", ["--bf16"])):
        out = tmp_path / f"{name}.jsonl"
        assert main(["extract", str(tmp_path / "model"), str(tmp_path / "in.txt"), str(out), "--quiet", *extra]) == 0
        found[name] = [sorted((t["subject"], t["relation"], t["object"]) for t in json.loads(line)["triples"])
                       for line in out.read_text().splitlines()]
    assert len(found["bf16"]) == len(TRAIN_DATA) and sum(map(len, found["fp32"])) > 0
    assert found["bf16"] == found["fp32"]


# ---------------------------------------------------------------------------------------------
# set_precision and spacy_triples.precision.v1

from spacy_triples import set_precision  # noqa: E402
from spacy_triples.training.precision import (  # noqa: E402
    PRECISIONS, auto_precision, check_precision, choose_precision, cpu_flags, int8_shim, make_precision,
    quantize_linear, quantized_module,
)

# int8 moves an overfit model's scores by about 1e-3 on the CPUs tried; the margin holds on any
# kernel (AMD, Intel, Arm) while a wrong or stale quantization moves them by far more
INT8_SCORE_ATOL = 0.03
BF16_SCORE_ATOL = 0.03
TEXTS = [" ".join(words) for words, _ in TRAIN_DATA]


def _bf16_class():
    """The transformer shim's class for precision bf16 with bf16_engine "auto" on this machine."""
    from spacy_triples.training.precision import resolve_bf16_engine

    return {"torch": "CPUAutocastHFShim", "openvino": "OpenVinoBf16HFShim"}[resolve_bf16_engine("auto")]


@pytest.mark.parametrize("flags,expected", [
    ({"fpu", "avx2", "avx512f", "avx512_vnni", "avx512_bf16"}, "int8"),  # Zen 4, Cooper Lake: int8 measured faster
    ({"avx512f", "avx512_bf16"}, "bf16"),  # bfloat16 without int8 dot products
    ({"avx512_vnni", "amx_tile", "amx_bf16", "amx_int8"}, "bf16"),  # Sapphire Rapids
    ({"amx_tile"}, "bf16"),
    ({"avx2", "avx512f", "avx512_vnni"}, "int8"),  # Cascade Lake, Ice Lake
    ({"avx2", "avx_vnni"}, "int8"),  # Alder Lake
    ({"AVX512_VNNI"}, "int8"),  # any case
    ({"avx2", "fma", "avx512f"}, "fp32"),  # Skylake-SP, Zen 2/3: nothing native below float32
    ({"asimd", "fphp"}, "fp32"),  # Arm
    (set(), "fp32"),  # flags unknown
])
def test_auto_picks_what_the_cpu_runs_natively(flags, expected):
    assert choose_precision(flags) == expected


@pytest.mark.parametrize("flags,openvino,expected", [
    ({"avx512_vnni", "amx_tile", "amx_bf16", "amx_int8"}, True, "openvino"),  # Sapphire Rapids, measured 2x torch's
    ({"AMX_BF16"}, True, "openvino"),  # any case
    ({"avx512_vnni", "amx_tile", "amx_bf16"}, False, "torch"),  # OpenVINO not installed
    ({"avx512_vnni", "avx512_bf16"}, True, "torch"),  # Zen 4: OpenVINO's bf16 not measured there
    (set(), True, "torch"),
])
def test_auto_bf16_engine_is_openvino_only_on_amx(flags, openvino, expected):
    from spacy_triples.training.precision import choose_bf16_engine

    assert choose_bf16_engine(flags, openvino) == expected


def test_auto_without_a_quantized_engine_stays_float32():
    assert choose_precision({"avx512_vnni"}, int8_engine=False) == "fp32"
    assert choose_precision({"avx512_vnni", "avx512_bf16"}, int8_engine=False) == "bf16"


def test_cpu_flags_reads_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 avx512_vnni\n\n"
                    "processor\t: 1\nflags\t\t: fpu avx2 avx512_vnni\n")
    assert cpu_flags(str(info)) == {"fpu", "avx2", "avx512_vnni"}
    assert choose_precision(cpu_flags(str(info))) == "int8"
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()  # then auto is fp32
    assert auto_precision() in ("fp32", "bf16", "int8")


@pytest.mark.parametrize("call", [
    lambda: set_precision(spacy.blank("en"), "int4"),
    lambda: set_precision(spacy.blank("en"), "FP32"),
    lambda: make_precision("float16"),
    lambda: check_precision(None),
])
def test_bad_precision_lists_the_choices(call):
    with pytest.raises(ValueError, match="must be one of fp32, bf16, int8, auto, got"):
        call()


def test_quantize_head_must_be_a_bool():
    with pytest.raises(ValueError, match="quantize_head must be true or false"):
        set_precision(spacy.blank("en"), "int8", quantize_head="yes")


def test_quantize_linear_quantizes_only_linear_and_shares_the_rest():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.LayerNorm(32), torch.nn.Linear(32, 8))
    X = torch.randn(4, 16)
    with torch.no_grad():
        plain = module(X)
        quantized = quantize_linear(module)
        Y = quantized(X)
    assert [type(m).__name__ for m in module] == ["Linear", "LayerNorm", "Linear"]  # unchanged
    assert all(isinstance(quantized[i], torch.ao.nn.quantized.dynamic.Linear) for i in (0, 2))
    assert quantized[1].weight is module[1].weight  # shared, not copied
    assert Y.dtype == torch.float32 and Y.shape == plain.shape and bool(torch.isfinite(Y).all())
    assert not torch.equal(Y, plain)  # int8, so not bit-identical ...
    torch.testing.assert_close(Y, plain, atol=0.05, rtol=0.05)  # ... but close



def test_quantize_linear_scales_each_output_channel_apart():
    # rows of very different size: one scale for the whole matrix (per-tensor) rounds the small
    # rows to a few levels; a scale per output row keeps each row's relative error small
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 8, bias=False)
    with torch.no_grad():
        linear.weight.mul_(torch.tensor([100.0] + [0.01] * 7)[:, None])
    X = torch.randn(32, 64)
    with torch.no_grad():
        plain = linear(X)
        Y = quantize_linear(linear)(X)
    assert quantize_linear(linear).weight().qscheme() == torch.per_channel_affine
    small = (Y[:, 1:] - plain[:, 1:]).abs().max() / plain[:, 1:].abs().max()
    assert float(small) < 0.05, f"small rows lost precision: relative error {float(small):.3f}"

def test_int8_shim_predicts_quantized_trains_float_and_follows_weight_changes():
    model, linear, _ = _linear_model(hook=False)
    ran = []  # the module that computed (the int8 copy inherits the hook)
    linear.register_forward_hook(lambda module, args, out: ran.append(module))
    X = numpy.random.default_rng(0).normal(size=(5, 16)).astype("f")
    plain = model.predict(X)
    shim = int8_shim(model.shims[0])
    assert type(shim).__name__ == "Int8PyTorchShim"
    Y = model.predict(X)
    assert ran[0] is linear and isinstance(ran[1], torch.ao.nn.quantized.dynamic.Linear)
    numpy.testing.assert_allclose(Y, plain, atol=0.05)
    # training goes through the float32 module, and its gradient reaches the float32 weights
    Yt, backprop = model(X, is_train=True)
    numpy.testing.assert_array_equal(Yt, plain)
    backprop(numpy.ones_like(Yt))
    assert linear.weight.grad is not None and linear.weight.dtype == torch.float32
    # a weight changed in place (an optimizer step) is quantized again before the next prediction
    with torch.no_grad():
        linear.bias.add_(1.0)
    numpy.testing.assert_allclose(model.predict(X), plain + 1.0, atol=0.05)
    # so is a weight swapped in by use_params (the averages spacy train evaluates with)
    zeros = {f"pytorch_{shim.id}_{name}": numpy.zeros(p.shape, dtype="f") for name, p in linear.named_parameters()}
    with model.use_params(zeros):
        numpy.testing.assert_allclose(model.predict(X), 0.0, atol=1e-6)
    numpy.testing.assert_allclose(model.predict(X), plain + 1.0, atol=0.05)
    # and so is one thinc's optimizer writes (through numpy and `param.data =`, unseen by torch)
    from thinc.api import SGD

    before = model.predict(X)
    for _ in range(3):
        Yt, backprop = model(X, is_train=True)
        backprop(numpy.ones_like(Yt))
        model.finish_update(SGD(1.0))
    with torch.no_grad():
        now = linear(torch.from_numpy(X)).numpy()
    assert numpy.abs(now - before).max() > 0.5  # far more than int8 moves it
    numpy.testing.assert_allclose(model.predict(X), now, atol=0.05)
    # switching back to fp32 drops the int8 copy
    from spacy_triples.training.precision import _set_shim_precision

    _set_shim_precision(shim, "fp32")
    assert type(shim).__name__ == "PyTorchShim" and "_int8_cache" not in shim.__dict__
    numpy.testing.assert_allclose(model.predict(X), now, atol=1e-5)


def test_int8_shim_copies_pickles_and_keeps_torch_averages():
    from spacy_triples.training.averages import average_shim

    model, _, _ = _linear_model(hook=False)
    X = numpy.ones((2, 16), dtype="f")
    average_shim(model.shims[0])
    int8_shim(model.shims[0])
    assert type(model.shims[0]).__name__ == "TorchAveragesInt8PyTorchShim"
    expected = model.predict(X)
    assert "_int8_cache" in model.shims[0].__dict__
    for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(other.shims[0]) is type(model.shims[0]) and "_int8_cache" not in other.shims[0].__dict__
        numpy.testing.assert_allclose(other.predict(X), expected, atol=1e-6)
    code = ("import pickle, sys; m = pickle.loads(sys.stdin.buffer.read()); "
            "print(type(m.shims[0]).__name__, type(m.shims[0]).__mro__[1].__name__)")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(model), capture_output=True, check=True)
    assert out.stdout.decode().split() == ["TorchAveragesInt8PyTorchShim", "Int8PyTorchShim"]
    set_shim = __import__("spacy_triples.training.precision", fromlist=["_set_shim_precision"])._set_shim_precision
    set_shim(model.shims[0], "bf16")  # switching keeps the averages patch
    assert type(model.shims[0]).__name__ == "TorchAveragesCPUAutocastPyTorchShim"


def _triples(nlp, texts=TEXTS):
    return [[t.to_dict() for t in doc._.triples] for doc in nlp.pipe(texts)]


def _assert_same_triples(found, expected, atol):
    key = lambda t: (t["subject_tokens"], t["relation"], t["object_tokens"])  # noqa: E731
    assert [sorted(map(key, d)) for d in found] == [sorted(map(key, d)) for d in expected]
    for d1, d2 in zip(found, expected):
        s1 = [t["score"] for t in sorted(d1, key=key)]
        s2 = [t["score"] for t in sorted(d2, key=key)]
        numpy.testing.assert_allclose(s1, s2, atol=atol)


def _load_quietly(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return spacy.load(path)


@pytest.fixture(scope="module")
def int8_trained(tiny_bert, tmp_path_factory):
    """The tiny BERT pipeline built from a config that says int8, overfit, saved; with the fp32
    triples of the same weights."""
    config = tiny_gp_config(tiny_bert)
    config["nlp"]["after_pipeline_creation"] = {"@callbacks": "spacy_triples.precision.v1", "precision": "int8",
                                                "int8_engine": "torch"}
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert type(_trf_shim(nlp)).__name__ == "Int8HFShim"
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=150, learn_rate=0.003)  # trains float32, predicts int8
    int8_f = nlp.evaluate(examples)["triples_f"]
    int8 = _triples(nlp)
    set_precision(nlp, "fp32", save=False)
    fp32 = _triples(nlp)
    path = tmp_path_factory.mktemp("int8") / "model"
    set_precision(nlp, "int8", int8_engine="torch")
    nlp.to_disk(path)
    return {"path": path, "fp32": fp32, "int8": int8, "int8_f": int8_f}


def test_int8_config_trains_and_predicts_like_float32(int8_trained):
    # quantized again after training: a stale copy (of the initial weights) would score near 0
    assert int8_trained["int8_f"] > 0.9
    assert sum(map(len, int8_trained["fp32"])) > 0
    _assert_same_triples(int8_trained["int8"], int8_trained["fp32"], INT8_SCORE_ATOL)


def test_int8_saves_float32_weights_and_loads_quantized(int8_trained):
    nlp = _load_quietly(int8_trained["path"])
    assert nlp.config["nlp"]["after_pipeline_creation"]["precision"] == "int8"
    assert nlp.config["nlp"]["after_pipeline_creation"]["int8_engine"] == "torch"
    shim = _trf_shim(nlp)
    assert type(shim).__name__ == "Int8HFShim"
    assert all(p.dtype == torch.float32 for p in shim._model.parameters())  # what to_disk saved
    float_linears = [name for name, m in shim._model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert float_linears  # the float module keeps its Linear layers ...
    quantized = shim._int8_cache[1]  # ... and the one quantized on load replaces every one of them
    assert quantized is quantized_module(shim)
    kinds = {name: type(m) for name, m in quantized.named_modules()}
    assert all(kinds[name] is torch.ao.nn.quantized.dynamic.Linear for name in float_linears)
    _assert_same_triples(_triples(nlp), int8_trained["int8"], 1e-5)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_each_precision_loads_predicts_and_round_trips(int8_trained, precision, tmp_path):
    nlp = _load_quietly(int8_trained["path"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bf16 warns on a CPU without native bfloat16
        applied = set_precision(nlp, precision)
    expected_class = {"fp32": "HFShim", "bf16": _bf16_class(), "int8": "Int8HFShim"}
    assert applied == (auto_precision() if precision == "auto" else precision)
    assert type(_trf_shim(nlp)).__name__ == expected_class[applied]
    found = _triples(nlp)
    _assert_same_triples(found, int8_trained["fp32"], {"fp32": 1e-5, "bf16": BF16_SCORE_ATOL,
                                                      "int8": INT8_SCORE_ATOL}[applied])
    nlp.to_disk(tmp_path / "model")
    nlp2 = _load_quietly(tmp_path / "model")
    # auto is saved as auto: the machine that loads the pipeline decides
    assert nlp2.config["nlp"]["after_pipeline_creation"]["precision"] == precision
    assert type(_trf_shim(nlp2)).__name__ == expected_class[applied]
    _assert_same_triples(_triples(nlp2), found, 1e-5)


def test_cnn_pipeline_says_what_each_precision_does(trained_model_dir, tmp_path):
    nlp = _load_quietly(trained_model_dir)
    fp32 = _triples(nlp)
    assert sum(map(len, fp32)) > 0
    with pytest.warns(UserWarning, match="nothing is quantized and it stays float32"):
        assert set_precision(nlp, "int8") == "fp32"
    with pytest.warns(UserWarning, match="bf16 speeds up transformer pipelines only"):
        assert set_precision(nlp, "bf16") == "fp32"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto claims nothing it cannot do: fp32, quietly
        assert set_precision(nlp, "auto") == "fp32"
    _assert_same_triples(_triples(nlp), fp32, 1e-6)
    nlp.to_disk(tmp_path / "model")
    nlp2 = _load_quietly(tmp_path / "model")
    assert nlp2.config["nlp"]["after_pipeline_creation"] == {"@callbacks": "spacy_triples.precision.v1",
                                                             "precision": "auto"}
    _assert_same_triples(_triples(nlp2), fp32, 1e-6)
    # quantize_head: the head's own Linear layers in int8, on the loaded pipeline only
    with pytest.warns(UserWarning, match="quantize_head is not saved"):
        assert set_precision(nlp, "int8", quantize_head=True) == "int8"
    head = [s for node in nlp.get_pipe("triple_extractor").model.walk() for s in node.shims]
    assert head and all(type(s).__name__ == "Int8PyTorchShim" for s in head)
    quantized = quantized_module(head[0])
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in quantized.modules())
    _assert_same_triples(_triples(nlp), fp32, INT8_SCORE_ATOL)


def test_set_precision_keeps_a_foreign_callback_and_says_so():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    nlp.config["nlp"]["after_pipeline_creation"] = {"@callbacks": "spacy_triples.malloc_trim.v1"}
    with pytest.warns(UserWarning, match="already holds 'spacy_triples.malloc_trim.v1'"):
        set_precision(nlp, "fp32")
    assert nlp.config["nlp"]["after_pipeline_creation"] == {"@callbacks": "spacy_triples.malloc_trim.v1"}


def test_precision_option_and_its_bf16_alias():
    from spacy_triples.util import check_precision_options

    assert check_precision_options() is None  # the pipeline's own setting
    assert check_precision_options(bf16=True) == "bf16"
    assert check_precision_options(True, "bf16") == "bf16"
    assert check_precision_options(False, "int8") == "int8"
    assert check_precision_options(False, "auto", gpu_id=0) == "auto"  # auto leaves a GPU alone
    with pytest.raises(ValueError, match="--bf16 is an alias of --precision bf16 and conflicts with --precision int8"):
        check_precision_options(True, "int8")
    with pytest.raises(ValueError, match="--precision must be one of fp32, bf16, int8, auto"):
        check_precision_options(False, "int4")
    with pytest.raises(ValueError, match="int8 is for the CPU"):
        check_precision_options(False, "int8", gpu_id=0)
    with pytest.raises(ValueError, match="mixed_precision"):
        check_precision_options(False, "bf16", gpu_id=0)
    # the Ray engine takes it too: every actor sets it on its own CPU (ray.py TripleExtractorActor)
    assert check_precision_options(False, "int8", engine="ray") == "int8"
    assert check_precision_options(True, None, engine="ray") == "bf16"


def test_extract_and_evaluate_take_precision(int8_trained, tmp_path, capsys):
    import json

    from spacy.tokens import DocBin

    from spacy_triples.cli import main
    from spacy_triples.util import load_pipeline as _load

    path = str(int8_trained["path"])
    assert type(_trf_shim(_load(path))).__name__ == "Int8HFShim"  # its own setting
    assert type(_trf_shim(_load(path, precision="fp32"))).__name__ == "HFShim"
    assert type(_trf_shim(_load(path, bf16=True))).__name__ == _bf16_class()
    with pytest.raises(ValueError, match="conflicts"):
        _load(path, bf16=True, precision="int8")
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    found = {}
    for name in ("fp32", "int8"):
        out = tmp_path / f"{name}.jsonl"
        assert main(["extract", path, str(tmp_path / "in.txt"), str(out), "--quiet", "--precision", name]) == 0
        found[name] = [sorted((t["subject"], t["relation"], t["object"]) for t in json.loads(line)["triples"])
                       for line in out.read_text().splitlines()]
    assert len(found["int8"]) == len(TEXTS) and found["int8"] == found["fp32"]
    assert main(["extract", path, str(tmp_path / "in.txt"), str(tmp_path / "x.jsonl"), "--quiet",
                 "--bf16", "--precision", "int8"]) == 1
    assert "conflicts with --precision int8" in capsys.readouterr().err
    nlp = _load(path)
    DocBin(docs=[eg.reference for eg in make_examples(nlp)], store_user_data=True).to_disk(tmp_path / "gold.spacy")
    assert main(["evaluate", path, str(tmp_path / "gold.spacy"), "--precision", "int8",
                 "--output", str(tmp_path / "scores.json")]) == 0
    assert json.loads((tmp_path / "scores.json").read_text())["triples_f"] > 0.9
    with pytest.raises(SystemExit):  # argparse lists the choices
        main(["evaluate", path, str(tmp_path / "gold.spacy"), "--precision", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# int8 through ONNX Runtime (the onnx extra; the dev extra installs it)

onnx_int8 = pytest.importorskip("spacy_triples.training.onnx_int8")
needs_onnxruntime = pytest.mark.skipif(not onnx_int8.onnxruntime_available(),
                                       reason="onnxruntime/onnx not installed (pip install 'spacy-triples[onnx]')")


def _engine_available(engine):
    if engine == "onnxruntime":
        return onnx_int8.onnxruntime_available()
    from spacy_triples.training.openvino_int8 import openvino_available

    return openvino_available()


def _assert_int8_output(found, expected, tol):
    """An int8 encoder's output: the module's output class, its tensors float32 and shaped alike,
    not bit-identical (int8) but within ``tol``."""
    assert type(found) is type(expected) and list(found.keys()) == list(expected.keys())
    for key in expected.keys():
        assert found[key].dtype == torch.float32 and found[key].shape == expected[key].shape
        assert not torch.equal(found[key], expected[key])  # int8, so not bit-identical ...
        assert_close(found[key], expected[key], atol=tol, rtol=tol)  # ... but close


@pytest.mark.parametrize("engine,encoder_class", [("onnxruntime", "OnnxInt8Encoder"), ("openvino", "OpenVinoInt8Encoder")])
def test_exported_encoder_returns_what_the_module_returns(int8_trained, capsys, engine, encoder_class):
    if not _engine_available(engine):
        pytest.skip(f"{engine} not installed")
    from spacy_triples.training import onnx_int8 as onnx_module, openvino_int8 as openvino_module

    nlp = _load_quietly(int8_trained["path"])
    module = _trf_shim(nlp)._model
    module.train()
    encoder = getattr(onnx_module if engine == "onnxruntime" else openvino_module, encoder_class)(module)
    assert module.training  # left in the mode it was in (the export runs it in eval mode)
    assert capsys.readouterr().out == ""  # e.g. NNCF's progress bar would corrupt `extract -`
    module.eval()
    ids = torch.tensor([[2, 5, 6, 7, 3, 0], [2, 8, 9, 3, 0, 0]])
    mask = (ids > 0).long()
    with torch.no_grad():
        expected = module(input_ids=ids, attention_mask=mask)
    found = encoder(input_ids=ids, attention_mask=mask)  # no token_type_ids: zeros, as the module does
    _assert_int8_output(found, expected, 0.1)
    # other shapes than the export's example (batch 2 x 8): the axes are dynamic
    long_ids = torch.randint(4, 10, (3, 40))
    with torch.no_grad():
        expected = module(input_ids=long_ids)
    assert_close(encoder(input_ids=long_ids)[0], expected[0], atol=0.1, rtol=0.1)
    with pytest.raises(TypeError, match="were not exported"):
        encoder(input_ids=ids, attention_mask=mask, position_ids=ids)
    with pytest.raises(TypeError, match="keyword tensors"):
        encoder(ids)


@pytest.mark.parametrize("engine,encoder_class", [("onnxruntime", "OnnxInt8Encoder"), ("openvino", "OpenVinoInt8Encoder")])
def test_exported_int8_predicts_like_float32_and_round_trips(int8_trained, tmp_path, engine, encoder_class):
    if not _engine_available(engine):
        pytest.skip(f"{engine} not installed (pip install 'spacy-triples[{'onnx' if engine == 'onnxruntime' else engine}]')")
    nlp = _load_quietly(int8_trained["path"])
    assert set_precision(nlp, "int8", int8_engine=engine) == "int8"
    shim = _trf_shim(nlp)
    assert type(shim).__name__ == "Int8HFShim" and shim.int8_engine == engine
    assert type(quantized_module(shim)).__name__ == encoder_class
    assert all(p.dtype == torch.float32 for p in shim._model.parameters())  # the float module stays
    found = _triples(nlp)
    _assert_same_triples(found, int8_trained["fp32"], INT8_SCORE_ATOL)
    nlp.to_disk(tmp_path / "model")
    nlp2 = _load_quietly(tmp_path / "model")
    assert nlp2.config["nlp"]["after_pipeline_creation"]["int8_engine"] == engine
    assert _trf_shim(nlp2).int8_engine == engine
    _assert_same_triples(_triples(nlp2), found, 1e-5)
    # copies and pickles leave the session (compiled model) behind and make it again on use
    clone = pickle.loads(pickle.dumps(nlp2))
    _assert_same_triples(_triples(clone), found, 1e-5)


@needs_onnxruntime
def test_auto_int8_engine_is_onnxruntime_where_installed(int8_trained, monkeypatch):
    from spacy_triples.training import precision

    assert precision.resolve_int8_engine("auto") == "onnxruntime"
    assert precision.resolve_int8_engine("torch") == "torch"
    monkeypatch.setattr(onnx_int8, "onnxruntime_available", lambda: False)
    assert precision.resolve_int8_engine("auto") == "torch"
    with pytest.raises(ValueError, match=r"pip install 'spacy-triples\[onnx\]'"):
        precision.resolve_int8_engine("onnxruntime")
    nlp = _load_quietly(int8_trained["path"])
    assert set_precision(nlp, "int8", save=False) == "int8"
    assert _trf_shim(nlp).int8_engine == "torch"  # auto without ONNX Runtime: torch's int8


@pytest.mark.parametrize("engine,module_name,encoder_class,what", [
    ("onnxruntime", "onnx_int8", "OnnxInt8Encoder", "ONNX Runtime export"),
    ("openvino", "openvino_int8", "OpenVinoInt8Encoder", "OpenVINO conversion"),
])
def test_a_failed_export_falls_back_to_torch_int8(int8_trained, monkeypatch, engine, module_name, encoder_class, what):
    if not _engine_available(engine):
        pytest.skip(f"{engine} not installed")

    def fail(module):
        raise RuntimeError("cannot trace this model")

    monkeypatch.setattr(f"spacy_triples.training.{module_name}.{encoder_class}", fail)
    nlp = _load_quietly(int8_trained["path"])
    with pytest.warns(UserWarning, match=f"{what} of .* failed .*cannot trace this model.*torch's dynamic int8"):
        assert set_precision(nlp, "int8", int8_engine=engine, save=False) == "int8"
    shim = _trf_shim(nlp)
    assert shim.int8_engine == "torch" and isinstance(quantized_module(shim), torch.nn.Module)
    _assert_same_triples(_triples(nlp), int8_trained["int8"], 1e-5)


@pytest.mark.parametrize("call", [
    lambda nlp: set_precision(nlp, "int8", int8_engine="tensorrt"),
    lambda nlp: make_precision("int8", int8_engine=None),
])
def test_bad_int8_engine_lists_the_choices(call):
    with pytest.raises(ValueError, match="int8_engine must be one of auto, torch, onnxruntime, openvino"):
        call(spacy.blank("en"))


# int8 through OpenVINO (the openvino extra; the dev extra installs it)

openvino_int8 = pytest.importorskip("spacy_triples.training.openvino_int8")
needs_openvino = pytest.mark.skipif(not openvino_int8.openvino_available(),
                                    reason="openvino/nncf not installed (pip install 'spacy-triples[openvino]')")




@needs_openvino
def test_openvino_engine_without_the_package_says_what_to_install(monkeypatch):
    from spacy_triples.training import precision

    assert precision.resolve_int8_engine("openvino") == "openvino"
    monkeypatch.setattr(openvino_int8, "openvino_available", lambda: False)
    with pytest.raises(ValueError, match=r"pip install 'spacy-triples\[openvino\]'"):
        precision.resolve_int8_engine("openvino")


@needs_openvino
def test_openvino_bf16_predicts_like_float32_and_round_trips(int8_trained, tmp_path):
    from spacy_triples.training.precision import OPENVINO_BF16_PREFIX

    nlp = _load_quietly(int8_trained["path"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CPU without native bfloat16 says so
        assert set_precision(nlp, "bf16", bf16_engine="openvino") == "bf16"
    shim = _trf_shim(nlp)
    assert type(shim).__name__ == f"{OPENVINO_BF16_PREFIX}HFShim" and shim.bf16_engine == "openvino"
    encoder = quantized_module(shim)
    assert type(encoder).__name__ == "OpenVinoInt8Encoder" and encoder.weights == "float" and not encoder.static
    assert not hasattr(shim, "autocast_dtype") and not hasattr(shim, "int8_engine")
    assert all(p.dtype == torch.float32 for p in shim._model.parameters())  # the float module stays
    found = _triples(nlp)
    _assert_same_triples(found, int8_trained["fp32"], BF16_SCORE_ATOL)
    nlp.to_disk(tmp_path / "model")
    nlp2 = _load_quietly(tmp_path / "model")
    setting = nlp2.config["nlp"]["after_pipeline_creation"]
    assert setting["precision"] == "bf16" and setting["bf16_engine"] == "openvino"
    assert _trf_shim(nlp2).bf16_engine == "openvino"
    _assert_same_triples(_triples(nlp2), found, 1e-5)
    clone = pickle.loads(pickle.dumps(nlp2))  # the compiled copy stays behind and is made again on use
    assert type(_trf_shim(clone)).__name__ == f"{OPENVINO_BF16_PREFIX}HFShim"
    _assert_same_triples(_triples(clone), found, 1e-5)
    # switching to torch's autocast or back to fp32 drops the OpenVINO copy
    assert set_precision(nlp2, "bf16", bf16_engine="torch", save=False) == "bf16"
    assert type(_trf_shim(nlp2)).__name__ == "CPUAutocastHFShim" and not hasattr(_trf_shim(nlp2), "bf16_engine")
    assert set_precision(nlp2, "fp32", save=False) == "fp32"
    assert type(_trf_shim(nlp2)).__name__ == "HFShim" and "_int8_cache" not in _trf_shim(nlp2).__dict__


@needs_openvino
def test_openvino_bf16_copy_follows_weight_changes(int8_trained):
    nlp = _load_quietly(int8_trained["path"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        set_precision(nlp, "bf16", bf16_engine="openvino", save=False)
    shim = _trf_shim(nlp)
    before = quantized_module(shim)
    assert quantized_module(shim) is before  # kept while the weights stay
    with torch.no_grad():
        next(shim._model.parameters()).add_(0.5)  # an in-place write: torch bumps the version
    assert quantized_module(shim) is not before


@needs_openvino
def test_failed_openvino_bf16_falls_back_to_torch_autocast(int8_trained, monkeypatch):
    def fail(module, **kwargs):
        raise RuntimeError("cannot trace this model")

    monkeypatch.setattr("spacy_triples.training.openvino_int8.OpenVinoInt8Encoder", fail)
    nlp = _load_quietly(int8_trained["path"])
    with pytest.warns(UserWarning, match="OpenVINO conversion of .* failed .*cannot trace this model.*bfloat16 autocast"):
        assert set_precision(nlp, "bf16", bf16_engine="openvino", save=False) == "bf16"
    _assert_same_triples(_triples(nlp), int8_trained["fp32"], BF16_SCORE_ATOL)


def test_bf16_engine_choices_and_what_to_install(monkeypatch):
    from spacy_triples.training import precision

    for call in (lambda: set_precision(spacy.blank("en"), "bf16", bf16_engine="onnxruntime"),
                 lambda: make_precision("bf16", bf16_engine=None)):
        with pytest.raises(ValueError, match="bf16_engine must be one of auto, torch, openvino, got"):
            call()
    assert precision.resolve_bf16_engine("torch") == "torch"
    monkeypatch.setattr(openvino_int8, "openvino_available", lambda: False)
    assert precision.resolve_bf16_engine("auto") == "torch"
    with pytest.raises(ValueError, match=r"bf16_engine 'openvino' needs OpenVINO: pip install 'spacy-triples\[openvino\]'"):
        precision.resolve_bf16_engine("openvino")


def test_openvino_encoder_refuses_what_it_cannot_do(int8_trained):
    module = _trf_shim(_load_quietly(int8_trained["path"]))._model
    with pytest.raises(ValueError, match="inference_precision must be one of f32, bf16, got 'fp16'"):
        openvino_int8.OpenVinoInt8Encoder(module, inference_precision="fp16")
    with pytest.raises(ValueError, match="weights must be one of int8, float, got 'int4'"):
        openvino_int8.OpenVinoInt8Encoder(module, weights="int4")
    with pytest.raises(ValueError, match="calibration is for int8 weights"):
        openvino_int8.OpenVinoInt8Encoder(module, weights="float", calibration=[{"input_ids": torch.ones(1, 4).long()}])


@pytest.mark.slow
def test_spacy_package_ships_an_int8_pipeline(int8_trained, tmp_path):
    # `spacy package` builds a wheel of the saved pipeline; installed elsewhere, it loads int8 from
    # its own config (the callback is an entry point of spacy-triples, which the wheel requires)
    import json
    import zipfile

    pytest.importorskip("build")
    out = tmp_path / "packages"
    out.mkdir()
    subprocess.run([sys.executable, "-m", "spacy", "package", str(int8_trained["path"]), str(out), "--name", "tiny_int8",
                    "--version", "0.0.1", "--build", "wheel", "--force"], check=True, capture_output=True)
    wheels = list(out.glob("**/*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as zf:
        metadata = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("METADATA"))
    assert "Requires-Dist: spacy-triples" in metadata
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(target), str(wheels[0])], check=True, capture_output=True)
    code = (
        "import json, sys, warnings; warnings.simplefilter('ignore'); import spacy\n"
        "nlp = spacy.load('en_tiny_int8')\n"
        "shim = nlp.get_pipe('transformer').model.layers[0].shims[0]\n"
        "triples = [[t.to_dict() for t in d._.triples] for d in nlp.pipe(json.loads(sys.stdin.read()))]\n"
        "print(json.dumps([nlp.config['nlp']['after_pipeline_creation']['precision'], type(shim).__name__, triples]))\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-c", code], input=json.dumps(TEXTS), capture_output=True, text=True, env=env,
                         cwd=tmp_path, check=True)
    precision, shim_class, triples = json.loads(run.stdout.strip().splitlines()[-1])
    assert (precision, shim_class) == ("int8", "Int8HFShim")
    _assert_same_triples(triples, int8_trained["int8"], 1e-5)


# int8 through OpenVINO, quantized statically (activation ranges measured on calibration texts)


@needs_openvino
def test_static_encoder_measures_ranges_on_calibration_and_returns_what_the_module_returns(int8_trained, capsys):
    nlp = _load_quietly(int8_trained["path"])
    module = _trf_shim(nlp)._model.eval()
    ids = torch.tensor([[2, 5, 6, 7, 3, 0], [2, 8, 9, 3, 0, 0]])
    mask = (ids > 0).long()
    calibration = [{"input_ids": ids, "attention_mask": mask}, {"input_ids": torch.randint(4, 10, (3, 12))}]
    encoder = openvino_int8.OpenVinoInt8Encoder(module, calibration=calibration)
    assert encoder.static and not openvino_int8.OpenVinoInt8Encoder(module).static
    assert capsys.readouterr().out == ""  # NNCF's progress bars would corrupt `extract -`
    # the activation scales are fixed from the calibration batches: the same batches give the same
    # model, other batches (other token ids, so other ranges) another one
    again = openvino_int8.OpenVinoInt8Encoder(module, calibration=calibration)
    other = openvino_int8.OpenVinoInt8Encoder(module, calibration=[{"input_ids": torch.randint(10, 30, (4, 20))}])
    assert torch.equal(again(input_ids=ids, attention_mask=mask)[0], encoder(input_ids=ids, attention_mask=mask)[0])
    assert not torch.equal(other(input_ids=ids, attention_mask=mask)[0], encoder(input_ids=ids, attention_mask=mask)[0])
    with torch.no_grad():
        expected = module(input_ids=ids, attention_mask=mask)
    found = encoder(input_ids=ids, attention_mask=mask)
    _assert_int8_output(found, expected, 0.15)
    # longer than any calibration batch: the axes stay dynamic; positions never calibrated are clipped
    # to the measured ranges, so close in direction (cosine per token) rather than in every value
    longer = torch.randint(4, 10, (2, 30))
    with torch.no_grad():
        expected = module(input_ids=longer)[0]
    found = encoder(input_ids=longer)[0]
    assert found.shape == expected.shape
    assert float(torch.nn.functional.cosine_similarity(found, expected, dim=-1).mean()) > 0.95
    with pytest.raises(ValueError, match="at least one batch"):
        openvino_int8.OpenVinoInt8Encoder(module, calibration=[])
    with pytest.raises(TypeError, match="were not exported"):
        openvino_int8.OpenVinoInt8Encoder(module, calibration=[{"input_ids": ids, "position_ids": ids}])


@needs_openvino
def test_static_int8_predicts_like_float32_saves_its_calibration_and_round_trips(int8_trained, tmp_path):
    nlp = _load_quietly(int8_trained["path"])
    assert set_precision(nlp, "int8", int8_engine="openvino_static", calibration=TEXTS) == "int8"
    shim = _trf_shim(nlp)
    assert type(shim).__name__ == "Int8HFShim" and shim.int8_engine == "openvino_static"
    assert shim.int8_calibration == tuple(TEXTS)
    encoder = quantized_module(shim)
    assert type(encoder).__name__ == "OpenVinoInt8Encoder" and encoder.static
    assert all(p.dtype == torch.float32 for p in shim._model.parameters())  # the float module stays
    found = _triples(nlp)
    _assert_same_triples(found, int8_trained["fp32"], 0.05)
    assert nlp.meta["spacy_triples"]["int8_calibration"] == TEXTS
    nlp.to_disk(tmp_path / "model")
    nlp2 = _load_quietly(tmp_path / "model")  # the callback finds the texts in meta.json
    assert nlp2.config["nlp"]["after_pipeline_creation"]["int8_engine"] == "openvino_static"
    assert _trf_shim(nlp2).int8_calibration == tuple(TEXTS)
    assert quantized_module(_trf_shim(nlp2)).static
    _assert_same_triples(_triples(nlp2), found, 1e-5)  # the same weights and texts: the same model
    clone = pickle.loads(pickle.dumps(nlp2))  # workers (n_process=2) quantize again from the texts
    _assert_same_triples(_triples(clone), found, 1e-5)
    # another engine, saved: the texts leave meta.json with it
    set_precision(nlp2, "int8", int8_engine="torch")
    assert "spacy_triples" not in nlp2.meta and "int8_calibration" not in _trf_shim(nlp2).__dict__
    _assert_same_triples(_triples(nlp2), int8_trained["int8"], 1e-5)


@needs_openvino
def test_static_int8_without_calibration_says_what_to_give(int8_trained, tmp_path):
    nlp = _load_quietly(int8_trained["path"])
    with pytest.raises(ValueError, match=r"needs calibration texts: set_precision\(nlp, 'int8', int8_engine='openvino_static', calibration=texts\)"):
        set_precision(nlp, "int8", int8_engine="openvino_static")
    for bad, message in [("one text", "must be a list of texts"), ([], "is empty"), (["ok", ""], "item 1 is ''"),
                         (["ok", 3], "item 1 is 3")]:
        with pytest.raises(ValueError, match=message):
            set_precision(nlp, "int8", int8_engine="openvino_static", calibration=bad)
    with pytest.raises(ValueError, match="for int8_engine 'openvino_static' only"):
        set_precision(nlp, "int8", int8_engine="openvino", calibration=TEXTS)
    assert type(_trf_shim(nlp)).__name__ == "Int8HFShim" and _trf_shim(nlp).int8_engine == "torch"  # unchanged
    # a saved config that asks for it, without the texts in meta.json: a clear error at load
    set_precision(nlp, "int8", int8_engine="openvino_static", calibration=TEXTS)
    nlp.to_disk(tmp_path / "model")
    meta = tmp_path / "model" / "meta.json"
    data = __import__("json").loads(meta.read_text())
    del data["spacy_triples"]
    meta.write_text(__import__("json").dumps(data))
    with pytest.raises(ValueError, match=r"no calibration texts|needs calibration texts in the pipeline's meta.json"):
        _load_quietly(tmp_path / "model")
