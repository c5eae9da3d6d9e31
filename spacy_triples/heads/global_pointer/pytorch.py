"""Plain PyTorch modules of the GlobalPointer-linking head (no spaCy imports)."""
import math
from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F


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

    With ``diagonal`` each head also rescales the shared product per pair of dimensions:
    score[h, i, j] = <q_i, (1 + s_h) * k_j> / sqrt(d) + a[h, i] + b[h, j] (a diagonal bilinear form
    per head, as DistMult's per relation). Which token pairs a head links then depends on the head,
    not only through its unary biases. s starts at 0 (the shared product) and is tied within each
    rotated pair of dimensions, so RoPE's scores stay functions of the relative position.
    """

    def __init__(self, width: int, n_heads: int, head_size: int, use_rope: bool, diagonal: bool = False):
        super().__init__()
        self.head_size = head_size
        self.use_rope = use_rope
        self.qk = nn.Linear(width, 2 * head_size)
        self.bias = nn.Linear(2 * head_size, 2 * n_heads)
        if diagonal and head_size % 2:
            raise ValueError(f"GlobalPointer relation_maps 'diagonal' needs an even head_size, got {head_size}")
        self.scale = nn.Parameter(torch.zeros(n_heads, head_size // 2)) if diagonal else None

    def head_scale(self) -> Optional[torch.Tensor]:
        """(H, d): the per-head factor on each dimension of the shared product, or None."""
        if self.scale is None:
            return None
        return torch.repeat_interleave(1.0 + self.scale, 2, dim=-1)

    def project(self, x: torch.Tensor):
        """Per-token parts of the scores: q (N, W, d), k (N, W, d) and the per-head row and column
        biases a, b (N, W, H), so that score[h, i, j] = <q_i, k_j> / sqrt(d) + a[i, h] + b[j, h]."""
        qk = self.qk(x)
        q, k = qk[..., ::2], qk[..., 1::2]
        if self.use_rope:
            q, k = rotary(q), rotary(k)
        bias = self.bias(qk) / 2  # (N, W, 2H)
        return q, k, bias[..., ::2], bias[..., 1::2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, a, b = self.project(x)
        scale = self.head_scale()
        if scale is None:
            base = torch.einsum("bmd,bnd->bmn", q, k)[:, None] / math.sqrt(self.head_size)
        else:
            base = torch.einsum("bmd,hd,bnd->bhmn", q, scale.to(q.dtype), k) / math.sqrt(self.head_size)
        return base + a.transpose(1, 2)[:, :, :, None] + b.transpose(1, 2)[:, :, None, :]

    def at(self, parts, window: torch.Tensor, row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        """Scores of every head at the token pairs (window[p], row[p], col[p]): (P, H), without
        building the (N, H, W, W) tensor."""
        q, k, a, b = parts
        product = q[window, row] * k[window, col]  # (P, d)
        scale = self.head_scale()
        if scale is None:
            base = product.sum(-1)[:, None]
        else:
            base = product @ scale.to(product.dtype).T
        return base / math.sqrt(self.head_size) + a[window, row] + b[window, col]


def valid_masks(lengths: torch.Tensor, width: int, max_span_length: int):
    pos = torch.arange(width, device=lengths.device)
    inside = pos[None, :] < lengths[:, None]
    pair = inside[:, :, None] & inside[:, None, :]
    span = pos[None, :] - pos[:, None]
    band = (span >= 0) & (span < max_span_length)
    return (pair & band[None])[:, None], pair[:, None]


def entity_caps(lengths: torch.Tensor) -> torch.Tensor:
    """Most subject (and, apart, object) candidates kept per window of length L: max(8, ceil(L / 3)).

    A trained model proposes far fewer entities than this; an untrained one, where about half of all
    spans pass, is cut to the best ones, so relation scoring (pairs x relations) stays bounded.
    """
    return torch.clamp((lengths + 2) // 3, min=8)


def top_entities(scores: torch.Tensor, cut: float, caps: torch.Tensor):
    """The best spans above ``cut`` of one role, at most ``caps[w]`` per window.

    scores: (n, T, W, W) logits of subjects (or objects) of each entity type, invalid spans at -inf.
    Returns (window, type, first token, last token, logit), each (k,), sorted by window and, within
    a window, by descending logit.
    """
    n, types, width, _ = scores.shape
    flat = scores.reshape(n, types * width * width)
    k = max(0, min(int(caps.max()) if n else 0, flat.shape[1]))
    values, position = flat.topk(k, dim=-1)
    keep = (values > cut) & (torch.arange(k, device=scores.device)[None, :] < caps[:, None])
    window, rank = keep.nonzero(as_tuple=True)
    position = position[window, rank]
    area = width * width
    return window, position // area, (position % area) // width, position % width, values[window, rank]


def pair_up(subject_window: torch.Tensor, object_window: torch.Tensor, n_windows: int):
    """Every (subject, object) index pair that shares a window; both inputs sorted by window.

    Returns (subject index (P,), object index (P,)), grouped by subject.
    """
    device = subject_window.device
    n_objects = torch.bincount(object_window, minlength=n_windows)
    first_object = torch.cumsum(n_objects, 0) - n_objects
    repeats = n_objects[subject_window]
    subject = torch.repeat_interleave(torch.arange(len(subject_window), device=device), repeats)
    block = torch.cumsum(repeats, 0) - repeats
    within = torch.arange(int(repeats.sum()), device=device) - torch.repeat_interleave(block, repeats)
    return subject, first_object[subject_window][subject] + within


def best_per_window(window: torch.Tensor, score: torch.Tensor, caps: torch.Tensor) -> torch.Tensor:
    """Indices (ascending) of the ``caps[w]`` highest scores of each window w; ties go to the
    earlier entry. ``window`` must be sorted (entries grouped by window).

    A top-k per window (no sort of all entries): the cap-th best score of a window is found with
    ``topk`` on a window-padded copy; everything above it is kept, and of the entries equal to it
    the first ones, up to the cap.
    """
    n = len(caps)
    device = window.device
    counts = torch.bincount(window, minlength=n)
    if len(window) == 0 or bool((counts <= caps).all()):
        return torch.arange(len(window), device=device)  # no window over its cap: keep all
    first = torch.cumsum(counts, 0) - counts
    position = torch.arange(len(window), device=device) - first[window]
    padded = torch.full((n, int(counts.max())), float("-inf"), dtype=score.dtype, device=device)
    padded[window, position] = score
    k = min(int(caps.max()), padded.shape[1])
    top = padded.topk(k, dim=1).values  # (n, k), descending
    kth = top[torch.arange(n, device=device), (torch.minimum(caps, counts) - 1).clamp(0, k - 1)]
    over = (counts > caps)[window]
    above = score > kth[window]
    tie = (score == kth[window]).long()
    before = torch.cumsum(tie, 0) - tie  # ties before each entry, over all windows
    tie_rank = before - before[first.clamp(max=len(window) - 1)][window]
    room = caps - torch.bincount(window[above], minlength=n)
    keep = ~over | above | ((tie == 1) & (tie_rank < room[window]))
    return keep.nonzero(as_tuple=True)[0]


LINK_SCORES = ("min", "mean", "max")
RELATION_MAPS = ("shared", "diagonal")
CONTEXTS = ("none", "bilstm")


class ResidualBiLSTM(nn.Module):
    """x + P(BiLSTM(x)) over each window's own tokens (padding neither read nor written), with the
    output projection P starting at zero: a fresh layer passes its input through unchanged, so a
    head with it starts as the head without it and learns how much context to add. Each direction
    has width // 2 units; the output has the input's width."""

    def __init__(self, width: int):
        super().__init__()
        hidden = max(1, width // 2)
        self.lstm = nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, width)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        n, width = x.shape[0], x.shape[1]
        if n == 0 or width == 0:
            return x
        if lengths is None:
            lengths = torch.full((n,), width, dtype=torch.long)
        lengths = lengths.to("cpu", torch.long).clamp(min=1)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=width)
        return x + self.out(y)


def link_scores(head: torch.Tensor, tail: torch.Tensor, entities: torch.Tensor, rule: str = "min") -> torch.Tensor:
    """A triple's logit from its relation head and tail logits (pairs, R) and the smaller of its
    subject and object logits (pairs, 1). ``"min"`` (GPLinker): the smallest of the four, so every
    part must pass the threshold. ``"mean"``: the head and tail links are averaged first, so a
    confident head link can carry a weaker tail link (and back); both entities must still pass.
    ``"max"``: either link passing is enough (the head and tail pointers each already name the
    pair and the relation); both entities must still pass.
    """
    if rule == "min":
        linked = torch.minimum(head, tail)
    elif rule == "mean":
        linked = (head + tail) / 2
    elif rule == "max":
        linked = torch.maximum(head, tail)
    else:
        raise ValueError(f"GlobalPointer link_score must be one of {list(LINK_SCORES)}, got {rule!r}")
    return torch.minimum(linked, entities)


def role_scores(entity: torch.Tensor, n_types: int, mention_types: int, mention_decode: float = 0.0) -> torch.Tensor:
    """The subject and object maps (N, 2T, W, W) that decoding reads from the entity pointer's
    output (N, 2T (+ T), W, W). With ``mention_decode`` = a > 0 (and mention maps), the logit of
    "subject (object) of type t" becomes (1 - a) x its own logit + a x the logit of "a mention of
    type t", so the map trained on every listed entity backs the role maps, which see only the
    entities in a triple. a = 0 returns the role maps unchanged.
    """
    roles = entity[:, : 2 * n_types]
    if mention_decode <= 0:
        return roles
    if mention_types != n_types:
        raise ValueError("GlobalPointer mention_decode needs the mention maps: set mention_weight above 0 and train.")
    mentions = entity[:, 2 * n_types : 3 * n_types].repeat(1, 2, 1, 1)
    return (1.0 - mention_decode) * roles + mention_decode * mentions


class GlobalPointerLinker(nn.Module):
    """GPLinker: entity pointer (subject, object) + per-relation head and tail pointers.

    forward(x, lengths) returns dense logits (entity (N, 2T, W, W), head (N, R, W, W),
    tail (N, R, W, W)) for training. With ``threshold`` (a logit) it returns the linked triples
    above it (see ``link``), computed over chunks of windows so that inference memory stays
    bounded however many windows a batch has.
    """

    def __init__(
        self,
        width: int,
        n_relations: int,
        head_size: int = 64,
        dropout: float = 0.1,
        relation_rope: bool = True,
        n_entity_types: int = 1,
        entity_prior: float = 0.0,
        relation_prior: float = 0.0,
        link_score: str = "min",
        mention_types: int = 0,
        mention_decode: float = 0.0,
        relation_maps: str = "shared",
        context: str = "none",
    ):
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"GlobalPointer context must be one of {list(CONTEXTS)}, got {context!r}")
        if relation_maps not in RELATION_MAPS:
            raise ValueError(f"GlobalPointer relation_maps must be one of {list(RELATION_MAPS)}, got {relation_maps!r}")
        if link_score not in LINK_SCORES:
            raise ValueError(f"GlobalPointer link_score must be one of {list(LINK_SCORES)}, got {link_score!r}")
        if mention_decode > 0 and mention_types != n_entity_types:
            raise ValueError("GlobalPointer mention_decode above 0 reads the mention maps: set mention_weight above 0 too.")
        self.link_score = link_score
        # prediction only: the mention maps' share in the subject and object scores (role_scores)
        self.mention_decode = mention_decode
        self.dropout = dropout
        # heads 0..T-1: subjects of type t; heads T..2T-1: objects of type t (T = 1: untyped); then
        # ``mention_types`` maps "a mention of type t", trained on every listed entity (decoded only
        # with ``mention_decode`` above 0: role_scores)
        self.entity = EfficientGlobalPointer(width, 2 * n_entity_types + mention_types, head_size, use_rope=True)
        self.mention_types = mention_types
        # GPLinker leaves RoPE off the relation pointers, relying on BERT's absolute positions.
        # Encoders without positions (the CNN) then score every repeat of a word alike, so by
        # default the relation pointers see relative distance too.
        # relation_maps "diagonal": each relation also rescales the shared query-key product
        diagonal = relation_maps == "diagonal"
        self.head = EfficientGlobalPointer(width, n_relations, head_size, use_rope=relation_rope, diagonal=diagonal)
        self.tail = EfficientGlobalPointer(width, n_relations, head_size, use_rope=relation_rope, diagonal=diagonal)
        self.n_relations = n_relations
        self.n_entity_types = n_entity_types
        # a prior (a logit) added to every initial score: the row and column halves of a score's
        # bias each carry half of it. 0.0 leaves PyTorch's initialisation untouched.
        for pointer, prior in ((self.entity, entity_prior), (self.head, relation_prior), (self.tail, relation_prior)):
            if prior:
                with torch.no_grad():
                    pointer.bias.bias.add_(prior)
        # "bilstm": the features pass a residual BiLSTM before every pointer, so the token-level
        # features beside the encoder (shape, cased text) reach their neighbours. Built last, so
        # the pointers' initial weights are those of the same seed without it
        self.context = ResidualBiLSTM(width) if context == "bilstm" else None

    def contextualise(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The features the pointers read: x itself, or x through the residual BiLSTM."""
        return x if self.context is None else self.context(x, lengths)

    def scores(self, x: torch.Tensor, is_train: bool = False, lengths: Optional[torch.Tensor] = None):
        x = self.contextualise(F.dropout(x, self.dropout, training=is_train), lengths)
        return self.entity(x).float(), self.head(x).float(), self.tail(x).float()

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor,
        threshold: Optional[float] = None,
        max_span_length: int = 1_000_000,
        max_chunk_elements: int = 2**22,
        is_train: bool = False,
    ) -> Tuple[torch.Tensor, ...]:
        if threshold is None:
            return self.scores(x, is_train, lengths)
        return self.link(x, lengths, threshold, max_span_length, max_chunk_elements)

    def link(self, x: torch.Tensor, lengths: torch.Tensor, cut: float, max_span_length: int,
             max_chunk_elements: int = 2**22) -> Tuple[torch.Tensor, torch.Tensor]:
        """Triples whose score exceeds ``cut`` (a logit): by default (``link_score="min"``) all four
        of its scores (subject, object, head, tail) must; see ``link_scores``.

        Entities are found first (``top_entities``); the head and tail pointers are then scored
        only at the token pairs of candidate (subject, object) pairs, for every relation, instead
        of over all W x W positions: the cost grows with the relation count only through those few
        pairs. A window keeps at most L triples (L its length), the best ones. Returns
        index (k, 8) of (window, subject first, subject last, subject type, relation,
        object first, object last, object type), window-relative, and the triples' logits (k,).
        """
        x = self.contextualise(x, lengths)
        n, width = x.shape[0], x.shape[1]
        types = self.n_entity_types
        cap = int(entity_caps(lengths).max()) if n else 0
        # windows are chunked by the entity maps; relations are then scored over sub-chunks sized
        # by the pairs' worst case (cap x cap pairs x relations), and only where pairs exist, so a
        # head that proposes nothing costs the same whatever its label count
        chunk = max(1, max_chunk_elements // max((2 * types + self.mention_types) * width * width, 1))
        inner = max(1, max_chunk_elements // max(cap * cap * self.n_relations * 4, 1))
        index_parts, logit_parts = [], []
        for start in range(0, n, chunk):
            xs, ls = x[start : start + chunk], lengths[start : start + chunk]
            ent_mask, _ = valid_masks(ls, width, max_span_length)
            ent = role_scores(self.entity(xs).float(), types, self.mention_types, self.mention_decode)
            ent = ent.masked_fill(~ent_mask, float("-inf"))
            caps = entity_caps(ls)
            sw, st, si, sj, sl = top_entities(ent[:, :types], cut, caps)
            ow, ot, oi, oj, ol = top_entities(ent[:, types : 2 * types], cut, caps)
            s_all, o_all = pair_up(sw, ow, len(xs))
            w_all = sw[s_all]  # sorted by window
            edges = torch.searchsorted(w_all, torch.arange(0, len(xs) + inner, inner, device=x.device)).tolist()
            for lo, hi in zip(edges[:-1], edges[1:]):
                if lo == hi:
                    continue
                s, o, w = s_all[lo:hi], o_all[lo:hi], w_all[lo:hi]
                # project only the windows that have candidate pairs: the per-relation bias costs
                # tokens x relations
                used = torch.unique(w)
                local = torch.zeros(len(xs), dtype=torch.long, device=xs.device)
                local[used] = torch.arange(len(used), device=xs.device)
                xu = xs[used]
                head = self.head.at(self.head.project(xu), local[w], si[s], oi[o]).float()
                tail = self.tail.at(self.tail.project(xu), local[w], sj[s], oj[o]).float()
                score = link_scores(head, tail, torch.minimum(sl[s], ol[o])[:, None], self.link_score)
                pair, relation = (score > cut).nonzero(as_tuple=True)
                logit = score[pair, relation]
                keep = best_per_window(w[pair], logit, ls)
                pair, relation, logit = pair[keep], relation[keep], logit[keep]
                s, o = s[pair], o[pair]
                index_parts.append(torch.stack([w[pair] + start, si[s], sj[s], st[s], relation, oi[o], oj[o], ot[o]], dim=1))
                logit_parts.append(logit)
        if not index_parts:
            return torch.zeros((0, 8), dtype=torch.long, device=x.device), torch.zeros((0,), device=x.device)
        return torch.cat(index_parts), torch.cat(logit_parts)
