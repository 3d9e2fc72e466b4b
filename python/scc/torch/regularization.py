"""Structural Regularization (Bhalgat et al. 2020) and the projection it prepares.

Training a dense network with ``loss + λ · structural_regularization(model)`` drives each
chosen layer's kernel towards the structure; ``project(model)`` then replaces those layers
by structured ones (``alpha = A⁺ vec(W)``) at (almost) no cost in accuracy.
"""

from __future__ import annotations

from typing import Iterable, Union

import torch
import torch.nn as nn

from .modules import StructuredConv2d, StructuredLinear, _conv_padding
from .structure import LinearStructure, Structure

Layers = Union[Iterable[Union[str, nn.Module]], None]


def _resolve_c(c: Union[int, float], channels: int) -> int:
    """``c`` as an int: an int as is, a float as a fraction of ``channels`` (at least 1)."""
    if isinstance(c, bool):
        raise TypeError("c must be an int or a fraction (float), not a bool")
    if isinstance(c, int):
        return c
    if isinstance(c, float) and 0 < c <= 1:
        return max(1, round(c * channels))
    raise ValueError(f"c must be a positive int or a fraction in (0, 1], got {c!r}")


def _pair(n) -> tuple[int, int]:
    return (n, n) if isinstance(n, int) else tuple(n)


def _structure_of(module: nn.Module, c, n):
    """The structure (c, n) asks of a dense conv/linear layer, or the reason it cannot
    have it."""
    if isinstance(module, nn.Conv2d):
        if module.dilation != (1, 1):
            return "a structured convolution has no dilation"
        try:
            _conv_padding(module)
        except ValueError as e:
            return str(e)
        cg = module.in_channels // module.groups
        cc = _resolve_c(c, cg)
        nn_ = _pair(n)
        kernel = tuple(module.kernel_size)
        if not 1 <= cc <= cg:
            return f"c={cc} is not in 1..{cg} (its input channels per group)"
        if not all(1 <= a <= k for a, k in zip(nn_, kernel)):
            return f"n={nn_} does not fit its {kernel[0]}x{kernel[1]} kernel"
        return Structure(cg, cc, kernel, nn_)
    if isinstance(module, nn.Linear):
        cc = _resolve_c(c, module.in_features)
        if not 1 <= cc <= module.in_features:
            return f"c={cc} is not in 1..{module.in_features} (its input features)"
        return LinearStructure(module.in_features, cc)
    return f"{type(module).__name__} is not a dense nn.Conv2d or nn.Linear"


def select_layers(model: nn.Module, c=0.5, n=2, layers: Layers = None) -> dict[str, object]:
    """``{module name: Structure}`` of the dense layers the regulariser and ``project``
    act on.

    ``layers=None`` chooses every ``nn.Conv2d`` whose kernel can hold the structure (a
    kernel at least ``n`` on each side: 1×1 convolutions are skipped for ``n=2``, and so
    are dilated ones); otherwise ``layers`` names the modules (by ``named_modules()`` name
    or the module itself; ``nn.Conv2d`` or ``nn.Linear``) and a layer that cannot have
    the structure is an error naming it.
    """
    names = {id(m): name for name, m in model.named_modules()}
    chosen: dict[str, object] = {}
    if layers is None:
        for name, module in model.named_modules():
            if type(module) is nn.Conv2d or isinstance(module, nn.Conv2d):
                structure = _structure_of(module, c, n)
                if not isinstance(structure, str):
                    chosen[name] = structure
        return chosen
    modules = dict(model.named_modules())
    for layer in layers:
        if isinstance(layer, str):
            if layer not in modules:
                raise ValueError(f"the model has no module named {layer!r}")
            name, module = layer, modules[layer]
        elif isinstance(layer, nn.Module):
            if id(layer) not in names:
                raise ValueError(f"{type(layer).__name__} module is not part of the model")
            name, module = names[id(layer)], layer
        else:
            raise TypeError(f"layers must hold module names or modules, not {type(layer).__name__}")
        structure = _structure_of(module, c, n)
        if isinstance(structure, str):
            raise ValueError(f"layer {name!r} cannot be structured: {structure}")
        chosen[name] = structure
    return chosen


def structural_regularization(model: nn.Module, c=0.5, n=2, layers: Layers = None) -> torch.Tensor:
    """The paper's regulariser ``Σ ‖(I − A A⁺) W‖_F / ‖W‖_F`` over the chosen dense layers
    (see ``select_layers``; ``c`` an int or a fraction of each layer's input channels per
    group, ``n`` an int or an ``(nh, nw)`` pair as in the language). Differentiable; add
    ``λ ·`` it to the training loss. 0 when no layer is chosen."""
    chosen = select_layers(model, c, n, layers)
    modules = dict(model.named_modules())
    terms = [structure.relative_residual(modules[name].weight) for name, structure in chosen.items()]
    if not terms:
        p = next(model.parameters(), None)
        return torch.zeros((), device=None if p is None else p.device)
    return sum(terms)


@torch.no_grad()
def structure_residuals(model: nn.Module, c=0.5, n=2, layers: Layers = None) -> dict[str, float]:
    """``{layer: ‖(I − A A⁺) W‖_F / ‖W‖_F}`` of the chosen dense layers (in float64): what
    projecting each one would lose, as ``scc check --weights`` reports it."""
    chosen = select_layers(model, c, n, layers)
    modules = dict(model.named_modules())
    return {
        name: float(structure.relative_residual(modules[name].weight.double()))
        for name, structure in chosen.items()
    }


@torch.no_grad()
def project(model: nn.Module, c=0.5, n=2, layers: Layers = None, *, max_residual: float | None = None) -> nn.Module:
    """Replaces each chosen dense layer (see ``select_layers``) by the nearest structured
    one (``StructuredConv2d`` / ``StructuredLinear``, ``alpha = A⁺ vec(W)`` computed in
    float64, bias kept), in place; returns ``model``. With ``max_residual``, a layer whose
    relative residual exceeds it is an error (raised before anything is replaced)."""
    chosen = select_layers(model, c, n, layers)
    modules = dict(model.named_modules())
    if max_residual is not None:
        for name, structure in chosen.items():
            residual = float(structure.relative_residual(modules[name].weight.double()))
            if residual > max_residual:
                raise ValueError(
                    f"layer {name!r} is {residual:.3e} (relative) away from its structure, above max_residual={max_residual:g}"
                )
    for name, structure in chosen.items():
        dense = modules[name]
        if isinstance(dense, nn.Conv2d):
            layer = StructuredConv2d.from_dense(dense, structure.c, structure.n)
            with torch.no_grad():
                layer.alpha.copy_(structure.project(dense.weight.double()).to(dense.weight.dtype))
        else:
            layer = StructuredLinear.from_dense(dense, structure.c)
            with torch.no_grad():
                layer.alpha.copy_(structure.project(dense.weight.double()).to(dense.weight.dtype))
        layer.train(dense.training)
        _replace(model, name, layer)
    return model


def _replace(model: nn.Module, name: str, layer: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, layer)
