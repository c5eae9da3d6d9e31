"""The ``triple_extractor`` component."""
import hashlib
import os
import warnings
from collections import Counter
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.util import filter_spans
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

import numpy

from .decode import decode_triples, filter_by_schema, logit
from .losses import binary_crossentropy_with_logits, multilabel_categorical_crossentropy
from .models.pointer import PointerScores, PointerTriples
from .schema import load_relation_schema
from .targets import (
    make_masks,
    make_targets,
    pointer_object_targets,
    pointer_token_targets,
    sample_subjects,
    schema_object_mask,
)
from .triples import (
    DATA_ATTR,
    TRIPLES_ATTR,
    DEFAULT_ENTITY_LABEL,
    has_triples_annotation,
    install_extensions,
    set_triple_rows,
)

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
        "scorer": {"@scorers": "spacy_triples.triple_scorer.v1"},
    },
    default_score_weights={
        "triples_f": 1.0,
        "triples_p": 0.0,
        "triples_r": 0.0,
        "triples_strict_f": 0.0,
        "triples_strict_p": 0.0,
        "triples_strict_r": 0.0,
        "triple_ents_f": 0.0,
        "triple_ents_p": 0.0,
        "triple_ents_r": 0.0,
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
    set_ents: also write the typed entity spans to doc.ents (overlapping spans: the longest wins).
    schema: relation schema (a file path, DuIE or 'rel: [subj types] -> [obj types]' lines, or a
        dict): decoding keeps only triples whose entity types it allows. None: no constraint.
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
        scorer=scorer,
    )


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
        scorer: Optional[Callable] = None,
    ) -> None:
        install_extensions()
        thresholds = dict(thresholds or {})
        for name, value in [("threshold", threshold)] + [(f"thresholds[{k!r}]", v) for k, v in thresholds.items()]:
            if not 0.0 < value < 1.0:
                raise ValueError(f"triple_extractor: {name} must be in (0, 1), got {value}.")
        if max_span_length < 1:
            raise ValueError(f"triple_extractor: max_span_length must be >= 1, got {max_span_length}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self._schema_source = schema
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "threshold": threshold,
            "thresholds": {k: float(v) for k, v in thresholds.items()},
            "max_span_length": max_span_length,
            "spans_key": spans_key,
            "typed_entities": typed_entities,
            "entity_labels": [],
            "set_ents": set_ents,
            # a schema file is read at initialize() and stored here, so a saved pipeline needs no file
            "schema": load_relation_schema(schema) if isinstance(schema, dict) else {},
            "width": None,
        }
        self._sync_model_attrs()

    # ----------------------------------------------------------------- labels
    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        if not isinstance(label, str) or not label:
            raise ValueError(f"triple_extractor: a relation label must be a non-empty string, got {label!r}.")
        if label in self.labels:
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    @property
    def threshold(self) -> float:
        return self.cfg["threshold"]

    @property
    def max_span_length(self) -> int:
        return self.cfg["max_span_length"]

    @property
    def spans_key(self) -> str:
        return self.cfg["spans_key"]

    def relation_thresholds(self) -> List[float]:
        """The threshold of each label, in label order (per-relation value, else the global one)."""
        overrides = self.cfg.get("thresholds") or {}
        return [float(overrides.get(label, self.threshold)) for label in self.labels]

    @property
    def entity_labels(self) -> Tuple[str, ...]:
        """Entity types the pipe predicts (empty: untyped, spans are labelled ENTITY)."""
        return tuple(self.cfg.get("entity_labels") or [])

    def _sync_model_attrs(self) -> None:
        head = self.model.get_ref("head")
        head.attrs["n_entity_types"] = max(len(self.entity_labels), 1)
        head.attrs["candidate_threshold"] = logit(min([self.threshold] + self.relation_thresholds()))
        head.attrs["max_span_length"] = self.max_span_length
        head.attrs["threshold"] = float(self.threshold)
        head.attrs["relation_thresholds"] = self.relation_thresholds()

    # ------------------------------------------------------------- prediction
    def predict(self, docs: Iterable[Doc]):
        """Score token pairs for a batch of docs; returns sparse candidates (no side effects)."""
        docs = list(docs)
        if not self.model.get_ref("head").layers:
            raise ValueError(
                f"The '{self.name}' component is not initialized: call nlp.initialize() with training "
                "examples (or labels) first, or load a trained pipeline with spacy.load()."
            )
        return self.model.predict(docs)

    def set_annotations(self, docs: Iterable[Doc], scores) -> None:
        """Write decoded triples to doc._.triples and their spans to doc.spans[spans_key]."""
        docs = list(docs)
        if isinstance(scores, PointerTriples):
            rows = scores.rows
        else:
            rows = self._decode_pairs(docs, scores)
        self._write(docs, rows)

    def _decode_pairs(self, docs: List[Doc], scores) -> list:
        return decode_triples(
            scores.windows,
            len(docs),
            scores.entity,
            scores.head,
            scores.tail,
            self.relation_thresholds() if self.cfg.get("thresholds") else self.threshold,
            self.max_span_length,
            n_types=max(len(self.entity_labels), 1),
        )

    def _write(self, docs: List[Doc], rows: list) -> None:
        labels = self.labels
        types = self.entity_labels or (DEFAULT_ENTITY_LABEL,)
        rows = filter_by_schema(rows, self.cfg.get("schema") or {}, labels, types)
        for doc, doc_rows in zip(docs, rows):
            set_triple_rows(
                doc,
                [
                    [s0, s1, types[st], labels[r], o0, o1, types[ot], float(score)]
                    for s0, s1, r, o0, o1, score, st, ot in doc_rows
                ],
            )
            spans = sorted({(s0, s1, types[st]) for s0, s1, _, _, _, _, st, _ in doc_rows}
                           | {(o0, o1, types[ot]) for _, _, _, o0, o1, _, _, ot in doc_rows})
            span_objs = [Span(doc, a, b, label=label) for a, b, label in spans]
            doc.spans[self.spans_key] = SpanGroup(doc, name=self.spans_key, spans=span_objs)
            if self.cfg.get("set_ents") and self.entity_labels:
                doc.ents = filter_spans(span_objs)

    # --------------------------------------------------------------- training
    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
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
        head = self.model.get_ref("head")
        if "train_subjects" in head.attrs:
            # the pointer head conditions on one gold subject per doc, drawn here (see
            # targets.sample_subjects); numpy's global RNG is the one spaCy's training seeds
            head.attrs["train_subjects"] = sample_subjects([self._aligned_gold(eg) for eg in examples], numpy.random)
        try:
            scores, backprop = self.model.begin_update(docs)
        finally:
            if "train_subjects" in head.attrs:
                head.attrs["train_subjects"] = None
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores) -> Tuple[float, Any]:
        """Multilabel categorical cross-entropy over entity, head and tail pointers."""
        examples = list(examples)
        gold = [self._aligned_gold(eg) for eg in examples]
        if isinstance(scores, PointerScores):
            return self._pointer_loss(gold, scores)
        windows = scores.windows
        ops = self.model.ops
        if len(windows) == 0:
            return 0.0, scores
        width = int(scores.entity.shape[-1])
        ent_t, head_t, tail_t = make_targets(windows, width, len(self.labels), gold, max(len(self.entity_labels), 1))
        ent_mask, pair_mask = make_masks(windows, width, self.max_span_length, gold)
        total = 0.0
        grads = []
        for s, t, m in ((scores.entity, ent_t, ent_mask), (scores.head, head_t, pair_mask), (scores.tail, tail_t, pair_mask)):
            loss, grad = multilabel_categorical_crossentropy(s, ops.asarray(t), ops.asarray(m))
            total += loss
            grads.append(grad)
        return total, type(scores)(windows, *grads)

    def _pointer_loss(self, gold: list, scores: PointerScores) -> Tuple[float, PointerScores]:
        """Sigmoid cross-entropy of the token pointers plus that of the conditional object pointers."""
        ops = self.model.ops
        n_types = max(len(self.entity_labels), 1)
        tok_t, tok_m = pointer_token_targets(scores.lengths, gold, n_types)
        loss_tok, d_tok = binary_crossentropy_with_logits(scores.tokens, ops.asarray(tok_t), ops.asarray(tok_m))
        obj_t, obj_m = pointer_object_targets(scores.queries, int(scores.objects.shape[1]), len(self.labels), gold)
        # with a schema, relations that cannot take the sampled subject's type are left out of the loss
        obj_m &= schema_object_mask(scores.queries, gold, self.labels, self.entity_labels, self.cfg.get("schema") or {})
        loss_obj, d_obj = binary_crossentropy_with_logits(scores.objects, ops.asarray(obj_t), ops.asarray(obj_m))
        return loss_tok + loss_obj, PointerScores(scores.lengths, scores.queries, d_tok, d_obj)

    def _aligned_gold(self, eg: Example) -> Optional[List[Tuple[int, int, int, int, int]]]:
        """Gold triples of eg.reference in eg.predicted token offsets; None masks the doc.

        A doc whose reference has no triples annotation, or with a span that does not align to
        the predicted tokenization, is masked (it teaches nothing) rather than guessed.
        Triples with a relation the pipe does not know are left out.
        """
        ref = eg.reference
        if not has_triples_annotation(ref):
            return None
        label_index = {label: i for i, label in enumerate(self.labels)}
        type_index = {label: i for i, label in enumerate(self.entity_labels)}
        aligned: Dict[Tuple[int, int], Optional[Tuple[int, int]]] = {}

        def align(start: int, end: int) -> Optional[Tuple[int, int]]:
            if (start, end) not in aligned:
                spans = eg.get_aligned_spans_y2x([ref[start:end]], allow_overlap=True)
                aligned[(start, end)] = (spans[0].start, spans[0].end) if spans else None
            return aligned[(start, end)]

        rows = []
        for s0, s1, s_label, rel, o0, o1, o_label, _ in ref._.get(DATA_ATTR):
            if rel not in label_index:
                continue  # counted by audit_gold at initialize
            if not (0 <= s0 < s1 <= len(ref) and 0 <= o0 < o1 <= len(ref)):
                continue  # a span outside its doc: counted by audit_gold at initialize
            subj, obj = align(s0, s1), align(o0, o1)
            if subj is None or obj is None:
                return None
            if type_index and (s_label not in type_index or o_label not in type_index):
                return None  # an untyped or unknown-typed span cannot teach the typed heads
            row = (subj[0], subj[1], label_index[rel], obj[0], obj[1])
            if type_index:
                row += (type_index[s_label], type_index[o_label])
            rows.append(row)
        return rows

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Take relation labels from ``labels`` or from the gold triples, then build the model."""
        validate_examples(get_examples(), "TripleExtractor.initialize")
        self.cfg["labels"] = []
        if labels is not None:
            for label in labels:
                self.add_label(label)
        else:
            found = {row[3] for eg in get_examples() for row in eg.reference._.get(DATA_ATTR) or []}
            for label in sorted(found):
                self.add_label(label)
        self._require_labels()
        self.cfg["schema"] = load_relation_schema(self._schema_source)
        typed = self.cfg.get("typed_entities")
        found_types = sorted({label for eg in get_examples() for row in eg.reference._.get(DATA_ATTR) or []
                              for label in (row[2], row[6]) if label})
        if typed and not found_types:
            raise ValueError(
                f"The '{self.name}' component has typed_entities = true, but no gold subject or object "
                "span has a label. Give the spans entity types (Span(..., label=...)) or set "
                "typed_entities = false."
            )
        self.cfg["entity_labels"] = found_types if typed or typed is None else []
        for label in self.entity_labels:
            self.vocab.strings.add(label)
        self._sync_model_attrs()
        sample = [eg.predicted for eg in islice(get_examples(), 10)]
        head = self.model.get_ref("head")
        head.set_dim("nO", len(self.labels), force=True)
        self.model.initialize(X=sample)
        self.cfg["width"] = head.get_dim("nI")
        self._sync_model_attrs()
        self._warn_about_gold(get_examples)

    def audit_gold(self, examples: Iterable[Example]) -> Counter:
        """Count gold triples that training will skip or cannot learn, by reason (pure)."""
        counts: Counter = Counter()
        head = self.model.get_ref("head")
        reach = head.attrs.get("object_reach")
        window = head.attrs.get("window_size")
        for eg in examples:
            ref = eg.reference
            rows = ref._.get(DATA_ATTR) or []
            seen = set()
            for row in rows:
                s0, s1, _, rel, o0, o1 = row[:6]
                if not (0 <= s0 < s1 <= len(ref) and 0 <= o0 < o1 <= len(ref)):
                    counts["span outside its doc (skipped)"] += 1
                    continue
                if rel not in self.labels:
                    counts[f"relation not among the labels (skipped): {rel}"] += 1
                    continue
                key = (s0, s1, rel, o0, o1)
                if key in seen:
                    counts["duplicate gold triple (counted once)"] += 1
                seen.add(key)
                if max(s1 - s0, o1 - o0) > self.max_span_length:
                    counts[f"span longer than max_span_length={self.max_span_length} (unlearnable)"] += 1
                elif window is not None and max(s1, o1) - min(s0, o0) > window:
                    counts[f"subject and object farther apart than window_size={window} (unlearnable)"] += 1
                elif reach is not None and (o0 < s0 - reach or o1 > s1 + reach):
                    counts[f"object farther than object_reach={reach} from its subject (unlearnable)"] += 1
        return counts

    def _warn_about_gold(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        counts = self.audit_gold(get_examples())
        if counts:
            detail = "; ".join(f"{reason}: {n}" for reason, n in sorted(counts.items()))
            warnings.warn(f"[{self.name}] some gold triples cannot be trained on as given: {detail}. "
                          "Fix the data, or raise max_span_length / window_size / object_reach.")

    def _require_labels(self) -> None:
        if not self.labels:
            raise ValueError(
                f"The '{self.name}' component has no relation labels. Give it training examples whose "
                "reference docs carry doc._.triples, or pass labels to initialize() "
                f"([initialize.components.{self.name}.labels] in the config)."
            )

    def _allow_extra_label(self) -> None:
        head = self.model.get_ref("head")
        if head.layers:
            raise ValueError(
                f"Cannot add a relation label to the '{self.name}' component after it was initialized. "
                "Give all labels before initialize() (or to initialize(labels=...))."
            )

    # ---------------------------------------------------------- serialization
    def _build_for_load(self) -> None:
        """Build the PyTorch head from cfg so that stored weights can be loaded into it."""
        # srsly's JSON reader is not exact for some decimals (0.95 -> 0.9500000000000001)
        self.cfg["threshold"] = round(float(self.cfg["threshold"]), 6)
        self.cfg["thresholds"] = {k: round(float(v), 6) for k, v in (self.cfg.get("thresholds") or {}).items()}
        self._sync_model_attrs()
        if not self.labels or self.cfg.get("width") is None:
            return
        head = self.model.get_ref("head")
        head.set_dim("nO", len(self.labels), force=True)
        head.set_dim("nI", self.cfg["width"], force=True)
        head.initialize()

    def to_disk(self, path, *, exclude=tuple()) -> None:
        """Write cfg, vocab and model. The model file is written to a temporary name and renamed,
        and cfg records its SHA-256, so a save interrupted midway cannot load as a mix of two models."""
        path = util.ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        cfg = dict(self.cfg, format_version=FORMAT_VERSION)
        if "model" not in exclude:
            data = self.model.to_bytes()
            cfg["model_sha256"] = hashlib.sha256(data).hexdigest()
            tmp = path / "model.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, path / "model")
        if "vocab" not in exclude:
            self.vocab.to_disk(path / "vocab", exclude=exclude)
        if "cfg" not in exclude:
            tmp = path / "cfg.tmp"
            srsly.write_json(tmp, cfg)
            os.replace(tmp, path / "cfg")

    def _check_saved_cfg(self, where) -> None:
        version = int(self.cfg.pop("format_version", FORMAT_VERSION) or FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ValueError(
                f"Cannot load the '{self.name}' component from {where}: it was saved in format "
                f"{version} by a newer spacy-triples, this one reads format {FORMAT_VERSION}. "
                "Upgrade spacy-triples (pip install -U spacy-triples)."
            )

    def from_bytes(self, bytes_data: bytes, *, exclude=tuple()) -> "TripleExtractor":
        self._validate_serialization_attrs()
        msg = srsly.msgpack_loads(bytes_data)
        if "cfg" in msg and "cfg" not in exclude:
            self.cfg.update(srsly.json_loads(msg["cfg"]))
            self.cfg.pop("model_sha256", None)
            self._check_saved_cfg("bytes")
        if "vocab" in msg and "vocab" not in exclude:
            self.vocab.from_bytes(msg["vocab"], exclude=exclude)
        if "model" in msg and "model" not in exclude:
            self._build_for_load()
            self.model.from_bytes(msg["model"])
        return self

    def from_disk(self, path, *, exclude=tuple()) -> "TripleExtractor":
        self._validate_serialization_attrs()
        path = util.ensure_path(path)
        expected_hash = None
        if "cfg" not in exclude and (path / "cfg").exists():
            self.cfg.update(srsly.read_json(path / "cfg"))
            expected_hash = self.cfg.pop("model_sha256", None)
            self._check_saved_cfg(path / "cfg")
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
                    f"{path / 'cfg'} was saved with (checksum mismatch). The save was interrupted or "
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
