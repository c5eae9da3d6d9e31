"""``spacy_triples.GlobalPointer.v1``: tok2vec -> bounded windows -> GPLinker pair scores."""
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, chain, torch2xp, xp2torch
from thinc.types import Floats2d

from ..decode import Candidates
from ..windows import plan_windows, window_token_index
from .glue import head_dims, tuple_outputs, wrap_torch
from .torch_modules import GlobalPointerLinker


class PairScores(NamedTuple):
    """Training output: dense logits per window; ``windows`` rows are (doc, start, end)."""

    windows: numpy.ndarray
    entity: Any  # (N, 2T, W, W): subjects of each entity type, then objects
    head: Any  # (N, R, W, W)
    tail: Any  # (N, R, W, W)


class PairCandidates(NamedTuple):
    """Prediction output: the windows and the sparse candidates above the candidate threshold."""

    windows: numpy.ndarray
    n_docs: int
    entity: Candidates
    head: Candidates
    tail: Candidates


def build_global_pointer(
    tok2vec: Model[List[Doc], List[Floats2d]],
    head_size: int = 64,
    dropout: float = 0.1,
    window_size: int = 128,
    window_stride: int = 64,
    relation_rope: bool = True,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[dict] = None,
) -> Model[List[Doc], Any]:
    """Registered as ``spacy_triples.GlobalPointer.v1``.

    tok2vec: any layer producing one vector per token (CNN Tok2Vec, Tok2VecListener,
        TransformerListener); available as the ``tok2vec`` ref for ``replace_listeners``.
    head_size: width of the shared query/key projections of each pointer.
    window_size, window_stride: token pairs are scored within windows of this many tokens,
        overlapping by (window_size - window_stride), so memory is linear in doc length.
    relation_rope: rotary relative positions in the relation head/tail pointers too (GPLinker
        has them only in the entity pointer); needed by encoders without positions, like the CNN.
    mixed_precision, grad_scaler_config: passed to thinc's ``PyTorchWrapper_v2`` for GPU AMP.
    """
    head = Model(
        "gplinker_head",
        _head_forward,
        init=_head_init,
        dims={"nI": None, "nO": None},
        attrs={
            "head_size": head_size,
            "dropout": dropout,
            "window_size": window_size,
            "window_stride": window_stride,
            "relation_rope": relation_rope,
            "mixed_precision": mixed_precision,
            "grad_scaler_config": dict(grad_scaler_config or {}),
            # set by the pipe before prediction:
            "candidate_threshold": 0.0,
            "n_entity_types": 1,
            "max_span_length": window_size,
        },
    )
    model = chain(tok2vec, head)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("head", head)
    model.name = "triple_global_pointer"
    return model


def _head_init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    """Build the PyTorch module once the input width (nI) and relation count (nO) are known."""
    n_in, n_out = head_dims(model, X, "triple head")
    a = model.attrs
    module = GlobalPointerLinker(
        n_in, n_out, a["head_size"], a["dropout"], a["relation_rope"], n_entity_types=a["n_entity_types"]
    )
    model.layers.clear()
    model.layers.append(wrap_torch(module, _convert_inputs, tuple_outputs, a["mixed_precision"], a["grad_scaler_config"]))


def _convert_inputs(model: Model, X: Tuple, is_train: bool):
    Xpad, lengths, threshold, max_span_length = X
    device = model.shims[0].device
    Xtorch = xp2torch(Xpad, requires_grad=is_train, device=device)
    Ltorch = xp2torch(model.ops.asarray1i(lengths), device=device)
    kwargs = {} if is_train else {"threshold": threshold, "max_span_length": max_span_length}

    def reverse(dX: ArgsKwargs):
        return torch2xp(dX.args[0])

    return ArgsKwargs(args=(Xtorch, Ltorch), kwargs=kwargs), reverse


def _head_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    ops = model.ops
    lengths = [int(x.shape[0]) for x in Xs]
    windows = plan_windows(lengths, model.attrs["window_size"], model.attrs["window_stride"])
    total = sum(lengths)
    n_in = model.get_dim("nI")
    if len(windows) == 0 or not model.layers:
        if is_train:
            shape = (0, 1, 0, 0)
            zeros = ops.alloc4f(*shape)
            out = PairScores(windows, zeros, zeros, zeros)
        else:
            out = PairCandidates(windows, len(Xs), Candidates.empty(), Candidates.empty(), Candidates.empty())
        return out, lambda d: [ops.alloc2f(n, n_in) for n in lengths]
    index = window_token_index(windows, lengths, pad_index=total)
    Xcat = ops.xp.concatenate([ops.flatten(Xs), ops.alloc2f(1, n_in)])
    index_xp = ops.asarray(index, dtype="i")
    Xpad = Xcat[index_xp]
    window_lengths = windows[:, 2] - windows[:, 1]
    torch_in = (Xpad, window_lengths, model.attrs["candidate_threshold"], model.attrs["max_span_length"])
    Y, backprop_torch = model.layers[0](torch_in, is_train)
    if not is_train:
        ent_i, ent_s, head_i, head_s, tail_i, tail_s = Y
        cands = PairCandidates(
            windows,
            len(Xs),
            Candidates(ent_i.astype("i"), ent_s.astype("f")),
            Candidates(head_i.astype("i"), head_s.astype("f")),
            Candidates(tail_i.astype("i"), tail_s.astype("f")),
        )
        return cands, lambda d: [ops.alloc2f(n, n_in) for n in lengths]

    def backprop(dY: PairScores) -> List[Floats2d]:
        dXpad = backprop_torch((dY.entity, dY.head, dY.tail))
        dXcat = ops.alloc2f(total + 1, n_in)
        flat_index = ops.xp.ascontiguousarray(index_xp.reshape(-1))
        ops.scatter_add(dXcat, flat_index, ops.xp.ascontiguousarray(dXpad.reshape((-1, n_in))))
        return ops.unflatten(dXcat[:total], ops.asarray1i(lengths))

    return PairScores(windows, *Y), backprop
