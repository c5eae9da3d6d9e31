"""The triple_extractor component: the spaCy checklist."""
import pickle

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example

from spacy_triples import Triple, TripleExtractor
from spacy_triples.pipe import length_sub_batches

from ..util import LABELS, TRAIN_DATA, assert_same_triples, make_doc, make_examples, train


def _triples(doc):
    return [(t.subject.text, t.subject.start, t.relation, t.object.text, t.object.start) for t in doc._.triples]


def _gold(nlp):
    return [_triples(make_doc(nlp, words, triples)) for words, triples in TRAIN_DATA]


@pytest.fixture(scope="module")
def trained():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=150)
    return nlp, examples


def test_add_pipe_without_import_uses_entry_point():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    assert isinstance(pipe, TripleExtractor)
    assert "doc._.triples" in nlp.get_pipe_meta("triple_extractor").assigns


def test_no_label_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    examples = [Example(Doc(nlp.vocab, words=["a", "b"]), Doc(nlp.vocab, words=["a", "b"]))]
    with pytest.raises(ValueError, match="no relation labels"):
        nlp.initialize(lambda: examples)


def test_implicit_labels():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    nlp.initialize(lambda: make_examples(nlp))
    assert pipe.labels == tuple(LABELS)
    assert pipe.label_data == {"relations": LABELS, "entity_types": []}


def test_explicit_labels_and_add_label_after_init_error():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    pipe.initialize(lambda: make_examples(nlp), nlp=nlp, labels=["b_rel", "a_rel"])
    assert pipe.labels == ("b_rel", "a_rel")
    with pytest.raises(ValueError, match="after it was initialized"):
        pipe.add_label("c_rel")


def test_labels_from_config_initialize_section():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    nlp.config["initialize"]["components"]["triple_extractor"] = {"labels": ["x_rel"]}
    nlp.initialize(lambda: make_examples(nlp))
    assert nlp.get_pipe("triple_extractor").labels == ("x_rel",)


def test_overfit_to_f1_one_then_disk_round_trip(trained, tmp_path):
    nlp, examples = trained
    scores = nlp.evaluate(examples)
    assert scores["triples_f"] == 1.0
    assert scores["triple_ents_f"] == 1.0
    assert set(scores["triples_per_overlap"]) == {"normal", "shared_entity", "multi_relation"}
    texts = [" ".join(words) for words, _ in TRAIN_DATA]
    predicted = [_triples(doc) for doc in nlp.pipe(texts)]
    assert predicted == _gold(nlp)
    # nested span: "Chicago" inside "University of Chicago"; pair with two relations: Paris -> France
    assert ("University of Chicago", 1, "located_in", "Chicago", 3) in predicted[3]
    assert ("University of Chicago", 1, "founded_by", "John Rockefeller", 7) in predicted[3]
    assert {p[2] for p in predicted[2]} == {"capital_of", "located_in"}
    for doc in nlp.pipe(texts):
        for t in doc._.triples:
            assert type(t.score) is float and 0.0 <= t.score <= 1.0
            assert isinstance(t.relation, str)
        assert len(doc.spans["triple_entities"]) == len({(t.subject.start, t.subject.end) for t in doc._.triples}
                                                       | {(t.object.start, t.object.end) for t in doc._.triples})
    nlp.to_disk(tmp_path / "model")
    nlp2 = spacy.load(tmp_path / "model")
    assert_same_triples(list(nlp2.pipe(texts)), list(nlp.pipe(texts)))


def test_bytes_round_trip_after_initialize(trained):
    nlp, _ = trained
    text = " ".join(TRAIN_DATA[1][0])
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("triple_extractor")
    nlp2.get_pipe("triple_extractor").from_bytes(nlp.get_pipe("triple_extractor").to_bytes())
    assert_same_triples([nlp2(text)], [nlp(text)])
    assert nlp2.get_pipe("triple_extractor").labels == tuple(LABELS)


def test_round_trips_before_initialize(tmp_path):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor", config={"threshold": 0.3})
    data = pipe.to_bytes()
    nlp2 = spacy.blank("en")
    pipe2 = nlp2.add_pipe("triple_extractor")
    pipe2.from_bytes(data)
    assert pipe2.threshold == pytest.approx(0.3) and pipe2.labels == ()
    nlp.to_disk(tmp_path / "blank")
    nlp3 = spacy.load(tmp_path / "blank")
    assert nlp3.get_pipe("triple_extractor").threshold == pytest.approx(0.3)
    # and the loaded blank pipe can still be trained
    nlp3.initialize(lambda: make_examples(nlp3))
    assert nlp3.get_pipe("triple_extractor").labels == tuple(LABELS)


def test_missing_model_file_gives_clear_error(trained, tmp_path):
    nlp, _ = trained
    nlp.to_disk(tmp_path / "m")
    (tmp_path / "m" / "triple_extractor" / "model").write_bytes(b"\x00truncated")
    with pytest.raises(ValueError, match="triple_extractor"):
        spacy.load(tmp_path / "m")


def test_empty_docs_and_no_candidates(trained):
    nlp, _ = trained
    docs = list(nlp.pipe(["", " ", "Barack Obama was born in Honolulu .", "", "xyz"]))
    assert docs[0]._.triples == [] and docs[1]._.triples == []
    assert [t.relation for t in docs[2]._.triples] == ["born_in"]
    assert docs[4]._.triples == []
    assert len(docs[0].spans["triple_entities"]) == 0
    assert list(nlp.pipe([])) == []
    # a batch made only of empty docs
    assert [d._.triples for d in nlp.pipe(["", ""])] == [[], []]


def test_update_with_empty_and_unannotated_docs(trained):
    nlp, _ = trained
    empty = Example(Doc(nlp.vocab, words=[]), Doc(nlp.vocab, words=[]))
    losses = nlp.update([empty], sgd=None)
    assert losses["triple_extractor"] == 0.0
    words = "Mary lives in Rome .".split()
    unannotated = Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words))
    losses = nlp.update([unannotated], sgd=None)
    assert losses["triple_extractor"] == 0.0  # no gold set at all: masked, not taught "no triple"
    annotated_empty = Doc(nlp.vocab, words=words)
    annotated_empty._.triples = []
    losses = nlp.update([Example(Doc(nlp.vocab, words=words), annotated_empty)], sgd=None)
    assert losses["triple_extractor"] > 0.0


def test_long_doc_memory_is_windowed(trained, monkeypatch):
    from spacy_triples.heads.global_pointer.pytorch import EfficientGlobalPointer

    nlp, _ = trained
    largest = []
    dense, at = EfficientGlobalPointer.forward, EfficientGlobalPointer.at

    def recording(original):
        def record(self, *args):
            out = original(self, *args)
            largest.append(out.numel())
            return out

        return record

    # every score tensor built at prediction: dense entity maps and relation scores of entity pairs
    monkeypatch.setattr(EfficientGlobalPointer, "forward", recording(dense))
    monkeypatch.setattr(EfficientGlobalPointer, "at", recording(at))
    sentence = "Barack Obama was born in Honolulu . "
    peaks = {}
    for n in (1200, 2400):
        largest.clear()
        doc = nlp(sentence * n)  # 8,400 and 16,800 tokens, in overlapping windows of 128
        assert len(doc) == 7 * n
        peaks[n] = max(largest)
        starts = [t.subject.start for t in doc._.triples if t.relation == "born_in" and t.object.start == t.subject.start + 5]
        # found in (nearly) every sentence, including those in two windows, and never twice
        assert len(starts) == len(set(starts)) >= 0.95 * n
    # the largest score tensor does not grow with the document: windows are scored in chunks of at
    # most 2**22 elements, far below one (tokens x tokens) map per pointer of the document
    assert peaks[2400] == peaks[1200] <= 2**22
    n_heads = 2 + 2 * len(LABELS)
    assert peaks[2400] < n_heads * 16800 * 16800 / 100


def test_different_tokenization_still_trains():
    from spacy_triples.gold import align_gold

    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    ref = Doc(nlp.vocab, words=["Barack", "Obama", "was", "born", "in", "Honolulu", "."])
    ref._.triples = [(ref[0:2], "born_in", ref[5:6])]
    pred = Doc(nlp.vocab, words=["Barack", "Obama", "was", "born", "in", "Hono", "lulu", "."],
               spaces=[True, True, True, True, True, False, False, False])
    eg = Example(pred, ref)
    assert [tuple(r)[:5] for r in align_gold(eg, ["born_in"], [])] == [(0, 2, 0, 5, 7)]  # Honolulu -> Hono lulu
    # it trains on the predicted tokenization: the object is the two tokens "Hono lulu"
    train(nlp, [eg], n_iter=150)
    doc = nlp(Doc(nlp.vocab, words=[t.text for t in pred], spaces=[bool(t.whitespace_) for t in pred]))
    assert [(t.subject.text, t.relation, t.object.text) for t in doc._.triples] == [("Barack Obama", "born_in", "Honolulu")]
    assert [(t.object.start, t.object.end) for t in doc._.triples] == [(5, 7)]
    # gold that cannot be aligned masks the doc instead of guessing
    ref2 = Doc(nlp.vocab, words=["Barack", "Obama", "was", "born", "in", "Hono", "lulu", "."],
               spaces=[True, True, True, True, True, False, False, False])
    ref2._.triples = [(ref2[0:2], "born_in", ref2[5:6])]  # "Hono" alone
    pred2 = Doc(nlp.vocab, words=["Barack", "Obama", "was", "born", "in", "Honolulu", "."])
    assert align_gold(Example(pred2, ref2), ["born_in"], []) is None


def test_triples_survive_docbin_bytes_and_pickle():
    nlp = spacy.blank("en")
    words, triples = TRAIN_DATA[3]
    doc = make_doc(nlp, words, triples)
    doc._.triples = list(doc._.triples) + [Triple(doc[7:9], "rel_x", doc[1:4], 0.25)]
    expected = [t.to_dict() for t in doc._.triples]
    db = DocBin(store_user_data=True)
    db.add(doc)
    doc2 = list(DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab))[0]
    assert [t.to_dict() for t in doc2._.triples] == expected
    doc3 = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert [t.to_dict() for t in doc3._.triples] == expected
    doc4 = pickle.loads(pickle.dumps(doc))
    assert [t.to_dict() for t in doc4._.triples] == expected
    assert isinstance(doc4._.triples[0], Triple)


def test_setting_triples_validates_input():
    nlp = spacy.blank("en")
    doc = nlp("Barack Obama was born in Honolulu .")
    other = nlp("Another doc")
    with pytest.raises(ValueError, match="another Doc"):
        doc._.triples = [(other[0:1], "r", doc[0:1])]
    with pytest.raises(ValueError, match="non-empty string"):
        doc._.triples = [(doc[0:1], "", doc[1:2])]
    with pytest.raises(ValueError, match="Span"):
        doc._.triples = [("Barack", "r", doc[1:2])]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        doc._.triples = [(doc[0:1], "r", doc[1:2], 1.5)]
    doc._.triples = [(doc[5:6], "b", doc[0:2]), (doc[0:2], "a", doc[5:6]), (doc[0:2], "a", doc[5:6], 0.4)]
    assert [(t.subject.text, t.relation) for t in doc._.triples] == [("Barack Obama", "a"), ("Honolulu", "b")]
    assert doc._.triples[0].score == 1.0  # duplicates keep the best score


def test_n_process_2(trained):
    nlp, _ = trained
    texts = [" ".join(words) for words, _ in TRAIN_DATA] * 3
    single = [[t.to_dict() for t in d._.triples] for d in nlp.pipe(texts)]
    multi = [[t.to_dict() for t in d._.triples] for d in nlp.pipe(texts, n_process=2, batch_size=4)]
    assert_same_triples(multi, single)
    assert any(single)


def test_predict_is_pure_and_batch_independent(trained):
    nlp, _ = trained
    texts = [" ".join(words) for words, _ in TRAIN_DATA]
    pipe = nlp.get_pipe("triple_extractor")
    docs = [nlp.make_doc(t) for t in texts]
    pipe.predict(docs)
    assert all(d._.triples == [] for d in docs)
    alone = [_triples(nlp(t)) for t in texts]
    batched = [_triples(d) for d in nlp.pipe(texts, batch_size=len(texts))]
    assert alone == batched


def test_scorer_counts_misses_and_per_type():
    nlp = spacy.blank("en")
    words = "Barack Obama was born in Honolulu .".split()
    gold = make_doc(nlp, words, [(0, 2, "born_in", 5, 6), (0, 2, "lives_in", 5, 6)])
    pred = make_doc(nlp, words, [(0, 2, "born_in", 5, 6), (0, 1, "born_in", 5, 6)])
    scorer = spacy.registry.scorers.get("spacy_triples.triple_scorer.v1")()
    scores = scorer([Example(pred, gold)])
    assert scores["triples_p"] == 0.5 and scores["triples_r"] == 0.5
    assert scores["triples_per_type"]["lives_in"] == {"p": 0.0, "r": 0.0, "f": 0.0}
    assert scores["triples_per_type"]["born_in"]["p"] == 0.5
    assert set(scores["triples_per_overlap"]) == {"multi_relation"}  # one pair, two relations: EPO only
    # a miss the model never proposed still counts
    nothing = Doc(nlp.vocab, words=words)
    assert scorer([Example(nothing, gold)])["triples_r"] == 0.0


def test_last_word_scores_follow_casrel_and_tplinker():
    # WebNLG* (CasRel's data, TPLinker's "WebNLG*") marks only the last word of each entity; a model
    # is right when the last words of both entities and the relation are. Hand-checked on the first
    # sentence of WebNLG*'s test set: gold (Bananaman, starring, Brooke-Taylor); a model trained on
    # whole entities predicts "Tim Brooke-Taylor", which counts there and not in exact match.
    nlp = spacy.blank("en")
    words = "Tim Brooke-Taylor was the star of Bananaman , an STV series first aired on 10/03/1983 and created by Steve Bright .".split()
    star_gold = make_doc(nlp, words, [(6, 7, "starring", 1, 2), (6, 7, "creator", 19, 20)])
    whole = make_doc(nlp, words, [(6, 7, "starring", 0, 2), (6, 7, "creator", 18, 20)])
    scorer = spacy.registry.scorers.get("spacy_triples.triple_scorer.v1")()
    assert scorer([Example(star_gold, star_gold)])["triples_last_word_f"] == 1.0  # gold against itself
    scores = scorer([Example(whole, star_gold)])
    assert scores["triples_last_word_p"] == scores["triples_last_word_r"] == 1.0
    assert scores["triples_f"] == 0.0  # exact match: "Tim Brooke-Taylor" is not "Brooke-Taylor"
    # a wrong last word, or a wrong relation, is a miss; an extra triple is a false positive
    wrong = make_doc(nlp, words, [(6, 7, "starring", 0, 1), (6, 7, "director", 18, 20), (6, 7, "creator", 18, 20)])
    scores = scorer([Example(wrong, star_gold)])
    assert scores["triples_last_word_p"] == pytest.approx(1 / 3) and scores["triples_last_word_r"] == 0.5
    # two predictions that end on the same words are one fact
    twice = make_doc(nlp, words, [(6, 7, "starring", 0, 2), (6, 7, "starring", 1, 2)])
    assert scorer([Example(twice, star_gold)])["triples_last_word_p"] == 1.0


def test_whole_text_scores_follow_tplinker_on_webnlg():
    # TPLinker(-Plus) scores WebNLG and NYT with match_pattern "whole_text": per sentence, the set of
    # (subject text, relation, object text). Hand-checked on a WebNLG test sentence whose object
    # occurs twice: the converter places the gold "California" at its first occurrence (the nearest
    # rule); a model that links the second one is right by text and wrong by span
    nlp = spacy.blank("en")
    words = ("Alan Shepard , who was awarded the US Navy Distinguished Service Medal died in California , "
             "UNK a Smilodon is a fossil from California .").split()
    gold = make_doc(nlp, words, [(0, 2, "deathPlace", 14, 15)])
    second = make_doc(nlp, words, [(0, 2, "deathPlace", 23, 24)])
    scorer = spacy.registry.scorers.get("spacy_triples.triple_scorer.v1")()
    assert scorer([Example(gold, gold)])["triples_text_f"] == 1.0  # gold against itself
    scores = scorer([Example(second, gold)])
    assert scores["triples_text_p"] == scores["triples_text_r"] == 1.0
    assert scores["triples_f"] == 0.0  # the exact-span score counts the other occurrence as a miss
    # the whole entity must match: a part of it, another relation, or both occurrences
    # (one fact by text) are scored as such
    part = make_doc(nlp, words, [(1, 2, "deathPlace", 14, 15)])
    assert scorer([Example(part, gold)])["triples_text_f"] == 0.0
    both = make_doc(nlp, words, [(0, 2, "deathPlace", 14, 15), (0, 2, "deathPlace", 23, 24), (0, 2, "birthPlace", 14, 15)])
    scores = scorer([Example(both, gold)])
    assert scores["triples_text_p"] == 0.5 and scores["triples_text_r"] == 1.0


def test_predict_before_initialize_is_a_clear_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    with pytest.raises(ValueError, match="not initialized"):
        nlp("Barack Obama was born in Honolulu .")


def test_strict_scores_need_entity_types():
    nlp = spacy.blank("en")
    words = "Barack Obama was born in Honolulu .".split()
    gold = Doc(nlp.vocab, words=words)
    gold._.triples = [(Span(gold, 0, 2, label="PER"), "born_in", Span(gold, 5, 6, label="LOC"))]
    right = Doc(nlp.vocab, words=words)
    right._.triples = [(Span(right, 0, 2, label="PER"), "born_in", Span(right, 5, 6, label="LOC"))]
    wrong_type = Doc(nlp.vocab, words=words)
    wrong_type._.triples = [(Span(wrong_type, 0, 2, label="PER"), "born_in", Span(wrong_type, 5, 6, label="ORG"))]
    scorer = spacy.registry.scorers.get("spacy_triples.triple_scorer.v1")()
    ok = scorer([Example(right, gold)])
    assert ok["triples_f"] == ok["triples_strict_f"] == 1.0
    bad = scorer([Example(wrong_type, gold)])
    assert bad["triples_f"] == 1.0 and bad["triples_strict_f"] == 0.0  # right spans, wrong type
    assert bad["triple_ents_f"] == 1.0
    assert bad["triple_ents_per_type"]["LOC"] == {"p": 0.0, "r": 0.0, "f": 0.0}
    assert bad["triple_ents_per_type"]["PER"]["f"] == 1.0
    # untyped gold (label "") and an untyped model (label ENTITY): strict equals boundaries
    plain_gold = Doc(nlp.vocab, words=words)
    plain_gold._.triples = [(plain_gold[0:2], "born_in", plain_gold[5:6])]
    plain_gold._.triples_data = [[0, 2, "", "born_in", 5, 6, "", 1.0]]
    untyped = Doc(nlp.vocab, words=words)
    untyped._.triples_data = [[0, 2, "ENTITY", "born_in", 5, 6, "ENTITY", 0.9]]  # as an untyped model writes it
    assert scorer([Example(untyped, plain_gold)])["triples_strict_f"] == 1.0


def test_bad_settings():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="threshold"):
        nlp.add_pipe("triple_extractor", config={"threshold": 1.5})
    with pytest.raises(ValueError, match="max_relations_per_pair must be a whole number >= 0"):
        nlp.add_pipe("triple_extractor", config={"max_relations_per_pair": -1})
    for limit in (1.5, "one"):  # spaCy's config check names the setting too
        with pytest.raises(ValueError, match="max_relations_per_pair"):
            nlp.add_pipe("triple_extractor", name=f"t{limit}", config={"max_relations_per_pair": limit})


def test_max_relations_per_pair_keeps_each_pairs_best_relation_and_is_saved(trained, tmp_path):
    nlp, _ = trained
    pipe = nlp.get_pipe("triple_extractor")
    text = " ".join(TRAIN_DATA[2][0])  # Paris -> France holds two relations
    every = nlp(text)._.triples
    best = {}
    for t in every:
        pair = (t.subject.start, t.subject.end, t.object.start, t.object.end)
        if pair not in best or t.score > best[pair].score:
            best[pair] = t
    assert len(best) < len(every)
    pipe.cfg["max_relations_per_pair"] = 1
    try:
        one = nlp(text)._.triples
        nlp.to_disk(tmp_path / "model")
    finally:
        pipe.cfg["max_relations_per_pair"] = 0
    key = lambda t: (t.subject.start, t.subject.end, t.relation, t.object.start, t.object.end)  # noqa: E731
    assert sorted(map(key, one)) == sorted(map(key, best.values()))
    assert len(nlp(text)._.triples) == len(every)  # back to 0: every relation again
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("triple_extractor").cfg["max_relations_per_pair"] == 1
    assert sorted(map(key, loaded(text)._.triples)) == sorted(map(key, one))


@pytest.mark.parametrize("lengths,max_items,expected", [
    ([], 8, []),
    # sorted shortest first: 1 and 3 fit (2 x 3 <= 8), 5 would make 3 x 5; 9 is over the budget alone
    ([5, 1, 3, 9], 8, [[1, 2], [0], [3]]),
    ([2, 2, 2, 2], 4, [[0, 1], [2, 3]]),  # equal lengths keep their order
    ([0, 0, 0], 2, [[0, 1], [2]]),  # an empty doc counts as one token
    ([7, 3, 5], 1000, [[1, 2, 0]]),
])
def test_length_sub_batches(lengths, max_items, expected):
    assert length_sub_batches(lengths, max_items) == expected


@pytest.mark.parametrize("seed", range(5))
def test_length_sub_batches_cover_every_doc_within_the_budget(seed):
    import random

    rng = random.Random(seed)
    lengths = [rng.choice([0, 1, rng.randint(2, 200)]) for _ in range(rng.randint(1, 300))]
    max_items = rng.choice([1, 50, 512, 4096])
    batches = length_sub_batches(lengths, max_items)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert [lengths[i] for b in batches for i in b] == sorted(lengths)
    for b in batches:
        assert len(b) == 1 or len(b) * max(max(lengths[i], 1) for i in b) <= max_items


def test_pipe_predicts_in_length_sorted_sub_batches_and_keeps_the_order(trained, monkeypatch):
    nlp, _ = trained
    pipe = nlp.get_pipe("triple_extractor")
    # lengths 6, 11, 9, 10, 7, 21 (the last is the sentence three times), and an empty text
    texts = [" ".join(words) for words, _ in TRAIN_DATA] + [""]
    texts = texts + texts[::-1]
    one_batch = [list(d._.triples) for d in nlp.pipe(texts, batch_size=len(texts))]
    assert any(one_batch)
    calls = []
    predict = pipe.predict

    def recording(docs):
        docs = list(docs)
        calls.append([len(doc) for doc in docs])
        return predict(docs)

    monkeypatch.setattr(pipe, "predict", recording)
    for max_items in (1, 24, 10**6):
        calls.clear()
        monkeypatch.setattr(pipe, "max_batch_items", max_items)
        docs = list(nlp.pipe(texts, batch_size=8))
        assert [d.text for d in docs] == texts
        assert_same_triples(docs, [[t.to_dict() for t in ts] for ts in one_batch])
        assert sum(len(c) for c in calls) == len(texts)
        for call in calls:
            assert call == sorted(call)
            assert len(call) == 1 or len(call) * max(max(call), 1) <= max_items
        if max_items == 10**6:
            assert [len(c) for c in calls] == [8, 6]  # the batches as nlp.pipe cut them
        if max_items == 24:
            assert len(calls) > 2 and any(len(c) > 1 for c in calls)


def test_pipe_errors_go_to_the_error_handler(trained, monkeypatch):
    nlp, _ = trained
    pipe = nlp.get_pipe("triple_extractor")
    seen = []

    def fail(docs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipe, "predict", fail)
    pipe.set_error_handler(lambda name, proc, docs, e: seen.append((name, len(docs), str(e))))
    try:
        assert list(pipe.pipe([nlp.make_doc("a b c"), nlp.make_doc("d")], batch_size=2)) == []
    finally:
        pipe.set_error_handler(spacy.util.raise_error)
    assert seen == [("triple_extractor", 2, "boom")]


def test_max_batch_items_is_checked():
    nlp = spacy.blank("en")
    for bad in (0, -3, 2.5, True, "1024"):
        with pytest.raises(ValueError, match="max_batch_items"):
            nlp.add_pipe("triple_extractor", config={"max_batch_items": bad}, name=f"t{bad!r}")
