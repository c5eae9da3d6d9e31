"""The head interface and the spaCy conventions of the pipe (issue 13), and thread safety and
retokenization of stored triples (issue 18, groups 3 and 4)."""
import json
import threading

import pytest
import spacy
import srsly
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Linear, Model

from spacy_triples.heads import TripleHead, build_triple_model
from spacy_triples.triples import TripleRow

from ..util import FIXTURES, typed_examples, ROOT, LABELS, TRAIN_DATA, assert_same_triples, make_examples, train



# ---------------------------------------------------------------------- a toy third head
class FirstTokenHead(TripleHead):
    """Predicts (first token, label 0, last token) when a learned score of the first token passes
    the threshold; trained to score 1 on docs whose gold has exactly that triple. Only the
    interface: the pipe knows nothing about it."""

    name = "first_token"

    def get_loss(self, outputs, gold, settings, ops):
        scores, _ = outputs
        d_scores = ops.alloc2f(*scores.shape)
        loss = 0.0
        for d, rows in enumerate(gold):
            if rows is None:
                continue
            target = float(any(r.subject_start == 0 and r.relation == 0 for r in rows))
            diff = float(scores[d, 0]) - target
            d_scores[d, 0] = diff
            loss += diff**2
        return loss, (d_scores, outputs[1])

    def decode(self, outputs, settings):
        scores, lengths = outputs
        return [
            [TripleRow(0, 1, 0, n - 1, n, 0, 0, 1.0)] if n > 1 and float(scores[d, 0]) > settings.threshold else []
            for d, n in enumerate(lengths)
        ]


def _toy_forward(model, X, is_train):
    Xs, _ = X
    lengths = [len(x) for x in Xs]
    firsts = model.ops.xp.stack([x[0] if len(x) else model.ops.alloc1f(x.shape[1]) for x in Xs])
    scores, backprop_linear = model.layers[0](firsts, is_train)

    def backprop(d_outputs):
        d_firsts = backprop_linear(d_outputs[0])
        out = [model.ops.alloc2f(*x.shape) for x in Xs]
        for d, x in enumerate(Xs):
            if len(x):
                out[d][0] += d_firsts[d]
        return out

    return (scores, lengths), backprop


def _toy_init(model, X=None, Y=None):
    n_in = X[0][0].shape[1] if X is not None and X[0] else model.get_dim("nI")
    model.set_dim("nI", n_in, force=True)
    model.layers.clear()
    model.layers.append(Linear(1, n_in))
    model.layers[0].initialize()


@spacy.registry.architectures("test.FirstTokenHead.v1")
def build_first_token_head(tok2vec: Model) -> Model:
    output_layer = Model("first_token", _toy_forward, init=_toy_init, dims={"nI": None, "nO": None},
                         attrs={"n_entity_types": 1})
    return build_triple_model("toy_triples", tok2vec, output_layer, FirstTokenHead)


def test_a_third_head_trains_and_saves_through_the_interface_alone(tmp_path):
    nlp = spacy.blank("en")
    config = {"model": {"@architectures": "test.FirstTokenHead.v1",
                        "tok2vec": {"@architectures": "spacy.HashEmbedCNN.v2", "width": 16, "depth": 1,
                                    "embed_size": 300, "window_size": 1, "maxout_pieces": 2,
                                    "subword_features": True, "pretrained_vectors": None}}}
    nlp.add_pipe("triple_extractor", config=config)
    words = ["Alice", "knows", "Bob"]
    ref = Doc(nlp.vocab, words=words)
    ref._.triples = [(ref[0:1], "knows", ref[2:3])]
    negative = Doc(nlp.vocab, words=["Carol", "sleeps"])
    negative._.triples = []
    examples = [Example(Doc(nlp.vocab, words=words), ref), Example(Doc(nlp.vocab, words=["Carol", "sleeps"]), negative)]
    train(nlp, examples, n_iter=60, learn_rate=0.05)
    doc = nlp(Doc(nlp.vocab, words=words))
    assert [(t.subject.text, t.relation, t.object.text) for t in doc._.triples] == [("Alice", "knows", "Bob")]
    assert nlp(Doc(nlp.vocab, words=["Carol", "sleeps"]))._.triples == []
    assert nlp.evaluate(examples)["triples_f"] == 1.0
    nlp.to_disk(tmp_path / "toy")
    nlp2 = spacy.load(tmp_path / "toy")
    assert_same_triples([nlp2(Doc(nlp2.vocab, words=words))], [doc])


def test_a_model_that_is_not_a_triple_head_is_refused_clearly():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="not a triple head"):
        nlp.add_pipe("triple_extractor", config={"model": {"@architectures": "spacy.HashEmbedCNN.v2", "width": 16, "depth": 1,
                                                           "embed_size": 300, "window_size": 1, "maxout_pieces": 2,
                                                           "subword_features": True, "pretrained_vectors": None}})


def test_pipe_module_knows_no_head():
    import ast

    tree = ast.parse((ROOT / "spacy_triples" / "pipe.py").read_text(encoding="utf8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "heads" in imported  # the interface only ...
    assert not any(m and m.startswith("heads.") for m in imported)  # ... no head module
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    # no dispatch on a head's output types, no head setting
    for head_specific in ("PairScores", "PairCandidates", "PointerScores", "PointerCandidates", "window_size", "object_reach"):
        assert head_specific not in names


# ---------------------------------------------------------------------- spaCy conventions
def test_add_label_before_initialize_is_kept():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    pipe.add_label("spouse_of")
    nlp.initialize()  # no examples: the labels given are enough, as for spancat / textcat
    assert pipe.labels == ("spouse_of",) and pipe.is_initialized
    nlp2 = spacy.blank("en")
    pipe2 = nlp2.add_pipe("triple_extractor")
    pipe2.add_label("spouse_of")
    nlp2.initialize(lambda: make_examples(nlp2))
    assert pipe2.labels == ("spouse_of",) + tuple(LABELS)
    with pytest.raises(ValueError, match="after it was initialized"):
        pipe2.add_label("another")


def test_initialize_twice_reinitializes():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=5)
    nlp.initialize(lambda: examples)
    assert pipe.labels == tuple(LABELS)
    train(nlp, examples, n_iter=5)
    assert pipe.is_initialized


def test_label_data_reproduces_a_typed_model():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    nlp.initialize(lambda: typed_examples(nlp))
    data = pipe.label_data
    assert data == {"relations": list(pipe.labels), "entity_types": ["LOC", "ORG", "PER"]}
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("triple_extractor")
    nlp2.config["initialize"]["components"]["triple_extractor"] = {"labels": json.loads(json.dumps(data))}
    nlp2.initialize()  # no examples: the label data alone builds the same typed model
    pipe2 = nlp2.get_pipe("triple_extractor")
    assert pipe2.labels == pipe.labels and pipe2.entity_labels == ("LOC", "ORG", "PER")
    assert pipe2.head.layer.get_dim("nO") == pipe.head.layer.get_dim("nO")
    assert pipe2.head.layer.attrs["n_entity_types"] == 3
    with pytest.raises(ValueError, match="'relations'"):
        nlp3 = spacy.blank("en")
        nlp3.add_pipe("triple_extractor").initialize(lambda: make_examples(nlp3), labels={"rels": ["x"]})


def test_set_ents_keeps_upstream_entities_that_do_not_overlap():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"set_ents": True})
    examples = typed_examples(nlp)
    train(nlp, examples, n_iter=200)
    words = TRAIN_DATA[0][0]  # Barack Obama was born in Honolulu .
    doc = Doc(nlp.vocab, words=words)
    doc.ents = [Span(doc, 3, 4, label="EVENT"), Span(doc, 0, 1, label="NORP")]  # set by an "NER"
    doc = nlp.get_pipe("triple_extractor")(doc)
    ents = [(e.start, e.end, e.label_) for e in doc.ents]
    assert (3, 4, "EVENT") in ents  # kept: it overlaps no predicted span
    assert (0, 1, "NORP") not in ents and (0, 2, "PER") in ents  # replaced where they overlap
    assert (5, 6, "LOC") in ents


def test_to_bytes_records_the_format_version():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    msg = srsly.msgpack_loads(pipe.to_bytes())
    assert srsly.json_loads(msg["cfg"])["format_version"] == 1
    cfg = srsly.json_loads(msg["cfg"])
    cfg["format_version"] = 99
    msg["cfg"] = srsly.json_dumps(cfg)
    with pytest.raises(ValueError, match="format 99"):
        spacy.blank("en").add_pipe("triple_extractor").from_bytes(srsly.msgpack_dumps(msg))


def test_training_log_shows_text_scores_and_at_most_six_triple_columns():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    weights = nlp.config["training"]["score_weights"]
    logged = [key for key, value in weights.items() if value is not None]
    assert "triples_text_f" in logged and "triples_f" in logged
    assert len(logged) <= 6


def test_changing_cfg_threshold_changes_the_decision():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("triple_extractor")
    train(nlp, make_examples(nlp), n_iter=150)
    text = " ".join(TRAIN_DATA[1][0])
    scores = [t.score for t in nlp(text)._.triples]
    assert scores
    pipe.cfg["threshold"] = min(0.999, max(scores) + 1e-4)
    assert nlp(text)._.triples == []
    pipe.cfg["threshold"] = 0.5
    assert len(nlp(text)._.triples) == len(scores)


@pytest.mark.parametrize("name", ["gp", "pointer"])
def test_pipelines_saved_by_format_1_load_and_predict_the_same(name):
    nlp = spacy.load(FIXTURES / f"format1_{name}")
    expected = json.loads((FIXTURES / f"format1_{name}.expected.json").read_text(encoding="utf8"))
    got = [[t.to_dict() for t in doc._.triples] for doc in nlp.pipe([" ".join(w) for w, _ in TRAIN_DATA])]
    assert sum(map(len, expected)) > 0
    # saved on another CPU: the scores agree to 1e-4, not to the last bit
    assert_same_triples(got, expected, atol=1e-4)


def test_invalid_saved_cfg_fails_on_load_naming_the_file(tmp_path):
    nlp = spacy.load(FIXTURES / "format1_gp")
    nlp.to_disk(tmp_path / "m")
    cfg_path = tmp_path / "m" / "triple_extractor" / "cfg"
    good = srsly.read_json(cfg_path)
    for change, message in [({"labels": "born_in"}, "labels must be a list"), ({"threshold": 1.5}, "threshold must be"),
                            ({"max_span_length": 0}, "max_span_length must be")]:
        srsly.write_json(cfg_path, {**good, **change})
        with pytest.raises(ValueError, match=message):
            spacy.load(tmp_path / "m")
    cfg_path.write_text("{not json", encoding="utf8")
    with pytest.raises(ValueError, match="cfg is not valid JSON"):
        spacy.load(tmp_path / "m")


# ---------------------------------------------------------------------- issue 18: threads, retokenizing
def test_predictions_do_not_depend_on_other_threads():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor", config={"model": {"dropout": 0.5}})
    train(nlp, make_examples(nlp), n_iter=150)
    texts = [" ".join(w) for w, _ in TRAIN_DATA] * 50
    expected = [[t.to_dict() for t in d._.triples] for d in nlp.pipe(texts)]
    results = {}

    def work(k):
        results[k] = [[t.to_dict() for t in d._.triples] for d in nlp.pipe(texts, batch_size=4)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):  # batch_size=4 runs other kernel shapes than the default batch
        assert_same_triples(results[k], expected)


def test_triples_follow_their_text_through_retokenization():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    train(nlp, make_examples(nlp), n_iter=150)
    text = "Angela Merkel lives in Berlin and works for the German government ."
    doc = nlp.get_pipe("triple_extractor")(nlp.make_doc(text))
    before = [(t.subject.text, t.relation, t.object.text) for t in doc._.triples]
    assert ("Angela Merkel", "lives_in", "Berlin") in before
    with doc.retokenize() as retokenizer:
        retokenizer.merge(doc[0:2])
        retokenizer.merge(doc[9:11])  # "German government", inside the object span
    after = [(t.subject.text, t.relation, t.object.text) for t in doc._.triples]
    assert after == before
    assert doc._.triples[0].subject.start == 0 and doc._.triples[0].subject.end == 1


def test_docs_stored_in_the_token_offset_layout_still_read():
    from spacy_triples.triples import DATA_ATTR

    nlp = spacy.blank("en")
    doc = nlp.make_doc("Barack Obama was born in Honolulu .")
    doc._.set(DATA_ATTR, [[0, 2, "PER", "born_in", 5, 6, "LOC", 1.0]])  # spacy-triples 0.1
    (t,) = doc._.triples
    assert (t.subject.text, t.subject.label_, t.relation, t.object.text, t.object.label_) == ("Barack Obama", "PER", "born_in", "Honolulu", "LOC")
    doc._.triples = list(doc._.triples)  # written back in the character layout
    assert doc._.get(DATA_ATTR) == {"layout": 2, "rows": [[0, 12, "PER", "born_in", 25, 33, "LOC", 1.0]]}
