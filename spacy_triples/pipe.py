"""The ``triple_extractor`` component.

The pipe knows no head: it builds :class:`~spacy_triples.heads.HeadSettings` from its ``cfg``,
aligns the gold once per batch, and calls the :class:`~spacy_triples.heads.TripleHead` that the
model's builder attached (``inputs``, ``get_loss``, ``decode``, ``unlearnable``).
"""
import hashlib
import warnings
from collections import Counter
from itertools import islice
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import filter_spans
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from .gold import GOLD_ENTITIES_KEY, AlignedGold, align_gold, align_mentions, scan_corpus
from .heads import HeadSettings, TripleHead, get_triple_head
from .safe_io import write_bytes, write_text
from .schema import filter_by_schema, load_relation_schema
from .training.memory import after_prediction_batch
from .triples import (DEFAULT_ENTITY_LABEL, TRIPLES_ATTR, TripleRow, install_extensions, limit_relations_per_pair,
                      set_triple_rows)

DEFAULT_SPANS_KEY = "triple_entities"
# bumped when a saved component can no longer be read by older code
FORMAT_VERSION = 1

default_model_config = """
[model]
@architectures = "spacy_triples.GlobalPointer.v1"
head_size = 64
dropout = 0.1
window_size = 128
window_stride = 64
relation_rope = true
mixed_precision = false

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 96
rows = [5000, 1000, 2500, 1000]
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
include_static_vectors = false

[model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = ${model.tok2vec.embed.width}
window_size = 1
maxout_pieces = 3
depth = 4
"""
DEFAULT_MODEL = Config().from_str(default_model_config)["model"]


@Language.factory(
    "triple_extractor",
    assigns=[f"doc._.{TRIPLES_ATTR}", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "threshold": 0.5,
        "thresholds": {},
        "max_span_length": 24,
        "spans_key": DEFAULT_SPANS_KEY,
        "typed_entities": None,
        "set_ents": False,
        "schema": None,
        "head_learn_rate_scale": 1.0,
        "max_batch_items": 1024,
        "max_relations_per_pair": 0,
        "scorer": {"@scorers": "spacy_triples.triple_scorer.v1"},
    },
    # spacy train logs the keys whose weight is not None: six triple columns; the rest are in
    # the scores (spacy evaluate, spacy-triples evaluate)
    default_score_weights={
        "triples_f": 1.0,
        "triples_p": 0.0,
        "triples_r": 0.0,
        "triples_strict_f": 0.0,
        "triples_text_f": 0.0,
        "triple_ents_f": 0.0,
        "triples_strict_p": None,
        "triples_strict_r": None,
        "triples_text_p": None,
        "triples_text_r": None,
        "triple_ents_p": None,
        "triple_ents_r": None,
    },
)
def make_triple_extractor(
    nlp: Language,
    name: str,
    model: Model,
    threshold: float,
    thresholds: Dict[str, float],
    max_span_length: int,
    spans_key: str,
    typed_entities: Optional[bool],
    set_ents: bool,
    schema: Optional[Any],
    head_learn_rate_scale: float,
    max_batch_items: int,
    max_relations_per_pair: int,
    scorer: Optional[Callable],
) -> "TripleExtractor":
    """Create a TripleExtractor: joint subject/object/relation extraction into doc._.triples.

    threshold: probability that each part of a triple (both spans, head and tail links) must pass.
    thresholds: per-relation overrides of ``threshold`` ({label: probability}); see
        ``spacy-triples tune-thresholds``.
    max_span_length: longest subject or object span, in tokens.
    spans_key: doc.spans key that receives the predicted entity spans (subjects and objects).
    typed_entities: predict entity types (one subject and one object pointer per type, types taken
        from the gold spans' labels). None: on when the training data has typed entities.
    set_ents: also write the typed entity spans to doc.ents (overlapping spans: the longest wins;
        entities set before, e.g. by an NER, are kept where they overlap no predicted span).
    schema: relation schema (a file path, DuIE or 'rel: [subj types] -> [obj types]' lines, or a
        dict): decoding keeps only triples whose entity types it allows. None: no constraint.
    head_learn_rate_scale: the head's parameters are updated with the optimizer's learning rate
        times this (its schedule included); the tok2vec inside the model, and an upstream
        transformer or tok2vec that the model listens to, keep the optimizer's own rate. A freshly
        initialised head next to a pretrained encoder learns best at a higher rate than the
        encoder's fine-tuning rate (see the README's accuracy table).
    max_batch_items: prediction only (``nlp.pipe``, evaluation, extract, serve): each batch is
        sorted by length and run through the model in sub-batches of at most this many padded
        tokens (docs x the longest doc's tokens), as spacy-transformers does for its encoder, so
        short docs are not padded to the batch's longest one. The head's pair scores grow with the
        square of that padding. Docs come out in their input order; training batches are unchanged.
    max_relations_per_pair: decoding keeps at most this many relations for one (subject span,
        object span) pair, the highest-scoring ones; 0 keeps all. Data with one relation per pair
        (WebNLG: 99% of its triples) gains precision from 1 (docs/scores.md); saved with the pipeline
        and changeable after training, like ``threshold``.
    """
    return TripleExtractor(
        nlp.vocab,
        model,
        name,
        threshold=threshold,
        thresholds=thresholds,
        max_span_length=max_span_length,
        spans_key=spans_key,
        typed_entities=typed_entities,
        set_ents=set_ents,
        schema=schema,
        head_learn_rate_scale=head_learn_rate_scale,
        max_batch_items=max_batch_items,
        max_relations_per_pair=max_relations_per_pair,
        scorer=scorer,
    )


def validate_cfg(cfg: Dict[str, Any], where: str) -> None:
    """Raise a clear error for a setting in ``cfg`` that would silently predict nothing or crash
    later. The component's one check of its settings: ``__init__`` runs it on the factory's
    arguments, the load path (``from_disk``, ``from_bytes``) on the cfg it read. ``cfg`` is not
    changed."""
    def fail(message: str):
        raise ValueError(f"triple_extractor ({where}): {message}")

    def probability(value) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 < float(value) < 1.0

    _check_label_list(cfg.get("labels", []), "labels", where)
    _check_label_list(cfg.get("entity_labels") or [], "entity_labels", where)
    threshold, thresholds = cfg.get("threshold"), cfg.get("thresholds") or {}
    if not probability(threshold):
        fail(f"threshold must be a number in (0, 1), got {threshold!r}.")
    if not isinstance(thresholds, dict):
        fail(f"thresholds must be a mapping {{relation: probability}}, got {thresholds!r}.")
    for label, value in thresholds.items():
        if not probability(value):
            fail(f"thresholds[{label!r}] must be a number in (0, 1), got {value!r}.")
    length = cfg.get("max_span_length")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        fail(f"max_span_length must be an integer >= 1, got {length!r}.")
    scale = cfg.get("head_learn_rate_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.0 < float(scale) < float("inf"):
        fail(f"head_learn_rate_scale must be a positive number, got {scale!r}.")
    listed = cfg.get("listed_entity_docs")
    if listed is not None and (isinstance(listed, bool) or not isinstance(listed, int) or listed < 0):
        fail(f"listed_entity_docs must be an integer >= 0 (set by initialize), got {listed!r}.")
    width = cfg.get("width")
    if width is not None and (isinstance(width, bool) or not isinstance(width, int) or width < 1):
        fail(f"width must be a positive integer, got {width!r}.")
    limit = cfg.get("max_relations_per_pair", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        fail(f"max_relations_per_pair must be a whole number >= 0 (0: no limit), got {limit!r}.")


def check_max_batch_items(value: Any) -> int:
    """``value`` if it is a whole number >= 1, else a ValueError that says where to set it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"triple_extractor: max_batch_items must be a whole number >= 1 (padded tokens per "
                         f"prediction sub-batch, e.g. 1024), got {value!r}. Set "
                         "[components.triple_extractor] max_batch_items in the config.")
    return value


def length_sub_batches(lengths: Sequence[int], max_items: int) -> List[List[int]]:
    """Indices into ``lengths`` grouped into sub-batches by length: sorted shortest first (equal
    lengths keep their order), a sub-batch grows while its size times its longest length stays
    within ``max_items``; one item longer than that is a sub-batch of its own. Every index comes
    out exactly once. Empty docs (length 0) count as length 1."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: List[List[int]] = []
    batch: List[int] = []
    for i in order:
        length = max(int(lengths[i]), 1)
        if batch and (len(batch) + 1) * length > max_items:
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def _check_label_list(value: Any, what: str, where: str) -> List[str]:
    """``value`` as a list, if it is a list of non-empty strings (labels in cfg or given to
    ``initialize``)."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(
            f"triple_extractor ({where}): {what} must be a list of non-empty strings, got {value!r}."
        )
    return list(value)


def _check_format_version(version: Any, name: str, where: Any) -> None:
    """A saved cfg's ``format_version``: newer than this code reads is an error."""
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"Cannot load the '{name}' component from {where}: it was saved in format "
            f"{version} by a newer spacy-triples, this one reads format {FORMAT_VERSION}. "
            "Upgrade spacy-triples (pip install -U spacy-triples)."
        )


def _saved_cfg_with_defaults(saved: Dict[str, Any], defaults: Dict[str, Any]) -> Dict[str, Any]:
    """A cfg read from a saved pipeline, made whole: the keys a pipeline saved by an older version
    lacks (``head_learn_rate_scale``, ``entity_labels``, ...) come from ``defaults`` (the cfg
    ``__init__`` built from the config), and thresholds are rounded to 6 decimals, since srsly's
    JSON reader is not exact for some (0.95 -> 0.9500000000000001). ``saved`` holds no
    ``format_version`` or ``model_sha256`` (they are not settings)."""
    cfg = dict(defaults, **saved)
    if isinstance(cfg.get("threshold"), float):
        cfg["threshold"] = round(cfg["threshold"], 6)
    if isinstance(cfg.get("thresholds"), dict):
        cfg["thresholds"] = {k: round(v, 6) if isinstance(v, float) else v for k, v in cfg["thresholds"].items()}
    return cfg


class _ScaledRate:
    """An optimizer seen through ``lr_scale``: every update uses ``scale`` times its learning rate.
    thinc's ``Model.finish_update`` (and its shims') call it as they call the optimizer; its state
    (moments, schedule, averages) stays the optimizer's."""

    def __init__(self, optimizer: Optimizer, scale: float):
        self.optimizer = optimizer
        self.scale = scale

    def __call__(self, key, weights, gradient, *, lr_scale: float = 1.0):
        return self.optimizer(key, weights, gradient, lr_scale=lr_scale * self.scale)


def _accumulate_gradient(nlp: Language) -> int:
    """``training.accumulate_gradient`` of ``nlp``'s config (1 when the config has none)."""
    training = nlp.config.get("training") or {}
    value = training.get("accumulate_gradient", 1)
    if isinstance(value, str) and "${" in value:
        value = nlp.config.interpolate()["training"]["accumulate_gradient"]
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"training.accumulate_gradient must be a whole number >= 1, got {value!r}: fix [training] in the config."
        )
    return value


class TripleExtractor(TrainablePipe):
    """Predict (subject span, relation, object span, score) triples into ``doc._.triples``."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "triple_extractor",
        *,
        threshold: float = 0.5,
        thresholds: Optional[Dict[str, float]] = None,
        max_span_length: int = 24,
        spans_key: str = DEFAULT_SPANS_KEY,
        typed_entities: Optional[bool] = None,
        set_ents: bool = False,
        schema: Optional[Any] = None,
        head_learn_rate_scale: float = 1.0,
        max_batch_items: int = 1024,
        max_relations_per_pair: int = 0,
        scorer: Optional[Callable] = None,
    ) -> None:
        install_extensions()
        cfg: Dict[str, Any] = {
            "labels": [],
            "threshold": threshold,
            "thresholds": dict(thresholds) if isinstance(thresholds, Mapping) else thresholds or {},
            "max_span_length": max_span_length,
            "spans_key": spans_key,
            "typed_entities": typed_entities,
            "entity_labels": [],
            "set_ents": set_ents,
            "schema": {},
            "width": None,
            "head_learn_rate_scale": head_learn_rate_scale,
            "max_relations_per_pair": max_relations_per_pair,
        }
        validate_cfg(cfg, "config")
        get_triple_head(model)  # a clear error now for a model that is not a triple head
        cfg["thresholds"] = {k: float(v) for k, v in cfg["thresholds"].items()}
        cfg["head_learn_rate_scale"] = float(head_learn_rate_scale)
        # a schema file is read at initialize() and stored here, so a saved pipeline needs no file
        cfg["schema"] = load_relation_schema(schema) if isinstance(schema, dict) else {}
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self._schema_source = schema
        # multiplies the loss and its gradient in update(): 1 / training.accumulate_gradient, read
        # by initialize(nlp=...), so that the sub-batches of one step add up to the batch's mean
        # gradient (the loss is a mean per batch) and grad_clip sees the same norms at any setting
        self.gradient_scale = 1.0
        self.cfg = cfg
        # a setting of prediction, not of the trained model: kept in the config, not in cfg
        self.max_batch_items = check_max_batch_items(max_batch_items)

    # ----------------------------------------------------------------- labels
    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def entity_labels(self) -> Tuple[str, ...]:
        """Entity types the pipe predicts (empty: untyped, spans are labelled ENTITY)."""
        return tuple(self.cfg.get("entity_labels") or [])

    @property
    def label_data(self) -> Dict[str, List[str]]:
        """Relation labels and entity types, for ``spacy init labels``; ``initialize(labels=...)``
        takes this back (or a plain list of relation labels)."""
        return {"relations": list(self.labels), "entity_types": list(self.entity_labels)}

    def add_label(self, label: str) -> int:
        """Add a relation label before initialize(); labels are kept by initialize()."""
        if not isinstance(label, str) or not label:
            raise ValueError(f"triple_extractor: a relation label must be a non-empty string, got {label!r}.")
        if label in self.labels:
            return 0
        if self.is_initialized:
            raise ValueError(
                f"Cannot add a relation label to the '{self.name}' component after it was initialized. "
                "Give all labels before initialize() (add_label or initialize(labels=...)), then "
                "initialize again to rebuild the model."
            )
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    @property
    def is_initialized(self) -> bool:
        return bool(self.head.layer.layers)

    @property
    def threshold(self) -> float:
        return self.cfg["threshold"]

    @property
    def max_span_length(self) -> int:
        return self.cfg["max_span_length"]

    @property
    def spans_key(self) -> str:
        return self.cfg["spans_key"]

    @property
    def head(self) -> TripleHead:
        """The head interface the model's builder attached."""
        return get_triple_head(self.model)

    def relation_thresholds(self) -> List[float]:
        """The threshold of each label, in label order (per-relation value, else the global one)."""
        overrides = self.cfg.get("thresholds") or {}
        return [float(overrides.get(label, self.threshold)) for label in self.labels]

    def settings(self) -> HeadSettings:
        """What the head needs from cfg, built now: changing cfg changes the next decision."""
        return HeadSettings(
            labels=self.labels,
            entity_labels=self.entity_labels,
            threshold=float(self.threshold),
            thresholds=tuple(self.relation_thresholds()),
            max_span_length=int(self.max_span_length),
            schema=self.cfg.get("schema") or {},
        )

    # ------------------------------------------------------------- prediction
    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Predict a stream of docs, ``batch_size`` at a time, each batch in length-sorted
        sub-batches of at most ``max_batch_items`` padded tokens (``length_sub_batches``). Yields the
        docs in their input order; errors go to the pipe's error handler, as in spaCy's pipes."""
        error_handler = self.get_error_handler()
        for docs in util.minibatch(stream, size=batch_size):
            docs = list(docs)
            try:
                for indices in length_sub_batches([len(doc) for doc in docs], self.max_batch_items):
                    sub_batch = [docs[i] for i in indices]
                    self.set_annotations(sub_batch, self.predict(sub_batch))
                after_prediction_batch()  # a no-op unless a training callback asked for it
                yield from docs
            except Exception as e:
                error_handler(self.name, self, docs, e)

    def predict(self, docs: Iterable[Doc]):
        """Run the model over a batch of docs; returns the head's outputs (no side effects)."""
        docs = list(docs)
        if not self.is_initialized:
            raise ValueError(
                f"The '{self.name}' component is not initialized: call nlp.initialize() with training "
                "examples (or labels) first, or load a trained pipeline with spacy.load()."
            )
        return self.model.predict((docs, self.head.inputs(docs, None, self.settings())))

    def set_annotations(self, docs: Iterable[Doc], outputs) -> None:
        """Decode the outputs, then write doc._.triples and the spans to doc.spans[spans_key]."""
        docs = list(docs)
        settings = self.settings()
        rows = self.head.decode(outputs, settings)
        types = settings.entity_labels or (DEFAULT_ENTITY_LABEL,)
        rows = filter_by_schema(rows, settings.schema, settings.labels, types)
        limit = self.cfg.get("max_relations_per_pair", 0)
        for doc, doc_rows in zip(docs, rows):
            doc_rows = limit_relations_per_pair(doc_rows, limit)
            labelled = [r._replace(relation=settings.labels[r.relation], subject_type=types[r.subject_type],
                                   object_type=types[r.object_type], score=float(r.score)) for r in doc_rows]
            set_triple_rows(doc, labelled)
            spans = sorted({(r.subject_start, r.subject_end, r.subject_type) for r in labelled}
                           | {(r.object_start, r.object_end, r.object_type) for r in labelled})
            span_objs = [Span(doc, a, b, label=label) for a, b, label in spans]
            doc.spans[self.spans_key] = SpanGroup(doc, name=self.spans_key, spans=span_objs)
            if self.cfg.get("set_ents") and self.entity_labels:
                doc.ents = _merge_ents(filter_spans(span_objs), doc.ents)

    # --------------------------------------------------------------- training
    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """One forward and backward pass of the model over the batch (listeners rely on it)."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "TripleExtractor.update")
        self._require_labels()
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        set_dropout_rate(self.model, drop)
        settings = self.settings()
        gold = self._align(examples, settings)
        outputs, backprop = self.model.begin_update((docs, self.head.inputs(docs, gold, settings)))
        loss, d_outputs = self.head.get_loss(outputs, gold, settings, self.model.ops)
        if self.gradient_scale != 1.0:
            loss *= self.gradient_scale
            d_outputs = self.head.scale_gradient(d_outputs, self.gradient_scale)
        backprop(d_outputs)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the weights: thinc's ``finish_update`` on the model's two refs, the head's
        (``output_layer``) at ``head_learn_rate_scale`` times the optimizer's rate."""
        scale = float(self.cfg.get("head_learn_rate_scale", 1.0))
        if scale == 1.0 or not self.model.has_ref("output_layer"):
            self.model.finish_update(sgd)
            return
        # build_triple_model's model is its two refs and holds no weights of its own; an upstream
        # tok2vec or transformer that the tok2vec ref listens to is updated by its own component
        self.model.get_ref("tok2vec").finish_update(sgd)
        self.model.get_ref("output_layer").finish_update(_ScaledRate(sgd, scale))

    def get_loss(self, examples: Iterable[Example], outputs) -> Tuple[float, Any]:
        """The head's loss and its gradient for the model's training outputs on ``examples``."""
        settings = self.settings()
        return self.head.get_loss(outputs, self._align(list(examples), settings), settings, self.model.ops)

    def _align(self, examples: List[Example], settings: HeadSettings) -> List[Optional[List[TripleRow]]]:
        gold = [align_gold(eg, settings.labels, settings.entity_labels) for eg in examples]
        if not self.head.learns_mentions:
            return gold
        return [None if rows is None else AlignedGold(rows, align_mentions(eg, settings.entity_labels))
                for eg, rows in zip(examples, gold)]

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[Sequence[str], Dict[str, Sequence[str]]]] = None,
    ) -> None:
        """Take relation labels (and entity types) from ``labels``, from add_label() and from the
        gold triples, read in one pass over the corpus; then build the model. Can be called again
        to re-initialize.

        labels: a list of relation labels, or the ``label_data`` dict ``{"relations": [...],
            "entity_types": [...]}`` (what ``spacy init labels`` writes).
        """
        validate_get_examples(get_examples, "TripleExtractor.initialize")
        if nlp is not None:
            # The one read of nlp.config["training"]. With accumulate_gradient = n, spacy train calls
            # update() on n sub-batches and finish_update() once, so their gradients add up; the
            # head's loss is a mean per batch (spaCy's own components sum theirs), so each is scaled
            # by 1/n to give the whole batch's mean. update() cannot tell how many sub-batches make
            # a step, and initialize() is the only method that is handed nlp.
            self.gradient_scale = 1.0 / _accumulate_gradient(nlp)
        given_types = None
        if isinstance(labels, dict):
            unknown = set(labels) - {"relations", "entity_types"}
            if unknown or "relations" not in labels:
                raise ValueError(
                    f"triple_extractor: labels given as a dict need the keys 'relations' (and optionally "
                    f"'entity_types'), got {sorted(labels)}."
                )
            given_types = _check_label_list(labels.get("entity_types") or [], "entity_types", "initialize")
            labels = labels["relations"]
        if labels is not None:
            labels = _check_label_list(labels, "labels", "initialize")
        self.cfg["schema"] = load_relation_schema(self._schema_source)
        settings = self.settings()
        scan = scan_corpus(get_examples(), labels, lambda row: self.head.unlearnable(row, settings))
        if labels is not None:
            new_labels = list(dict.fromkeys(labels))
        else:  # labels given with add_label() first, then the new ones of the corpus
            new_labels = list(self.labels) + [label for label in scan.relations if label not in self.labels]
        self.cfg["labels"] = new_labels
        for label in new_labels:
            self.vocab.strings.add(label)
        self._require_labels()
        typed = self.cfg.get("typed_entities")
        found_types = list(given_types) if given_types is not None else list(scan.entity_types)
        if typed and not found_types:
            raise ValueError(
                f"The '{self.name}' component has typed_entities = true, but no gold subject or object "
                "span has a label. Give the spans entity types (Span(..., label=...)) or set "
                "typed_entities = false."
            )
        self.cfg["entity_labels"] = found_types if typed or typed is None else []
        for label in self.entity_labels:
            self.vocab.strings.add(label)
        self.cfg["listed_entity_docs"] = scan.listed_entity_docs
        if self.head.learns_mentions and not scan.listed_entity_docs:
            warnings.warn(
                f"[{self.name}] the head learns every listed entity (mention_weight above 0), but no training doc "
                f"lists its entities in doc.spans[{GOLD_ENTITIES_KEY!r}]: the mention maps learn nothing and "
                "mention_decode is not applied. Set mention_weight = 0 and mention_decode = 0 for this data, "
                "or convert it with its entity lists.")
        self.head.use_listed_entities(scan.listed_entity_docs > 0)
        settings = self.settings()
        self.head.set_output_size(len(settings.labels), settings.n_types)
        sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=(sample, self.head.inputs(sample, None, settings)))
        self.cfg["width"] = self.head.layer.get_dim("nI")
        if scan.audit:
            detail = "; ".join(f"{reason}: {n}" for reason, n in sorted(scan.audit.items()))
            warnings.warn(f"[{self.name}] some gold triples cannot be trained on as given: {detail}. "
                          "Fix the data, or raise max_span_length / window_size / object_reach.")

    def audit_gold(self, examples: Iterable[Example]) -> Counter:
        """Count gold triples that training will skip or cannot learn, by reason (pure)."""
        settings = self.settings()
        return scan_corpus(examples, self.labels, lambda row: self.head.unlearnable(row, settings)).audit

    def _require_labels(self) -> None:
        if not self.labels:
            raise ValueError(
                f"The '{self.name}' component has no relation labels. Give it training examples whose "
                "reference docs carry doc._.triples, or pass labels to initialize() "
                f"([initialize.components.{self.name}.labels] in the config)."
            )

    # ---------------------------------------------------------- serialization
    def _load_cfg(self, saved: Any, where: Any) -> Optional[str]:
        """Take the cfg read from ``where`` (a file, or "bytes"): its format version is checked, the
        keys an older save lacks are filled in (``_saved_cfg_with_defaults``), and the result is
        validated before it replaces ``self.cfg``. Returns the model checksum it records, if any."""
        if not isinstance(saved, dict):
            raise ValueError(f"Cannot load the '{self.name}' component: the cfg in {where} must hold a JSON "
                             f"object, got {type(saved).__name__}.")
        saved = dict(saved)
        _check_format_version(saved.pop("format_version", FORMAT_VERSION), self.name, where)
        expected_hash = saved.pop("model_sha256", None)
        cfg = _saved_cfg_with_defaults(saved, self.cfg)
        validate_cfg(cfg, f"cfg in {where}")
        self.cfg = cfg
        return expected_hash

    def _build_for_load(self) -> None:
        """Build the PyTorch head from cfg so that stored weights can be loaded into it."""
        if not self.labels or self.cfg.get("width") is None:
            return
        head = self.head
        # None: saved before the count was kept; the mention maps are read as the config says
        head.use_listed_entities(self.cfg.get("listed_entity_docs") != 0)
        head.set_output_size(len(self.labels), max(len(self.entity_labels), 1))
        head.layer.set_dim("nI", self.cfg["width"], force=True)
        head.layer.initialize()

    def to_bytes(self, *, exclude=tuple()) -> bytes:
        """cfg (with the format version), vocab and model, as to_disk writes them."""
        self._validate_serialization_attrs()
        msg: Dict[str, bytes] = {}
        if "cfg" not in exclude:
            msg["cfg"] = srsly.json_dumps(dict(self.cfg, format_version=FORMAT_VERSION))
        if "vocab" not in exclude:
            msg["vocab"] = self.vocab.to_bytes(exclude=exclude)
        if "model" not in exclude:
            msg["model"] = self.model.to_bytes()
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes, *, exclude=tuple()) -> "TripleExtractor":
        self._validate_serialization_attrs()
        msg = srsly.msgpack_loads(bytes_data)
        if "cfg" in msg and "cfg" not in exclude:
            self._load_cfg(srsly.json_loads(msg["cfg"]), "bytes")
        if "vocab" in msg and "vocab" not in exclude:
            self.vocab.from_bytes(msg["vocab"], exclude=exclude)
        if "model" in msg and "model" not in exclude:
            self._build_for_load()
            self.model.from_bytes(msg["model"])
        return self

    def to_disk(self, path, *, exclude=tuple()) -> None:
        """Write cfg, vocab and model. The model and cfg files are written through temporary files
        (``safe_io``), and cfg records the model's SHA-256, so a save interrupted midway cannot load
        as a mix of two models."""
        path = util.ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        cfg = dict(self.cfg, format_version=FORMAT_VERSION)
        if "model" not in exclude:
            data = self.model.to_bytes()
            cfg["model_sha256"] = hashlib.sha256(data).hexdigest()
            write_bytes(path / "model", data)
        if "vocab" not in exclude:
            self.vocab.to_disk(path / "vocab", exclude=exclude)
        if "cfg" not in exclude:
            write_text(path / "cfg", srsly.json_dumps(cfg, indent=2))  # as srsly.write_json writes it

    def from_disk(self, path, *, exclude=tuple()) -> "TripleExtractor":
        self._validate_serialization_attrs()
        path = util.ensure_path(path)
        expected_hash = None
        cfg_path = path / "cfg"
        if "cfg" not in exclude and cfg_path.exists():
            try:
                loaded = srsly.read_json(cfg_path)
            except ValueError as err:
                raise ValueError(
                    f"Cannot load the '{self.name}' component: {cfg_path} is not valid JSON ({err}). "
                    "Was it edited by hand or truncated? Restore it or save the pipeline again."
                ) from err
            expected_hash = self._load_cfg(loaded, cfg_path)
        if "vocab" not in exclude and (path / "vocab").exists():
            self.vocab.from_disk(path / "vocab", exclude=exclude)
        if "model" not in exclude:
            model_path = path / "model"
            if not model_path.exists():
                raise ValueError(
                    f"Cannot load the '{self.name}' component: {model_path} is missing. "
                    "Save the pipeline again with nlp.to_disk()."
                )
            data = model_path.read_bytes()
            if expected_hash is not None and hashlib.sha256(data).hexdigest() != expected_hash:
                raise ValueError(
                    f"Cannot load the '{self.name}' component: {model_path} is not the model that "
                    f"{cfg_path} was saved with (checksum mismatch). The save was interrupted or "
                    "the files were mixed from two saves; save the pipeline again."
                )
            self._build_for_load()
            try:
                self.model.from_bytes(data)
            except (ValueError, KeyError, EOFError) as err:
                raise ValueError(
                    f"Cannot load the '{self.name}' component from {model_path}: the file does not "
                    f"match the model built from its config ({err}). Was it truncated, or saved by a "
                    "different version or config? Retrain or save it again."
                ) from err
        return self


def _merge_ents(predicted: List[Span], existing: Sequence[Span]) -> List[Span]:
    """The predicted entity spans plus the existing ones (e.g. from an NER) that overlap none."""
    taken = set()
    for span in predicted:
        taken.update(range(span.start, span.end))
    kept = [span for span in existing if not taken.intersection(range(span.start, span.end))]
    return sorted(predicted + kept, key=lambda span: (span.start, span.end))
