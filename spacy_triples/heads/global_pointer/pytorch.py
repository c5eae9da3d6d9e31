"""Plain PyTorch modules of the GlobalPointer-linking head (no spaCy imports)."""
import math
from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from ...glue import full_precision


def rotary(x: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding (RoPE) over the sequence axis of x (N, W, D), D even."""
    _, length, dim = x.shape
    pos = torch.arange(length, dtype=torch.float32, device=x.device)
    inv = torch.pow(10000.0, -torch.arange(0, dim, 2, dtype=torch.float32, device=x.device) / dim)
    angle = pos[:, None] * inv[None, :]
    cos = torch.repeat_interleave(torch.cos(angle), 2, dim=-1).to(x.dtype)
    sin = torch.repeat_interleave(torch.sin(angle), 2, dim=-1).to(x.dtype)
    rotated = torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).reshape(x.shape)
    return x * cos + rotated * sin


class EfficientGlobalPointer(nn.Module):
    """GlobalPointer with projections shared across heads ("Efficient GlobalPointer").

    score[h, i, j] = <q_i, k_j> / sqrt(d) + a[h, i] + b[h, j]: one shared (width -> 2d) projection
    and a cheap (2d -> 2H) per-head bias, instead of a full-width projection per head.
    """

    def __init__(self, width: int, n_heads: int, head_size: int, use_rope: bool):
        super().__init__()
        self.head_size = head_size
        self.use_rope = use_rope
        self.qk = nn.Linear(width, 2 * head_size)
        self.bias = nn.Linear(2 * head_size, 2 * n_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qk = self.qk(x)
        q, k = qk[..., ::2], qk[..., 1::2]
        if self.use_rope:
            q, k = rotary(q), rotary(k)
        base = torch.einsum("bmd,bnd->bmn", q, k) / math.sqrt(self.head_size)
        bias = self.bias(qk).transpose(1, 2) / 2  # (N, 2H, W)
        return base[:, None] + bias[:, ::2, :, None] + bias[:, 1::2, None, :]


def valid_masks(lengths: torch.Tensor, width: int, max_span_length: int):
    pos = torch.arange(width, device=lengths.device)
    inside = pos[None, :] < lengths[:, None]
    pair = inside[:, :, None] & inside[:, None, :]
    span = pos[None, :] - pos[:, None]
    band = (span >= 0) & (span < max_span_length)
    return (pair & band[None])[:, None], pair[:, None]


def sparse_above(scores: torch.Tensor, mask: torch.Tensor, cut: float, offset: int):
    """Positions of scores (n, H, W, W) above ``cut`` inside ``mask``, as (index (k, 4), logit (k,)).

    At most W positions per (window, head) are kept, the best ones, so that a poorly trained model
    (where half of all pairs may pass) cannot flood the decoder. Rows come out in index order.
    """
    n, heads, width, _ = scores.shape
    flat = scores.masked_fill(~mask, float("-inf")).reshape(n, heads, width * width)
    values, positions = flat.topk(min(width, width * width), dim=-1)
    hits = values > cut
    rows = hits.nonzero()
    pos = positions[hits]
    order = torch.argsort((rows[:, 0] * heads + rows[:, 1]) * width * width + pos)
    rows, pos, logits = rows[order], pos[order], values[hits][order]
    index = torch.stack([rows[:, 0] + offset, rows[:, 1], pos // width, pos % width], dim=1)
    return index, logits


class GlobalPointerLinker(nn.Module):
    """GPLinker: entity pointer (subject, object) + per-relation head and tail pointers.

    forward(x, lengths) returns dense logits (entity (N, 2, W, W), head (N, R, W, W),
    tail (N, R, W, W)) for training. With ``threshold`` (a logit) it returns only the positions
    above it as sparse (index, logit) pairs (see ``sparse_above``), computed over chunks of
    windows so that inference memory stays bounded however many windows a batch has.
    """

    def __init__(
        self,
        width: int,
        n_relations: int,
        head_size: int = 64,
        dropout: float = 0.1,
        relation_rope: bool = True,
        n_entity_types: int = 1,
    ):
        super().__init__()
        self.dropout = dropout
        # heads 0..T-1: subjects of type t; heads T..2T-1: objects of type t (T = 1: untyped)
        self.entity = EfficientGlobalPointer(width, 2 * n_entity_types, head_size, use_rope=True)
        # GPLinker leaves RoPE off the relation pointers, relying on BERT's absolute positions.
        # Encoders without positions (the CNN) then score every repeat of a word alike, so by
        # default the relation pointers see relative distance too.
        self.head = EfficientGlobalPointer(width, n_relations, head_size, use_rope=relation_rope)
        self.tail = EfficientGlobalPointer(width, n_relations, head_size, use_rope=relation_rope)
        self.n_relations = n_relations

    def scores(self, x: torch.Tensor, is_train: bool = False):
        x = F.dropout(x, self.dropout, training=is_train)
        return self.entity(x).float(), self.head(x).float(), self.tail(x).float()

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor,
        threshold: Optional[float] = None,
        max_span_length: int = 1_000_000,
        max_chunk_elements: int = 2**24,
        is_train: bool = False,
    ) -> Tuple[torch.Tensor, ...]:
        if threshold is None:
            return self.scores(x, is_train)
        n, width = x.shape[0], x.shape[1]
        per_window = max((self.entity.bias.out_features // 2 + 2 * self.n_relations) * width * width, 1)
        chunk = max(1, max_chunk_elements // per_window)
        out = [[], [], [], [], [], []]
        for start in range(0, n, chunk):
            xs, ls = x[start : start + chunk], lengths[start : start + chunk]
            ent_mask, pair_mask = valid_masks(ls, width, max_span_length)
            ent, head, tail = self.scores(xs, is_train)
            for k, (s, m) in enumerate(((ent, ent_mask), (head, pair_mask), (tail, pair_mask))):
                index, logit = sparse_above(s, m, threshold, start)
                out[2 * k].append(index)
                out[2 * k + 1].append(logit)
        return tuple(torch.cat(parts) for parts in out)
