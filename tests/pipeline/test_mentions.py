"""Gold entity mentions (every listed entity, in a relation or not): the converters store them, the
pipe aligns them through ``Example``, and GlobalPointer.v2 learns them with ``mention_weight``."""
import json

import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span, SpanGroup
from spacy.training import Example

from spacy_triples.cli import convert
from spacy_triples.convert import ConversionError
from spacy_triples.convert.base import GOLD_ENTITIES_KEY
from spacy_triples.gold import AlignedGold, align_mentions
from spacy_triples.heads.global_pointer.model import build_global_pointer_v2
from spacy_triples.heads.global_pointer.util import make_mention_targets
from spacy_triples.triples import TripleRow

from ..util import DGCNN, GP2, gp_entity_scores, gp_linker, assert_same_triples

UNIFIED = [
    {"tokens": "Oswald shot Kennedy in Dallas .".split(),
     "entities": [[0, 1, "Peop"], [2, 3, "Peop"], [4, 5, "Loc"], [4, 5, "Loc"], [3, 9, "Loc"], [1], "x"],
     "relations": [[0, 1, 2, 3, "Kill"]]},
    {"tokens": "No relations in Paris .".split(), "entities": [[3, 4, "Loc"]], "relations": []},
]
SPERT = [{"tokens": "Oswald shot Kennedy in Dallas .".split(),
          "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Peop", "start": 2, "end": 3},
                       {"type": "Loc", "start": 4, "end": 5}, {"type": "Loc", "start": 4}],
          "relations": [{"type": "Kill", "head": 0, "tail": 1}]}]


def _write(tmp_path, name, records):
    path = tmp_path / name
    path.write_text(json.dumps(records), encoding="utf8")
    return path


def _docs(path):
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


def _mentions(doc):
    return [(span.text, span.label_) for span in doc.spans[GOLD_ENTITIES_KEY]]


def test_unified_stores_every_listed_entity_and_accounts_for_each(tmp_path):
    source = _write(tmp_path, "conll04.json", UNIFIED)
    report = convert(str(source), str(tmp_path / "out.spacy"), fmt="unified")
    docs = _docs(tmp_path / "out.spacy")
    # "Dallas" has no relation and is kept; so is the entity of the doc without relations
    assert _mentions(docs[0]) == [("Oswald", "Peop"), ("Kennedy", "Peop"), ("Dallas", "Loc")]
    assert _mentions(docs[1]) == [("Paris", "Loc")]
    counts = report.as_dict()
    assert counts["entities read"] == 8 and counts["entities written"] == 4
    assert counts["entities skipped: duplicate entity (same span and type, stored once)"] == 1
    assert counts["entities skipped: malformed entity (not a [start, end, type] / {start, end, type} inside the tokens)"] == 3
    assert [(t.subject.label_, t.relation, t.object.label_) for t in docs[0]._.triples] == [("Peop", "Kill", "Peop")]


def test_spert_stores_every_listed_entity(tmp_path):
    report = convert(str(_write(tmp_path, "spert.json", SPERT)), str(tmp_path / "out.spacy"), fmt="spert")
    (doc,) = _docs(tmp_path / "out.spacy")
    assert _mentions(doc) == [("Oswald", "Peop"), ("Kennedy", "Peop"), ("Dallas", "Loc")]
    assert report.as_dict()["entities skipped: malformed entity (not a [start, end, type] / {start, end, type} inside the tokens)"] == 1


def test_strict_refuses_a_malformed_entity(tmp_path):
    source = _write(tmp_path, "conll04.json", UNIFIED)
    with pytest.raises(ConversionError, match=r"conll04.json, record 1: entity skipped \(malformed entity"):
        convert(str(source), str(tmp_path / "out.spacy"), fmt="unified", strict=True)


def _example(ref_words, pred_words, mentions):
    nlp = spacy.blank("en")
    ref = Doc(nlp.vocab, words=ref_words)
    if mentions is not None:
        ref.spans[GOLD_ENTITIES_KEY] = SpanGroup(ref, spans=[Span(ref, a, b, label=t) for a, b, t in mentions])
    return Example(Doc(nlp.vocab, words=pred_words), ref)


def test_align_mentions_goes_through_the_example_alignment():
    eg = _example(["New", "York-based", "Acme", "hired", "Bo", "."], ["New", "York", "-", "based", "Acme", "hired", "Bo", "."],
                  [(0, 2, "Loc"), (2, 3, "Org"), (4, 5, "Peop"), (5, 6, "Other")])
    # predicted tokens: "York-based" became three tokens; "Other" is no type the triples use
    assert align_mentions(eg, ["Loc", "Org", "Peop"]) == [(0, 4, 0), (4, 5, 1), (6, 7, 2)]
    assert align_mentions(eg, []) == [(0, 4, 0), (4, 5, 0), (6, 7, 0), (7, 8, 0)]  # untyped: all, type 0
    assert align_mentions(_example(["a", "b"], ["a", "b"], None), ["Loc"]) is None  # none listed
    assert align_mentions(_example(["a", "b"], ["a", "b"], []), ["Loc"]) == []  # listed: none there


def test_mention_targets_mark_listed_mentions_and_mask_docs_without_them():
    windows = numpy.asarray([[0, 0, 4], [0, 2, 6], [1, 0, 3], [2, 0, 3]], dtype="i")
    gold = [AlignedGold([TripleRow(0, 1, 0, 4, 5)], [(0, 1, 1), (3, 5, 0)]), AlignedGold([], None), None]
    target, mask = make_mention_targets(windows, 4, gold, n_types=2, max_span_length=3)
    assert target.shape == (4, 2, 4, 4) and mask.shape == (4, 1, 4, 4)
    assert numpy.argwhere(target).tolist() == [[0, 1, 0, 0], [1, 0, 1, 2]]  # each where it fits its window
    assert mask[0].sum() > 0 and mask[1].sum() > 0
    assert not mask[2].any() and not mask[3].any()  # no mentions listed / no gold: says nothing
    assert not mask[0, 0, 0, 3]  # longer than max_span_length


TYPES = {"Oswald": "Peop", "Kennedy": "Peop", "Dallas": "Loc", "Ruby": "Peop", "Paris": "Loc", "Texas": "Loc"}
DATA = [  # (words, triples, mentions): Dallas, Texas and Paris are mentions in no triple
    ("Oswald shot Kennedy in Dallas .".split(), [(0, 1, "Kill", 2, 3)], [(0, 1), (2, 3), (4, 5)]),
    ("Ruby shot Oswald in Texas .".split(), [(0, 1, "Kill", 2, 3)], [(0, 1), (2, 3), (4, 5)]),
    ("Kennedy lived in Paris .".split(), [(0, 1, "Live_In", 3, 4)], [(0, 1), (3, 4)]),
    ("Ruby lived in Dallas .".split(), [(0, 1, "Live_In", 3, 4)], [(0, 1), (3, 4)]),
    ("Nobody went to Paris .".split(), [], [(3, 4)]),
]


def _examples(nlp):
    examples = []
    for words, triples, mentions in DATA:
        ref = Doc(nlp.vocab, words=words)
        typed = lambda a, b: Span(ref, a, b, label=TYPES[ref[a:b].text])  # noqa: E731
        ref._.triples = [(typed(s0, s1), rel, typed(o0, o1)) for s0, s1, rel, o0, o1 in triples]
        ref.spans[GOLD_ENTITIES_KEY] = SpanGroup(ref, spans=[typed(a, b) for a, b in mentions])
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    return examples


def _mention_scores(nlp, text):
    """The mention maps' logits (T, W, W) of ``text``."""
    return gp_entity_scores(nlp, text)[0][2 * gp_linker(nlp).n_entity_types :]


@pytest.fixture(scope="module")
def trained():
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"model": {"@architectures": GP2, "tok2vec": DGCNN, "mention_weight": 1.0,
                                                       "entity_prior": -4.0, "relation_prior": -4.0}})
    examples = _examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(150):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return nlp, examples


def test_mention_weight_learns_every_listed_entity_and_still_overfits_the_triples(trained, tmp_path):
    nlp, examples = trained
    pipe = nlp.get_pipe("triple_extractor")
    assert pipe.head.learns_mentions and pipe.entity_labels == ("Loc", "Peop")
    assert nlp.evaluate(examples)["triples_strict_f"] == 1.0
    scores = _mention_scores(nlp, "Nobody went to Paris .")
    assert scores.shape[0] == 2  # one map per entity type
    assert float(scores[0, 3, 3]) > 0 > float(scores[1, 3, 3])  # Paris: a Loc mention, no Peop
    assert float(scores[:, 1, 1].max()) < 0  # "went" is no mention
    assert float(_mention_scores(nlp, "Oswald shot Kennedy in Dallas .")[0, 4, 4]) > 0  # Dallas, in no triple
    # the mention maps are never decoded: no triple comes out of a sentence with mentions only
    assert nlp("Nobody went to Paris .")._.triples == []
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m")
    assert gp_linker(loaded).mention_types == 2
    text = "Ruby shot Kennedy in Paris ."
    assert_same_triples([loaded(text)], [nlp(text)])


def test_without_mention_weight_nothing_changes():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"model": {"@architectures": GP2, "tok2vec": DGCNN}})
    examples = _examples(nlp)
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("triple_extractor")
    assert not pipe.head.learns_mentions
    assert gp_linker(nlp).entity.bias.out_features == 2 * 2 * 2  # subject and object maps only (row + column bias)
    gold = pipe._align(examples, pipe.settings())
    assert not any(isinstance(rows, AlignedGold) for rows in gold)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "high"])
def test_bad_mention_weight_is_refused_with_a_clear_error(bad):
    with pytest.raises(ValueError, match="mention_weight must be a number >= 0"):
        build_global_pointer_v2(None, mention_weight=bad)


def test_mention_decode_lets_the_mention_maps_back_the_subject_and_object_scores(trained, tmp_path):
    nlp, examples = trained
    linker = gp_linker(nlp)
    assert linker.mention_decode == 0.0  # the default: the role maps alone
    text = "Nobody went to Paris ."  # Paris: a Loc mention, in no triple
    try:
        linker.mention_decode = 0.5
        assert nlp.evaluate(examples)["triples_strict_f"] == 1.0  # the training triples are still found
        assert nlp(text)._.triples == []  # a mention alone links to nothing
    finally:
        linker.mention_decode = 0.0
    # set in the config, it reaches the module and survives a round trip
    fresh = spacy.blank("en")
    fresh.add_pipe("triple_extractor", config={"model": {"@architectures": GP2, "tok2vec": DGCNN, "mention_weight": 0.5,
                                                         "mention_decode": 0.25}})
    fresh.initialize(lambda: _examples(fresh))
    assert gp_linker(fresh).mention_decode == 0.25
    fresh.to_disk(tmp_path / "md")
    assert gp_linker(spacy.load(tmp_path / "md")).mention_decode == 0.25


@pytest.mark.parametrize("bad,match", [(-0.1, "from 0 to 1"), (1.5, "from 0 to 1"), ("half", "from 0 to 1"),
                                       (0.5, "set mention_weight")])
def test_bad_mention_decode_is_refused_with_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        build_global_pointer_v2(None, mention_decode=bad)


def _unlisted_examples(nlp):
    """DATA without the entity lists (WebNLG, NYT, DuIE are converted so: no doc.spans["entities"])."""
    examples = _examples(nlp)
    for eg in examples:
        del eg.reference.spans[GOLD_ENTITIES_KEY]
    return examples


def test_mention_decode_is_not_applied_when_no_training_doc_lists_its_entities(tmp_path):
    # untrained mention maps stay near their prior; read at mention_decode = 0.5 they pulled every
    # entity score down by half of it (WebNLG, 600 steps: test F1 34.76 against 45.85 without)
    config = {"model": {"@architectures": GP2, "tok2vec": DGCNN, "mention_weight": 0.5, "mention_decode": 0.5,
                        "entity_prior": -4.0, "relation_prior": -4.0}}
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config=config)
    examples = _unlisted_examples(nlp)
    with pytest.warns(UserWarning, match=r"no training doc lists its entities in doc.spans\['entities'\]"):
        optimizer = nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("triple_extractor")
    assert pipe.cfg["listed_entity_docs"] == 0 and gp_linker(nlp).mention_decode == 0.0
    for _ in range(150):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    assert nlp.evaluate(examples)["triples_strict_f"] == 1.0
    texts = [" ".join(words) for words, _, _ in DATA]
    nlp.to_disk(tmp_path / "unlisted")
    loaded = spacy.load(tmp_path / "unlisted")  # the count is saved: the loaded head ignores the maps too
    assert gp_linker(loaded).mention_decode == 0.0
    assert_same_triples(list(loaded.pipe(texts)), list(nlp.pipe(texts)))
    # the same data with its entity lists keeps the config's mention_decode, through a round trip
    listed = spacy.blank("en")
    listed.add_pipe("triple_extractor", config=config)
    listed.initialize(lambda: _examples(listed))
    assert listed.get_pipe("triple_extractor").cfg["listed_entity_docs"] == len(DATA)
    assert gp_linker(listed).mention_decode == 0.5
    listed.to_disk(tmp_path / "listed")
    assert gp_linker(spacy.load(tmp_path / "listed")).mention_decode == 0.5


def test_a_pipeline_saved_before_the_count_reads_mention_maps_as_its_config_says(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"model": {"@architectures": GP2, "tok2vec": DGCNN, "mention_weight": 0.5,
                                                       "mention_decode": 0.5}})
    nlp.initialize(lambda: _examples(nlp))
    nlp.to_disk(tmp_path / "old")
    cfg_file = tmp_path / "old" / "triple_extractor" / "cfg"
    cfg = json.loads(cfg_file.read_text())
    del cfg["listed_entity_docs"]
    cfg_file.write_text(json.dumps(cfg))
    assert gp_linker(spacy.load(tmp_path / "old")).mention_decode == 0.5
