"""Export triples from a ``.spacy`` file or ``extract`` JSONL to JSONL, CSV, RDF, GraphML or an
annotation tool's format: one reader of the inputs (``readers``) and one writer per target format,
as ``convert/`` has one reader per source format.

- ``readers``: ``.spacy`` DocBins and extract JSONL, as flat triple records (``read_triples``) or as
  documents (``read_documents``);
- ``flat``: JSONL and CSV; ``rdf``: N-Triples, Turtle, N-Quads, TriG; ``graphml``: GraphML (networkx);
  ``slugs``: the entity, relation and document ids of RDF and GraphML;
- ``labelstudio``, ``doccano``, ``prodigy``: tasks for annotation tools (``annotations``: what they
  share), read back by ``spacy-triples convert``.

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
import os
import sys
from pathlib import Path

from ..safe_io import atomic_path, check_output_path
from .annotations import ANNOTATION_FORMATS, UNTYPED, AnnotationExport
from .doccano import to_doccano
from .flat import to_csv, to_jsonl
from .graphml import to_graphml, to_networkx, xml_safe
from .labelstudio import labelstudio_config, to_labelstudio
from .prodigy import to_prodigy
from .rdf import RDF_FORMATS, check_namespace, to_rdf, to_rdf_graph
from .readers import (FIELDS, complete_triple, flat_record, read_docbin, read_documents, read_extract_records,
                      read_input, read_triples)
from .slugs import doc_slug, relation_slug, slug

_complete = complete_triple  # its name before it was public (graph imported it)

# the writers of the flat records, by format (RDF_FORMATS and ANNOTATION_FORMATS have their own)
FLAT_WRITERS = {"jsonl": to_jsonl, "csv": to_csv, "graphml": to_graphml}


def export(input_path: str, output_path: str, fmt: str = "auto", namespace: str = "http://example.org/triples/",
           provenance: bool = True, lang: str = "en", predictions: bool = None) -> int:
    """Export the triples of INPUT to OUTPUT; the format comes from ``fmt`` or OUTPUT's suffix."""
    if fmt == "auto":
        fmt = Path(output_path).suffix.lstrip(".").lower()
    fmt = fmt.lower()
    if fmt not in FLAT_WRITERS and fmt not in RDF_FORMATS and fmt not in ANNOTATION_FORMATS:
        raise ValueError(
            f"Unknown export format '{fmt}': use --format jsonl, csv, graphml, nt, ttl, nq, trig, labelstudio, "
            "doccano or prodigy (or an output file with that suffix)."
        )
    if fmt in RDF_FORMATS:
        check_namespace(namespace)
    check_output_path(output_path, input_path)
    # every writer goes through a temporary file: a failed export leaves no partial output
    if fmt in FLAT_WRITERS:
        return FLAT_WRITERS[fmt](read_triples(input_path), output_path)
    if fmt in RDF_FORMATS:
        return to_rdf(read_triples(input_path), output_path, fmt, namespace, provenance)
    summary = export_annotations(input_path, output_path, fmt, lang, predictions)
    print(summary.line(), file=sys.stderr)
    return summary.triples


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


__all__ = [
    "ANNOTATION_FORMATS", "AnnotationExport", "FIELDS", "FLAT_WRITERS", "RDF_FORMATS", "UNTYPED", "check_namespace",
    "complete_triple", "doc_slug", "export", "export_annotations", "flat_record", "labelstudio_config",
    "read_docbin", "read_documents", "read_extract_records", "read_input", "read_triples", "relation_slug", "slug",
    "to_csv", "to_doccano", "to_graphml", "to_jsonl", "to_labelstudio", "to_networkx", "to_prodigy", "to_rdf",
    "to_rdf_graph", "xml_safe",
]
