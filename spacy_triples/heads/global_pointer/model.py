"""``spacy_triples.GlobalPointer.v1`` and ``.v2``: tok2vec -> bounded windows -> GPLinker pair scores.

The thinc side of the GlobalPointer-linking head: the registered builder, the output layer's
forward pass (windows of token vectors in, dense logits in training or sparse candidates at
prediction out) and :class:`GlobalPointerHead`, its implementation of the head interface.
"""
import math
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from ...glue import head_dims, no_gradient, torch_inputs, tuple_outputs, wrap_torch
from ...losses import MCE_REDUCTIONS, logit, multilabel_categorical_crossentropy, sparse_multilabel_categorical_crossentropy
from ...triples import TripleRow
from .. import GoldRows, HeadSettings, TripleHead, build_triple_model
from .pytorch import CONTEXTS, LINK_SCORES, RELATION_MAPS, GlobalPointerLinker
from .util import make_masks, make_mention_targets, rows_from_links, target_indices
from .windows import plan_windows, window_token_index


class PairScores(NamedTuple):
    """Training output: dense logits per window; ``windows`` rows are (doc, start, end)."""

    windows: numpy.ndarray
    entity: Any  # (N, 2T (+ T), W, W): subjects of each entity type, then objects (then mentions)
    head: Any  # (N, R, W, W)
    tail: Any  # (N, R, W, W)


class PairCandidates(NamedTuple):
    """Prediction output: the windows and the linked triples above the candidate threshold.

    ``index`` rows are (window, subject first, subject last, subject type, relation, object first,
    object last, object type), window-relative; ``logit`` is each triple's smallest pointer logit.
    """

    windows: numpy.ndarray
    n_docs: int
    index: numpy.ndarray
    logit: numpy.ndarray


class CandidateSettings(NamedTuple):
    """Prediction input: keep pair scores above ``cut`` (a logit) with spans of at most
    ``max_span_length`` tokens."""

    cut: float
    max_span_length: int


def build_global_pointer(
    tok2vec: Model[List[Doc], List[Floats2d]],
    head_size: int = 64,
    dropout: float = 0.1,
    window_size: int = 128,
    window_stride: int = 64,
    relation_rope: bool = True,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[dict] = None,
) -> Model:
    """Registered as ``spacy_triples.GlobalPointer.v1``.

    tok2vec: any layer producing one vector per token (CNN Tok2Vec, Tok2VecListener,
        TransformerListener); available as the ``tok2vec`` ref for ``replace_listeners``.
    head_size: width of the shared query/key projections of each pointer.
    window_size, window_stride: token pairs are scored within windows of this many tokens,
        overlapping by (window_size - window_stride), so memory is linear in doc length.
    relation_rope: rotary relative positions in the relation head/tail pointers too (GPLinker
        has them only in the entity pointer); needed by encoders without positions, like the CNN.
    mixed_precision, grad_scaler_config: passed to thinc's ``PyTorchWrapper_v2`` for GPU AMP.

    Its pointers start at logit 0, where about half of all spans pass the 0.5 threshold: an
    untrained v1 head proposes (a capped number of) junk triples. v2 starts below it.
    """
    return build_global_pointer_v2(tok2vec, head_size, dropout, window_size, window_stride, relation_rope,
                                   entity_prior=0.0, relation_prior=0.0, mixed_precision=mixed_precision,
                                   grad_scaler_config=grad_scaler_config)


def build_global_pointer_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    head_size: int = 64,
    dropout: float = 0.1,
    window_size: int = 128,
    window_stride: int = 64,
    relation_rope: bool = True,
    entity_prior: float = -8.0,
    relation_prior: float = -8.0,
    mixed_precision: bool = False,
    grad_scaler_config: Optional[dict] = None,
    link_score: str = "min",
    mention_weight: float = 0.0,
    mention_decode: float = 0.0,
    map_reduction: str = "mean",
    relation_maps: str = "shared",
    entity_weight: float = 1.0,
    context: str = "none",
) -> Model:
    """Registered as ``spacy_triples.GlobalPointer.v2``: v1 with a prior on its pointers.

    entity_prior, relation_prior: a logit added to the initial scores of the entity pointer and
        of the relation head and tail pointers (to their output bias). Negative values make a fresh
        head score every span and pair below the threshold (sigmoid(-8) = 0.0003), so an untrained pipeline proposes nothing
        and decodes in no time, and the loss starts from "no triple anywhere", the right answer
        for almost every pair, rather than from a coin toss (the prior-probability initialisation
        of focal-loss detectors). 0.0 and 0.0 build v1's initialisation.
    link_score: how a triple's score is made from its four: ``"min"`` (GPLinker: the subject, the
        object, the head link and the tail link must each pass the threshold), ``"mean"`` (the
        head and tail links are averaged, then both entities must pass) or ``"max"`` (either link
        passing is enough; both entities must still pass). Prediction only: training
        is the same. On CoNLL04 with MiniLM, ``"mean"`` found more triples (README, Benchmarks).
    mention_weight: above 0, the entity pointer gets one more map per entity type, "a mention of
        type t", trained on every gold entity a doc lists (relation or not: ``doc.spans["entities"]``,
        which the CoNLL04/ADE/SciERC converters fill), its loss times this weight added to the
        head's. Decoding reads the subject and object maps alone unless mention_decode is above 0. Docs without
        listed entities add nothing to it. 0.0 (the default) builds the head without it.
    mention_decode: at prediction, the mention maps' share a (0 to 1) in the subject and object
        scores: the logit of "subject of type t" read as (1 - a) x its own + a x "a mention of
        type t" (the same for objects), so the map trained on every listed entity backs the role
        maps, which see only entities in a triple. Needs mention_weight above 0. Prediction only:
        training is the same, and it can be tried on a trained pipeline
        (``benchmarks/link_score.py --option mention_decode``). 0.0 (the default) reads the role
        maps alone.
    map_reduction: how the loss of the pointer maps (one per relation in the head and tail
        pointers, one per role in the entity pointer) is reduced: ``"mean"`` (the default) averages
        over every (window, map), so with R relations each relation map's gradient, and the
        relation pointers' share in the encoder's, is 1/R of a map's; ``"window_sum"`` (GPLinker)
        sums the maps of a window and averages over windows, so relation maps keep their weight
        however many relations there are (WebNLG: 216). Training only.
    relation_maps: how the relation head and tail pointers score a token pair. ``"shared"`` (the
        default, GPLinker's Efficient GlobalPointer): one query-key product for every relation,
        which a relation shifts only through its per-token biases. ``"diagonal"``: each relation
        also rescales that product per dimension (a diagonal bilinear form per relation, starting
        at the shared one), so it can link other token pairs than its neighbours; R x head_size / 2
        more weights.
    entity_weight: the entity pointer's loss (its subject and object maps) times this weight in
        the head's loss, beside the head and tail pointers' (1 each). Above 1 the encoder leans
        towards finding the entities, which is where a WebNLG model loses most of its triples
        (docs/webnlg.md); the mention maps keep ``mention_weight``. Training only. 1.0 (the
        default) is the loss every trained config used.
    context: ``"none"`` (the default): the pointers read the tok2vec's vectors as they are.
        ``"bilstm"``: a residual BiLSTM (width / 2 units each way, its output projection starting
        at zero, learning at the head's rate) runs over each window first, so features that the
        tok2vec adds per token (``spacy_triples.TokenFeatures.v1``'s shape and cased text) reach
        their neighbours before the pointers read them.
    Other arguments as in v1.
    """
    # validates the window settings now rather than at the first batch
    plan_windows([], window_size, window_stride)
    for name, value in (("entity_prior", entity_prior), ("relation_prior", relation_prior)):
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"GlobalPointer {name} must be a finite number (a logit, e.g. -8.0), got {value!r}")
    if link_score not in LINK_SCORES:
        raise ValueError(f"GlobalPointer link_score must be one of {list(LINK_SCORES)}, got {link_score!r}")
    if not (isinstance(mention_weight, (int, float)) and math.isfinite(mention_weight) and mention_weight >= 0):
        raise ValueError(f"GlobalPointer mention_weight must be a number >= 0 (0 turns it off), got {mention_weight!r}")
    if not (isinstance(mention_decode, (int, float)) and 0 <= mention_decode <= 1):
        raise ValueError(f"GlobalPointer mention_decode must be a number from 0 to 1 (0 turns it off), got {mention_decode!r}")
    if not (isinstance(entity_weight, (int, float)) and math.isfinite(entity_weight) and entity_weight > 0):
        raise ValueError(f"GlobalPointer entity_weight must be a number above 0 (1.0: the entity loss as it is), "
                         f"got {entity_weight!r}")
    if map_reduction not in MCE_REDUCTIONS:
        raise ValueError(f"GlobalPointer map_reduction must be one of {list(MCE_REDUCTIONS)}, got {map_reduction!r}")
    if relation_maps not in RELATION_MAPS:
        raise ValueError(f"GlobalPointer relation_maps must be one of {list(RELATION_MAPS)}, got {relation_maps!r}")
    if context not in CONTEXTS:
        raise ValueError(f"GlobalPointer context must be one of {list(CONTEXTS)}, got {context!r}")
    if relation_maps == "diagonal" and head_size % 2:
        raise ValueError(f"GlobalPointer relation_maps = 'diagonal' needs an even head_size, got {head_size}")
    if mention_decode > 0 and mention_weight == 0:
        raise ValueError("GlobalPointer mention_decode above 0 reads the mention maps, which only mention_weight above 0 "
                         "trains: set mention_weight (e.g. 0.5) or mention_decode = 0.")
    output_layer = Model(
        "global_pointer_linker",
        _output_forward,
        init=_output_init,
        dims={"nI": None, "nO": None},
        attrs={
            "head_size": head_size,
            "dropout": dropout,
            "window_size": window_size,
            "window_stride": window_stride,
            "relation_rope": relation_rope,
            "entity_prior": float(entity_prior),
            "relation_prior": float(relation_prior),
            "link_score": link_score,
            "mention_weight": float(mention_weight),
            "mention_decode": float(mention_decode),
            "map_reduction": map_reduction,
            "relation_maps": relation_maps,
            "entity_weight": float(entity_weight),
            "context": context,
            "mixed_precision": mixed_precision,
            "grad_scaler_config": dict(grad_scaler_config or {}),
            "n_entity_types": 1,
        },
    )
    return build_triple_model("triple_global_pointer", tok2vec, output_layer, GlobalPointerHead)


class GlobalPointerHead(TripleHead):
    """GPLinker: entity, head and tail pointers over token pairs, trained with the multilabel
    categorical cross-entropy."""

    name = "global_pointer"

    @property
    def learns_mentions(self) -> bool:
        return self.layer.attrs.get("mention_weight", 0.0) > 0

    def use_listed_entities(self, listed: bool) -> None:
        # mention maps trained on no listed entity stay near their prior (-8 with v2): read at
        # mention_decode = 0.5 they would pull every subject and object score down by about 4 logits
        self.layer.attrs["mentions_listed"] = bool(listed)

    def inputs(self, docs: List[Doc], gold: Optional[List[GoldRows]], settings: HeadSettings):
        if gold is not None:
            return None
        return CandidateSettings(logit(settings.lowest_threshold), settings.max_span_length)

    def get_loss(self, outputs: PairScores, gold: List[GoldRows], settings: HeadSettings, ops) -> Tuple[float, PairScores]:
        windows = outputs.windows
        if len(windows) == 0:
            return 0.0, outputs
        width = int(outputs.entity.shape[-1])
        n_types = settings.n_types
        ent_t, head_t, tail_t = target_indices(windows, width, len(settings.labels), gold, n_types)
        ent_mask, pair_mask = make_masks(windows, width, settings.max_span_length, gold)
        roles = outputs.entity[:, : 2 * n_types]
        reduction = self.layer.attrs.get("map_reduction", "mean")
        total = 0.0
        grads = []
        entity_weight = self.layer.attrs.get("entity_weight", 1.0)
        for s, t, m, w in ((roles, ent_t, ent_mask, entity_weight), (outputs.head, head_t, pair_mask, 1.0),
                           (outputs.tail, tail_t, pair_mask, 1.0)):
            loss, grad = sparse_multilabel_categorical_crossentropy(s, ops.xp.asarray(t), ops.asarray(m), reduction)
            total += w * loss
            grads.append(grad if w == 1.0 else w * grad)
        if self.learns_mentions:
            weight = self.layer.attrs["mention_weight"]
            target, mask = make_mention_targets(windows, width, gold, n_types, settings.max_span_length)
            loss, grad = multilabel_categorical_crossentropy(outputs.entity[:, 2 * n_types :], ops.asarray(target),
                                                             ops.asarray(mask), reduction)
            total += weight * loss
            grads[0] = ops.xp.concatenate([grads[0], weight * grad], axis=1)
        return total, PairScores(windows, *grads)

    def scale_gradient(self, d_outputs: PairScores, factor: float) -> PairScores:
        return d_outputs._replace(entity=d_outputs.entity * factor, head=d_outputs.head * factor,
                                  tail=d_outputs.tail * factor)

    def decode(self, outputs: PairCandidates, settings: HeadSettings) -> List[List[TripleRow]]:
        per_relation = any(t != settings.threshold for t in settings.thresholds)
        return rows_from_links(
            outputs.windows,
            outputs.n_docs,
            outputs.index,
            outputs.logit,
            list(settings.thresholds) if per_relation else settings.threshold,
        )

    def unlearnable(self, row: TripleRow, settings: HeadSettings) -> Optional[str]:
        reason = super().unlearnable(row, settings)
        window = self.layer.attrs["window_size"]
        if reason is None and max(row.subject_end, row.object_end) - min(row.subject_start, row.object_start) > window:
            reason = f"subject and object farther apart than window_size={window}"
        return reason


def _output_init(model: Model, X: Optional[Tuple[List[Floats2d], Any]] = None, Y=None) -> None:
    """Build the PyTorch module once the input width (nI) and relation count (nO) are known."""
    n_in, n_out = head_dims(model, None if X is None else X[0], "GlobalPointer head")
    a = model.attrs
    module = GlobalPointerLinker(
        n_in, n_out, a["head_size"], a["dropout"], a["relation_rope"], n_entity_types=a["n_entity_types"],
        entity_prior=a.get("entity_prior", 0.0), relation_prior=a.get("relation_prior", 0.0),
        link_score=a.get("link_score", "min"), mention_types=a["n_entity_types"] if a.get("mention_weight", 0.0) > 0 else 0,
        mention_decode=a.get("mention_decode", 0.0) if a.get("mentions_listed", True) else 0.0,
        relation_maps=a.get("relation_maps", "shared"), context=a.get("context", "none"),
    )
    model.layers.clear()
    model.layers.append(wrap_torch(module, _convert_inputs, tuple_outputs, a["mixed_precision"], a["grad_scaler_config"]))


def _convert_inputs(model: Model, X: Tuple, is_train: bool):
    Xpad, lengths, candidates = X
    kwargs = {} if candidates is None else {"threshold": candidates.cut, "max_span_length": candidates.max_span_length}
    return torch_inputs(model, (Xpad, lengths), is_train, **kwargs)


def _output_forward(model: Model, X: Tuple[List[Floats2d], Optional[CandidateSettings]], is_train: bool):
    Xs, candidates = X
    if not is_train and candidates is None:
        candidates = CandidateSettings(0.0, model.attrs["window_size"])
    ops = model.ops
    lengths = [int(x.shape[0]) for x in Xs]
    windows = plan_windows(lengths, model.attrs["window_size"], model.attrs["window_stride"])
    total = sum(lengths)
    n_in = model.get_dim("nI")
    if not model.layers:
        raise ValueError("The GlobalPointer head is not initialized: call nlp.initialize() first.")
    if len(windows) == 0:
        if is_train:
            zeros = ops.alloc4f(0, 1, 0, 0)
            out = PairScores(windows, zeros, zeros, zeros)
        else:
            out = PairCandidates(windows, len(Xs), numpy.zeros((0, 8), dtype="i"), numpy.zeros((0,), dtype="f"))
        return out, no_gradient(model, lengths, n_in)
    index = window_token_index(windows, lengths, pad_index=total)
    Xcat = ops.xp.concatenate([ops.flatten(Xs), ops.alloc2f(1, n_in)])
    index_xp = ops.asarray(index, dtype="i")
    Xpad = Xcat[index_xp]
    window_lengths = windows[:, 2] - windows[:, 1]
    Y, backprop_torch = model.layers[0]((Xpad, window_lengths, None if is_train else candidates), is_train)
    if not is_train:
        index, logits = Y
        out = PairCandidates(windows, len(Xs), index.astype("i"), logits.astype("f"))
        return out, no_gradient(model, lengths, n_in)

    def backprop(dY: PairScores) -> List[Floats2d]:
        dXpad = backprop_torch((dY.entity, dY.head, dY.tail))
        dXcat = ops.alloc2f(total + 1, n_in)
        flat_index = ops.xp.ascontiguousarray(index_xp.reshape(-1))
        ops.scatter_add(dXcat, flat_index, ops.xp.ascontiguousarray(dXpad.reshape((-1, n_in))))
        return ops.unflatten(dXcat[:total], ops.asarray1i(lengths))

    return PairScores(windows, *Y), backprop
