"""Show triples over the text with displaCy: ``spacy_triples.render(doc_or_docs)``.

Each sentence is one row: the entity spans highlighted (displaCy's span style, so nested spans stay
visible) above the triples drawn as labelled arcs from subject to object (displaCy's dependency style
in manual mode, each entity merged into one word so arcs join whole spans), followed by a table
listing every triple with its score. Triples whose subject and object fall in different sentences,
or in nested spans that share a merged word, appear in the table only.
"""
import html
from typing import Iterable, List, Sequence, Tuple, Union

from spacy import displacy
from spacy.tokens import Doc, Span

from .triples import Triple

PALETTE = ["#7aecec", "#feca74", "#aa9cfc", "#bfe1d9", "#e4e7d2", "#ff9561", "#c887fb", "#9cc9cc"]
SENT_END = {".", "!", "?", "。", "！", "？"}
CSS = """
<style>
.spacy-triples { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 1em; }
.spacy-triples .st-doc { border-top: 2px solid #ccc; margin-top: 1.5em; padding-top: .5em; }
.spacy-triples .st-row { margin: 1em 0 2em 0; overflow-x: auto; }
.spacy-triples table { border-collapse: collapse; font-size: 14px; margin-top: .5em; }
.spacy-triples td, .spacy-triples th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
.spacy-triples th { background: #f4f4f4; }
.spacy-triples .st-none { color: #888; font-style: italic; }
</style>
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def sentence_rows(doc: Doc) -> List[Span]:
    """The doc's sentences when it has them, else a split after sentence-final punctuation."""
    if doc.has_annotation("SENT_START"):
        return list(doc.sents)
    rows, start = [], 0
    for token in doc:
        if token.text in SENT_END and token.i + 1 < len(doc):
            rows.append(doc[start : token.i + 1])
            start = token.i + 1
    if start < len(doc):
        rows.append(doc[start:])
    return rows


def _merged_words(sent: Span, spans: Sequence[Tuple[int, int, str]]):
    """Words for displaCy: maximal entity spans merged into one word each. Returns (words, index)."""
    outer = []
    for s, e, label in sorted(spans, key=lambda x: (x[0], -(x[1] - x[0]))):
        if outer and s < outer[-1][1]:
            continue  # nested or overlapping: drawn with its outer span
        outer.append((s, e, label))
    words, index, i = [], {}, sent.start
    by_start = {s: (e, label) for s, e, label in outer}
    while i < sent.end:
        if i in by_start:
            e, label = by_start[i]
            for k in range(i, e):
                index[k] = len(words)
            words.append({"text": sent.doc[i:e].text, "tag": _esc(label)})
            i = e
        else:
            index[i] = len(words)
            words.append({"text": sent.doc[i].text, "tag": ""})
            i += 1
    return words, index


def _table(triples: Sequence[Triple]) -> str:
    if not triples:
        return '<div class="st-none">no triples</div>'
    rows = "".join(
        f"<tr><td>{html.escape(t.subject.text)}</td><td><b>{html.escape(t.relation)}</b></td>"
        f"<td>{html.escape(t.object.text)}</td><td>{t.score:.2f}</td></tr>"
        for t in triples
    )
    return f"<table><tr><th>subject</th><th>relation</th><th>object</th><th>score</th></tr>{rows}</table>"


def render_doc(doc: Doc, spans_key: str = "triple_entities") -> str:
    triples = doc._.triples
    parts = []
    for sent in sentence_rows(doc):
        inside = [t for t in triples if sent.start <= t.subject.start < sent.end]
        spans = {(t.subject.start, t.subject.end, t.subject.label_) for t in inside if t.subject.end <= sent.end}
        spans |= {(t.object.start, t.object.end, t.object.label_) for t in inside
                  if sent.start <= t.object.start and t.object.end <= sent.end}
        span_data = {
            "text": sent.text,
            "tokens": [t.text for t in sent],
            # displaCy's manual mode escapes the text but not labels: escape them here (no script
            # from a label of the training data or a schema reaches the page)
            "spans": [{"start_token": s - sent.start, "end_token": e - sent.start, "label": _esc(label or "ENTITY")}
                      for s, e, label in sorted(spans)],
        }
        labels = {sp["label"] for sp in span_data["spans"]}
        colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(sorted(labels))}
        row = [displacy.render(span_data, style="span", manual=True, page=False, options={"colors": colors})]
        words, index = _merged_words(sent, sorted(spans))
        arcs = []
        for t in inside:
            if t.object.end > sent.end or t.object.start < sent.start:
                continue
            a, b = index[t.subject.start], index[t.object.start]
            if a == b:
                continue
            arcs.append({"start": min(a, b), "end": max(a, b), "label": _esc(t.relation),
                         "dir": "right" if a < b else "left"})
        if arcs:
            # displaCy centres each word on its x position: leave room for a long first word
            offset = max(50, 5 * len(words[0]["text"]))
            row.append(displacy.render({"words": words, "arcs": arcs}, style="dep", manual=True, page=False,
                                       options={"compact": True, "distance": 110, "offset_x": offset}))
        row.append(_table(inside))
        parts.append(f'<div class="st-row">{"".join(row)}</div>')
    crossing = [t for t in triples if not any(
        s.start <= t.subject.start < s.end for s in sentence_rows(doc))]
    if crossing:
        parts.append(_table(crossing))
    return f'<div class="st-doc">{"".join(parts) or _table([])}</div>'


def render(docs: Union[Doc, Iterable[Doc]], page: bool = True, jupyter: bool = None, title: str = "Triples") -> str:
    """HTML showing each doc's triples; a full page by default. In Jupyter it is displayed too."""
    if isinstance(docs, Doc):
        docs = [docs]
    body = CSS + '<div class="spacy-triples">' + "".join(render_doc(doc) for doc in docs) + "</div>"
    markup = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
              f"</head><body>{body}</body></html>") if page else body
    if jupyter is None:
        from spacy.util import is_in_jupyter

        jupyter = is_in_jupyter()
    if jupyter:  # pragma: no cover - needs a notebook
        from IPython.display import HTML, display

        display(HTML(body))
    return markup
