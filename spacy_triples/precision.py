"""``spacy_triples.cpu_autocast.v1``: run the transformer in bfloat16 on the CPU.

spacy-transformers' ``mixed_precision`` is CUDA's autocast only; on a CPU the transformer always
computes in float32. CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX: recent Xeon and
EPYC parts) multiply bfloat16 matrices faster than float32 ones. This callback, placed under
``[nlp.after_pipeline_creation]``, makes every Hugging Face transformer in the pipeline run its
forward pass under ``torch.autocast("cpu", dtype=torch.bfloat16)`` and hand float32 outputs back,
so the listeners, the heads, the weights and the optimizer stay in float32 (autocast casts a copy
of each weight per operation; gradients reach the float32 weights). A transformer on a GPU is left
alone (use ``mixed_precision`` there). Because the callback is part of the pipeline's config, a
pipeline trained with it also predicts with it after ``spacy.load``.

Whether it pays depends on the CPU: measure with ``benchmarks/cpu_autocast.py`` (README,
Benchmarks). Where the CPU lacks native bfloat16, torch emulates it and it is slower: the callback
warns then.
"""
import warnings
from typing import Any, Callable, Iterable, List, Optional

import torch
from spacy.language import Language

AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def _float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (a model output, tuple or list) as float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() and value.dtype != torch.float32 else value
    if isinstance(value, dict):  # transformers' ModelOutput is an OrderedDict; setting keeps fields in step
        for key in list(value.keys()):
            value[key] = _float32(value[key])
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_float32(v) for v in value)
    return value


def _on_cpu(module: Optional[torch.nn.Module]) -> bool:
    param = next(module.parameters(), None) if module is not None else None
    return param is not None and param.device.type == "cpu"


def _autocast_shim_class(base: type) -> type:
    """A subclass of the shim class ``base`` whose forward passes run under CPU autocast (in the
    shim's ``autocast_dtype``) and return float32 outputs. Built once per base class and kept at
    module level, so a patched pipeline still pickles and copies."""
    if base in _SHIM_CLASSES:
        return _SHIM_CLASSES[base]

    def predict(self, inputs):
        if not _on_cpu(self._model):
            return base.predict(self, inputs)
        with torch.autocast("cpu", dtype=self.autocast_dtype):
            output = base.predict(self, inputs)
        return _float32(output)

    def begin_update(self, inputs):
        if not _on_cpu(self._model):
            return base.begin_update(self, inputs)
        with torch.autocast("cpu", dtype=self.autocast_dtype):
            output, backprop = base.begin_update(self, inputs)
        # cast inside the autograd graph: the gradient the listeners send back (float32) flows
        # through the cast into the reduced-precision graph, and on to the float32 weights
        return _float32(output), backprop

    name = f"CPUAutocast{base.__name__}"
    cls = type(name, (base,), {"predict": predict, "begin_update": begin_update, "__module__": __name__,
                               "__qualname__": name})
    _SHIM_CLASSES[base] = cls
    globals()[name] = cls  # importable by name: pickle finds it
    return cls


_SHIM_CLASSES: dict = {}


def known_shim_classes() -> List[type]:
    from thinc.api import PyTorchShim

    bases = [PyTorchShim]
    try:
        from spacy_transformers.layers.hf_shim import HFShim

        bases.append(HFShim)
    except ImportError:
        pass
    return bases


def __getattr__(name: str) -> type:
    """Unpickling a patched shim in a fresh process looks its class up here by name."""
    if name.startswith("CPUAutocast"):
        for base in known_shim_classes():
            if name == f"CPUAutocast{base.__name__}":
                return _autocast_shim_class(base)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def autocast_shim(shim: Any, dtype: torch.dtype) -> Any:
    """Make ``shim`` (a thinc ``PyTorchShim``, e.g. spacy-transformers' ``HFShim``) run its
    module under CPU autocast in ``dtype`` and return float32 outputs. Idempotent; only this shim
    changes (its module, weights and serialization do not). On a GPU it does nothing."""
    base = type(shim)
    if base in _SHIM_CLASSES.values():
        base = base.__mro__[1]
    shim.__class__ = _autocast_shim_class(base)
    shim.autocast_dtype = dtype
    return shim


def _transformer_shims(nlp: Language, components: Optional[Iterable[str]]) -> List[Any]:
    """The Hugging Face shims (spacy-transformers' ``HFShim``) in the named components, or in all."""
    try:
        from spacy_transformers.layers.hf_shim import HFShim
    except ImportError:  # spacy-transformers not installed: nothing to change
        return []
    names = set(nlp.component_names) if components is None else set(components)
    missing = sorted(names - set(nlp.component_names))
    if missing:
        raise ValueError(f"spacy_triples.cpu_autocast.v1: no component named {missing} in the pipeline "
                         f"(components: {nlp.component_names}). Fix `components` or leave it out.")
    shims = []
    for name in nlp.component_names:
        model = getattr(nlp.get_pipe(name), "model", None)
        if name not in names or model is None or not hasattr(model, "walk"):
            continue
        for node in model.walk():
            shims.extend(s for s in node.shims if isinstance(s, HFShim) and s not in shims)
    return shims


def native_bfloat16() -> bool:
    """Whether torch reports native bfloat16 support on this CPU (False where it cannot tell)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def make_cpu_autocast(enabled: bool = True, dtype: str = "bfloat16",
                      components: Optional[List[str]] = None) -> Callable[[Language], Language]:
    """Registered as ``spacy_triples.cpu_autocast.v1``, for ``[nlp.after_pipeline_creation]``:
    run the transformer components (``components``, default all) under CPU autocast in ``dtype``
    (``"bfloat16"``; ``"float16"`` needs a CPU with float16 arithmetic). ``enabled = false`` leaves
    the pipeline as it is, so a config can carry the switch."""
    if not isinstance(enabled, bool):
        raise ValueError(f"spacy_triples.cpu_autocast.v1: enabled must be true or false, got {enabled!r}.")
    if dtype not in AUTOCAST_DTYPES:
        raise ValueError(f"spacy_triples.cpu_autocast.v1: dtype must be one of {sorted(AUTOCAST_DTYPES)}, got {dtype!r}.")
    if components is not None and (isinstance(components, str) or not all(isinstance(c, str) for c in components)):
        raise ValueError("spacy_triples.cpu_autocast.v1: components must be a list of component names, "
                         f"e.g. [\"transformer\"], got {components!r}.")

    def after_pipeline_creation(nlp: Language) -> Language:
        if not enabled:
            return nlp
        shims = _transformer_shims(nlp, components)
        if not shims:
            warnings.warn("spacy_triples.cpu_autocast.v1: the pipeline has no Hugging Face transformer "
                          "(spacy-transformers), so nothing runs in reduced precision.")
        elif dtype == "bfloat16" and not native_bfloat16():
            warnings.warn("spacy_triples.cpu_autocast.v1: this CPU has no native bfloat16 arithmetic "
                          "(AVX512-BF16 or AMX); torch emulates it, which is usually slower than float32. "
                          "Set enabled = false in [nlp.after_pipeline_creation].")
        for shim in shims:
            autocast_shim(shim, AUTOCAST_DTYPES[dtype])
        return nlp

    return after_pipeline_creation
