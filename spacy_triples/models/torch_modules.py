"""Plain PyTorch modules (no spaCy imports). The thinc glue lives in ``gplinker.py``."""
import math
import os
from typing import Optional, Tuple

import torch
from torch import nn


def _single_thread_after_fork() -> None:
    # A forked child (nlp.pipe(n_process=2) on Linux) inherits torch's OpenMP pool in a broken
    # state and deadlocks in its first parallel op; one intra-op thread per process avoids it.
    torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_single_thread_after_fork)


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
        self.dropout = nn.Dropout(dropout)
        # heads 0..T-1: subjects of type t; heads T..2T-1: objects of type t (T = 1: untyped)
        self.entity = EfficientGlobalPointer(width, 2 * n_entity_types, head_size, use_rope=True)
        # GPLinker leaves RoPE off the relation pointers, relying on BERT's absolute positions.
        # Encoders without positions (the CNN) then score every repeat of a word alike, so by
        # default the relation pointers see relative distance too.
        self.head = EfficientGlobalPointer(width, n_relations, head_size, use_rope=relation_rope)
        self.tail = EfficientGlobalPointer(width, n_relations, head_size, use_rope=relation_rope)
        self.n_relations = n_relations

    def scores(self, x: torch.Tensor):
        x = self.dropout(x)
        return self.entity(x).float(), self.head(x).float(), self.tail(x).float()

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor,
        threshold: Optional[float] = None,
        max_span_length: int = 1_000_000,
        max_chunk_elements: int = 2**24,
    ) -> Tuple[torch.Tensor, ...]:
        if threshold is None:
            return self.scores(x)
        n, width = x.shape[0], x.shape[1]
        per_window = max((self.entity.bias.out_features // 2 + 2 * self.n_relations) * width * width, 1)
        chunk = max(1, max_chunk_elements // per_window)
        out = [[], [], [], [], [], []]
        for start in range(0, n, chunk):
            xs, ls = x[start : start + chunk], lengths[start : start + chunk]
            ent_mask, pair_mask = valid_masks(ls, width, max_span_length)
            ent, head, tail = self.scores(xs)
            for k, (s, m) in enumerate(((ent, ent_mask), (head, pair_mask), (tail, pair_mask))):
                index, logit = sparse_above(s, m, threshold, start)
                out[2 * k].append(index)
                out[2 * k + 1].append(logit)
        return tuple(torch.cat(parts) for parts in out)


class GatedDilatedConv(nn.Module):
    """Residual dilated gated 1-D convolution (the DGCNN block).

    out = x * (1 - g) + v * g, with [v; g] = conv(x) and g = sigmoid: the gate decides, per token
    and channel, how much of the convolved value replaces the input, so stacking blocks never
    blocks the gradient path (the residual), and dilation widens the context cheaply.
    """

    def __init__(self, width: int, dilation: int, kernel_size: int = 3, dropout: float = 0.1):
        super().__init__()
        if kernel_size % 2 != 1 or dilation < 1:
            raise ValueError(f"DGCNN: kernel_size must be odd and dilation >= 1, got {kernel_size}, {dilation}.")
        self.conv = nn.Conv1d(width, 2 * width, kernel_size, dilation=dilation, padding=dilation * (kernel_size - 1) // 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.conv((x * mask).transpose(1, 2)).transpose(1, 2)
        value, gate = h.chunk(2, dim=-1)
        gate = torch.sigmoid(gate)
        return (x * (1 - gate) + self.dropout(value) * gate) * mask


class BlockAttention(nn.Module):
    """Multi-head self-attention inside fixed blocks of ``block`` tokens (memory linear in length)."""

    def __init__(self, width: int, n_heads: int, block: int, dropout: float = 0.1):
        super().__init__()
        if width % n_heads:
            raise ValueError(f"DGCNN: width {width} must be divisible by attention_heads {n_heads}.")
        self.block = block
        self.attn = nn.MultiheadAttention(width, n_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, length, width = x.shape
        block = min(self.block, length)
        pad = (-length) % block
        xb = torch.nn.functional.pad(x, (0, 0, 0, pad)).reshape(-1, block, width)
        valid = torch.nn.functional.pad(mask[..., 0] > 0, (0, pad)).reshape(-1, block)
        # a block of padding only would attend to nothing (NaN): let it see its first position;
        # its outputs are zeroed by the mask below anyway
        empty = ~valid.any(dim=1)
        key_padding = ~valid
        key_padding[empty, 0] = False
        out, _ = self.attn(xb, xb, xb, key_padding_mask=key_padding, need_weights=False)
        out = out.reshape(n, length + pad, width)[:, :length]
        return self.norm(x + out) * mask


class DGCNNEncoder(nn.Module):
    """Projection -> residual dilated gated convolutions -> optional block self-attention."""


    def __init__(
        self,
        n_in: Optional[int],
        width: int,
        dilations,
        kernel_size: int = 3,
        dropout: float = 0.1,
        attention_heads: int = 0,
        attention_block: int = 128,
    ):
        super().__init__()
        # n_in None: the embedding width is taken from the first input (and from a saved state)
        self.project = nn.LazyLinear(width) if n_in is None else nn.Linear(n_in, width)
        self.blocks = nn.ModuleList(GatedDilatedConv(width, d, kernel_size, dropout) for d in dilations)
        self.attention = BlockAttention(width, attention_heads, attention_block, dropout) if attention_heads else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(x.shape[1], device=x.device)
        mask = (pos[None, :] < lengths[:, None]).to(x.dtype)[..., None]
        h = self.project(x) * mask
        for block in self.blocks:
            h = block(h, mask)
        if self.attention is not None:
            h = self.attention(h, mask)
        return h


def _full(t: torch.Tensor) -> torch.Tensor:
    """Half-precision (AMP) outputs back to float32 for the losses; other dtypes unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class ConditionalLayerNorm(nn.Module):
    """Layer normalisation whose gain and bias are shifted by a condition vector (bert4keras).

    y = (x - mean) / std * (g + W_g c) + (b + W_b c). W_g and W_b start at zero, so the layer
    begins as a plain layer norm and learns how the subject should reshape every token.
    """

    def __init__(self, width: int, cond_width: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))
        self.cond_weight = nn.Linear(cond_width, width, bias=False)
        self.cond_bias = nn.Linear(cond_width, width, bias=False)
        nn.init.zeros_(self.cond_weight.weight)
        nn.init.zeros_(self.cond_bias.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        normed = (x - mean) / torch.sqrt(var + self.eps)
        gain = self.weight + self.cond_weight(cond)[:, None, :]
        shift = self.bias + self.cond_bias(cond)[:, None, :]
        return normed * gain + shift


class PointerTagger(nn.Module):
    """Half-pointer, half-tagging (CasRel-style) triple head.

    tokens: per token, subject start/end logits per entity type, plus object-type start/end logits
    (used to type the objects found by the conditional pass). objects: for one subject, the tokens
    of a slice of its doc are conditioned on the subject's start and end vectors (conditional
    layer norm, or adding their mean as CasRel does) and tagged with object start/end logits per
    relation. The encoder output is computed once; only this small head runs per subject.
    """

    def __init__(
        self,
        width: int,
        n_relations: int,
        n_entity_types: int = 1,
        condition: str = "layernorm",
        dropout: float = 0.1,
        max_distance: int = 32,
    ):
        super().__init__()
        if condition not in ("layernorm", "add"):
            raise ValueError(f"PointerHead: condition must be 'layernorm' or 'add', got {condition!r}.")
        self.condition = condition
        self.dropout = nn.Dropout(dropout)
        self.tokens = nn.Linear(width, 4 * n_entity_types)
        self.cln = ConditionalLayerNorm(width, 2 * width) if condition == "layernorm" else None
        # Relative distance to the subject: BERT-based CasRel gets it from absolute positions, but
        # a CNN gives repeated words identical vectors, so the head is told where the subject is.
        self.distance = nn.Embedding(2 * max_distance + 1, width) if max_distance > 0 else None
        self.objects = nn.Linear(width, 2 * n_relations)
        # Start every pointer at p = 0.01 (bias -4.6): an untrained head then proposes nothing,
        # instead of half of all tokens as subjects, each with half of all tokens as objects.
        nn.init.constant_(self.tokens.bias, -4.6)
        nn.init.constant_(self.objects.bias, -4.6)

    def forward(
        self,
        x: torch.Tensor,
        slice_index: Optional[torch.Tensor] = None,
        cond_index: Optional[torch.Tensor] = None,
        distance: Optional[torch.Tensor] = None,
        mode: str = "both",
    ) -> Tuple[torch.Tensor, ...]:
        """x: (total + 1, D) token vectors of a batch with a padding row last. slice_index (K, S):
        rows of x searched for each subject's objects; cond_index (K, 2): rows of the subject's
        first and last token; distance (K, S): bucketed token-to-subject distance."""
        x = self.dropout(x)
        out = []
        if mode in ("both", "tokens"):
            out.append(_full(self.tokens(x[:-1])))
        if mode in ("both", "objects"):
            xs = x[slice_index]
            cond = x[cond_index]
            if self.cln is not None:
                h = self.cln(xs, cond.reshape(cond.shape[0], -1))
            else:
                h = xs + cond.mean(dim=1)[:, None, :]
            if self.distance is not None:
                h = h + self.distance(distance)
            out.append(_full(self.objects(h)))
        return tuple(out)
