"""``spacy_triples.malloc_trim.v1``: give freed training memory back to the system.

Training a transformer on the CPU allocates and frees many large, differently sized buffers every
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
"""
import ctypes
import ctypes.util
import functools
import sys
from typing import Callable, Dict, Optional

from spacy.language import Language

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


def make_malloc_trim(every: int = 10) -> Callable[[Language, Dict], None]:
    """Registered as ``spacy_triples.malloc_trim.v1``: a ``[training.before_update]`` callback
    that calls ``malloc_trim(0)`` before every ``every``-th update."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"spacy_triples.malloc_trim.v1: every must be an integer >= 1, got {every!r}.")

    def before_update(nlp: Language, info: Dict) -> None:
        if int(info.get("step", 0)) % every == 0:
            malloc_trim()

    return before_update
