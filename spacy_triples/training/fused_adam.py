"""``spacy_triples.Adam.v1``: thinc's ``Adam.v1``, computed by PyTorch's fused Adam kernel on the CPU.

thinc's optimizer updates one parameter at a time: the gradient's norm and clipping in NumPy, the
Adam step in a single-threaded Cython loop over blocks of 64 numbers, then NumPy passes that zero
the gradient and apply weight decay. For a transformer that is a noticeable part of each
training step (13% of a CoNLL04 step of ``gp_transformer.cfg`` on 2 cores, issue 43's profile).
This optimizer does the same arithmetic with PyTorch's vectorised, multi-threaded kernels on the
same arrays (``torch.from_numpy`` shares their memory, nothing is copied):

- the L2 penalty added to the gradient when ``L2_is_weight_decay = false``;
- the gradient clipped to norm ``grad_clip``, per parameter, as thinc does;
- Adam with thinc's bias correction (``lr * sqrt(1 - beta2**t) / (1 - beta1**t)`` and ``eps``
  added to the uncorrected ``sqrt(mom2)``), by ``torch._fused_adam_`` with its own bias correction
  switched off;
- the gradient zeroed, then decoupled weight decay ``weights -= lr * L2 * weights``;
- averages (``use_averages``) by thinc's own ``update_averages``.

Same values as ``Adam.v1`` up to the order of float32 rounding (``tests/training/test_fused_adam.py``
compares them at rtol 1e-5). Anything the fast path does not cover (arrays that are not C-contiguous
writable float32 NumPy arrays, CuPy arrays on a GPU, RAdam, a PyTorch build without the fused kernel) goes to
thinc's own code, so it is never wrong, at worst not faster. ::

    [training.optimizer]
    @optimizers = "spacy_triples.Adam.v1"
    # ... the settings of Adam.v1 (learn_rate, L2, L2_is_weight_decay, beta1, beta2, eps,
    # grad_clip, use_averages)
"""
import warnings
from typing import Tuple

import numpy
from thinc.api import Optimizer
from thinc.backends import get_array_ops
from thinc.types import FloatsXd

try:  # pragma: no cover - torch is a dependency of every transformer config
    import torch
except ImportError:  # pragma: no cover
    torch = None

# A step count at which PyTorch's bias corrections are 1.0 in float32 and float64 (0.999 ** 1e9 == 0):
# thinc's own correction is folded into the learning rate instead.
_NO_CORRECTION_STEP = 1e9


def fused_kernel_available() -> bool:
    """Whether this PyTorch build has the fused Adam kernel for CPU tensors (torch >= 2.4)."""
    if torch is None or not hasattr(torch, "_fused_adam_"):
        return False
    try:
        p = torch.zeros(2)
        torch._fused_adam_(
            [p], [torch.ones(2)], [torch.zeros(2)], [torch.zeros(2)], [], [torch.tensor(1.0)],
            lr=0.1, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False,
        )
    except (RuntimeError, NotImplementedError, TypeError):
        return False
    return bool(torch.all(p < 0))


class FusedAdamOptimizer(Optimizer):
    """thinc's ``Optimizer`` (Adam), with each update of a float32 NumPy parameter done by PyTorch.
    ``fused_updates`` and ``fallback_updates`` count which path each update took."""

    def __init__(self, learn_rate, **kwargs):
        super().__init__(learn_rate, **kwargs)
        available = fused_kernel_available()
        if not available:
            warnings.warn(
                "spacy_triples.Adam.v1: this PyTorch build has no fused Adam kernel for the CPU (torch >= 2.4 "
                "has one), so thinc's Adam.v1 code computes every update: the same values, not faster."
            )
        self._fused = available and not self.use_radam and self.b1 > 0.0 and self.b2 > 0.0
        self._step_tensor = torch.tensor(_NO_CORRECTION_STEP, dtype=torch.float32) if self._fused else None
        # thinc's kernel multiplies by beta and (1 - beta) in float32: the same float32 betas here
        self._beta1_f32 = float(numpy.float32(self.b1))
        self._beta2_f32 = float(numpy.float32(self.b2))
        self.fused_updates = 0
        self.fallback_updates = 0

    def _fast_path(self, weights, gradient) -> bool:
        return (
            self._fused
            and isinstance(weights, numpy.ndarray)
            and isinstance(gradient, numpy.ndarray)
            and weights.dtype == numpy.float32
            and gradient.dtype == numpy.float32
            and weights.shape == gradient.shape
            and weights.flags.c_contiguous
            and gradient.flags.c_contiguous
            and weights.flags.writeable
            and gradient.flags.writeable
        )

    def __call__(self, key: Tuple[int, str], weights: FloatsXd, gradient: FloatsXd, *, lr_scale: float = 1.0):
        if len(gradient) < 1 or not self._fast_path(weights, gradient):
            if len(gradient) >= 1:
                self.fallback_updates += 1
            return super().__call__(key, weights, gradient, lr_scale=lr_scale)
        self.fused_updates += 1
        self.nr_update[key] += 1
        nr_upd = self.nr_update[key]
        w = torch.from_numpy(weights.reshape(-1))
        g = torch.from_numpy(gradient.reshape(-1))
        learn_rate = self.learn_rate
        if self.L2 != 0 and not self.L2_is_weight_decay:
            g.add_(w, alpha=self.L2)
        if self.grad_clip:
            norm = float(torch.linalg.vector_norm(g))
            if norm >= self.grad_clip:
                g.mul_(self.grad_clip / norm)
        if key not in self.mom1:
            self.mom1[key] = numpy.zeros((weights.size,), dtype="float32")
        if key not in self.mom2:
            self.mom2[key] = numpy.zeros((weights.size,), dtype="float32")
        fix1 = 1.0 - (self.b1**nr_upd)
        fix2 = 1.0 - (self.b2**nr_upd)
        lr = learn_rate * fix2**0.5 / fix1
        torch._fused_adam_(
            [w], [g], [torch.from_numpy(self.mom1[key])], [torch.from_numpy(self.mom2[key])], [],
            [self._step_tensor], lr=float(lr * lr_scale), beta1=self._beta1_f32, beta2=self._beta2_f32,
            weight_decay=0.0, eps=float(self.eps), amsgrad=False, maximize=False,
        )
        g.zero_()
        if self.L2 != 0 and self.L2_is_weight_decay:
            w.add_(w, alpha=-(lr_scale * learn_rate * self.L2))
        if self.averages is not None:
            ops = get_array_ops(weights)
            if key not in self.averages:
                self.averages[key] = ops.alloc(weights.shape, dtype="float32")
            ops.update_averages(self.averages[key], weights, nr_upd)
        return weights, gradient


def make_fused_adam(
    learn_rate=0.001,
    *,
    L2=0.0,
    beta1=0.9,
    beta2=0.999,
    eps=1e-08,
    grad_clip=1.0,
    L2_is_weight_decay: bool = True,
    use_averages: bool = False,
) -> FusedAdamOptimizer:
    """Registered as ``spacy_triples.Adam.v1``: Adam.v1's settings, the same updates, computed by
    PyTorch's fused kernel (module docstring). ``use_averages`` defaults to false here (Adam.v1:
    true), as in the project's configs: averages reach PyTorch weights only with
    ``spacy_triples.torch_averages.v1``."""
    for name, value in (("beta1", beta1), ("beta2", beta2)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"spacy_triples.Adam.v1: {name} must be a number in (0, 1), got {value!r}.")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"spacy_triples.Adam.v1: eps must be a positive number, got {eps!r}.")
    return FusedAdamOptimizer(
        learn_rate,
        L2=L2,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        grad_clip=grad_clip,
        L2_is_weight_decay=L2_is_weight_decay,
        use_averages=use_averages,
        use_radam=False,
    )
