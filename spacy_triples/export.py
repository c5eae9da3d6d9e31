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
import re
import unicodedata
from pathlib import Path
from typing import Dict, Iterable, Iterator

from .safe_io import atomic_open, atomic_path, check_output_path

FIELDS = [
    "doc_id", "subject", "subject_label", "subject_start", "subject_end", "relation",
    "object", "object_label", "object_start", "object_end", "score",
]
RDF_FORMATS = {"nt": "nt", "ntriples": "nt", "ttl": "turtle", "turtle": "turtle", "nq": "nquads", "nquads": "nquads", "trig": "trig"}


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

        from .triples import install_extensions

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
    with path_.open("rb") as handle:
        for n, raw in enumerate(handle, 1):
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
           provenance: bool = True) -> int:
    """Export the triples of INPUT to OUTPUT; the format comes from ``fmt`` or OUTPUT's suffix."""
    if fmt == "auto":
        fmt = Path(output_path).suffix.lstrip(".").lower()
    fmt = fmt.lower()
    if fmt not in ("jsonl", "csv", "graphml") and fmt not in RDF_FORMATS:
        raise ValueError(
            f"Unknown export format '{fmt}': use --format jsonl, csv, graphml, nt, ttl, nq or trig "
            "(or an output file with that suffix)."
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
    raise ValueError(
        f"Unknown export format '{fmt}': use --format jsonl, csv, graphml, nt, ttl, nq or trig "
        "(or an output file with that suffix)."
    )
