"""Relation schemas: parsing every form, and decoding that keeps only allowed triples."""
import json

import pytest
import spacy

from spacy_triples.schema import allowed, load_relation_schema
from ..util import typed_examples



def test_schema_forms(tmp_path):
    text = tmp_path / "schema.txt"
    text.write_text("# CoNLL04\nWork_For: [Peop] -> [Org]\nLive_In: [Peop] -> [Loc, Org]\n", encoding="utf8")
    assert load_relation_schema(text) == {"Live_In": [["Peop"], ["Loc", "Org"]], "Work_For": [["Peop"], ["Org"]]}
    duie = tmp_path / "duie.json"
    duie.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"predicate": "作者", "subject_type": "图书作品", "object_type": {"@value": "人物"}},
        {"predicate": "作者", "subject_type": "歌曲", "object_type": "人物"}]), encoding="utf8")
    assert load_relation_schema(duie) == {"作者": [["图书作品", "歌曲"], ["人物"]]}
    bad = tmp_path / "bad.txt"
    bad.write_text("Work_For Peop Org\n")
    with pytest.raises(ValueError, match="line 1"):
        load_relation_schema(bad)
    schema = load_relation_schema({"r": [["A"], ["B"]]})
    assert allowed(schema, "r", "A", "B") and not allowed(schema, "r", "B", "A") and not allowed(schema, "x", "A", "B")
    assert allowed({}, "anything", "", "")


def test_decoding_keeps_only_allowed_triples(tmp_path):
    nlp = spacy.blank("en")
    # lives_in is declared only for (ORG -> LOC): Angela Merkel (PER) lives_in Berlin must go
    schema = tmp_path / "schema.txt"
    schema.write_text("lives_in: [ORG] -> [LOC]\nworks_for: [PER] -> [ORG]\n", encoding="utf8")
    nlp.add_pipe("triple_extractor", config={"schema": str(schema)})
    examples = typed_examples(nlp)
    spacy.util.fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(200):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    doc = nlp("Angela Merkel lives in Berlin and works for the German government .")
    assert [(t.subject.text, t.relation, t.object.text) for t in doc._.triples] == [
        ("Angela Merkel", "works_for", "the German government")]
    # relations the schema does not name are dropped too
    assert nlp("Barack Obama was born in Honolulu .")._.triples == []
    # the schema travels with the pipeline: the file is no longer needed
    nlp.to_disk(tmp_path / "m")
    schema.unlink()
    nlp2 = spacy.load(tmp_path / "m")
    assert nlp2.get_pipe("triple_extractor").cfg["schema"] == {"lives_in": [["ORG"], ["LOC"]], "works_for": [["PER"], ["ORG"]]}
    assert [t.relation for t in nlp2(doc.text)._.triples] == ["works_for"]
