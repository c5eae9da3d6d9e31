"""``spacy_triples.PointerHead.v1``: half-pointer, half-tagging (CasRel-style) triple head.

Subjects come from per-token start/end pointers; each subject conditions a small head that tags
object starts/ends per relation. The encoder runs once per batch: at inference the subject pass
and the conditional pass reuse the same token vectors, and the conditional pass is batched over
all subjects of all docs (the reference implementations re-run BERT once per subject).
"""
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, chain, torch2xp, xp2torch
from thinc.types import Floats2d

from ..decode import TripleRow, decode_pointer_objects, decode_pointer_subjects, object_slice
from .glue import head_dims, tuple_outputs, wrap_torch
from .torch_modules import PointerTagger


class PointerScores(NamedTuple):
    """Training output. ``queries`` rows: (doc, s_start, s_end, slice_start, slice_end), one per
    conditional pass (the sampled subject of each doc that has one)."""

    lengths: List[int]
    queries: numpy.ndarray
    tokens: Any  # (total tokens, 4T) logits
    objects: Any  # (K, S, 2R) logits


class PointerTriples(NamedTuple):
    """Prediction output: decoded triple rows per doc (see ``decode.TripleRow``)."""

    rows: List[List[TripleRow]]


def build_pointer_head(
    tok2vec: Model[List[Doc], List[Floats2d]],
    condition: str = "layernorm",
    dropout: float = 0.1,
    object_reach: int = 100,
    max_distance: int = 32,
    max_chunk_elements: int = 2**22,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[dict] = None,
) -> Model[List[Doc], Any]:
    """Registered as ``spacy_triples.PointerHead.v1``.

    condition: "layernorm" (conditional layer norm on the subject's start and end vectors, as
        in bert4keras) or "add" (add their mean to every token, as in CasRel).
    object_reach: objects are searched within this many tokens either side of the subject, which
        bounds the cost per subject (linear time on long documents).
    max_distance: relative distances to the subject, clipped to +-max_distance, are embedded and
        added to the conditioned tokens (0: off, as in CasRel).
    max_chunk_elements: inference runs the conditional pass over chunks of subjects of at most
        this many (tokens x width) elements, bounding memory.
    """
    head = Model(
        "pointer_head",
        _head_forward,
        init=_head_init,
        dims={"nI": None, "nO": None},
        attrs={
            "condition": condition,
            "dropout": dropout,
            "object_reach": object_reach,
            "max_distance": max_distance,
            "max_chunk_elements": max_chunk_elements,
            "mixed_precision": mixed_precision,
            "grad_scaler_config": dict(grad_scaler_config or {}),
            # set by the pipe:
            "n_entity_types": 1,
            "threshold": 0.5,
            "relation_thresholds": [],
            "max_span_length": 24,
            "train_subjects": None,
        },
    )
    model = chain(tok2vec, head)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("head", head)
    model.name = "triple_pointer"
    return model


def _head_init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    n_in, n_out = head_dims(model, X, "pointer head")
    a = model.attrs
    module = PointerTagger(n_in, n_out, a["n_entity_types"], a["condition"], a["dropout"], a["max_distance"])
    model.layers.clear()
    model.layers.append(wrap_torch(module, _convert_inputs, tuple_outputs, a["mixed_precision"], a["grad_scaler_config"]))


def _convert_inputs(model: Model, X: Tuple, is_train: bool):
    Xcat, slice_index, cond_index, distance, mode = X
    device = model.shims[0].device
    xt = xp2torch(Xcat, requires_grad=is_train, device=device)
    extra = [None if a is None else xp2torch(a, device=device).long() for a in (slice_index, cond_index, distance)]

    def reverse(dX: ArgsKwargs):
        return torch2xp(dX.args[0])

    return ArgsKwargs(args=(xt, *extra), kwargs={"mode": mode}), reverse


def make_queries(
    subjects: Sequence[Sequence[Tuple[int, int]]], lengths: Sequence[int], reach: int
) -> numpy.ndarray:
    """Rows (doc, s_start, s_end, slice_start, slice_end) for the subjects of each doc."""
    rows = [(d, s0, s1, *object_slice(s0, s1, lengths[d], reach)) for d, spans in enumerate(subjects) for s0, s1 in spans]
    return numpy.asarray(rows, dtype="i").reshape((-1, 5))


def query_arrays(queries: numpy.ndarray, lengths: Sequence[int], max_distance: int):
    """Index arrays for the conditional pass over a flat (total + 1, D) token array whose last row
    is padding: slice_index (K, S), cond_index (K, 2) and bucketed distances (K, S)."""
    offsets = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype("i")
    total = int(offsets[-1])
    width = max(int((queries[:, 4] - queries[:, 3]).max()), 1) if len(queries) else 1
    pos = numpy.arange(width, dtype="i")
    tok = queries[:, 3:4] + pos[None, :]  # doc token index of each slice position
    valid = tok < queries[:, 4:5]
    slice_index = numpy.where(valid, offsets[queries[:, 0:1]] + tok, total).astype("i")
    cond_index = numpy.stack([offsets[queries[:, 0]] + queries[:, 1], offsets[queries[:, 0]] + queries[:, 2] - 1], axis=1).astype("i")
    before = numpy.minimum(tok - queries[:, 1:2], 0)
    after = numpy.maximum(tok - (queries[:, 2:3] - 1), 0)
    distance = (numpy.clip(before + after, -max_distance, max_distance) + max_distance).astype("i")
    return slice_index, cond_index, distance


def _head_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    ops = model.ops
    a = model.attrs
    lengths = [int(x.shape[0]) for x in Xs]
    total = sum(lengths)
    n_in = model.get_dim("nI")
    n_types = a["n_entity_types"]
    if not model.layers:
        raise ValueError("The pointer head is not initialized: call nlp.initialize() first.")
    if total == 0:
        if is_train:
            out = PointerScores(lengths, numpy.zeros((0, 5), dtype="i"), ops.alloc2f(0, 4 * n_types), ops.alloc3f(0, 1, 2 * model.get_dim("nO")))
        else:
            out = PointerTriples([[] for _ in Xs])
        return out, lambda d: [ops.alloc2f(n, n_in) for n in lengths]
    Xcat = ops.xp.concatenate([ops.flatten(Xs), ops.alloc2f(1, n_in)])
    if is_train:
        return _train_forward(model, Xcat, lengths)
    return PointerTriples(_predict_rows(model, Xcat, lengths)), lambda d: [ops.alloc2f(n, n_in) for n in lengths]


def _train_forward(model: Model, Xcat, lengths: List[int]):
    ops = model.ops
    a = model.attrs
    total = len(Xcat) - 1
    subjects = a.get("train_subjects") or [None] * len(lengths)
    if len(subjects) != len(lengths):
        raise ValueError(f"PointerHead: {len(subjects)} sampled subjects for a batch of {len(lengths)} docs.")
    queries = make_queries([[s] if s is not None else [] for s in subjects], lengths, a["object_reach"])
    layer = model.layers[0]
    if len(queries):
        slice_index, cond_index, distance = query_arrays(queries, lengths, a["max_distance"])
        arrays = tuple(ops.asarray(x, dtype="i") for x in (slice_index, cond_index, distance))
        (tokens, objects), backprop_torch = layer((Xcat, *arrays, "both"), True)
    else:
        (tokens,), bp_tokens = layer((Xcat, None, None, None, "tokens"), True)
        objects = ops.alloc3f(0, 1, 2 * model.get_dim("nO"))

        def backprop_torch(dY):
            return bp_tokens(dY[:1])

    def backprop(dY: PointerScores) -> List[Floats2d]:
        dXcat = backprop_torch((dY.tokens, dY.objects))
        return ops.unflatten(dXcat[:total], ops.asarray1i(lengths))

    return PointerScores(lengths, queries, tokens, objects), backprop


def _sigmoid(x):
    return 1.0 / (1.0 + numpy.exp(-x))


def _predict_rows(model: Model, Xcat, lengths: List[int]) -> List[List[TripleRow]]:
    ops = model.ops
    a = model.attrs
    n_types = a["n_entity_types"]
    n_rel = model.get_dim("nO")
    threshold = float(a["threshold"])
    rel_thresholds = list(a["relation_thresholds"]) or [threshold] * n_rel
    max_len = int(a["max_span_length"])
    layer = model.layers[0]
    (token_logits,) = layer.predict((Xcat, None, None, None, "tokens"))
    token_prob = _sigmoid(ops.to_numpy(token_logits).astype("float64"))
    offsets = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype(int)
    doc_probs = [token_prob[offsets[d] : offsets[d + 1]] for d in range(len(lengths))]
    found = [decode_pointer_subjects(p, threshold, max_len, n_types) for p in doc_probs]
    # one conditional pass per distinct subject span (typed subjects of one span share it)
    spans = [sorted({(s0, s1) for s0, s1, _, _ in doc_found}) for doc_found in found]
    queries = make_queries(spans, lengths, a["object_reach"])
    rows: List[dict] = [{} for _ in lengths]
    if not len(queries):
        return [[] for _ in lengths]
    width = int((queries[:, 4] - queries[:, 3]).max())
    chunk = max(1, int(a["max_chunk_elements"]) // max(width * Xcat.shape[1], 1))
    for c in range(0, len(queries), chunk):
        part = queries[c : c + chunk]
        arrays = tuple(ops.asarray(x, dtype="i") for x in query_arrays(part, lengths, a["max_distance"]))
        (obj_logits,) = layer.predict((Xcat, *arrays, "objects"))
        obj_prob = _sigmoid(ops.to_numpy(obj_logits).astype("float64"))
        for q, (d, s0, s1, c0, c1) in enumerate(part.tolist()):
            objects = decode_pointer_objects(obj_prob[q, : c1 - c0], c0, doc_probs[d], rel_thresholds, max_len, n_types)
            for s_start, s_end, s_type, s_score in found[d]:
                if (s_start, s_end) != (s0, s1):
                    continue
                for r, o0, o1, o_type, o_score in objects:
                    key = (s0, s1, r, o0, o1)
                    score = min(s_score, o_score)
                    if score > rows[d].get(key, (-1.0,))[0]:
                        rows[d][key] = (score, s_type, o_type)
    return [sorted(k + v for k, v in doc_rows.items()) for doc_rows in rows]
