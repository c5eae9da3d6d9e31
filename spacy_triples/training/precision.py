"""Inference precision of a pipeline on the CPU: float32, bfloat16 autocast or int8.

``set_precision(nlp, precision)`` and the ``[nlp.after_pipeline_creation]`` callback
``spacy_triples.precision.v1`` (a pipeline's config setting, so ``spacy.load`` applies it) choose
how the pipeline's Hugging Face transformer (spacy-transformers' ``HFShim``) computes on the CPU:

- ``fp32``: as PyTorch does by default.
- ``bf16``: the forward pass under ``torch.autocast("cpu", dtype=torch.bfloat16)``
  (``spacy_triples.cpu_autocast.v1``, below): bfloat16 matrix products where the CPU has them
  (AVX512-BF16 or AMX), float32 outputs, weights and optimizer. With ``bf16_engine="openvino"``
  (the ``openvino`` extra; ``auto`` picks it on a CPU with AMX where it is installed) prediction
  runs a copy of the transformer compiled by OpenVINO in bfloat16 instead
  (``openvino_int8.OpenVinoInt8Encoder(weights="float", inference_precision="bf16")``), made and
  renewed like the int8 copy below; training stays float32.
- ``int8``: an int8 copy of the transformer for prediction, made by ONNX Runtime where it is
  installed (``onnx_int8.OnnxInt8Encoder``: an ONNX export with int8 MatMul weights, one scale per
  output channel), by OpenVINO when asked (``openvino_int8.OpenVinoInt8Encoder``) or else by
  torch's dynamic quantization (``torch.ao.quantization.quantize_dynamic``,
  ``qint8`` per channel) of the ``nn.Linear`` layers, with the quantized engine that is current
  (``torch.backends.quantized.engine``, ``x86`` by default: fbgemm or oneDNN per shape). Only
  prediction is quantized: the float32 module stays in the shim and is what training updates and
  what ``to_disk`` saves, and an int8 copy (sharing every other weight) is made from it when the
  pipeline loads or first predicts and again whenever its weights change. A saved pipeline
  therefore holds float32 weights and is quantized on load; its config says ``int8``.
  ``openvino_static`` quantizes the activations too, with ranges measured on calibration texts the
  caller gives (``set_precision(..., calibration=texts)``); they are kept in the pipeline's meta
  (``meta.json``, ``spacy_triples.int8_calibration``) so that ``spacy.load`` quantizes the same way.
- ``auto``: what the CPU runs natively, decided from its feature flags (``choose_precision``):
  AMX -> bf16; AVX512-VNNI or AVX-VNNI -> int8; AVX512-BF16 alone -> bf16; else fp32. On a
  GPU it leaves the pipeline alone (use the transformer's ``mixed_precision`` there).

A transformer on a GPU is always left alone. A pipeline without a Hugging Face transformer (the CNN
and DGCNN configs) stays float32 and a warning says so; ``set_precision(..., quantize_head=True)``
can also quantize the triple_extractor's own PyTorch layers (the head's, and a DGCNN encoder's
``nn.Linear``) of a loaded pipeline, for experiments (not saved in the config).

The patched shims are subclasses built once per shim class and kept at module level (looked up
by name through ``__getattr__``), so a patched pipeline still pickles, copies and works with
``spacy_triples.torch_averages.v1``.
"""
import contextlib
import copy
import warnings
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Union

import torch
from spacy.language import Language

AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
PRECISIONS = ("fp32", "bf16", "int8", "auto")
INT8_ENGINES = ("auto", "torch", "onnxruntime", "openvino", "openvino_static")
BF16_ENGINES = ("auto", "torch", "openvino")
META_KEY = "spacy_triples"  # nlp.meta[META_KEY]["int8_calibration"]: openvino_static's texts
CALIBRATION_BATCH = 16  # calibration texts tokenized this many at a time
CALLBACK = "spacy_triples.precision.v1"
INT8_PREFIX = "Int8"
AUTOCAST_PREFIX = "CPUAutocast"
OPENVINO_BF16_PREFIX = "OpenVinoBf16"


def check_precision(precision: Any, where: str = "precision") -> str:
    """``precision`` if it is one of ``PRECISIONS``, else a ValueError that lists them."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"{where} must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    return precision


def check_int8_engine(engine: Any, where: str = "int8_engine") -> str:
    """``engine`` if it is one of ``INT8_ENGINES``, else a ValueError that lists them."""
    if not isinstance(engine, str) or engine not in INT8_ENGINES:
        raise ValueError(f"{where} must be one of {', '.join(INT8_ENGINES)}, got {engine!r}.")
    return engine


def check_bf16_engine(engine: Any, where: str = "bf16_engine") -> str:
    """``engine`` if it is one of ``BF16_ENGINES``, else a ValueError that lists them."""
    if not isinstance(engine, str) or engine not in BF16_ENGINES:
        raise ValueError(f"{where} must be one of {', '.join(BF16_ENGINES)}, got {engine!r}.")
    return engine


def choose_bf16_engine(flags: Iterable[str], openvino: bool) -> str:
    """What ``bf16_engine="auto"`` runs on a CPU with the feature ``flags``: ``"openvino"`` where the
    CPU has AMX and OpenVINO is installed (``openvino``), else ``"torch"``. On an Intel Xeon with AMX
    three pipelines predicted 1.1-1.3x as fast with OpenVINO's bfloat16 as with torch's autocast, at
    test F1 within 0.15 of float32 (docs/precision.md); elsewhere it has not been measured, so
    torch's autocast stays."""
    return "openvino" if openvino and {f.lower() for f in flags} & AMX_FLAGS else "torch"


def resolve_bf16_engine(engine: str) -> str:
    """The engine ``precision="bf16"`` runs the transformer with: ``auto`` -> ``choose_bf16_engine``
    on this CPU; ``openvino`` without its package is an error that says what to install."""
    from .openvino_int8 import openvino_available

    engine = check_bf16_engine(engine)
    if engine == "auto":
        return choose_bf16_engine(cpu_flags(), openvino_available())
    if engine == "openvino" and not openvino_available():
        raise ValueError("bf16_engine 'openvino' needs OpenVINO: pip install 'spacy-triples[openvino]' "
                         "(or use bf16_engine 'torch' / 'auto').")
    return engine


def resolve_int8_engine(engine: str) -> str:
    """The engine a transformer's int8 copy is made with: ``auto`` -> ONNX Runtime where it is
    installed (the ``onnx`` extra), else torch's dynamic quantization. ``onnxruntime`` or
    ``openvino`` without its package is an error that says what to install."""
    from .onnx_int8 import onnxruntime_available
    from .openvino_int8 import openvino_available

    engine = check_int8_engine(engine)
    if engine == "auto":
        return "onnxruntime" if onnxruntime_available() else "torch"
    if engine == "onnxruntime" and not onnxruntime_available():
        raise ValueError("int8_engine 'onnxruntime' needs ONNX Runtime and onnx: pip install 'spacy-triples[onnx]' "
                         "(or use int8_engine 'torch' / 'auto').")
    if engine in ("openvino", "openvino_static") and not openvino_available():
        raise ValueError(f"int8_engine '{engine}' needs OpenVINO and NNCF: pip install 'spacy-triples[openvino]' "
                         "(or use int8_engine 'torch' / 'auto').")
    return engine


def check_calibration(texts: Any, where: str = "calibration") -> tuple:
    """``texts`` (openvino_static's calibration texts) as a tuple of strings, or a ValueError that
    says what to give: a list of at least one non-empty string."""
    if isinstance(texts, (str, bytes)) or not hasattr(texts, "__iter__"):
        raise ValueError(f"{where} must be a list of texts (str), e.g. a few hundred sentences like those the "
                         f"pipeline will read, got {type(texts).__name__}.")
    texts = tuple(texts)
    bad = [i for i, text in enumerate(texts) if not isinstance(text, str) or not text.strip()]
    if bad:
        raise ValueError(f"{where}: item {bad[0]} is {texts[bad[0]]!r}; every item must be a non-empty text (str).")
    if not texts:
        raise ValueError(f"{where} is empty: give at least one text (a few hundred sentences like those the "
                         "pipeline will read measure the activation ranges well).")
    return texts


def saved_calibration(nlp: Language) -> Optional[tuple]:
    """The calibration texts kept in ``nlp.meta`` by ``set_precision`` (None where there are none)."""
    texts = (nlp.meta.get(META_KEY) or {}).get("int8_calibration")
    return None if texts is None else check_calibration(texts, f"meta.json's {META_KEY}.int8_calibration")


# ---------------------------------------------------------------------------------------------
# auto: a pure decision over the CPU's feature flags, and where the flags come from

BF16_FLAGS = frozenset({"amx_bf16", "amx_tile", "avx512_bf16"})
AMX_FLAGS = frozenset({"amx_bf16", "amx_tile"})
INT8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "avx512vnni", "avxvnni"})


def choose_precision(flags: Iterable[str], int8_engine: bool = True) -> str:
    """The precision ``auto`` picks on a CPU with the feature ``flags`` (``/proc/cpuinfo`` names,
    any case): AMX -> ``"bf16"``; int8 dot products (AVX512-VNNI or AVX-VNNI) -> ``"int8"`` (only
    with ``int8_engine``, a quantized engine torch can use), also where AVX512-BF16 is there too;
    AVX512-BF16 alone -> ``"bf16"``; anything else -> ``"fp32"``: never a precision the CPU would
    emulate. On an AMD EPYC with AVX512-BF16 and VNNI int8 measured faster than bf16 with either
    int8 engine, at the same F1 (docs/precision.md); on an Intel Xeon with AMX bf16 was faster
    than every dynamic int8 engine (1.4-2.2x the float32 encoder against 1.2-1.5x), so bf16 is the
    pick there."""
    flags = {f.lower() for f in flags}
    if flags & AMX_FLAGS:
        return "bf16"
    if flags & INT8_FLAGS and int8_engine:
        return "int8"
    if flags & BF16_FLAGS:
        return "bf16"
    return "fp32"


def cpu_flags(path: str = "/proc/cpuinfo") -> FrozenSet[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux); an empty set where it cannot be read,
    so ``auto`` falls back to fp32."""
    try:
        with open(path, encoding="utf8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def int8_engine_available() -> bool:
    """Whether torch has eager dynamic quantization and an x86 quantized engine for int8 ``nn.Linear``."""
    if not hasattr(getattr(torch.ao, "quantization", None), "quantize_dynamic"):
        return False
    return bool({"x86", "fbgemm", "onednn"} & set(torch.backends.quantized.supported_engines))


def auto_precision() -> str:
    """``choose_precision`` on this CPU (fp32 where torch reports no native bfloat16 after all)."""
    choice = choose_precision(cpu_flags(), int8_engine_available())
    if choice == "bf16" and not native_bfloat16():
        return choose_precision(cpu_flags() - BF16_FLAGS, int8_engine_available())
    return choice


def native_bfloat16() -> bool:
    """Whether torch reports native bfloat16 support on this CPU (False where it cannot tell)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# ---------------------------------------------------------------------------------------------
# bf16: the shim runs its module under CPU autocast


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

    name = f"{AUTOCAST_PREFIX}{base.__name__}"
    cls = type(name, (base,), {"predict": predict, "begin_update": begin_update, "__module__": __name__,
                               "__qualname__": name})
    _SHIM_CLASSES[base] = cls
    globals()[name] = cls  # importable by name: pickle finds it
    return cls


_SHIM_CLASSES: dict = {}  # base -> CPUAutocast subclass


# ---------------------------------------------------------------------------------------------
# int8: the shim predicts with a dynamically quantized copy of its module


def _is_built(module: torch.nn.Module) -> bool:
    return not any(torch.nn.parameter.is_lazy(p) for p in module.parameters())


def quantize_linear(module: torch.nn.Module) -> torch.nn.Module:
    """An int8 copy of ``module`` for prediction: every ``nn.Linear`` dynamically quantized
    (``qint8`` weights with one scale per output channel, activations quantized per batch) with the current quantized engine; every
    other parameter and buffer is shared with ``module``, not copied. ``module`` is unchanged."""
    shared = {id(t): t for t in list(module.parameters()) + list(module.buffers())}
    clone = copy.deepcopy(module, memo=shared)
    with warnings.catch_warnings():
        # torch >= 2.9 marks its eager quantization as deprecated in favour of torchao (whose CPU
        # int8 path wants torch.compile); it still works, and the user has nothing to change
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions", category=UserWarning)
        holder = torch.nn.Sequential(clone)  # torch swaps children only: a bare Linear is a child too
        # one scale per output row (per-channel), not one per matrix: on the WebNLG PointerHead
        # pipeline per-tensor int8 lost 1.34 test F1, per-channel 0 (+0.08), at the same speed
        # (docs/precision.md)
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        torch.ao.quantization.quantize_dynamic(holder, {torch.nn.Linear: qconfig}, dtype=torch.qint8, inplace=True)
    return holder[0].eval()


def _weights_key(module: torch.nn.Module) -> tuple:
    """Changes whenever a weight of ``module`` is replaced or written in place by torch
    (``load_state_dict``, ``copy_``: torch bumps a tensor's version on every in-place write). thinc's
    optimizer writes through numpy and ``param.data =``, which torch does not see: the int8 shim
    drops its copy in ``finish_update`` and ``use_params`` for that."""
    return (id(module), torch.backends.quantized.engine,
            tuple((id(p), p.data_ptr(), p._version) for p in module.parameters()))


def quantized_module(shim: Any) -> Optional[Callable[..., Any]]:
    """The int8 copy of ``shim``'s module that prediction uses, made now if it is missing or stale:
    with the shim's ``int8_engine`` (``torch``: ``quantize_linear``; ``onnxruntime``: an
    ``OnnxInt8Encoder``; ``openvino``: an ``OpenVinoInt8Encoder``; the last two fall back to torch
    with a warning if the export fails), or, for ``bf16_engine="openvino"``, the bfloat16 OpenVINO
    copy (torch's autocast, with a warning, if the conversion fails). None where
    there is nothing to quantize (a module not built yet, or one on a GPU)."""
    module = shim._model
    if not isinstance(module, torch.nn.Module) or not _on_cpu(module) or not _is_built(module):
        return None
    engine = ("openvino_bf16" if shim.__dict__.get("bf16_engine") == "openvino"
              else shim.__dict__.get("int8_engine", "torch"))
    key = (_weights_key(module), engine)
    cached = shim.__dict__.get("_int8_cache")
    if cached is None or cached[0] != key:
        cached = (key, _quantize(module, engine, shim))
        shim._int8_cache = cached
    return cached[1]


def calibration_batches(shim: Any, texts: Iterable[str], names: Iterable[str]) -> List[dict]:
    """``texts`` as the transformer's keyword inputs ``names`` (those its module takes),
    ``CALIBRATION_BATCH`` texts a batch, tokenized by the shim's own tokenizer (as spacy-transformers
    does: special tokens, padded to the longest, truncated to the model's length)."""
    hf = getattr(shim, "_hfmodel", None)
    tokenizer = getattr(hf, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("the transformer has no tokenizer loaded yet, so the calibration texts cannot be tokenized")
    config = getattr(shim._model, "config", None)
    limit = min(int(getattr(tokenizer, "model_max_length", 512) or 512),
                int(getattr(config, "max_position_embeddings", 512) or 512))
    texts = list(texts)
    batches = []
    for start in range(0, len(texts), CALIBRATION_BATCH):
        encoded = tokenizer(texts[start:start + CALIBRATION_BATCH], add_special_tokens=True, padding="longest",
                            truncation=True, max_length=limit, return_tensors="pt")
        batches.append({key: encoded[key] for key in names if key in encoded})
    return batches


def _autocast_call(module: torch.nn.Module) -> Callable[..., Any]:
    """``module`` called for prediction (eval mode: no dropout) under CPU bfloat16 autocast, with
    float32 outputs."""
    def call(*args: Any, **kwargs: Any) -> Any:
        was_training = module.training
        module.eval()
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return _float32(module(*args, **kwargs))
        finally:
            module.train(was_training)
    return call


def _quantize(module: torch.nn.Module, engine: str, shim: Any) -> Callable[..., Any]:
    if engine == "openvino_bf16":
        from . import openvino_int8

        try:
            return openvino_int8.OpenVinoInt8Encoder(module, weights="float", inference_precision="bf16")
        except Exception as err:  # an encoder OpenVINO cannot convert: torch's autocast still works
            warnings.warn(f"precision bf16: the OpenVINO conversion of {type(module).__name__} failed "
                          f"({type(err).__name__}: {err}); using torch's bfloat16 autocast instead.", stacklevel=3)
            return _autocast_call(module)
    if engine in ("onnxruntime", "openvino", "openvino_static"):
        from . import onnx_int8, openvino_int8

        build, what = ((onnx_int8.OnnxInt8Encoder, "ONNX Runtime export") if engine == "onnxruntime"
                       else (openvino_int8.OpenVinoInt8Encoder, "OpenVINO conversion"))
        try:
            if engine == "openvino_static":
                texts = shim.__dict__.get("int8_calibration")
                if not texts:
                    raise ValueError("int8_engine 'openvino_static' has no calibration texts")
                return build(module, calibration=calibration_batches(shim, texts, openvino_int8._input_names(module)))
            return build(module)
        except Exception as err:  # an encoder the exporter cannot trace: torch's int8 still works
            warnings.warn(f"precision int8: the {what} of {type(module).__name__} failed "
                          f"({type(err).__name__}: {err}); using torch's dynamic int8 instead.", stacklevel=3)
            shim.int8_engine = "torch"
    return quantize_linear(module)


def _copy_shim_class(base: type, prefix: str = INT8_PREFIX) -> type:
    """A subclass of the shim class ``base`` that predicts with ``quantized_module(self)`` on the
    CPU. Training (``begin_update``), ``to_bytes`` and everything else use the float32 module.
    ``prefix`` names it: ``Int8`` for the int8 copies, ``OpenVinoBf16`` for OpenVINO's bfloat16 one."""
    if (prefix, base) in _COPY_SHIM_CLASSES:
        return _COPY_SHIM_CLASSES[(prefix, base)]

    def predict(self, inputs):
        module = quantized_module(self)
        if module is None:
            return base.predict(self, inputs)
        with torch.no_grad():
            return module(*inputs.args, **inputs.kwargs)

    def from_bytes(self, data):
        result = base.from_bytes(self, data)
        self.__dict__.pop("_int8_cache", None)
        quantized_module(self)  # quantize on load: the first call is not the slow one
        return result

    def finish_update(self, optimizer):  # new weights: quantized again before the next prediction
        self.__dict__.pop("_int8_cache", None)
        try:
            return base.finish_update(self, optimizer)
        finally:
            self.__dict__.pop("_int8_cache", None)

    @contextlib.contextmanager
    def use_params(self, params):  # other weights for a while (the averages spacy train evaluates with)
        self.__dict__.pop("_int8_cache", None)
        try:
            with base.use_params(self, params):
                yield
        finally:
            self.__dict__.pop("_int8_cache", None)

    def __getstate__(self):  # copies and pickles leave the int8 copy behind; it is rebuilt on use
        state = dict(self.__dict__)
        state.pop("_int8_cache", None)
        return state

    name = f"{prefix}{base.__name__}"
    cls = type(name, (base,), {"predict": predict, "from_bytes": from_bytes, "finish_update": finish_update,
                               "use_params": use_params, "__getstate__": __getstate__,
                               "__module__": __name__, "__qualname__": name})
    _COPY_SHIM_CLASSES[(prefix, base)] = cls
    globals()[name] = cls
    return cls


_COPY_SHIM_CLASSES: dict = {}  # (prefix, base) -> Int8 / OpenVinoBf16 subclass


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
    for prefix, make in ((AUTOCAST_PREFIX, _autocast_shim_class), (INT8_PREFIX, _copy_shim_class),
                         (OPENVINO_BF16_PREFIX, lambda base: _copy_shim_class(base, OPENVINO_BF16_PREFIX))):
        if name.startswith(prefix):
            for base in known_shim_classes():
                if name == f"{prefix}{base.__name__}":
                    return make(base)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# switching a shim between precisions


def _averages_classes() -> Dict[type, type]:
    from . import averages

    return averages._SHIM_CLASSES


def _plain_base(cls: type) -> type:
    """The shim class under any precision or ``torch_averages`` subclass of it."""
    patched = set(_SHIM_CLASSES.values()) | set(_COPY_SHIM_CLASSES.values()) | set(_averages_classes().values())
    for klass in cls.__mro__:
        if klass not in patched:
            return klass
    return cls  # pragma: no cover  (object is never patched)


def _set_shim_precision(shim: Any, precision: str, dtype: torch.dtype = torch.bfloat16,
                        int8_engine: str = "torch", calibration: Optional[tuple] = None,
                        bf16_engine: str = "torch") -> Any:
    """Make ``shim`` compute in ``precision`` (fp32, bf16 with ``bf16_engine`` ``torch`` or
    ``openvino``, or int8 with ``int8_engine``, ``torch``, ``onnxruntime``, ``openvino`` or
    ``openvino_static``, which quantizes with the ``calibration`` texts) when on the CPU; keeps a
    ``torch_averages`` patch it has. Idempotent; the module and its weights do not change."""
    from . import averages

    averaged = type(shim) in set(_averages_classes().values())
    base = _plain_base(type(shim))
    openvino_bf16 = precision == "bf16" and bf16_engine == "openvino"
    if openvino_bf16:
        cls = _copy_shim_class(base, OPENVINO_BF16_PREFIX)
    elif precision == "bf16":
        cls = _autocast_shim_class(base)
    elif precision == "int8":
        cls = _copy_shim_class(base)
    else:
        cls = base
    shim.__class__ = averages._averages_shim_class(cls) if averaged else cls
    shim.__dict__.pop("_int8_cache", None)
    if precision == "bf16" and not openvino_bf16:
        shim.autocast_dtype = dtype
    else:
        shim.__dict__.pop("autocast_dtype", None)
    if openvino_bf16:
        shim.bf16_engine = "openvino"
        quantized_module(shim)  # converted now, where the weights are there already
    else:
        shim.__dict__.pop("bf16_engine", None)
    if precision == "int8":
        shim.int8_engine = int8_engine
        if calibration is not None:
            shim.int8_calibration = calibration
        else:
            shim.__dict__.pop("int8_calibration", None)
        quantized_module(shim)  # now, where the weights are there already
    else:
        shim.__dict__.pop("int8_engine", None)
        shim.__dict__.pop("int8_calibration", None)
    return shim


def autocast_shim(shim: Any, dtype: torch.dtype) -> Any:
    """Make ``shim`` (a thinc ``PyTorchShim``, e.g. spacy-transformers' ``HFShim``) run its
    module under CPU autocast in ``dtype`` and return float32 outputs. Idempotent; only this shim
    changes (its module, weights and serialization do not). On a GPU it does nothing."""
    return _set_shim_precision(shim, "bf16", dtype)


def int8_shim(shim: Any, engine: str = "torch") -> Any:
    """Make ``shim`` predict with an int8 copy of its module on the CPU (``quantized_module``;
    ``engine``: ``torch``, ``onnxruntime`` or ``openvino``). Idempotent; training and serialization stay float32."""
    return _set_shim_precision(shim, "int8", int8_engine=engine)


def _transformer_shims(nlp: Language, components: Optional[Iterable[str]]) -> List[Any]:
    """The Hugging Face shims (spacy-transformers' ``HFShim``) in the named components, or in all."""
    try:
        from spacy_transformers.layers.hf_shim import HFShim
    except ImportError:  # spacy-transformers not installed: nothing to change
        return []
    return _shims(nlp, components, lambda s: isinstance(s, HFShim))


def _shims(nlp: Language, components: Optional[Iterable[str]], keep: Callable[[Any], bool]) -> List[Any]:
    names = set(nlp.component_names) if components is None else set(components)
    missing = sorted(names - set(nlp.component_names))
    if missing:
        raise ValueError(f"no component named {missing} in the pipeline (components: {nlp.component_names}). "
                         "Fix `components` or leave it out.")
    shims: List[Any] = []
    for name in nlp.component_names:
        model = getattr(nlp.get_pipe(name), "model", None)
        if name not in names or model is None or not hasattr(model, "walk"):
            continue
        for node in model.walk():
            shims.extend(s for s in node.shims if keep(s) and s not in shims)
    return shims


def _head_shims(nlp: Language) -> List[Any]:
    """The PyTorch shims of the triple_extractor components that are not a Hugging Face transformer
    (the head's module, and a DGCNN encoder's)."""
    from thinc.api import PyTorchShim

    hf = set(map(id, _transformer_shims(nlp, None)))
    names = [name for name in nlp.component_names
             if getattr(nlp.get_pipe_meta(name), "factory", None) == "triple_extractor"]
    return _shims(nlp, names, lambda s: isinstance(s, PyTorchShim) and id(s) not in hf)


def _on_gpu() -> bool:
    from thinc.api import get_current_ops

    return getattr(get_current_ops(), "device_type", "cpu") != "cpu"


# ---------------------------------------------------------------------------------------------
# the public switch and the config callback


def set_precision(nlp: Language, precision: str, *, int8_engine: str = "auto", quantize_head: bool = False,
                  save: bool = True, calibration: Optional[Iterable[str]] = None, bf16_engine: str = "auto") -> str:
    """Make ``nlp`` predict in ``precision`` (``"fp32"``, ``"bf16"``, ``"int8"`` or ``"auto"``) on
    the CPU, and return the precision it now runs in (``auto`` resolved; ``"fp32"`` where nothing
    could change, with a warning saying why). Calling it again switches; ``"fp32"`` undoes it.

    ``int8_engine`` (int8 only): what makes the transformer's int8 copy: ``"onnxruntime"`` (an ONNX
    export quantized per channel, run by ONNX Runtime; the ``onnx`` extra), ``"openvino"`` (an
    OpenVINO model with int8 weights per channel and activations quantized as they come; the
    ``openvino`` extra), ``"torch"`` (torch's dynamic quantization of the ``nn.Linear`` layers), or
    ``"auto"`` (ONNX Runtime where it is installed, else torch), or ``"openvino_static"`` (OpenVINO
    with the activations quantized too, their ranges measured on ``calibration``: the fastest engine
    measured; the ``openvino`` extra).
    ``bf16_engine`` (bf16 only): ``"torch"`` (the forward pass under torch's CPU autocast, and the
    pipeline's training with it), ``"openvino"`` (prediction by an OpenVINO copy compiled in
    bfloat16; the ``openvino`` extra), or ``"auto"``: OpenVINO on a CPU with AMX where it is
    installed (there 1.1-1.3x torch's speed at the same F1), else torch.
    ``calibration`` (``openvino_static`` only): texts like those the pipeline will read (a few hundred
    sentences of its training data do); kept in ``nlp.meta`` when ``save`` is on, so ``spacy.load``
    quantizes with them again. Without it, the texts already in ``nlp.meta`` are used.
    ``quantize_head`` (int8 only, for experiments): also quantize the triple_extractor's own PyTorch
    layers as they are now (the head's, and a DGCNN encoder's ``nn.Linear``). The head is built when
    its weights load, after the config's callbacks ran, so this part is not saved: call
    ``set_precision`` again after ``spacy.load`` (a warning says so when ``save`` is on).
    ``save``: record the setting in ``nlp.config`` (``[nlp.after_pipeline_creation]``,
    ``spacy_triples.precision.v1``), so that ``nlp.to_disk`` and ``spacy.load`` keep it; ``auto``
    is saved as ``auto`` and decided again on the machine that loads the pipeline."""
    requested = check_precision(precision)
    check_int8_engine(int8_engine)
    check_bf16_engine(bf16_engine)
    if not isinstance(quantize_head, bool):
        raise ValueError(f"quantize_head must be true or false, got {quantize_head!r}.")
    static = requested in ("int8", "auto") and int8_engine == "openvino_static"
    if calibration is not None and not static:
        raise ValueError("calibration texts are for int8_engine 'openvino_static' only (the other engines quantize "
                         "the activations as they come): drop calibration or set precision 'int8' (or 'auto') with "
                         "int8_engine 'openvino_static'.")
    texts = None
    if static:
        texts = check_calibration(calibration) if calibration is not None else saved_calibration(nlp)
        if texts is None:
            raise ValueError("int8_engine 'openvino_static' needs calibration texts: set_precision(nlp, 'int8', "
                             "int8_engine='openvino_static', calibration=texts), with a few hundred sentences like "
                             "those the pipeline will read (they are saved with the pipeline).")
    applied = _apply(nlp, requested, quantize_head, int8_engine, texts, bf16_engine)
    if save:
        _record(nlp, requested, int8_engine, texts, bf16_engine)
        if quantize_head and applied == "int8":
            warnings.warn("set_precision: quantize_head is not saved with the pipeline (its head is built as its "
                          "weights load); after spacy.load, call set_precision(nlp, 'int8', quantize_head=True) "
                          "again.", stacklevel=2)
    return applied


def _apply(nlp: Language, precision: str, quantize_head: bool, int8_engine: str = "auto",
           calibration: Optional[tuple] = None, bf16_engine: str = "auto") -> str:
    transformer = _transformer_shims(nlp, None)
    head = _head_shims(nlp)
    if precision == "auto":
        precision = "fp32" if _on_gpu() or not (transformer or quantize_head) else auto_precision()
    for shim in transformer + head:  # undo an earlier setting first
        _set_shim_precision(shim, "fp32")
    if precision == "fp32":
        return "fp32"
    if precision == "bf16":
        if not transformer:
            warnings.warn("precision bf16: the pipeline has no Hugging Face transformer (spacy-transformers), "
                          "so it stays float32. bf16 speeds up transformer pipelines only.", stacklevel=3)
            return "fp32"
        if not native_bfloat16():
            warnings.warn("precision bf16: this CPU has no native bfloat16 arithmetic (AVX512-BF16 or AMX); "
                          "torch emulates it, which is usually slower than float32. Use fp32 or int8.", stacklevel=3)
        engine = resolve_bf16_engine(bf16_engine)
        for shim in transformer:
            _set_shim_precision(shim, "bf16", bf16_engine=engine)
        return "bf16"
    targets = transformer + (head if quantize_head else [])
    if not targets:
        warnings.warn("precision int8: the pipeline has no Hugging Face transformer (spacy-transformers), "
                      "so nothing is quantized and it stays float32 (set_precision(nlp, 'int8', quantize_head=True) "
                      "quantizes the triple_extractor's own PyTorch layers of a loaded pipeline).", stacklevel=3)
        return "fp32"
    if not int8_engine_available():
        warnings.warn(f"precision int8: torch has no x86 quantized engine here (supported: "
                      f"{torch.backends.quantized.supported_engines}), so it stays float32.", stacklevel=3)
        return "fp32"
    engine = resolve_int8_engine(int8_engine) if transformer else "torch"
    for shim in transformer:
        _set_shim_precision(shim, "int8", int8_engine=engine, calibration=calibration)
    for shim in head if quantize_head else []:  # the head's own layers take no HF inputs: torch's int8
        _set_shim_precision(shim, "int8", int8_engine="torch")
    return "int8"


def _record(nlp: Language, precision: str, int8_engine: str = "auto", calibration: Optional[tuple] = None,
            bf16_engine: str = "auto") -> None:
    ours = dict(nlp.meta.get(META_KEY) or {})
    if calibration is not None:
        ours["int8_calibration"] = list(calibration)
    else:  # another setting: texts kept from an earlier one would only mislead
        ours.pop("int8_calibration", None)
    if ours:
        nlp.meta[META_KEY] = ours
    else:
        nlp.meta.pop(META_KEY, None)
    current = nlp.config["nlp"].get("after_pipeline_creation")
    name = current.get("@callbacks") if isinstance(current, dict) else None
    if current is not None and name not in (CALLBACK, "spacy_triples.cpu_autocast.v1"):
        warnings.warn(f"set_precision: [nlp.after_pipeline_creation] already holds {name or current!r}, which "
                      f"is kept, so the saved pipeline loads without the precision setting. Put "
                      f"{CALLBACK} there yourself if you need both.", stacklevel=3)
        return
    setting = {"@callbacks": CALLBACK, "precision": precision}
    if int8_engine != "auto":
        setting["int8_engine"] = int8_engine
    if bf16_engine != "auto":
        setting["bf16_engine"] = bf16_engine
    nlp.config["nlp"]["after_pipeline_creation"] = setting


def make_precision(precision: str = "fp32", int8_engine: str = "auto",
                   bf16_engine: str = "auto") -> Callable[[Language], Language]:
    """Registered as ``spacy_triples.precision.v1``, for ``[nlp.after_pipeline_creation]``: the
    pipeline's transformer predicts in ``precision`` (``fp32``, ``bf16``, ``int8`` or ``auto``;
    ``int8_engine``: ``auto``, ``torch``, ``onnxruntime``, ``openvino`` or ``openvino_static``;
    ``bf16_engine``: ``auto``, ``torch`` or ``openvino``; see
    ``set_precision``; ``openvino_static`` takes its calibration texts from the pipeline's meta, where
    ``set_precision`` saved them). The weights load after this runs; int8 quantizes as they load."""
    check_precision(precision, f"{CALLBACK}: precision")
    check_int8_engine(int8_engine, f"{CALLBACK}: int8_engine")
    check_bf16_engine(bf16_engine, f"{CALLBACK}: bf16_engine")

    def after_pipeline_creation(nlp: Language) -> Language:
        texts = None
        if precision in ("int8", "auto") and int8_engine == "openvino_static":
            texts = saved_calibration(nlp)
            if texts is None:
                raise ValueError(f"{CALLBACK}: int8_engine 'openvino_static' needs calibration texts in the pipeline's "
                                 f"meta.json ({META_KEY}.int8_calibration), and there are none. Load with another "
                                 "int8_engine, then call set_precision(nlp, 'int8', int8_engine='openvino_static', "
                                 "calibration=texts) and save the pipeline again.")
        _apply(nlp, precision, False, int8_engine, texts, bf16_engine)
        return nlp

    return after_pipeline_creation


def make_cpu_autocast(enabled: Union[bool, str] = True, dtype: str = "bfloat16",
                      components: Optional[List[str]] = None) -> Callable[[Language], Language]:
    """Registered as ``spacy_triples.cpu_autocast.v1``, for ``[nlp.after_pipeline_creation]``:
    run the transformer components (``components``, default all) under CPU autocast in ``dtype``
    (``"bfloat16"``; ``"float16"`` needs a CPU with float16 arithmetic). ``enabled = false`` leaves
    the pipeline as it is, so a config can carry the switch; ``enabled = "auto"`` (bfloat16 only)
    autocasts where the CPU has native bfloat16 arithmetic and otherwise warns and stays float32,
    so a config can use it on any machine. ``spacy_triples.precision.v1`` with ``precision = "bf16"``
    does the same for all transformers and also offers int8 and auto."""
    if not isinstance(enabled, bool) and enabled != "auto":
        raise ValueError(f"spacy_triples.cpu_autocast.v1: enabled must be true, false or \"auto\", got {enabled!r}.")
    if dtype not in AUTOCAST_DTYPES:
        raise ValueError(f"spacy_triples.cpu_autocast.v1: dtype must be one of {sorted(AUTOCAST_DTYPES)}, got {dtype!r}.")
    if enabled == "auto" and dtype != "bfloat16":
        raise ValueError("spacy_triples.cpu_autocast.v1: enabled = \"auto\" decides by the CPU's bfloat16 "
                         f"arithmetic, so dtype must be \"bfloat16\", got {dtype!r}. Set enabled = true for {dtype}.")
    if components is not None and (isinstance(components, str) or not all(isinstance(c, str) for c in components)):
        raise ValueError("spacy_triples.cpu_autocast.v1: components must be a list of component names, "
                         f"e.g. [\"transformer\"], got {components!r}.")

    def after_pipeline_creation(nlp: Language) -> Language:
        if not enabled:
            return nlp
        try:
            shims = _transformer_shims(nlp, components)
        except ValueError as err:
            raise ValueError(f"spacy_triples.cpu_autocast.v1: {err}") from None
        if not shims:
            warnings.warn("spacy_triples.cpu_autocast.v1: the pipeline has no Hugging Face transformer "
                          "(spacy-transformers), so nothing runs in reduced precision.")
        elif enabled == "auto" and not native_bfloat16():
            warnings.warn("spacy_triples.cpu_autocast.v1: this CPU has no native bfloat16 arithmetic "
                          "(AVX512-BF16 or AMX), so the transformer stays float32 (enabled = \"auto\"). "
                          "Set enabled = false in [nlp.after_pipeline_creation] to silence this.")
            return nlp
        elif dtype == "bfloat16" and not native_bfloat16():
            warnings.warn("spacy_triples.cpu_autocast.v1: this CPU has no native bfloat16 arithmetic "
                          "(AVX512-BF16 or AMX); torch emulates it, which is usually slower than float32. "
                          "Set enabled = false in [nlp.after_pipeline_creation].")
        for shim in shims:
            autocast_shim(shim, AUTOCAST_DTYPES[dtype])
        return nlp

    return after_pipeline_creation
