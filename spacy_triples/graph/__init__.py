"""A knowledge graph from predicted (or gold) triples, without an LLM.

- :mod:`.identity`: entity keys, the alias table, the resolver (kb_id > alias table > key + type);
- :mod:`.facts`: docs / ``extract`` JSONL -> facts with evidence, filters counted;
- :mod:`.store`: the Oxigraph store (``spacy-triples graph`` / ``graph-query``);
- :mod:`.langchain`, :mod:`.llamaindex`, :mod:`.neo4j_graphrag`: GraphRAG integrations (optional extras).

pyoxigraph and the integrations' libraries are imported only when used.
"""
from .facts import Evidence, Fact, FactBuilder, iter_facts, pipeline_info, sentence_bounds, stamp_pipeline
from .identity import UNTYPED, AliasTable, EntityRef, EntityResolver, entity_key

__all__ = [
    "AliasTable", "EntityRef", "EntityResolver", "Evidence", "Fact", "FactBuilder", "UNTYPED", "build_graph",
    "entity_key", "iter_facts", "pipeline_info", "query_graph", "sentence_bounds", "stamp_pipeline", "GraphStore",
]


def __getattr__(name):
    if name in ("build_graph", "query_graph", "GraphStore", "GraphSummary"):
        from . import store

        return getattr(store, name)
    raise AttributeError(name)
