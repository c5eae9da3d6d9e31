"""Token-span formats: "unified" (CoNLL04/ADE: entities [[start, end, type]], relations
[[hs, he, ts, te, type]]) and SpERT (entities [{type, start, end}], relations [{type, head, tail}]
indexing the entities). Token offsets, end exclusive; the tokens are kept as given."""
from pathlib import Path
from typing import Iterator, Optional, Set

from spacy.language import Language
from spacy.tokens import Doc

from .base import (
    GOLD_ENTITIES_KEY,
    BAD_ENTITY_INDEX,
    MALFORMED_TRIPLE,
    ConversionError,
    ConversionReport,
    check_list,
    entity_label,
    finish_doc,
    is_int,
    store_entities,
    iter_records,
    span_triple_ok,
)


def _tokens(record, where: str, report: ConversionReport):
    if not isinstance(record, dict) or not isinstance(record.get("tokens"), list):
        raise ConversionError(f"{where}: expected an object with a 'tokens' list, got {str(record)[:80]!r}.")
    tokens = record["tokens"]
    if not tokens or not all(isinstance(t, str) and t and not t.isspace() for t in tokens):
        report.skip_record("no tokens, or an empty/whitespace token", where)
        return None
    return tokens


def _token_docs(path: Path, nlp: Language, report: ConversionReport):
    """Yield (number, where, record, tokens, doc) for each record with usable tokens; others are
    skipped and counted."""
    for n, where, record in iter_records(path, report, "record"):
        tokens = _tokens(record, where, report)
        if tokens is not None:
            check_list(record, "entities", where)
            check_list(record, "relations", where)
            yield n, where, record, tokens, Doc(nlp.vocab, words=tokens)


def read_unified(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None) -> Iterator[Doc]:
    for n, where, record, tokens, doc in _token_docs(path, nlp, report):
        listed = [tuple(ent[:3]) if isinstance(ent, list) and len(ent) >= 3 else (None, None, None)
                  for ent in record.get("entities", [])]
        store_entities(doc, listed, report, where)
        types = {(span.start, span.end): span.label_ for span in doc.spans[GOLD_ENTITIES_KEY]}
        rows = []
        for rel in report.triples_in(record.get("relations", [])):
            if not isinstance(rel, list) or len(rel) != 5:
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            s0, s1, o0, o1, label = rel
            if not span_triple_ok(report, where, len(tokens), s0, s1, o0, o1, label, schema):
                continue
            rows.append([s0, s1, types.get((s0, s1), ""), label, o0, o1, types.get((o0, o1), ""), 1.0])
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")


def read_spert(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None) -> Iterator[Doc]:
    for n, where, record, tokens, doc in _token_docs(path, nlp, report):
        entities = check_list(record, "entities", where)
        store_entities(doc, [(e.get("start"), e.get("end"), e.get("type")) if isinstance(e, dict) else (None, None, None)
                             for e in entities], report, where)
        rows = []
        for rel in report.triples_in(record.get("relations", [])):
            if not isinstance(rel, dict):
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            # "head": -1 must not mean the last entity (nor True the second one)
            if not all(is_int(rel.get(k)) and 0 <= rel[k] < len(entities) for k in ("head", "tail")):
                report.skip_triple(BAD_ENTITY_INDEX, where)
                continue
            try:
                head, tail = entities[rel["head"]], entities[rel["tail"]]
                label = rel["type"]
                s0, s1, o0, o1 = head["start"], head["end"], tail["start"], tail["end"]
            except (KeyError, IndexError, TypeError):
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            if not span_triple_ok(report, where, len(tokens), s0, s1, o0, o1, label, schema):
                continue
            rows.append([s0, s1, entity_label(head.get("type")), label, o0, o1, entity_label(tail.get("type")), 1.0])
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")
