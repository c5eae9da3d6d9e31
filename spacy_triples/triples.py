"""The Triple value type and its storage on ``Doc`` objects.

Both gold and predicted triples live in ``doc._.triples``. Under the hood they are stored as plain
JSON-safe lists in ``doc._.triples_data`` (one ``[s_start, s_end, s_label, relation, o_start, o_end,
o_label, score]`` row per triple, token offsets, end exclusive), so they survive
``DocBin(store_user_data=True)``, ``Doc.to_bytes`` and pickling. Spans are built on access.
"""
from typing import Iterable, List, NamedTuple, Optional, Sequence, Union

from spacy.tokens import Doc, Span

TRIPLES_ATTR = "triples"
DATA_ATTR = "triples_data"
DEFAULT_ENTITY_LABEL = "ENTITY"


class Triple(NamedTuple):
    """One relational fact: (subject span, relation label, object span, score in [0, 1])."""

    subject: Span
    relation: str
    object: Span
    score: float = 1.0

    def to_dict(self) -> dict:
        """JSON-safe description with token and character offsets."""
        s, o = self.subject, self.object
        return {
            "subject": s.text,
            "subject_label": s.label_,
            "subject_tokens": [s.start, s.end],
            "subject_chars": [s.start_char, s.end_char],
            "relation": self.relation,
            "object": o.text,
            "object_label": o.label_,
            "object_tokens": [o.start, o.end],
            "object_chars": [o.start_char, o.end_char],
            "score": self.score,
        }


TripleLike = Union[Triple, Sequence]


def _row_key(row: Sequence) -> tuple:
    return (row[0], row[1], row[4], row[5], row[3])


def _to_row(doc: Doc, value: TripleLike) -> list:
    if isinstance(value, Triple):
        subject, relation, obj, score = value
    elif isinstance(value, (tuple, list)) and len(value) in (3, 4):
        subject, relation, obj = value[:3]
        score = value[3] if len(value) == 4 else 1.0
    else:
        raise ValueError(
            f"Cannot set doc._.{TRIPLES_ATTR}: expected Triple objects or (subject Span, relation str, "
            f"object Span[, score]) tuples, got {value!r}."
        )
    for role, span in (("subject", subject), ("object", obj)):
        if not isinstance(span, Span):
            raise ValueError(
                f"Cannot set doc._.{TRIPLES_ATTR}: the {role} must be a Span of this Doc, got "
                f"{type(span).__name__} {span!r}. Build it with doc[start:end] or doc.char_span()."
            )
        if span.doc is not doc:
            raise ValueError(
                f"Cannot set doc._.{TRIPLES_ATTR}: the {role} span {span.text!r} belongs to another Doc. "
                "Create the span on the Doc that holds the triple."
            )
        if len(span) == 0:
            raise ValueError(f"Cannot set doc._.{TRIPLES_ATTR}: the {role} span is empty.")
    if not isinstance(relation, str) or not relation:
        raise ValueError(
            f"Cannot set doc._.{TRIPLES_ATTR}: the relation must be a non-empty string, got {relation!r}."
        )
    score = float(score)
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"Cannot set doc._.{TRIPLES_ATTR}: score {score} is not in [0, 1].")
    return [
        int(subject.start),
        int(subject.end),
        str(subject.label_),
        str(relation),
        int(obj.start),
        int(obj.end),
        str(obj.label_),
        score,
    ]


def rows_to_triples(doc: Doc, rows: Iterable[Sequence]) -> List[Triple]:
    triples = []
    for s0, s1, s_label, rel, o0, o1, o_label, score in rows:
        triples.append(
            Triple(
                Span(doc, s0, s1, label=s_label),
                rel,
                Span(doc, o0, o1, label=o_label),
                float(score),
            )
        )
    return triples


def _get_triples(doc: Doc) -> List[Triple]:
    rows = doc._.get(DATA_ATTR)
    if rows is None:
        return []
    return rows_to_triples(doc, rows)


def _set_triples(doc: Doc, values: Optional[Iterable[TripleLike]]) -> None:
    if values is None:
        doc._.set(DATA_ATTR, None)
        return
    set_triple_rows(doc, [_to_row(doc, v) for v in values])


def set_triple_rows(doc: Doc, rows: Iterable[Sequence]) -> None:
    """Store rows, deduplicated on (spans, relation) keeping the highest score, sorted by position."""
    best = {}
    for row in rows:
        key = _row_key(row)
        if key not in best or row[7] > best[key][7]:
            best[key] = list(row)
    doc._.set(DATA_ATTR, [best[k] for k in sorted(best)])


def has_triples_annotation(doc: Doc) -> bool:
    """True when triples were set on the doc (possibly an empty list): the doc is annotated."""
    return doc._.get(DATA_ATTR) is not None


def install_extensions() -> None:
    """Register ``Doc._.triples`` and its storage ``Doc._.triples_data``. Safe to call many times."""
    if not Doc.has_extension(DATA_ATTR):
        Doc.set_extension(DATA_ATTR, default=None)
    if not Doc.has_extension(TRIPLES_ATTR):
        Doc.set_extension(TRIPLES_ATTR, getter=_get_triples, setter=_set_triples)
