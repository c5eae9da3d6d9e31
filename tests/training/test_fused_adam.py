"""spacy_triples.Adam.v1: thinc's Adam.v1, the same updates, computed by PyTorch's fused kernel."""
import numpy
import pytest
import torch
from spacy.util import registry
from thinc.api import Adam, constant, warmup_linear

from spacy_triples.training.freeze import pytorch_modules
from spacy_triples.training.fused_adam import FusedAdamOptimizer, fused_kernel_available, make_fused_adam

from ..util import init_tiny_gp, make_examples, tiny_gp_config

pytestmark = pytest.mark.skipif(not fused_kernel_available(), reason="this torch has no fused Adam kernel for CPU")

SETTINGS = [
    # (name, settings): the project's configs, then each branch of the update on its own
    ("configs", dict(L2=0.01, L2_is_weight_decay=True, grad_clip=1.0, use_averages=False)),
    ("L2 in the gradient", dict(L2=0.05, L2_is_weight_decay=False, grad_clip=1.0, use_averages=False)),
    ("no clipping, no L2", dict(L2=0.0, grad_clip=0.0, use_averages=False)),
    ("averages", dict(L2=0.01, L2_is_weight_decay=True, grad_clip=5.0, use_averages=True)),
    ("other betas", dict(L2=0.01, beta1=0.8, beta2=0.98, eps=1e-6, grad_clip=1.0, use_averages=False)),
]


def _pair(settings, learn_rate):
    def rate():
        return warmup_linear(learn_rate, 3, 20) if learn_rate > 0 else constant(0.0)

    return Adam(rate(), **settings), make_fused_adam(rate(), **settings)


@pytest.mark.parametrize("label,settings", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_the_same_updates_as_thincs_adam(label, settings):
    """Ten steps of a learning-rate schedule over parameters of several shapes (large gradients, so
    clipping happens, and small ones, so it does not), at two lr_scales: the weights, the moments, the
    averages and the returned (zeroed) gradients agree with thinc's Adam.v1 within float32 rounding."""
    rng = numpy.random.default_rng(0)
    shapes = {"W": (7, 5), "b": (5,), "E": (3, 2, 4)}
    thinc_opt, fused_opt = _pair(settings, 0.01)
    weights = {name: rng.normal(size=shape).astype("f") for name, shape in shapes.items()}
    theirs = {name: w.copy() for name, w in weights.items()}
    ours = {name: w.copy() for name, w in weights.items()}
    for step in range(10):
        for i, name in enumerate(shapes):
            scale = 3.0 if i % 2 else 0.01  # norms above and below grad_clip
            gradient = (rng.normal(size=shapes[name]) * scale).astype("f")
            lr_scale = 10.0 if name == "b" else 1.0
            w1, g1 = thinc_opt((1, name), theirs[name], gradient.copy(), lr_scale=lr_scale)
            w2, g2 = fused_opt((1, name), ours[name], gradient.copy(), lr_scale=lr_scale)
            theirs[name], ours[name] = w1, w2
            assert w2.shape == shapes[name] and w2.dtype == numpy.float32
            assert not g2.any() and not g1.any()
        thinc_opt.step_schedules()
        fused_opt.step_schedules()
    for name in shapes:
        assert not numpy.allclose(ours[name], weights[name], atol=1e-3), name  # they moved
        numpy.testing.assert_allclose(ours[name], theirs[name], rtol=1e-5, atol=1e-6)
        numpy.testing.assert_allclose(fused_opt.mom1[(1, name)], thinc_opt.mom1[(1, name)], rtol=1e-5, atol=1e-7)
        numpy.testing.assert_allclose(fused_opt.mom2[(1, name)], thinc_opt.mom2[(1, name)], rtol=1e-5, atol=1e-9)
        if settings.get("use_averages"):
            numpy.testing.assert_allclose(fused_opt.averages[(1, name)], thinc_opt.averages[(1, name)], rtol=1e-5, atol=1e-6)
    assert fused_opt.fused_updates == 30 and fused_opt.fallback_updates == 0
    assert fused_opt.nr_update == thinc_opt.nr_update


def test_updates_in_place_and_clips_each_parameter_on_its_own():
    """The returned arrays are the ones passed in (PyTorch works on their memory), and a parameter
    with a huge gradient moves by the learning rate on the first step like one with a tiny gradient."""
    optimizer = make_fused_adam(0.01, grad_clip=1.0, L2=0.0, eps=1e-14)
    for scale in (1e-3, 1e6):
        weights = numpy.zeros(4, dtype="f")
        gradient = numpy.array([1.0, -1.0, 2.0, -2.0], dtype="f") * scale
        w, g = optimizer((0, f"w{scale}"), weights, gradient)
        assert w is weights and g is gradient
        numpy.testing.assert_allclose(weights, -0.01 * numpy.sign([1, -1, 2, -2]), rtol=1e-4, atol=1e-9)


def test_what_the_kernel_cannot_take_goes_to_thincs_code():
    """Arrays the fused path does not cover are updated by thinc's own code: a strided (Fortran-order)
    pair with thinc's result; float64 and read-only weights with thinc's own error."""
    rng = numpy.random.default_rng(1)
    base = rng.normal(size=(6, 4)).astype("f")
    grad = rng.normal(size=(6, 4)).astype("f")
    thinc_opt, fused_opt = _pair(dict(L2=0.01, grad_clip=1.0, use_averages=False), 0.01)
    expected, _ = thinc_opt((0, "w"), base.T.copy(order="F"), grad.T.copy(order="F"))
    got, _ = fused_opt((0, "w"), base.T.copy(order="F"), grad.T.copy(order="F"))
    assert fused_opt.fallback_updates == 1 and fused_opt.fused_updates == 0
    numpy.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="dtype mismatch"):
        fused_opt((0, "d"), base.astype("float64"), grad.astype("float64"))
    read_only = base.copy()
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fused_opt((0, "r"), read_only, grad.copy())
    assert fused_opt.fallback_updates == 3 and fused_opt.fused_updates == 0


def test_without_the_kernel_it_warns_and_thincs_code_does_every_update(monkeypatch):
    import spacy_triples.training.fused_adam as module

    monkeypatch.setattr(module, "fused_kernel_available", lambda: False)
    with pytest.warns(UserWarning, match="no fused Adam kernel"):
        optimizer = make_fused_adam(0.01, L2=0.01)
    thinc_opt = Adam(0.01, L2=0.01, use_averages=False)
    rng = numpy.random.default_rng(2)
    weights, gradient = rng.normal(size=(3, 4)).astype("f"), rng.normal(size=(3, 4)).astype("f")
    expected, _ = thinc_opt((0, "w"), weights.copy(), gradient.copy())
    got, _ = optimizer((0, "w"), weights.copy(), gradient.copy())
    numpy.testing.assert_array_equal(got, expected)
    assert optimizer.fallback_updates == 1 and optimizer.fused_updates == 0


def test_an_empty_gradient_is_left_alone():
    optimizer = make_fused_adam(0.01)
    weights, gradient = numpy.zeros((0,), dtype="f"), numpy.zeros((0,), dtype="f")
    assert optimizer((0, "w"), weights, gradient) == (weights, gradient)
    assert optimizer.fused_updates == 0 and optimizer.fallback_updates == 0 and not optimizer.nr_update


@pytest.mark.parametrize("settings,message", [
    ({"beta1": 0.0}, "beta1 must be a number in"),
    ({"beta2": 1.0}, "beta2 must be a number in"),
    ({"beta1": "0.9"}, "beta1 must be a number in"),
    ({"eps": 0}, "eps must be a positive number"),
])
def test_bad_settings_are_an_error(settings, message):
    with pytest.raises(ValueError, match=message):
        make_fused_adam(0.001, **settings)


def test_registered_and_resolved_from_a_config():
    optimizer = registry.resolve({"o": {"@optimizers": "spacy_triples.Adam.v1", "learn_rate": 0.002,
                                        "L2": 0.01, "grad_clip": 1.0, "use_averages": False}})["o"]
    assert isinstance(optimizer, FusedAdamOptimizer)
    assert optimizer.learn_rate == pytest.approx(0.002) and optimizer.L2 == pytest.approx(0.01)
    assert optimizer.L2_is_weight_decay and optimizer.averages is None


def test_a_pipeline_trains_to_the_same_weights_as_with_thincs_adam(tiny_bert, tmp_path):
    """Three updates of the tiny-BERT GlobalPointer pipeline from the same initial weights, one with
    thinc's Adam and one with this optimizer (the config's settings, dropout off): every PyTorch
    parameter ends within float32 rounding of the other, and every update took the fused path."""
    config = tiny_gp_config(tiny_bert)
    results = []
    for make in (lambda: Adam(0.001, L2=0.01, grad_clip=1.0, use_averages=False),
                 lambda: make_fused_adam(0.001, L2=0.01, grad_clip=1.0)):
        torch.manual_seed(0)
        numpy.random.seed(0)
        folder = tmp_path / str(len(results))
        folder.mkdir()
        nlp = init_tiny_gp(config, folder)
        optimizer = make()
        examples = make_examples(nlp)
        initial = {(i, n): p.detach().clone() for i, m in enumerate(pytorch_modules(nlp)) for n, p in m.named_parameters()}
        for _ in range(3):
            nlp.update(examples, sgd=optimizer, drop=0.0)
        params = {}
        for i, module in enumerate(pytorch_modules(nlp)):
            for name, p in module.named_parameters():
                params[(i, name)] = p.detach().clone()
        moved = [key for key, value in params.items() if not torch.equal(value, initial[key])]
        assert any("encoder.layer" in name for _, name in moved)  # the encoder was trained, not just the head
        results.append((params, optimizer))
    (thinc_params, _), (fused_params, fused_opt) = results
    assert fused_opt.fused_updates > 0 and fused_opt.fallback_updates == 0
    assert thinc_params.keys() == fused_params.keys()
    for key, value in thinc_params.items():
        torch.testing.assert_close(fused_params[key], value, rtol=1e-4, atol=1e-5, msg=str(key))
