"""PointerHead.v1 (CasRel-style) and DGCNN.v1: pure functions, gradients, overfitting, round trips."""
import numpy
import pytest
import spacy
import torch
from thinc.api import Model

from spacy_triples.encoders.dgcnn.pytorch import DGCNNEncoder
from spacy_triples.heads.pointer.pytorch import ConditionalLayerNorm, PointerTagger
from spacy_triples.heads.pointer.util import (
    decode_pointer_objects,
    decode_pointer_spans,
    decode_pointer_subjects,
    make_queries,
    object_slice,
    pointer_object_targets,
    pointer_token_targets,
    query_arrays,
    sample_subjects,
)
from spacy_triples.losses import binary_crossentropy_with_logits

from ..util import CNN, DGCNN, GP, GP2, POINTER, train_head, typed_examples, TRAIN_DATA, assert_same_triples, make_examples

# ------------------------------------------------------------------------------- decoding
def test_nearest_end_rule_and_threshold():
    start = numpy.array([0.9, 0.1, 0.2, 0.8, 0.1, 0.1])
    end = numpy.array([0.1, 0.7, 0.1, 0.1, 0.1, 0.95])
    # token 0 pairs with the nearest end (1), not the later one (5); token 3 with 5
    assert decode_pointer_spans(start, end, 0.5, 10) == [(0, 2, pytest.approx(0.7)), (3, 6, pytest.approx(0.8))]
    # a stricter threshold drops the start at 3 (0.8) and the end at 1 (0.7): token 0 now reaches 5
    assert decode_pointer_spans(start, end, 0.85, 10) == [(0, 6, pytest.approx(0.9))]
    # max_span_length: the 6-token span is too long
    assert decode_pointer_spans(start, end, 0.85, 5) == []
    # a start after the last end gives nothing; a single-token span (start == end) is allowed
    assert decode_pointer_spans([0.1, 0.9], [0.9, 0.1], 0.5, 4) == []
    assert decode_pointer_spans([0.9], [0.9], 0.5, 1) == [(0, 1, pytest.approx(0.9))]


def test_overlapping_subjects_share_an_end():
    # "University of Chicago" and "Chicago" both end at token 3
    start = numpy.array([0.0, 0.9, 0.0, 0.8])
    end = numpy.array([0.0, 0.0, 0.0, 0.9])
    assert [s[:2] for s in decode_pointer_spans(start, end, 0.5, 24)] == [(1, 4), (3, 4)]


def test_typed_subjects_and_objects():
    n_types = 2
    tok = numpy.zeros((4, 4 * n_types))
    tok[0, 1] = tok[1, n_types + 1] = 0.9  # a subject of type 1 over tokens 0-1
    tok[3, 2 * n_types + 0] = tok[3, 3 * n_types + 0] = 0.8  # token 3 looks like an object of type 0
    tok[3, 2 * n_types + 1] = tok[3, 3 * n_types + 1] = 0.3
    assert decode_pointer_subjects(tok, 0.5, 24, n_types) == [(0, 2, 1, pytest.approx(0.9))]
    obj = numpy.zeros((2, 4))  # slice of 2 tokens starting at doc token 2, 2 relations
    obj[1, 1] = obj[1, 3] = 0.9  # relation 1: object at slice token 1 = doc token 3
    assert decode_pointer_objects(obj, 2, tok, [0.5, 0.5], 24, n_types) == [(1, 3, 4, 0, pytest.approx(0.9))]
    # a per-relation threshold above the score drops it
    assert decode_pointer_objects(obj, 2, tok, [0.5, 0.95], 24, n_types) == []


def test_decode_skips_only_relations_that_cannot_give_an_object():
    """PointerHead.decode decodes only the relations with a start and an end above the lowest
    threshold; the triples equal decoding every relation of the dense probabilities."""
    from spacy_triples.heads import HeadSettings
    from spacy_triples.heads.pointer.model import PointerCandidates, PointerHead

    rng = numpy.random.RandomState(0)
    n_rel, lengths = 40, [9, 7]
    thresholds = tuple(rng.choice([0.3, 0.5, 0.7], size=n_rel).tolist())
    settings = HeadSettings(tuple(f"r{i}" for i in range(n_rel)), (), 0.5, thresholds, 4, {})
    queries = make_queries([[(0, 2), (4, 5)], [(1, 3)]], lengths, reach=3)
    width = int((queries[:, 4] - queries[:, 3]).max())
    # sparse, peaked probabilities: most relations have nothing above the lowest threshold
    prob = rng.uniform(0, 1, size=(len(queries), width, 2 * n_rel)) ** 12
    inside = numpy.arange(width)[None, :] < (queries[:, 4] - queries[:, 3])[:, None]
    hits = (prob > settings.lowest_threshold) & inside[:, :, None]
    assert 0 < hits.sum() and len({int(c) % n_rel for c in numpy.argwhere(hits)[:, 2]}) < n_rel
    token_prob = rng.uniform(0, 1, size=(sum(lengths), 4))
    subjects = [[(0, 2, 0, 0.9), (4, 5, 0, 0.8)], [(1, 3, 0, 0.7)]]
    out = PointerCandidates(lengths, token_prob, subjects, queries, numpy.argwhere(hits).astype("i"), prob[hits])
    got = PointerHead(None).decode(out, settings)
    offsets = [0, lengths[0]]
    expected = [{} for _ in lengths]
    for q, (d, s0, s1, c0, c1) in enumerate(queries.tolist()):
        dense = numpy.where(hits[q], prob[q], 0.0)[: c1 - c0]
        expected[d][(s0, s1)] = decode_pointer_objects(dense, c0, token_prob[offsets[d] : offsets[d] + lengths[d]], thresholds, 4, 1)
    from spacy_triples.heads.pointer.util import assemble_triples

    want = [assemble_triples(s, e) for s, e in zip(subjects, expected)]
    assert got == want and sum(map(len, got)) > 0
    # the relations argument itself: a subset decodes exactly that subset
    dense = numpy.where(hits[0], prob[0], 0.0)
    full = decode_pointer_objects(dense, 0, token_prob, thresholds, 4, 1)
    some = sorted({r for r, *_ in full})[:2]
    assert decode_pointer_objects(dense, 0, token_prob, thresholds, 4, 1, some) == [f for f in full if f[0] in some]


def test_object_slice_and_query_arrays():
    assert object_slice(10, 12, 100, 5) == (5, 17)
    assert object_slice(1, 2, 4, 5) == (0, 4)
    queries = make_queries([[(1, 2)], [], [(0, 1)]], [4, 3, 2], reach=1)
    assert queries.tolist() == [[0, 1, 2, 0, 3], [2, 0, 1, 0, 2]]
    slice_index, cond_index, distance = query_arrays(queries, [4, 3, 2], max_distance=1)
    total = 9
    assert slice_index.tolist() == [[0, 1, 2], [7, 8, total]]  # doc 2 starts at flat row 7; padded
    assert cond_index.tolist() == [[1, 1], [7, 7]]
    assert distance.tolist() == [[0, 1, 2], [1, 2, 2]]  # clipped to +-1, shifted by +1


# -------------------------------------------------------------------------------- training
def test_sample_subjects_is_uniform_and_seeded():
    gold = [[(0, 2, 0, 3, 4), (0, 2, 1, 5, 6), (3, 4, 0, 5, 6)], None, []]
    draws = [sample_subjects(gold, numpy.random.RandomState(seed)) for seed in range(200)]
    assert all(d[1] == [] and d[2] == [] for d in draws)
    assert all(len(d[0]) == 1 for d in draws)
    firsts = [d[0][0] for d in draws]
    assert set(firsts) == {(0, 2), (3, 4)}  # distinct subjects, each drawn (not weighted by triples)
    assert 60 < firsts.count((0, 2)) < 140
    assert sample_subjects(gold, numpy.random.RandomState(7)) == sample_subjects(gold, numpy.random.RandomState(7))


def test_sample_subjects_limit():
    gold = [[(0, 2, 0, 3, 4), (3, 4, 0, 5, 6), (5, 6, 1, 0, 1), (5, 6, 0, 7, 8)], [(1, 2, 0, 3, 4)], None]
    rng = numpy.random.RandomState(0)
    assert sample_subjects(gold, rng, limit=0) == [[(0, 2), (3, 4), (5, 6)], [(1, 2)], []]
    assert sample_subjects(gold, rng, limit=5) == [[(0, 2), (3, 4), (5, 6)], [(1, 2)], []]
    pairs = [sample_subjects(gold, numpy.random.RandomState(seed), limit=2) for seed in range(300)]
    assert all(len(p[0]) == 2 and len(set(p[0])) == 2 and p[0] == sorted(p[0]) and p[1] == [(1, 2)] for p in pairs)
    counts = {s: sum(s in p[0] for p in pairs) for s in [(0, 2), (3, 4), (5, 6)]}
    assert all(150 < c < 250 for c in counts.values()), counts  # each in 2/3 of the draws
    with pytest.raises(ValueError, match="limit must be >= 0"):
        sample_subjects(gold, rng, limit=-1)


def test_pointer_targets():
    gold = [[(0, 2, 1, 3, 4, 1, 0)], None]
    tok, mask = pointer_token_targets([5, 2], gold, n_types=2)
    assert tok.shape == (7, 8) and mask[:5].all() and not mask[5:].any()
    assert tok[0, 1] == tok[1, 2 + 1] == tok[3, 4 + 0] == tok[3, 6 + 0] == 1.0 and tok.sum() == 4
    _, untyped_mask = pointer_token_targets([5], [[(0, 2, 1, 3, 4)]], n_types=1)
    assert untyped_mask[:, :2].all() and not untyped_mask[:, 2:].any()
    queries = numpy.array([[0, 0, 2, 1, 5]])
    obj, omask = pointer_object_targets(queries, 6, 2, gold)
    assert obj[0, 2, 1] == 1.0 and obj[0, 2, 2 + 1] == 1.0 and obj.sum() == 2  # object token 3 -> slice 2
    assert omask[0, :4].all() and not omask[0, 4:].any()


def test_bce_gradient_matches_finite_differences():
    rng = numpy.random.RandomState(0)
    x = rng.normal(size=(3, 4)).astype("f")
    y = (rng.uniform(size=(3, 4)) > 0.5).astype("f")
    m = rng.uniform(size=(3, 4)) > 0.3
    loss, grad = binary_crossentropy_with_logits(x, y, m)
    ref = numpy.mean([numpy.log1p(numpy.exp(-v)) if t else numpy.log1p(numpy.exp(v)) for v, t in zip(x[m], y[m])])
    assert loss == pytest.approx(ref, rel=1e-5)
    eps = 1e-3
    for i, j in [(0, 0), (1, 2), (2, 3)]:
        xp_, xm = x.copy(), x.copy()
        xp_[i, j] += eps
        xm[i, j] -= eps
        num = (binary_crossentropy_with_logits(xp_, y, m)[0] - binary_crossentropy_with_logits(xm, y, m)[0]) / (2 * eps)
        assert grad[i, j] == pytest.approx(num, abs=1e-4)


def test_conditional_layer_norm_shapes_and_gradients():
    torch.manual_seed(0)
    cln = ConditionalLayerNorm(6, 4).double()
    with torch.no_grad():  # random condition weights (they start at zero) so the check is not trivial
        cln.cond_weight.weight.normal_()
        cln.cond_bias.weight.normal_()
    x = torch.randn(2, 5, 6, dtype=torch.double, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.double, requires_grad=True)
    assert cln(x, c).shape == (2, 5, 6)
    assert torch.autograd.gradcheck(cln, (x, c), eps=1e-6, atol=1e-5)
    # the condition changes the output; at initialisation (zero weights) it is a plain layer norm
    plain = ConditionalLayerNorm(6, 4).double()
    ln = torch.nn.functional.layer_norm(x, (6,), eps=1e-6)
    assert torch.allclose(plain(x, c), ln, atol=1e-6)
    assert not torch.allclose(cln(x, c), ln, atol=1e-3)


def test_pointer_tagger_and_dgcnn_gradients():
    torch.manual_seed(0)
    tagger = PointerTagger(4, 2, n_entity_types=2, dropout=0.0, max_distance=2).double()
    x = torch.randn(6, 4, dtype=torch.double, requires_grad=True)
    args = (torch.tensor([[0, 1, 5]]), torch.tensor([[0, 1]]), torch.tensor([[2, 3, 4]]))
    tokens, objects = tagger(x, *args)
    assert tokens.shape == (5, 8) and objects.shape == (1, 3, 4)
    assert torch.autograd.gradcheck(lambda v: tagger.double()(v, *args)[1].double(), (x,), eps=1e-6, atol=1e-5)
    enc = DGCNNEncoder(4, 6, [1, 2], dropout=0.0, attention_heads=2, attention_block=3).double()
    xs = torch.randn(2, 5, 4, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([5, 2])
    assert torch.autograd.gradcheck(lambda v: enc(v, lengths), (xs,), eps=1e-6, atol=1e-5)


def test_dgcnn_thinc_layer_backprop_matches_finite_differences():
    nlp = spacy.blank("en")
    model = spacy.util.registry.resolve({"m": {**DGCNN, "width": 8, "dropout": 0.0, "attention_heads": 2, "attention_block": 4}})["m"]
    encoder = model.get_ref("encoder")
    docs = [nlp("a b c d e"), nlp("f g")]
    model.initialize(X=docs)
    X = model.get_ref("embed").predict(docs)
    X = [x.astype("float64").astype("f") for x in X]
    Ys, backprop = encoder.begin_update(X)
    weights = [numpy.random.RandomState(i).normal(size=y.shape).astype("f") for i, y in enumerate(Ys)]
    dX = backprop(weights)

    def f(Xs):
        return sum(float((y * w).sum()) for y, w in zip(encoder.predict(Xs), weights))

    eps = 1e-2
    for d, (i, j) in [(0, (0, 0)), (0, (4, 3)), (1, (1, 5))]:
        Xp = [x.copy() for x in X]
        Xm = [x.copy() for x in X]
        Xp[d][i, j] += eps
        Xm[d][i, j] -= eps
        assert dX[d][i, j] == pytest.approx((f(Xp) - f(Xm)) / (2 * eps), rel=5e-2, abs=5e-3)


def test_dgcnn_padding_does_not_leak():
    nlp = spacy.blank("en")
    model = spacy.util.registry.resolve({"m": {**DGCNN, "attention_block": 8}})["m"]
    short, long_ = nlp("Barack Obama was born in Honolulu ."), nlp(" ".join(["word"] * 40))
    model.initialize(X=[short, long_])
    alone = model.predict([short])[0]
    batched = model.predict([long_, short, nlp("")])
    assert numpy.allclose(alone, batched[1], atol=1e-5)
    assert batched[2].shape == (0, 64)


def test_dgcnn_predictions_do_not_pin_the_padded_batch():
    """Each doc's vectors are its own at prediction: a view into the padded batch would keep the
    whole batch alive for as long as one doc holds its doc.tensor (2,000 DuIE dev docs held 0.5 GiB)."""
    nlp = spacy.blank("en")
    model = spacy.util.registry.resolve({"m": {**DGCNN, "attention_block": 8}})["m"]
    short, long_ = nlp("Barack Obama was born in Honolulu ."), nlp(" ".join(["word"] * 40))
    model.initialize(X=[short, long_])
    for y in model.predict([long_, short]):
        assert y.base is None and y.flags["OWNDATA"]
    Ys, _ = model.begin_update([long_, short])  # training keeps views: backprop needs the batch anyway
    assert Ys[1].shape == (len(short), 64)


# --------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("head,tok2vec", [(POINTER, DGCNN), (POINTER, CNN), (GP, DGCNN), (GP2, DGCNN)],
                         ids=["pointer-dgcnn", "pointer-cnn", "gp-dgcnn", "gp2-dgcnn"])
def test_overfit_each_architecture_then_round_trip(head, tok2vec, tmp_path):
    nlp, examples = train_head(head, tok2vec)
    scores = nlp.evaluate(examples)
    assert scores["triples_f"] == 1.0
    texts = [" ".join(words) for words, _ in TRAIN_DATA]
    docs = list(nlp.pipe(texts))
    # the pair with two relations and the nested span come out
    assert {t.relation for t in docs[2]._.triples} == {"capital_of", "located_in"}
    assert ("University of Chicago", "located_in", "Chicago") in {(t.subject.text, t.relation, t.object.text) for t in docs[3]._.triples}
    for doc in docs:
        assert all(type(t.score) is float and 0.0 < t.score <= 1.0 for t in doc._.triples)
    nlp.to_disk(tmp_path / "m")
    nlp2 = spacy.load(tmp_path / "m")
    assert_same_triples(list(nlp2.pipe(texts)), docs)
    nlp3 = spacy.blank("en")
    nlp3.add_pipe("triple_extractor", config={"model": {"@architectures": head, "tok2vec": tok2vec}})
    nlp3.from_bytes(nlp.to_bytes())
    assert_same_triples([nlp3(texts[1])], [nlp(texts[1])])


def test_pointer_typed_overfits_to_strict_f1_one():
    nlp, examples = train_head(POINTER, DGCNN, typed_examples, n_iter=400)
    scores = nlp.evaluate(examples)
    assert nlp.get_pipe("triple_extractor").entity_labels == ("LOC", "ORG", "PER")
    assert scores["triples_strict_f"] == 1.0


def test_pointer_trains_on_all_subjects_when_asked():
    nlp, examples = train_head(POINTER, {**DGCNN, "attention_heads": 0}, n_iter=1, early_stop=False)
    pipe = nlp.get_pipe("triple_extractor")
    settings = pipe.settings()
    gold = pipe._align(examples, settings)
    distinct = [sorted({(r[0], r[1]) for r in rows or []}) for rows in gold]
    assert any(len(d) > 1 for d in distinct)  # the fixture has docs with several subjects
    assert [len(s) for s in pipe.head.inputs(None, gold, settings)] == [min(len(d), 1) for d in distinct]
    pipe.head.layer.attrs["train_subjects"] = 0
    assert pipe.head.inputs(None, gold, settings) == distinct
    docs = [eg.predicted for eg in examples]
    outputs, _ = pipe.model.begin_update((docs, distinct))
    assert outputs.queries[:, :3].tolist() == [[d, s0, s1] for d, spans in enumerate(distinct) for s0, s1 in spans]
    with pytest.raises(ValueError, match="train_subjects must be an integer >= 0"):
        spacy.blank("en").add_pipe("triple_extractor", config={"model": {"@architectures": POINTER, "tok2vec": DGCNN, "train_subjects": -1}})


def test_pointer_overfits_training_on_all_subjects():
    nlp, examples = train_head(POINTER, DGCNN, model_args={"train_subjects": 0})
    assert nlp.get_pipe("triple_extractor").head.layer.attrs["train_subjects"] == 0
    assert nlp.evaluate(examples)["triples_f"] == 1.0


@pytest.fixture(scope="module")
def pointer_nlp():
    # without attention: trained on six short sentences, block attention over a long repeated
    # text sees a context unlike any training doc (a toy-data effect; the convolutions do not)
    return train_head(POINTER, {**DGCNN, "attention_heads": 0}, n_iter=300, early_stop=False)[0]


def test_pointer_encoder_runs_once_per_batch(pointer_nlp):
    pipe = pointer_nlp.get_pipe("triple_extractor")
    tok2vec = pipe.model.get_ref("tok2vec")
    calls = []

    def counting_forward(model, X, is_train):
        calls.append(len(X))
        return tok2vec(X, is_train)

    counter = Model("count", counting_forward, layers=[tok2vec])
    pipe.model.replace_node(tok2vec, counter)
    try:
        texts = [" ".join(w) for w, _ in TRAIN_DATA]
        docs = list(pointer_nlp.pipe(texts, batch_size=len(texts)))
    finally:
        pipe.model.replace_node(counter, tok2vec)
    n_subjects = sum(len({(t.subject.start, t.subject.end) for t in d._.triples}) for d in docs)
    assert n_subjects > len(texts)  # several subjects per batch (and per doc) ...
    assert calls == [len(texts)]  # ... and the encoder ran once, over the whole batch


def test_pointer_long_doc_and_empty_docs(pointer_nlp):
    sentence = "Barack Obama was born in Honolulu . "
    doc = pointer_nlp(sentence * 700)  # 4,900 tokens: objects are searched near each subject only
    found = [(t.subject.start, t.object.start) for t in doc._.triples if t.relation == "born_in"]
    assert sorted(found) == [(k, k + 5) for k in range(0, 4900, 7)]
    docs = list(pointer_nlp.pipe(["", " ", "xyz", sentence]))
    assert [len(d._.triples) for d in docs[:3]] == [0, 0, 0] and len(docs[3]._.triples) == 1


def test_pointer_update_with_empty_and_unannotated_docs(pointer_nlp):
    from spacy.tokens import Doc
    from spacy.training import Example

    nlp = pointer_nlp
    examples = [Example(nlp.make_doc(""), nlp.make_doc("")), Example(nlp.make_doc("hello there"), Doc(nlp.vocab, words=["hello", "there"]))]
    losses = nlp.get_pipe("triple_extractor").update(examples)
    assert losses["triple_extractor"] == 0.0
    (with_triples,) = make_examples(nlp, TRAIN_DATA[:1])
    unannotated = Example(nlp.make_doc("no gold here"), Doc(nlp.vocab, words=["no", "gold", "here"]))
    losses = nlp.get_pipe("triple_extractor").update([with_triples, unannotated])
    assert numpy.isfinite(losses["triple_extractor"]) and losses["triple_extractor"] > 0


def test_schema_does_not_change_the_training_loss():
    """The schema filters predictions only: the pointer head trains every relation on every
    conditional pass, those the subject's type cannot take included. (Leaving those out of the
    object loss cut DuIE dev F1 after 655 steps from 29.3 to 6.8: they are the negatives that
    teach the object pointers to stay quiet.)"""
    from spacy_triples.heads import HeadSettings
    from spacy_triples.heads.pointer.model import PointerHead, PointerScores
    from thinc.api import NumpyOps

    labels, types = ("born_in", "works_for", "unnamed"), ("LOC", "ORG", "PER")
    schema = {"born_in": [["PER"], ["LOC"]], "works_for": [["PER"], ["ORG"]]}
    gold = [[(0, 2, 0, 5, 6, 2, 0)], [(0, 1, 1, 3, 4, 1, 1)]]  # a PER subject; an ORG subject
    lengths = [7, 5]
    queries = make_queries([[(0, 2)], [(0, 1)]], lengths, reach=10)
    rng = numpy.random.RandomState(0)
    outputs = PointerScores(lengths, queries, rng.normal(size=(12, 12)).astype("f"),
                            rng.normal(size=(2, 7, 6)).astype("f"))
    head = PointerHead(None)
    loss, plain = head.get_loss(outputs, gold, HeadSettings(labels, types, 0.5, (0.5,) * 3, 8, {}), NumpyOps())
    loss_s, with_schema = head.get_loss(outputs, gold, HeadSettings(labels, types, 0.5, (0.5,) * 3, 8, schema), NumpyOps())
    assert loss_s == loss
    assert numpy.array_equal(with_schema.objects, plain.objects) and numpy.array_equal(with_schema.tokens, plain.tokens)
    # the ORG subject's query can take no relation of this schema, yet its positions still train
    assert numpy.abs(with_schema.objects[1]).sum() > 0
