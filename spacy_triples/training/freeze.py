"""``spacy_triples.freeze_parameters.v1``: keep chosen PyTorch weights fixed while training.

Placed under ``[initialize.after_init]``, it turns off ``requires_grad`` for every parameter of the
pipeline's PyTorch models (spacy-transformers' transformer, the PyTorch heads) whose name contains
one of ``patterns``. PyTorch then computes no gradient for them and thinc's optimizer skips them
(``PyTorchShim.finish_update`` only updates parameters that have a gradient).

The use it was made for: MiniLM's word embeddings (``"word_embeddings"``) are half of its 22.9M
weights. Fine-tuned, every step computes their dense gradient and thinc's Adam, weight decay and
gradient clipping run over all 11.7M of them, although a training set of a thousand sentences
touches a few thousand of the 30,522 rows (benchmarks/step_time.py, README Benchmarks).

The frozen weights are saved and loaded as usual; only training is affected.
"""
from typing import Callable, List, Sequence

from spacy.language import Language
from spacy.util import logger

from .averages import torch_shims


def _checked(patterns) -> List[str]:
    if isinstance(patterns, str) or not isinstance(patterns, (list, tuple)) or not patterns \
            or not all(isinstance(p, str) and p for p in patterns):
        raise ValueError("spacy_triples.freeze_parameters.v1: patterns must be a list of non-empty strings "
                         f"(parts of parameter names, e.g. [\"word_embeddings\"]), got {patterns!r}.")
    return list(patterns)


def pytorch_modules(nlp: Language) -> list:
    """The ``torch.nn.Module`` of every PyTorch shim in ``nlp``'s pipeline (``torch_shims``)."""
    return [shim._model for shim in torch_shims(nlp) if shim._model is not None]


def freeze(nlp: Language, patterns: Sequence[str]) -> List[str]:
    """Turn off ``requires_grad`` for the PyTorch parameters whose names contain one of
    ``patterns``; returns their names. Raises ValueError when a pattern matches no parameter (a
    misspelt name would otherwise train everything without a word)."""
    patterns = _checked(patterns)
    modules = pytorch_modules(nlp)
    frozen, matched = [], set()
    for module in modules:
        for name, param in module.named_parameters():
            hits = [p for p in patterns if p in name]
            if hits:
                param.requires_grad_(False)
                param.grad = None
                frozen.append(name)
                matched.update(hits)
    missing = [p for p in patterns if p not in matched]
    if missing:
        names = sorted({name.rsplit(".", 1)[0] for module in modules for name, _ in module.named_parameters()})
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise ValueError(
            f"spacy_triples.freeze_parameters.v1: no PyTorch parameter name contains {missing!r}. "
            f"The pipeline's PyTorch modules have: {shown or 'none (no PyTorch component)'}."
        )
    return frozen


def make_freeze_parameters(patterns: List[str]) -> Callable[[Language], Language]:
    """Registered as ``spacy_triples.freeze_parameters.v1``, an ``[initialize.after_init]``
    callback: ``freeze(nlp, patterns)``."""
    patterns = _checked(patterns)

    def after_init(nlp: Language) -> Language:
        frozen = freeze(nlp, patterns)
        logger.info("spacy_triples.freeze_parameters.v1: froze %d parameter tensors (%s)", len(frozen), ", ".join(frozen))
        return nlp

    return after_init
