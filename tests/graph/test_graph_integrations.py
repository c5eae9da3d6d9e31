"""GraphRAG integrations of the corpus graph, each with the real library (no server, no LLM)."""
import asyncio
import importlib
import sys

import pytest

from ..util import gold_nlp, TRAIN_DATA

TEXTS = [" ".join(words) for words, _ in TRAIN_DATA[:5]]


@pytest.fixture(scope="module")
def nlp():
    return gold_nlp()


# --- LangChain -----------------------------------------------------------------------------------------

def test_langchain_graph_documents(nlp):
    pytest.importorskip("langchain_community")
    from langchain_community.graphs.graph_document import GraphDocument, Node, Relationship
    from langchain_core.documents import Document

    from spacy_triples.graph.langchain import SpacyTriplesGraphTransformer

    documents = [Document(page_content=t, metadata={"id": f"d{n}"}) for n, t in enumerate(TEXTS)]
    documents.append(Document(page_content="BARACK  OBAMA was born in Honolulu ."))  # no gold: no triple
    graph_docs = SpacyTriplesGraphTransformer(nlp).convert_to_graph_documents(documents)
    assert len(graph_docs) == 6 and all(isinstance(g, GraphDocument) for g in graph_docs)
    first = graph_docs[0]
    assert first.source is documents[0]
    assert all(isinstance(n, Node) for n in first.nodes) and all(isinstance(r, Relationship) for r in first.relationships)
    assert sorted((n.id, n.type, n.properties["name"]) for n in first.nodes) == [
        ("barack obama", "ENTITY", "Barack Obama"), ("honolulu", "ENTITY", "Honolulu")]
    (rel,) = first.relationships
    assert (rel.source.id, rel.type, rel.target.id) == ("barack obama", "born_in", "honolulu")
    assert rel.properties["score"] == pytest.approx(0.9) and rel.properties["count"] == 1
    assert rel.properties["sentence"] == "Barack Obama was born in Honolulu ."
    merkel = graph_docs[1]
    assert sorted(r.type for r in merkel.relationships) == ["lives_in", "works_for"]
    assert len(merkel.nodes) == 3  # Angela Merkel once, though she is the subject of both
    assert graph_docs[5].nodes == [] and graph_docs[5].relationships == []
    strict = SpacyTriplesGraphTransformer(nlp, min_score=0.95)
    assert all(not g.relationships for g in strict.convert_to_graph_documents(documents))
    assert strict.skipped["score below --min-score"] == sum(len(t) for _, t in TRAIN_DATA[:5])
    again = asyncio.run(SpacyTriplesGraphTransformer(nlp).aconvert_to_graph_documents(documents[:1]))
    assert again[0].relationships[0].type == "born_in"


# --- LlamaIndex ----------------------------------------------------------------------------------------

def test_llamaindex_property_graph_index(nlp):
    pytest.importorskip("llama_index.core")
    from llama_index.core import PropertyGraphIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.graph_stores import SimplePropertyGraphStore
    from llama_index.core.graph_stores.types import KG_NODES_KEY, KG_RELATIONS_KEY
    from llama_index.core.schema import TextNode

    from spacy_triples.graph.llamaindex import SpacyTriplesPathExtractor

    extractor = SpacyTriplesPathExtractor(nlp)
    tagged = extractor([TextNode(text=TEXTS[1], metadata={"source": "s1"})])[0]
    assert sorted(n.name for n in tagged.metadata[KG_NODES_KEY]) == ["angela merkel", "berlin", "the german government"]
    assert sorted(r.label for r in tagged.metadata[KG_RELATIONS_KEY]) == ["lives_in", "works_for"]
    assert all(r.properties["source"] == "s1" for r in tagged.metadata[KG_RELATIONS_KEY])

    store = SimplePropertyGraphStore()
    index = PropertyGraphIndex(
        nodes=[TextNode(text=t) for t in TEXTS], kg_extractors=[extractor], property_graph_store=store,
        embed_kg_nodes=False, embed_model=MockEmbedding(embed_dim=8), show_progress=False,
    )
    graph = index.property_graph_store
    (merkel,) = graph.get(ids=["angela merkel"])
    paths = graph.get_rel_map([merkel], depth=1)  # walk from the entity to its relations
    assert sorted((s.name, r.label, o.name) for s, r, o in paths) == [
        ("angela merkel", "lives_in", "berlin"), ("angela merkel", "works_for", "the german government")]
    triplets = graph.get_triplets(entity_names=["paris"])
    assert sorted((r.label, o.name) for s, r, o in triplets if s.name == "paris") == [
        ("capital_of", "france"), ("located_in", "france")]


# --- neo4j-graphrag ------------------------------------------------------------------------------------

def test_neo4j_graphrag_extractor_run(nlp):
    pytest.importorskip("neo4j_graphrag")
    from spacy_triples.graph.neo4j_graphrag import EntityRelationExtractor, Neo4jGraph, TextChunks

    TextChunk = TextChunks.model_fields["chunks"].annotation.__args__[0]  # the namespace the module uses

    from spacy_triples.graph.neo4j_graphrag import SpacyTriplesExtractor

    chunks = TextChunks(chunks=[TextChunk(text=t, index=n, uid=f"c{n}") for n, t in enumerate(TEXTS[:2])])
    extractor = SpacyTriplesExtractor(nlp)
    assert isinstance(extractor, EntityRelationExtractor)
    graph = asyncio.run(extractor.run(chunks))
    assert isinstance(graph, Neo4jGraph)
    entities = {n.id: n for n in graph.nodes if n.label == "ENTITY"}
    assert sorted(entities) == ["c0:barack obama", "c0:honolulu", "c1:angela merkel", "c1:berlin",
                                "c1:the german government"]
    assert entities["c1:angela merkel"].properties["name"] == "angela merkel"
    assert entities["c1:angela merkel"].properties["text"] == "Angela Merkel"
    facts = sorted((r.start_node_id, r.type, r.end_node_id) for r in graph.relationships if r.type != "FROM_CHUNK"
                   and r.start_node_id in entities)
    assert facts == [("c0:barack obama", "born_in", "c0:honolulu"), ("c1:angela merkel", "lives_in", "c1:berlin"),
                     ("c1:angela merkel", "works_for", "c1:the german government")]
    assert {n.label for n in graph.nodes} >= {"Chunk", "ENTITY"}  # the lexical graph, as the LLM extractor makes
    assert sum(r.type == "FROM_CHUNK" for r in graph.relationships) == len(entities)
    bare = asyncio.run(SpacyTriplesExtractor(nlp, create_lexical_graph=False).run(chunks))
    assert {n.label for n in bare.nodes} == {"ENTITY"} and len(bare.relationships) == 3


# --- optional dependencies ---------------------------------------------------------------------------------

@pytest.mark.parametrize("module,blocked,extra", [
    ("spacy_triples.graph.langchain", "langchain_community", "spacy-triples[langchain]"),
    ("spacy_triples.graph.llamaindex", "llama_index", "spacy-triples[llamaindex]"),
    ("spacy_triples.graph.neo4j_graphrag", "neo4j_graphrag", "spacy-triples[neo4j-graphrag]"),
])
def test_missing_extra_names_it(monkeypatch, module, blocked, extra):
    for name in list(sys.modules):
        if name == blocked or name.startswith(blocked + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)  # import blocked -> ImportError
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        importlib.import_module(module)


def test_graph_store_without_pyoxigraph_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyoxigraph", None)
    from spacy_triples.graph.store import build_graph

    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1, "text": "a b", "triples": []}\n', encoding="utf8")
    with pytest.raises(ValueError, match=r"spacy-triples\[graph\]"):
        build_graph(str(path), tmp_path / "store")


# --- with the trained pipeline --------------------------------------------------------------------------------

@pytest.mark.slow
def test_integrations_with_the_trained_model(trained_model_dir):
    pytest.importorskip("langchain_community")
    pytest.importorskip("llama_index.core")
    pytest.importorskip("neo4j_graphrag")
    import spacy
    from langchain_core.documents import Document
    from llama_index.core.graph_stores.types import KG_RELATIONS_KEY
    from llama_index.core.schema import TextNode

    from spacy_triples.graph.langchain import SpacyTriplesGraphTransformer
    from spacy_triples.graph.llamaindex import SpacyTriplesPathExtractor
    from spacy_triples.graph.neo4j_graphrag import SpacyTriplesExtractor, TextChunks

    TextChunk = TextChunks.model_fields["chunks"].annotation.__args__[0]
    trained = spacy.load(trained_model_dir)
    text = TEXTS[0]
    (gd,) = SpacyTriplesGraphTransformer(trained).convert_to_graph_documents([Document(page_content=text)])
    assert [(r.source.id, r.type, r.target.id) for r in gd.relationships] == [("barack obama", "born_in", "honolulu")]
    (node,) = SpacyTriplesPathExtractor(trained)([TextNode(text=text)])
    assert [r.label for r in node.metadata[KG_RELATIONS_KEY]] == ["born_in"]
    graph = asyncio.run(SpacyTriplesExtractor(trained, create_lexical_graph=False).run(
        TextChunks(chunks=[TextChunk(text=text, index=0, uid="c")])))
    assert [(r.start_node_id, r.type, r.end_node_id) for r in graph.relationships] == [
        ("c:barack obama", "born_in", "c:honolulu")]
