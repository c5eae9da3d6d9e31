"""``spacy_triples.PointerHead.v1``: half-pointer, half-tagging (CasRel-style) triple head.

Subjects come from per-token start/end pointers; each subject conditions a small head that tags
object starts/ends per relation. The encoder runs once per batch: at inference the subject pass
and the conditional pass reuse the same token vectors, and the conditional pass is batched over
all subjects of all docs (the reference implementations re-run BERT once per subject).

The output layer's input is ``(token vectors, head inputs)``: in training the head inputs are the
gold subjects to condition on (``train_subjects`` per doc, see ``util.sample_subjects``); at prediction
they are the thresholds, since the subjects found by the first pass choose the second.
"""
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from ...glue import head_dims, no_gradient, torch_inputs, tuple_outputs, wrap_torch
from ...losses import binary_crossentropy_with_logits, sigmoid
from ...triples import TripleRow
from .. import GoldRows, HeadSettings, TripleHead, build_triple_model
from .pytorch import PointerTagger
from .util import (
    assemble_triples,
    decode_pointer_objects,
    decode_pointer_subjects,
    make_queries,
    pointer_object_targets,
    pointer_token_targets,
    query_arrays,
    sample_subjects,
)


class PointerScores(NamedTuple):
    """Training output. ``queries`` rows: (doc, s_start, s_end, slice_start, slice_end), one per
    conditional pass (each sampled subject of each doc)."""

    lengths: List[int]
    queries: numpy.ndarray
    tokens: Any  # (total tokens, 4T) logits
    objects: Any  # (K, S, 2R) logits


class PointerThresholds(NamedTuple):
    """Prediction input: subjects need ``subject`` on both pointers; object probabilities above
    ``lowest`` are handed to decoding; spans are at most ``max_span_length`` tokens."""

    subject: float
    lowest: float
    max_span_length: int


class PointerCandidates(NamedTuple):
    """Prediction output: token probabilities (total, 4T), the subjects found per doc
    ``(start, end, type, score)``, one query per distinct subject span, and the conditional
    pass's object probabilities above the lowest threshold as sparse ``(query, position, channel)``
    rows with their probabilities."""

    lengths: List[int]
    token_prob: numpy.ndarray
    subjects: List[List[Tuple[int, int, int, float]]]
    queries: numpy.ndarray
    object_index: numpy.ndarray
    object_prob: numpy.ndarray


def build_pointer_head(
    tok2vec: Model[List[Doc], List[Floats2d]],
    condition: str = "layernorm",
    dropout: float = 0.1,
    object_reach: int = 100,
    max_distance: int = 32,
    max_chunk_elements: int = 2**22,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[dict] = None,
    train_subjects: int = 1,
) -> Model:
    """Registered as ``spacy_triples.PointerHead.v1``.

    condition: "layernorm" (conditional layer norm on the subject's start and end vectors, as
        in bert4keras) or "add" (add their mean to every token, as in CasRel).
    object_reach: objects are searched within this many tokens either side of the subject, which
        bounds the cost per subject (linear time on long documents).
    max_distance: relative distances to the subject, clipped to +-max_distance, are embedded and
        added to the conditioned tokens (0: off, as in CasRel).
    max_chunk_elements: inference runs the conditional pass over chunks of subjects of at most
        this many (tokens x width) elements, bounding memory.
    train_subjects: how many gold subjects per doc the conditional head trains on in a step: 1
        samples one (CasRel), N samples up to N, 0 takes all. The encoder still runs once.
    """
    if condition not in ("layernorm", "add"):
        raise ValueError(f"spacy_triples.PointerHead.v1: condition must be 'layernorm' or 'add', got {condition!r}.")
    if isinstance(train_subjects, bool) or not isinstance(train_subjects, int) or train_subjects < 0:
        raise ValueError(
            f"spacy_triples.PointerHead.v1: train_subjects must be an integer >= 0 (1: one sampled subject "
            f"per doc, as in CasRel; 0: all), got {train_subjects!r}."
        )
    output_layer = Model(
        "pointer_tagger",
        _output_forward,
        init=_output_init,
        dims={"nI": None, "nO": None},
        attrs={
            "condition": condition,
            "dropout": dropout,
            "object_reach": object_reach,
            "max_distance": max_distance,
            "max_chunk_elements": max_chunk_elements,
            "mixed_precision": mixed_precision,
            "grad_scaler_config": dict(grad_scaler_config or {}),
            "n_entity_types": 1,
            "train_subjects": train_subjects,
        },
    )
    return build_triple_model("triple_pointer", tok2vec, output_layer, PointerHead)


class PointerHead(TripleHead):
    """CasRel-style: subject pointers, then object pointers per relation conditioned on a subject."""

    name = "pointer"

    def inputs(self, docs: List[Doc], gold: Optional[List[GoldRows]], settings: HeadSettings):
        if gold is None:
            return PointerThresholds(settings.threshold, settings.lowest_threshold, settings.max_span_length)
        # numpy's global RNG is the one spaCy's training seeds (fix_random_seed)
        return sample_subjects(gold, numpy.random, self.layer.attrs.get("train_subjects", 1))

    def get_loss(self, outputs: PointerScores, gold: List[GoldRows], settings: HeadSettings, ops) -> Tuple[float, PointerScores]:
        """Sigmoid cross-entropy of the token pointers plus that of the conditional object pointers."""
        tok_t, tok_m = pointer_token_targets(outputs.lengths, gold, settings.n_types)
        loss_tok, d_tok = binary_crossentropy_with_logits(outputs.tokens, ops.asarray(tok_t), ops.asarray(tok_m))
        obj_t, obj_m = pointer_object_targets(outputs.queries, int(outputs.objects.shape[1]), len(settings.labels), gold)
        # every relation trains on every conditional pass, the schema's impossible ones included:
        # leaving those out of the loss (d1b588e) cut DuIE dev F1 after 655 steps from 29.3 to 6.8
        # (8.0 with the mean over the same positions); the schema filters at decoding only
        loss_obj, d_obj = binary_crossentropy_with_logits(outputs.objects, ops.asarray(obj_t), ops.asarray(obj_m))
        return loss_tok + loss_obj, PointerScores(outputs.lengths, outputs.queries, d_tok, d_obj)

    def scale_gradient(self, d_outputs: PointerScores, factor: float) -> PointerScores:
        return d_outputs._replace(tokens=d_outputs.tokens * factor, objects=d_outputs.objects * factor)

    def decode(self, outputs: PointerCandidates, settings: HeadSettings) -> List[List[TripleRow]]:
        lengths = outputs.lengths
        n_rel = len(settings.labels)
        offsets = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype(int)
        objects: List[dict] = [{} for _ in lengths]
        by_query: dict = {}
        for (q, pos, channel), prob in zip(outputs.object_index.tolist(), outputs.object_prob.tolist()):
            by_query.setdefault(q, []).append((pos, channel, prob))
        for q, (d, s0, s1, c0, c1) in enumerate(outputs.queries.tolist()):
            entries = by_query.get(q, ())
            # only relations with both a start and an end above the lowest threshold can give an
            # object: decoding skips the rest (with hundreds of labels, nearly all of them)
            starts = {channel for _, channel, _ in entries if channel < n_rel}
            relations = sorted(starts & {channel - n_rel for _, channel, _ in entries if channel >= n_rel})
            if not relations:
                objects[d][(s0, s1)] = []
                continue
            dense = numpy.zeros((c1 - c0, 2 * n_rel), dtype="float64")
            for pos, channel, prob in entries:
                dense[pos, channel] = prob
            doc_prob = outputs.token_prob[offsets[d] : offsets[d + 1]]
            objects[d][(s0, s1)] = decode_pointer_objects(
                dense, c0, doc_prob, settings.thresholds, settings.max_span_length, settings.n_types, relations
            )
        return [assemble_triples(subjects, found) for subjects, found in zip(outputs.subjects, objects)]

    def unlearnable(self, row: TripleRow, settings: HeadSettings) -> Optional[str]:
        reason = super().unlearnable(row, settings)
        reach = self.layer.attrs["object_reach"]
        if reason is None and (row.object_start < row.subject_start - reach or row.object_end > row.subject_end + reach):
            reason = f"object farther than object_reach={reach} from its subject"
        return reason


def _output_init(model: Model, X: Optional[Tuple[List[Floats2d], Any]] = None, Y=None) -> None:
    n_in, n_out = head_dims(model, None if X is None else X[0], "pointer head")
    a = model.attrs
    module = PointerTagger(n_in, n_out, a["n_entity_types"], a["condition"], a["dropout"], a["max_distance"])
    model.layers.clear()
    model.layers.append(wrap_torch(module, _convert_inputs, tuple_outputs, a["mixed_precision"], a["grad_scaler_config"]))


def _convert_inputs(model: Model, X: Tuple, is_train: bool):
    Xcat, slice_index, cond_index, distance, mode = X
    return torch_inputs(model, (Xcat, slice_index, cond_index, distance), is_train, mode=mode)


def _output_forward(model: Model, X: Tuple[List[Floats2d], Any], is_train: bool):
    Xs, head_inputs = X
    ops = model.ops
    lengths = [int(x.shape[0]) for x in Xs]
    n_in = model.get_dim("nI")
    if not model.layers:
        raise ValueError("The pointer head is not initialized: call nlp.initialize() first.")
    if is_train:
        subjects = head_inputs if head_inputs is not None else [[] for _ in lengths]
        if len(subjects) != len(lengths):
            raise ValueError(f"PointerHead: sampled subjects for {len(subjects)} docs in a batch of {len(lengths)} docs.")
        return _train_forward(model, Xs, lengths, subjects)
    if head_inputs is None:
        head_inputs = PointerThresholds(0.5, 0.5, 24)
    return _predict_forward(model, Xs, lengths, head_inputs), no_gradient(model, lengths, n_in)


def _train_forward(model: Model, Xs: List[Floats2d], lengths: List[int], subjects: Sequence[Sequence[Tuple[int, int]]]):
    ops = model.ops
    total = sum(lengths)
    n_in = model.get_dim("nI")
    n_types = model.attrs["n_entity_types"]
    queries = make_queries(subjects, lengths, model.attrs["object_reach"])
    empty_objects = ops.alloc3f(0, 1, 2 * model.get_dim("nO"))
    if total == 0:
        out = PointerScores(lengths, queries, ops.alloc2f(0, 4 * n_types), empty_objects)
        return out, no_gradient(model, lengths, n_in)
    Xcat = ops.xp.concatenate([ops.flatten(Xs), ops.alloc2f(1, n_in)])
    layer = model.layers[0]
    if len(queries):
        index_arrays = query_arrays(queries, lengths, model.attrs["max_distance"])
        (tokens, objects), backprop_torch = layer((Xcat, *index_arrays, "both"), True)
    else:
        (tokens,), backprop_tokens = layer((Xcat, None, None, None, "tokens"), True)
        objects = empty_objects

        def backprop_torch(dY):
            return backprop_tokens(dY[:1])

    def backprop(dY: PointerScores) -> List[Floats2d]:
        dXcat = backprop_torch((dY.tokens, dY.objects))
        return ops.unflatten(dXcat[:total], ops.asarray1i(lengths))

    return PointerScores(lengths, queries, tokens, objects), backprop


def _predict_forward(model: Model, Xs: List[Floats2d], lengths: List[int], thresholds: PointerThresholds) -> PointerCandidates:
    ops = model.ops
    a = model.attrs
    n_types = a["n_entity_types"]
    n_in = model.get_dim("nI")
    no_objects = (numpy.zeros((0, 3), dtype="i"), numpy.zeros((0,), dtype="float64"))
    if sum(lengths) == 0:
        return PointerCandidates(lengths, numpy.zeros((0, 4 * n_types)), [[] for _ in lengths],
                                 numpy.zeros((0, 5), dtype="i"), *no_objects)
    Xcat = ops.xp.concatenate([ops.flatten(Xs), ops.alloc2f(1, n_in)])
    layer = model.layers[0]
    (token_logits,) = layer.predict((Xcat, None, None, None, "tokens"))
    token_prob = sigmoid(ops.to_numpy(token_logits))
    offsets = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype(int)
    subjects = [
        decode_pointer_subjects(token_prob[offsets[d] : offsets[d + 1]], thresholds.subject, thresholds.max_span_length, n_types)
        for d in range(len(lengths))
    ]
    # one conditional pass per distinct subject span (typed subjects of one span share it)
    spans = [sorted({(s0, s1) for s0, s1, _, _ in found}) for found in subjects]
    queries = make_queries(spans, lengths, a["object_reach"])
    if not len(queries):
        return PointerCandidates(lengths, token_prob, subjects, queries, *no_objects)
    width = int((queries[:, 4] - queries[:, 3]).max())
    chunk = max(1, int(a["max_chunk_elements"]) // max(width * n_in, 1))
    # a little below the threshold's logit: rounding cannot drop a hit, the exact test follows
    lowest = float(thresholds.lowest)
    lowest_logit = -numpy.inf if lowest <= 0 else numpy.inf if lowest >= 1 else float(numpy.log(lowest / (1 - lowest))) - 1e-3
    index_parts, prob_parts = [], []
    for c in range(0, len(queries), chunk):
        part = queries[c : c + chunk]
        (object_logits,) = layer.predict((Xcat, *query_arrays(part, lengths, a["max_distance"]), "objects"))
        object_logits = ops.to_numpy(object_logits)
        slice_lengths = part[:, 4] - part[:, 3]
        inside = numpy.arange(object_logits.shape[1])[None, :] < slice_lengths[:, None]
        # compare logits with the threshold's logit: the sigmoid is computed for the hits only
        # (K x S x 2R values per chunk, almost all far below any threshold)
        hits = (object_logits > lowest_logit) & inside[:, :, None]
        found = numpy.argwhere(hits)
        found[:, 0] += c
        prob = sigmoid(object_logits[hits])
        keep = prob > thresholds.lowest  # the exact test on probabilities, at the boundary too
        index_parts.append(found[keep].astype("i"))
        prob_parts.append(prob[keep])
    return PointerCandidates(lengths, token_prob, subjects, queries, numpy.concatenate(index_parts), numpy.concatenate(prob_parts))
