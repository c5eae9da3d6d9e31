"""Pair scores -> triples (pure functions).

The model hands over only the candidates above the candidate threshold, as sparse arrays of
``(window, head, i, j)`` indices and their logits, so decoding never loops over all token pairs x
relations: it loops over relation-head candidates and looks up the matching spans and tails.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy


class Candidates(NamedTuple):
    """Sparse pair scores: ``index`` is an int array (k, 4) of (window, head, i, j); ``logit`` (k,)."""

    index: numpy.ndarray
    logit: numpy.ndarray

    @classmethod
    def empty(cls) -> "Candidates":
        return cls(numpy.zeros((0, 4), dtype="i"), numpy.zeros((0,), dtype="f"))


# s_start, s_end, rel, o_start, o_end, score, subject type, object type
TripleRow = Tuple[int, int, int, int, int, float, int, int]


def sigmoid(x):
    return 1.0 / (1.0 + numpy.exp(-numpy.asarray(x, dtype="float64")))


def logit(p: float) -> float:
    """Inverse sigmoid, clipped so thresholds of 0 and 1 stay finite."""
    p = min(max(float(p), 1e-7), 1 - 1e-7)
    return float(numpy.log(p / (1 - p)))


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
    probabilities. A triple found in several overlapping windows is kept once, with its best score.
    With typed entities (``n_types`` > 1), entity head t is "subject of type t" and head T + t
    "object of type t"; the types come back as the last two fields of each row.
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
    best: List[Dict[tuple, float]] = [{} for _ in range(n_docs)]
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
                key = (start + i, start + j + 1, r, start + k, start + l + 1, s_type, o_type)
                score = float(sigmoid(lowest))
                if score > best[doc].get(key, -1.0):
                    best[doc][key] = score
    return [sorted(k[:5] + (v,) + k[5:] for k, v in doc_best.items()) for doc_best in best]



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


def filter_by_schema(
    rows: List[List[TripleRow]], schema: dict, labels: Sequence[str], types: Sequence[str]
) -> List[List[TripleRow]]:
    """Keep the decoded rows whose relation allows their (subject type, object type) in ``schema``
    ({relation: [[subject types], [object types]]}); an empty schema keeps everything."""
    from .schema import allowed

    if not schema:
        return rows
    return [[r for r in doc_rows if allowed(schema, labels[r[2]], types[r[6]], types[r[7]])] for doc_rows in rows]


# ------------------------------------------------------------------ pointer (CasRel-style) head
def decode_pointer_spans(
    start_prob: numpy.ndarray, end_prob: numpy.ndarray, threshold: float, max_span_length: int
) -> List[Tuple[int, int, float]]:
    """Spans from per-token start/end probabilities by the nearest-end rule (CasRel).

    Each token whose start probability passes ``threshold`` is paired with the nearest token at or
    after it whose end probability passes; the span is kept when it is at most ``max_span_length``
    tokens long. Returns ``(start, end exclusive, score)`` with score the smaller probability.
    Two starts may share an end, so nested and overlapping spans come out.
    """
    start_prob = numpy.asarray(start_prob, dtype="float64")
    end_prob = numpy.asarray(end_prob, dtype="float64")
    ends = numpy.flatnonzero(end_prob > threshold)
    spans = []
    for i in numpy.flatnonzero(start_prob > threshold).tolist():
        k = int(numpy.searchsorted(ends, i, side="left"))
        if k == len(ends):
            continue
        j = int(ends[k])
        if j - i < max_span_length:
            spans.append((i, j + 1, float(min(start_prob[i], end_prob[j]))))
    return spans


def decode_pointer_subjects(
    token_prob: numpy.ndarray, threshold: float, max_span_length: int, n_types: int
) -> List[Tuple[int, int, int, float]]:
    """Subjects of one doc from its token probabilities (n, 4T): subject start of type t in column
    t, subject end in column T + t. Returns ``(start, end, type, score)`` sorted."""
    found = []
    for t in range(n_types):
        for s0, s1, score in decode_pointer_spans(token_prob[:, t], token_prob[:, n_types + t], threshold, max_span_length):
            found.append((s0, s1, t, score))
    return sorted(found)


def decode_pointer_objects(
    object_prob: numpy.ndarray,
    offset: int,
    token_prob: numpy.ndarray,
    thresholds: Sequence[float],
    max_span_length: int,
    n_types: int,
) -> List[Tuple[int, int, int, int, float]]:
    """Objects for one subject from the conditional head's probabilities over a slice of the doc.

    object_prob: (S, 2R): object start of relation r in column r, end in column R + r, for the
    slice starting at doc token ``offset``. token_prob: the doc's (n, 4T) token probabilities; its
    columns 2T + t / 3T + t (object-type start/end) choose the object's type, the type whose
    start x end probability is highest. Returns ``(rel, start, end, type, score)`` in doc offsets.
    """
    n_rel = object_prob.shape[1] // 2
    found = []
    for r in range(n_rel):
        for o0, o1, score in decode_pointer_spans(object_prob[:, r], object_prob[:, n_rel + r], thresholds[r], max_span_length):
            a, b = o0 + offset, o1 + offset
            o_type = 0
            if n_types > 1:
                o_type = int(numpy.argmax(token_prob[a, 2 * n_types : 3 * n_types] * token_prob[b - 1, 3 * n_types : 4 * n_types]))
            found.append((r, a, b, o_type, score))
    return found


def object_slice(s0: int, s1: int, length: int, reach: int) -> Tuple[int, int]:
    """The tokens the conditional head searches for a subject's objects: ``reach`` tokens either
    side of the subject, within the doc. It bounds the work per subject, so a long document costs
    time linear in its length."""
    return max(0, s0 - reach), min(length, s1 + reach)
