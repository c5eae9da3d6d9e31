"""Plain PyTorch modules of the DGCNN encoder (no spaCy imports)."""
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F


class GatedDilatedConv(nn.Module):
    """Residual dilated gated 1-D convolution (the DGCNN block).

    out = x * (1 - g) + v * g, with [v; g] = conv(x) and g = sigmoid: the gate decides, per token
    and channel, how much of the convolved value replaces the input, so stacking blocks never
    blocks the gradient path (the residual), and dilation widens the context cheaply.
    """

    def __init__(self, width: int, dilation: int, kernel_size: int = 3, dropout: float = 0.1):
        super().__init__()
        if kernel_size % 2 != 1 or dilation < 1:
            raise ValueError(f"DGCNN: kernel_size must be odd and dilation >= 1, got {kernel_size}, {dilation}.")
        self.conv = nn.Conv1d(width, 2 * width, kernel_size, dilation=dilation, padding=dilation * (kernel_size - 1) // 2)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor, is_train: bool = False) -> torch.Tensor:
        h = self.conv((x * mask).transpose(1, 2)).transpose(1, 2)
        value, gate = h.chunk(2, dim=-1)
        gate = torch.sigmoid(gate)
        return (x * (1 - gate) + F.dropout(value, self.dropout, training=is_train) * gate) * mask


class BlockAttention(nn.Module):
    """Multi-head self-attention inside fixed blocks of ``block`` tokens (memory linear in length)."""

    def __init__(self, width: int, n_heads: int, block: int, dropout: float = 0.1):
        super().__init__()
        if width % n_heads:
            raise ValueError(f"DGCNN: width {width} must be divisible by attention_heads {n_heads}.")
        self.block = block
        self.attn = nn.MultiheadAttention(width, n_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, is_train: bool = False) -> torch.Tensor:
        n, length, width = x.shape
        block = min(self.block, length)
        pad = (-length) % block
        xb = torch.nn.functional.pad(x, (0, 0, 0, pad)).reshape(-1, block, width)
        valid = torch.nn.functional.pad(mask[..., 0] > 0, (0, pad)).reshape(-1, block)
        # a block of padding only would attend to nothing (NaN): let it see its first position;
        # its outputs are zeroed by the mask below anyway
        empty = ~valid.any(dim=1)
        key_padding = ~valid
        key_padding[empty, 0] = False
        # the functional form, so that attention dropout follows is_train and not the module's mode
        a = self.attn
        xt = xb.transpose(0, 1)
        out, _ = F.multi_head_attention_forward(
            xt, xt, xt, a.embed_dim, a.num_heads, a.in_proj_weight, a.in_proj_bias, a.bias_k, a.bias_v,
            a.add_zero_attn, a.dropout, a.out_proj.weight, a.out_proj.bias, training=is_train,
            key_padding_mask=key_padding, need_weights=False,
        )
        out = out.transpose(0, 1).reshape(n, length + pad, width)[:, :length]
        return self.norm(x + out) * mask


class DGCNNEncoder(nn.Module):
    """Projection -> residual dilated gated convolutions -> optional block self-attention."""


    def __init__(
        self,
        n_in: Optional[int],
        width: int,
        dilations,
        kernel_size: int = 3,
        dropout: float = 0.1,
        attention_heads: int = 0,
        attention_block: int = 128,
    ):
        super().__init__()
        # n_in None: the embedding width is taken from the first input (and from a saved state)
        self.project = nn.LazyLinear(width) if n_in is None else nn.Linear(n_in, width)
        self.blocks = nn.ModuleList(GatedDilatedConv(width, d, kernel_size, dropout) for d in dilations)
        self.attention = BlockAttention(width, attention_heads, attention_block, dropout) if attention_heads else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, is_train: bool = False) -> torch.Tensor:
        pos = torch.arange(x.shape[1], device=x.device)
        mask = (pos[None, :] < lengths[:, None]).to(x.dtype)[..., None]
        h = self.project(x) * mask
        for block in self.blocks:
            h = block(h, mask, is_train)
        if self.attention is not None:
            h = self.attention(h, mask, is_train)
        return h
