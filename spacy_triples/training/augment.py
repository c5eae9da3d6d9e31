"""Entity-mention swap augmentation: training sentences with their triple entities replaced by other
mentions of the same entity type seen in the training corpus (for untyped data: of the same role
in the same relation).

``[corpora.train] augmenter = {"@augmenters": "spacy_triples.entity_swap.v1", "level": 0.5}``: each
training example is, with probability ``level``, replaced by a variant in which each of its
triple entities is swapped (with probability ``swap_probability``, at least one per variant) for a
mention of the same type from the corpus, e.g. "Oswald shot Kennedy" -> "Ruby shot Kennedy". The
triples move with the text, so the relation stays where the sentence says it is. A model that
fits a small training set by remembering names is pushed to read the context instead.

Mentions are collected from the examples as the corpus streams past (so after the first epoch the
pool holds every training mention) and are never taken from dev or test data. Entities that overlap
another entity of the sentence (nested spans) stay as they are; examples without triples pass
through unchanged. Randomness comes from Python's ``random``, which ``spacy train`` seeds.
"""
import random
from typing import Callable, Dict, Iterator, List, Mapping, Sequence, Set, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..triples import TripleRow, set_triple_rows, triple_rows

# a mention: its words and the whitespace flags between them (the last flag is not used)
Mention = Tuple[Tuple[str, ...], Tuple[bool, ...]]


def entity_spans(rows: Sequence[TripleRow]) -> Dict[Tuple[int, int], str]:
    """The distinct (start, end) spans of the triples' subjects and objects, each with the kind of
    mention that may replace it: its entity type, or for an untyped span its first role
    ("subject of born_in", "object of born_in"), so untyped data swaps like for like too."""
    spans: Dict[Tuple[int, int], str] = {}
    for row in rows:
        for start, end, label, role in ((row.subject_start, row.subject_end, row.subject_type, "subject"),
                                        (row.object_start, row.object_end, row.object_type, "object")):
            kind = str(label) if label not in (None, "") else f"{role} of {row.relation}"
            spans.setdefault((start, end), kind)
    return spans


def _overlapped_by(span: Tuple[int, int], spans) -> List[Tuple[int, int]]:
    """The spans among ``spans`` other than ``span`` that share a token with it."""
    a, b = span
    return [(c, d) for c, d in spans if (c, d) != (a, b) and c < b and a < d]


def swappable_spans(spans: Mapping[Tuple[int, int], str]) -> List[Tuple[int, int]]:
    """The spans that overlap no other span (a nested or crossing span cannot be replaced without
    breaking the other one), in order."""
    ordered = sorted(spans)
    return [span for span in ordered if not _overlapped_by(span, ordered)]


def swap_mentions(doc: Doc, rows: Sequence[TripleRow], replacements: Mapping[Tuple[int, int], Mention]) -> Doc:
    """A new Doc with the words of each span in ``replacements`` (token offsets of ``doc``, end
    exclusive) replaced by the given mention, and ``rows`` moved to the new token offsets and
    stored as its triples. Pure: ``doc`` is not changed.

    Replaced spans must not overlap each other or any span of ``rows`` other than themselves
    (:func:`swappable_spans`); a replaced span keeps the whitespace after its last token.
    """
    triple_spans = entity_spans(rows)
    for (a, b), (words, spaces) in replacements.items():
        if not (0 <= a < b <= len(doc)):
            raise ValueError(f"Cannot replace the span ({a}, {b}) of a doc of {len(doc)} tokens.")
        if not words or len(words) != len(spaces):
            raise ValueError(f"A replacement mention needs words and one space flag per word, got {words!r}, {spaces!r}.")
        for c, d in _overlapped_by((a, b), triple_spans):
            raise ValueError(f"The replaced span ({a}, {b}) overlaps the triple span ({c}, {d}).")
    starts = {a: (b, mention) for (a, b), mention in replacements.items()}
    words: List[str] = []
    spaces: List[bool] = []
    new_index = [0] * (len(doc) + 1)  # old token offset -> new token offset (span boundaries)
    i = 0
    while i < len(doc):
        new_index[i] = len(words)
        if i in starts:
            end, (m_words, m_spaces) = starts[i]
            words.extend(m_words)
            spaces.extend(list(m_spaces[:-1]) + [bool(doc[end - 1].whitespace_)])
            for j in range(i + 1, end):
                new_index[j] = -1  # inside a replaced span: no span may start or end here
            i = end
            continue
        words.append(doc[i].text)
        spaces.append(bool(doc[i].whitespace_))
        i += 1
    new_index[len(doc)] = len(words)
    new = Doc(doc.vocab, words=words, spaces=spaces)
    set_triple_rows(new, [
        row._replace(subject_start=new_index[row.subject_start], subject_end=new_index[row.subject_end],
                     object_start=new_index[row.object_start], object_end=new_index[row.object_end])
        for row in rows
    ])
    return new


class EntitySwapAugmenter:
    """The callable behind ``spacy_triples.entity_swap.v1`` (``(nlp, example) -> examples``)."""

    def __init__(self, level: float, swap_probability: float = 0.5):
        for name, value in (("level", level), ("swap_probability", swap_probability)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"spacy_triples.entity_swap.v1: {name} must be between 0 and 1, got {value!r}.")
        self.level = level
        self.swap_probability = swap_probability
        self.pool: Dict[str, List[Mention]] = {}
        self._seen: Set[Tuple[str, Tuple[str, ...]]] = set()

    def add_mentions(self, doc: Doc, spans: Mapping[Tuple[int, int], str]) -> None:
        """Add the doc's entity mentions to the pool of their type (each text once per type)."""
        for (a, b), label in spans.items():
            words = tuple(t.text for t in doc[a:b])
            if (label, words) in self._seen:
                continue
            self._seen.add((label, words))
            self.pool.setdefault(label, []).append((words, tuple(bool(t.whitespace_) for t in doc[a:b])))

    def choose(self, doc: Doc, spans: Mapping[Tuple[int, int], str]) -> Dict[Tuple[int, int], Mention]:
        """The replacements for one variant: each swappable span, with ``swap_probability``, gets
        a different mention of its type; at least one span is swapped when any can be."""
        options = {}
        for a, b in swappable_spans(spans):
            words = tuple(t.text for t in doc[a:b])
            others = [m for m in self.pool.get(spans[(a, b)], []) if m[0] != words]
            if others:
                options[(a, b)] = others
        if not options:
            return {}
        chosen = [span for span in options if random.random() < self.swap_probability]
        if not chosen:
            chosen = [random.choice(sorted(options))]
        return {span: random.choice(options[span]) for span in chosen}

    def __call__(self, nlp: Language, example: Example) -> Iterator[Example]:
        ref = example.reference
        rows = triple_rows(ref)
        if not rows:
            yield example
            return
        spans = entity_spans(rows)
        self.add_mentions(ref, spans)
        if random.random() >= self.level:
            yield example
            return
        replacements = self.choose(ref, spans)
        if not replacements:
            yield example
            return
        new_ref = swap_mentions(ref, rows, replacements)
        if ref.has_unknown_spaces:
            predicted = Doc(nlp.vocab, words=[t.text for t in new_ref], spaces=[bool(t.whitespace_) for t in new_ref])
        else:
            predicted = nlp.make_doc(new_ref.text)
        yield Example(predicted, new_ref)


def create_entity_swap_augmenter(level: float = 0.5, swap_probability: float = 0.5) -> Callable[[Language, Example], Iterator[Example]]:
    """Registered as ``spacy_triples.entity_swap.v1``.

    level: the share of training examples replaced by a variant with swapped entity mentions.
    swap_probability: in a variant, the chance each swappable entity is swapped (at least one is).
    """
    return EntitySwapAugmenter(level, swap_probability)

