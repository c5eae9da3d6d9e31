"""Annotation-tool round trips: export (Label Studio, doccano, Prodigy) -> convert gives the same triples,
and every skipped task / relation is counted."""
import json
import xml.etree.ElementTree as ET

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from spacy_triples import Triple
from spacy_triples.cli import convert, main
from spacy_triples.convert import detect_format
from spacy_triples.export import export_annotations

from ..util import TRAIN_DATA

LABELS = {"Barack": "PER", "Angela": "PER", "Paris": "LOC", "Microsoft": "ORG"}


def _docs(nlp):
    docs = []
    for n, (words, triples) in enumerate(TRAIN_DATA[:5]):
        doc = Doc(nlp.vocab, words=words)
        # typed subjects for some docs, untyped ("") spans elsewhere
        label = LABELS.get(words[0], "")
        doc._.triples = [Triple(Span(doc, s0, s1, label=label if s0 == 0 else ""), rel, doc[o0:o1], 0.5 + 0.1 * k)
                         for k, (s0, s1, rel, o0, o1) in enumerate(triples)]
        doc.user_data["source"] = f"doc{n}"
        docs.append(doc)
    return docs


def _key(doc_text, t):
    """A triple by character offsets; the 'ENTITY' placeholder counts as untyped."""
    return (doc_text, tuple(t["subject_chars"]), t["subject_label"].replace("ENTITY", ""), t["relation"],
            tuple(t["object_chars"]), t["object_label"].replace("ENTITY", ""))


@pytest.fixture
def sources(tmp_path):
    nlp = spacy.blank("en")
    docs = _docs(nlp)
    DocBin(store_user_data=True, docs=docs).to_disk(tmp_path / "gold.spacy")
    with open(tmp_path / "pred.jsonl", "w", encoding="utf8") as out:
        for n, doc in enumerate(docs):
            out.write(json.dumps({"id": f"doc{n}", "text": doc.text, "triples": [t.to_dict() for t in doc._.triples]}) + "\n")
        out.write(json.dumps({"id": "bad", "text": "", "error": "document bad has 9 characters, more than --max-length 2"}) + "\n")
    expected = {_key(doc.text, t.to_dict()) for doc in docs for t in doc._.triples}
    return tmp_path, expected


def _read_back(path):
    nlp = spacy.blank("en")
    out = path.with_suffix(".back.spacy")
    report = convert(str(path), str(out))
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    return report, {_key(doc.text, t.to_dict()) for doc in docs for t in doc._.triples}


@pytest.mark.parametrize("fmt,suffix", [("labelstudio", "json"), ("doccano", "jsonl"), ("prodigy", "jsonl")])
@pytest.mark.parametrize("source", ["gold.spacy", "pred.jsonl"])
def test_round_trip_gives_the_same_triples(sources, fmt, suffix, source):
    tmp_path, expected = sources
    out = tmp_path / f"{fmt}.{suffix}"
    assert main(["export", str(tmp_path / source), str(out), "--format", fmt]) == 0
    assert detect_format(out) == fmt
    report, triples = _read_back(out)
    assert triples == expected
    assert report.docs_written == 5 and report.triples_written == len(expected)
    assert not report.records_skipped and not report.triples_skipped


def test_labelstudio_predictions_carry_scores_and_a_config(sources):
    tmp_path, expected = sources
    out = tmp_path / "ls.json"
    summary = export_annotations(str(tmp_path / "pred.jsonl"), str(out), "labelstudio")
    assert summary.docs == 5 and summary.triples == len(expected)
    assert sum(summary.skipped_docs.values()) == 1  # the extract record with an error
    tasks = json.loads(out.read_text())
    assert all("predictions" in t and "annotations" not in t for t in tasks)
    result = tasks[1]["predictions"][0]["result"]
    regions = {r["id"]: r for r in result if r["type"] == "labels"}
    rels = [r for r in result if r["type"] == "relation"]
    assert [r["labels"] for r in rels] == [["lives_in"], ["works_for"]]
    assert [r["score"] for r in rels] == pytest.approx([0.5, 0.6])
    assert tasks[1]["predictions"][0]["score"] == pytest.approx(0.5)
    subject = regions[rels[0]["from_id"]]["value"]
    assert subject["text"] == "Angela Merkel" and subject["labels"] == ["PER"] and subject["start"] == 0
    assert regions[rels[0]["to_id"]]["value"]["labels"] == ["ENTITY"]
    config = ET.fromstring((tmp_path / "ls.json.label_config.xml").read_text())
    assert {r.get("value") for r in config.iter("Relation")} == {"born_in", "lives_in", "works_for", "capital_of",
                                                                 "located_in", "founded_by"}
    assert {x.get("value") for x in config.iter("Label")} == {"PER", "LOC", "ORG", "ENTITY"}
    # a .spacy input becomes annotations unless asked otherwise
    export_annotations(str(tmp_path / "gold.spacy"), str(out), "labelstudio")
    assert all("annotations" in t for t in json.loads(out.read_text()))


def test_labelstudio_corrected_tasks_and_every_skip_counted(sources):
    tmp_path, _ = sources
    out = tmp_path / "ls.json"
    export_annotations(str(tmp_path / "pred.jsonl"), str(out), "labelstudio")
    tasks = json.loads(out.read_text())
    # task 0: a person fixed the relation label and added a LOC label; the prediction stays beside it
    fixed = json.loads(json.dumps(tasks[0]["predictions"][0]["result"]))
    fixed[-1]["labels"] = ["place_of_birth"]
    tasks[0]["annotations"] = [{"was_cancelled": True, "result": []}, {"result": fixed}]
    # task 1: cancelled only -> skipped; task 2: neither annotation nor prediction -> skipped
    tasks[1]["annotations"] = [{"was_cancelled": True, "result": []}]
    del tasks[2]["predictions"]
    # task 3: a relation reversed with direction "left", one to a missing region, one without a label,
    # offsets that do not match the text, and a choices result
    result = tasks[3]["predictions"][0]["result"]
    result[-1]["direction"] = "left"
    result += [{"type": "relation", "from_id": "e0", "to_id": "nope", "labels": ["x"]},
               {"type": "relation", "from_id": "e0", "to_id": "e1", "labels": []},
               {"id": "c", "type": "choices", "value": {"choices": ["ok"]}}]
    result[0]["value"]["text"] = "Not the text"
    out.write_text(json.dumps(tasks))
    report = convert(str(out), str(tmp_path / "back.spacy"))
    rows = report.as_dict()
    assert rows["records read"] == 5 and rows["docs written"] == 3
    assert rows["records skipped: every annotation of the task was cancelled"] == 1
    assert rows["records skipped: task has no annotation or prediction"] == 1
    assert rows["tasks read from a prediction (no annotation)"] == 2
    assert rows["results of other types ignored (choices, text areas...)"] == 1
    assert rows["triples skipped: relation endpoint is not an entity of the record"] == 1
    assert rows["triples skipped: relation without a label"] == 1
    assert rows["triples skipped: offsets do not match the entity text"] == 2  # both relations of e0
    report.check()
    docs = list(DocBin().from_disk(tmp_path / "back.spacy").get_docs(spacy.blank("en").vocab))
    assert [(t.subject.text, t.relation, t.object.text) for t in docs[0]._.triples] == [
        ("Barack Obama", "place_of_birth", "Honolulu")]


def test_doccano_skips_are_counted(tmp_path):
    path = tmp_path / "doccano.jsonl"
    text = "Cancún hosts the Mayan Riviera ."
    records = [
        {"id": 1, "text": text,
         "entities": [{"id": 1, "label": "LOC", "start_offset": 0, "end_offset": 6},
                      {"id": 2, "label": "LOC", "start_offset": 17, "end_offset": 30},
                      {"id": 3, "label": "LOC", "start_offset": 1, "end_offset": 4},
                      {"id": 4, "label": "ENTITY", "start_offset": 13, "end_offset": 16}],
         "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "hosts"},
                       {"id": 2, "from_id": 3, "to_id": 2, "type": "hosts"},
                       {"id": 3, "from_id": 1, "to_id": 9, "type": "hosts"},
                       {"id": 4, "from_id": 1}]},
        {"id": 2, "text": "  ", "entities": [], "relations": []},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf8")
    assert detect_format(path) == "doccano"
    report = convert(str(path), str(tmp_path / "out.spacy"), schema=None)
    rows = report.as_dict()
    assert rows["triples read"] == 4 and rows["triples written"] == 1
    assert rows["triples skipped: entity not at a token boundary"] == 1
    assert rows["triples skipped: relation endpoint is not an entity of the record"] == 1
    assert rows["triples skipped: malformed triple"] == 1
    assert rows["records skipped: empty text"] == 1
    assert rows["entity spans in no relation (not kept: triples only)"] == 1
    (doc,) = DocBin().from_disk(tmp_path / "out.spacy").get_docs(spacy.blank("en").vocab)
    (t,) = doc._.triples
    assert (t.subject.text, t.subject.label_, t.relation, t.object.text) == ("Cancún", "LOC", "hosts", "Mayan Riviera")


def test_prodigy_export_of_predictions_is_a_rel_manual_task(sources):
    tmp_path, _ = sources
    out = tmp_path / "prodigy.jsonl"
    export_annotations(str(tmp_path / "pred.jsonl"), str(out), "prodigy")
    task = json.loads(out.read_text().splitlines()[0])
    assert [t["text"] for t in task["tokens"]] == TRAIN_DATA[0][0]
    (rel,) = task["relations"]
    assert rel["label"] == "born_in" and rel["score"] == pytest.approx(0.5)
    assert rel["head_span"]["token_start"] == 0 and rel["head_span"]["token_end"] == 1 == rel["head"]
    assert rel["child_span"]["label"] == "ENTITY" and task["meta"]["doc_id"] == "doc0"
    # a rejected task is skipped (counted) when read back
    lines = out.read_text().splitlines()
    rejected = json.loads(lines[1])
    rejected["answer"] = "reject"
    lines[1] = json.dumps(rejected)
    out.write_text("\n".join(lines) + "\n")
    report = convert(str(out), str(tmp_path / "p.spacy"))
    assert report.as_dict()["records skipped: answer is not accept"] == 1 and report.docs_written == 4


def test_labelstudio_malformed_task_names_the_task(tmp_path, capsys):
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([{"data": {"title": "a", "body": "b"}, "annotations": []}]))
    assert main(["convert", str(path), str(tmp_path / "x.spacy"), "--format", "labelstudio"]) == 1
    err = capsys.readouterr().err
    assert "ls.json, task 1" in err and "body, title" in err and "'text'" in err


def test_accent_folding_finds_gold_strings_and_is_counted(tmp_path):
    path = tmp_path / "casrel.json"
    path.write_text(json.dumps([
        {"text": "Cancún is in Quintana Roo .", "triple_list": [["Cancun", "located_in", "Quintana Roo"]]},
        {"text": "Jose Marti was born in Havana .", "triple_list": [["José Martí", "born_in", "Havana"],
                                                                ["Zürich", "born_in", "Havana"]]},
    ], ensure_ascii=False), encoding="utf8")
    report = convert(str(path), str(tmp_path / "out.spacy"), fmt="casrel")
    rows = report.as_dict()
    assert rows["entities found after accent folding"] == 2
    assert rows["triples written"] == 2 and rows["triples skipped: entity not found in the text"] == 1
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(spacy.blank("en").vocab))
    assert [(t.subject.text, t.object.text) for d in docs for t in d._.triples] == [
        ("Cancún", "Quintana Roo"), ("Jose Marti", "Havana")]
