"""Length-bucketed training batches: ``spacy_triples.batch_by_length.v1``.

A transformer pads every sub-batch to its longest sentence. spaCy's ``batch_by_sequence.v1`` cuts
the shuffled corpus into batches as it comes, so a batch of eight mixes short and long sentences;
the training loop sorts each batch by length before splitting it into ``accumulate_gradient``
halves, and still about a third of the encoder's work on CoNLL04 and WebNLG is padding
(benchmarks/padding.py). This batcher keeps spaCy's batch size in sentences (so the learning-rate
schedule, ``accumulate_gradient`` and what a step means stay the same) and only changes which
sentences share a batch: it reads ``size * buffer`` examples of the shuffled stream, sorts them by
length, cuts them into batches of ``size`` and yields those batches in a random order. With
``buffer = 1`` it is ``batch_by_sequence.v1`` with each batch sorted, which changes nothing.

spaCy's ``batch_by_padded.v1`` also groups by length, but its batches hold a number of padded
words, not of sentences: short sentences then come in batches of many, which changes the step.
"""
import itertools
import random
from typing import Callable, Iterable, Iterator, List, Optional, TypeVar

ItemT = TypeVar("ItemT")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"spacy_triples.batch_by_length.v1: {name} must be a whole number of at least 1, "
                         f"got {value!r}. Set [training.batcher] {name} in the config.")
    return value


def length_buckets(items: Iterable[ItemT], size: int, buffer: int,
                   get_length: Callable[[ItemT], int] = len) -> Iterator[List[ItemT]]:
    """Batches of ``size`` items (the last of the stream may be smaller), each drawn from
    ``size * buffer`` consecutive items sorted by ``get_length``, in a random order within that
    window (Python's ``random``, which spaCy's training seeds). Every item comes out exactly once."""
    size = _positive_int("size", size)
    buffer = _positive_int("buffer", buffer)
    stream = iter(items)
    while True:
        window = list(itertools.islice(stream, size * buffer))
        if not window:
            return
        # a stable sort: equal lengths keep the stream's (shuffled) order
        window.sort(key=get_length)
        batches = [window[i:i + size] for i in range(0, len(window), size)]
        random.shuffle(batches)
        yield from batches


def configure_length_buckets(size: int = 8, buffer: int = 32,
                             get_length: Optional[Callable] = None) -> Callable[[Iterable], Iterator[list]]:
    """``[training.batcher] @batchers = "spacy_triples.batch_by_length.v1"``: batches of ``size``
    sentences grouped by length within windows of ``buffer`` batches. ``get_length`` defaults to an
    example's number of tokens."""
    _positive_int("size", size)
    _positive_int("buffer", buffer)
    length = get_length if get_length is not None else len

    def batcher(items: Iterable) -> Iterator[list]:
        return length_buckets(items, size, buffer, length)

    return batcher
