"""spacy_triples.training_memory.v1 and malloc_trim.v1: the training callbacks that keep training
memory down (update chains cut, freed memory returned to the system)."""
import gc
import warnings
from pathlib import Path

import pytest
from spacy.util import registry

from spacy_triples.training import memory
from spacy_triples.training.averages import torch_shims
from ..util import ROOT, make_examples


@pytest.fixture(autouse=True)
def _prediction_batches_off():
    """training_memory.v1 turns batch trimming on for the whole process: leave it off for the next test."""
    yield
    memory.trim_prediction_batches(False)


def _rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


@pytest.mark.skipif(memory._libc_malloc_trim() is None or not Path("/proc/self/status").exists(), reason="needs glibc and /proc")
def test_malloc_trim_gives_freed_heap_memory_back():
    # 180 MB of heap blocks below glibc's mmap threshold; every tenth stays alive, so the freed
    # ones lie between live ones and glibc cannot simply shrink the heap's top
    blocks = [bytearray(b"x" * 60_000) for _ in range(3000)]
    kept = blocks[::10]
    del blocks
    before = _rss_mib()
    assert memory.malloc_trim() is True
    assert _rss_mib() < before - 100
    assert len(kept) == 300


def test_malloc_trim_is_false_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_libc_malloc_trim", lambda: None)
    assert memory.malloc_trim() is False


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


def test_configs_use_the_training_memory_callback():
    from spacy import util

    for path in sorted((ROOT / "configs").glob("*.cfg")):
        cfg = util.load_config(path, interpolate=False)
        assert cfg["training"]["before_update"] == {"@callbacks": "spacy_triples.training_memory.v1", "trim_every": 10}, path.name


def _train(n_steps, callback):
    """The factory-default pipeline (a PyTorch head) trained ``n_steps`` updates the way spaCy's
    loop does, ``callback`` called before each; returns the torch tensors alive and the weights."""
    import spacy
    import torch
    from spacy.util import fix_random_seed

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for step in range(n_steps):
        if callback is not None:
            callback(nlp, {"step": step, "epoch": 0})
        nlp.update(examples, sgd=optimizer, drop=0.1)
    gc.collect()
    with warnings.catch_warnings():  # isinstance on every object touches torch's deprecated aliases
        warnings.simplefilter("ignore", FutureWarning)
        alive = sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))
    weights = [p.detach().clone() for shim in torch_shims(nlp) for p in shim._model.parameters()]
    return alive, weights


def test_training_memory_cuts_update_chains_and_keeps_the_weights(monkeypatch):
    import torch

    monkeypatch.setattr(memory, "malloc_trim", lambda: True)
    short, _ = _train(5, None)
    grown, plain = _train(45, None)
    kept, cut = _train(45, registry.callbacks.get("spacy_triples.training_memory.v1")(trim_every=10))
    n_weights = len(plain)
    # thinc's finish_update leaves one tensor per weight and update alive (if this fails, thinc
    # stopped chaining them and UpdateChains has nothing left to do)
    assert grown - short >= 40 * n_weights
    assert kept <= short
    assert len(cut) == n_weights and all(torch.equal(a, b) for a, b in zip(plain, cut))


def test_update_chains_take_new_memory_as_the_owner():
    import spacy
    import torch

    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    nlp.initialize(lambda: make_examples(nlp))
    chains = memory.UpdateChains()
    assert chains.cut(nlp) == 0  # first sight: nothing to cut
    param = next(torch_shims(nlp)[0]._model.parameters())
    original = param.data
    storage = original.untyped_storage()._cdata
    param.data = torch.from_numpy(original.numpy())  # what finish_update does: same memory, another storage
    assert param.untyped_storage()._cdata != storage
    assert chains.cut(nlp) == 1 and param.untyped_storage()._cdata == storage
    assert chains.cut(nlp) == 0
    moved = original.clone() + 1  # other memory (an optimizer that returns new arrays): the new owner
    param.data = moved
    assert chains.cut(nlp) == 0 and param.data_ptr() == moved.data_ptr()
    assert torch.equal(param.data, moved)


def test_training_memory_trims_every_nth_step(monkeypatch):
    import spacy

    calls = []
    monkeypatch.setattr(memory, "malloc_trim", lambda: calls.append(1) or True)
    nlp = spacy.blank("en")
    for trim_every, expected in ((3, 4), (0, 0)):
        calls.clear()
        callback = registry.callbacks.get("spacy_triples.training_memory.v1")(trim_every=trim_every)
        for step in range(10):
            callback(nlp, {"step": step, "epoch": 0})
        assert len(calls) == expected  # steps 0, 3, 6, 9; never with 0


@pytest.mark.parametrize("trim_every", [-1, 1.5, True, "10"])
def test_training_memory_refuses_bad_trim_every(trim_every):
    with pytest.raises(ValueError, match=r"trim_every must be an integer >= 0 \(0: never trim\)"):
        memory.make_training_memory(trim_every)


def test_training_memory_turns_on_trimming_after_each_prediction_batch(monkeypatch):
    """The dev evaluations of ``spacy train`` predict batch after batch while every doc is kept:
    once the training callback has run, the component gives each batch's freed memory back."""
    import spacy

    calls = []
    monkeypatch.setattr(memory, "malloc_trim", lambda: calls.append(1) or True)
    nlp = spacy.blank("en")
    nlp.add_pipe("triple_extractor")
    nlp.initialize(lambda: make_examples(nlp))
    texts = [f"Alice {i} works for Acme ." for i in range(10)]
    list(nlp.pipe(texts, batch_size=4))
    assert calls == []  # a process that only predicts never trims
    registry.callbacks.get("spacy_triples.training_memory.v1")(trim_every=0)(nlp, {"step": 0, "epoch": 0})
    list(nlp.pipe(texts, batch_size=4))
    assert calls == []  # trim_every = 0: never
    registry.callbacks.get("spacy_triples.training_memory.v1")(trim_every=10)(nlp, {"step": 1, "epoch": 0})
    assert calls == []  # step 1 is not a tenth step
    docs = list(nlp.pipe(texts, batch_size=4))
    assert len(calls) == 3  # batches of 4, 4 and 2
    assert [doc.text for doc in docs] == texts
