"""``spacy_triples.LayerwiseAdam.v1``: thinc's Adam with layer-wise learning-rate decay.

Fine-tuning a pretrained encoder on a thousand sentences, the lower layers (general features of
the language) need to move less than the top ones (features for this task). Layer-wise decay
(ELECTRA, "Revisiting few-sample BERT fine-tuning") gives every encoder layer its own rate: the
top layer learns at the optimizer's rate, each layer below it at ``layer_decay`` times the one
above, and the embeddings at ``layer_decay ** num_layers``:

    [training.optimizer]
    @optimizers = "spacy_triples.LayerwiseAdam.v1"
    layer_decay = 0.8
    num_layers = 6          # the encoder's layers: MiniLM has 6, BERT-base 12
    # ... and Adam.v1's settings (learn_rate, L2, beta1, grad_clip, use_averages ...)

A parameter's layer is read from its name as PyTorch reports it (spacy-transformers keeps the
Hugging Face names): ``encoder.layer.3.attention.self.query.weight`` is layer 3,
``embeddings.LayerNorm.weight`` is below layer 0. Every other parameter (the pooler, the
triple_extractor's head, thinc layers) learns at the optimizer's rate, times any ``lr_scale``
its component asks for (``head_learn_rate_scale``).
"""
import re
from typing import Dict, Optional, Tuple

from thinc.api import Optimizer
from thinc.types import FloatsXd

LAYER_PATTERN = r"(?:^|\.)layer\.(\d+)\."
EMBEDDINGS_PATTERN = r"(?:^|\.)embeddings\."


def _check(layer_decay, num_layers, layer_pattern, embeddings_pattern) -> None:
    where = "spacy_triples.LayerwiseAdam.v1"
    if isinstance(layer_decay, bool) or not isinstance(layer_decay, (int, float)) or not 0 < layer_decay <= 1:
        raise ValueError(f"{where}: layer_decay must be a number in (0, 1] (1 turns the decay off), got {layer_decay!r}.")
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(
            f"{where}: num_layers must be the encoder's number of layers, a positive integer "
            f"(all-MiniLM-L6-v2 has 6, BERT-base 12), got {num_layers!r}."
        )
    for what, pattern in (("layer_pattern", layer_pattern), ("embeddings_pattern", embeddings_pattern)):
        try:
            compiled = re.compile(pattern)
        except (re.error, TypeError) as err:
            raise ValueError(f"{where}: {what} is not a regular expression ({err}): {pattern!r}.") from None
        if what == "layer_pattern" and compiled.groups != 1:
            raise ValueError(
                f"{where}: layer_pattern must have exactly one group that captures the layer number "
                f"(e.g. {LAYER_PATTERN!r}), got {pattern!r}."
            )


def layer_scale(
    name: str,
    layer_decay: float,
    num_layers: int,
    layer_pattern: str = LAYER_PATTERN,
    embeddings_pattern: str = EMBEDDINGS_PATTERN,
) -> float:
    """The factor on the learning rate of the parameter called ``name``: ``layer_decay ** (num_layers
    - 1 - i)`` for layer ``i`` (0 is the lowest), ``layer_decay ** num_layers`` for the embeddings, 1
    for anything else. Raises ValueError for a layer number that ``num_layers`` does not allow."""
    match = re.search(layer_pattern, name)
    if match is not None:
        index = int(match.group(1))
        if index >= num_layers:
            raise ValueError(
                f"spacy_triples.LayerwiseAdam.v1: parameter {name!r} is in layer {index}, but num_layers "
                f"is {num_layers}: set num_layers to the encoder's number of layers."
            )
        return float(layer_decay ** (num_layers - 1 - index))
    if re.search(embeddings_pattern, name) is not None:
        return float(layer_decay ** num_layers)
    return 1.0


class LayerwiseOptimizer(Optimizer):
    """thinc's Optimizer, with each update's ``lr_scale`` multiplied by ``layer_scale`` of the
    parameter's name (the second part of its key)."""

    def __init__(
        self,
        learn_rate,
        *,
        layer_decay: float,
        num_layers: int,
        layer_pattern: str = LAYER_PATTERN,
        embeddings_pattern: str = EMBEDDINGS_PATTERN,
        **kwargs,
    ):
        _check(layer_decay, num_layers, layer_pattern, embeddings_pattern)
        super().__init__(learn_rate, **kwargs)
        self.layer_decay = float(layer_decay)
        self.num_layers = int(num_layers)
        self.layer_pattern = layer_pattern
        self.embeddings_pattern = embeddings_pattern
        self._scales: Dict[str, float] = {}

    def scale_for(self, key: Tuple[int, str]) -> float:
        name = key[1] if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], str) else None
        if name is None:
            return 1.0
        scale = self._scales.get(name)
        if scale is None:
            scale = layer_scale(name, self.layer_decay, self.num_layers, self.layer_pattern, self.embeddings_pattern)
            self._scales[name] = scale
        return scale

    def __call__(self, key: Tuple[int, str], weights: FloatsXd, gradient: FloatsXd, *, lr_scale: float = 1.0):
        return super().__call__(key, weights, gradient, lr_scale=lr_scale * self.scale_for(key))


def make_layerwise_adam(
    learn_rate=0.001,
    *,
    layer_decay: float,
    num_layers: int,
    L2=0.0,
    beta1=0.9,
    beta2=0.999,
    eps=1e-08,
    grad_clip=1.0,
    L2_is_weight_decay: bool = True,
    use_averages: bool = False,
    layer_pattern: str = LAYER_PATTERN,
    embeddings_pattern: str = EMBEDDINGS_PATTERN,
) -> LayerwiseOptimizer:
    """Registered as ``spacy_triples.LayerwiseAdam.v1``: Adam.v1's settings plus ``layer_decay``
    and ``num_layers`` (module docstring). ``use_averages`` defaults to false here (Adam.v1: true),
    as in the project's configs: averages reach PyTorch weights only with
    ``spacy_triples.torch_averages.v1``."""
    return LayerwiseOptimizer(
        learn_rate,
        layer_decay=layer_decay,
        num_layers=num_layers,
        layer_pattern=layer_pattern,
        embeddings_pattern=embeddings_pattern,
        L2=L2,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        grad_clip=grad_clip,
        L2_is_weight_decay=L2_is_weight_decay,
        use_averages=use_averages,
        use_radam=False,
    )
