"""The "unified" token-span JSON format (CoNLL04/ADE as distributed by two-are-better-than-one):

    [{"tokens": [...], "entities": [[start, end, type], ...],
      "relations": [[s_start, s_end, o_start, o_end, type], ...]}, ...]

Offsets are token indices, end exclusive. Entity types go onto the spans' labels.
"""
import json
from pathlib import Path
from typing import Iterator

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..triples import set_triple_rows
from .base import ConversionReport


def read_unified(path: Path, vocab: Vocab, report: ConversionReport) -> Iterator[Doc]:
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the unified format is one JSON list.") from err
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of records with 'tokens', 'entities', 'relations'.")
    for n, record in enumerate(records):
        report.records_read += 1
        tokens = record.get("tokens") if isinstance(record, dict) else None
        if not tokens or not all(isinstance(t, str) and t and not t.isspace() for t in tokens):
            report.records_skipped["no tokens, or an empty/whitespace token"] += 1
            continue
        doc = Doc(vocab, words=tokens)
        types = {}
        for ent in record.get("entities", []):
            if len(ent) >= 3 and 0 <= ent[0] < ent[1] <= len(tokens):
                types[(ent[0], ent[1])] = str(ent[2])
        rows, seen = [], set()
        for rel in record.get("relations", []):
            if len(rel) != 5:
                report.triples_skipped["malformed relation (not [hs, he, ts, te, type])"] += 1
                continue
            s0, s1, o0, o1, label = rel
            if not (0 <= s0 < s1 <= len(tokens) and 0 <= o0 < o1 <= len(tokens)):
                report.triples_skipped["span outside the tokens"] += 1
                continue
            key = (s0, s1, label, o0, o1)
            if key in seen:
                report.duplicate_triples_dropped += 1
                continue
            seen.add(key)
            rows.append([s0, s1, types.get((s0, s1), ""), str(label), o0, o1, types.get((o0, o1), ""), 1.0])
        set_triple_rows(doc, rows)
        report.triples_written += len(rows)
        report.docs_written += 1
        doc.user_data["source"] = f"{path.name}:{n}"
        yield doc
