"""The GlobalPointer decoder before ``GlobalPointerLinker.link``: kept only as a reference.

It scores the head and tail pointers over every position pair and relation (its cost grows with
W x W x R), turns each pointer's scores into sparse candidates and links them in numpy. The package
decodes with ``GlobalPointerLinker.link`` and ``util.rows_from_links``; this module is what
``benchmarks/inference_speed.py`` compares their F1 against (``reference_link``), and what the
decoding tests check the linking rules on (tests/test_pure.py, tests/test_reliability.py).

- ``dense_candidates(module, x, lengths, cut, ...)``: a ``GlobalPointerLinker``'s dense scores as
  sparse candidates of each pointer (``sparse_above``); was ``GlobalPointerLinker.candidates``.
- ``decode_triples(windows, n_docs, entity, head, tail, threshold, ...)``: candidates -> triples
  per doc; was ``heads.global_pointer.util.decode_triples``.
- ``reference_link(module, x, lengths, cut, max_span_length)``: the two together, with the output
  of ``GlobalPointerLinker.link``, so that it can stand in for it.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy
import torch

from spacy_triples.heads.global_pointer.pytorch import role_scores, valid_masks
from spacy_triples.losses import logit, sigmoid
from spacy_triples.triples import TripleRow, merge_best


class Candidates(NamedTuple):
    """Sparse pair scores: ``index`` is an int array (k, 4) of (window, head, i, j); ``logit`` (k,)."""

    index: numpy.ndarray
    logit: numpy.ndarray

    @classmethod
    def empty(cls) -> "Candidates":
        return cls(numpy.zeros((0, 4), dtype="i"), numpy.zeros((0,), dtype="f"))


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


def dense_candidates(module, x: torch.Tensor, lengths: torch.Tensor, threshold: float,
                     max_span_length: int = 1_000_000, max_chunk_elements: int = 2**22) -> Tuple[torch.Tensor, ...]:
    """Dense head and tail scores of ``module`` (a ``GlobalPointerLinker``) over every position pair
    and relation, returned as sparse candidates of each pointer above ``threshold`` (a logit):
    (entity index, entity logit, head index, head logit, tail index, tail logit), for
    ``decode_triples``."""
    n, width = x.shape[0], x.shape[1]
    per_window = max((module.entity.bias.out_features // 2 + 2 * module.n_relations) * width * width, 1)
    chunk = max(1, max_chunk_elements // per_window)
    out = [[], [], [], [], [], []]
    for start in range(0, n, chunk):
        xs, ls = x[start : start + chunk], lengths[start : start + chunk]
        ent_mask, pair_mask = valid_masks(ls, width, max_span_length)
        ent, head, tail = module.scores(xs)
        ent = role_scores(ent, module.n_entity_types, module.mention_types, module.mention_decode)
        for k, (s, m) in enumerate(((ent, ent_mask), (head, pair_mask), (tail, pair_mask))):
            index, logits = sparse_above(s, m, threshold, start)
            out[2 * k].append(index)
            out[2 * k + 1].append(logits)
    return tuple(torch.cat(parts) for parts in out)


def dense_to_candidates(scores: numpy.ndarray, mask: numpy.ndarray, threshold: float) -> Candidates:
    """Pick the positions of a dense (N, H, W, W) score array whose logit exceeds ``logit(threshold)``."""
    hits = (scores > logit(threshold)) & numpy.broadcast_to(mask, scores.shape)
    index = numpy.argwhere(hits).astype("i")
    return Candidates(index, scores[hits].astype("f"))


def decode_triples(
    windows: numpy.ndarray,
    n_docs: int,
    entity: Candidates,
    head: Candidates,
    tail: Candidates,
    threshold: Union[float, Sequence[float]],
    max_span_length: int,
    n_types: int = 1,
) -> List[List[TripleRow]]:
    """Link candidates into triples, per doc, in doc token offsets (end exclusive).

    A triple (subject (i, j), r, object (k, l)) is kept when the subject score [0, i, j], the object
    score [1, k, l], head[r, i, k] and tail[r, j, l] all pass the threshold (a probability; one for
    all relations, or a sequence with one per relation) and both spans are at most
    ``max_span_length`` tokens. Its score is the smallest of the four
    probabilities. A triple found in several overlapping windows is kept once per typing, with its best
    score (``merge_best``); the schema filter and the Doc storage then keep the best typing.
    With typed entities (``n_types`` > 1), entity head t is "subject of type t" and head T + t
    "object of type t"; the types come back in the rows' subject_type / object_type.
    """
    if isinstance(threshold, (int, float)):
        cuts = None
        cut = logit(threshold)
    else:
        cuts = numpy.asarray([logit(t) for t in threshold], dtype="float64")
        cut = float(cuts.min()) if len(cuts) else 0.0
    lengths = windows[:, 2] - windows[:, 1] if len(windows) else numpy.zeros((0,), dtype="i")
    entity = _filter(entity, cut, max_span_length)
    # Bound the work on a poorly trained model (where half of all pairs may pass): a window of L
    # tokens keeps at most 2L subject/object candidates and L per relation for head and tail,
    # the best-scoring ones. A trained model stays far below these caps.
    entity = _top_per_window(entity, 2 * lengths)
    head = _top_per_window(_filter(head, cut, cuts=cuts), len(numpy.unique(head.index[:, 1])) * lengths)
    tail = _top_per_window(_filter(tail, cut, cuts=cuts), len(numpy.unique(tail.index[:, 1])) * lengths)
    subjects: Dict[Tuple[int, int], List[Tuple[int, float, int]]] = {}
    objects: Dict[Tuple[int, int], List[Tuple[int, float, int]]] = {}
    for (w, h, i, j), s in zip(entity.index.tolist(), entity.logit.tolist()):
        (subjects if h < n_types else objects).setdefault((w, i), []).append((j, s, h % n_types))
    tails = {(w, r, j, l): s for (w, r, j, l), s in zip(tail.index.tolist(), tail.logit.tolist())}
    found: List[List[TripleRow]] = [[] for _ in range(n_docs)]
    for (w, r, i, k), s_head in zip(head.index.tolist(), head.logit.tolist()):
        for j, s_subj, s_type in subjects.get((w, i), ()):
            for l, s_obj, o_type in objects.get((w, k), ()):
                s_tail = tails.get((w, r, j, l))
                if s_tail is None:
                    continue
                lowest = min(s_head, s_subj, s_obj, s_tail)
                if cuts is not None and lowest <= cuts[r]:
                    continue
                doc, start = int(windows[w, 0]), int(windows[w, 1])
                score = float(sigmoid(lowest))
                found[doc].append(TripleRow(start + i, start + j + 1, r, start + k, start + l + 1, s_type, o_type, score))
    return [merge_best(rows, typed=True) for rows in found]


def reference_link(module, x: torch.Tensor, lengths: torch.Tensor, cut: float, max_span_length: int,
                   max_chunk_elements: int = 2**22) -> Tuple[torch.Tensor, torch.Tensor]:
    """``GlobalPointerLinker.link`` computed the way it was before: dense scores over every position
    pair and relation (``dense_candidates``), linked by ``decode_triples``. Same signature and
    output as ``link``, so ``GlobalPointerLinker.link = reference_link`` swaps it in."""
    cands = [c.cpu().numpy() for c in dense_candidates(module, x, lengths, cut, max_span_length)]
    ent, head, tail = (Candidates(cands[k].astype("i"), cands[k + 1]) for k in (0, 2, 4))
    windows = numpy.asarray([[w, 0, int(n)] for w, n in enumerate(lengths.tolist())], dtype="i")
    rows = decode_triples(windows, len(windows), ent, head, tail, float(sigmoid(cut)), max_span_length,
                          n_types=module.n_entity_types)
    index = [[w, r.subject_start, r.subject_end - 1, r.subject_type, r.relation, r.object_start, r.object_end - 1,
              r.object_type] for w, doc_rows in enumerate(rows) for r in doc_rows]
    logits = [logit(min(max(r.score, 1e-12), 1 - 1e-7)) for doc_rows in rows for r in doc_rows]
    return (torch.tensor(index, dtype=torch.long).reshape(-1, 8), torch.tensor(logits, dtype=torch.float32))


def _filter(cands: Candidates, cut: float, max_span_length: Optional[int] = None, cuts=None) -> Candidates:
    """Keep candidates above ``cut``, or above ``cuts[head]`` per relation head when given."""
    keep = cands.logit > (cut if cuts is None else cuts[cands.index[:, 1]])
    if max_span_length is not None:
        span = cands.index[:, 3] - cands.index[:, 2]
        keep &= (span >= 0) & (span < max_span_length)
    return Candidates(cands.index[keep], cands.logit[keep])


def _top_per_window(cands: Candidates, caps: numpy.ndarray) -> Candidates:
    """Keep the ``caps[w]`` best candidates of each window w."""
    if len(cands.logit) == 0:
        return cands
    window = cands.index[:, 0]
    order = numpy.lexsort((-cands.logit, window))
    sorted_window = window[order]
    first = numpy.searchsorted(sorted_window, sorted_window, side="left")
    rank = numpy.arange(len(order)) - first
    keep = order[rank < caps[sorted_window]]
    keep.sort()
    return Candidates(cands.index[keep], cands.logit[keep])
