"""Gold triples for training: alignment through ``Example`` and the one-pass corpus scan.

Gold is read from ``eg.reference`` and aligned to ``eg.predicted`` with
``Example.get_aligned_spans_y2x``, never by raw token index, so a training doc may be tokenized
differently from its annotation. Gold that does not align is masked, never guessed.
"""
from collections import Counter
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from spacy.training import Example

from .convert.base import GOLD_ENTITIES_KEY
from .triples import TripleRow, read_triple_rows, triple_rows

Mention = Tuple[int, int, int]  # (start, end exclusive, entity type index), predicted-doc tokens


class AlignedGold(list):
    """A doc's aligned gold triples (a list of TripleRow, as :func:`align_gold` returns) with the
    doc's aligned gold entity mentions in ``mentions`` (:func:`align_mentions`; None: the doc lists
    none). Heads that learn no mentions read it as the plain list it is."""

    def __init__(self, rows: Iterable[TripleRow], mentions: Optional[List[Mention]] = None):
        super().__init__(rows)
        self.mentions = mentions


def align_mentions(eg: Example, entity_labels: Sequence[str], key: str = GOLD_ENTITIES_KEY) -> Optional[List[Mention]]:
    """The gold entity mentions of ``eg.reference.spans[key]`` (every listed entity, in a relation or
    not: the converters of formats that list entities store them there) in ``eg.predicted`` token
    offsets, with type indices; None when the reference has no such group.

    With entity types, mentions of a type that is not among ``entity_labels`` are left out (a type
    no triple uses, such as CoNLL04's Other); untyped (``entity_labels`` empty), every mention is
    type 0. A mention that does not align to the predicted tokenization is left out, not guessed.
    """
    ref = eg.reference
    if key not in ref.spans:
        return None
    type_index = {label: i for i, label in enumerate(entity_labels)}
    spans = [span for span in ref.spans[key] if not type_index or span.label_ in type_index]
    out = []
    for span in spans:
        aligned = eg.get_aligned_spans_y2x([span], allow_overlap=True)
        if aligned:
            out.append((aligned[0].start, aligned[0].end, type_index.get(span.label_, 0)))
    return sorted(set(out))


def align_gold(eg: Example, labels: Sequence[str], entity_labels: Sequence[str]) -> Optional[List[TripleRow]]:
    """Gold triples of ``eg.reference`` in ``eg.predicted`` token offsets, with label and type
    indices; None masks the doc (it teaches nothing).

    A doc whose reference has no triples annotation, or with a span that does not align to the
    predicted tokenization, is masked rather than guessed. With entity types, a span without a
    known type masks the doc too. Triples whose relation is not among ``labels`` are left out (the
    corpus scan at initialize counts them).
    """
    ref = eg.reference
    rows = triple_rows(ref)
    if rows is None:
        return None
    label_index = {label: i for i, label in enumerate(labels)}
    type_index = {label: i for i, label in enumerate(entity_labels)}
    aligned: Dict[Tuple[int, int], Optional[Tuple[int, int]]] = {}

    def align(start: int, end: int) -> Optional[Tuple[int, int]]:
        if (start, end) not in aligned:
            spans = eg.get_aligned_spans_y2x([ref[start:end]], allow_overlap=True)
            aligned[(start, end)] = (spans[0].start, spans[0].end) if spans else None
        return aligned[(start, end)]

    out = []
    for row in rows:
        if row.relation not in label_index:
            continue
        subj, obj = align(row.subject_start, row.subject_end), align(row.object_start, row.object_end)
        if subj is None or obj is None:
            return None
        if type_index and (row.subject_type not in type_index or row.object_type not in type_index):
            return None  # an untyped or unknown-typed span cannot teach the typed heads
        s_type = type_index[row.subject_type] if type_index else 0
        o_type = type_index[row.object_type] if type_index else 0
        out.append(TripleRow(subj[0], subj[1], label_index[row.relation], obj[0], obj[1], s_type, o_type))
    return out


class CorpusScan(NamedTuple):
    """What one pass over the training corpus found."""

    n_examples: int
    relations: Tuple[str, ...]  # sorted
    entity_types: Tuple[str, ...]  # sorted, non-empty labels of gold spans
    audit: Counter  # gold triples training skips or cannot learn, by reason
    listed_entity_docs: int = 0  # reference docs that list their entities (doc.spans[GOLD_ENTITIES_KEY])


def scan_corpus(
    examples: Iterable[Example],
    labels: Optional[Sequence[str]],
    unlearnable: Callable[[TripleRow], Optional[str]],
) -> CorpusScan:
    """Read the corpus once: the relation labels and entity types of the gold triples, the audit
    of the triples training will skip or cannot learn, and how many docs list their entities.

    labels: the pipe's relation labels when they are fixed already (None: every relation found
        becomes a label). unlearnable: the head's reason a row (reference token offsets) cannot be
        learned, or None.
    """
    relations, types = set(), set()
    audit: Counter = Counter()
    known = None if labels is None else set(labels)
    n = listed = 0
    for eg in examples:
        n += 1
        listed += GOLD_ENTITIES_KEY in eg.reference.spans
        seen = set()
        rows, outside = read_triple_rows(eg.reference)
        if outside:
            audit["span outside its doc (skipped)"] += outside
        for row in rows or []:
            relations.add(row.relation)
            types.update(t for t in (row.subject_type, row.object_type) if t)
            if known is not None and row.relation not in known:
                audit[f"relation not among the labels (skipped): {row.relation}"] += 1
                continue
            if row.key in seen:
                audit["duplicate gold triple (counted once)"] += 1
            seen.add(row.key)
            reason = unlearnable(row)
            if reason:
                audit[f"{reason} (unlearnable)"] += 1
    return CorpusScan(n, tuple(sorted(relations)), tuple(sorted(types)), audit, listed)
