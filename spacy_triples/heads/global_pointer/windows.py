"""Bounded scoring windows (pure functions).

Token pairs are only scored inside windows of at most ``window_size`` tokens, so the pair score
tensors grow linearly with document length (windows x size^2) instead of quadratically. Windows
overlap by ``window_size - stride`` tokens: any two tokens closer than that share a window, and
triples found in two windows are merged when decoding.
"""
from typing import Sequence

import numpy

WINDOW_FIELDS = ("doc", "start", "end")


def plan_windows(lengths: Sequence[int], window_size: int, stride: int) -> numpy.ndarray:
    """Return an int array (n_windows, 3) of (doc index, start, end) covering every token.

    Empty docs get no window. A doc no longer than ``window_size`` gets exactly one window.
    """
    if window_size < 1 or not 1 <= stride <= window_size:
        raise ValueError(
            f"Invalid window settings: window_size={window_size}, stride={stride}. "
            "Use window_size >= 1 and 1 <= stride <= window_size."
        )
    rows = []
    for i, n in enumerate(lengths):
        if n <= 0:
            continue
        starts = list(range(0, max(n - window_size, 0) + 1, stride))
        if starts[-1] + window_size < n:
            starts.append(n - window_size)
        for s in starts:
            rows.append((i, s, min(s + window_size, n)))
    return numpy.asarray(rows, dtype="i").reshape((-1, 3))


def window_token_index(windows: numpy.ndarray, lengths: Sequence[int], pad_index: int) -> numpy.ndarray:
    """Return (n_windows, max_window_len) indices into the concatenated token rows of all docs.

    Padding positions get ``pad_index`` (the caller appends one zero row there).
    """
    offsets = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype("i")
    width = int((windows[:, 2] - windows[:, 1]).max()) if len(windows) else 0
    index = numpy.full((len(windows), width), pad_index, dtype="i")
    for n, (doc, start, end) in enumerate(windows):
        index[n, : end - start] = numpy.arange(offsets[doc] + start, offsets[doc] + end)
    return index


def entity_mask(lengths: Sequence[int], width: int, max_span_length: int) -> numpy.ndarray:
    """(N, 1, W, W) bool mask of valid entity positions for windows of the given lengths."""
    pos = numpy.arange(width)
    inside = pos[None, :] < numpy.asarray(lengths)[:, None]
    span = pos[None, :] - pos[:, None]
    band = (span >= 0) & (span < max_span_length)
    return (inside[:, :, None] & inside[:, None, :] & band[None])[:, None]


def pair_mask(lengths: Sequence[int], width: int) -> numpy.ndarray:
    """(N, 1, W, W) bool mask of positions with both tokens inside the window."""
    inside = numpy.arange(width)[None, :] < numpy.asarray(lengths)[:, None]
    return (inside[:, :, None] & inside[:, None, :])[:, None]
