"""Shared by the annotation-tool readers (Label Studio, doccano): entities given by character offsets,
relations between entity ids."""
from typing import Dict, List, Optional, Set, Tuple

from spacy.tokens import Doc

from .base import NOT_AT_BOUNDARY, OUT_OF_RANGE, UNKNOWN_RELATION, ConversionReport

# reasons (printed verbatim in the report table)
TEXT_MISMATCH = "offsets do not match the entity text"
MISSING_ENDPOINT = "relation endpoint is not an entity of the record"
NO_RELATION_LABEL = "relation without a label"
UNDIRECTED = "undirected relation (no subject/object order)"
UNLINKED_ENTITIES = "entity spans in no relation (not kept: triples only)"
# the label the exporters give untyped spans (annotation tools need one); read back as untyped ("")
UNTYPED = "ENTITY"

Entity = Tuple[int, int, str, Optional[str]]  # start char, end char (exclusive), label, text or None


def entity_label(label) -> str:
    label = "" if label is None else str(label)
    return "" if label == UNTYPED else label


def char_triple(doc: Doc, entities: Dict[object, Entity], head, tail, relation: str, report: ConversionReport,
                where: str, schema: Optional[Set[str]]) -> Optional[list]:
    """A triple row for the relation ``head -> tail`` between entity ids, or None (skipped, counted)."""
    if head not in entities or tail not in entities:
        report.skip_triple(MISSING_ENDPOINT, where)
        return None
    if not relation:
        report.skip_triple(NO_RELATION_LABEL, where)
        return None
    if schema is not None and relation not in schema:
        report.skip_triple(UNKNOWN_RELATION, where)
        return None
    spans = []
    for start, end, label, text in (entities[head], entities[tail]):
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(doc.text)):
            report.skip_triple(OUT_OF_RANGE, where)
            return None
        if text is not None and text != doc.text[start:end]:
            report.skip_triple(TEXT_MISMATCH, where)
            return None
        span = doc.char_span(start, end)
        if span is None:
            report.skip_triple(NOT_AT_BOUNDARY, where)
            return None
        spans.append((span.start, span.end, label))
    (s0, s1, s_label), (o0, o1, o_label) = spans
    return [s0, s1, s_label, relation, o0, o1, o_label, 1.0]


def count_unlinked(entities: Dict[object, Entity], used: Set[object], report: ConversionReport) -> None:
    unlinked = len(set(entities) - used)
    if unlinked:
        report.notes[UNLINKED_ENTITIES] += unlinked


def as_int(value):
    """Offsets as ints (JSON tools sometimes write 3.0); anything else is returned unchanged (and fails
    the range check)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def relation_labels(labels) -> List[str]:
    if isinstance(labels, str):
        return [labels]
    if isinstance(labels, list):
        return [str(x) for x in labels if x]
    return []
