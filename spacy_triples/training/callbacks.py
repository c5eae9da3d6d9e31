"""``spacy_triples.chain_callbacks.v1``: run several pipeline callbacks in one config slot.

spaCy gives ``[initialize.after_init]`` (and ``[initialize.before_init]``,
``[nlp.after_pipeline_creation]``, ...) room for one callback. ``configs/gp_transformer.cfg`` already
uses ``after_init`` to freeze MiniLM's word embeddings, so turning on weight averages
(``spacy_triples.torch_averages.v1``) there needs both. Each callback is a sub-section under ``*``
and runs in the order the config lists them::

    [initialize.after_init]
    @callbacks = "spacy_triples.chain_callbacks.v1"

    [initialize.after_init.*.freeze]
    @callbacks = "spacy_triples.freeze_parameters.v1"
    patterns = ["word_embeddings"]

    [initialize.after_init.*.averages]
    @callbacks = "spacy_triples.torch_averages.v1"
"""
from typing import Callable

from spacy.language import Language

NAME = "spacy_triples.chain_callbacks.v1"


def make_chain_callbacks(*callbacks: Callable[[Language], Language]) -> Callable[[Language], Language]:
    """Registered as ``spacy_triples.chain_callbacks.v1``: one callback that passes ``nlp`` through
    ``callbacks`` in order, each getting what the one before returned."""
    if not callbacks:
        raise ValueError(f"{NAME}: no callbacks to chain. List each under a sub-section of '*', e.g. "
                         "[initialize.after_init.*.freeze] with its own @callbacks line.")
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise ValueError(f"{NAME}: callback {i} is {callback!r}, not a function; give each sub-section "
                             "an @callbacks line naming a registered callback.")

    def chained(nlp: Language) -> Language:
        for i, callback in enumerate(callbacks):
            result = callback(nlp)
            if not isinstance(result, Language):
                raise ValueError(f"{NAME}: callback {i} ({getattr(callback, '__qualname__', callback)!r}) "
                                 f"returned {type(result).__name__}, not the pipeline; a pipeline callback "
                                 "must return the nlp object it was given.")
            nlp = result
        return nlp

    return chained
