"""Pure functions: windows, targets, masks, loss, decoding - on hand-written arrays."""
import numpy
import pytest
import torch

from benchmarks.reference_decoder import Candidates, decode_triples, dense_candidates, dense_to_candidates
from spacy_triples.heads.global_pointer.pytorch import GlobalPointerLinker, rotary, valid_masks
from spacy_triples.heads.global_pointer.util import count_unreachable, make_masks, make_targets, target_indices
from spacy_triples.heads.global_pointer.windows import entity_mask, pair_mask, plan_windows, window_token_index
from spacy_triples.losses import logit, multilabel_categorical_crossentropy, sparse_multilabel_categorical_crossentropy

from ..util import CUT_MARGIN, assert_close


def test_plan_windows_short_and_empty_docs():
    w = plan_windows([5, 0, 3], window_size=8, stride=4)
    assert w.tolist() == [[0, 0, 5], [2, 0, 3]]


def test_plan_windows_long_doc_covers_close_pairs():
    n, size, stride = 23, 8, 4
    w = plan_windows([n], size, stride)
    assert all(e - s <= size for _, s, e in w)
    assert w[0, 1] == 0 and w[-1, 2] == n
    # any two tokens closer than size - stride + 1 share a window
    for a in range(n):
        for b in range(a, min(n, a + size - stride + 1)):
            assert any(s <= a and b < e for _, s, e in w), (a, b)


def test_plan_windows_bad_settings():
    with pytest.raises(ValueError, match="window_size"):
        plan_windows([3], window_size=4, stride=5)


def test_window_token_index_pads():
    w = plan_windows([2, 3], 8, 4)
    index = window_token_index(w, [2, 3], pad_index=99)
    assert index.tolist() == [[0, 1, 99], [2, 3, 4]]


def test_masks():
    ent = entity_mask([3], width=4, max_span_length=2)[0, 0]
    expected = numpy.zeros((4, 4), dtype=bool)
    for i, j in [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)]:
        expected[i, j] = True
    assert (ent == expected).all()
    pair = pair_mask([2], 3)[0, 0]
    assert pair.sum() == 4 and not pair[2].any() and not pair[:, 2].any()


def test_torch_masks_match_numpy_masks():
    e, p = valid_masks(torch.tensor([3, 5]), 6, 2)
    assert (e.numpy() == entity_mask([3, 5], 6, 2)).all()
    assert (p.numpy() == pair_mask([3, 5], 6)).all()


def test_make_targets_and_masks():
    windows = numpy.asarray([[0, 0, 6], [1, 0, 4]], dtype="i")
    gold = [[(0, 2, 1, 4, 5)], None]
    ent, head, tail = make_targets(windows, 6, 2, gold)
    assert ent[0, 0, 0, 1] == 1 and ent[0, 1, 4, 4] == 1 and ent.sum() == 2
    assert head[0, 1, 0, 4] == 1 and head.sum() == 1
    assert tail[0, 1, 1, 4] == 1 and tail.sum() == 1
    ent_mask, pair_mask_ = make_masks(windows, 6, 3, gold)
    assert not ent_mask[1].any() and not pair_mask_[1].any()  # unannotated doc is masked
    assert ent_mask[0, 0, 0, 1] and not ent_mask[0, 0, 1, 0] and not ent_mask[0, 0, 0, 4]


def test_targets_across_windows():
    windows = plan_windows([10], 6, 4)  # [0, 6), [4, 10)
    gold = [[(0, 1, 0, 8, 9), (4, 5, 0, 5, 6)]]
    ent, head, tail = make_targets(windows, 6, 1, gold)
    # the first triple lies in no window; the second lies in both
    assert head[0].sum() == 1 and head[0, 0, 4, 5] == 1 and head[1].sum() == 1 and head[1, 0, 0, 1] == 1
    assert ent[0, 0, 0, 0] == 1  # its subject is still an entity where it lies
    assert count_unreachable(gold, windows) == 1


def test_target_indices_are_the_dense_targets_positives():
    windows = plan_windows([10, 4], 6, 4)
    gold = [[(0, 1, 0, 2, 3, 1, 0), (0, 1, 0, 2, 3, 1, 0), (4, 5, 1, 5, 6, 0, 1)], None]  # a repeated row
    indices = target_indices(windows, 6, 2, gold, n_types=2)
    for index, dense in zip(indices, make_targets(windows, 6, 2, gold, n_types=2)):
        assert index.dtype == numpy.int64 and (numpy.diff(index) > 0).all()  # sorted, each once
        assert index.tolist() == numpy.flatnonzero(dense).tolist()
    assert [len(index) for index in indices] == [6, 3, 3]


def _mce_reference(scores, targets, mask, reduction="mean"):
    total, rows = 0.0, 0
    windows = sum(bool(mask[w].any()) for w in range(scores.shape[0]))
    for idx in numpy.ndindex(scores.shape[:2]):
        s, y, m = scores[idx].ravel(), targets[idx].ravel(), mask[idx].ravel()
        if not m.any():
            continue
        rows += 1
        neg = numpy.concatenate([[0.0], s[m & (y == 0)]])
        pos = numpy.concatenate([[0.0], -s[m & (y == 1)]])
        total += numpy.log(numpy.exp(neg).sum()) + numpy.log(numpy.exp(pos).sum())
    return total / max(rows if reduction == "mean" else windows, 1)


def test_mce_value_and_gradient():
    rng = numpy.random.default_rng(0)
    scores = rng.normal(size=(2, 3, 4, 4)).astype("float64")
    targets = (rng.random((2, 3, 4, 4)) > 0.8).astype("f")
    mask = rng.random((2, 1, 4, 4)) > 0.2
    mask[1] = False
    mask_full = numpy.broadcast_to(mask, scores.shape)
    loss, grad = multilabel_categorical_crossentropy(scores.astype("f"), targets, mask)
    assert loss == pytest.approx(_mce_reference(scores, targets, mask_full), rel=1e-4)
    eps = 1e-3
    for idx in [(0, 0, 1, 2), (0, 2, 3, 3), (0, 1, 0, 0)]:
        plus, minus = scores.copy(), scores.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (_mce_reference(plus, targets, mask_full) - _mce_reference(minus, targets, mask_full)) / (2 * eps)
        assert grad[idx] == pytest.approx(numeric, abs=1e-3)
    assert (grad[1] == 0).all() and (grad[~mask_full] == 0).all()


def test_mce_window_sum_sums_a_windows_maps_and_averages_over_windows():
    # GPLinker's reduction: with H maps per window, no map's gradient is divided by H
    rng = numpy.random.default_rng(1)
    scores = rng.normal(size=(3, 5, 4, 4))
    targets = (rng.random((3, 5, 4, 4)) > 0.8).astype("f")
    mask = numpy.ones((3, 5, 4, 4), bool)
    mask[2] = False  # an empty window counts in neither reduction
    mask[1, 3:] = False  # two maps of window 1 have no valid position
    loss, grad = multilabel_categorical_crossentropy(scores.astype("f"), targets, mask, "window_sum")
    assert loss == pytest.approx(_mce_reference(scores, targets, mask, "window_sum"), rel=1e-4)
    mean_loss, mean_grad = multilabel_categorical_crossentropy(scores.astype("f"), targets, mask)
    # 8 valid (window, map) rows in 2 windows: everything is 8 / 2 = 4 times the mean's
    assert loss == pytest.approx(4 * mean_loss, rel=1e-5)
    assert_close(grad, 4 * mean_grad, rtol=1e-5, atol=1e-7)
    eps = 1e-3
    for idx in [(0, 4, 1, 2), (1, 2, 3, 3)]:
        plus, minus = scores.copy(), scores.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (_mce_reference(plus, targets, mask, "window_sum") - _mce_reference(minus, targets, mask, "window_sum")) / (2 * eps)
        assert grad[idx] == pytest.approx(numeric, abs=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "window_sum"])
def test_sparse_mce_matches_the_definition_with_far_apart_scores(reduction):
    # a positive scored 25 logits above its row's negatives: the negatives' sum is still exact
    # (subtracting the positives from a sum over all positions would lose it in float32)
    rng = numpy.random.default_rng(2)
    scores = rng.normal(scale=8.0, size=(3, 4, 5, 5))
    targets = (rng.random(scores.shape) > 0.9).astype("f")
    targets[0, 0] = 0
    targets[0, 0, 1, 1] = 1
    scores[0, 0] = rng.normal(size=(5, 5))
    scores[0, 0, 1, 1] = 25.0
    mask = rng.random((3, 1, 5, 5)) > 0.2
    mask[0, 0, 1, 1] = True
    full = numpy.broadcast_to(mask, scores.shape)
    positives = numpy.flatnonzero(targets)
    outside = numpy.flatnonzero(~full & (targets == 0))[:3]  # positives outside the mask are ignored
    given = numpy.concatenate([positives, positives[:4], outside])[::-1]  # unsorted, repeated
    loss, grad = sparse_multilabel_categorical_crossentropy(scores.astype("f"), given, mask, reduction)
    assert loss == pytest.approx(_mce_reference(scores, targets, full, reduction), rel=1e-5)
    eps = 1e-3
    for idx in [(0, 0, 1, 1), (0, 0, 2, 3), *zip(*numpy.unravel_index(positives[:3], scores.shape))]:
        if not full[idx]:
            continue
        plus, minus = scores.copy(), scores.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (_mce_reference(plus, targets, full, reduction) - _mce_reference(minus, targets, full, reduction)) / (2 * eps)
        assert grad[idx] == pytest.approx(numeric, abs=1e-3, rel=1e-3)
    assert (grad[~full] == 0).all() and numpy.isfinite(grad).all()
    dense_loss, dense_grad = multilabel_categorical_crossentropy(scores.astype("f"), targets, mask, reduction)
    assert dense_loss == pytest.approx(loss, rel=1e-6)
    assert_close(dense_grad, grad, rtol=1e-6, atol=1e-9)


def test_sparse_mce_without_positives_or_valid_positions():
    scores = numpy.full((2, 3, 4, 4), -5.0, dtype="f")
    mask = numpy.zeros((2, 1, 4, 4), bool)
    loss, grad = sparse_multilabel_categorical_crossentropy(scores, numpy.zeros((0,), "int64"), mask)
    assert loss == 0.0 and grad.shape == scores.shape and not grad.any()
    mask[0] = True
    loss, grad = sparse_multilabel_categorical_crossentropy(scores, [], mask)
    assert loss == pytest.approx(numpy.log1p(16 * numpy.exp(-5.0)), rel=1e-5)
    assert not grad[1].any() and (grad[0] > 0).all()


def test_mce_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match=r"reduction must be one of \['mean', 'window_sum'\], got 'sum'"):
        multilabel_categorical_crossentropy(numpy.zeros((1, 1, 2, 2), "f"), numpy.zeros((1, 1, 2, 2), "f"),
                                            numpy.ones((1, 1, 2, 2), bool), "sum")


def test_mce_perfect_scores_give_small_loss():
    targets = numpy.zeros((1, 1, 3, 3), dtype="f")
    targets[0, 0, 1, 2] = 1
    scores = numpy.where(targets > 0, 20.0, -20.0).astype("f")
    loss, _ = multilabel_categorical_crossentropy(scores, targets, numpy.ones((1, 1, 3, 3), bool))
    assert loss < 1e-6


# decode_triples and dense_to_candidates are the reference decoder's (benchmarks/reference_decoder.py):
# the linking rules that GlobalPointerLinker.link keeps, on hand-written candidates
def _cands(items, n_heads=2):
    if not items:
        return Candidates.empty()
    index = numpy.asarray([k for k, _ in items], dtype="i")
    return Candidates(index, numpy.asarray([v for _, v in items], dtype="f"))


def test_decode_shared_entity_multi_relation_and_nested():
    # one window [0, 8) of doc 0: subject (1,3) ; objects (3,3) nested in it and (5,6)
    windows = numpy.asarray([[0, 0, 8]], dtype="i")
    entity = _cands([((0, 0, 1, 3), 5.0), ((0, 1, 3, 3), 4.0), ((0, 1, 5, 6), 3.0)])
    head = _cands([((0, 0, 1, 3), 2.0), ((0, 1, 1, 5), 2.0), ((0, 2, 1, 5), 1.0)])
    tail = _cands([((0, 0, 3, 3), 2.0), ((0, 1, 3, 6), 2.0), ((0, 2, 3, 6), 0.5)])
    rows = decode_triples(windows, 1, entity, head, tail, threshold=0.5, max_span_length=24)
    got = [r[:5] for r in rows[0]]
    assert got == [(1, 4, 0, 3, 4), (1, 4, 1, 5, 7), (1, 4, 2, 5, 7)]
    score = rows[0][2].score
    assert score == pytest.approx(1 / (1 + numpy.exp(-0.5)))
    assert all(isinstance(r.score, float) for r in rows[0])
    # a higher threshold drops the weak relation
    rows = decode_triples(windows, 1, entity, head, tail, threshold=0.7, max_span_length=24)
    assert [r[2] for r in rows[0]] == [0, 1]


def test_decode_requires_every_part():
    windows = numpy.asarray([[0, 0, 4]], dtype="i")
    entity = _cands([((0, 0, 0, 0), 3.0), ((0, 1, 2, 2), 3.0)])
    head = _cands([((0, 0, 0, 2), 3.0)])
    assert decode_triples(windows, 1, entity, head, Candidates.empty(), 0.5, 24) == [[]]
    assert decode_triples(windows, 1, _cands([((0, 0, 0, 0), 3.0)]), head,
                          _cands([((0, 0, 0, 2), 3.0)]), 0.5, 24) == [[]]
    # span length cap
    entity = _cands([((0, 0, 0, 1), 3.0), ((0, 1, 2, 2), 3.0)])
    tail = _cands([((0, 0, 1, 2), 3.0)])
    assert decode_triples(windows, 1, entity, head, tail, 0.5, 1) == [[]]
    assert len(decode_triples(windows, 1, entity, head, tail, 0.5, 2)[0]) == 1


def test_decode_merges_overlapping_windows_and_maps_offsets():
    windows = numpy.asarray([[0, 0, 6], [0, 4, 10], [1, 0, 3]], dtype="i")
    # the same triple (tokens 4 -> 5, rel 0) seen in window 0 at (4, 5) and window 1 at (0, 1)
    entity = _cands([((0, 0, 4, 4), 2.0), ((0, 1, 5, 5), 2.0), ((1, 0, 0, 0), 3.0), ((1, 1, 1, 1), 3.0)])
    head = _cands([((0, 0, 4, 5), 2.0), ((1, 0, 0, 1), 3.0)])
    tail = _cands([((0, 0, 4, 5), 2.0), ((1, 0, 0, 1), 3.0)])
    rows = decode_triples(windows, 2, entity, head, tail, 0.5, 24)
    assert len(rows[0]) == 1 and rows[1] == []
    assert rows[0][0][:5] == (4, 5, 0, 5, 6)
    assert rows[0][0].score == pytest.approx(1 / (1 + numpy.exp(-3.0)))


def test_dense_to_candidates():
    scores = numpy.full((1, 2, 3, 3), -5.0, dtype="f")
    scores[0, 1, 0, 2] = 1.0
    scores[0, 0, 2, 0] = 1.0  # masked: end before start
    c = dense_to_candidates(scores, entity_mask([3], 3, 24), 0.5)
    assert c.index.tolist() == [[0, 1, 0, 2]]
    assert logit(0.5) == 0.0


def _check_sparse(index, values, dense, mask, cut):
    """The sparse output of the reference decoder's dense_candidates against the dense maps of the same
    module (another code path, so other float32 kernels): per (window, head) the positions above
    ``cut`` inside ``mask``, the best W (the window's width) of them, in index order, with the dense
    values. A position whose dense value lies within CUT_MARGIN of the cut, or of the W-th best
    value where the cap applies, may be on either side on another CPU."""
    n, heads, width, _ = dense.shape
    got = {tuple(i): v for i, v in zip(index.tolist(), values.tolist())}
    assert index.tolist() == sorted(index.tolist())  # index order
    capped = 0
    for w in range(n):
        for h in range(heads):
            hits = sorted(((dense[w, h, i, j], i, j) for i in range(width) for j in range(width)
                           if mask[w, 0, i, j] and dense[w, h, i, j] > cut - CUT_MARGIN), reverse=True)
            kept = [(w, h, i, j) for i, j in ((i, j) for _, i, j in hits)]
            cap_value = hits[width - 1][0] if len(hits) > width else None
            capped += max(len([x for x in hits if x[0] > cut]) - width, 0)
            in_row = [k for k in got if k[:2] == (w, h)]
            assert len(in_row) <= width
            for value, i, j in hits:
                sure = value > cut + CUT_MARGIN and (cap_value is None or value > cap_value + CUT_MARGIN)
                if sure:
                    assert (w, h, i, j) in got, ((w, h, i, j), value)
            for k in in_row:
                assert k in kept, k  # nothing below the cut or outside the mask
                assert cap_value is None or dense[k] >= cap_value - CUT_MARGIN, k  # nothing below the cap
                assert_close(got[k], dense[k])
    return capped


def test_torch_sparse_output_matches_dense():
    torch.manual_seed(0)
    module = GlobalPointerLinker(8, 3, head_size=4, dropout=0.0).eval()
    x = torch.randn(2, 5, 8)
    lengths = torch.tensor([5, 3])
    with torch.no_grad():
        ent, head, tail = module(x, lengths)
        sparse = dense_candidates(module, x, lengths, threshold=-0.2, max_span_length=2, max_chunk_elements=1)
    e_mask, p_mask = entity_mask([5, 3], 5, 2), pair_mask([5, 3], 5)
    capped = 0
    for dense, mask, (index, values) in zip(
        (ent, head, tail), (e_mask, p_mask, p_mask), (sparse[0:2], sparse[2:4], sparse[4:6])
    ):
        capped += _check_sparse(index.numpy(), values.numpy(), dense.numpy(), mask, -0.2)
    assert capped > 0  # the per-row cap was exercised


def test_rotary_is_relative():
    torch.manual_seed(0)
    q = torch.randn(1, 1, 8).repeat(1, 6, 1)
    k = torch.randn(1, 1, 8).repeat(1, 6, 1)
    dots = torch.einsum("bmd,bnd->bmn", rotary(q), rotary(k))[0]
    assert torch.allclose(dots[0, 2], dots[3, 5], atol=1e-5)
    assert not torch.allclose(dots[0, 2], dots[0, 3], atol=1e-3)


def test_decode_bounds_work_for_an_untrained_model():
    # every position passes: the decoder keeps the best candidates per window and stays fast
    rng = numpy.random.default_rng(0)
    n, r, width = 4, 5, 40
    windows = numpy.asarray([[i, 0, width] for i in range(n)], dtype="i")
    e_mask, p_mask = entity_mask([width] * n, width, 24), pair_mask([width] * n, width)
    ent = dense_to_candidates(rng.normal(3, 1, (n, 2, width, width)).astype("f"), e_mask, 0.5)
    head = dense_to_candidates(rng.normal(3, 1, (n, r, width, width)).astype("f"), p_mask, 0.5)
    tail = dense_to_candidates(rng.normal(3, 1, (n, r, width, width)).astype("f"), p_mask, 0.5)
    rows = decode_triples(windows, n, ent, head, tail, 0.5, 24)
    assert len(rows) == n
    for doc_rows in rows:
        assert len(doc_rows) <= r * width
        assert all(0 <= r[0] < r[1] <= width and 0 <= r[3] < r[4] <= width for r in doc_rows)


def test_decode_per_relation_thresholds():
    windows = numpy.asarray([[0, 0, 8]], dtype="i")
    entity = _cands([((0, 0, 1, 3), 5.0), ((0, 1, 5, 6), 5.0)])
    # relation 0 at probability ~0.62, relation 1 at ~0.88
    head = _cands([((0, 0, 1, 5), 0.5), ((0, 1, 1, 5), 2.0)])
    tail = _cands([((0, 0, 3, 6), 0.5), ((0, 1, 3, 6), 2.0)])
    both = decode_triples(windows, 1, entity, head, tail, [0.6, 0.6], 24)
    assert [r[2] for r in both[0]] == [0, 1]
    only_1 = decode_triples(windows, 1, entity, head, tail, [0.7, 0.6], 24)
    assert [r[2] for r in only_1[0]] == [1]
    only_0 = decode_triples(windows, 1, entity, head, tail, [0.3, 0.95], 24)
    assert [r[2] for r in only_0[0]] == [0]
    # the global form is the same as equal per-relation values
    assert decode_triples(windows, 1, entity, head, tail, 0.6, 24) == both


def test_decode_with_and_without_schema_on_hand_written_scores():
    from spacy_triples.schema import filter_by_schema

    windows = numpy.asarray([[0, 0, 8]], dtype="i")
    # typed (T = 2: PER = 0, ORG = 1): subject (0, 1) as PER, object (4, 5) as ORG and as PER
    entity = _cands([((0, 0, 0, 1), 4.0), ((0, 3, 4, 5), 4.0), ((0, 2, 4, 5), 1.0)])
    head = _cands([((0, 0, 0, 4), 3.0), ((0, 1, 0, 4), 3.0)])
    tail = _cands([((0, 0, 1, 5), 3.0), ((0, 1, 1, 5), 3.0)])
    rows = decode_triples(windows, 1, entity, head, tail, 0.5, 24, n_types=2)
    # without a schema: both relations, each with the object typed ORG and PER
    assert sorted((r.relation, r.subject_type, r.object_type) for r in rows[0]) == [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 0, 1)]
    labels, types = ["works_for", "knows"], ["PER", "ORG"]
    schema = {"works_for": [["PER"], ["ORG"]], "knows": [["PER"], ["PER"]]}
    kept = filter_by_schema(rows, schema, labels, types)
    assert sorted((labels[r.relation], types[r.subject_type], types[r.object_type]) for r in kept[0]) == [
        ("knows", "PER", "PER"), ("works_for", "PER", "ORG")]
    assert filter_by_schema(rows, {}, labels, types) == rows


# ------------------------------------------------- relation scoring only for candidate entity pairs
from spacy_triples.heads.global_pointer.pytorch import best_per_window, entity_caps, pair_up, top_entities  # noqa: E402
from spacy_triples.heads.global_pointer.util import rows_from_links  # noqa: E402


def test_entity_caps():
    assert entity_caps(torch.tensor([1, 24, 25, 30, 128])).tolist() == [8, 8, 9, 10, 43]


def test_top_entities_keeps_the_best_above_the_cut_per_window():
    scores = torch.full((2, 1, 3, 3), float("-inf"))
    scores[0, 0, 0, 0], scores[0, 0, 1, 2], scores[0, 0, 2, 2] = 3.0, 1.0, -1.0
    scores[1, 0, 0, 1] = 2.0
    window, kind, first, last, value = top_entities(scores, 0.0, torch.tensor([8, 8]))
    assert list(zip(window.tolist(), kind.tolist(), first.tolist(), last.tolist(), value.tolist())) == [
        (0, 0, 0, 0, 3.0), (0, 0, 1, 2, 1.0), (1, 0, 0, 1, 2.0)]
    window, _, first, _, _ = top_entities(scores, 0.0, torch.tensor([1, 1]))
    assert window.tolist() == [0, 1] and first.tolist() == [0, 0]  # the cap keeps the best one


def test_pair_up_pairs_within_windows_only():
    subject = torch.tensor([0, 0, 2])
    obj = torch.tensor([0, 1, 2, 2])
    s, o = pair_up(subject, obj, 3)
    assert list(zip(s.tolist(), o.tolist())) == [(0, 0), (1, 0), (2, 2), (2, 3)]
    s, o = pair_up(torch.tensor([1]), torch.tensor([0]), 2)
    assert len(s) == len(o) == 0


def test_linking_projects_only_windows_with_candidate_pairs():
    torch.manual_seed(0)
    module = GlobalPointerLinker(16, 4, head_size=8, dropout=0.0, entity_prior=-8.0, relation_prior=-8.0).eval()
    projected = []
    project = module.head.project
    module.head.project = lambda x: projected.append(x.shape[0]) or project(x)
    x, lengths = torch.randn(3, 10, 16), torch.tensor([10, 6, 3])
    with torch.no_grad():
        index, _ = module(x, lengths, threshold=0.0)
        assert index.shape == (0, 8) and projected == []  # a fresh v2 head: no pairs, no projection
        module.entity.bias.bias.fill_(50.0)  # entities everywhere: every window has pairs
        module(x, lengths, threshold=0.0)
    assert projected == [3]


def test_best_per_window():
    window = torch.tensor([0, 0, 0, 1, 1])
    score = torch.tensor([1.0, 3.0, 2.0, 0.5, 0.7])
    assert best_per_window(window, score, torch.tensor([2, 1])).tolist() == [1, 2, 4]
    # ties at the cap go to the earlier entries; empty windows (first and last) are fine
    window = torch.tensor([1, 1, 1, 1, 2, 2])
    score = torch.tensor([1.0, 2.0, 1.0, 1.0, 5.0, 5.0])
    assert best_per_window(window, score, torch.tensor([3, 2, 1, 4])).tolist() == [0, 1, 4]


def test_rows_from_links_offsets_thresholds_and_merge():
    windows = numpy.asarray([[0, 0, 6], [0, 4, 10], [1, 0, 3]], dtype="i")
    index = numpy.asarray([
        [0, 4, 5, 0, 1, 0, 0, 0],  # doc 0: (4, 6) r1 (0, 1), logit 1
        [1, 0, 1, 0, 1, 2, 2, 0],  # the same triple from the second window (starts at 4), logit 2
        [2, 0, 0, 0, 0, 2, 2, 0],  # doc 1, relation 0, logit -0.5
    ], dtype="i")
    logits = numpy.asarray([1.0, 2.0, -0.5], dtype="f")
    rows = rows_from_links(windows, 2, index, logits, 0.3)
    assert [r[:5] for r in rows[0]] == [(4, 6, 1, 6, 7)] or [r[:5] for r in rows[0]] == [(4, 6, 1, 0, 1), (4, 6, 1, 6, 7)]
    assert rows[1][0][:5] == (0, 1, 0, 2, 3)
    # per-relation thresholds: relation 0 now needs 0.5
    assert rows_from_links(windows, 2, index, logits, [0.5, 0.3])[1] == []


def _all_four_above(ent, head, tail, lengths, cut, max_len, n_types, link_score="min"):
    """Brute force: per window, the best max(8, ceil(L/3)) subjects and objects (span, type) above
    ``cut``; every pair of them and relation whose four scores all exceed it (with ``"mean"``: both
    entity scores and the mean of head and tail; with ``"max"``: both entity scores and the larger
    of head and tail); the best L of those.
    Rows (window, s0, s1, s_type, r, o0, o1, o_type, logit)."""
    found = []
    for w, n in enumerate(lengths.tolist()):
        cap = max(8, -(-n // 3))
        spans = [(i, j) for i in range(n) for j in range(i, min(n, i + max_len))]
        roles = []
        for offset in (0, n_types):
            cands = [(ent[w, offset + t, i, j], t, i, j) for t in range(n_types) for i, j in spans if ent[w, offset + t, i, j] > cut]
            roles.append(sorted(cands, reverse=True)[:cap])
        triples = []
        for a, (s_score, t_s, i, j) in enumerate(roles[0]):
            for b, (o_score, t_o, k, l) in enumerate(roles[1]):
                for r in range(head.shape[1]):
                    h, t = head[w, r, i, k], tail[w, r, j, l]
                    linked = {"min": min(h, t), "mean": (h + t) / 2, "max": max(h, t)}[link_score]
                    low = min(s_score, o_score, linked)
                    if low > cut:  # ties go to the better subject, then object, then lower relation
                        triples.append((-float(low), a, b, r, (w, i, j, t_s, r, k, l, t_o)))
        found += [t[-1] + (-t[0],) for t in sorted(triples)[:n]]
    return sorted(found)


@pytest.mark.parametrize("n_types,relation_rope,seed,link_score,mention_decode",
                         [(1, True, 0, "min", 0.0), (2, False, 1, "min", 0.0), (1, False, 2, "min", 0.0), (1, True, 0, "mean", 0.0),
                          (2, False, 1, "mean", 0.0), (1, True, 0, "mean", 0.5), (2, False, 3, "min", 0.3),
                          (1, True, 0, "max", 0.0), (2, False, 1, "max", 0.5)])
def test_linking_candidate_pairs_finds_what_brute_force_finds(n_types, relation_rope, seed, link_score, mention_decode):
    from spacy_triples.heads.global_pointer.pytorch import role_scores

    torch.manual_seed(seed)
    mention_types = n_types if mention_decode else 0
    module = GlobalPointerLinker(16, 7, head_size=8, dropout=0.0, relation_rope=relation_rope, n_entity_types=n_types,
                                 link_score=link_score, mention_types=mention_types, mention_decode=mention_decode).eval()
    with torch.no_grad():
        module.entity.qk.weight.mul_(3.0)
        module.entity.bias.bias.sub_(3.0)
        x = torch.randn(5, 30, 16)
        lengths = torch.tensor([30, 9, 27, 3, 1])
        ent, head, tail = module.scores(x)
        # with mention_decode, the subject and object scores are mixed with the mention maps first
        ent, head, tail = role_scores(ent, n_types, mention_types, mention_decode).numpy(), head.numpy(), tail.numpy()
    total = capped = 0
    for threshold, max_len in ((0.5, 4), (0.6, 8), (0.8, 2), (0.3, 30)):
        cut = logit(threshold)
        expected = _all_four_above(ent, head, tail, lengths, cut, max_len, n_types, link_score)
        # the dense maps and the linker's own path are other kernels: a score within CUT_MARGIN of
        # the cut may go either way on another CPU, so the rows lie between these two sets
        sure = {e[:8] for e in _all_four_above(ent, head, tail, lengths, cut + CUT_MARGIN, max_len, n_types, link_score)}
        possible = {e[:8]: e[8] for e in _all_four_above(ent, head, tail, lengths, cut - CUT_MARGIN, max_len, n_types, link_score)}
        with torch.no_grad():
            index, logits = module(x, lengths, threshold=cut, max_span_length=max_len, max_chunk_elements=1)
        got = sorted(tuple(i) + (float(v),) for i, v in zip(index.tolist(), logits.tolist()))
        assert sure <= {g[:8] for g in got} <= set(possible)
        assert len(got) >= len(expected) - (len(possible) - len(sure))
        assert_close([g[8] for g in got], [possible[g[:8]] for g in got])
        total += len(got)
        capped += max(numpy.bincount([e[0] for e in expected], minlength=5) - lengths.numpy()) == 0
    assert total > 20 and capped  # the comparison saw triples, and a window at its L cap


def test_untrained_linking_stays_bounded_and_independent_of_the_label_count():
    # every score passes: at most max(8, L/3) entities per role and L triples per window
    torch.manual_seed(0)
    x = torch.randn(3, 60, 16)
    lengths = torch.tensor([60, 30, 5])
    for n_relations in (5, 216):
        module = GlobalPointerLinker(16, n_relations, head_size=8, dropout=0.0).eval()
        with torch.no_grad():
            for layer in (module.entity, module.head, module.tail):
                layer.bias.bias.fill_(50.0)
            index, logits = module(x, lengths, threshold=0.0, max_span_length=8)
        per_window = numpy.bincount(index[:, 0].numpy(), minlength=3)
        assert per_window.tolist() == [60, 30, 5]
        assert (index[:, 2] - index[:, 1] < 8).all() and (index[:, 6] - index[:, 5] < 8).all()
        assert (index[:, [1, 2, 5, 6]] < lengths[index[:, 0]][:, None]).all()


def test_role_scores_mix_the_mention_maps_into_subjects_and_objects():
    from spacy_triples.heads.global_pointer.pytorch import role_scores

    # two entity types: subject maps 1, 2; object maps 3, 4; mention maps 10, 20 (one value each)
    entity = torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0, 20.0])[None, :, None, None].expand(1, 6, 2, 2)
    assert role_scores(entity, 2, 2, 0.0)[0, :, 0, 0].tolist() == [1.0, 2.0, 3.0, 4.0]  # off: the role maps
    assert role_scores(entity, 2, 2, 0.5)[0, :, 1, 1].tolist() == [5.5, 11.0, 6.5, 12.0]  # each with its type's mention
    assert role_scores(entity, 2, 2, 1.0)[0, :, 0, 1].tolist() == [10.0, 20.0, 10.0, 20.0]
    assert role_scores(entity[:, :4], 2, 0, 0.0).shape == (1, 4, 2, 2)  # no mention maps, nothing to mix
    with pytest.raises(ValueError, match="mention_decode needs the mention maps"):
        role_scores(entity[:, :4], 2, 0, 0.5)


def test_link_scores_min_needs_every_part_mean_lets_one_link_carry_the_other_max_needs_one():
    from spacy_triples.heads.global_pointer.pytorch import link_scores

    head = torch.tensor([[3.0, -1.0]])
    tail = torch.tensor([[-0.5, -1.0]])
    entities = torch.tensor([[2.0]])
    assert link_scores(head, tail, entities, "min").tolist() == [[-0.5, -1.0]]
    assert link_scores(head, tail, entities, "mean").tolist() == [[1.25, -1.0]]
    assert link_scores(head, tail, torch.tensor([[-2.0]]), "mean").tolist() == [[-2.0, -2.0]]  # entities still gate
    assert link_scores(head, tail, entities, "max").tolist() == [[2.0, -1.0]]  # the head link alone passes; capped by the entities
    assert link_scores(head, tail, torch.tensor([[-2.0]]), "max").tolist() == [[-2.0, -2.0]]
    with pytest.raises(ValueError, match="link_score must be one of"):
        link_scores(head, tail, entities, "median")
    with pytest.raises(ValueError, match="link_score must be one of"):
        GlobalPointerLinker(8, 2, link_score="sum")


def test_limit_relations_per_pair_keeps_each_pairs_best_in_input_order():
    from spacy_triples.triples import TripleRow as R, limit_relations_per_pair

    rows = [R(0, 1, 0, 2, 3, score=0.6), R(0, 1, 1, 2, 3, score=0.9), R(2, 3, 0, 0, 1, score=0.7),
            R(0, 1, 2, 2, 3, score=0.9), R(0, 1, 0, 4, 5, score=0.1)]
    assert limit_relations_per_pair(rows, 0) == rows  # 0: no limit
    # (0-1, 2-3) has three relations: the best (the first of the two 0.9s) stays; (2-3, 0-1), the
    # reversed pair, is a pair of its own; the order of the rows is kept
    assert limit_relations_per_pair(rows, 1) == [rows[1], rows[2], rows[4]]
    assert limit_relations_per_pair(rows, 2) == [rows[1], rows[2], rows[3], rows[4]]
    assert limit_relations_per_pair(rows, 5) == rows
    assert limit_relations_per_pair([], 1) == []
