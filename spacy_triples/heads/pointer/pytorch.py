"""Plain PyTorch modules of the CasRel-style pointer head (no spaCy imports)."""
from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from ...glue import full_precision


class ConditionalLayerNorm(nn.Module):
    """Layer normalisation whose gain and bias are shifted by a condition vector (bert4keras).

    y = (x - mean) / std * (g + W_g c) + (b + W_b c). W_g and W_b start at zero, so the layer
    begins as a plain layer norm and learns how the subject should reshape every token.
    """

    def __init__(self, width: int, cond_width: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))
        self.cond_weight = nn.Linear(cond_width, width, bias=False)
        self.cond_bias = nn.Linear(cond_width, width, bias=False)
        nn.init.zeros_(self.cond_weight.weight)
        nn.init.zeros_(self.cond_bias.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        normed = (x - mean) / torch.sqrt(var + self.eps)
        gain = self.weight + self.cond_weight(cond)[:, None, :]
        shift = self.bias + self.cond_bias(cond)[:, None, :]
        return normed * gain + shift


class PointerTagger(nn.Module):
    """Half-pointer, half-tagging (CasRel-style) triple head.

    tokens: per token, subject start/end logits per entity type, plus object-type start/end logits
    (used to type the objects found by the conditional pass). objects: for one subject, the tokens
    of a slice of its doc are conditioned on the subject's start and end vectors (conditional
    layer norm, or adding their mean as CasRel does) and tagged with object start/end logits per
    relation. The encoder output is computed once; only this small head runs per subject.
    """

    def __init__(
        self,
        width: int,
        n_relations: int,
        n_entity_types: int = 1,
        condition: str = "layernorm",
        dropout: float = 0.1,
        max_distance: int = 32,
    ):
        super().__init__()
        if condition not in ("layernorm", "add"):
            raise ValueError(f"PointerHead: condition must be 'layernorm' or 'add', got {condition!r}.")
        self.condition = condition
        self.dropout = dropout
        self.tokens = nn.Linear(width, 4 * n_entity_types)
        self.cln = ConditionalLayerNorm(width, 2 * width) if condition == "layernorm" else None
        # Relative distance to the subject: BERT-based CasRel gets it from absolute positions, but
        # a CNN gives repeated words identical vectors, so the head is told where the subject is.
        self.distance = nn.Embedding(2 * max_distance + 1, width) if max_distance > 0 else None
        self.objects = nn.Linear(width, 2 * n_relations)
        # Start every pointer at p = 0.01 (bias -4.6): an untrained head then proposes nothing,
        # instead of half of all tokens as subjects, each with half of all tokens as objects.
        nn.init.constant_(self.tokens.bias, -4.6)
        nn.init.constant_(self.objects.bias, -4.6)

    def forward(
        self,
        x: torch.Tensor,
        slice_index: Optional[torch.Tensor] = None,
        cond_index: Optional[torch.Tensor] = None,
        distance: Optional[torch.Tensor] = None,
        mode: str = "both",
        is_train: bool = False,
    ) -> Tuple[torch.Tensor, ...]:
        """x: (total + 1, D) token vectors of a batch with a padding row last. slice_index (K, S):
        rows of x searched for each subject's objects; cond_index (K, 2): rows of the subject's
        first and last token; distance (K, S): bucketed token-to-subject distance."""
        x = F.dropout(x, self.dropout, training=is_train)
        out = []
        if mode in ("both", "tokens"):
            out.append(full_precision(self.tokens(x[:-1])))
        if mode in ("both", "objects"):
            xs = x[slice_index]
            cond = x[cond_index]
            if self.cln is not None:
                h = self.cln(xs, cond.reshape(cond.shape[0], -1))
            else:
                h = xs + cond.mean(dim=1)[:, None, :]
            if self.distance is not None:
                h = h + self.distance(distance)
            out.append(full_precision(self.objects(h)))
        return tuple(out)
