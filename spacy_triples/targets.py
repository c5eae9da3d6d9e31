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


# ------------------------------------------------------------------ pointer (CasRel-style) head
def sample_subjects(gold: Sequence[GoldRows], rng: numpy.random.RandomState) -> List[Optional[Tuple[int, int]]]:
    """One gold subject span per doc, drawn uniformly from its distinct subjects (None: no subject
    or unannotated). CasRel trains the conditional head on one sampled subject per sentence: the
    cost of a step stays one conditional pass per sentence however many subjects it has, and over
    the epochs every subject is drawn, so the expected gradient is that of all subjects."""
    out: List[Optional[Tuple[int, int]]] = []
    for rows in gold:
        subjects = sorted({(row[0], row[1]) for row in rows or []})
        out.append(subjects[rng.randint(len(subjects))] if subjects else None)
    return out


def pointer_token_targets(
    lengths: Sequence[int], gold: Sequence[GoldRows], n_types: int
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Targets (total, 4T) and mask (total, 4T) for the token pointers of the pointer head.

    Columns: subject start of type t (t), subject end (T + t), object-type start (2T + t) and
    end (3T + t). Docs with ``None`` gold are masked; untyped heads (T = 1) mask the object-type
    columns, which then have nothing to learn.
    """
    total = int(sum(lengths))
    targets = numpy.zeros((total, 4 * n_types), dtype="f")
    mask = numpy.zeros((total, 4 * n_types), dtype=bool)
    start = 0
    for n, rows in zip(lengths, gold):
        if rows is not None:
            mask[start : start + n, : 2 * n_types] = True
            if n_types > 1:
                mask[start : start + n, 2 * n_types :] = True
        for row in rows or []:
            s0, s1, _, o0, o1 = row[:5]
            s_type, o_type = (row[5], row[6]) if len(row) > 5 else (0, 0)
            targets[start + s0, s_type] = 1.0
            targets[start + s1 - 1, n_types + s_type] = 1.0
            if n_types > 1:
                targets[start + o0, 2 * n_types + o_type] = 1.0
                targets[start + o1 - 1, 3 * n_types + o_type] = 1.0
        start += n
    return targets, mask


def pointer_object_targets(
    queries: numpy.ndarray, width: int, n_labels: int, gold: Sequence[GoldRows]
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Targets and mask (K, S, 2R) for the conditional object pointers.

    queries: int rows (doc, s_start, s_end, slice_start, slice_end), one per conditional pass.
    Every gold triple of that doc whose subject is (s_start, s_end) marks its object's start (column
    r) and last token (R + r), relative to the slice, when the object lies in the slice.
    """
    k = len(queries)
    targets = numpy.zeros((k, width, 2 * n_labels), dtype="f")
    mask = numpy.zeros((k, width, 2 * n_labels), dtype=bool)
    for q, (doc, s0, s1, c0, c1) in enumerate(queries.tolist()):
        mask[q, : c1 - c0] = True
        for row in gold[doc] or []:
            if (row[0], row[1]) == (s0, s1) and c0 <= row[3] and row[4] <= c1:
                targets[q, row[3] - c0, row[2]] = 1.0
                targets[q, row[4] - 1 - c0, n_labels + row[2]] = 1.0
    return targets, mask


def schema_object_mask(
    queries: numpy.ndarray, gold: Sequence[GoldRows], labels: Sequence[str], types: Sequence[str], schema: dict
) -> numpy.ndarray:
    """Which object channels of each conditional pass may count in the loss, given a schema.

    Returns a bool array (K, 1, 2R): relation r is masked for a query whose subject has no entity
    type that the schema allows as a subject of r (relations the schema does not name included),
    since decoding would drop such triples anyway; training on them only adds easy negatives.
    An empty schema, or untyped entities, masks nothing.
    """
    n_labels = len(labels)
    mask = numpy.ones((len(queries), 1, 2 * n_labels), dtype=bool)
    if not schema or len(types) < 2:
        return mask
    for q, (doc, s0, s1, _, _) in enumerate(queries.tolist()):
        subject_types = {types[row[5]] for row in gold[doc] or [] if (row[0], row[1]) == (s0, s1) and len(row) > 5}
        for r, label in enumerate(labels):
            pair = schema.get(label)
            if pair is None or not subject_types & set(pair[0]):
                mask[q, 0, r] = mask[q, 0, n_labels + r] = False
    return mask
