"""int8 prediction of a Hugging Face transformer through ONNX Runtime (the ``onnx`` extra).

``OnnxInt8Encoder(module)`` exports the float32 module to ONNX (torch's TorchScript exporter, dynamic
batch and sequence axes), quantizes every MatMul's weights to int8 with one scale per output channel
(``onnxruntime.quantization.quantize_dynamic``, activations quantized per batch, as torch's dynamic
int8 does) and keeps an ONNX Runtime session with torch's thread count. Calling it with the keyword
tensors spacy-transformers passes returns the same output class (e.g. ``BaseModelOutputWithPooling``)
with float32 torch tensors. ``module`` is not changed or kept: the encoder is a snapshot of its
weights, rebuilt by the int8 shim whenever they change (see ``precision.quantized_module``).

Measured on an AMD EPYC (2 threads, WebNLG test, batches of 64; docs/precision.md): MiniLM's forward
pass 2.9x torch float32 here against 2.1x with torch's own dynamic int8, at the same accuracy.
"""
import inspect
import logging
import os
import tempfile
import warnings
from typing import Any, List, Tuple

import numpy
import torch

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime and its quantization tools (which need the ``onnx`` package) import."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        from onnxruntime.quantization import quantize_dynamic  # noqa: F401
    except ImportError:
        return False
    return True


def _input_names(module: torch.nn.Module) -> Tuple[str, ...]:
    params = inspect.signature(module.forward).parameters
    names = tuple(name for name in INPUT_NAMES if name in params)
    if names[:2] != INPUT_NAMES[:2]:
        raise ValueError(f"{type(module).__name__}.forward takes no input_ids / attention_mask: the ONNX int8 "
                         "engine handles Hugging Face encoders only.")
    return names


def _dummy_inputs(names: Tuple[str, ...]) -> dict:
    shape = (2, 8)
    inputs = {"input_ids": torch.ones(shape, dtype=torch.long), "attention_mask": torch.ones(shape, dtype=torch.long)}
    if "token_type_ids" in names:
        inputs["token_type_ids"] = torch.zeros(shape, dtype=torch.long)
    return inputs


def _sample(module: torch.nn.Module, dummy: dict) -> Tuple[type, List[str], Any]:
    """The module's output class, the names of its tensor outputs (in order) and the output itself,
    for ``dummy`` inputs (in eval mode, without gradients)."""
    with torch.no_grad():
        sample = module(**dummy)
    return type(sample), [key for key, value in sample.items() if isinstance(value, torch.Tensor)], sample


def _check_call(engine: str, args: tuple, kwargs: dict, names: Tuple[str, ...]) -> None:
    """TypeError unless the call gives keyword tensors among ``names`` only."""
    if args:
        raise TypeError(f"{engine} takes keyword tensors (input_ids=..., attention_mask=...).")
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise TypeError(f"{engine}: inputs {unknown} were not exported (exported: {list(names)}).")


def _int64_feed(kwargs: dict, names) -> dict:
    """The named inputs as contiguous int64 numpy arrays; a missing one is what the module does
    without it: token types 0, every position attended."""
    ids = kwargs["input_ids"]
    feed = {}
    for name in names:
        value = kwargs.get(name)
        if value is None:
            value = torch.zeros_like(ids) if name == "token_type_ids" else torch.ones_like(ids)
        feed[name] = numpy.ascontiguousarray(value.detach().cpu().numpy().astype("int64", copy=False))
    return feed


class OnnxInt8Encoder:
    """An int8 ONNX Runtime copy of a Hugging Face encoder, called like the module for prediction."""

    def __init__(self, module: torch.nn.Module, threads: int = 0):
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic

        self.input_names = _input_names(module)
        dummy = _dummy_inputs(self.input_names)
        was_training = module.training
        module.eval()
        try:
            self.output_type, self.output_names, sample = _sample(module, dummy)
            axes = {name: {0: "batch", 1: "sequence"} for name in self.input_names}
            axes.update({name: {0: "batch", 1: "sequence"} for name in self.output_names if sample[name].dim() == 3})
            axes.update({name: {0: "batch"} for name in self.output_names if sample[name].dim() != 3})
            with tempfile.TemporaryDirectory(prefix="spacy_triples_onnx_") as tmp:
                plain, quantized = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "model.int8.onnx")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the exporter's tracer and deprecation notes
                    torch.onnx.export(module, (), plain, kwargs=dummy, input_names=list(self.input_names),
                                      output_names=self.output_names, dynamic_axes=axes, opset_version=17,
                                      dynamo=False)
                    root = logging.getLogger()
                    level = root.level
                    root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint to the root logger
                    try:
                        quantize_dynamic(plain, quantized, weight_type=QuantType.QInt8, per_channel=True)
                    finally:
                        root.setLevel(level)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads or torch.get_num_threads()
                options.inter_op_num_threads = 1
                with open(quantized, "rb") as file:
                    self.session = onnxruntime.InferenceSession(file.read(), options, providers=["CPUExecutionProvider"])
        finally:
            module.train(was_training)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _check_call("OnnxInt8Encoder", args, kwargs, self.input_names)
        outputs = self.session.run(self.output_names, _int64_feed(kwargs, self.input_names))
        return self.output_type(**{name: torch.from_numpy(out) for name, out in zip(self.output_names, outputs)})
