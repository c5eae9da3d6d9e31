"""Character-offset formats: Prodigy's relation JSONL and the project's own JSONL.

Our JSONL (also what ``spacy-triples extract`` writes, so predictions can be corrected and fed back),
one document per line::

    {"text": "Barack Obama was born in Honolulu .",
     "triples": [{"subject_chars": [0, 12], "relation": "born_in", "object_chars": [25, 33],
                  "subject_label": "PER", "object_label": "LOC"}]}

Offsets are character offsets into ``text``, end exclusive; labels are optional; other fields
(``id``, ``subject``, ``object``, ``score``, token offsets, metadata) are allowed and ignored, except that
``subject``/``object`` texts, when present, must match the offsets. ``text`` is tokenized with the
language's tokenizer; a span whose offsets do not fall on token boundaries is skipped and counted.
"""
from pathlib import Path
from typing import Iterator, Optional, Set

from spacy.language import Language
from spacy.tokens import Doc

from .base import (
    EXTRACT_ERROR,
    MALFORMED_TRIPLE,
    MISSING_RELATION,
    NOT_AT_BOUNDARY,
    OUT_OF_RANGE,
    UNKNOWN_RELATION,
    ConversionError,
    ConversionReport,
    check_list,
    entity_label,
    finish_doc,
    is_int,
    iter_records,
    relation_label,
    span_triple_ok,
)

TEXT_MISMATCH = "offsets do not match the entity text"


def read_triples_jsonl(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None) -> Iterator[Doc]:
    for n, where, record in iter_records(path, report, "line"):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not isinstance(record.get("triples", []), list):
            raise ConversionError(f"{where}: expected an object with 'text' and a 'triples' list, got {str(record)[:80]!r}.")
        text = record["text"]
        if record.get("error") is not None:
            # extract could not process this record: it has no prediction, it is not "no triples"
            report.skip_record(EXTRACT_ERROR, where)
            continue
        if not text.strip():
            report.skip_record("empty text", where)
            continue
        doc = nlp.make_doc(text)
        rows = []
        for triple in report.triples_in(record.get("triples", [])):
            try:
                (s0, s1), (o0, o1) = triple["subject_chars"], triple["object_chars"]
                relation = triple["relation"]
            except (KeyError, TypeError, ValueError):
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            if not all(is_int(x) for x in (s0, s1, o0, o1)):
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            if relation_label(relation) is None:
                report.skip_triple(MISSING_RELATION, where)
                continue
            if not (0 <= s0 < s1 <= len(text) and 0 <= o0 < o1 <= len(text)):
                report.skip_triple(OUT_OF_RANGE, where)
                continue
            if ("subject" in triple and triple["subject"] != text[s0:s1]) or (
                "object" in triple and triple["object"] != text[o0:o1]
            ):
                report.skip_triple(TEXT_MISMATCH, where)
                continue
            if schema is not None and relation not in schema:
                report.skip_triple(UNKNOWN_RELATION, where)
                continue
            subj, obj = doc.char_span(s0, s1), doc.char_span(o0, o1)
            if subj is None or obj is None:
                report.skip_triple(NOT_AT_BOUNDARY, where)
                continue
            rows.append([subj.start, subj.end, entity_label(triple.get("subject_label")), relation,
                         obj.start, obj.end, entity_label(triple.get("object_label")), 1.0])
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")


def read_prodigy(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None) -> Iterator[Doc]:
    """Prodigy ``rel.manual`` output: ``tokens`` (text, ws), ``relations`` with ``head_span`` and
    ``child_span`` (token_start, token_end inclusive, label) and ``label``. Records whose ``answer``
    is not "accept" are skipped and counted."""
    for n, where, record in iter_records(path, report, "line"):
        if not isinstance(record, dict) or not isinstance(record.get("tokens"), list):
            raise ConversionError(f"{where}: expected a Prodigy task with a 'tokens' list, got {str(record)[:80]!r}.")
        if record.get("answer", "accept") != "accept":
            report.skip_record("answer is not accept", where)
            continue
        try:
            words = [t["text"] for t in record["tokens"]]
            spaces = [bool(t.get("ws", True)) for t in record["tokens"]]
        except (KeyError, TypeError) as err:
            raise ConversionError(f"{where}: every token needs a 'text' ({err}).") from err
        if not words or not all(words):
            report.skip_record("no tokens, or an empty token", where)
            continue
        doc = Doc(nlp.vocab, words=words, spaces=spaces)
        rows = []
        for rel in report.triples_in(check_list(record, "relations", where)):
            try:
                head, child, label = rel["head_span"], rel["child_span"], rel["label"]
                ends = head["token_start"], head["token_end"], child["token_start"], child["token_end"]
                if not all(is_int(x) for x in ends):
                    raise TypeError("token offsets must be integers")
                s0, s1 = head["token_start"], head["token_end"] + 1
                o0, o1 = child["token_start"], child["token_end"] + 1
            except (KeyError, TypeError):
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            if not span_triple_ok(report, where, len(doc), s0, s1, o0, o1, label, schema):
                continue
            rows.append([s0, s1, entity_label(head.get("label")), label, o0, o1, entity_label(child.get("label")), 1.0])
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")
