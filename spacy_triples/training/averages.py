"""``spacy_triples.torch_averages.v1``: make ``use_averages`` cover PyTorch weights too.

With ``[training.optimizer] use_averages = true`` thinc's optimizer keeps a moving average of every
weight, and ``spacy train`` evaluates and saves the model with those averages swapped in
(``nlp.use_params(optimizer.averages)``). For a PyTorch model (spacy-transformers' transformer) the
optimizer stores the averages under the key ``(shim.id, name)``, but thinc's
``PyTorchShim.use_params`` (thinc 8.3) only looks for ``"pytorch_{id}_{name}"`` keys, so it finds
none and the transformer is evaluated and saved with its raw weights while the head (thinc's own
layers) gets its averages: the switch silently half-works.

This callback, placed under ``[initialize.after_init]``, gives every PyTorch shim in the pipeline a
``use_params`` that reads the optimizer's keys. It only matters while training: a saved model holds
whatever weights were in use when it was saved (the averages, when ``spacy train`` saves it).
"""
import contextlib
import warnings
from typing import Any, Callable, Dict, Iterator, List

from spacy.language import Language
from thinc.api import PyTorchShim, torch2xp, xp2torch

PREFIX = "TorchAverages"


def _averages_shim_class(base: type) -> type:
    """A subclass of the shim class ``base`` whose ``use_params`` swaps in the averages that thinc's
    optimizer keeps for this shim's weights. Built once per base class and kept at module level,
    so a patched pipeline still pickles and copies."""
    if base in _SHIM_CLASSES:
        return _SHIM_CLASSES[base]

    @contextlib.contextmanager
    def use_params(self, params: Dict[Any, Any]) -> Iterator[None]:
        import torch

        named = dict(self._model.named_parameters()) if self._model is not None else {}
        averaged = {name: params[(self.id, name)] for name in named if (self.id, name) in params}
        if not averaged:  # no averages under the optimizer's keys: thinc's own lookup
            with base.use_params(self, params):
                yield
            return
        backup = {name: named[name].detach().clone() for name in averaged}
        with torch.no_grad():
            for name, value in averaged.items():
                named[name].copy_(xp2torch(value, device=named[name].device))
        try:
            yield
        finally:
            with torch.no_grad():
                for name, value in backup.items():
                    named[name].copy_(value)

    name = f"{PREFIX}{base.__name__}"
    cls = type(name, (base,), {"use_params": use_params, "__module__": __name__, "__qualname__": name})
    _SHIM_CLASSES[base] = cls
    globals()[name] = cls  # importable by name: pickle finds it
    return cls


_SHIM_CLASSES: dict = {}


def __getattr__(name: str) -> type:
    """Unpickling a patched shim in a fresh process looks its class up here by name."""
    if name.startswith(PREFIX):
        from . import precision

        base_name = name[len(PREFIX):]
        for base in precision.known_shim_classes():
            if base.__name__ == base_name:
                return _averages_shim_class(base)
        if base_name.startswith(("CPUAutocast", "Int8", "OpenVinoBf16")):
            return _averages_shim_class(getattr(precision, base_name))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def average_shim(shim: PyTorchShim) -> PyTorchShim:
    """Give ``shim`` a ``use_params`` that finds the optimizer's averages of its weights.
    Idempotent; nothing else about the shim changes."""
    if type(shim) not in _SHIM_CLASSES.values():
        shim.__class__ = _averages_shim_class(type(shim))
    return shim


def torch_shims(nlp: Language) -> List[PyTorchShim]:
    """Every PyTorch shim in ``nlp``'s components (each once)."""
    shims: List[PyTorchShim] = []
    for _, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model is None or not hasattr(model, "walk"):
            continue
        for node in model.walk():
            shims.extend(s for s in node.shims if isinstance(s, PyTorchShim) and s not in shims)
    return shims


def _uses_averages(nlp: Language) -> bool:
    optimizer = (nlp.config.get("training") or {}).get("optimizer") or {}
    return bool(optimizer.get("use_averages", False))


def make_torch_averages() -> Callable[[Language], Language]:
    """Registered as ``spacy_triples.torch_averages.v1``, for ``[initialize.after_init]``: let the
    optimizer's weight averages (``[training.optimizer] use_averages = true``) reach the PyTorch
    weights of every component when ``spacy train`` evaluates and saves."""

    def after_init(nlp: Language) -> Language:
        shims = torch_shims(nlp)
        if not shims:
            warnings.warn("spacy_triples.torch_averages.v1: the pipeline has no PyTorch model, so there "
                          "is nothing to change; remove [initialize.after_init].")
        elif not _uses_averages(nlp):
            warnings.warn("spacy_triples.torch_averages.v1: [training.optimizer] use_averages is false, "
                          "so there are no averages to use; set use_averages = true.")
        for shim in shims:
            average_shim(shim)
        return nlp

    return after_init
