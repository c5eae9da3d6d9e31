"""The corpus graph (spacy_triples.graph): entity identity, evidence, the Oxigraph store, the CLI."""
import json

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from spacy_triples import Triple
from spacy_triples.cli import main
from spacy_triples.graph import AliasTable, EntityResolver, FactBuilder, entity_key, sentence_bounds

from ..util import gold_nlp, TRAIN_DATA, make_doc

pytest.importorskip("pyoxigraph")
from spacy_triples.graph.store import build_graph, query_graph  # noqa: E402

NS = "http://example.org/triples/"


def gold_docs(nlp=None, data=TRAIN_DATA, offset=0):
    nlp = nlp or spacy.blank("en")
    docs = []
    for n, (words, triples) in enumerate(data):
        doc = make_doc(nlp, words, triples)
        doc.user_data["source"] = f"doc{n + offset}"
        docs.append(doc)
    return docs


def write_docbin(path, docs):
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return str(path)


def jsonl_of(docs, path, **extra):
    with open(path, "w", encoding="utf8") as out:
        for doc in docs:
            record = {"id": doc.user_data["source"], "text": doc.text, "triples": [t.to_dict() for t in doc._.triples]}
            record.update(extra)
            out.write(json.dumps(record) + "\n")
    return str(path)


def count(store_path, sparql):
    result = json.loads(query_graph(store_path, f"SELECT (COUNT(*) AS ?n) WHERE {{ {sparql} }}", "json"))
    return int(result["results"]["bindings"][0]["n"]["value"])


def quads(store_path):
    import pyoxigraph

    store = pyoxigraph.Store(str(store_path))
    try:
        return set(store)
    finally:
        del store


def expected_graph(docs):
    """Entities, edges and evidence counted directly from the docs (untyped gold: type Entity)."""
    entities, edges, evidence = set(), {}, 0
    for doc in docs:
        for t in doc._.triples:
            s, o = (entity_key(t.subject.text), "ENTITY"), (entity_key(t.object.text), "ENTITY")
            entities |= {s, o}
            edges[(s, t.relation, o)] = edges.get((s, t.relation, o), 0) + 1
            evidence += 1
    return entities, edges, evidence


# --- identity ------------------------------------------------------------------------------------------

def test_entity_key_normalises_width_case_space_and_optionally_accents():
    assert entity_key("ＢＡＲＡＣＫ\u3000  Obama ") == "barack obama"
    assert entity_key("STRASSE") == entity_key("Straße") == "strasse"
    assert entity_key("Café Müller") == "café müller"
    assert entity_key("Café Müller", strip_accents=True) == "cafe muller"
    assert entity_key("C++") != entity_key("C#")
    assert entity_key(" \t ") == ""


def test_resolver_precedence_kb_over_alias_over_key(tmp_path):
    table = tmp_path / "aliases.csv"
    table.write_text("alias,id,type\nObama,Q76,\nBarack Obama,Q76\nParis,Q90,LOC\n", encoding="utf8")
    resolver = EntityResolver(AliasTable.from_file(table))
    assert resolver.resolve("OBAMA", "PER") == ("Q76", "PER", "obama", "alias")
    assert resolver.resolve("barack  obama", "").id == "Q76"
    assert resolver.resolve("Barack Obama", "PER", kb_id="Q99").source == "kb"
    assert resolver.resolve("Barack Obama", "PER", kb_id="Q99").id == "Q99"
    assert resolver.resolve("Paris", "LOC").id == "Q90"
    assert resolver.resolve("Paris", "PER") == ("paris", "PER", "paris", "key")  # a typed alias: that type only
    assert resolver.resolve("  ", "PER") is None


@pytest.mark.parametrize("content,suffix,message", [
    ("Obama,Q76\nobama,Q1\n", ".csv", "line 2: alias 'obama'"),
    ("Obama,Q76,PER,extra\n", ".csv", "line 1: expected 'alias,id'"),
    ('{"alias": "Obama", "id": "Q76"}\n{"alias": "x"}\n', ".jsonl", "line 2: expected"),
    ('{"alias": "Obama", "id": "Q76"}\nnot json\n', ".jsonl", "line 2: malformed JSON"),
    (",Q76\n", ".csv", "must be non-empty"),
])
def test_alias_table_errors_name_the_line(tmp_path, content, suffix, message):
    path = tmp_path / f"aliases{suffix}"
    path.write_text(content, encoding="utf8")
    with pytest.raises(ValueError, match=message):
        AliasTable.from_file(path)


def test_sentence_bounds_and_evidence_offsets():
    text = "Barack Obama was born in Honolulu. He lived in Chicago!  Then 北京。很好"
    bounds = sentence_bounds(text)
    assert [text[a:b] for a, b in bounds] == ["Barack Obama was born in Honolulu.", "He lived in Chicago!",
                                             "Then 北京。", "很好"]
    builder = FactBuilder()
    record = {"id": "a", "text": text, "triples": [
        {"subject_chars": [0, 12], "relation": "born_in", "object_chars": [25, 33]},
        {"subject_chars": [0, 12], "relation": "far", "object_chars": [47, 54], "score": 0.4}]}
    first, second = builder.from_record(record, "x, line 1", 1)
    assert (first.evidence.sentence_start, first.evidence.sentence_end) == (0, 34)
    assert first.evidence.subject_text == "Barack Obama" and first.evidence.object_text == "Honolulu"
    assert second.evidence.sentence == text[0:55]  # spans in two sentences: from the first to the last
    assert first.evidence.pipeline == "unknown" and second.evidence.score == 0.4


# --- the store -----------------------------------------------------------------------------------------

def test_load_counts_match_the_input(tmp_path):
    docs = gold_docs()
    path = write_docbin(tmp_path / "gold.spacy", docs)
    entities, edges, n_evidence = expected_graph(docs)
    store = tmp_path / "store"
    summary = build_graph(path, store)
    assert summary.docs == len(docs) and summary.triples == n_evidence
    assert summary.entities_added == len(entities)
    assert summary.edges_added == len(edges)
    assert summary.edges_merged == n_evidence - len(edges)
    assert summary.evidence_added == n_evidence and summary.evidence_present == 0
    assert summary.entities_added + summary.entities_merged == 2 * n_evidence
    assert not summary.skipped
    assert count(store, "?e a t:Entity") == len(entities)
    assert count(store, "?e a rdf:Statement") == len(edges)
    assert count(store, "?s ?p ?o . ?p rdfs:label ?l") == len(edges)  # the asserted facts
    assert count(store, "?v a t:Evidence") == n_evidence
    total = json.loads(query_graph(store, "SELECT (SUM(?n) AS ?t) WHERE { ?e t:count ?n }", "json"))
    assert int(total["results"]["bindings"][0]["t"]["value"]) == n_evidence
    # "Barack Obama born_in Honolulu" is in doc0 once and doc5 three times: one edge, four evidence items
    rows = json.loads(query_graph(store, """
        SELECT ?n ?best WHERE { ?e rdf:subject ?s ; rdf:predicate rel:born_in ; t:count ?n ; t:bestScore ?best .
                                ?s t:key "barack obama" }""", "json"))["results"]["bindings"]
    assert [(int(r["n"]["value"]), float(r["best"]["value"])) for r in rows] == [(4, 1.0)]
    evidence = json.loads(query_graph(store, """
        SELECT ?doc ?ss ?se ?sent ?st ?ot ?pipe WHERE { ?v t:supports ?e ; t:docId ?doc ; t:sentenceStart ?ss ;
            t:sentenceEnd ?se ; t:sentence ?sent ; t:subjectText ?st ; t:objectText ?ot ; t:pipeline ?pipe .
            ?e rdf:predicate rel:capital_of } """, "json"))["results"]["bindings"]
    assert len(evidence) == 1
    ev = {k: v["value"] for k, v in evidence[0].items()}
    assert ev == {"doc": "doc2", "ss": "0", "se": str(len(docs[2].text.rstrip())), "sent": docs[2].text.rstrip(), "st": "Paris",
                  "ot": "France", "pipe": "unknown"}


def test_reload_is_idempotent_and_a_second_corpus_adds_only_the_new(tmp_path):
    docs = gold_docs()
    first = write_docbin(tmp_path / "a.spacy", docs[:3])
    second = write_docbin(tmp_path / "b.spacy", docs[2:])  # doc2 is in both
    union = write_docbin(tmp_path / "all.spacy", docs)
    store = tmp_path / "store"
    build_graph(first, store)
    before = quads(store)
    again = build_graph(first, store)
    assert quads(store) == before and again.quads_before == again.quads_after
    assert (again.entities_added, again.edges_added, again.evidence_added, again.aliases_added) == (0, 0, 0, 0)
    assert again.evidence_present == again.triples == sum(len(d._.triples) for d in docs[:3])
    update = build_graph(second, store)
    new_docs = docs[3:]
    assert update.evidence_added == sum(len(d._.triples) for d in new_docs)
    assert update.evidence_present == len(docs[2]._.triples)
    old_entities, old_edges, _ = expected_graph(docs[:3])
    all_entities, all_edges, _ = expected_graph(docs)
    assert update.entities_added == len(all_entities - old_entities)
    assert update.edges_added == len(set(all_edges) - set(old_edges))
    reference = tmp_path / "reference"
    build_graph(union, reference)
    assert quads(store) == quads(reference)  # incremental = built at once (counts and best scores included)


def test_jsonl_and_spacy_inputs_build_the_same_graph(tmp_path):
    docs = gold_docs()
    build_graph(write_docbin(tmp_path / "g.spacy", docs), tmp_path / "s1")
    build_graph(jsonl_of(docs, tmp_path / "g.jsonl"), tmp_path / "s2")
    assert quads(tmp_path / "s1") == quads(tmp_path / "s2")


def test_byte_order_marks_are_dropped(tmp_path):
    table = tmp_path / "excel.csv"
    table.write_bytes(b"\xef\xbb\xbfalias,id\nObama,Q76\n")
    assert AliasTable.from_file(table).lookup("obama", "PER") == "Q76"
    path = tmp_path / "bom.jsonl"
    docs = gold_docs(data=TRAIN_DATA[:1])
    jsonl_of(docs, path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert build_graph(str(path), tmp_path / "s").evidence_added == 1


def test_alias_table_and_kb_id_precedence(tmp_path):
    nlp = spacy.blank("en")
    docs = []
    for n, (words, kb) in enumerate([("Obama visited Paris .", ""), ("Barack Obama visited Paris .", "Q99"),
                                      ("OBAMA visited Paris .", "")]):
        doc = Doc(nlp.vocab, words=words.split())
        subj = doc[0:2] if words.startswith("Barack") else doc[0:1]
        doc.ents = [Span(doc, subj.start, subj.end, label="PER", kb_id=kb)]
        doc._.triples = [Triple(Span(doc, subj.start, subj.end, label="PER"), "visited",
                                Span(doc, subj.end + 1, subj.end + 2, label="LOC"), 0.8)]
        doc.user_data["source"] = f"d{n}"
        docs.append(doc)
    table = tmp_path / "aliases.jsonl"
    table.write_text('{"alias": "obama", "id": "Q76"}\n{"alias": "Barack Obama", "id": "Q76"}\n'
                     '{"alias": "paris", "id": "http://www.wikidata.org/entity/Q90"}\n', encoding="utf8")
    store = tmp_path / "store"
    build_graph(write_docbin(tmp_path / "d.spacy", docs), store, aliases=str(table))
    rows = json.loads(query_graph(store, "SELECT ?e ?src ?a WHERE { ?e a t:Entity ; t:idSource ?src ; t:alias ?a }",
                                  "json"))["results"]["bindings"]
    got = sorted((r["e"]["value"], r["src"]["value"], r["a"]["value"]) for r in rows)
    assert got == [
        (f"{NS}id/Q76", "alias", "OBAMA"), (f"{NS}id/Q76", "alias", "Obama"),
        (f"{NS}id/Q99", "kb", "Barack Obama"),  # the entity linker's kb_id wins over the alias table
        ("http://www.wikidata.org/entity/Q90", "alias", "Paris"),  # an IRI id is used as it is
    ]
    assert count(store, "?e a rdf:Statement") == 2


def typed_docs():
    nlp = spacy.blank("en")
    rows = [("Ada works for IBM .", [((0, 1, "PER"), "works_for", (3, 4, "ORG"), 0.9)]),
            ("Bob works for Rome .", [((0, 1, "PER"), "works_for", (3, 4, "LOC"), 0.8)]),  # not in the schema
            ("Cy lives in Oslo .", [((0, 1, "PER"), "lives_in", (3, 4, "LOC"), 0.3)])]  # below 0.5
    docs = []
    for n, (text, triples) in enumerate(rows):
        doc = Doc(nlp.vocab, words=text.split())
        doc._.triples = [Triple(Span(doc, s[0], s[1], label=s[2]), r, Span(doc, o[0], o[1], label=o[2]), sc)
                         for s, r, o, sc in triples]
        doc.user_data["source"] = n
        docs.append(doc)
    return docs


def test_min_score_and_schema_skips_are_counted(tmp_path, capsys):
    path = write_docbin(tmp_path / "typed.spacy", typed_docs())
    schema = tmp_path / "schema.txt"
    schema.write_text("works_for: [PER] -> [ORG]\nlives_in: [PER] -> [LOC]\n", encoding="utf8")
    summary = build_graph(path, tmp_path / "store", min_score=0.5, schema=str(schema))
    assert summary.triples == 3 and summary.evidence_added == 1
    assert dict(summary.skipped) == {"score below --min-score": 1, "not allowed by --schema": 1}
    assert count(tmp_path / "store", "?v a t:Evidence") == 1
    assert main(["graph", path, str(tmp_path / "store2"), "--min-score", "0.85", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "skipped: 2 triples (score below --min-score)" in err and "evidence: 1 added" in err
    assert main(["graph", path, str(tmp_path / "store3"), "--min-score", "2"]) == 1
    assert "--min-score must be a number in [0, 1]" in capsys.readouterr().err


def test_pipeline_metadata_from_docs_records_and_option(tmp_path):
    docs = list(gold_nlp().pipe(["Barack Obama was born in Honolulu ."]))
    from spacy_triples.graph import stamp_pipeline

    stamp_pipeline(docs[0], gold_nlp())
    docs[0].user_data["source"] = "a"
    build_graph(write_docbin(tmp_path / "p.spacy", docs), tmp_path / "s1")
    jsonl = jsonl_of(gold_docs(data=TRAIN_DATA[:1]), tmp_path / "p.jsonl", pipeline="en_rel@0.4")
    build_graph(jsonl, tmp_path / "s2")
    build_graph(jsonl_of(gold_docs(data=TRAIN_DATA[:1]), tmp_path / "q.jsonl"), tmp_path / "s3",
                default_pipeline="mine@1")
    q = "SELECT ?p ?v WHERE { ?e t:pipeline ?p ; t:pipelineVersion ?v }"
    assert "en_gold  1.2.3" in query_graph(tmp_path / "s1", q)
    assert "en_rel  0.4" in query_graph(tmp_path / "s2", q)
    assert "mine  1" in query_graph(tmp_path / "s3", q)


def test_hostile_jsonl_names_the_line_and_writes_nothing(tmp_path, capsys):
    good = json.dumps({"id": 1, "text": "A b C", "triples": [{"subject_chars": [0, 1], "relation": "r",
                                                              "object_chars": [4, 5]}]})
    cases = {
        "not json {": "line 3: malformed JSON",
        "[1, 2]": "line 3: expected a JSON object",
        json.dumps({"id": 3, "text": "ab", "triples": [{"subject_chars": [0, 1], "relation": "r",
                                                        "object_chars": [1, 9]}]}): "line 3, triple 1: no 'object' text",
        json.dumps({"id": 3, "text": "ab", "triples": [{"subject_chars": [0, 1], "relation": "r", "object": "b",
                                                        "object_chars": [1, 9]}]}): "line 3, triple 1: 'object_chars'",
        json.dumps({"id": 3, "text": "ab", "triples": [{"subject_chars": [0, 1], "relation": "",
                                                        "object_chars": [1, 2]}]}): "line 3, triple 1: 'relation'",
        json.dumps({"id": 3, "text": "ab", "triples": "x"}): "line 3: 'triples' must be a list",
    }
    for k, (bad, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{k}.jsonl"
        path.write_bytes((good + "\n\n" + bad + "\n" + good + "\n").encode("utf8"))
        store = tmp_path / f"store{k}"
        with pytest.raises(ValueError, match=message):
            build_graph(str(path), store)
        assert not store.exists()  # checked before the store is opened: nothing written
        assert main(["graph", str(path), str(store), "--quiet"]) == 1
        assert f"error: {path}, {message}" in capsys.readouterr().err.replace("\n", " ")
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(good.encode() + b"\n\xff\xfe\n")
    with pytest.raises(ValueError, match="line 2: invalid UTF-8"):
        build_graph(str(path), tmp_path / "s")


def test_error_records_and_empty_entities_are_counted(tmp_path):
    path = tmp_path / "e.jsonl"
    lines = [
        {"id": 1, "text": "x", "error": "line 1: invalid UTF-8", "line": 1},
        {"id": 2, "text": "A  b", "triples": [{"subject": " ", "subject_chars": [1, 2], "relation": "r",
                                               "object_chars": [3, 4]}]},
        {"id": 3, "text": "A b", "triples": [{"subject_chars": [0, 1], "relation": "r", "object_chars": [2, 3]}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf8")
    summary = build_graph(str(path), tmp_path / "s")
    assert summary.docs == 3 and summary.triples == 2 and summary.evidence_added == 1
    assert dict(summary.skipped_docs) == {"extract error record": 1}
    assert dict(summary.skipped) == {"entity text empty after normalisation": 1}


def test_store_settings_and_paths_are_checked(tmp_path):
    path = write_docbin(tmp_path / "g.spacy", gold_docs(data=TRAIN_DATA[:2]))
    build_graph(path, tmp_path / "store", strip_accents=True)
    with pytest.raises(ValueError, match="built with with --strip-accents"):
        build_graph(path, tmp_path / "store")
    with pytest.raises(ValueError, match="--namespace http://example.org/triples/"):
        build_graph(path, tmp_path / "store", namespace="http://other.org/", strip_accents=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf8")
    with pytest.raises(ValueError, match="not an Oxigraph store"):
        build_graph(path, other)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    with pytest.raises(ValueError, match="does not exist: build it first"):
        query_graph(tmp_path / "missing", "SELECT * WHERE { ?s ?p ?o }")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ValueError, match="is not a readable .spacy DocBin"):
        (tmp_path / "junk.spacy").write_bytes(b"junk")
        build_graph(str(tmp_path / "junk.spacy"), tmp_path / "s")
    with pytest.raises(ValueError, match="namespace"):
        build_graph(path, tmp_path / "s", namespace="no iri")


def test_graph_query_cli_formats(tmp_path, capsys):
    path = write_docbin(tmp_path / "g.spacy", gold_docs())
    store = str(tmp_path / "store")
    assert main(["graph", path, store, "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "edges: 9 added, 3 merged" in err and "evidence: 12 added, 0 already in the store" in err
    q = ("SELECT ?o ?n WHERE { ?s t:key \"angela merkel\" . ?e rdf:subject ?s ; rdf:object ?x ; t:count ?n . "
         "?x rdfs:label ?o } ORDER BY ?o")
    assert main(["graph-query", store, q]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["o", "n"] and table[2:] == ["Berlin                 1", "the German government  1",
                                                           "(2 rows)"]
    assert main(["graph-query", store, q, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["o,n", "Berlin,1", "the German government,1"]
    assert main(["graph-query", store, q, "--format", "json"]) == 0
    assert [b["o"]["value"] for b in json.loads(capsys.readouterr().out)["results"]["bindings"]] == [
        "Berlin", "the German government"]
    assert main(["graph-query", store, "ASK { ?s rel:born_in ?o }"]) == 0
    assert capsys.readouterr().out.strip() == "true"
    assert main(["graph-query", store, "SELECT ?s WHERE { ?s"]) == 1
    assert "error: The SPARQL query does not parse" in capsys.readouterr().err


# --- from text: the trained pipeline ---------------------------------------------------------------------

@pytest.mark.slow
def test_extract_then_graph_with_the_trained_model(trained_model_dir, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(" ".join(w) for w, _ in TRAIN_DATA[:5]) + "\n", encoding="utf8")
    out = tmp_path / "preds.jsonl"
    assert main(["extract", str(trained_model_dir), str(texts), str(out), "--quiet"]) == 0
    store = str(tmp_path / "store")
    assert main(["graph", str(out), store, "--quiet"]) == 0
    assert main(["graph-query", store, "SELECT ?o WHERE { ?s t:key \"barack obama\" ; rel:born_in ?x . "
                 "?x rdfs:label ?o }", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["Honolulu"]
