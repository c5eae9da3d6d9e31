"""Converters: every format, broken records, counts that add up, round trips, clear errors."""
import json

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_triples.cli import convert, main, read_dataset
from spacy_triples.convert import ConversionError, detect_format, load_schema
from spacy_triples.stats import dataset_stats
from ..util import FIXTURES



def _convert(tmp_path, name, **kwargs):
    out = tmp_path / (name + ".spacy")
    report = convert(str(FIXTURES / name), str(out), **kwargs)
    lang = "zh" if name.startswith("duie") else "en"
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank(lang).vocab))
    return report, docs


def _triples(doc):
    return [(t.subject.text, t.subject.label_, t.relation, t.object.text, t.object.label_) for t in doc._.triples]


@pytest.mark.parametrize(
    "name,fmt",
    [("casrel.json", "casrel"), ("duie2.jsonl", "duie"), ("duie1.jsonl", "duie"), ("spert.json", "spert"),
     ("unified_bad.json", "unified"), ("prodigy.jsonl", "prodigy"), ("triples.jsonl", "jsonl")],
)
def test_detect_format(name, fmt):
    assert detect_format(FIXTURES / name) == fmt


def test_casrel_text_keeps_its_spaces_so_training_tokenizes_like_nlp(tmp_path):
    """CasRel text is given (tokens joined by spaces): the docs keep it exactly, with known spaces,
    so spaCy's Corpus gives training and evaluation the pipeline's own tokens (what nlp(text)
    sees) and the gold entities align to them by character."""
    from spacy.training import Corpus

    from spacy_triples.gold import align_gold

    text = "K-W United FC were champions of the Premier Development League ."
    src = tmp_path / "kw.json"
    src.write_text(json.dumps([{"text": text, "triple_list": [["Premier Development League", "champions", "K-W United FC"]]}]))
    out = tmp_path / "kw.spacy"
    convert(str(src), str(out), fmt="casrel")
    nlp = spacy.blank("en")
    (doc,) = DocBin().from_disk(out).get_docs(nlp.vocab)
    assert doc.text == text and not doc.has_unknown_spaces
    (eg,) = Corpus(str(out))(nlp)
    tokens = [t.text for t in eg.predicted]
    assert tokens == [t.text for t in nlp(text)] and tokens[:3] == ["K", "-", "W"]
    (row,) = align_gold(eg, ["champions"], [])
    assert eg.predicted[row.object_start : row.object_end].text == "K-W United FC"
    assert eg.predicted[row.subject_start : row.subject_end].text == "Premier Development League"


def test_detect_format_unknown(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"foo": 1}\n')
    with pytest.raises(ConversionError, match="--format"):
        detect_format(path)


def test_casrel_places_strings_and_counts_every_skip(tmp_path):
    report, docs = _convert(tmp_path, "casrel.json")
    counts = report.as_dict()
    assert counts["records read"] == 3 and counts["docs written"] == 2
    assert counts["records skipped: empty text"] == 1
    assert counts["triples read"] == 9 and counts["triples written"] == 4
    assert counts["duplicate triples dropped"] == 1
    assert counts["triples skipped: entity not found in the text"] == 1  # Lyon
    assert counts["triples skipped: entity not at a token boundary"] == 1  # "Pari" inside "Paris"
    assert counts["triples skipped: empty entity string"] == 1
    assert counts["triples skipped: malformed triple"] == 1
    assert [t.text for t in docs[0]][:2] == ["Peter", "Stöger"]
    assert _triples(docs[0]) == [
        ("1 . FC Köln", "", "manager", "Peter Stöger", ""),
        ("1 . FC Köln", "", "numberOfMembers", "50000", ""),
    ]
    # "Paris" occurs twice: the occurrence nearest to "USA" is taken, and counted
    paris = [(t.subject.start, t.subject.text) for t in docs[1]._.triples]
    assert paris == [(5, "Paris"), (5, "Paris , Texas")]
    assert counts["triples placed by the nearest rule (ambiguous entity)"] == 1


def test_duie2_keeps_value_types_and_reports_slots(tmp_path):
    report, docs = _convert(tmp_path, "duie2.jsonl")
    counts = report.as_dict()
    assert counts["docs written"] == 3 and counts["records skipped: empty text"] == 1
    assert counts["extra object slots dropped (kept @value)"] == 1
    assert counts["triples skipped: entity not found in the text"] == 1
    assert _triples(docs[0]) == [("邪少兵王", "图书作品", "作者", "冰火未央", "人物")]
    (t,) = docs[1]._.triples
    assert (t.subject.text, t.object.text, t.object.start) == ("电影", "周杰伦", 9)  # nearest occurrence
    assert len(docs[0]) == len(docs[0].text)  # Chinese: one token per character
    # an entity string with surrounding spaces is stripped, then placed
    assert _triples(docs[2]) == [("我为你着迷", "图书作品", "作者", "米米拉", "人物")]


def test_duie_schema_filters_unknown_relations(tmp_path):
    schema = str(FIXTURES / "duie_schema.json")
    report, _ = _convert(tmp_path, "duie2.jsonl", schema=schema)
    assert report.as_dict()["triples skipped: unknown relation (not in the schema)"] == 1
    assert load_schema(FIXTURES / "duie_schema.json") == {"作者", "主演"}


def test_duie1(tmp_path):
    report, docs = _convert(tmp_path, "duie1.jsonl")
    assert report.as_dict()["triples skipped: entity not found in the text"] == 1
    assert docs[0]._.triples == []


def test_spert_nested_and_types(tmp_path):
    report, docs = _convert(tmp_path, "spert.json")
    counts = report.as_dict()
    assert counts["records skipped: no tokens, or an empty/whitespace token"] == 1
    assert counts["triples skipped: entity index not an entity of the record"] == 1  # "tail": 7
    assert _triples(docs[0]) == [
        ("proper nouns", "OtherScientificTerm", "Part-of", "Recognition of proper nouns", "Task"),
        ("Japanese text", "Material", "Used-for", "Recognition of proper nouns", "Task"),
    ]


def test_prodigy(tmp_path):
    report, docs = _convert(tmp_path, "prodigy.jsonl")
    counts = report.as_dict()
    assert counts["records skipped: answer is not accept"] == 1
    assert counts["triples skipped: span outside the tokens"] == 1
    assert counts["triples skipped: malformed triple"] == 1
    assert docs[0].text == "Barack Obama was born in Honolulu."
    assert _triples(docs[0]) == [("Barack Obama", "PERSON", "born_in", "Honolulu", "GPE")]


def test_own_jsonl_and_extract_output_feed_back(tmp_path):
    report, docs = _convert(tmp_path, "triples.jsonl")
    counts = report.as_dict()
    assert counts["triples written"] == 1 and counts["records skipped: empty text"] == 1
    assert counts["triples skipped: entity not at a token boundary"] == 1
    assert counts["triples skipped: offsets do not match the entity text"] == 1
    assert counts["triples skipped: span outside the tokens"] == 1
    assert counts["triples skipped: malformed triple"] == 1
    assert _triples(docs[0]) == [("Barack Obama", "PER", "born_in", "Honolulu", "")]
    # what extract writes (Triple.to_dict) converts back to the same triples
    record = {"text": docs[0].text, "triples": [t.to_dict() for t in docs[0]._.triples]}
    path = tmp_path / "again.jsonl"
    path.write_text(json.dumps(record) + "\n")
    docs2, report2 = read_dataset(str(path))
    assert [_triples(d) for d in docs2] == [_triples(docs[0])]


def test_round_trip_is_exact(tmp_path):
    docs, _ = read_dataset(str(FIXTURES / "casrel.json"))
    direct = [[t.to_dict() for t in d._.triples] for d in docs]
    _, loaded = _convert(tmp_path, "casrel.json")
    assert [[t.to_dict() for t in d._.triples] for d in loaded] == direct


def test_malformed_input_names_file_and_line(tmp_path, capsys):
    with pytest.raises(ConversionError, match=r"broken.jsonl, line 2: malformed JSON"):
        convert(str(FIXTURES / "broken.jsonl"), str(tmp_path / "x.spacy"))
    assert main(["convert", str(FIXTURES / "broken.jsonl"), str(tmp_path / "x.spacy")]) == 1
    assert "line 2" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('[{"text": 3}]')
    with pytest.raises(ConversionError, match="bad.json, record 1: 'text' must be a string"):
        convert(str(bad), str(tmp_path / "y.spacy"), fmt="casrel")


def test_strict_turns_skips_into_errors(tmp_path):
    with pytest.raises(ConversionError, match="--strict"):
        convert(str(FIXTURES / "casrel.json"), str(tmp_path / "x.spacy"), strict=True)


def test_load_schema_forms(tmp_path):
    (tmp_path / "rel2id.json").write_text(json.dumps({"a": 0, "b": 1}))
    (tmp_path / "star.json").write_text(json.dumps([{"0": "a"}, {"a": 0}]))
    (tmp_path / "names.txt").write_text("a\nb\n\n")
    assert load_schema(tmp_path / "rel2id.json") == {"a", "b"}
    assert load_schema(tmp_path / "star.json") == {"a"}
    assert load_schema(tmp_path / "names.txt") == {"a", "b"}


def test_stats(tmp_path, capsys):
    docs, _ = read_dataset(str(FIXTURES / "casrel.json"))
    stats = dataset_stats(docs)
    assert stats["docs"] == 2 and stats["triples"] == 4
    assert stats["relations"] == {"country": 2, "manager": 1, "numberOfMembers": 1}
    assert stats["overlap_share"]["shared_entity"] == 1.0  # both docs share an entity
    assert stats["nested_spans"] == 1  # "Paris" inside "Paris , Texas"
    assert stats["span_length"]["max"] == 4
    assert main(["stats", str(FIXTURES / "casrel.json")]) == 0
    out = capsys.readouterr().out
    assert "triples                          4" in out and "shared_entity" in out
    _convert(tmp_path, "casrel.json")
    assert main(["stats", str(tmp_path / "casrel.json.spacy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["triples"] == 4


def _listed(doc):
    return sorted((s.start, s.end, s.label_) for s in doc.spans["entities"]) if "entities" in doc.spans else None


def test_entities_from_triples_lists_each_docs_subjects_and_objects_once(tmp_path):
    report, docs = _convert(tmp_path, "casrel.json", entities_from_triples=True)
    plain_report, plain = _convert(tmp_path, "casrel.json")
    assert [_listed(d) for d in plain] == [None, None]  # CasRel lists no entities of its own
    expected = [sorted({(s.start, s.end, s.label_) for t in d._.triples for s in (t.subject, t.object)}) for d in plain]
    assert [_listed(d) for d in docs] == expected and all(expected)
    # an entity in two triples (both docs share one) is listed once; the triples are unchanged
    assert sum(len(e) for e in expected) < sum(2 * len(d._.triples) for d in plain)
    assert [_triples(d) for d in docs] == [_triples(d) for d in plain]
    assert report.as_dict()["entities listed from the triples"] == sum(len(e) for e in expected)
    assert "entities listed from the triples" not in plain_report.as_dict()


def test_entities_from_triples_keeps_a_formats_own_entity_list(tmp_path):
    # SpERT lists every entity, in a relation or not: that list stays as it is
    _, docs = _convert(tmp_path, "spert.json", entities_from_triples=True)
    _, plain = _convert(tmp_path, "spert.json")
    assert [_listed(d) for d in docs] == [_listed(d) for d in plain] and all(_listed(d) for d in plain)


def test_entities_from_triples_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "listed.spacy"
    assert main(["convert", str(FIXTURES / "casrel.json"), str(out), "--entities-from-triples"]) == 0
    assert "entities listed from the triples" in capsys.readouterr().out
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert all(_listed(d) for d in docs)


def test_every_occurrence_writes_a_string_triple_at_each_pair_of_occurrences(tmp_path):
    """TPLinker places a WebNLG string triple at every pair of its strings' occurrences; the default
    keeps the nearest pair. The added rows are counted, so the totals still add up."""
    report, docs = _convert(tmp_path, "casrel.json", every_occurrence=True)
    _, plain = _convert(tmp_path, "casrel.json")
    counts = report.as_dict()
    # "Paris" occurs at tokens 0 and 5: (Paris, country, USA) is written at both; nothing else changes
    assert sorted((t.subject.start, t.subject.text, t.object.text) for t in docs[1]._.triples) == [
        (0, "Paris", "USA"), (5, "Paris", "USA"), (5, "Paris , Texas", "USA")]
    assert [_triples(d) for d in docs[:1]] == [_triples(d) for d in plain[:1]]
    assert counts["triples added at other occurrences (every occurrence)"] == 1
    assert counts["triples written"] == 5 and counts["triples read"] == 9
    assert "triples placed by the nearest rule (ambiguous entity)" not in counts
    # the whole-text triples (what the papers score) are the same either way
    texts = lambda ds: [sorted({(t.subject.text, t.relation, t.object.text) for t in d._.triples}) for d in ds]
    assert texts(docs) == texts(plain)


def test_every_occurrence_pairs():
    from spacy_triples.convert.base import every_pair

    assert every_pair([(0, 1), (5, 6)], [(9, 10)]) == [((0, 1), (9, 10)), ((5, 6), (9, 10))]
    assert every_pair([(0, 1), (5, 6)], [(0, 1), (5, 6)]) == [((0, 1), (5, 6)), ((5, 6), (0, 1))]
    assert every_pair([(2, 3)], [(2, 3)]) == [((2, 3), (2, 3))]  # one shared span: kept, as the nearest rule does


def test_every_occurrence_in_chinese_and_on_the_command_line(tmp_path, capsys):
    report, docs = _convert(tmp_path, "duie2.jsonl", every_occurrence=True)
    _, plain = _convert(tmp_path, "duie2.jsonl")
    assert sum(len(d._.triples) for d in docs) == sum(len(d._.triples) for d in plain) + report.occurrence_triples_added
    assert report.occurrence_triples_added >= 1  # 周杰伦 occurs twice in the second doc
    out = tmp_path / "every.spacy"
    assert main(["convert", str(FIXTURES / "casrel.json"), str(out), "--every-occurrence"]) == 0
    assert "triples added at other occurrences" in capsys.readouterr().out


def test_every_occurrence_is_refused_where_the_format_gives_positions(tmp_path):
    with pytest.raises(ValueError, match="--every-occurrence .* casrel or duie"):
        convert(str(FIXTURES / "spert.json"), str(tmp_path / "x.spacy"), every_occurrence=True)
    assert not (tmp_path / "x.spacy").exists()
