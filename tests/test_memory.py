"""spacy_triples.malloc_trim.v1: the training callback that returns freed memory to the system."""
import numpy
import pytest
from spacy.util import registry

from spacy_triples import memory


def test_malloc_trim_returns_a_bool_and_releases_freed_memory():
    blocks = [numpy.ones(2**18 + 17 * i) for i in range(64)]  # about 130 MiB in odd sizes
    del blocks[::2]
    assert isinstance(memory.malloc_trim(), bool)
    del blocks
    assert isinstance(memory.malloc_trim(), bool)


def test_callback_trims_every_nth_step(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "malloc_trim", lambda: calls.append(1) or True)
    callback = registry.callbacks.get("spacy_triples.malloc_trim.v1")(every=3)
    for step in range(10):
        callback(None, {"step": step, "epoch": 0})
    assert len(calls) == 4  # steps 0, 3, 6, 9


@pytest.mark.parametrize("every", [0, -1, 1.5, True, "10"])
def test_callback_refuses_bad_every(every):
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        memory.make_malloc_trim(every)


def test_transformer_configs_use_the_callback():
    from pathlib import Path

    from spacy import util

    root = Path(__file__).parent.parent
    for name in ("transformer.cfg", "gp_transformer.cfg"):
        cfg = util.load_config(root / "configs" / name, interpolate=False)
        assert cfg["training"]["before_update"] == {"@callbacks": "spacy_triples.malloc_trim.v1", "every": 10}
