"""Gold triples -> target arrays and masks for the GlobalPointer-linking head (pure functions).

Gold triples are rows ``(s_start, s_end, relation_index, o_start, o_end[, s_type, o_type])`` in token
offsets of the predicted doc, end exclusive; the entity type indices default to 0 (untyped). ``None`` instead of a list marks a doc whose gold is missing or could
not be aligned: all its windows are masked out of the loss.
"""
from typing import List, Optional, Sequence, Tuple

import numpy

from .windows import entity_mask, pair_mask

GoldRows = Optional[Sequence[Tuple[int, int, int, int, int]]]


def make_masks(
    windows: numpy.ndarray, width: int, max_span_length: int, gold: Sequence[GoldRows]
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Return boolean masks of valid positions: entity (N, 1, W, W) and pair (N, 1, W, W).

    Entity positions need start <= end < window length and end - start < max_span_length; pair
    positions need both tokens inside the window. Windows of docs with ``None`` gold are all False.
    """
    lengths = windows[:, 2] - windows[:, 1]
    annotated = numpy.asarray([gold[d] is not None for d in windows[:, 0]], dtype=bool)
    lengths = numpy.where(annotated, lengths, 0)
    return entity_mask(lengths, width, max_span_length), pair_mask(lengths, width)


def make_targets(
    windows: numpy.ndarray, width: int, n_labels: int, gold: Sequence[GoldRows], n_types: int = 1
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Return float32 targets: entity (N, 2T, W, W), head (N, R, W, W), tail (N, R, W, W).

    Entity head t marks subjects of type t, head T + t objects of type t, at (start, last token). ``head[r, s_start, o_start]``
    and ``tail[r, s_last, o_last]`` mark relation r. A span counts in a window when it lies inside it;
    a relation when both of its spans do.
    """
    n = len(windows)
    entity = numpy.zeros((n, 2 * n_types, width, width), dtype="f")
    head = numpy.zeros((n, n_labels, width, width), dtype="f")
    tail = numpy.zeros((n, n_labels, width, width), dtype="f")
    for w, (doc, start, end) in enumerate(windows):
        rows = gold[doc]
        if not rows:
            continue
        for row in rows:
            s0, s1, rel, o0, o1 = row[:5]
            s_type, o_type = (row[5], row[6]) if len(row) > 5 else (0, 0)
            s_in = start <= s0 and s1 <= end
            o_in = start <= o0 and o1 <= end
            if s_in:
                entity[w, s_type, s0 - start, s1 - 1 - start] = 1.0
            if o_in:
                entity[w, n_types + o_type, o0 - start, o1 - 1 - start] = 1.0
            if s_in and o_in:
                head[w, rel, s0 - start, o0 - start] = 1.0
                tail[w, rel, s1 - 1 - start, o1 - 1 - start] = 1.0
    return entity, head, tail


def count_unreachable(gold: Sequence[GoldRows], windows: numpy.ndarray) -> int:
    """Number of gold triples that lie in no single window (they cannot be learned or predicted)."""
    missed = 0
    by_doc: List[List[Tuple[int, int]]] = [[] for _ in gold]
    for doc, start, end in windows:
        by_doc[doc].append((start, end))
    for d, rows in enumerate(gold):
        for row in rows or []:
            s0, s1, _, o0, o1 = row[:5]
            lo, hi = min(s0, o0), max(s1, o1)
            if not any(a <= lo and hi <= b for a, b in by_doc[d]):
                missed += 1
    return missed
