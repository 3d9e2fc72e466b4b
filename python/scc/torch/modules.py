"""Structured layers parameterised by ``alpha``, as scc's ``sconv2d`` and ``slinear``.

Their forward pass is the paper's: a sum-pool (additions only) followed by a small
convolution / linear layer over ``alpha``; it equals the dense layer with the composed
kernel (``compose()``), and trains ``alpha`` directly.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .structure import LinearStructure, Structure


def _pair(value, what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 0 for v in pair):
        raise ValueError(f"{what} must be an int or a pair of ints >= 0, got {value!r}")
    return pair


class StructuredConv2d(nn.Module):
    """A 2-D convolution whose ``[out, in/groups, kh, kw]`` kernel is a superposition of
    ``c·nh·nw`` all-ones boxes of size ``(in/groups − c + 1) × (kh − nh + 1) × (kw − nw + 1)``,
    weighted by the parameter ``alpha [out, c, nh, nw]`` (scc's ``sconv2d``).

    ``forward`` zero-pads the input, sum-pools it with that box (over the channels of each
    group, height and width, stride 1) and convolves the result with ``alpha`` at the
    layer's stride, without padding — equal to ``F.conv2d(x, self.compose(), ...)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        c: int,
        n,
        stride=1,
        padding=0,
        groups: int = 1,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be multiples of groups ({groups})"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.n = _pair(n, "n")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError("kernel_size and stride must be >= 1")
        self.c = c
        self.structure = Structure(in_channels // groups, c, self.kernel_size, self.n)
        factory = {"device": device, "dtype": dtype}
        self.alpha = nn.Parameter(torch.empty(out_channels, c, *self.n, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``alpha`` = the projection of a kernel initialised as ``nn.Conv2d`` does
        (Kaiming-uniform with ``a = √5``); the bias as ``nn.Conv2d``'s."""
        dense = torch.empty(
            self.out_channels, self.in_channels // self.groups, *self.kernel_size,
            device=self.alpha.device, dtype=self.alpha.dtype,
        )
        nn.init.kaiming_uniform_(dense, a=math.sqrt(5))
        with torch.no_grad():
            self.alpha.copy_(self.structure.project(dense))
        if self.bias is not None:
            fan_in = dense[0].numel()
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def box(self) -> tuple[int, int, int]:
        """The sum-pool box: (channels, height, width)."""
        (kh, kw), (nh, nw) = self.kernel_size, self.n
        return (self.in_channels // self.groups - self.c + 1, kh - nh + 1, kw - nw + 1)

    def compose(self) -> torch.Tensor:
        """The dense kernel ``[out, in/groups, kh, kw]`` that ``alpha`` stands for."""
        return self.structure.compose(self.alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
        if self.box != (1, 1, 1):
            n, channels, h, w = x.shape
            grouped = x.reshape(n * self.groups, 1, channels // self.groups, h, w)
            pooled = F.avg_pool3d(grouped, self.box, stride=1, divisor_override=1)
            x = pooled.reshape(n, self.groups * self.c, pooled.shape[-2], pooled.shape[-1])
        return F.conv2d(x, self.alpha, self.bias, self.stride, 0, 1, self.groups)

    @classmethod
    def from_dense(cls, conv: nn.Conv2d, c: int, n) -> "StructuredConv2d":
        """The structured layer nearest to ``conv`` (``alpha = A⁺ vec(W)``, same bias)."""
        padding = _conv_padding(conv)
        if conv.dilation != (1, 1):
            raise ValueError("a structured convolution has no dilation")
        layer = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size, c, n, conv.stride, padding,
            conv.groups, conv.bias is not None, conv.weight.device, conv.weight.dtype,
        )
        with torch.no_grad():
            layer.alpha.copy_(layer.structure.project(conv.weight))
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)
        return layer

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, c={self.c}, "
            f"n={self.n}, stride={self.stride}, padding={self.padding}"
        )
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + f", bias={self.bias is not None}"


class StructuredLinear(nn.Module):
    """A linear layer whose ``[out, in]`` weight is a superposition of ``c`` all-ones
    boxes of length ``in − c + 1``, weighted by ``alpha [out, c]`` (scc's ``slinear``).

    ``forward`` sums each window of ``in − c + 1`` consecutive features (stride 1), then
    applies ``alpha`` — equal to ``F.linear(x, self.compose(), self.bias)``.
    """

    def __init__(self, in_features: int, out_features: int, c: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features, self.c = in_features, out_features, c
        self.structure = LinearStructure(in_features, c)
        factory = {"device": device, "dtype": dtype}
        self.alpha = nn.Parameter(torch.empty(out_features, c, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``alpha`` = the projection of a weight initialised as ``nn.Linear`` does."""
        dense = torch.empty(self.out_features, self.in_features, device=self.alpha.device, dtype=self.alpha.dtype)
        nn.init.kaiming_uniform_(dense, a=math.sqrt(5))
        with torch.no_grad():
            self.alpha.copy_(self.structure.project(dense))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    def compose(self) -> torch.Tensor:
        """The dense weight ``[out, in]`` that ``alpha`` stands for."""
        return self.structure.compose(self.alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = self.in_features - self.c + 1
        pooled = x.unfold(-1, window, 1).sum(-1) if window > 1 else x
        return F.linear(pooled, self.alpha, self.bias)

    @classmethod
    def from_dense(cls, linear: nn.Linear, c: int) -> "StructuredLinear":
        """The structured layer nearest to ``linear`` (``alpha = W (B⁺)ᵀ``, same bias)."""
        layer = cls(
            linear.in_features, linear.out_features, c, linear.bias is not None,
            linear.weight.device, linear.weight.dtype,
        )
        with torch.no_grad():
            layer.alpha.copy_(layer.structure.project(linear.weight))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, c={self.c}, bias={self.bias is not None}"


def _conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    """``conv``'s zero padding as a pair of ints (``'same'``/``'valid'`` resolved)."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"padding_mode={conv.padding_mode!r}: only zero padding is supported")
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0)
        pads = []
        for k, d in zip(conv.kernel_size, conv.dilation):
            total = d * (k - 1)
            if total % 2:
                raise ValueError("padding='same' with an even kernel pads asymmetrically, which .sc cannot express")
            pads.append(total // 2)
        return tuple(pads)
    return tuple(conv.padding)
