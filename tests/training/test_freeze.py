"""spacy_triples.freeze_parameters.v1: chosen PyTorch weights stay fixed while the rest trains."""
import pytest
import spacy
import torch

from spacy_triples.training.freeze import freeze, make_freeze_parameters, pytorch_modules

from ..util import init_tiny_gp, make_examples, tiny_gp_config


def _init(tiny_bert, tmp_path, after_init):
    config = tiny_gp_config(tiny_bert)
    config["initialize"]["after_init"] = after_init
    return init_tiny_gp(config, tmp_path)


def test_frozen_word_embeddings_stay_fixed_while_the_rest_trains(tiny_bert, tmp_path):
    nlp = _init(tiny_bert, tmp_path, {"@callbacks": "spacy_triples.freeze_parameters.v1",
                                      "patterns": ["word_embeddings"]})
    hf = nlp.get_pipe("transformer").model.layers[0].shims[0]._model
    before = {n: p.detach().clone() for n, p in hf.named_parameters()}
    frozen = [n for n, p in hf.named_parameters() if not p.requires_grad]
    assert frozen == ["embeddings.word_embeddings.weight"]
    optimizer = spacy.util.registry.resolve({"o": {**nlp.config["training"]["optimizer"], "learn_rate": 0.01}})["o"]
    examples = make_examples(nlp)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    assert torch.equal(hf.embeddings.word_embeddings.weight, before["embeddings.word_embeddings.weight"])
    assert hf.embeddings.word_embeddings.weight.grad is None
    moved = [n for n, p in hf.named_parameters() if not torch.equal(p, before[n])]
    assert "embeddings.position_embeddings.weight" in moved and len(moved) >= 20
    # nothing else in the pipeline is frozen: the head's weights all train
    head = [m for m in pytorch_modules(nlp) if m is not hf]
    assert head and all(p.requires_grad for m in head for p in m.parameters())
    # the frozen weights are saved and loaded as they are
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    hf2 = loaded.get_pipe("transformer").model.layers[0].shims[0]._model
    assert torch.equal(hf2.embeddings.word_embeddings.weight, before["embeddings.word_embeddings.weight"])


def test_without_the_callback_the_word_embeddings_train(tiny_bert, tmp_path):
    nlp = _init(tiny_bert, tmp_path, None)
    hf = nlp.get_pipe("transformer").model.layers[0].shims[0]._model
    before = hf.embeddings.word_embeddings.weight.detach().clone()
    optimizer = spacy.util.registry.resolve({"o": {**nlp.config["training"]["optimizer"], "learn_rate": 0.01}})["o"]
    examples = make_examples(nlp)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    assert not torch.equal(hf.embeddings.word_embeddings.weight, before)


def test_a_pattern_that_matches_nothing_is_an_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    nlp.initialize(lambda: make_examples(nlp))
    with pytest.raises(ValueError, match=r"no PyTorch parameter name contains \['word_embedings'\]"):
        freeze(nlp, ["word_embedings"])
    assert all(p.requires_grad for m in pytorch_modules(nlp) for p in m.parameters())
    blank = spacy.blank("en")
    with pytest.raises(ValueError, match="no PyTorch component"):
        freeze(blank, ["word_embeddings"])


@pytest.mark.parametrize("patterns", [[], [""], "word_embeddings", [3]])
def test_bad_patterns_are_an_error(patterns):
    with pytest.raises(ValueError, match="patterns must be a list of non-empty strings"):
        make_freeze_parameters(patterns)
