"""Pure helpers of the GlobalPointer-linking head: gold -> targets and masks, and sparse pair
candidates -> triples.

Gold rows are :class:`~spacy_triples.triples.TripleRow` in token offsets of the predicted doc, with
label indices (entity types 0 when untyped). ``None`` instead of a list marks a doc whose gold is
missing or could not be aligned: all its windows are masked out of the loss.

The model hands decoding only the candidates above the candidate threshold, as sparse arrays of
``(window, head, i, j)`` indices and their logits, so decoding never loops over all token pairs x
relations: it loops over relation-head candidates and looks up the matching spans and tails.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

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


class Candidates(NamedTuple):
    """Sparse pair scores: ``index`` is an int array (k, 4) of (window, head, i, j); ``logit`` (k,)."""

    index: numpy.ndarray
    logit: numpy.ndarray

    @classmethod
    def empty(cls) -> "Candidates":
        return cls(numpy.zeros((0, 4), dtype="i"), numpy.zeros((0,), dtype="f"))


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
