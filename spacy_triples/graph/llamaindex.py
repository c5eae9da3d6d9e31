"""LlamaIndex: a ``kg_extractors`` component for ``PropertyGraphIndex`` that runs a spacy-triples
pipeline instead of an LLM (``pip install 'spacy-triples[llamaindex]'``).

Like ``SimpleLLMPathExtractor`` it appends ``EntityNode`` objects to ``node.metadata[KG_NODES_KEY]`` and
``Relation`` objects to ``node.metadata[KG_RELATIONS_KEY]``, with the node's metadata as their
properties. An entity's ``name`` (its id in the graph store) is the alias-table or kb id, else the
normalised text (``entity_key``: "Barack  OBAMA" -> "barack obama"); its ``label`` the entity type.
"""
from collections import Counter
from typing import Any, Sequence

from .facts import FactBuilder, group_facts, load_nlp, pipeline_info
from .identity import AliasTable, EntityResolver

try:
    from llama_index.core.graph_stores.types import KG_NODES_KEY, KG_RELATIONS_KEY, EntityNode, Relation
    from llama_index.core.schema import BaseNode, MetadataMode, TransformComponent
    from pydantic import PrivateAttr
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("The LlamaIndex extractor needs llama-index-core: pip install 'spacy-triples[llamaindex]'.") from err


class SpacyTriplesPathExtractor(TransformComponent):
    """``PropertyGraphIndex(nodes, kg_extractors=[SpacyTriplesPathExtractor(nlp=...)], ...)``."""

    nlp: Any
    min_score: float = 0.0
    schema_path: Any = None
    aliases: Any = None
    strip_accents: bool = False
    batch_size: int = 32
    _resolver: Any = PrivateAttr(default=None)
    _schema: Any = PrivateAttr(default=None)
    _skipped: Any = PrivateAttr(default=None)

    def __init__(self, nlp, **kwargs: Any):
        from ..schema import load_relation_schema

        super().__init__(nlp=load_nlp(nlp), **kwargs)
        aliases = self.aliases
        if aliases is not None and not isinstance(aliases, AliasTable):
            aliases = AliasTable.from_file(aliases, self.strip_accents)
        self._resolver = EntityResolver(aliases, self.strip_accents)
        self._schema = load_relation_schema(self.schema_path) if self.schema_path else {}
        FactBuilder(self._resolver, self.min_score, self._schema)  # check the options now
        self._skipped = Counter()

    @classmethod
    def class_name(cls) -> str:
        return "SpacyTriplesPathExtractor"

    @property
    def skipped(self) -> Counter:
        """Triples left out, by reason (below min_score, not in the schema, ...)."""
        return self._skipped

    def __call__(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> Sequence[BaseNode]:
        nodes = list(nodes)
        info = pipeline_info(self.nlp)
        texts = [node.get_content(metadata_mode=MetadataMode.NONE) for node in nodes]
        for node, doc in zip(nodes, self.nlp.pipe(texts, batch_size=self.batch_size)):
            builder = FactBuilder(self._resolver, self.min_score, self._schema, f"{info['name']}@{info['version']}")
            entities, edges = group_facts(builder.from_doc(doc, node.node_id))
            self._skipped.update(builder.skipped)
            existing_nodes = node.metadata.pop(KG_NODES_KEY, [])
            existing_relations = node.metadata.pop(KG_RELATIONS_KEY, [])
            metadata = node.metadata.copy()
            made = {}
            for identity, (ref, forms) in entities.items():
                made[identity] = EntityNode(name=ref.id, label=ref.type,
                                            properties={**metadata, "text": forms[0], "aliases": forms, "key": ref.key})
            existing_nodes.extend(made.values())
            for e in edges:
                existing_relations.append(Relation(
                    label=e.relation, source_id=made[e.subject.identity].id, target_id=made[e.object.identity].id,
                    properties={**metadata, "score": e.best_score, "count": e.count, "sentence": e.evidence[0].sentence},
                ))
            node.metadata[KG_NODES_KEY] = existing_nodes
            node.metadata[KG_RELATIONS_KEY] = existing_relations
        return nodes

    async def acall(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> Sequence[BaseNode]:
        return self.__call__(nodes, show_progress=show_progress, **kwargs)
