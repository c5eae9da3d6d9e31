"""From documents to facts: one :class:`Fact` per kept triple mention, with its evidence.

Inputs are spaCy Docs (``doc._.triples``, e.g. from a ``.spacy`` DocBin saved with
``store_user_data=True``) or ``extract`` JSONL records. Every triple read is either kept or skipped
for a counted reason (``FactBuilder.skipped``); nothing is dropped silently.

Evidence offsets are character offsets into the document text (end exclusive). The sentence is the
doc's own sentence segmentation when it has one (``doc.has_annotation("SENT_START")``), else a
language-neutral split after ``. ! ? …`` followed by white space, after ``。！？`` and at line breaks;
a triple whose spans lie in different sentences gets the range from the first to the last.

The pipeline that made a prediction is read from ``doc.user_data["pipeline"]`` or a record's
``"pipeline"`` (or ``meta.pipeline``): ``{"name": ..., "version": ...}`` or ``"name@version"``;
:func:`stamp_pipeline` writes it. Without it the builder's ``default_pipeline`` is used.
"""
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from .identity import UNTYPED, EntityRef, EntityResolver

PIPELINE_KEY = "pipeline"
_SENT_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+|(?<=[\u3002\uff01\uff1f])|\n+")


class Evidence(NamedTuple):
    doc_id: str
    sentence_start: int
    sentence_end: int
    sentence: str
    subject_text: str
    subject_start: int
    subject_end: int
    object_text: str
    object_start: int
    object_end: int
    score: float
    pipeline: str
    pipeline_version: str


class Fact(NamedTuple):
    subject: EntityRef
    relation: str
    object: EntityRef
    evidence: Evidence


def pipeline_info(nlp) -> Dict[str, str]:
    """``{"name", "version"}`` of a loaded pipeline, from ``nlp.meta`` (``lang_name``, as spaCy names packages)."""
    meta = nlp.meta or {}
    return {"name": f"{meta.get('lang', nlp.lang)}_{meta.get('name', 'pipeline')}", "version": str(meta.get("version", ""))}


def stamp_pipeline(doc, nlp_or_info) -> None:
    """Record on ``doc.user_data`` which pipeline made its triples (kept by DocBin(store_user_data=True))."""
    info = nlp_or_info if isinstance(nlp_or_info, dict) else pipeline_info(nlp_or_info)
    doc.user_data[PIPELINE_KEY] = dict(info)


def parse_pipeline(value: Any) -> Optional[Tuple[str, str]]:
    """(name, version) from ``{"name", "version"}`` or ``"name@version"``; None when absent or unusable."""
    if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"]:
        return value["name"], str(value.get("version") or "")
    if isinstance(value, str) and value.strip():
        name, _, version = value.strip().partition("@")
        return name, version
    return None


def sentence_bounds(text: str) -> List[Tuple[int, int]]:
    """(start, end) character ranges of the sentences of ``text`` (see the module docstring)."""
    bounds, start = [], 0
    for match in _SENT_END.finditer(text):
        if match.start() > start:
            bounds.append((start, match.start()))
        start = max(start, match.end())
    if start < len(text):
        bounds.append((start, len(text)))
    return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b - (len(text[a:b]) - len(text[a:b].rstrip())))
            for a, b in bounds if text[a:b].strip()] or [(0, len(text))]


def _covering(bounds: List[Tuple[int, int]], start: int, end: int) -> Tuple[int, int]:
    first = next((a for a, b in reversed(bounds) if a <= start), bounds[0][0])
    last = next((b for a, b in bounds if b >= end), bounds[-1][1])
    return min(first, start), max(last, end)


class FactBuilder:
    """Turns triples into facts: resolves both entities, applies ``min_score`` and the relation
    ``schema`` (``spacy_triples.schema``; an empty one keeps everything) and counts every skip."""

    def __init__(self, resolver: Optional[EntityResolver] = None, min_score: float = 0.0,
                 schema: Optional[Dict[str, List[List[str]]]] = None, default_pipeline: str = "unknown"):
        if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0.0 <= min_score <= 1.0:
            raise ValueError(f"--min-score must be a number in [0, 1], got {min_score!r}.")
        self.resolver = resolver or EntityResolver()
        self.min_score = float(min_score)
        self.schema = schema or {}
        self.default_pipeline = parse_pipeline(default_pipeline) or ("unknown", "")
        self.docs = 0
        self.triples = 0
        self.kept = 0
        self.skipped: Counter = Counter()
        self.skipped_docs: Counter = Counter()

    # --- one triple ---------------------------------------------------------------------------------
    def fact(self, doc_id, text: str, bounds, pipeline: Tuple[str, str], subject: Tuple, relation: str,
             obj: Tuple, score: float) -> Optional[Fact]:
        """``subject``/``obj``: (text as written, label, start_char, end_char, kb_id); an empty label is
        ``UNTYPED`` (also for the schema)."""
        from ..schema import allowed

        self.triples += 1
        subject, obj = (*subject[:1], subject[1] or UNTYPED, *subject[2:]), (*obj[:1], obj[1] or UNTYPED, *obj[2:])
        if score < self.min_score:
            self.skipped["score below --min-score"] += 1
            return None
        if self.schema and not allowed(self.schema, relation, subject[1], obj[1]):
            self.skipped["not allowed by --schema"] += 1
            return None
        s_ref = self.resolver.resolve(subject[0], subject[1], subject[4])
        o_ref = self.resolver.resolve(obj[0], obj[1], obj[4])
        if s_ref is None or o_ref is None:
            self.skipped["entity text empty after normalisation"] += 1
            return None
        lo, hi = min(subject[2], obj[2]), max(subject[3], obj[3])
        sent_start, sent_end = _covering(bounds, lo, hi) if bounds else (lo, hi)
        self.kept += 1
        evidence = Evidence(str(doc_id), sent_start, sent_end, text[sent_start:sent_end] if text else "",
                            subject[0], subject[2], subject[3], obj[0], obj[2], obj[3], float(score), *pipeline)
        return Fact(s_ref, relation, o_ref, evidence)

    # --- a Doc --------------------------------------------------------------------------------------
    def from_doc(self, doc, doc_id=None) -> List[Fact]:
        """The facts of ``doc._.triples`` (predicted or gold). ``doc_id`` defaults to
        ``doc.user_data["source"]`` (set by convert) or the number of docs read so far."""
        from ..triples import install_extensions, read_triple_rows, rows_to_triples

        install_extensions()
        if doc_id is None:
            doc_id = doc.user_data.get("source", self.docs)
        self.docs += 1
        rows, outside = read_triple_rows(doc)
        if outside:
            self.triples += outside
            self.skipped["span outside the document text"] += outside
        if not rows:
            return []
        pipeline = parse_pipeline(doc.user_data.get(PIPELINE_KEY)) or self.default_pipeline
        if doc.has_annotation("SENT_START"):
            bounds = [(s.start_char, s.end_char) for s in doc.sents]
        else:
            bounds = sentence_bounds(doc.text)
        kb = {(e.start_char, e.end_char): e.kb_id_ for e in doc.ents if e.kb_id_}
        facts = []
        for t in rows_to_triples(doc, rows):
            ends = []
            for span in (t.subject, t.object):
                kb_id = span.kb_id_ or kb.get((span.start_char, span.end_char), "")
                ends.append((span.text, span.label_, span.start_char, span.end_char, kb_id))
            fact = self.fact(doc_id, doc.text, bounds, pipeline, ends[0], t.relation, ends[1], t.score)
            if fact is not None:
                facts.append(fact)
        return facts

    # --- an extract record ----------------------------------------------------------------------------
    def from_record(self, record: Dict, where: str, default_id) -> List[Fact]:
        """The facts of one ``extract`` (or convert-style) JSONL record; a malformed triple raises
        ValueError naming ``where``. A record with an ``error`` is skipped and counted."""
        from ..export.readers import complete_triple

        self.docs += 1
        if record.get("error") is not None and not record.get("triples"):
            self.skipped_docs["extract error record"] += 1
            return []
        triples = record.get("triples", [])
        if not isinstance(triples, list):
            raise ValueError(f"{where}: 'triples' must be a list, got {json.dumps(triples)[:40]}.")
        text = record.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{where}: 'text' must be a string, got {json.dumps(text)[:40]}.")
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        pipeline = (parse_pipeline(record.get(PIPELINE_KEY)) or parse_pipeline(meta.get(PIPELINE_KEY))
                    or self.default_pipeline)
        bounds = sentence_bounds(text) if text else None
        doc_id = record.get("id", default_id)
        facts = []
        for k, raw in enumerate(triples, 1):
            at = f"{where}, triple {k}"
            t = complete_triple(raw, text, at)
            ends = []
            for role in ("subject", "object"):
                start, end = t[f"{role}_chars"]
                if text is not None and end > len(text):
                    raise ValueError(f"{at}: '{role}_chars' {[start, end]} lie outside the record's text "
                                     f"({len(text)} characters).")
                kb_id = t.get(f"{role}_kb_id") or ""
                if not isinstance(kb_id, str):
                    raise ValueError(f"{at}: '{role}_kb_id' must be a string, got {json.dumps(kb_id)[:40]}.")
                ends.append((t[role], t[f"{role}_label"], start, end, kb_id))
            fact = self.fact(doc_id, text or "", bounds, pipeline, ends[0], t["relation"], ends[1],
                             float(t.get("score", 1.0)))
            if fact is not None:
                facts.append(fact)
        return facts


def read_jsonl_records(path: Path) -> Iterator[Tuple[Dict, str, int]]:
    """(record, "FILE, line N", N) of each non-blank line: ``export``'s reader of extract JSONL (a line
    that is not a JSON object raises ValueError naming it)."""
    from ..export.readers import read_extract_records

    return read_extract_records(path)


def read_docs(path: Path, lang: str = "xx") -> List:
    """The Docs of a ``.spacy`` DocBin (export's reader: one place reads DocBins)."""
    from ..export.readers import read_docbin

    return read_docbin(path, lang)


def check_jsonl(path, builder: FactBuilder) -> int:
    """Read a whole JSONL input as ``builder`` would, storing nothing: a malformed line raises
    ValueError naming it. Returns the number of records."""
    check = FactBuilder(builder.resolver, builder.min_score, builder.schema)
    total = 0
    for record, where, n in read_jsonl_records(Path(path)):
        check.from_record(record, where, n)
        total += 1
    return total


def iter_facts(path, builder: FactBuilder, progress: bool = False, validate: bool = True) -> Iterator[List[Fact]]:
    """The facts of each document of a ``.spacy`` DocBin or a JSONL file, one list per document.
    With ``validate`` JSONL is checked completely (:func:`check_jsonl`) before the first list is
    yielded, so a malformed line raises before anything is stored."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist: give a .spacy file or the JSONL written by 'extract'.")
    bar = None

    def start(total):
        nonlocal bar
        if progress:
            import sys

            from tqdm import tqdm

            bar = tqdm(total=total, unit=" docs", file=sys.stderr, desc=f"graph {path.name}")

    try:
        if path.suffix == ".spacy":
            docs = read_docs(path)
            start(len(docs))
            for doc in docs:
                yield builder.from_doc(doc)
                if bar is not None:
                    bar.update(1)
            return
        start(check_jsonl(path, builder) if validate else None)
        for record, where, n in read_jsonl_records(path):
            yield builder.from_record(record, where, n)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


class GroupedEdge(NamedTuple):
    subject: EntityRef
    relation: str
    object: EntityRef
    count: int
    best_score: float
    evidence: List[Evidence]


def group_facts(facts: List[Fact]) -> Tuple[Dict[Tuple, Tuple[EntityRef, List[str]]], List[GroupedEdge]]:
    """The entities (identity -> (ref, surface forms in order of appearance)) and the edges (one per
    (subject, relation, object) identity, with their evidence, count and best score) of some facts,
    for the in-memory graphs of the integrations; the store does the same merge across documents."""
    entities: Dict[Tuple, Tuple[EntityRef, List[str]]] = {}
    edges: Dict[Tuple, List] = {}
    for fact in facts:
        for ref, text in ((fact.subject, fact.evidence.subject_text), (fact.object, fact.evidence.object_text)):
            forms = entities.setdefault(ref.identity, (ref, []))[1]
            if text not in forms:
                forms.append(text)
        key = (fact.subject.identity, fact.relation, fact.object.identity)
        edges.setdefault(key, [fact.subject, fact.relation, fact.object, []])[3].append(fact.evidence)
    grouped = [GroupedEdge(s, r, o, len(ev), max(e.score for e in ev), ev) for s, r, o, ev in edges.values()]
    return entities, grouped


def load_nlp(nlp):
    """A loaded pipeline from a Language, a path or a package name."""
    if isinstance(nlp, (str, Path)):
        import spacy

        return spacy.load(nlp)
    return nlp
