"""Shared maths of the heads (pure, over xp arrays so they run on numpy and cupy alike)."""
from typing import Tuple

import numpy
from thinc.api import get_array_module

NEG = -1e12
MCE_REDUCTIONS = ("mean", "window_sum")


def sigmoid(x):
    """Numerically stable logistic function (no overflow warning for large negative logits)."""
    xp = get_array_module(x) if hasattr(x, "shape") else numpy
    x = xp.asarray(x, dtype="float64") if xp is numpy else x
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logit(p: float) -> float:
    """Inverse sigmoid, clipped so thresholds of 0 and 1 stay finite."""
    p = min(max(float(p), 1e-7), 1 - 1e-7)
    return float(numpy.log(p / (1 - p)))


def _logsumexp_with_zero(xp, x, axis):
    """log(1 + sum(exp(x))) along ``axis``, numerically stable; returns it with keepdims."""
    m = xp.maximum(x.max(axis=axis, keepdims=True), 0.0)
    return m + xp.log(xp.exp(-m) + xp.exp(x - m).sum(axis=axis, keepdims=True))


def multilabel_categorical_crossentropy(scores, targets, mask, reduction: str = "mean") -> Tuple[float, object]:
    """Multilabel categorical cross-entropy (Su Jianlin, used by GlobalPointer/GPLinker).

    scores, targets: float arrays (N, H, W, W); mask: bool array broadcastable to them (positions
    outside the mask count neither as positives nor as negatives). Each (window, head) row is one
    multilabel problem over its W*W positions:

        loss_row = log(1 + sum_{neg} e^{s}) + log(1 + sum_{pos} e^{-s})

    ``reduction``: ``"mean"`` averages over the rows with at least one valid position;
    ``"window_sum"`` sums a window's rows and averages over the windows with a valid position
    (GPLinker's reduction: with H maps, each map's gradient is H times its ``"mean"`` one, so a
    head with many maps does not dilute each map's signal by H).

    Returns (the reduced loss, its gradient w.r.t. the scores). Dense targets are read as their
    positive positions: the same as :func:`sparse_multilabel_categorical_crossentropy`.
    """
    xp = get_array_module(scores)
    positives = xp.flatnonzero(xp.asarray(targets).reshape(-1) > 0.5)
    return sparse_multilabel_categorical_crossentropy(scores, positives, mask, reduction)


def sparse_multilabel_categorical_crossentropy(scores, positives, mask, reduction: str = "mean") -> Tuple[float, object]:
    """:func:`multilabel_categorical_crossentropy` with the targets given as the flat indices of
    the positive positions in ``scores`` (N, H, W, W): a row of the GlobalPointer's relation maps
    holds a handful of positives among thousands of positions, so only the negatives' sum runs
    over the whole array (one masked copy, its exponent and sum; the gradient reuses the
    exponent) and the positives' part over the positives alone. Positives outside ``mask`` are
    ignored, repeated ones count once."""
    if reduction not in MCE_REDUCTIONS:
        raise ValueError(f"multilabel_categorical_crossentropy reduction must be one of {list(MCE_REDUCTIONS)}, "
                         f"got {reduction!r}")
    xp = get_array_module(scores)
    shape = scores.shape
    n, h = shape[:2]
    s = xp.ascontiguousarray(scores, dtype="float32").reshape((n, h, -1))
    mask = xp.asarray(mask, dtype=bool)
    mask = mask.reshape((1,) * (len(shape) - mask.ndim) + mask.shape)
    m = mask.reshape(mask.shape[:2] + (-1,))  # (N or 1, H or 1, W*W), broadcast against s
    flat = xp.unique(xp.asarray(positives, dtype="int64").reshape(-1))
    if flat.size:
        flat = flat[xp.broadcast_to(mask, shape)[xp.unravel_index(flat, shape)]]
    # negatives: every valid position but the positives
    e = xp.where(m, s, xp.float32(NEG))
    e.reshape(-1)[flat] = NEG
    top = xp.maximum(e.max(axis=-1, keepdims=True), 0.0)
    e -= top
    xp.exp(e, out=e)
    lse_neg = top + xp.log(xp.exp(-top) + e.sum(axis=-1, keepdims=True))
    e *= xp.exp(top - lse_neg)  # the negatives' gradient e^{s - lse}; 0 at positives and masked positions
    # positives: log(1 + sum e^{-s}) per row that has one, on a (rows, most positives) table
    loss = float(lse_neg.sum())
    if flat.size:
        width = s.shape[-1]
        rows, first, inverse, counts = xp.unique(flat // width, return_index=True, return_inverse=True,
                                                 return_counts=True)
        rank = xp.arange(flat.size) - first[inverse]
        table = xp.full((rows.size, int(counts.max())), NEG, dtype="float32")
        neg_s = -s.reshape(-1)[flat]
        table[inverse, rank] = neg_s
        lse_pos = _logsumexp_with_zero(xp, table, axis=1)[:, 0]
        loss += float(lse_pos.sum())
        e.reshape(-1)[flat] = -xp.exp(neg_s - lse_pos[inverse])
    valid = xp.broadcast_to(m.any(axis=-1), (n, h))
    # "mean": the rows with a valid position; "window_sum": the windows with one
    divisor = max(int((valid if reduction == "mean" else valid.any(axis=-1)).sum()), 1)
    e /= divisor
    return loss / divisor, e.reshape(shape)


def binary_crossentropy_with_logits(logits, targets, mask) -> Tuple[float, object]:
    """Mean sigmoid cross-entropy over the masked positions (the pointer head's loss).

    Returns (loss, gradient w.r.t. the logits); positions outside ``mask`` get zero gradient.
    """
    xp = get_array_module(logits)
    x = logits.astype("float32")
    m = xp.broadcast_to(mask, x.shape)
    n = max(int(m.sum()), 1)
    # log(1 + e^x) - y x, computed stably
    per = xp.maximum(x, 0) - x * targets + xp.log1p(xp.exp(-xp.abs(x)))
    loss = float(xp.where(m, per, 0.0).sum()) / n
    e = xp.exp(-xp.abs(x))
    prob = xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    grad = xp.where(m, prob - targets, 0.0) / n
    return loss, grad.astype("float32")
