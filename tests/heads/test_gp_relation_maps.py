"""GlobalPointer.v2 ``relation_maps``: "shared" (GPLinker's Efficient GlobalPointer: one query-key
product for every relation) and "diagonal" (each relation rescales that product per dimension)."""
import pytest
import spacy
import torch

from spacy_triples.heads.global_pointer.model import build_global_pointer_v2
from spacy_triples.heads.global_pointer.pytorch import EfficientGlobalPointer, GlobalPointerLinker

from ..util import DGCNN, GP2, TRAIN_DATA, assert_close, assert_same_triples, gp_linker, train_head

TEXTS = [" ".join(words) for words, _ in TRAIN_DATA]


def _linker(relation_maps: str) -> GlobalPointerLinker:
    torch.manual_seed(0)
    return GlobalPointerLinker(16, 3, head_size=8, relation_maps=relation_maps)


def test_diagonal_maps_start_at_the_shared_scores():
    x = torch.randn(2, 7, 16)
    shared, diagonal = _linker("shared"), _linker("diagonal")
    for a, b in zip(shared.scores(x), diagonal.scores(x)):
        assert_close(a, b, rtol=1e-6, atol=1e-6)
    assert diagonal.head.scale.shape == (3, 4) and shared.head.scale is None


def test_diagonal_pair_scores_match_the_dense_maps():
    pointer = EfficientGlobalPointer(16, 5, 8, use_rope=True, diagonal=True)
    with torch.no_grad():
        pointer.scale.normal_()
    x = torch.randn(3, 6, 16)
    dense = pointer(x)  # (N, H, W, W)
    window, row, col = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 5, 3, 1]), torch.tensor([4, 5, 0, 1])
    assert_close(pointer.at(pointer.project(x), window, row, col), dense[window, :, row, col], rtol=1e-5, atol=1e-5)


def test_diagonal_maps_with_rope_depend_on_the_relative_position_only():
    # the per-head factor is tied within each rotated pair of dimensions: shifting the whole
    # sequence leaves every score where it was
    torch.manual_seed(1)
    pointer = EfficientGlobalPointer(16, 4, 8, use_rope=True, diagonal=True)
    with torch.no_grad():
        pointer.scale.normal_()
    x = torch.randn(1, 5, 16)
    shifted = torch.cat([torch.randn(1, 3, 16), x], dim=1)
    assert_close(pointer(shifted)[:, :, 3:, 3:], pointer(x), rtol=1e-4, atol=1e-4)


def _fit_crossed_links(diagonal: bool) -> torch.Tensor:
    """Subjects A, B and objects C, D; relation 0 links A-C and B-D, relation 1 links A-D and B-C.
    Returns the trained scores at the four pairs (2 relations x 4 pairs)."""
    torch.manual_seed(0)
    pointer = EfficientGlobalPointer(8, 2, 8, use_rope=False, diagonal=diagonal)
    x = torch.randn(1, 4, 8)  # tokens A, B, C, D
    rows, cols = torch.tensor([0, 1, 0, 1]), torch.tensor([2, 3, 3, 2])  # A-C, B-D, A-D, B-C
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    optimizer = torch.optim.Adam(pointer.parameters(), lr=0.05)
    for _ in range(400):
        optimizer.zero_grad()
        scores = pointer(x)[0][:, rows, cols]
        torch.nn.functional.binary_cross_entropy_with_logits(scores, target).backward()
        optimizer.step()
    with torch.no_grad():
        return pointer(x)[0][:, rows, cols]


def test_diagonal_maps_learn_crossed_links_the_shared_product_cannot():
    # shared: score_r(i, j) = s(i, j) + a_r(i) + b_r(j), so for every relation
    # score(A,C) + score(B,D) - score(A,D) - score(B,C) is the same; relation 0 needs it > 0,
    # relation 1 < 0. A diagonal form per relation can flip the sign of s.
    diagonal = _fit_crossed_links(True)
    assert ((diagonal > 0) == torch.tensor([[True, True, False, False], [False, False, True, True]])).all()
    shared = _fit_crossed_links(False)
    contrast = shared[:, 0] + shared[:, 1] - shared[:, 2] - shared[:, 3]
    assert_close(contrast[0], contrast[1], rtol=1e-4, atol=1e-4)
    assert not ((shared > 0) == torch.tensor([[True, True, False, False], [False, False, True, True]])).all()


def test_diagonal_maps_overfit_and_survive_a_round_trip(tmp_path):
    nlp, examples = train_head(GP2, DGCNN, model_args={"relation_maps": "diagonal"})
    assert nlp.evaluate(examples)["triples_f"] == 1.0
    assert gp_linker(nlp).head.scale is not None
    nlp.to_disk(tmp_path / "gp")
    loaded = spacy.load(tmp_path / "gp")
    assert loaded.get_pipe("triple_extractor").model.get_ref("output_layer").attrs["relation_maps"] == "diagonal"
    assert_close(gp_linker(loaded).head.scale, gp_linker(nlp).head.scale, rtol=0, atol=0)
    assert_same_triples(list(loaded.pipe(TEXTS)), list(nlp.pipe(TEXTS)))


def test_bad_relation_maps_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match=r"relation_maps must be one of \['shared', 'diagonal'\], got 'full'"):
        build_global_pointer_v2(None, relation_maps="full")
    with pytest.raises(ValueError, match="needs an even head_size, got 63"):
        build_global_pointer_v2(None, head_size=63, relation_maps="diagonal")
