"""Thinc <-> PyTorch glue shared by the heads and the DGCNN encoder."""
from typing import Callable, List, Optional, Tuple

from thinc.api import ArgsKwargs, Model, PyTorchWrapper_v2, torch2xp, xp2torch
from thinc.types import Floats2d


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
