"""GlobalPointer.v2 ``context``: "none" (the pointers read the tok2vec's vectors) and "bilstm" (a
residual BiLSTM over each window first, its output projection starting at zero)."""
import pytest
import spacy
import torch

from spacy_triples.heads.global_pointer.model import build_global_pointer_v2
from spacy_triples.heads.global_pointer.pytorch import GlobalPointerLinker, ResidualBiLSTM

from ..util import DGCNN, GP2, TRAIN_DATA, assert_close, assert_same_triples, gp_linker, train_head

TEXTS = [" ".join(words) for words, _ in TRAIN_DATA]


def _linker(context: str) -> GlobalPointerLinker:
    torch.manual_seed(0)
    return GlobalPointerLinker(16, 3, head_size=8, context=context)


def test_a_fresh_context_layer_passes_the_features_through():
    x, lengths = torch.randn(2, 7, 16), torch.tensor([7, 4])
    plain, with_context = _linker("none"), _linker("bilstm")
    assert plain.context is None and isinstance(with_context.context, ResidualBiLSTM)
    for a, b in zip(plain.scores(x, lengths=lengths), with_context.scores(x, lengths=lengths)):
        assert_close(a, b, rtol=0, atol=0)


def test_the_context_reads_and_writes_only_a_windows_own_tokens():
    torch.manual_seed(2)
    layer = ResidualBiLSTM(6)
    with torch.no_grad():
        layer.out.weight.normal_()  # a trained layer: its output is no longer zero
    x = torch.randn(1, 4, 6)
    padded = torch.cat([x, 100 * torch.randn(1, 3, 6)], dim=1)  # the same window padded to 7
    y, y_padded = layer(x), layer(padded, torch.tensor([4]))
    assert_close(y_padded[:, :4], y, rtol=1e-5, atol=1e-5)  # the padding is not read
    assert_close(y_padded[:, 4:], padded[:, 4:], rtol=0, atol=0)  # nor written
    assert not torch.allclose(y, x, rtol=0, atol=1e-4)  # and the window's tokens do see their neighbours
    moved = x.clone()
    moved[0, 3] += 1.0
    assert not torch.allclose(layer(moved)[0, 0], y[0, 0], rtol=0, atol=1e-4)  # the first token reads the last


def test_the_context_layer_trains_to_f1_1_and_survives_a_round_trip(tmp_path):
    nlp, examples = train_head(GP2, DGCNN, model_args={"context": "bilstm"})
    assert nlp.evaluate(examples)["triples_f"] == 1.0
    linker = gp_linker(nlp)
    assert linker.context is not None and linker.context.out.weight.abs().sum() > 0  # it moved from zero
    nlp.to_disk(tmp_path / "gp")
    loaded = spacy.load(tmp_path / "gp")
    assert loaded.get_pipe("triple_extractor").model.get_ref("output_layer").attrs["context"] == "bilstm"
    assert_close(gp_linker(loaded).context.out.weight, linker.context.out.weight, rtol=0, atol=0)
    assert_same_triples(list(loaded.pipe(TEXTS)), list(nlp.pipe(TEXTS)))


def test_a_bad_context_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match=r"context must be one of \['none', 'bilstm'\], got 'lstm'"):
        build_global_pointer_v2(None, context="lstm")
    with pytest.raises(ValueError, match="context must be one of"):
        GlobalPointerLinker(16, 3, context="transformer")
