"""doccano writer: relation JSONL with entities by character offsets and relations by entity id."""
import json
from typing import Dict, Iterable

from .annotations import AnnotationExport, entities


def to_doccano(documents: Iterable[Dict], path: str, summary: AnnotationExport) -> None:
    """doccano relation JSONL (``entities`` with character offsets, ``relations`` by entity id); doccano
    has no scores, so they are kept under ``meta``."""
    with open(path, "w", encoding="utf8") as out:
        for n, record in enumerate(documents, 1):
            spans, triples = entities(record, summary)
            out.write(json.dumps({
                "id": n, "text": record["text"],
                "entities": [{"id": k, "label": label, "start_offset": start, "end_offset": end}
                             for k, (start, end, label) in enumerate(spans)],
                "relations": [{"id": k, "from_id": s, "to_id": o, "type": relation}
                              for k, (s, relation, o, _) in enumerate(triples)],
                "meta": {"doc_id": record["id"], "scores": [t[3] for t in triples]},
            }, ensure_ascii=False) + "\n")
            summary.docs += 1
            summary.triples += len(triples)
