"""doccano's relation JSONL (the "Relation" project export), one document per line::

    {"id": 1, "text": "Barack Obama was born in Honolulu .",
     "entities": [{"id": 10, "label": "PER", "start_offset": 0, "end_offset": 12},
                  {"id": 11, "label": "LOC", "start_offset": 25, "end_offset": 33}],
     "relations": [{"id": 0, "from_id": 10, "to_id": 11, "type": "born_in"}]}

Offsets are characters into ``text`` (end exclusive); a relation goes from the subject (``from_id``) to
the object (``to_id``). Other fields (``Comments``, metadata) are ignored.
"""
from pathlib import Path
from typing import Iterator, Optional, Set

from spacy.language import Language
from spacy.tokens import Doc

from .base import MALFORMED_TRIPLE, ConversionError, ConversionReport, finish_doc, iter_records
from .charspans import as_int, char_triple, count_unlinked, entity_label


def read_doccano(path: Path, nlp: Language, report: ConversionReport, schema: Optional[Set[str]] = None) -> Iterator[Doc]:
    for n, where, record in iter_records(path, report, "line"):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not isinstance(
            record.get("entities", []), list
        ) or not isinstance(record.get("relations", []), list):
            raise ConversionError(
                f"{where}: expected a doccano relation record with 'text', an 'entities' list and a "
                f"'relations' list, got {str(record)[:80]!r}."
            )
        text = record["text"]
        if not text.strip():
            report.skip_record("empty text", where)
            continue
        entities = {}
        for ent in record.get("entities", []):
            if isinstance(ent, dict) and "id" in ent:
                entities[ent["id"]] = (as_int(ent.get("start_offset")), as_int(ent.get("end_offset")),
                                       entity_label(ent.get("label")), None)
        doc, rows, used = nlp.make_doc(text), [], set()
        for rel in report.triples_in(record.get("relations", [])):
            if not isinstance(rel, dict) or "from_id" not in rel or "to_id" not in rel:
                report.skip_triple(MALFORMED_TRIPLE, where)
                continue
            head, tail = rel["from_id"], rel["to_id"]
            used.update((head, tail))
            label = rel.get("type", rel.get("label"))
            row = char_triple(doc, entities, head, tail, "" if label is None else str(label), report, where, schema)
            if row:
                rows.append(row)
        count_unlinked(entities, used, report)
        yield finish_doc(doc, rows, report, f"{Path(path).name}:{n}")
