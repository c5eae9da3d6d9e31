"""Shared machinery of the annotation-tool writers (Label Studio, doccano, Prodigy), whose files
``spacy-triples convert`` reads back: the summary of what was written and left out, and a document's
triples as distinct entity spans plus relations between them."""
from collections import Counter
from typing import Dict

ANNOTATION_FORMATS = ("labelstudio", "doccano", "prodigy")
UNTYPED = "ENTITY"  # annotation tools need a span label; convert reads it back as untyped


class AnnotationExport:
    """What an annotation export wrote and what it left out (by reason)."""

    def __init__(self):
        self.docs = 0
        self.triples = 0
        self.skipped_docs = Counter()
        self.skipped_triples = Counter()

    def line(self) -> str:
        parts = [f"{self.docs} documents and {self.triples} triples written"]
        parts += [f"{n} documents skipped ({why})" for why, n in sorted(self.skipped_docs.items())]
        parts += [f"{n} triples skipped ({why})" for why, n in sorted(self.skipped_triples.items())]
        return ", ".join(parts)


def entities(record: Dict, summary: AnnotationExport):
    """Distinct entity spans (start, end, label) -> index, and the triples as (subject index,
    relation, object index, score); triples whose offsets do not fit the text are counted."""
    index, triples, text = {}, [], record["text"]
    for t in record["triples"]:
        try:
            (s0, s1), (o0, o1) = t["subject_chars"], t["object_chars"]
            relation = str(t["relation"])
        except (KeyError, TypeError, ValueError):
            summary.skipped_triples["malformed triple"] += 1
            continue
        if not (0 <= s0 < s1 <= len(text) and 0 <= o0 < o1 <= len(text)):
            summary.skipped_triples["offsets outside the text"] += 1
            continue
        keys = []
        for key in ((s0, s1, t.get("subject_label") or UNTYPED), (o0, o1, t.get("object_label") or UNTYPED)):
            keys.append(index.setdefault(key, len(index)))
        triples.append((keys[0], relation, keys[1], float(t.get("score", 1.0))))
    return list(index), triples
