"""export: each format parsed back with the library that reads it."""
import csv
import json

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_triples.cli import main
from spacy_triples.export import FIELDS, read_triples, slug

from ..util import TRAIN_DATA, make_doc

rdflib = pytest.importorskip("rdflib")
networkx = pytest.importorskip("networkx")


@pytest.fixture
def sources(tmp_path):
    nlp = spacy.blank("en")
    docs = [make_doc(nlp, words, triples) for words, triples in TRAIN_DATA[:4]]
    for n, doc in enumerate(docs):
        doc.user_data["source"] = f"doc{n}"
    DocBin(store_user_data=True, docs=docs).to_disk(tmp_path / "gold.spacy")
    with open(tmp_path / "pred.jsonl", "w", encoding="utf8") as out:
        for n, doc in enumerate(docs):
            out.write(json.dumps({"id": f"doc{n}", "text": doc.text, "triples": [t.to_dict() for t in doc._.triples]}) + "\n")
    expected = sum(len(d._.triples) for d in docs)
    return tmp_path, expected


def test_read_triples_same_from_spacy_and_jsonl(sources):
    tmp_path, expected = sources
    a = list(read_triples(str(tmp_path / "gold.spacy")))
    b = list(read_triples(str(tmp_path / "pred.jsonl")))
    assert a == b and len(a) == expected
    assert a[0]["doc_id"] == "doc0" and a[0]["subject"] == "Barack Obama" and a[0]["subject_start"] == 0


def test_jsonl_and_csv_round_trip(sources):
    tmp_path, expected = sources
    assert main(["export", str(tmp_path / "pred.jsonl"), str(tmp_path / "t.jsonl")]) == 0
    assert main(["export", str(tmp_path / "pred.jsonl"), str(tmp_path / "t.csv")]) == 0
    rows = [json.loads(line) for line in open(tmp_path / "t.jsonl", encoding="utf8")]
    with open(tmp_path / "t.csv", encoding="utf8") as handle:
        table = list(csv.DictReader(handle))
    assert len(rows) == len(table) == expected
    assert list(table[0]) == FIELDS
    assert [r["relation"] for r in rows] == [r["relation"] for r in table]
    assert float(table[0]["score"]) == rows[0]["score"] == 1.0


@pytest.mark.parametrize("suffix", ["nt", "ttl"])
def test_rdf_with_reification(sources, suffix):
    tmp_path, expected = sources
    out = tmp_path / f"t.{suffix}"
    assert main(["export", str(tmp_path / "gold.spacy"), str(out), "--namespace", "http://ex.org/kg/"]) == 0
    graph = rdflib.Graph().parse(out, format="nt" if suffix == "nt" else "turtle")
    ns = rdflib.Namespace("http://ex.org/kg/")
    obama, honolulu = ns["entity/barack_obama"], ns["entity/honolulu"]
    assert (obama, ns["relation/born_in"], honolulu) in graph
    statements = list(graph.subjects(rdflib.RDF.type, rdflib.RDF.Statement))
    assert len(statements) == expected
    st = next(s for s in statements if graph.value(s, rdflib.RDF.subject) == obama)
    assert str(graph.value(st, ns.docId)) == "doc0"
    assert graph.value(st, ns.subject_end).toPython() == 12
    assert graph.value(st, ns.score).toPython() == 1.0


def test_rdf_named_graphs(sources):
    tmp_path, expected = sources
    out = tmp_path / "t.nq"
    assert main(["export", str(tmp_path / "gold.spacy"), str(out)]) == 0
    ds = rdflib.Dataset()
    ds.parse(out, format="nquads")
    ns = rdflib.Namespace("http://example.org/triples/")
    graph = ds.graph(ns["doc/doc2"])
    assert (ns["entity/paris"], ns["relation/capital_of"], ns["entity/france"]) in graph
    assert (ns["entity/paris"], ns["relation/capital_of"], ns["entity/france"]) not in ds.graph(ns["doc/doc0"])


def test_graphml(sources):
    tmp_path, expected = sources
    assert main(["export", str(tmp_path / "gold.spacy"), str(tmp_path / "g.graphml")]) == 0
    graph = networkx.read_graphml(tmp_path / "g.graphml")
    assert graph.number_of_edges() == expected
    assert graph.nodes["barack_obama"]["text"] == "Barack Obama"
    relations = {d["relation"] for _, _, d in graph.edges(data=True)}
    assert {"born_in", "capital_of", "located_in"} <= relations
    # the shared entity "Paris" is one node with two edges to France
    assert graph.number_of_edges("paris", "france") == 2


def test_slug_and_errors(sources, capsys):
    tmp_path, _ = sources
    assert slug("  Ｐaris, Texas ") == "paris%2C_texas"  # normalised; the comma is kept (encoded)
    assert slug("Paris  texas") == "paris_texas" != slug("Paris, Texas")
    assert main(["export", str(tmp_path / "gold.spacy"), str(tmp_path / "t.xyz")]) == 1
    assert "Unknown export format" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.spacy"), str(tmp_path / "t.csv")]) == 1
    assert "does not exist" in capsys.readouterr().err
