"""RDF writer: N-Triples, Turtle, N-Quads or TriG, through rdflib.

Entities become ``<ns>entity/<slug of the normalised text>``, relations ``<ns>relation/<label>``
(``slugs``); each fact is one ``(subject, relation, object)`` triple. With provenance (the default),
each occurrence is also an ``rdf:Statement`` (reification) carrying ``ns:docId``, the offsets and
``ns:score`` (N-Triples, Turtle), or, for N-Quads/TriG, the fact is put in a named graph per document
``<ns>doc/<id>``.
"""
import re
from typing import Dict, Iterable

from ..safe_io import atomic_path
from .slugs import doc_slug, relation_slug, slug

# format names and suffixes -> rdflib's serializer
RDF_FORMATS = {"nt": "nt", "ntriples": "nt", "ttl": "turtle", "turtle": "turtle", "nq": "nquads", "nquads": "nquads", "trig": "trig"}


def check_namespace(namespace: str) -> None:
    """The --namespace must be an absolute IRI that entity ids can be appended to."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\]*$", namespace or ""):
        raise ValueError(
            f"--namespace {namespace!r} is not an absolute IRI without spaces or <>\"{{}}|^`\\ "
            "(e.g. http://example.org/triples/)."
        )
    if not namespace.endswith(("/", "#")):
        raise ValueError(f"--namespace {namespace!r} must end with '/' or '#', so that ids can be appended.")


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
    """Write the records as RDF in ``fmt`` (a key of ``RDF_FORMATS``); returns the number of records."""
    if fmt not in RDF_FORMATS:
        raise ValueError(f"Unknown RDF format '{fmt}'. Choose one of: {', '.join(sorted(RDF_FORMATS))}.")
    records = list(records)
    rdf_format = RDF_FORMATS[fmt]
    store = to_rdf_graph(records, namespace, provenance, named_graphs=rdf_format in ("nquads", "trig"))
    with atomic_path(path) as tmp:
        store.serialize(destination=str(tmp), format=rdf_format, encoding="utf-8")
    return len(records)
