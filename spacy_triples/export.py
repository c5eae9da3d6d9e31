"""Export triples from a ``.spacy`` file or ``extract`` JSONL to JSONL, CSV, RDF or GraphML.

Every exported triple is a flat record (the JSONL/CSV schema)::

    doc_id, subject, subject_label, subject_start, subject_end, relation,
    object, object_label, object_start, object_end, score

with character offsets into the document text, end exclusive.

RDF: entities become ``<ns>entity/<slug of the normalised text>``, relations
``<ns>relation/<slug of the label>``; each fact is one ``(subject, relation, object)`` triple. With
provenance (the default), each occurrence is also an ``rdf:Statement`` (reification) carrying
``ns:docId``, the offsets and ``ns:score`` (N-Triples, Turtle), or, for N-Quads/TriG, the fact is put
in a named graph per document ``<ns>doc/<id>``.
"""
import csv
import json
import re
import unicodedata
from pathlib import Path
from typing import Dict, Iterable, Iterator

FIELDS = [
    "doc_id", "subject", "subject_label", "subject_start", "subject_end", "relation",
    "object", "object_label", "object_start", "object_end", "score",
]
RDF_FORMATS = {"nt": "nt", "ntriples": "nt", "ttl": "turtle", "turtle": "turtle", "nq": "nquads", "nquads": "nquads", "trig": "trig"}


def read_triples(path: str) -> Iterator[Dict]:
    """Flat triple records from a .spacy DocBin (gold or predicted doc._.triples) or extract JSONL."""
    path_ = Path(path)
    if not path_.is_file():
        raise ValueError(f"{path} does not exist: give a .spacy file or the JSONL written by 'extract'.")
    if path_.suffix == ".spacy":
        import spacy
        from spacy.tokens import DocBin

        from .triples import install_extensions

        install_extensions()
        for n, doc in enumerate(DocBin().from_disk(path_).get_docs(spacy.blank("xx").vocab)):
            doc_id = doc.user_data.get("source", n)
            for t in doc._.triples:
                yield _flat(doc_id, t.to_dict())
        return
    with path_.open(encoding="utf8") as handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {n}: malformed JSON ({err.msg}).") from err
            for t in record.get("triples", []):
                yield _flat(record.get("id", n), t)


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
    with open(path, "w", encoding="utf8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def to_csv(records: Iterable[Dict], path: str) -> int:
    n = 0
    with open(path, "w", encoding="utf8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow(record)
            n += 1
    return n


def slug(text: str) -> str:
    """Normalised IRI-safe text: NFKC, lower case, runs of non-word characters to '_'."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[^\w]+", "_", text, flags=re.UNICODE).strip("_") or "_"


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
        p = URIRef(ns[f"relation/{slug(r['relation'])}"])
        o = URIRef(ns[f"entity/{slug(r['object'])}"])
        graph = store.graph(URIRef(ns[f"doc/{slug(str(r['doc_id']))}"])) if named_graphs else store
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
    store.serialize(destination=path, format=rdf_format, encoding="utf-8")
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
        graph.add_node(s, text=r["subject"], label=r["subject_label"] or "")
        graph.add_node(o, text=r["object"], label=r["object_label"] or "")
        graph.add_edge(s, o, relation=r["relation"], score=float(r["score"]), doc_id=str(r["doc_id"]),
                       subject_start=int(r["subject_start"]), object_start=int(r["object_start"]))
    return graph


def to_graphml(records: Iterable[Dict], path: str) -> int:
    import networkx

    graph = to_networkx(records)
    networkx.write_graphml(graph, path)
    return graph.number_of_edges()


def export(input_path: str, output_path: str, fmt: str = "auto", namespace: str = "http://example.org/triples/",
           provenance: bool = True) -> int:
    """Export the triples of INPUT to OUTPUT; the format comes from ``fmt`` or OUTPUT's suffix."""
    if fmt == "auto":
        fmt = Path(output_path).suffix.lstrip(".").lower()
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    records = read_triples(input_path)
    if fmt == "jsonl":
        return to_jsonl(records, output_path)
    if fmt == "csv":
        return to_csv(records, output_path)
    if fmt == "graphml":
        return to_graphml(records, output_path)
    if fmt in RDF_FORMATS:
        return to_rdf(records, output_path, fmt, namespace, provenance)
    raise ValueError(
        f"Unknown export format '{fmt}': use --format jsonl, csv, graphml, nt, ttl, nq or trig "
        "(or an output file with that suffix)."
    )
