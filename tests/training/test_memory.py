"""spacy_triples.malloc_trim.v1: the training callback that returns freed memory to the system."""
from pathlib import Path

import pytest
from spacy.util import registry

from spacy_triples.training import memory
from ..util import ROOT


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


def test_transformer_configs_use_the_callback():
    pass

    from spacy import util

    root = ROOT
    for name in ("transformer.cfg", "gp_transformer.cfg"):
        cfg = util.load_config(root / "configs" / name, interpolate=False)
        assert cfg["training"]["before_update"] == {"@callbacks": "spacy_triples.malloc_trim.v1", "every": 10}
