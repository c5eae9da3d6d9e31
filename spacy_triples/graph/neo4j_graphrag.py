"""neo4j-graphrag: an ``EntityRelationExtractor`` that runs a spacy-triples pipeline instead of an LLM
(``pip install 'spacy-triples[neo4j-graphrag]'``); a drop-in for ``LLMEntityRelationExtractor`` in a
``SimpleKGPipeline``-style pipeline (``run(chunks: TextChunks, ...) -> Neo4jGraph``).

As the LLM extractor does, node ids are prefixed with the chunk id (``EntityRelationExtractor.update_ids``)
and, with ``create_lexical_graph`` (the default), the chunks and ``FROM_CHUNK`` links are added, so the
library's resolvers and writer treat the result as theirs. A node's ``name`` property is the entity
id (alias-table or kb id, else the normalised text), its label the entity type.
"""
from collections import Counter
from typing import Any, List, Optional

from .facts import FactBuilder, group_facts, load_nlp, pipeline_info
from .identity import AliasTable, EntityResolver

try:
    try:  # neo4j-graphrag >= 1.21 (the "experimental" namespace is deprecated there)
        from neo4j_graphrag.components.entity_relation_extractor import EntityRelationExtractor, OnError
        from neo4j_graphrag.components.lexical_graph import LexicalGraphBuilder
        from neo4j_graphrag.components.types import (
            DocumentInfo, LexicalGraphConfig, Neo4jGraph, Neo4jNode, Neo4jRelationship, TextChunks,
        )
    except ModuleNotFoundError as err:
        if err.name is None or not err.name.startswith("neo4j_graphrag.components"):
            raise
        from neo4j_graphrag.experimental.components.entity_relation_extractor import EntityRelationExtractor, OnError
        from neo4j_graphrag.experimental.components.lexical_graph import LexicalGraphBuilder
        from neo4j_graphrag.experimental.components.types import (
            DocumentInfo, LexicalGraphConfig, Neo4jGraph, Neo4jNode, Neo4jRelationship, TextChunks,
        )
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("The neo4j-graphrag extractor needs neo4j-graphrag: "
                      "pip install 'spacy-triples[neo4j-graphrag]'.") from err


class SpacyTriplesExtractor(EntityRelationExtractor):
    def __init__(self, nlp, min_score: float = 0.0, schema=None, aliases=None, strip_accents: bool = False,
                 on_error: OnError = OnError.RAISE, create_lexical_graph: bool = True, batch_size: int = 32):
        from ..schema import load_relation_schema

        super().__init__(on_error=on_error, create_lexical_graph=create_lexical_graph)
        self.nlp = load_nlp(nlp)
        if aliases is not None and not isinstance(aliases, AliasTable):
            aliases = AliasTable.from_file(aliases, strip_accents)
        self.resolver = EntityResolver(aliases, strip_accents)
        self.schema = load_relation_schema(schema) if schema else {}
        self.min_score = min_score
        self.batch_size = batch_size
        FactBuilder(self.resolver, min_score, self.schema)  # check the options now
        self.skipped: Counter = Counter()

    def chunk_graph(self, doc, chunk_id: str) -> Neo4jGraph:
        info = pipeline_info(self.nlp)
        builder = FactBuilder(self.resolver, self.min_score, self.schema, f"{info['name']}@{info['version']}")
        entities, edges = group_facts(builder.from_doc(doc, chunk_id))
        self.skipped.update(builder.skipped)
        nodes = [Neo4jNode(id=ref.id, label=ref.type, properties={"name": ref.id, "text": forms[0], "aliases": forms,
                                                                   "key": ref.key})
                 for ref, forms in entities.values()]
        relationships = [
            Neo4jRelationship(start_node_id=e.subject.id, end_node_id=e.object.id, type=e.relation,
                              properties={"score": e.best_score, "count": e.count, "sentence": e.evidence[0].sentence})
            for e in edges
        ]
        return Neo4jGraph(nodes=nodes, relationships=relationships)

    async def run(self, chunks: TextChunks, document_info: Optional[DocumentInfo] = None,
                  lexical_graph_config: Optional[LexicalGraphConfig] = None, schema: Any = None, examples: str = "",
                  **kwargs: Any) -> Neo4jGraph:
        builder = None
        graph = Neo4jGraph()
        if self.create_lexical_graph:
            builder = LexicalGraphBuilder(config=lexical_graph_config or LexicalGraphConfig())
            graph = (await builder.run(text_chunks=chunks, document_info=document_info)).graph
        elif lexical_graph_config:
            builder = LexicalGraphBuilder(config=lexical_graph_config)
        texts = [chunk.text for chunk in chunks.chunks]
        chunk_graphs: List[Neo4jGraph] = []
        for chunk, doc in zip(chunks.chunks, self.nlp.pipe(texts, batch_size=self.batch_size)):
            try:
                chunk_graph = self.chunk_graph(doc, chunk.chunk_id)
            except Exception:
                if self.on_error == OnError.RAISE:
                    raise
                self.skipped["chunk failed (on_error=IGNORE)"] += 1
                chunk_graph = Neo4jGraph()
            self.update_ids(chunk_graph, chunk)
            if builder is not None:
                await builder.process_chunk_extracted_entities(chunk_graph, chunk)
            chunk_graphs.append(chunk_graph)
        for chunk_graph in chunk_graphs:
            graph.nodes.extend(chunk_graph.nodes)
            graph.relationships.extend(chunk_graph.relationships)
        return graph
