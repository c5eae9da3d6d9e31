"""Training memory callbacks for ``[training.before_update]``.

``spacy_triples.training_memory.v1`` (the configs'): before every update, give each PyTorch weight
its own tensor back (``UpdateChains``, below), and every ``trim_every`` updates give freed memory
back to the system (``malloc_trim``). ``spacy_triples.malloc_trim.v1``: the trim alone (what the
configs used before).

Weights that were never freed: thinc 8.3's ``PyTorchShim.finish_update`` hands each weight to the
optimizer as a NumPy (or CuPy) view of the tensor, and then sets ``param.data`` to a new tensor made
from the view the optimizer returns, which is the same memory, updated in place. The new tensor
keeps the view alive and the view keeps the previous tensor alive, so every update adds a link of
small objects to a chain per weight that is never freed, without a byte of weight data copied:
81 MiB per 1,000 updates of 100 weights (benchmarks/update_chains.py; MiniLM with a head trains
about 95), the creep of the long WebNLG runs' resident memory. Pointing ``param.data`` back to the
tensor that owns the memory drops the chain.

The trim: training a transformer on the CPU allocates and frees many large, differently sized buffers every
step (activations, gradients, the optimizer's temporaries). glibc's allocator keeps freed memory
in its arenas, fragmented, so the process holds far more than it uses: for MiniLM on CoNLL04,
1.89 GiB resident after 80 steps where 0.8 GiB is live (benchmarks/train_memory.py). glibc's
``malloc_trim(0)`` returns the free pages. Called every ``every`` training steps, as a
``[training.before_update]`` callback (configs/transformer.cfg does), ``every = 10`` cost no
measurable speed in 80-step runs (every step: about 13%). It lowers the peak, not to what is live:
the 29-minute CoNLL04 runs still peaked at 2.6-2.7 GiB (3.5 GiB without it).

Lowering glibc's mmap threshold instead (``MALLOC_MMAP_THRESHOLD_=131072``) gave the lowest peak
but made training 45% slower: every large buffer then costs fresh page faults.
On a system without glibc the callback does nothing.

Evaluation: ``spacy train`` scores the dev set every ``eval_frequency`` steps, predicting it batch
by batch while every predicted doc is kept for the scorer. Each batch allocates and frees buffers
of its own sizes, and glibc keeps them: on a DuIE checkpoint one dev pass of 2,000 docs left the
process 365 MiB above where it began, 126 MiB with ``malloc_trim(0)`` after each batch (the docs'
own data is about 80 MiB), and the training peak of the DuIE runs is set right there. So once
``training_memory.v1`` (``trim_every`` above 0) has run, every ``triple_extractor`` in the process
also trims after each batch it predicts (``trim_prediction_batches``): the training process's dev
evaluations, and its test scoring in the benchmarks. A process that only predicts never turns it on.
"""
import ctypes
import ctypes.util
import functools
import sys
from typing import Callable, Dict, Optional

from spacy.language import Language

from .averages import torch_shims


@functools.lru_cache(maxsize=None)
def _libc_malloc_trim() -> Optional[Callable[[int], int]]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and other C libraries
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def malloc_trim() -> bool:
    """Call glibc's ``malloc_trim(0)``. Returns whether memory was released (False where the C
    library has no malloc_trim)."""
    trim = _libc_malloc_trim()
    return bool(trim(0)) if trim is not None else False


_PREDICTION_BATCHES = {"trim": False}


def trim_prediction_batches(on: bool = True) -> None:
    """Whether every ``triple_extractor`` in this process calls ``malloc_trim(0)`` after each batch it
    predicts (module docstring, Evaluation). ``spacy_triples.training_memory.v1`` turns it on."""
    _PREDICTION_BATCHES["trim"] = bool(on)


def after_prediction_batch() -> None:
    """Called by ``TripleExtractor.pipe`` after each batch: trims when ``trim_prediction_batches`` is on."""
    if _PREDICTION_BATCHES["trim"]:
        malloc_trim()


def make_malloc_trim(every: int = 10) -> Callable[[Language, Dict], None]:
    """Registered as ``spacy_triples.malloc_trim.v1``: a ``[training.before_update]`` callback
    that calls ``malloc_trim(0)`` before every ``every``-th update."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"spacy_triples.malloc_trim.v1: every must be an integer >= 1, got {every!r}.")

    def before_update(nlp: Language, info: Dict) -> None:
        if int(info.get("step", 0)) % every == 0:
            malloc_trim()

    return before_update


class UpdateChains:
    """Cuts the chain of tensors that thinc's ``PyTorchShim.finish_update`` leaves on each weight
    (module docstring). ``cut(nlp)`` sets every PyTorch parameter's ``data`` back to the tensor that
    held it when first seen, when it is still the same memory (same address, shape, strides, dtype
    and device): the weights' values do not change and nothing is copied. A weight that moved to
    other memory (an optimizer that returns new arrays, a device move) is taken as the owner from
    then on."""

    def __init__(self) -> None:
        self._owners: Dict[int, tuple] = {}

    def cut(self, nlp: Language) -> int:
        """Cut every chain in ``nlp``'s PyTorch models; returns how many weights were re-pointed."""
        owners, cut = {}, 0
        for shim in torch_shims(nlp):
            module = getattr(shim, "_model", None)
            if module is None:
                continue
            for param in module.parameters():
                seen = self._owners.get(id(param))
                data = param.data
                owner = seen[1] if seen is not None and seen[0] is param else data
                if _storage(owner) != _storage(data):  # finish_update's tensor, or new memory
                    if _same_memory(owner, data):
                        param.data = owner
                        cut += 1
                    else:
                        owner = data
                owners[id(param)] = (param, owner)
        self._owners = owners
        return cut


def _storage(tensor) -> int:
    """The identity of ``tensor``'s storage (each ``param.data`` is a new Python object; views share
    one storage; a tensor made from a NumPy view of the same memory has a storage of its own)."""
    return tensor.untyped_storage()._cdata


def _same_memory(a, b) -> bool:
    return (a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride()
            and a.dtype == b.dtype and a.device == b.device)


def make_training_memory(trim_every: int = 10) -> Callable[[Language, Dict], None]:
    """Registered as ``spacy_triples.training_memory.v1``: a ``[training.before_update]`` callback
    that cuts the update chains of every PyTorch weight before each update (``UpdateChains``) and
    calls ``malloc_trim(0)`` before every ``trim_every``-th (0: never). With ``trim_every`` above 0 it
    also turns on ``trim_prediction_batches`` at its first call, so that the dev evaluations of the
    training process give each batch's freed memory back too."""
    if isinstance(trim_every, bool) or not isinstance(trim_every, int) or trim_every < 0:
        raise ValueError(f"spacy_triples.training_memory.v1: trim_every must be an integer >= 0 (0: never trim), "
                         f"got {trim_every!r}.")
    chains = UpdateChains()
    trim = make_malloc_trim(trim_every) if trim_every else None

    def before_update(nlp: Language, info: Dict) -> None:
        chains.cut(nlp)
        if trim is not None:
            trim_prediction_batches(True)
            trim(nlp, info)

    return before_update
