"""The head interface: what the ``triple_extractor`` pipe needs from a triple head.

A head's registered builder returns a thinc model whose input is ``(docs, head_inputs)`` (as
spancat's model takes ``(docs, spans)``) and attaches a :class:`TripleHead` to it with
:func:`build_triple_model`. The pipe only talks to that object:

- ``inputs(docs, gold, settings)``: everything the forward pass needs besides the docs (e.g. the
  subjects to condition on in training, the candidate threshold at prediction). ``gold`` is the
  aligned gold of each doc in training and None at prediction.
- ``get_loss(outputs, gold, settings, ops)`` -> ``(loss, d_outputs)``.
- ``scale_gradient(d_outputs, factor)`` -> ``d_outputs`` with every gradient array times
  ``factor`` (the pipe's ``gradient_scale``: ``1 / training.accumulate_gradient``).
- ``decode(outputs, settings)`` -> one list of :class:`~spacy_triples.triples.TripleRow` per doc
  (label indices, token offsets).
- ``unlearnable(row, settings)`` -> a reason, or None, for a gold row the head cannot learn.
- ``set_output_size(model, n_labels, n_types)``: size the output layer before it is built.
- ``learns_mentions``: True when the head also learns the gold entity mentions of a doc (every
  listed entity, in a relation or not); the pipe then hands it ``AlignedGold`` lists, whose
  ``mentions`` are the doc's aligned ``(start, end, type)`` mentions or None.

Settings are built by the pipe from its ``cfg`` on every call, so changing a threshold in
``pipe.cfg`` changes the next decision. A new head is new files: its builder, its module and its
helpers; the pipe does not change.
"""
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from spacy.tokens import Doc
from thinc.api import Model

from ..triples import TripleRow

HEAD_ATTR = "triple_head"
GoldRows = Optional[Sequence[TripleRow]]


class HeadSettings(NamedTuple):
    """The pipe's settings a head needs, built from ``pipe.cfg`` when needed."""

    labels: Tuple[str, ...]
    entity_labels: Tuple[str, ...]  # empty: untyped (one entity type, ENTITY)
    threshold: float
    thresholds: Tuple[float, ...]  # one per label (the per-relation override, else ``threshold``)
    max_span_length: int
    schema: Dict[str, Any]

    @property
    def n_types(self) -> int:
        return max(len(self.entity_labels), 1)

    @property
    def lowest_threshold(self) -> float:
        return min((self.threshold,) + tuple(self.thresholds))


class TripleHead:
    """Base class of the head interface (see the module docstring). ``layer`` is the thinc layer
    that holds the head's weights (the model's ``output_layer`` ref)."""

    name = "triple_head"

    def __init__(self, layer: Model):
        self.layer = layer

    @property
    def learns_mentions(self) -> bool:
        return False

    def use_listed_entities(self, listed: bool) -> None:
        """Whether the training docs list their entities (``doc.spans["entities"]``), which a head
        that ``learns_mentions`` learns from: without them its mention outputs learn nothing and
        must not be read at prediction. Called before the model is built (initialize and load)."""

    def set_output_size(self, n_labels: int, n_types: int) -> None:
        self.layer.set_dim("nO", n_labels, force=True)
        self.layer.attrs["n_entity_types"] = n_types

    def inputs(self, docs: List[Doc], gold: Optional[List[GoldRows]], settings: HeadSettings) -> Any:
        return None

    def get_loss(self, outputs: Any, gold: List[GoldRows], settings: HeadSettings, ops) -> Tuple[float, Any]:
        raise NotImplementedError

    def scale_gradient(self, d_outputs: Any, factor: float) -> Any:
        """``d_outputs`` with every gradient array multiplied by ``factor``. The pipe calls it only
        when its ``gradient_scale`` is not 1 (training with ``accumulate_gradient`` > 1)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement scale_gradient(), which training with "
            "training.accumulate_gradient > 1 needs: implement it, or set accumulate_gradient = 1."
        )

    def decode(self, outputs: Any, settings: HeadSettings) -> List[List[TripleRow]]:
        raise NotImplementedError

    def unlearnable(self, row: TripleRow, settings: HeadSettings) -> Optional[str]:
        if max(row.subject_end - row.subject_start, row.object_end - row.object_start) > settings.max_span_length:
            return f"span longer than max_span_length={settings.max_span_length}"
        return None


def get_triple_head(model: Model) -> TripleHead:
    head = model.attrs.get(HEAD_ATTR)
    if not isinstance(head, TripleHead):
        raise ValueError(
            f"The model '{model.name}' is not a triple head: triple_extractor needs a model built by a "
            "head architecture such as spacy_triples.GlobalPointer.v1 or spacy_triples.PointerHead.v1 "
            "(one whose builder attaches a TripleHead with spacy_triples.heads.build_triple_model)."
        )
    return head


def build_triple_model(name: str, tok2vec: Model, output_layer: Model, make_head: Callable[[Model], TripleHead]) -> Model:
    """tok2vec + output layer as one model over ``(docs, head_inputs)``, with its TripleHead attached.

    The output layer takes ``(token vectors, head_inputs)``. Refs: ``tok2vec`` (for
    ``replace_listeners`` and width lookups) and ``output_layer``.
    """
    # nI/nO are declared for models saved by spacy-triples 0.1 (a chain, whose dims were stored)
    model = Model(name, _forward, init=_init, layers=[tok2vec, output_layer], dims={"nI": None, "nO": None})
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    # not serialized (thinc skips attrs it cannot msgpack): the builder attaches it again on load
    model.attrs[HEAD_ATTR] = make_head(output_layer)
    return model


def _init(model: Model, X: Optional[Tuple[List[Doc], Any]] = None, Y=None) -> None:
    tok2vec, output_layer = model.layers
    if X is None:
        tok2vec.initialize()
        output_layer.initialize()
        return
    docs, extra = X
    tok2vec.initialize(X=docs)
    output_layer.initialize(X=(tok2vec.predict(docs), extra))


def _forward(model: Model, X: Tuple[List[Doc], Any], is_train: bool):
    tok2vec, output_layer = model.layers
    docs, extra = X
    tokvecs, backprop_tok2vec = tok2vec(docs, is_train)
    outputs, backprop_output = output_layer((tokvecs, extra), is_train)

    def backprop(d_outputs):
        return backprop_tok2vec(backprop_output(d_outputs))

    return outputs, backprop
