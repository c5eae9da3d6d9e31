"""Shared conversion machinery: bookkeeping that accounts for every record, reading JSON / JSON lines
with record numbers for errors, and placing string entities on token boundaries."""
import json
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from spacy.tokens import Doc, DocBin, Span, SpanGroup

# reasons a triple is skipped (the table prints them verbatim)
NOT_FOUND = "entity not found in the text"
NOT_AT_BOUNDARY = "entity not at a token boundary"
EMPTY_ENTITY = "empty entity string"
UNKNOWN_RELATION = "unknown relation (not in the schema)"
OUT_OF_RANGE = "span outside the tokens"
MALFORMED_TRIPLE = "malformed triple"
MISSING_RELATION = "relation label missing, empty or not a string"
BAD_ENTITY_INDEX = "entity index not an entity of the record"
EXTRACT_ERROR = "extract error record (no prediction to learn from)"
# reasons a listed entity mention is not stored in doc.spans[GOLD_ENTITIES_KEY]
MALFORMED_ENTITY = "malformed entity (not a [start, end, type] / {start, end, type} inside the tokens)"
DUPLICATE_ENTITY = "duplicate entity (same span and type, stored once)"

# doc.spans key of the gold entity mentions a format lists (with or without a relation):
# extra supervision for a head that learns entities (GlobalPointer.v2's mention_weight)
GOLD_ENTITIES_KEY = "entities"


class ConversionError(ValueError):
    """Malformed input: the message names the file, the record and what is wrong."""


@dataclass
class ConversionReport:
    records_read: int = 0
    triples_read: int = 0
    docs_written: int = 0
    triples_written: int = 0
    duplicate_triples_dropped: int = 0
    ambiguous_entities_placed: int = 0
    occurrence_triples_added: int = 0  # rows beyond the first written for a triple (every occurrence)
    extra_slots_dropped: int = 0
    normalised_matches: int = 0
    accent_folded_matches: int = 0
    entities_read: int = 0
    entities_written: int = 0
    entities_skipped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)  # informational counts (annotation formats)
    records_skipped: Counter = field(default_factory=Counter)
    triples_skipped: Counter = field(default_factory=Counter)
    strict: bool = False

    def triples_in(self, items):
        """Count the input triples of a record (so the totals can be checked) and return them."""
        items = items if isinstance(items, list) else []
        self.triples_read += len(items)
        return items

    def skip_triple(self, reason: str, where: str) -> None:
        if self.strict:
            raise ConversionError(f"{where}: triple skipped ({reason}); --strict makes every skip an error.")
        self.triples_skipped[reason] += 1

    def skip_record(self, reason: str, where: str) -> None:
        if self.strict:
            raise ConversionError(f"{where}: record skipped ({reason}); --strict makes every skip an error.")
        self.records_skipped[reason] += 1

    def skip_entity(self, reason: str, where: str) -> None:
        if self.strict and reason != DUPLICATE_ENTITY:
            raise ConversionError(f"{where}: entity skipped ({reason}); --strict makes every skip an error.")
        self.entities_skipped[reason] += 1

    def as_rows(self) -> List[Tuple[str, int]]:
        rows = [
            ("records read", self.records_read),
            ("docs written", self.docs_written),
            ("triples read", self.triples_read),
            ("triples written", self.triples_written),
            ("duplicate triples dropped", self.duplicate_triples_dropped),
        ]
        if self.ambiguous_entities_placed:
            rows.append(("triples placed by the nearest rule (ambiguous entity)", self.ambiguous_entities_placed))
        if self.occurrence_triples_added:
            rows.append(("triples added at other occurrences (every occurrence)", self.occurrence_triples_added))
        if self.extra_slots_dropped:
            rows.append(("extra object slots dropped (kept @value)", self.extra_slots_dropped))
        if self.normalised_matches:
            rows.append(("entities found after width/space normalisation", self.normalised_matches))
        if self.accent_folded_matches:
            rows.append(("entities found after accent folding", self.accent_folded_matches))
        if self.entities_read:
            rows += [("entities read", self.entities_read), ("entities written", self.entities_written)]
        rows += sorted(self.notes.items())
        rows += [(f"entities skipped: {why}", n) for why, n in sorted(self.entities_skipped.items())]
        rows += [(f"records skipped: {why}", n) for why, n in sorted(self.records_skipped.items())]
        rows += [(f"triples skipped: {why}", n) for why, n in sorted(self.triples_skipped.items())]
        return rows

    def as_dict(self) -> Dict[str, int]:
        return dict(self.as_rows())

    def table(self) -> str:
        rows = self.as_rows()
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name.ljust(width)}  {value:>8}" for name, value in rows)

    def check(self) -> None:
        """Every record is accounted for: written or skipped with a reason (a triple written at several
        occurrences counts its added rows)."""
        skipped = sum(self.records_skipped.values())
        if self.docs_written + skipped != self.records_read:
            raise RuntimeError(f"Conversion lost records: {self.as_dict()}")
        accounted = self.triples_written + self.duplicate_triples_dropped + sum(self.triples_skipped.values())
        if accounted != self.triples_read + self.occurrence_triples_added:
            raise RuntimeError(f"Conversion lost triples: {self.as_dict()}")
        if self.entities_written + sum(self.entities_skipped.values()) != self.entities_read:
            raise RuntimeError(f"Conversion lost entities: {self.as_dict()}")


def read_records(path: Path) -> Iterator[Tuple[int, object]]:
    """Yield (record number, record) from a JSON list or a JSON-lines file (1-based numbers; for
    JSON lines the number is the line). Invalid UTF-8 or JSON raises ConversionError with the line.
    A byte-order mark at the start of the file is dropped."""
    from ..safe_io import BLANK_LINE, JsonLineError, json_line, skip_bom

    path = Path(path)
    with path.open("rb") as handle:
        start = skip_bom(handle)
        head = handle.read(1)
        while head and head.isspace():
            head = handle.read(1)
        handle.seek(start)
        if head == b"[":
            try:
                records = json.loads(handle.read().decode("utf8"))
            except UnicodeDecodeError as err:
                raise ConversionError(f"{path}: invalid UTF-8 at byte {err.start}.") from err
            except (json.JSONDecodeError, RecursionError) as err:
                raise ConversionError(f"{path}: not valid JSON ({err}).") from err
            for n, record in enumerate(records, 1):
                yield n, record
            return
        for n, raw in enumerate(handle, 1):
            try:
                record = json_line(raw, f"{path}, line {n}")
            except JsonLineError as err:
                raise ConversionError(str(err)) from err
            if record is BLANK_LINE:
                continue
            yield n, record


def iter_records(path: Path, report: ConversionReport, unit: str = "record") -> Iterator[Tuple[int, str, object]]:
    """Yield (number, "file, record N" for messages, record), counting every record read."""
    name = Path(path).name
    for n, record in read_records(path):
        report.records_read += 1
        yield n, f"{name}, {unit} {n}", record


def is_int(value) -> bool:
    """A real integer offset (``True`` is an int to Python, not an offset)."""
    return isinstance(value, int) and not isinstance(value, bool)


def relation_label(value) -> Optional[str]:
    """The relation label, or None when it is missing, not a string, or empty (``null`` must not
    become the label "None")."""
    return value if isinstance(value, str) and value.strip() else None


def entity_label(value) -> str:
    """An entity type: ``null`` or missing is no label, not "None"."""
    return "" if value is None else str(value)


def check_list(record: dict, key: str, where: str) -> list:
    """``record[key]`` as a list (missing: empty); anything else is malformed input."""
    value = record.get(key, [])
    if not isinstance(value, list):
        raise ConversionError(f"{where}: '{key}' must be a list, got {type(value).__name__} {str(value)[:40]!r}.")
    return value


def span_triple_ok(report: ConversionReport, where: str, n_tokens: int, s0: int, s1: int, o0: int, o1: int,
                   label: str, schema: Optional[Set[str]]) -> bool:
    """Check a token-span triple (end exclusive); count and skip it when out of range or off-schema."""
    if not all(is_int(x) for x in (s0, s1, o0, o1)) or not (0 <= s0 < s1 <= n_tokens and 0 <= o0 < o1 <= n_tokens):
        report.skip_triple(OUT_OF_RANGE, where)
        return False
    if relation_label(label) is None:
        report.skip_triple(MISSING_RELATION, where)
        return False
    if schema is not None and label not in schema:
        report.skip_triple(UNKNOWN_RELATION, where)
        return False
    return True


def token_occurrences(doc: Doc, text: str) -> Tuple[List[Tuple[int, int]], Optional[str]]:
    """All (start, end) token spans whose text is exactly ``text``; else ([], reason)."""
    if not text or not text.strip():
        return [], EMPTY_ENTITY
    found, any_char_match = [], False
    start = doc.text.find(text)
    while start != -1:
        any_char_match = True
        span = doc.char_span(start, start + len(text))
        if span is not None:
            found.append((span.start, span.end))
        start = doc.text.find(text, start + 1)
    if found:
        return found, None
    return [], (NOT_AT_BOUNDARY if any_char_match else NOT_FOUND)


def normalise_text(text: str) -> Tuple[str, List[int]]:
    """NFKC-normalised, lowercased ``text`` without whitespace, and for each of its characters the
    index of the original character it came from (full-width "ＡＢＣ（１）" -> "abc(1)")."""
    out, where = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        for n in unicodedata.normalize("NFKC", ch).lower():
            if not n.isspace():
                out.append(n)
                where.append(i)
    return "".join(out), where


def normalised_occurrences(doc: Doc, text: str) -> List[Tuple[int, int]]:
    """Token spans whose text equals ``text`` once both are normalised (see ``normalise_text``):
    for entity strings written with other character widths or spacing than the sentence. The spans
    point into the original text."""
    return folded_occurrences(doc, text, normalise_text)


def folded_occurrences(doc: Doc, text: str, fold) -> List[Tuple[int, int]]:
    """Token spans whose text equals ``text`` once both go through ``fold`` (a function returning
    the folded string and, per folded character, its offset in the original)."""
    needle, _ = fold(text)
    hay, where = fold(doc.text)
    if not needle:
        return []
    found = []
    start = hay.find(needle)
    while start != -1:
        span = doc.char_span(where[start], where[start + len(needle) - 1] + 1)
        if span is not None:
            found.append((span.start, span.end))
        start = hay.find(needle, start + 1)
    return found


def place_pair(subjects: Sequence[Tuple[int, int]], objects: Sequence[Tuple[int, int]]):
    """Choose one occurrence of each argument. Rule: the pair of occurrences with the smallest token
    distance between them (distinct spans preferred), ties broken by the earliest subject, then the
    earliest object. Returns (subject, object, ambiguous?)."""
    best = min(
        ((s, o) for s in subjects for o in objects),
        key=lambda so: (so[0] == so[1], abs(so[0][0] - so[1][0]), so[0], so[1]),
    )
    return best[0], best[1], len(subjects) > 1 or len(objects) > 1


def every_pair(subjects: Sequence[Tuple[int, int]], objects: Sequence[Tuple[int, int]]) -> List[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """Every pair of occurrences (TPLinker's training data places a string triple so): the pairs of
    distinct spans in text order, or the one shared span where subject and object are the same
    single string."""
    pairs = sorted((s, o) for s in subjects for o in objects if s != o)
    return pairs or [(subjects[0], objects[0])]


def store_entities(doc: Doc, entities: Iterable[Tuple[object, object, object]], report: ConversionReport,
                   where: str) -> None:
    """Store a record's listed entity mentions, (start, end, type) in token offsets (end exclusive),
    as labelled spans in ``doc.spans[GOLD_ENTITIES_KEY]``, relation or not; each one is counted as
    written or skipped with a reason."""
    spans, seen = [], set()
    for start, end, label in entities:
        report.entities_read += 1
        if not (is_int(start) and is_int(end) and 0 <= start < end <= len(doc)):
            report.skip_entity(MALFORMED_ENTITY, where)
            continue
        key = (start, end, entity_label(label))
        if key in seen:
            report.skip_entity(DUPLICATE_ENTITY, where)
            continue
        seen.add(key)
        spans.append(Span(doc, start, end, label=key[2]))
    report.entities_written += len(spans)
    doc.spans[GOLD_ENTITIES_KEY] = SpanGroup(doc, name=GOLD_ENTITIES_KEY, spans=spans)


def finish_doc(doc: Doc, rows: List[list], report: ConversionReport, source: str) -> Doc:
    """Deduplicate (counting), store the triples and account for the doc."""
    from ..triples import TripleRow, set_triple_rows

    unique, seen = [], set()
    for row in rows:
        key = (row[0], row[1], row[3], row[4], row[5])
        if key in seen:
            report.duplicate_triples_dropped += 1
            continue
        seen.add(key)
        unique.append(row)
    set_triple_rows(doc, [TripleRow(s0, s1, rel, o0, o1, s_label, o_label, score)
                          for s0, s1, s_label, rel, o0, o1, o_label, score in unique])
    report.triples_written += len(unique)
    report.docs_written += 1
    doc.user_data["source"] = source
    return doc


def write_docbin(docs: Iterable[Doc], path: Path) -> int:
    db = DocBin(store_user_data=True)
    n = 0
    for doc in docs:
        db.add(doc)
        n += 1
    # the whole DocBin, or nothing: a failed conversion never leaves a partial .spacy file
    from ..safe_io import write_bytes

    write_bytes(Path(path), db.to_bytes())
    return n
