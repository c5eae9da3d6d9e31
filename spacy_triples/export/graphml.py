"""GraphML writer, through networkx: one node per normalised entity (its slug), one edge per triple
occurrence."""
import re
from typing import Dict, Iterable

from ..safe_io import atomic_path
from .slugs import slug

_XML_INVALID = re.compile("[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold (control characters, lone surrogates,
    U+FFFE/U+FFFF) replaced by U+FFFD, so the GraphML file can be read back (node ids stay distinct:
    they are slugs, where such characters are percent-encoded)."""
    return _XML_INVALID.sub("\ufffd", text)


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


def to_graphml(records: Iterable[Dict], path: str) -> int:
    """Write the records' graph as GraphML; returns the number of edges."""
    import networkx

    graph = to_networkx(records)
    with atomic_path(path) as tmp:
        networkx.write_graphml(graph, str(tmp))
    return graph.number_of_edges()
