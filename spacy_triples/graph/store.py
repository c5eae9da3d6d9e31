"""The corpus graph in an Oxigraph store (``pip install 'spacy-triples[graph]'``).

Model (``t:`` is the namespace, ``http://example.org/triples/`` by default):

- an entity ``<t:entity/TYPE/KEY>`` (or ``<t:id/ID>``, or ID itself when it is an absolute IRI, for an
  alias-table or ``kb_id`` identity) ``a t:Entity`` with ``t:key``, ``t:type``, ``t:idSource``
  (``key``/``alias``/``kb``), ``t:canonicalId`` (alias/kb), ``rdfs:label`` (the first surface form
  stored) and one ``t:alias`` per surface form seen;
- the fact itself, asserted: ``<subject> <t:relation/LABEL> <object>``;
- the edge, a reified statement ``<t:edge/HASH> a rdf:Statement`` with ``rdf:subject``,
  ``rdf:predicate``, ``rdf:object``, ``t:count`` (evidence items) and ``t:bestScore``;
- each evidence item ``<t:evidence/HASH> a t:Evidence ; t:supports <edge>`` with ``t:docId``,
  ``t:sentenceStart``/``t:sentenceEnd``/``t:sentence``, ``t:subjectText``/``t:subjectStart``/
  ``t:subjectEnd``, the same for the object, ``t:score``, ``t:pipeline``, ``t:pipelineVersion``.

Every IRI is a function of keys (entity keys, relation label; for evidence a hash of the edge, the doc
id, every offset and the pipeline), so loading the same corpus twice adds nothing.
"""
import hashlib
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional

from ..export.rdf import check_namespace
from ..export.slugs import doc_slug, relation_slug, slug
from .facts import Evidence, Fact, FactBuilder, check_jsonl, iter_facts, read_docs
from .identity import EntityRef, EntityResolver

DEFAULT_NAMESPACE = "http://example.org/triples/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SETTINGS = "urn:spacy-triples:graph"  # the store's own settings, independent of the namespace
FORMAT_VERSION = "1"
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\]+$")


def _ox():
    try:
        import pyoxigraph
    except ImportError as err:
        raise ValueError("The corpus graph needs pyoxigraph: pip install 'spacy-triples[graph]'.") from err
    return pyoxigraph


def _hash(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf8", "surrogatepass")).hexdigest()[:32]


class Vocabulary:
    """The IRIs of one namespace."""

    def __init__(self, namespace: str = DEFAULT_NAMESPACE):
        check_namespace(namespace)
        self.ns = namespace

    def entity(self, ref: EntityRef) -> str:
        if ref.source == "key":
            return f"{self.ns}entity/{relation_slug(ref.type) or '_'}/{slug(ref.key)}"
        if _ABSOLUTE_IRI.match(ref.id):
            return ref.id
        return f"{self.ns}id/{doc_slug(ref.id)}"

    def relation(self, label: str) -> str:
        return f"{self.ns}relation/{relation_slug(label)}"

    def edge(self, s: str, p: str, o: str) -> str:
        return f"{self.ns}edge/{_hash(s, p, o)}"

    def evidence(self, edge: str, ev: Evidence) -> str:
        return f"{self.ns}evidence/{_hash(edge, ev.doc_id, ev.sentence_start, ev.sentence_end, ev.subject_start, ev.subject_end, ev.object_start, ev.object_end, ev.pipeline, ev.pipeline_version)}"

    def term(self, name: str) -> str:
        return f"{self.ns}{name}"


@dataclass
class GraphSummary:
    """What a load did; every triple read is kept (evidence added or already there) or skipped."""

    docs: int = 0
    triples: int = 0
    entities_added: int = 0
    entities_merged: int = 0  # mentions that resolved to an entity already in the store or seen before
    aliases_added: int = 0
    edges_added: int = 0
    edges_merged: int = 0  # new evidence for an edge that already existed (in the store or this load)
    evidence_added: int = 0
    evidence_present: int = 0  # already in the store: loading it again adds nothing
    skipped: Counter = field(default_factory=Counter)
    skipped_docs: Counter = field(default_factory=Counter)
    quads_before: int = 0
    quads_after: int = 0

    def lines(self) -> List[str]:
        out = [
            f"{self.docs} documents, {self.triples} triples read",
            f"entities: {self.entities_added} added, {self.entities_merged} mentions merged into existing entities, "
            f"{self.aliases_added} surface forms added",
            f"edges: {self.edges_added} added, {self.edges_merged} merged (new evidence for an existing edge)",
            f"evidence: {self.evidence_added} added, {self.evidence_present} already in the store",
        ]
        out += [f"skipped: {n} triples ({why})" for why, n in sorted(self.skipped.items())]
        out += [f"skipped: {n} documents ({why})" for why, n in sorted(self.skipped_docs.items())]
        out.append(f"store: {self.quads_before} -> {self.quads_after} quads")
        return out

    def check(self) -> None:
        kept = self.evidence_added + self.evidence_present
        assert kept + sum(self.skipped.values()) == self.triples, "graph load accounting does not add up"


def _is_store(path: Path) -> bool:
    return (path / "CURRENT").is_file()


def open_store(path, create: bool = True):
    """Open (or, with ``create``, create) an Oxigraph store folder with a clear error when it is
    something else or in use by another process."""
    ox = _ox()
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"The store {path} is a file: give a folder (new, empty or an Oxigraph store).")
    if path.is_dir() and any(path.iterdir()) and not _is_store(path):
        raise ValueError(f"{path} is a non-empty folder that is not an Oxigraph store: give a new or empty folder, "
                         "or the folder of a store built by 'spacy-triples graph'.")
    if not create and not (path.is_dir() and _is_store(path)):
        raise ValueError(f"The store {path} does not exist: build it first with 'spacy-triples graph INPUT {path}'.")
    try:
        return ox.Store(str(path))
    except OSError as err:
        if "lock" in str(err).lower():
            raise ValueError(f"The store {path} is open in another process (its lock is held): wait for it to "
                             "finish, or close it.") from err
        raise ValueError(f"Cannot open the store {path}: {err}") from err


def store_settings(store) -> Dict[str, str]:
    ox = _ox()
    out = {}
    for q in store.quads_for_pattern(ox.NamedNode(SETTINGS), None, None, ox.DefaultGraph()):
        out[q.predicate.value.rsplit(":", 1)[-1]] = q.object.value
    return out


class GraphStore:
    """A corpus graph in an Oxigraph store; ``load(facts)`` adds what is new."""

    def __init__(self, path=None, namespace: str = DEFAULT_NAMESPACE, strip_accents: bool = False):
        ox = self.ox = _ox()
        self.path = path
        self.store = open_store(path) if path is not None else ox.Store()
        self.vocab = Vocabulary(namespace)
        self.strip_accents = strip_accents
        self._check_settings()
        t = self.vocab.term
        N = ox.NamedNode
        self.T = {name: N(t(name)) for name in (
            "Entity", "Evidence", "key", "type", "alias", "idSource", "canonicalId", "count", "bestScore", "supports",
            "docId", "sentenceStart", "sentenceEnd", "sentence", "subjectText", "subjectStart", "subjectEnd",
            "objectText", "objectStart", "objectEnd", "score", "pipeline", "pipelineVersion")}
        self.rdf_type, self.label = N(RDF + "type"), N(RDFS + "label")
        self.statement = N(RDF + "Statement")
        self.rdf_s, self.rdf_p, self.rdf_o = N(RDF + "subject"), N(RDF + "predicate"), N(RDF + "object")
        self.g = ox.DefaultGraph()
        self._entities: Dict[str, bool] = {}  # iri -> existed before this load
        self._aliases: set = set()
        self._edges: Dict[str, List] = {}  # iri -> [count, best, existed before, changed]
        self._evidence: set = set()

    # --- settings --------------------------------------------------------------------------------------
    def _check_settings(self):
        ox = self.ox
        norm = "nfkc-casefold-whitespace" + ("-strip-accents" if self.strip_accents else "")
        settings = store_settings(self.store)
        if settings:
            problems = []
            if settings.get("namespace") != self.vocab.ns:
                problems.append(f"--namespace {settings.get('namespace')} (given: {self.vocab.ns})")
            if settings.get("normalisation") != norm:
                flag = "with" if settings.get("normalisation", "").endswith("strip-accents") else "without"
                problems.append(f"{flag} --strip-accents")
            if problems:
                raise ValueError(f"The store {self.path} was built with {' and '.join(problems)}: update it with the "
                                 "same settings (entity IRIs depend on them), or build a new store.")
            return
        s = ox.NamedNode(SETTINGS)
        self.store.extend([
            ox.Quad(s, ox.NamedNode(f"{SETTINGS}:namespace"), ox.Literal(self.vocab.ns), ox.DefaultGraph()),
            ox.Quad(s, ox.NamedNode(f"{SETTINGS}:normalisation"), ox.Literal(norm), ox.DefaultGraph()),
            ox.Quad(s, ox.NamedNode(f"{SETTINGS}:format"), ox.Literal(FORMAT_VERSION), ox.DefaultGraph()),
        ])

    def resolver(self, aliases=None) -> EntityResolver:
        return EntityResolver(aliases, strip_accents=self.strip_accents)

    # --- literals --------------------------------------------------------------------------------------
    def _int(self, n: int):
        return self.ox.Literal(str(int(n)), datatype=self.ox.NamedNode(XSD + "integer"))

    def _double(self, x: float):
        return self.ox.Literal(repr(float(x)), datatype=self.ox.NamedNode(XSD + "double"))

    def _has(self, s, p, o=None) -> bool:
        return next(iter(self.store.quads_for_pattern(s, p, o, self.g)), None) is not None

    # --- loading ---------------------------------------------------------------------------------------
    def _entity_quads(self, ref: EntityRef, text: str, summary: GraphSummary, out: List):
        ox, T = self.ox, self.T
        iri = self.vocab.entity(ref)
        node = ox.NamedNode(iri)
        if iri not in self._entities:
            existed = self._has(node, self.rdf_type, T["Entity"])
            self._entities[iri] = existed
            if existed:
                summary.entities_merged += 1
            else:
                summary.entities_added += 1
                out += [ox.Quad(node, self.rdf_type, T["Entity"], self.g),
                        ox.Quad(node, self.label, ox.Literal(text), self.g),
                        ox.Quad(node, T["idSource"], ox.Literal(ref.source), self.g)]
                if ref.source != "key":
                    out.append(ox.Quad(node, T["canonicalId"], ox.Literal(ref.id), self.g))
        else:
            summary.entities_merged += 1
        for p, value in ((T["key"], ref.key), (T["type"], ref.type), (T["alias"], text)):
            quad = ox.Quad(node, p, ox.Literal(value), self.g)
            if (iri, p.value, value) in self._aliases:
                continue
            self._aliases.add((iri, p.value, value))
            if self._entities[iri] and quad in self.store:
                continue
            out.append(quad)
            if p is T["alias"]:
                summary.aliases_added += 1
        return node

    def _edge_state(self, edge_iri: str, node) -> List:
        if edge_iri not in self._edges:
            T = self.T
            counts = [int(q.object.value) for q in self.store.quads_for_pattern(node, T["count"], None, self.g)]
            bests = [float(q.object.value) for q in self.store.quads_for_pattern(node, T["bestScore"], None, self.g)]
            existed = self._has(node, self.rdf_type, self.statement)
            if existed and len(counts) != 1:  # an interrupted update: count the evidence again
                evidence = [q.subject for q in self.store.quads_for_pattern(None, T["supports"], node, self.g)]
                counts = [len(evidence)]
                bests = [float(q.object.value) for ev in evidence
                         for q in self.store.quads_for_pattern(ev, T["score"], None, self.g)]
            self._edges[edge_iri] = [counts[0] if existed else 0, max(bests, default=0.0) if existed else 0.0,
                                     existed, existed and (len(counts) != 1)]
        return self._edges[edge_iri]

    def _fact_quads(self, fact: Fact, summary: GraphSummary) -> List:
        ox, T, g = self.ox, self.T, self.g
        out: List = []
        ev = fact.evidence
        s = self._entity_quads(fact.subject, ev.subject_text, summary, out)
        o = self._entity_quads(fact.object, ev.object_text, summary, out)
        p_iri = self.vocab.relation(fact.relation)
        p = ox.NamedNode(p_iri)
        edge_iri = self.vocab.edge(s.value, p_iri, o.value)
        edge = ox.NamedNode(edge_iri)
        state = self._edge_state(edge_iri, edge)
        ev_iri = self.vocab.evidence(edge_iri, ev)
        ev_node = ox.NamedNode(ev_iri)
        if ev_iri in self._evidence or self._has(ev_node, T["supports"], edge):
            self._evidence.add(ev_iri)
            summary.evidence_present += 1
            return out
        self._evidence.add(ev_iri)
        summary.evidence_added += 1
        if state[0] == 0 and not state[2]:
            summary.edges_added += 1
            out += [ox.Quad(s, p, o, g), ox.Quad(p, self.label, ox.Literal(fact.relation), g),
                    ox.Quad(edge, self.rdf_type, self.statement, g), ox.Quad(edge, self.rdf_s, s, g),
                    ox.Quad(edge, self.rdf_p, p, g), ox.Quad(edge, self.rdf_o, o, g)]
        else:
            summary.edges_merged += 1
        state[0] += 1
        state[1] = max(state[1], ev.score)
        state[3] = True
        L = ox.Literal
        out += [
            ox.Quad(ev_node, self.rdf_type, T["Evidence"], g), ox.Quad(ev_node, T["supports"], edge, g),
            ox.Quad(ev_node, T["docId"], L(ev.doc_id), g),
            ox.Quad(ev_node, T["sentenceStart"], self._int(ev.sentence_start), g),
            ox.Quad(ev_node, T["sentenceEnd"], self._int(ev.sentence_end), g),
            ox.Quad(ev_node, T["sentence"], L(ev.sentence), g),
            ox.Quad(ev_node, T["subjectText"], L(ev.subject_text), g),
            ox.Quad(ev_node, T["subjectStart"], self._int(ev.subject_start), g),
            ox.Quad(ev_node, T["subjectEnd"], self._int(ev.subject_end), g),
            ox.Quad(ev_node, T["objectText"], L(ev.object_text), g),
            ox.Quad(ev_node, T["objectStart"], self._int(ev.object_start), g),
            ox.Quad(ev_node, T["objectEnd"], self._int(ev.object_end), g),
            ox.Quad(ev_node, T["score"], self._double(ev.score), g),
            ox.Quad(ev_node, T["pipeline"], L(ev.pipeline), g),
            ox.Quad(ev_node, T["pipelineVersion"], L(ev.pipeline_version), g),
        ]
        return out

    def _flush_edges(self):
        """The count and best score quads to add and to remove for every edge changed since the last flush."""
        add, remove = [], []
        for iri, state in self._edges.items():
            if not state[3]:
                continue
            node = self.ox.NamedNode(iri)
            for p, value, literal in ((self.T["count"], state[0], self._int), (self.T["bestScore"], state[1], self._double)):
                old = list(self.store.quads_for_pattern(node, p, None, self.g))
                if len(old) == 1 and float(old[0].object.value) == value:
                    continue  # unchanged (Oxigraph may store another lexical form of the same number)
                remove += old
                add.append(self.ox.Quad(node, p, literal(value), self.g))
            state[3] = False
        return add, remove

    def load(self, facts_per_doc: Iterable[List[Fact]], summary: Optional[GraphSummary] = None,
             chunk_size: int = 5000) -> GraphSummary:
        """Add the facts (one list per document) to the store, ``chunk_size`` quads per transaction."""
        summary = summary or GraphSummary()
        summary.quads_before = len(self.store)
        pending: List = []
        for facts in facts_per_doc:
            for fact in facts:
                pending += self._fact_quads(fact, summary)
            if len(pending) >= chunk_size:
                self._commit(pending)
                pending = []
        self._commit(pending)
        self.store.flush()
        summary.quads_after = len(self.store)
        return summary

    def _commit(self, quads: List) -> None:
        add, remove = self._flush_edges()
        # old counts go first: an interrupted commit leaves an edge without a count, which the next
        # load recounts from its evidence (_edge_state)
        for q in remove:
            self.store.remove(q)
        self.store.extend(quads + add)

    # --- reading ---------------------------------------------------------------------------------------
    def prefixes(self) -> Dict[str, str]:
        return query_prefixes(self.vocab.ns)

    def query(self, sparql: str):
        return run_query(self.store, sparql, self.vocab.ns)

    def __len__(self) -> int:
        return len(self.store)


def query_prefixes(ns: str) -> Dict[str, str]:
    return {"t": ns, "rel": f"{ns}relation/", "ent": f"{ns}entity/", "rdf": RDF, "rdfs": RDFS, "xsd": XSD}


def run_query(store, sparql: str, ns: Optional[str]):
    prefixes = query_prefixes(ns) if ns else None
    try:
        return store.query(sparql, prefixes=prefixes)
    except SyntaxError as err:
        raise ValueError(f"The SPARQL query does not parse: {err}") from err


def build_graph(input_path, store_path, aliases=None, min_score: float = 0.0, schema=None,
                namespace: str = DEFAULT_NAMESPACE, strip_accents: bool = False, default_pipeline: str = "unknown",
                progress: bool = False) -> GraphSummary:
    """``spacy-triples graph``: add the triples of a ``.spacy`` file or ``extract`` JSONL to the store
    at ``store_path`` (created when new). Everything is checked (options, alias table, schema, input
    path) before the store is opened; a malformed JSONL line stops the load before anything is written."""
    from ..schema import load_relation_schema
    from .identity import AliasTable

    check_namespace(namespace)
    if not Path(input_path).is_file():
        raise ValueError(f"{input_path} does not exist: give a .spacy file or the JSONL written by 'extract'.")
    table = AliasTable.from_file(aliases, strip_accents) if aliases else None
    relation_schema = load_relation_schema(schema) if schema else {}
    if schema and not relation_schema:
        raise ValueError(f"The schema {schema} names no relation: every triple would be skipped.")
    builder = FactBuilder(EntityResolver(table, strip_accents), min_score, relation_schema, default_pipeline)
    if Path(input_path).suffix == ".spacy":
        docs = read_docs(Path(input_path))  # a file that is not a DocBin fails here, before the store opens
        facts = _doc_facts(docs, builder, progress, input_path)
    else:
        total = check_jsonl(input_path, builder)  # a malformed line fails here, before the store opens
        facts = iter_facts(input_path, builder, progress=False, validate=False)
        if progress:
            from tqdm import tqdm

            facts = tqdm(facts, total=total, unit=" docs", file=sys.stderr, desc=f"graph {Path(input_path).name}")
    graph = GraphStore(store_path, namespace, strip_accents)
    summary = GraphSummary()
    graph.load(facts, summary)
    summary.docs, summary.triples = builder.docs, builder.triples
    summary.skipped, summary.skipped_docs = builder.skipped, builder.skipped_docs
    summary.check()
    return summary


def _doc_facts(docs, builder: FactBuilder, progress: bool, name) -> Iterator[List[Fact]]:
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, unit=" docs", file=sys.stderr, desc=f"graph {Path(name).name}")
    for doc in docs:
        yield builder.from_doc(doc)


def _term_text(term, prefixes: Dict[str, str]) -> str:
    if term is None:
        return ""
    name = type(term).__name__
    if name == "NamedNode":
        for prefix, iri in sorted(prefixes.items(), key=lambda kv: -len(kv[1])):
            local = term.value[len(iri):]
            if term.value.startswith(iri) and local and "#" not in local:  # for reading, not valid SPARQL
                return f"{prefix}:{local}"
        return f"<{term.value}>"
    if name == "BlankNode":
        return f"_:{term.value}"
    return getattr(term, "value", str(term))


def query_graph(store_path, sparql: str, fmt: str = "table") -> str:
    """``spacy-triples graph-query``: the results of a SPARQL 1.1 query as an aligned table, SPARQL
    JSON or CSV. The prefixes ``t:``, ``rel:``, ``ent:``, ``rdf:``, ``rdfs:``, ``xsd:`` are declared."""
    ox = _ox()
    if fmt not in ("table", "json", "csv"):
        raise ValueError(f"Unknown --format {fmt!r}: use table, json or csv.")
    store = open_store(store_path, create=False)
    ns = store_settings(store).get("namespace")
    results = run_query(store, sparql, ns)
    prefixes = query_prefixes(ns) if ns else {}
    if isinstance(results, ox.QueryBoolean):
        return {"table": str(bool(results)).lower(), "csv": f"{str(bool(results)).lower()}\n"}.get(
            fmt, '{"head": {}, "boolean": %s}' % str(bool(results)).lower())
    if isinstance(results, ox.QueryTriples):
        if fmt != "table":
            raise ValueError("CONSTRUCT and DESCRIBE return RDF, not a table: use --format table (N-Triples).")
        return ox.serialize(results, format=ox.RdfFormat.N_TRIPLES).decode("utf8")
    if fmt == "json":
        return results.serialize(format=ox.QueryResultsFormat.JSON).decode("utf8")
    if fmt == "csv":
        return results.serialize(format=ox.QueryResultsFormat.CSV).decode("utf8")
    names = [v.value for v in results.variables]
    rows = [[_term_text(solution[name], prefixes) for name in names] for solution in results]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(names), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append(f"({len(rows)} rows)")
    return "\n".join(out)
