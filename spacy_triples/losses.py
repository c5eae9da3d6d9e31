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

    Returns (the reduced loss, its gradient w.r.t. the scores).
    """
    if reduction not in MCE_REDUCTIONS:
        raise ValueError(f"multilabel_categorical_crossentropy reduction must be one of {list(MCE_REDUCTIONS)}, "
                         f"got {reduction!r}")
    xp = get_array_module(scores)
    n, h = scores.shape[:2]
    s = scores.reshape((n, h, -1)).astype("float32")
    y = targets.reshape((n, h, -1)) > 0.5
    m = xp.broadcast_to(mask, scores.shape).reshape((n, h, -1))
    neg = m & ~y
    pos = m & y
    s_neg = xp.where(neg, s, NEG)
    s_pos = xp.where(pos, -s, NEG)
    lse_neg = _logsumexp_with_zero(xp, s_neg, axis=-1)
    lse_pos = _logsumexp_with_zero(xp, s_pos, axis=-1)
    rows = m.any(axis=-1)
    # "mean": the rows with a valid position; "window_sum": the windows with one
    divisor = max(int((rows if reduction == "mean" else rows.any(axis=-1)).sum()), 1)
    loss = float((lse_neg + lse_pos)[..., 0][rows].sum()) / divisor
    grad = xp.where(neg, xp.exp(s_neg - lse_neg), 0.0) - xp.where(pos, xp.exp(s_pos - lse_pos), 0.0)
    grad = (grad / divisor).astype("float32").reshape(scores.shape)
    return loss, grad


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
