"""Pure helpers of the CasRel-style pointer head: subject sampling, gold -> targets and masks,
query index arrays, and pointer probabilities -> spans and triples.

Gold rows are :class:`~spacy_triples.triples.TripleRow` in token offsets of the predicted doc, with
label indices (entity types 0 when untyped); ``None`` marks a doc without usable gold. A *query* is
one conditional pass: an int row ``(doc, s_start, s_end, slice_start, slice_end)``.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy

from ...triples import TripleRow, merge_best

GoldRows = Optional[Sequence[TripleRow]]


def sample_subjects(
    gold: Sequence[GoldRows], rng: numpy.random.RandomState, limit: int = 1
) -> List[List[Tuple[int, int]]]:
    """The gold subject spans each doc's conditional head trains on: up to ``limit`` of its
    distinct subjects, drawn uniformly without replacement (``limit=0``: all of them, in order).
    A doc without subjects, or unannotated (None), gets none.

    CasRel trains on one sampled subject per sentence (``limit=1``): over the epochs every subject
    is drawn. More subjects per step cost one small conditional pass each (the encoder runs once)
    and train sentences with several subjects, where one is often missed, on all of them.
    """
    if limit < 0:
        raise ValueError(f"sample_subjects: limit must be >= 0 (0: all subjects), got {limit}.")
    out: List[List[Tuple[int, int]]] = []
    for rows in gold:
        subjects = sorted({(row[0], row[1]) for row in rows or []})
        if not subjects:
            out.append([])
        elif limit == 1:
            out.append([subjects[rng.randint(len(subjects))]])
        elif limit == 0 or limit >= len(subjects):
            out.append(subjects)
        else:
            picked = sorted(rng.choice(len(subjects), size=limit, replace=False).tolist())
            out.append([subjects[i] for i in picked])
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
    relations: Optional[Sequence[int]] = None,
) -> List[Tuple[int, int, int, int, float]]:
    """Objects for one subject from the conditional head's probabilities over a slice of the doc.

    object_prob: (S, 2R): object start of relation r in column r, end in column R + r, for the
    slice starting at doc token ``offset``. token_prob: the doc's (n, 4T) token probabilities; its
    columns 2T + t / 3T + t (object-type start/end) choose the object's type, the type whose
    start x end probability is highest. relations: decode only these (the caller's candidates:
    those with a start and an end above the lowest threshold); None: all R. Returns
    ``(rel, start, end, type, score)`` in doc offsets.
    """
    n_rel = object_prob.shape[1] // 2
    found = []
    for r in range(n_rel) if relations is None else relations:
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


def make_queries(
    subjects: Sequence[Sequence[Tuple[int, int]]], lengths: Sequence[int], reach: int
) -> numpy.ndarray:
    """Rows (doc, s_start, s_end, slice_start, slice_end) for the subjects of each doc."""
    rows = [(d, s0, s1, *object_slice(s0, s1, lengths[d], reach)) for d, spans in enumerate(subjects) for s0, s1 in spans]
    return numpy.asarray(rows, dtype="i").reshape((-1, 5))


def query_arrays(queries: numpy.ndarray, lengths: Sequence[int], max_distance: int):
    """Index arrays for the conditional pass over a flat (total + 1, D) token array whose last row
    is padding: slice_index (K, S), cond_index (K, 2) and bucketed distances (K, S)."""
    offsets = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype("i")
    total = int(offsets[-1])
    width = max(int((queries[:, 4] - queries[:, 3]).max()), 1) if len(queries) else 1
    pos = numpy.arange(width, dtype="i")
    tok = queries[:, 3:4] + pos[None, :]  # doc token index of each slice position
    valid = tok < queries[:, 4:5]
    slice_index = numpy.where(valid, offsets[queries[:, 0:1]] + tok, total).astype("i")
    cond_index = numpy.stack([offsets[queries[:, 0]] + queries[:, 1], offsets[queries[:, 0]] + queries[:, 2] - 1], axis=1).astype("i")
    before = numpy.minimum(tok - queries[:, 1:2], 0)
    after = numpy.maximum(tok - (queries[:, 2:3] - 1), 0)
    distance = (numpy.clip(before + after, -max_distance, max_distance) + max_distance).astype("i")
    return slice_index, cond_index, distance


def assemble_triples(
    subjects: Sequence[Tuple[int, int, int, float]],
    objects_by_subject: Dict[Tuple[int, int], Sequence[Tuple[int, int, int, int, float]]],
) -> List[TripleRow]:
    """Join one doc's subjects ``(start, end, type, score)`` with the objects found for their span
    ``(rel, start, end, type, score)``; a triple scores the smaller of its subject and object
    scores, and is kept once with its best score (typed subjects of one span share the objects)."""
    rows = []
    for s0, s1, s_type, s_score in subjects:
        for r, o0, o1, o_type, o_score in objects_by_subject.get((s0, s1), ()):
            rows.append(TripleRow(s0, s1, r, o0, o1, s_type, o_type, min(s_score, o_score)))
    return merge_best(rows)
