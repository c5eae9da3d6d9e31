"""LangChain: turn Documents into ``GraphDocument`` objects with a spacy-triples pipeline instead of
an LLM, as ``LLMGraphTransformer`` does (``pip install 'spacy-triples[langchain]'``).

``GraphDocument``, ``Node`` and ``Relationship`` come from ``langchain_community.graphs.graph_document``
(what ``LLMGraphTransformer`` returns; ``Neo4jGraph.add_graph_documents`` and the other LangChain graph
stores take them). Nodes are entities as the corpus graph resolves them (``id``: the alias-table or
kb id, else the normalised text; ``type``: the entity label, ``ENTITY`` when untyped); the same fact
seen twice in a document is one ``Relationship`` with ``count`` and the best ``score``.
"""
from collections import Counter
from typing import Any, List, Optional, Sequence

from .facts import FactBuilder, group_facts, load_nlp, pipeline_info
from .identity import AliasTable, EntityResolver

try:
    from langchain_community.graphs.graph_document import GraphDocument, Node, Relationship
    from langchain_core.documents import Document
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("The LangChain graph transformer needs langchain-community: "
                      "pip install 'spacy-triples[langchain]'.") from err


class SpacyTriplesGraphTransformer:
    """``convert_to_graph_documents(documents)`` with a trained spacy-triples pipeline.

    nlp: a loaded pipeline, a path or a package name. min_score / schema: as ``spacy-triples graph``
    (skips are counted in ``self.skipped``). aliases: an :class:`AliasTable` or a CSV/JSONL path.
    """

    def __init__(self, nlp, min_score: float = 0.0, schema=None, aliases=None, strip_accents: bool = False,
                 batch_size: int = 32, include_evidence: bool = True):
        from ..schema import load_relation_schema

        self.nlp = load_nlp(nlp)
        if isinstance(aliases, (str, bytes)) or hasattr(aliases, "__fspath__"):
            aliases = AliasTable.from_file(aliases, strip_accents)
        self.resolver = EntityResolver(aliases, strip_accents)
        self.schema = load_relation_schema(schema) if schema else {}
        self.min_score = min_score
        self.batch_size = batch_size
        self.include_evidence = include_evidence
        self.pipeline = pipeline_info(self.nlp)
        FactBuilder(self.resolver, min_score, self.schema)  # check the options now
        self.skipped: Counter = Counter()

    def _graph_document(self, doc, document: Document, n: int) -> GraphDocument:
        builder = FactBuilder(self.resolver, self.min_score, self.schema,
                              f"{self.pipeline['name']}@{self.pipeline['version']}")
        doc_id = document.metadata.get("id", getattr(document, "id", None) or n)
        entities, edges = group_facts(builder.from_doc(doc, doc_id))
        self.skipped.update(builder.skipped)
        nodes = {}
        for identity, (ref, forms) in entities.items():
            nodes[identity] = Node(id=ref.id, type=ref.type,
                                   properties={"name": forms[0], "aliases": forms, "key": ref.key, "id_source": ref.source})
        relationships = []
        for e in edges:
            props = {"score": e.best_score, "count": e.count}
            if self.include_evidence:
                props.update(sentence=e.evidence[0].sentence, subject_text=e.evidence[0].subject_text,
                             object_text=e.evidence[0].object_text, pipeline=e.evidence[0].pipeline,
                             pipeline_version=e.evidence[0].pipeline_version)
            relationships.append(Relationship(source=nodes[e.subject.identity], target=nodes[e.object.identity],
                                              type=e.relation, properties=props))
        return GraphDocument(nodes=list(nodes.values()), relationships=relationships, source=document)

    def process_response(self, document: Document, config: Optional[Any] = None) -> GraphDocument:
        """One document (the name ``LLMGraphTransformer`` uses)."""
        return self.convert_to_graph_documents([document])[0]

    def convert_to_graph_documents(self, documents: Sequence[Document], config: Optional[Any] = None) -> List[GraphDocument]:
        documents = list(documents)
        docs = self.nlp.pipe([d.page_content for d in documents], batch_size=self.batch_size)
        return [self._graph_document(doc, document, n) for n, (doc, document) in enumerate(zip(docs, documents))]

    async def aconvert_to_graph_documents(self, documents: Sequence[Document],
                                          config: Optional[Any] = None) -> List[GraphDocument]:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.convert_to_graph_documents, documents)
