"""Pure helpers of the GlobalPointer-linking head: gold -> targets and masks, and linked triples ->
rows.

Gold rows are :class:`~spacy_triples.triples.TripleRow` in token offsets of the predicted doc, with
label indices (entity types 0 when untyped). ``None`` instead of a list marks a doc whose gold is
missing or could not be aligned: all its windows are masked out of the loss.

At prediction the model links the triples itself (``GlobalPointerLinker.link`` scores the relation
pointers only at candidate subject/object pairs) and hands decoding the linked triples above the
candidate threshold; ``rows_from_links`` applies the thresholds and maps them to doc offsets. (The
dense decoder ``link`` replaced lives in ``benchmarks/reference_decoder.py``, as a reference.)
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy

from ...losses import logit, sigmoid
from ...triples import TripleRow, merge_best
from .windows import entity_mask, pair_mask

GoldRows = Optional[Sequence[TripleRow]]


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
    a relation when both of its spans do. (The dense form of :func:`target_indices`.)
    """
    n = len(windows)
    dense = []
    for maps, index in zip((2 * n_types, n_labels, n_labels), target_indices(windows, width, n_labels, gold, n_types)):
        target = numpy.zeros((n, maps, width, width), dtype="f")
        target.reshape(-1)[index] = 1.0
        dense.append(target)
    return tuple(dense)


def target_indices(
    windows: numpy.ndarray, width: int, n_labels: int, gold: Sequence[GoldRows], n_types: int = 1
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The positives of :func:`make_targets` as flat indices (int64, sorted, each once) into the
    entity (N, 2T, W, W), head (N, R, W, W) and tail (N, R, W, W) arrays: what the loss reads
    (a relation map holds a few positives among W*W positions)."""
    entity, head, tail = [], [], []

    def at(w, maps, m, i, j):
        return ((w * maps + m) * width + i) * width + j

    for w, (doc, start, end) in enumerate(windows):
        for row in gold[doc] or ():
            s0, s1, rel, o0, o1 = row[:5]
            s_type, o_type = (row[5], row[6]) if len(row) > 5 else (0, 0)
            s_in = start <= s0 and s1 <= end
            o_in = start <= o0 and o1 <= end
            if s_in:
                entity.append(at(w, 2 * n_types, s_type, s0 - start, s1 - 1 - start))
            if o_in:
                entity.append(at(w, 2 * n_types, n_types + o_type, o0 - start, o1 - 1 - start))
            if s_in and o_in:
                head.append(at(w, n_labels, rel, s0 - start, o0 - start))
                tail.append(at(w, n_labels, rel, s1 - 1 - start, o1 - 1 - start))
    return tuple(numpy.unique(numpy.asarray(index, dtype="int64")) for index in (entity, head, tail))


def make_mention_targets(
    windows: numpy.ndarray, width: int, gold: Sequence[GoldRows], n_types: int, max_span_length: int
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Return the float32 target (N, T, W, W) of the mention pointer and its boolean mask
    (N, 1, W, W): ``target[w, t, start, last]`` marks a gold mention of type t (every listed
    entity, in a relation or not: ``gold[d].mentions``) that lies inside window w.

    Windows of docs without mentions (``mentions`` None or missing, or gold None) are masked out:
    a doc that lists no entities says nothing about which spans are not ones. Valid positions are
    those of ``make_masks``' entity mask.
    """
    n = len(windows)
    target = numpy.zeros((n, n_types, width, width), dtype="f")
    listed = [getattr(rows, "mentions", None) if rows is not None else None for rows in gold]
    lengths = numpy.where([listed[d] is not None for d in windows[:, 0]], windows[:, 2] - windows[:, 1], 0) \
        if n else numpy.zeros((0,), dtype="i")
    for w, (doc, start, end) in enumerate(windows):
        for m0, m1, m_type in listed[doc] or ():
            if start <= m0 and m1 <= end:
                target[w, m_type, m0 - start, m1 - 1 - start] = 1.0
    return target, entity_mask(lengths, width, max_span_length)


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


def rows_from_links(
    windows: numpy.ndarray,
    n_docs: int,
    index: numpy.ndarray,
    logits: numpy.ndarray,
    threshold: Union[float, Sequence[float]],
) -> List[List[TripleRow]]:
    """Linked triples (``GlobalPointerLinker.link``) -> rows per doc, in doc token offsets.

    ``index`` rows are (window, subject first, subject last, subject type, relation, object first,
    object last, object type), window-relative; a triple is kept when its logit exceeds the
    threshold (a probability; one for all relations, or one per relation). A triple found in
    several overlapping windows is kept once per typing, with its best score (``merge_best``).
    """
    found: List[List[TripleRow]] = [[] for _ in range(n_docs)]
    if len(index) == 0:
        return found
    index = numpy.asarray(index, dtype="i")
    logits = numpy.asarray(logits, dtype="f")
    if isinstance(threshold, (int, float)):
        keep = logits > logit(threshold)
    else:
        cuts = numpy.asarray([logit(t) for t in threshold], dtype="float64")
        keep = logits > cuts[index[:, 4]]
    index, logits = index[keep], logits[keep]
    docs = windows[index[:, 0], 0]
    offset = windows[index[:, 0], 1]
    spans = index[:, [1, 2, 5, 6]] + offset[:, None]
    scores = sigmoid(logits.astype("float64"))
    for doc, (s0, s1, o0, o1), (_, _, _, s_type, rel, _, _, o_type), score in zip(
        docs.tolist(), spans.tolist(), index.tolist(), scores.tolist()
    ):
        found[doc].append(TripleRow(s0, s1 + 1, rel, o0, o1 + 1, s_type, o_type, score))
    return [merge_best(rows, typed=True) for rows in found]
