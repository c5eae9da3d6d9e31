"""spacy_triples.chain_callbacks.v1: several pipeline callbacks in one config slot, in order."""
import pytest
import spacy
from thinc.api import Config

from spacy_triples.training.averages import torch_shims
from spacy_triples.training.callbacks import make_chain_callbacks

from ..util import init_tiny_gp, tiny_gp_config


def _recorder(log, name):
    def callback(nlp):
        log.append((name, nlp.meta.get("name")))
        nlp.meta["name"] = name  # what the next callback sees
        return nlp
    return callback


def test_runs_each_callback_in_order_on_what_the_one_before_returned():
    log = []
    nlp = spacy.blank("en")
    nlp.meta["name"] = "start"
    out = make_chain_callbacks(_recorder(log, "a"), _recorder(log, "b"), _recorder(log, "c"))(nlp)
    assert out is nlp
    assert log == [("a", "start"), ("b", "a"), ("c", "b")]


def test_the_config_order_of_the_sub_sections_is_the_order_they_run():
    log = []
    registry = spacy.util.registry
    registry.callbacks.register("test_chain_recorder.v1", func=lambda name: _recorder(log, name))
    config = Config().from_str("""
[initialize]

[initialize.after_init]
@callbacks = "spacy_triples.chain_callbacks.v1"

[initialize.after_init.*.second]
@callbacks = "test_chain_recorder.v1"
name = "z"

[initialize.after_init.*.first]
@callbacks = "test_chain_recorder.v1"
name = "y"
""")
    registry.resolve(config)["initialize"]["after_init"](spacy.blank("en"))
    assert [name for name, _ in log] == ["z", "y"]


def test_a_callback_that_returns_something_else_is_an_error_that_names_it():
    def forgets_to_return(nlp):
        nlp.meta["touched"] = True

    with pytest.raises(ValueError, match="callback 1 .*forgets_to_return.* returned NoneType"):
        make_chain_callbacks(lambda nlp: nlp, forgets_to_return)(spacy.blank("en"))


@pytest.mark.parametrize("callbacks,match", [((), "no callbacks"), ((lambda nlp: nlp, "freeze"), "callback 1 is 'freeze'")])
def test_bad_chains_are_refused_when_built(callbacks, match):
    with pytest.raises(ValueError, match=match):
        make_chain_callbacks(*callbacks)


def test_freezing_and_weight_averages_together_in_gp_transformer(tiny_bert, tmp_path):
    """The case it exists for: gp_transformer.cfg freezes MiniLM's word embeddings in after_init, and
    weight averages need after_init as well."""
    config = tiny_gp_config(tiny_bert)
    config["training"]["optimizer"]["use_averages"] = True
    config["initialize"]["after_init"] = {
        "@callbacks": "spacy_triples.chain_callbacks.v1",
        "*": {"freeze": dict(config["initialize"]["after_init"]),
              "averages": {"@callbacks": "spacy_triples.torch_averages.v1"}},
    }
    nlp = init_tiny_gp(config, tmp_path)
    hf = nlp.get_pipe("transformer").model.layers[0].shims[0]._model
    assert [n for n, p in hf.named_parameters() if not p.requires_grad] == ["embeddings.word_embeddings.weight"]
    shims = torch_shims(nlp)
    assert len(shims) == 2 and all(type(s).__name__.startswith("TorchAverages") for s in shims)
