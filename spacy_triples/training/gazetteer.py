"""``spacy_triples.triple_entity_patterns.v1``: every entity named in a corpus's triples, as phrase
patterns for spaCy's ``entity_ruler``, so a pipeline can mark the names it has seen in training.

Where names recur from training to use (WebNLG: 97.5% of the test entity mentions are training
entities), a model that does not propose a name it knows loses the triple. With an ``entity_ruler``
before the transformer that marks those names (``doc.ents``) and ``ENT_IOB`` among the token
features the head reads (``spacy_triples.TokenFeatures.v1``), the head sees "this span was an entity
in training" and learns how far to trust it (in training every listed name is marked, and so is
every other occurrence of the same words, entity or not)::

    [nlp]
    pipeline = ["entity_ruler", "transformer", "triple_extractor"]

    [components.entity_ruler]
    factory = "entity_ruler"
    phrase_matcher_attr = "ORTH"

    [initialize.components.entity_ruler.patterns]
    @readers = "spacy_triples.triple_entity_patterns.v1"
    path = ${paths.train}

    [training]
    annotating_components = ["entity_ruler"]

Only the training file's triples are read (never dev or test); the patterns are saved with the
pipeline by the ruler. ``doc.ents`` of the trained pipeline then holds the ruler's matches.
"""
from pathlib import Path
from typing import Dict, List, Union

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ..triples import triple_rows


def read_triple_entity_patterns(path: Union[str, Path], label: str = "SEEN", min_chars: int = 2,
                                max_words: int = 16) -> List[Dict[str, str]]:
    """Registered as ``spacy_triples.triple_entity_patterns.v1`` (a reader): the distinct texts of
    the subjects and objects of the triples in the ``.spacy`` file at ``path``, as entity_ruler
    phrase patterns ``{"label": label, "pattern": text}`` in the order first seen. Texts shorter
    than ``min_chars`` characters or longer than ``max_words`` tokens are left out (a one-letter
    name would mark every such letter)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"spacy_triples.triple_entity_patterns.v1: no .spacy file at {path}: give the training "
                         "corpus (e.g. path = ${paths.train}).")
    if not isinstance(label, str) or not label:
        raise ValueError(f"spacy_triples.triple_entity_patterns.v1: label must be a non-empty string, got {label!r}.")
    for name, value in (("min_chars", min_chars), ("max_words", max_words)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"spacy_triples.triple_entity_patterns.v1: {name} must be a whole number >= 1, "
                             f"got {value!r}.")
    seen: Dict[str, None] = {}
    for doc in DocBin().from_disk(path).get_docs(Vocab()):
        for row in triple_rows(doc) or []:
            for start, end in ((row.subject_start, row.subject_end), (row.object_start, row.object_end)):
                span = doc[start:end]
                if len(span) <= max_words and len(span.text) >= min_chars:
                    seen.setdefault(span.text, None)
    return [{"label": label, "pattern": text} for text in seen]
