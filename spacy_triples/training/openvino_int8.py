"""int8 prediction of a Hugging Face transformer through OpenVINO (the ``openvino`` extra).

``OpenVinoInt8Encoder(module)`` converts the float32 module to an OpenVINO model
(``openvino.convert_model``, dynamic batch and sequence axes), stores every fully connected layer's
weights as int8 with one scale and zero point per output channel (NNCF's
``compress_weights(mode=INT8_ASYM)``, no calibration data needed) and compiles it for the CPU with
OpenVINO's dynamic quantization of the activations (``DYNAMIC_QUANTIZATION_GROUP_SIZE``: each token's
activations quantized in groups as they come, so the products run as int8 dot products, the
counterpart of ONNX Runtime's and torch's dynamic int8). Everything else computes in float32
(``INFERENCE_PRECISION_HINT = f32``: OpenVINO would otherwise pick bfloat16 on a CPU that has it).
Calling the encoder with the keyword tensors spacy-transformers passes returns the module's output
class (e.g. ``BaseModelOutputWithPooling``) with float32 torch tensors. ``module`` is not changed or
kept: the encoder is a snapshot of its weights, rebuilt by the int8 shim whenever they change (see
``precision.quantized_module``).

With ``calibration`` (a list of keyword-tensor batches, as the module is called), the encoder is
quantized statically instead (``int8_engine="openvino_static"``): NNCF's ``quantize`` (transformer
preset) measures each activation's range on those batches and stores int8 weights and fixed int8
activation scales in the model, so no activation is quantized at run time. Measured on MiniLM's
forward pass alone (AMD EPYC, docs/precision.md): 4.23x torch float32 against 3.05x dynamic, at a
cosine to float32 of 0.9983 against 0.9996.

With ``weights="float"`` nothing is quantized: the float32 model is compiled with
``inference_precision="bf16"``, so OpenVINO computes it in bfloat16 (``precision="bf16"`` with
``bf16_engine="openvino"``). On an Intel Xeon with AMX (docs/precision.md) that ran MiniLM's
forward pass 1.24x as fast as torch's bfloat16 autocast (3.69x torch float32), at the same distance
from float32, and whole pipelines 1.1-1.3x.
"""
import contextlib
import io
import logging
import warnings
from typing import Any, Optional, Sequence

import numpy
import torch

from .onnx_int8 import _check_call, _dummy_inputs, _input_names, _int64_feed, _sample

# activations are quantized in groups of this many values along the hidden axis (MiniLM: 384 = 3
# groups); the figure chosen by measurement on the AMD EPYC of docs/precision.md
GROUP_SIZE = 128
# what the operations that are not int8 products compute in: "f32" (the engines' choice) or "bf16"
# (OpenVINO's own default on a CPU with bfloat16 units; measured on AMX in docs/precision.md)
INFERENCE_PRECISIONS = ("f32", "bf16")
WEIGHTS = ("int8", "float")


def openvino_available() -> bool:
    """Whether OpenVINO and NNCF (which compresses the weights) import."""
    try:
        import nncf  # noqa: F401
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


class OpenVinoInt8Encoder:
    """An int8 OpenVINO copy of a Hugging Face encoder, called like the module for prediction."""

    def __init__(self, module: torch.nn.Module, threads: int = 0, group_size: int = GROUP_SIZE,
                 calibration: Optional[Sequence[dict]] = None, inference_precision: str = "f32",
                 weights: str = "int8"):
        import openvino

        if inference_precision not in INFERENCE_PRECISIONS:
            raise ValueError(f"OpenVinoInt8Encoder: inference_precision must be one of {', '.join(INFERENCE_PRECISIONS)}, "
                             f"got {inference_precision!r}.")
        if weights not in WEIGHTS:
            raise ValueError(f"OpenVinoInt8Encoder: weights must be one of {', '.join(WEIGHTS)}, got {weights!r}.")
        if weights == "float" and calibration is not None:
            raise ValueError("OpenVinoInt8Encoder: calibration is for int8 weights (static quantization); "
                             "drop it with weights='float'.")
        self.weights = weights

        self.input_names = _input_names(module)
        self.static = calibration is not None
        feeds = None
        if self.static:
            if not calibration:
                raise ValueError("OpenVinoInt8Encoder: calibration needs at least one batch of inputs.")
            for batch in calibration:
                _check_call("OpenVinoInt8Encoder calibration", (), batch, self.input_names)
            feeds = [_int64_feed(batch, self.input_names) for batch in calibration]
        dummy = _dummy_inputs(self.input_names)
        was_training = module.training
        module.eval()
        try:
            self.output_type, self.output_names, _ = _sample(module, dummy)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes
                converted = openvino.convert_model(module, example_input=dummy)
            if weights == "float":
                compressed = converted
            else:
                compressed = _quantize_static(converted, feeds) if self.static else _compress_weights(converted)
        finally:
            module.train(was_training)
        if len(compressed.outputs) != len(self.output_names):
            raise ValueError(f"the OpenVINO model of {type(module).__name__} has {len(compressed.outputs)} outputs, "
                             f"the module returns {len(self.output_names)} tensors ({self.output_names})")
        config = {"INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
                  "INFERENCE_PRECISION_HINT": inference_precision, "PERFORMANCE_HINT": "LATENCY"}
        if weights == "int8" and not self.static:  # a statically quantized model has its activation scales already
            config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = int(group_size)
        self.compiled = openvino.Core().compile_model(compressed, "CPU", config)
        # a port can carry several names (the argument's and a tensor number): take the argument's
        self.ov_inputs = []
        for port in self.compiled.inputs:
            names = sorted(set(port.get_names()) & set(self.input_names))
            if not names:
                raise ValueError(f"the OpenVINO model of {type(module).__name__} takes an input {sorted(port.get_names())} "
                                 f"that the module's call does not ({list(self.input_names)})")
            self.ov_inputs.append(names[0])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _check_call("OpenVinoInt8Encoder", args, kwargs, self.input_names)
        feed = _int64_feed(kwargs, self.ov_inputs)
        # a request per call: the compiled model can then be shared by threads
        results = self.compiled.create_infer_request().infer(feed)
        outputs = [torch.from_numpy(numpy.array(results[port], dtype="float32", copy=True))
                   for port in self.compiled.outputs]
        return self.output_type(**dict(zip(self.output_names, outputs)))


@contextlib.contextmanager
def _quiet_nncf():
    """NNCF logs a table of what it changed and draws progress bars on stdout, which would corrupt
    `extract -`'s output: silenced while it runs."""
    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _compress_weights(model):
    """``model`` with int8 per-channel (asymmetric) weights in every fully connected layer (NNCF)."""
    import nncf

    with _quiet_nncf():
        return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)


def _quantize_static(model, feeds):
    """``model`` quantized statically by NNCF (transformer preset: int8 weights per channel, int8
    activations with ranges measured on ``feeds``, a list of input dicts, every sequence of every
    batch used)."""
    import nncf

    with _quiet_nncf():
        return nncf.quantize(model, nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER,
                             subset_size=sum(len(feed["input_ids"]) for feed in feeds))
