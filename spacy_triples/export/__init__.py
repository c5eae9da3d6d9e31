"""Export triples from a ``.spacy`` file or ``extract`` JSONL to JSONL, CSV, RDF or GraphML.

Every exported triple is a flat record (the JSONL/CSV schema)::

    doc_id, subject, subject_label, subject_start, subject_end, relation,
    object, object_label, object_start, object_end, score

with character offsets into the document text, end exclusive.

RDF: entities become ``<ns>entity/<slug of the normalised text>``, relations
``<ns>relation/<label>``; each fact is one ``(subject, relation, object)`` triple. Slugs never merge
distinct entities: the text is NFKC-normalised, lower-cased and its whitespace collapsed (that is the
entity identity), spaces become ``_``, letters and digits stay, and every other character ("+", "#",
"_", emoji, control characters) is percent-encoded, so "C", "C++" and "C#" are three IRIs. With
provenance (the default), each occurrence is also an ``rdf:Statement`` (reification) carrying
``ns:docId``, the offsets and ``ns:score`` (N-Triples, Turtle), or, for N-Quads/TriG, the fact is put
in a named graph per document ``<ns>doc/<id>``.
"""
import csv
import json
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Dict, Iterable, Iterator, Tuple

from ..safe_io import READ_ENCODING, atomic_open, atomic_path, check_output_path, numbered_lines

FIELDS = [
    "doc_id", "subject", "subject_label", "subject_start", "subject_end", "relation",
    "object", "object_label", "object_start", "object_end", "score",
]
RDF_FORMATS = {"nt": "nt", "ntriples": "nt", "ttl": "turtle", "turtle": "turtle", "nq": "nquads", "nquads": "nquads", "trig": "trig"}


def read_extract_records(path) -> Iterator[Tuple[Dict, str, int]]:
    """(record, "FILE, line N", N) for each non-blank line of an ``extract`` JSONL file (a byte-order
    mark at its start dropped); a line that is not valid UTF-8, not JSON, not a JSON object, or a
    record holding a lone surrogate raises ValueError naming the line. Shared by ``export`` and
    ``graph``."""
    path = Path(path)
    with path.open("rb") as handle:
        for n, raw in numbered_lines(handle):
            where = f"{path}, line {n}"
            try:
                line = raw.decode("utf8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{where}: invalid UTF-8 at byte {err.start}.") from err
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as err:
                raise ValueError(f"{where}: malformed JSON ({getattr(err, 'msg', err)}).") from err
            if not isinstance(record, dict):
                raise ValueError(f"{where}: expected a JSON object (an extract record), got {type(record).__name__}.")
            try:
                json.dumps(record, ensure_ascii=False).encode("utf8")
            except UnicodeEncodeError as err:
                raise ValueError(f"{where}: the record holds a lone surrogate, which cannot be written as UTF-8.") from err
            yield record, where, n


def read_triples(path: str) -> Iterator[Dict]:
    """Flat triple records from a .spacy DocBin (gold or predicted doc._.triples) or extract JSONL
    (or convert-style JSONL: a triple without ``subject``/``object`` text takes it from ``text`` at its
    offsets). Malformed input raises ValueError naming the file and line."""
    path_ = Path(path)
    if not path_.is_file():
        raise ValueError(f"{path} does not exist: give a .spacy file or the JSONL written by 'extract'.")
    if path_.suffix == ".spacy":
        import spacy
        from spacy.tokens import DocBin

        from ..triples import install_extensions

        install_extensions()
        try:
            docs = list(DocBin().from_disk(path_).get_docs(spacy.blank("xx").vocab))
        except Exception as err:  # msgpack/zlib errors of a file that is not a DocBin
            raise ValueError(f"{path} is not a readable .spacy DocBin ({type(err).__name__}: {err}).") from err
        for n, doc in enumerate(docs):
            doc_id = doc.user_data.get("source", n)
            for t in doc._.triples:
                yield _flat(doc_id, t.to_dict())
        return
    for record, where, n in read_extract_records(path_):
        triples = record.get("triples", [])
        if triples is None and record.get("error") is not None:
            triples = []
        if not isinstance(triples, list):
            raise ValueError(f"{where}: 'triples' must be a list, got {json.dumps(triples)[:40]}.")
        text = record.get("text")
        for k, t in enumerate(triples, 1):
            yield _flat(record.get("id", n), _complete(t, text, f"{where}, triple {k}"))


def _complete(t, text, where: str) -> Dict:
    """Check one JSONL triple and fill in subject/object text from the document text when missing."""
    if not isinstance(t, dict):
        raise ValueError(f"{where}: expected an object, got {json.dumps(t)[:40]}.")
    t = dict(t)
    for role in ("subject", "object"):
        chars = t.get(f"{role}_chars")
        if not (isinstance(chars, list) and len(chars) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in chars) and 0 <= chars[0] <= chars[1]):
            raise ValueError(f"{where}: '{role}_chars' must be [start, end] character offsets, got {json.dumps(chars)}.")
        if t.get(role) is None:
            if not isinstance(text, str) or chars[1] > len(text):
                raise ValueError(f"{where}: no '{role}' text, and the record's 'text' does not hold its offsets {chars}.")
            t[role] = text[chars[0]:chars[1]]
        elif not isinstance(t[role], str):
            raise ValueError(f"{where}: '{role}' must be a string, got {json.dumps(t[role])[:40]}.")
        label = t.get(f"{role}_label")
        t[f"{role}_label"] = "" if label is None else str(label)
    if not isinstance(t.get("relation"), str) or not t["relation"]:
        raise ValueError(f"{where}: 'relation' must be a non-empty string, got {json.dumps(t.get('relation'))}.")
    score = t.get("score", 1.0)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
        raise ValueError(f"{where}: 'score' must be a number in [0, 1], got {json.dumps(score)}.")
    return t


def _flat(doc_id, t: Dict) -> Dict:
    return {
        "doc_id": doc_id,
        "subject": t["subject"], "subject_label": t.get("subject_label", ""),
        "subject_start": t["subject_chars"][0], "subject_end": t["subject_chars"][1],
        "relation": t["relation"],
        "object": t["object"], "object_label": t.get("object_label", ""),
        "object_start": t["object_chars"][0], "object_end": t["object_chars"][1],
        "score": float(t.get("score", 1.0)),
    }


def to_jsonl(records: Iterable[Dict], path: str) -> int:
    n = 0
    with atomic_open(path, "w", encoding="utf8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def to_csv(records: Iterable[Dict], path: str) -> int:
    n = 0
    with atomic_open(path, "w", encoding="utf8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow(record)
            n += 1
    return n


def _encode(text: str, keep: str, space: str) -> str:
    out = []
    for ch in text:
        if ch == " " and space:
            out.append(space)
        elif (ch.isalnum() and ch.isprintable()) or ch in keep:
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf8", "surrogatepass")))
    return "".join(out)


def slug(text: str) -> str:
    """IRI-safe, collision-free id of an entity's normalised text (NFKC, lower case, whitespace runs
    as one space, stripped): spaces become '_', letters, digits and "-.~" stay, every other character
    (including '_' and '%') is percent-encoded as UTF-8. Two texts get the same slug only when they
    normalise to the same text; an empty (or all-whitespace) text is '_'."""
    text = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return _encode(text, "-.~", space="_") or "_"


def relation_slug(label: str) -> str:
    """IRI-safe, collision-free id of a relation label: the label itself (case and '_' kept), every
    other character percent-encoded ("born in" -> "born%20in", distinct from "born_in")."""
    return _encode(label, "-.~_", space="")


def doc_slug(doc_id) -> str:
    """IRI-safe, collision-free id of a document id (exact, percent-encoded like a relation)."""
    return relation_slug(str(doc_id)) or "_"


def to_rdf_graph(records: Iterable[Dict], namespace: str = "http://example.org/triples/", provenance: bool = True,
                 named_graphs: bool = False):
    """Build an rdflib Dataset (named graphs) or Graph (reification) of the records."""
    try:
        from rdflib import RDF, RDFS, Dataset, Graph, Literal, Namespace, URIRef
        from rdflib.namespace import XSD
    except ImportError as err:  # pragma: no cover - rdflib is a declared dependency of the export extra
        raise ValueError("RDF export needs rdflib: pip install 'spacy-triples[export]'.") from err
    ns = Namespace(namespace)
    store = Dataset() if named_graphs else Graph()
    store.bind("t", ns)
    for n, r in enumerate(records):
        s = URIRef(ns[f"entity/{slug(r['subject'])}"])
        p = URIRef(ns[f"relation/{relation_slug(r['relation'])}"])
        o = URIRef(ns[f"entity/{slug(r['object'])}"])
        graph = store.graph(URIRef(ns[f"doc/{doc_slug(r['doc_id'])}"])) if named_graphs else store
        graph.add((s, p, o))
        graph.add((s, RDFS.label, Literal(r["subject"])))
        graph.add((o, RDFS.label, Literal(r["object"])))
        graph.add((p, RDFS.label, Literal(r["relation"])))
        if provenance and not named_graphs:
            st = URIRef(ns[f"statement/{n}"])
            graph.add((st, RDF.type, RDF.Statement))
            graph.add((st, RDF.subject, s))
            graph.add((st, RDF.predicate, p))
            graph.add((st, RDF.object, o))
            graph.add((st, ns.docId, Literal(str(r["doc_id"]))))
            for key in ("subject_start", "subject_end", "object_start", "object_end"):
                graph.add((st, ns[key], Literal(int(r[key]), datatype=XSD.integer)))
            graph.add((st, ns.score, Literal(float(r["score"]), datatype=XSD.double)))
    return store


def to_rdf(records: Iterable[Dict], path: str, fmt: str = "ttl", namespace: str = "http://example.org/triples/",
           provenance: bool = True) -> int:
    if fmt not in RDF_FORMATS:
        raise ValueError(f"Unknown RDF format '{fmt}'. Choose one of: {', '.join(sorted(RDF_FORMATS))}.")
    records = list(records)
    rdf_format = RDF_FORMATS[fmt]
    store = to_rdf_graph(records, namespace, provenance, named_graphs=rdf_format in ("nquads", "trig"))
    with atomic_path(path) as tmp:
        store.serialize(destination=str(tmp), format=rdf_format, encoding="utf-8")
    return len(records)


def to_networkx(records: Iterable[Dict]):
    """A networkx MultiDiGraph: one node per normalised entity, one edge per triple occurrence."""
    try:
        import networkx
    except ImportError as err:  # pragma: no cover
        raise ValueError("Graph export needs networkx: pip install 'spacy-triples[export]'.") from err
    graph = networkx.MultiDiGraph()
    for r in records:
        s, o = slug(r["subject"]), slug(r["object"])
        graph.add_node(s, text=xml_safe(r["subject"]), label=xml_safe(r["subject_label"] or ""))
        graph.add_node(o, text=xml_safe(r["object"]), label=xml_safe(r["object_label"] or ""))
        graph.add_edge(s, o, relation=xml_safe(r["relation"]), score=float(r["score"]), doc_id=xml_safe(str(r["doc_id"])),
                       subject_start=int(r["subject_start"]), object_start=int(r["object_start"]))
    return graph


_XML_INVALID = re.compile("[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold (control characters, lone surrogates,
    U+FFFE/U+FFFF) replaced by U+FFFD, so the GraphML file can be read back (node ids stay distinct:
    they are slugs, where such characters are percent-encoded)."""
    return _XML_INVALID.sub("\ufffd", text)


def to_graphml(records: Iterable[Dict], path: str) -> int:
    import networkx

    graph = to_networkx(records)
    with atomic_path(path) as tmp:
        networkx.write_graphml(graph, str(tmp))
    return graph.number_of_edges()


def check_namespace(namespace: str) -> None:
    """The --namespace must be an absolute IRI that entity ids can be appended to."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\]*$", namespace or ""):
        raise ValueError(
            f"--namespace {namespace!r} is not an absolute IRI without spaces or <>\"{{}}|^`\\ "
            "(e.g. http://example.org/triples/)."
        )
    if not namespace.endswith(("/", "#")):
        raise ValueError(f"--namespace {namespace!r} must end with '/' or '#', so that ids can be appended.")


def export(input_path: str, output_path: str, fmt: str = "auto", namespace: str = "http://example.org/triples/",
           provenance: bool = True, lang: str = "en", predictions: bool = None) -> int:
    """Export the triples of INPUT to OUTPUT; the format comes from ``fmt`` or OUTPUT's suffix."""
    if fmt == "auto":
        fmt = Path(output_path).suffix.lstrip(".").lower()
    fmt = fmt.lower()
    if fmt not in ("jsonl", "csv", "graphml") and fmt not in RDF_FORMATS and fmt not in ANNOTATION_FORMATS:
        raise ValueError(
            f"Unknown export format '{fmt}': use --format jsonl, csv, graphml, nt, ttl, nq, trig, labelstudio, "
            "doccano or prodigy (or an output file with that suffix)."
        )
    if fmt in RDF_FORMATS:
        check_namespace(namespace)
    check_output_path(output_path, input_path)
    # every writer goes through a temporary file: a failed export leaves no partial output
    records = read_triples(input_path)
    if fmt == "jsonl":
        return to_jsonl(records, output_path)
    if fmt == "csv":
        return to_csv(records, output_path)
    if fmt == "graphml":
        return to_graphml(records, output_path)
    if fmt in RDF_FORMATS:
        return to_rdf(records, output_path, fmt, namespace, provenance)
    summary = export_annotations(input_path, output_path, fmt, lang, predictions)
    print(summary.line(), file=sys.stderr)
    return summary.triples


# --- annotation tools: Label Studio, doccano, Prodigy (read back by ``spacy-triples convert``) ---------

ANNOTATION_FORMATS = ("labelstudio", "doccano", "prodigy")
UNTYPED = "ENTITY"  # annotation tools need a span label; convert reads it back as untyped


class AnnotationExport:
    """What an annotation export wrote and what it left out (by reason)."""

    def __init__(self):
        from collections import Counter

        self.docs = 0
        self.triples = 0
        self.skipped_docs = Counter()
        self.skipped_triples = Counter()

    def line(self) -> str:
        parts = [f"{self.docs} documents and {self.triples} triples written"]
        parts += [f"{n} documents skipped ({why})" for why, n in sorted(self.skipped_docs.items())]
        parts += [f"{n} triples skipped ({why})" for why, n in sorted(self.skipped_triples.items())]
        return ", ".join(parts)


def read_documents(path: str, summary: AnnotationExport) -> Iterator[Dict]:
    """Documents with their triples (character offsets) from a .spacy DocBin or ``extract`` JSONL:
    ``{"id", "text", "doc" (a Doc, or None for JSONL), "triples": [{"subject_chars", "subject_label",
    "relation", "object_chars", "object_label", "score"}]}``. Extract records with an error are
    counted and skipped."""
    path_ = Path(path)
    if not path_.is_file():
        raise ValueError(f"{path} does not exist: give a .spacy file or the JSONL written by 'extract'.")
    if path_.suffix == ".spacy":
        import spacy
        from spacy.tokens import DocBin

        from ..triples import install_extensions

        install_extensions()
        for n, doc in enumerate(DocBin().from_disk(path_).get_docs(spacy.blank("xx").vocab)):
            yield {"id": doc.user_data.get("source", n), "text": doc.text, "doc": doc,
                   "triples": [t.to_dict() for t in doc._.triples]}
        return
    with path_.open(encoding=READ_ENCODING) as handle:  # a byte-order mark at the start dropped
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {n}: malformed JSON ({err.msg}).") from err
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError(f"{path}, line {n}: expected an object with a string 'text' (the JSONL of 'extract').")
            if record.get("error"):
                summary.skipped_docs["extract error: " + str(record["error"])[:60]] += 1
                continue
            yield {"id": record.get("id", n), "text": record["text"], "doc": None,
                   "triples": list(record.get("triples") or [])}


def _entities(record: Dict, summary: AnnotationExport):
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


def to_labelstudio(documents: Iterable[Dict], path: str, summary: AnnotationExport, predictions: bool,
                   model_version: str = "spacy-triples") -> None:
    """A Label Studio JSON task list. ``predictions``: the triples go under ``predictions`` (with
    scores) for pre-annotation, else under ``annotations``. Also writes ``<path>.label_config.xml``,
    a labeling config with every entity and relation label (paste it into the project settings)."""
    tasks, ent_labels, rel_labels = [], set(), set()
    for record in documents:
        entities, triples = _entities(record, summary)
        result = []
        for k, (start, end, label) in enumerate(entities):
            ent_labels.add(label)
            scores = [score for s, _, o, score in triples if k in (s, o)]
            result.append({"id": f"e{k}", "from_name": "label", "to_name": "text", "type": "labels",
                           "value": {"start": start, "end": end, "text": record["text"][start:end], "labels": [label]},
                           "score": max(scores) if scores else 1.0})
        for s, relation, o, score in triples:
            rel_labels.add(relation)
            result.append({"from_id": f"e{s}", "to_id": f"e{o}", "type": "relation", "direction": "right",
                           "labels": [relation], "score": score})
        task = {"data": {"text": record["text"], "doc_id": record["id"]}}
        if predictions:
            task["predictions"] = [{"model_version": model_version, "result": result,
                                    "score": min([t[3] for t in triples], default=1.0)}]
        else:
            task["annotations"] = [{"result": result}]
        tasks.append(task)
        summary.docs += 1
        summary.triples += len(triples)
    Path(path).write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf8")
    Path(str(path) + ".label_config.xml").write_text(labelstudio_config(ent_labels, rel_labels), encoding="utf8")


def labelstudio_config(entity_labels: Iterable[str], relation_labels: Iterable[str]) -> str:
    """A Label Studio labeling config for the exported tasks (names match ``from_name``/``to_name``)."""
    from xml.sax.saxutils import quoteattr

    ents = "\n".join(f"    <Label value={quoteattr(x)}/>" for x in sorted(set(entity_labels) or {UNTYPED}))
    rels = "\n".join(f"    <Relation value={quoteattr(x)}/>" for x in sorted(relation_labels))
    return (f'<View>\n  <Relations>\n{rels}\n  </Relations>\n  <Labels name="label" toName="text">\n{ents}\n'
            f'  </Labels>\n  <Text name="text" value="$text"/>\n</View>\n')


def to_doccano(documents: Iterable[Dict], path: str, summary: AnnotationExport) -> None:
    """doccano relation JSONL (``entities`` with character offsets, ``relations`` by entity id); doccano
    has no scores, so they are kept under ``meta``."""
    with open(path, "w", encoding="utf8") as out:
        for n, record in enumerate(documents, 1):
            entities, triples = _entities(record, summary)
            out.write(json.dumps({
                "id": n, "text": record["text"],
                "entities": [{"id": k, "label": label, "start_offset": start, "end_offset": end}
                             for k, (start, end, label) in enumerate(entities)],
                "relations": [{"id": k, "from_id": s, "to_id": o, "type": relation}
                              for k, (s, relation, o, _) in enumerate(triples)],
                "meta": {"doc_id": record["id"], "scores": [t[3] for t in triples]},
            }, ensure_ascii=False) + "\n")
            summary.docs += 1
            summary.triples += len(triples)


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
            entities, triples = _entities(record, summary)
            spans, ok = [], []
            for start, end, label in entities:
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


def export_annotations(input_path: str, output_path: str, fmt: str, lang: str = "en",
                       predictions: bool = None) -> AnnotationExport:
    """Write INPUT's documents and triples as tasks for an annotation tool (see ANNOTATION_FORMATS).
    For Label Studio, ``predictions`` (default: True for extract JSONL, False for .spacy) puts the
    triples under ``predictions`` rather than ``annotations``."""
    if fmt not in ANNOTATION_FORMATS:
        raise ValueError(f"Unknown annotation format '{fmt}': use {', '.join(ANNOTATION_FORMATS)}.")
    summary = AnnotationExport()
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    documents = read_documents(input_path, summary)
    from ..safe_io import atomic_path

    # through a temporary file, as the other formats: a failed export leaves no partial output
    with atomic_path(output_path) as tmp:
        if fmt == "labelstudio":
            if predictions is None:
                predictions = Path(input_path).suffix != ".spacy"
            to_labelstudio(documents, str(tmp), summary, predictions)
            os.replace(str(tmp) + ".label_config.xml", str(output_path) + ".label_config.xml")
        elif fmt == "doccano":
            to_doccano(documents, str(tmp), summary)
        else:
            to_prodigy(documents, str(tmp), summary, lang)
    return summary
