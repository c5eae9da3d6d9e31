"""Thinc <-> PyTorch glue shared by the heads and the DGCNN encoder (one copy of each piece)."""
import os
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from thinc.api import ArgsKwargs, Model, PyTorchWrapper_v2, torch2xp, xp2torch
from thinc.types import Floats2d


def _single_thread_after_fork() -> None:
    # A forked child (nlp.pipe(n_process=2) on Linux) inherits torch's OpenMP pool in a broken
    # state and deadlocks in its first parallel op; one intra-op thread per process avoids it.
    torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_single_thread_after_fork)


def wrap_torch(module, convert_inputs: Callable, convert_outputs: Callable, mixed_precision: bool,
               grad_scaler_config: Optional[dict]) -> Model:
    """``PyTorchWrapper_v2`` around ``module``, with a grad scaler when a config is given (GPU AMP)."""
    grad_scaler = None
    if grad_scaler_config:
        from thinc.api import PyTorchGradScaler

        grad_scaler = PyTorchGradScaler(**grad_scaler_config)
    return PyTorchWrapper_v2(
        module,
        convert_inputs=convert_inputs,
        convert_outputs=convert_outputs,
        mixed_precision=mixed_precision,
        grad_scaler=grad_scaler,
    )


def torch_inputs(model: Model, X: Tuple, is_train: bool, **kwargs) -> Tuple[ArgsKwargs, Callable]:
    """convert_inputs for our modules: X[0] is the float input that receives a gradient, the other
    items are int index arrays (or None). ``is_train`` is passed to the module as a keyword, so that
    dropout depends on the call, never on the module's shared train()/eval() mode (thinc's shim
    toggles that mode, which is not thread-safe)."""
    device = model.shims[0].device
    first = xp2torch(X[0], requires_grad=is_train, device=device)
    rest = [None if a is None else xp2torch(model.ops.asarray(a, dtype="i"), device=device).long() for a in X[1:]]

    def reverse(dX: ArgsKwargs):
        return torch2xp(dX.args[0])

    return ArgsKwargs(args=(first, *rest), kwargs={"is_train": is_train, **kwargs}), reverse


def tuple_outputs(model: Model, X_Ytorch: Tuple, is_train: bool):
    """convert_outputs for modules returning a tuple of tensors: numpy arrays at prediction;
    xp arrays in training, whose backprop takes one gradient per output."""
    _, Ytorch = X_Ytorch
    if not is_train:
        return tuple(t.detach().cpu().numpy() for t in Ytorch), lambda dY: None
    device = model.shims[0].device

    def reverse(dY: Tuple) -> ArgsKwargs:
        return ArgsKwargs(args=(list(Ytorch),), kwargs={"grad_tensors": [xp2torch(d, device=device) for d in dY]})

    return tuple(torch2xp(t) for t in Ytorch), reverse


def head_dims(model: Model, X: Optional[List[Floats2d]], what: str) -> Tuple[int, int]:
    """Take nI from sample token vectors; return (nI, nO), or say what is missing."""
    if X is not None and len(X):
        model.set_dim("nI", int(X[0].shape[1]), force=True)
    n_in, n_out = model.maybe_get_dim("nI"), model.maybe_get_dim("nO")
    if n_in is None or n_out is None:
        raise ValueError(
            f"Cannot build the {what}: the token vector width (nI) and the number of relation "
            f"labels (nO) must be known, got nI={n_in}, nO={n_out}. Initialize the pipe with "
            "examples that carry doc._.triples or give labels to initialize()."
        )
    return n_in, n_out


def no_gradient(model: Model, lengths: Sequence[int], width: int) -> Callable:
    """A backprop that returns zero gradients for each doc's (length, width) token vectors."""
    return lambda dY: [model.ops.alloc2f(n, width) for n in lengths]


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """Half-precision (AMP) outputs back to float32 for the losses; other dtypes unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
