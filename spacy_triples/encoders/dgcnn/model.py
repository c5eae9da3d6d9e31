"""``spacy_triples.DGCNN.v1``: embeddings -> dilated gated CNN (+ block self-attention) tok2vec.

The encoder of Su Jianlin's lightweight DGCNN extractor, as a spaCy tok2vec: no pretrained weights,
fast on CPU, usable inline or shared through a ``Tok2VecListener``.
"""
from typing import List, Optional, Sequence

import numpy

from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, chain, torch2xp, xp2torch
from thinc.types import Floats2d

from ...glue import no_gradient, torch_inputs, wrap_torch
from .pytorch import DGCNNEncoder


def build_dgcnn(
    embed: Model[List[Doc], List[Floats2d]],
    width: int = 128,
    dilations: Sequence[int] = (1, 2, 5, 1, 2, 5, 1, 1),
    kernel_size: int = 3,
    dropout: float = 0.1,
    attention_heads: int = 4,
    attention_block: int = 128,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[dict] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Registered as ``spacy_triples.DGCNN.v1``.

    embed: a doc -> per-token vectors layer, e.g. ``spacy.MultiHashEmbed.v2`` over NORM, PREFIX,
        SUFFIX, SHAPE (English) or ORTH alone for character-segmented Chinese (one token per
        character, so hashing ORTH is a character embedding).
    width: output width (the embeddings are projected to it when they differ).
    dilations: one residual gated convolution per entry, with that dilation; the default is the
        DGCNN schedule (context of +-18 tokens with kernel 3).
    attention_heads: heads of a self-attention layer after the convolutions (0: none). Attention
        runs inside blocks of ``attention_block`` tokens, so memory stays linear in doc length.
    """
    dilations = [int(d) for d in dilations]
    if not dilations:
        raise ValueError("spacy_triples.DGCNN.v1: dilations must list at least one dilation.")
    # Built now, not at initialize: a tok2vec's structure must be the same before and after
    # training so that spaCy can load its weights (the projection infers its input width).
    module = DGCNNEncoder(None, width, dilations, kernel_size, dropout, attention_heads, attention_block)
    wrapped = wrap_torch(module, _convert_inputs, _convert_outputs, mixed_precision, grad_scaler_config)
    encoder = Model(
        "dgcnn_encoder",
        _encoder_forward,
        init=_encoder_init,
        layers=[wrapped],
        dims={"nI": None, "nO": width},
    )
    model = chain(embed, encoder)
    model.set_ref("embed", embed)
    model.set_ref("encoder", encoder)
    model.set_dim("nO", width)
    model.name = "dgcnn"
    return model


def _encoder_init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    if X is not None and len(X):
        model.set_dim("nI", int(X[0].shape[1]), force=True)
        # materialize the lazy projection with one small forward pass
        model.layers[0].predict((model.ops.alloc3f(1, 1, int(X[0].shape[1])), [1]))


def _convert_inputs(model: Model, X, is_train: bool):
    Xpad, lengths = X
    return torch_inputs(model, (Xpad, numpy.asarray(lengths, dtype="i")), is_train)


def _convert_outputs(model: Model, X_Ytorch, is_train: bool):
    _, Ytorch = X_Ytorch
    device = model.shims[0].device

    def reverse(dY):
        return ArgsKwargs(args=(Ytorch,), kwargs={"grad_tensors": xp2torch(dY, device=device)})

    return torch2xp(Ytorch if is_train else Ytorch.detach()), reverse


def _encoder_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    ops = model.ops
    lengths = [int(x.shape[0]) for x in Xs]
    n_out = model.get_dim("nO")
    n_in = int(Xs[0].shape[1]) if Xs else model.get_dim("nI")
    if not lengths or max(lengths) == 0:
        return [ops.alloc2f(n, n_out) for n in lengths], no_gradient(model, lengths, n_in)
    Xpad = ops.pad(Xs)  # (B, L, nI)
    Ypad, backprop_torch = model.layers[0]((Xpad, lengths), is_train)
    # at prediction each doc's rows are copied out: a view would keep the whole padded batch alive
    # for as long as any of its docs holds its doc.tensor (DuIE dev: 2,000 docs held 0.5 GiB)
    Ys = [Ypad[i, :n] if is_train else Ypad[i, :n].copy() for i, n in enumerate(lengths)]

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        dYpad = ops.pad(dYs) if dYs else dYs
        if dYpad.shape[1] < Ypad.shape[1]:  # ops.pad pads to the longest given sequence
            dYpad = ops.xp.concatenate([dYpad, ops.alloc3f(dYpad.shape[0], Ypad.shape[1] - dYpad.shape[1], n_out)], axis=1)
        dXpad = backprop_torch(ops.xp.ascontiguousarray(dYpad, dtype="float32"))
        return [dXpad[i, :n] for i, n in enumerate(lengths)]

    return Ys, backprop
