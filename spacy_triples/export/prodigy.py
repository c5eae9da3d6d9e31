"""Prodigy writer: ``rel.manual``-style tasks on the document's tokens."""
import json
from typing import Dict, Iterable

from .annotations import AnnotationExport, entities


def to_prodigy(documents: Iterable[Dict], path: str, summary: AnnotationExport, lang: str = "en") -> None:
    """Prodigy ``rel.manual``-style tasks (``tokens``, ``spans``, ``relations`` with ``head_span``/
    ``child_span``), to correct with ``prodigy rel.manual ... --loader jsonl`` or ``mark --view-id
    relations``; the accepted answers convert back with ``--format prodigy``. JSONL predictions are
    tokenized with ``spacy.blank(lang)``; a triple whose offsets are not on its token boundaries is
    counted and left out."""
    import spacy

    nlp = None
    with open(path, "w", encoding="utf8") as out:
        for record in documents:
            doc = record["doc"]
            if doc is None:
                nlp = nlp or spacy.blank(lang)
                doc = nlp.make_doc(record["text"])
            found, triples = entities(record, summary)
            spans, ok = [], []
            for start, end, label in found:
                span = doc.char_span(start, end)
                spans.append(None if span is None else {
                    "text": span.text, "start": start, "end": end, "token_start": span.start,
                    "token_end": span.end - 1, "label": label})
            relations = []
            for s, relation, o, score in triples:
                if spans[s] is None or spans[o] is None:
                    summary.skipped_triples[f"offsets not on token boundaries (tokenizer of --lang {lang})"] += 1
                    continue
                ok += [s, o]
                relations.append({"head": spans[s]["token_end"], "child": spans[o]["token_end"],
                                  "head_span": spans[s], "child_span": spans[o], "label": relation, "score": score})
            out.write(json.dumps({
                "text": doc.text,
                "tokens": [{"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i, "ws": bool(t.whitespace_)}
                           for t in doc],
                "spans": [spans[k] for k in sorted(set(ok))],
                "relations": relations,
                "meta": {"doc_id": record["id"]},
            }, ensure_ascii=False) + "\n")
            summary.docs += 1
            summary.triples += len(relations)
