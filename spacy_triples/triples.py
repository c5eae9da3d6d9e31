"""The Triple value type, the one row type, and how triples are stored on ``Doc`` objects.

Both gold and predicted triples live in ``doc._.triples`` (a list of :class:`Triple`: Span, str,
Span, float). Under the hood they are stored in ``doc._.triples_data`` as plain JSON-safe rows in
**character offsets** (``{"layout": 2, "rows": [[s_start_char, s_end_char, s_label, relation,
o_start_char, o_end_char, o_label, score], ...]}``), so they survive ``DocBin(store_user_data=True)``,
``Doc.to_bytes``, pickling, and retokenization (``merge_entities``, ``doc.retokenize()``), which
changes token offsets but not characters. Docs saved by spacy-triples 0.1 stored token offsets
(a bare list of rows, layout 1); they are read as such and migrated on the next write.

Inside the package every triple is a :class:`TripleRow` in token offsets, end exclusive: gold rows
(aligned to the predicted doc), decoded rows and the rows read back from a Doc. Its ``key`` (both
spans and the relation) is the one identity of a triple, and :func:`merge_best` the one rule for
duplicates (the highest score wins).
"""
from bisect import bisect_left, bisect_right
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from spacy.attrs import IDX, LENGTH
from spacy.tokens import Doc, Span

TRIPLES_ATTR = "triples"
DATA_ATTR = "triples_data"
DEFAULT_ENTITY_LABEL = "ENTITY"
STORAGE_LAYOUT = 2


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


class TripleRow(NamedTuple):
    """A triple in token offsets (end exclusive). Inside a head, ``relation`` and the entity types
    are indices into the pipe's labels; read from a Doc they are the label strings."""

    subject_start: int
    subject_end: int
    relation: Union[int, str]
    object_start: int
    object_end: int
    subject_type: Union[int, str] = 0
    object_type: Union[int, str] = 0
    score: float = 1.0

    @property
    def key(self) -> tuple:
        """The identity of a triple: both spans and the relation (not the types, not the score)."""
        return (self.subject_start, self.subject_end, self.relation, self.object_start, self.object_end)


def merge_best(rows: Iterable[TripleRow], typed: bool = False) -> List[TripleRow]:
    """One row per key, the highest-scoring one (the first of equals), sorted by position
    (subject span, object span, relation, types). ``typed``: rows whose entity types differ are
    different hypotheses (a decoder keeps each typing until the schema filter has chosen)."""
    best = {}
    for row in rows:
        key = row.key + ((row.subject_type, row.object_type) if typed else ())
        if key not in best or row.score > best[key].score:
            best[key] = row
    return sorted(best.values(), key=lambda r: (r.subject_start, r.subject_end, r.object_start, r.object_end,
                                                r.relation, r.subject_type, r.object_type))


def limit_relations_per_pair(rows: Iterable[TripleRow], limit: int) -> List[TripleRow]:
    """At most ``limit`` relations per (subject span, object span) pair: the highest-scoring ones
    (the first of equals), in their input order. ``limit`` 0 keeps every row. The pair is ordered:
    (A, B) and (B, A) are two pairs."""
    rows = list(rows)
    if not limit:
        return rows
    by_pair = {}
    for i, row in enumerate(rows):
        by_pair.setdefault((row.subject_start, row.subject_end, row.object_start, row.object_end), []).append(i)
    keep = set()
    for indices in by_pair.values():
        keep.update(sorted(indices, key=lambda i: (-rows[i].score, i))[:limit])
    return [row for i, row in enumerate(rows) if i in keep]


TripleLike = Union[Triple, Sequence]


def _to_row(doc: Doc, value: TripleLike) -> TripleRow:
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
    return TripleRow(int(subject.start), int(subject.end), str(relation), int(obj.start), int(obj.end),
                     str(subject.label_), str(obj.label_), score)


class _CharIndex:
    """Character offsets -> token offsets for one doc, by binary search (Doc.char_span scans the
    doc on every call, which is quadratic over the triples of a long document)."""

    def __init__(self, doc: Doc):
        self.starts = [t.idx for t in doc]
        self.ends = [t.idx + len(t.text) for t in doc]
        self.n_chars = len(doc.text)

    def span(self, start, end) -> Optional[Tuple[int, int]]:
        """The tokens of [start, end): exact boundaries, else the tokens the range touches
        (a token split inside the span's edge); None when no token lies inside it."""
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= self.n_chars):
            return None
        first = bisect_right(self.ends, start)  # first token ending after start
        last = bisect_left(self.starts, end)  # tokens before this one start before end
        return (first, last) if first < last else None


def triple_rows(doc: Doc) -> Optional[List[TripleRow]]:
    """The stored triples of ``doc`` as TripleRows (label strings) in its current token offsets;
    None when the doc carries no triples annotation. Rows whose spans are not in the doc (faulty
    data) are left out; :func:`read_triple_rows` counts them."""
    rows, _ = read_triple_rows(doc)
    return rows


def read_triple_rows(doc: Doc) -> Tuple[Optional[List[TripleRow]], int]:
    """(rows as :func:`triple_rows` returns them, number of stored rows left out because a span
    lies outside the doc's text)."""
    data = doc._.get(DATA_ATTR)
    if data is None:
        return None, 0
    rows, outside = [], 0
    if isinstance(data, dict):  # layout 2: character offsets
        index = _CharIndex(doc)
        for s0, s1, s_label, rel, o0, o1, o_label, score in data.get("rows", []):
            subj, obj = index.span(s0, s1), index.span(o0, o1)
            if subj is None or obj is None:
                outside += 1
                continue
            rows.append(TripleRow(subj[0], subj[1], rel, obj[0], obj[1], s_label, o_label, float(score)))
        return rows, outside
    # layout 1 (spacy-triples 0.1): token offsets
    n = len(doc)
    for s0, s1, s_label, rel, o0, o1, o_label, score in data:
        if not (0 <= s0 < s1 <= n and 0 <= o0 < o1 <= n):
            outside += 1
            continue
        rows.append(TripleRow(s0, s1, rel, o0, o1, s_label, o_label, float(score)))
    return rows, outside


def set_triple_rows(doc: Doc, rows: Iterable[TripleRow]) -> None:
    """Store TripleRows (token offsets, label strings), merged by key (best score), in character
    offsets so that retokenizing the doc later keeps them on the same text."""
    stored = []
    rows = merge_best(rows)
    if rows:
        offsets = doc.to_array([IDX, LENGTH]).tolist()  # vectorised: no Token objects per doc
        starts = [start for start, _ in offsets]
        ends = [start + length for start, length in offsets]
    for row in rows:
        for a, b in ((row.subject_start, row.subject_end), (row.object_start, row.object_end)):
            if not 0 <= a < b <= len(doc):
                raise ValueError(f"Cannot store a triple with the span ({a}, {b}) on a doc of {len(doc)} tokens.")
        stored.append([starts[row.subject_start], ends[row.subject_end - 1], str(row.subject_type), str(row.relation),
                       starts[row.object_start], ends[row.object_end - 1], str(row.object_type), float(row.score)])
    doc._.set(DATA_ATTR, {"layout": STORAGE_LAYOUT, "rows": stored})


def rows_to_triples(doc: Doc, rows: Iterable[TripleRow]) -> List[Triple]:
    return [
        Triple(Span(doc, r.subject_start, r.subject_end, label=r.subject_type), r.relation,
               Span(doc, r.object_start, r.object_end, label=r.object_type), float(r.score))
        for r in rows
    ]


def _get_triples(doc: Doc) -> List[Triple]:
    return rows_to_triples(doc, triple_rows(doc) or [])


def _set_triples(doc: Doc, values: Optional[Iterable[TripleLike]]) -> None:
    if values is None:
        doc._.set(DATA_ATTR, None)
        return
    set_triple_rows(doc, [_to_row(doc, v) for v in values])


def has_triples_annotation(doc: Doc) -> bool:
    """True when triples were set on the doc (possibly an empty list): the doc is annotated."""
    return doc._.get(DATA_ATTR) is not None


def install_extensions() -> None:
    """Register ``Doc._.triples`` and its storage ``Doc._.triples_data``. Safe to call many times."""
    if not Doc.has_extension(DATA_ATTR):
        Doc.set_extension(DATA_ATTR, default=None)
    if not Doc.has_extension(TRIPLES_ATTR):
        Doc.set_extension(TRIPLES_ATTR, getter=_get_triples, setter=_set_triples)
