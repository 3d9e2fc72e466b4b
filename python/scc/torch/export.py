"""``export``: a PyTorch model to an scc model (``.sc``) and its weights (``.safetensors``).

The model is traced by ``torch.fx`` (in eval mode; ``StructuredConv2d`` and
``StructuredLinear`` are leaves) and its shapes propagated on ``example_input``; every node
becomes one ``let`` of a flat ``.sc`` model named after the node (a module's node after its
path, ``layer1.0.conv1`` → ``layer1_0_conv1``, so its weights are
``layer1_0_conv1.weight``, ...). Supported: ``nn.Conv2d``, ``StructuredConv2d``,
``nn.BatchNorm2d``, ``nn.Linear``, ``StructuredLinear``, the activations of the language
(ReLU, ReLU6, Sigmoid, Tanh, SiLU, Hardswish, Hardsigmoid), max/avg/global-average pooling,
``+`` and ``*`` (same shape, or an ``[N, C, 1, 1]`` operand), ``torch.cat`` over channels,
flatten (and the equivalent ``view``/``reshape``), softmax over dim 1, ``F.interpolate`` /
``nn.Upsample`` by an integer factor (nearest, bilinear), identity and dropout — as modules,
``torch.nn.functional`` functions or tensor methods. Anything else raises ``ExportError``
naming the node.
"""

from __future__ import annotations

import operator
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

import scc

from .modules import StructuredConv2d, StructuredLinear, _conv_padding


class ExportError(scc.Error):
    """A model (or one of its nodes) that ``export`` cannot express in ``.sc``; the
    message names the node."""


@dataclass
class Exported:
    """What ``export`` wrote."""

    model: pathlib.Path
    """The ``.sc`` file."""
    weights: pathlib.Path
    """The ``.safetensors`` file beside it."""
    inputs: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    outputs: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    max_abs_diff: float | None = None
    """``max |scc − PyTorch|`` on ``example_input`` when ``check`` ran."""


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, (StructuredConv2d, StructuredLinear)):
            return True
        return super().is_leaf_module(m, qualname)


_KEYWORDS = {"model", "block", "let", "return", "int", "true", "false"}

_ACTIVATION_MODULES = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu",
    nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
}
_ACTIVATION_FUNCTIONS = {
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu", F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
}
_ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_IDENTITY_MODULES = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.AlphaDropout)


def _fmt_float(v: float) -> str:
    text = repr(float(v))
    return text if ("e" in text or "." in text) else text + ".0"


def _fmt_pair(pair) -> str:
    a, b = (pair, pair) if isinstance(pair, int) else tuple(pair)
    return str(a) if a == b else f"({a}, {b})"


class _Emitter:
    """Turns the traced graph into `.sc` statements and named weights."""

    def __init__(self, gm: torch.fx.GraphModule):
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.lines: list[str] = []
        self.weights: dict[str, np.ndarray] = {}
        self.value: dict[torch.fx.Node, str] = {}  # node -> the let name holding it
        self.used: set[str] = set()

    # -- names and shapes ---------------------------------------------------------------
    def fresh(self, base: str) -> str:
        name = re.sub(r"[^A-Za-z0-9_]", "_", base) or "v"
        if not re.match(r"[A-Za-z_]", name):
            name = "v_" + name
        if name in _KEYWORDS:
            name += "_"
        candidate, i = name, 1
        while candidate in self.used:
            candidate, i = f"{name}_{i}", i + 1
        self.used.add(candidate)
        return candidate

    @staticmethod
    def shape(node) -> tuple[int, ...] | None:
        meta = node.meta.get("tensor_meta") if isinstance(node, torch.fx.Node) else None
        return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None

    def fail(self, node: torch.fx.Node, why: str):
        target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", repr(node.target))
        if node.op == "call_module":
            kind = f"module `{target}` ({type(self.modules[node.target]).__name__})"
        elif node.op == "call_function":
            kind = f"function `{target}`"
        elif node.op == "call_method":
            kind = f"method `.{target}()`"
        else:
            kind = f"{node.op} `{target}`"
        raise ExportError(f"cannot export node `{node.name}` ({kind}): {why}")

    def operand(self, node: torch.fx.Node, arg) -> str:
        if not isinstance(arg, torch.fx.Node) or arg not in self.value:
            self.fail(node, f"operand {arg!r} is not a tensor computed by the model")
        return self.value[arg]

    def let(self, node: torch.fx.Node, base: str, expr: str, weights: dict[str, torch.Tensor] | None = None):
        name = self.fresh(base)
        self.lines.append(f"    let {name} = {expr};")
        for suffix, tensor in (weights or {}).items():
            self.weights[f"{name}.{suffix}"] = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
        self.value[node] = name

    def attr(self, node: torch.fx.Node, arg, what: str) -> torch.Tensor:
        if isinstance(arg, torch.fx.Node) and arg.op == "get_attr":
            value = self.gm
            for part in arg.target.split("."):
                value = getattr(value, part)
            if isinstance(value, torch.Tensor):
                return value
        self.fail(node, f"its {what} must be a parameter or buffer of the model")

    # -- ops ----------------------------------------------------------------------------
    def conv(self, node, x, weight, bias, stride, padding, dilation, groups):
        if isinstance(padding, str):
            if padding == "valid":
                padding = 0
            else:
                self.fail(node, f"padding={padding!r}: give the padding as ints")
        dil = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
        if dil[0] != dil[1]:
            self.fail(node, f"dilation={dil}: .sc takes one dilation for both axes")
        out, _, kh, kw = weight.shape
        args = [x, str(out), f"kernel={_fmt_pair((kh, kw))}"]
        if _fmt_pair(stride) != "1":
            args.append(f"stride={_fmt_pair(stride)}")
        if _fmt_pair(padding) != "0":
            args.append(f"pad={_fmt_pair(padding)}")
        if dil[0] != 1:
            args.append(f"dilation={dil[0]}")
        if groups != 1:
            args.append(f"groups={groups}")
        tensors = {"weight": weight}
        if bias is not None:
            args.append("bias=true")
            tensors["bias"] = bias
        return f"conv2d({', '.join(args)})", tensors

    def batchnorm(self, node, x, mean, var, weight, bias, eps, channels):
        if mean is None or var is None:
            self.fail(node, "batch norm without running statistics (track_running_stats=False) has no inference form")
        weight = torch.ones(channels) if weight is None else weight
        bias = torch.zeros(channels) if bias is None else bias
        expr = f"batchnorm({x})" if eps == 1e-5 else f"batchnorm({x}, eps={_fmt_float(eps)})"
        return expr, {"weight": weight, "bias": bias, "running_mean": mean, "running_var": var}

    def pool(self, node, op, x, kernel, stride, padding, ceil_mode, extra_ok=True, why=""):
        if ceil_mode:
            self.fail(node, "ceil_mode=True is not supported")
        if not extra_ok:
            self.fail(node, why)
        stride = kernel if stride is None or stride == [] or stride == () else stride
        args = [x, f"kernel={_fmt_pair(kernel)}"]
        if _fmt_pair(stride) != _fmt_pair(kernel):
            args.append(f"stride={_fmt_pair(stride)}")
        if _fmt_pair(padding) != "0":
            args.append(f"pad={_fmt_pair(padding)}")
        return f"{op}({', '.join(args)})"

    def global_pool(self, node, x, output_size, in_shape):
        size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        if size == (1, 1):
            return f"global_avgpool({x})"
        if in_shape is not None and tuple(in_shape[2:]) == size:
            return None  # identity
        self.fail(node, f"adaptive average pooling to {size} (only to 1x1)")

    def binary(self, node, op, a, b):
        sa, sb = self.shape(a), self.shape(b)
        if sa is None or sb is None:
            self.fail(node, f"`{op}` with a constant: .sc has `{op}` of two tensors only")
        x, y = self.operand(node, a), self.operand(node, b)
        if sa == sb:
            return f"{x} {op} {y}"
        broadcast = lambda s, t: len(s) == 4 and len(t) == 4 and s[:2] == t[:2] and s[2:] == (1, 1)
        if broadcast(sb, sa):
            return f"{x} {op} {y}"
        if broadcast(sa, sb):
            return f"{y} {op} {x}"
        self.fail(node, f"shapes {list(sa)} and {list(sb)}: `{op}` needs equal shapes or an [N, C, 1, 1] operand")

    def upsample(self, node, x, size, scale, mode, align_corners, in_shape, out_shape):
        if mode not in ("nearest", "bilinear"):
            self.fail(node, f"mode={mode!r} (only nearest and bilinear)")
        if mode == "bilinear" and align_corners:
            self.fail(node, "align_corners=True (scc's bilinear is align_corners=False)")
        factors = {out_shape[2] / in_shape[2], out_shape[3] / in_shape[3]}
        if len(factors) != 1 or not float(next(iter(factors))).is_integer():
            self.fail(node, f"from {list(in_shape[2:])} to {list(out_shape[2:])}: only one integer scale factor")
        factor = int(next(iter(factors)))
        if mode == "nearest":
            return f"upsample({x}, {factor})"
        return f'upsample({x}, {factor}, mode="bilinear")'

    def reshape_like_flatten(self, node, x_node):
        sin, sout = self.shape(x_node), self.shape(node)
        if sin == sout:
            return None
        if sin is not None and sout is not None and len(sin) == 4 and sout == (sin[0], sin[1] * sin[2] * sin[3]):
            return f"flatten({self.operand(node, x_node)})"
        self.fail(node, f"reshape from {list(sin or [])} to {list(sout or [])}: only flattening [N, C, H, W] to [N, C*H*W]")

    # -- dispatch -----------------------------------------------------------------------
    def emit(self, node: torch.fx.Node):
        if node.op == "call_module":
            self.emit_module(node)
        elif node.op == "call_function":
            self.emit_function(node)
        elif node.op == "call_method":
            self.emit_method(node)
        elif node.op == "get_attr":
            pass  # consumed by the functional conv / linear / batchnorm forms
        else:
            self.fail(node, "unexpected node kind")

    def alias(self, node, source):
        self.value[node] = self.operand(node, source)

    def emit_module(self, node):
        m = self.modules[node.target]
        base = node.target.replace(".", "_")
        x_node = node.args[0] if node.args else None
        x = self.operand(node, x_node)
        if node.kwargs or len(node.args) != 1:
            self.fail(node, "a module called with more than one argument")
        if isinstance(m, StructuredConv2d):
            args = [x, str(m.out_channels), f"kernel={_fmt_pair(m.kernel_size)}", f"c={m.c}", f"n={_fmt_pair(m.n)}"]
            if _fmt_pair(m.stride) != "1":
                args.append(f"stride={_fmt_pair(m.stride)}")
            if _fmt_pair(m.padding) != "0":
                args.append(f"pad={_fmt_pair(m.padding)}")
            if m.groups != 1:
                args.append(f"groups={m.groups}")
            tensors = {"alpha": m.alpha}
            if m.bias is not None:
                args.append("bias=true")
                tensors["bias"] = m.bias
            self.let(node, base, f"sconv2d({', '.join(args)})", tensors)
        elif isinstance(m, StructuredLinear):
            tensors = {"alpha": m.alpha}
            args = [x, str(m.out_features), f"c={m.c}"]
            if m.bias is not None:
                tensors["bias"] = m.bias
            else:
                args.append("bias=false")
            self.let(node, base, f"slinear({', '.join(args)})", tensors)
        elif isinstance(m, nn.Conv2d):
            try:
                padding = _conv_padding(m)
            except ValueError as e:
                self.fail(node, str(e))
            self.let(node, base, *self.conv(node, x, m.weight, m.bias, m.stride, padding, m.dilation, m.groups))
        elif isinstance(m, nn.Linear):
            if len(self.shape(x_node) or ()) != 2:
                self.fail(node, "nn.Linear on a tensor that is not [N, F]")
            tensors = {"weight": m.weight}
            args = [x, str(m.out_features)]
            if m.bias is not None:
                tensors["bias"] = m.bias
            else:
                args.append("bias=false")
            self.let(node, base, f"linear({', '.join(args)})", tensors)
        elif isinstance(m, nn.BatchNorm2d):
            self.let(node, base, *self.batchnorm(node, x, m.running_mean, m.running_var, m.weight, m.bias, m.eps, m.num_features))
        elif type(m) in _ACTIVATION_MODULES:
            self.let(node, base, f"{_ACTIVATION_MODULES[type(m)]}({x})")
        elif isinstance(m, nn.MaxPool2d):
            ok = m.dilation in (1, (1, 1)) and not m.return_indices
            self.let(node, base, self.pool(node, "maxpool", x, m.kernel_size, m.stride, m.padding, m.ceil_mode, ok, "dilation or return_indices"))
        elif isinstance(m, nn.AvgPool2d):
            ok = m.count_include_pad and m.divisor_override is None
            self.let(node, base, self.pool(node, "avgpool", x, m.kernel_size, m.stride, m.padding, m.ceil_mode, ok, "count_include_pad=False or divisor_override"))
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            expr = self.global_pool(node, x, m.output_size, self.shape(x_node))
            self.alias(node, x_node) if expr is None else self.let(node, base, expr)
        elif isinstance(m, nn.Flatten):
            if m.end_dim != -1 or m.start_dim != 1:
                self.fail(node, "flatten other than from dim 1 to the end")
            expr = self.reshape_like_flatten(node, x_node)
            self.alias(node, x_node) if expr is None else self.let(node, base, expr)
        elif isinstance(m, nn.Softmax):
            if m.dim not in (1, -1 if len(self.shape(x_node) or ()) == 2 else 1):
                self.fail(node, f"softmax over dim {m.dim} (only dim 1)")
            self.let(node, base, f"softmax({x})")
        elif isinstance(m, nn.Upsample):
            self.let(node, base, self.upsample(node, x, m.size, m.scale_factor, m.mode, m.align_corners, self.shape(x_node), self.shape(node)))
        elif isinstance(m, _IDENTITY_MODULES):
            self.alias(node, x_node)
        else:
            self.fail(node, "this module has no .sc equivalent")

    def emit_function(self, node):
        fn = node.target
        args, kwargs = list(node.args), dict(node.kwargs)

        def arg(i, key, default=None):
            return args[i] if len(args) > i else kwargs.get(key, default)

        if fn in _ACTIVATION_FUNCTIONS:
            self.let(node, node.name, f"{_ACTIVATION_FUNCTIONS[fn]}({self.operand(node, args[0])})")
        elif fn in (operator.add, torch.add, operator.iadd):
            if arg(2, "alpha", 1) != 1:
                self.fail(node, "add with alpha")
            self.let(node, node.name, self.binary(node, "+", args[0], args[1]))
        elif fn in (operator.mul, torch.mul, operator.imul):
            self.let(node, node.name, self.binary(node, "*", args[0], args[1]))
        elif fn is torch.cat or fn is torch.concat:
            tensors = arg(0, "tensors")
            dim = arg(1, "dim", 0)
            rank = len(self.shape(tensors[0]) or ())
            if dim not in (1, 1 - rank):
                self.fail(node, f"concatenation over dim {dim} (only dim 1)")
            self.let(node, node.name, f"concat({', '.join(self.operand(node, t) for t in tensors)})")
        elif fn is torch.flatten:
            if arg(1, "start_dim", 0) != 1 or arg(2, "end_dim", -1) != -1:
                self.fail(node, "flatten other than from dim 1 to the end")
            expr = self.reshape_like_flatten(node, args[0])
            self.alias(node, args[0]) if expr is None else self.let(node, node.name, expr)
        elif fn is F.max_pool2d:
            ok = arg(4, "dilation", 1) in (1, (1, 1)) and not arg(6, "return_indices", False)
            self.let(node, node.name, self.pool(node, "maxpool", self.operand(node, args[0]), arg(1, "kernel_size"), arg(2, "stride"), arg(3, "padding", 0), arg(5, "ceil_mode", False), ok, "dilation or return_indices"))
        elif fn is F.avg_pool2d:
            ok = arg(5, "count_include_pad", True) and arg(6, "divisor_override") is None
            self.let(node, node.name, self.pool(node, "avgpool", self.operand(node, args[0]), arg(1, "kernel_size"), arg(2, "stride"), arg(3, "padding", 0), arg(4, "ceil_mode", False), ok, "count_include_pad=False or divisor_override"))
        elif fn is F.adaptive_avg_pool2d:
            expr = self.global_pool(node, self.operand(node, args[0]), arg(1, "output_size"), self.shape(args[0]))
            self.alias(node, args[0]) if expr is None else self.let(node, node.name, expr)
        elif fn is F.softmax or fn is torch.softmax:
            dim = arg(1, "dim")
            rank = len(self.shape(args[0]) or ())
            if dim not in (1, 1 - rank):
                self.fail(node, f"softmax over dim {dim} (only dim 1)")
            self.let(node, node.name, f"softmax({self.operand(node, args[0])})")
        elif fn is F.interpolate:
            self.let(node, node.name, self.upsample(node, self.operand(node, args[0]), arg(1, "size"), arg(2, "scale_factor"), arg(3, "mode", "nearest"), arg(4, "align_corners"), self.shape(args[0]), self.shape(node)))
        elif fn is F.conv2d:
            weight = self.attr(node, arg(1, "weight"), "weight")
            bias_node = arg(2, "bias")
            bias = None if bias_node is None else self.attr(node, bias_node, "bias")
            self.let(node, node.name, *self.conv(node, self.operand(node, args[0]), weight, bias, arg(3, "stride", 1), arg(4, "padding", 0), arg(5, "dilation", 1), arg(6, "groups", 1)))
        elif fn is F.linear:
            weight = self.attr(node, arg(1, "weight"), "weight")
            bias_node = arg(2, "bias")
            tensors = {"weight": weight}
            extra = ""
            if bias_node is None:
                extra = ", bias=false"
            else:
                tensors["bias"] = self.attr(node, bias_node, "bias")
            self.let(node, node.name, f"linear({self.operand(node, args[0])}, {weight.shape[0]}{extra})", tensors)
        elif fn is F.batch_norm:
            if arg(5, "training", False):
                self.fail(node, "batch norm in training mode")
            mean = self.attr(node, arg(1, "running_mean"), "running_mean")
            var = self.attr(node, arg(2, "running_var"), "running_var")
            w = arg(3, "weight")
            b = arg(4, "bias")
            self.let(node, node.name, *self.batchnorm(node, self.operand(node, args[0]), mean, var, None if w is None else self.attr(node, w, "weight"), None if b is None else self.attr(node, b, "bias"), arg(7, "eps", 1e-5), mean.shape[0]))
        elif fn in (F.dropout, F.dropout2d, torch.dropout):
            self.alias(node, args[0])
        elif fn is operator.getitem or fn is getattr:
            if self.shape(node) is not None:
                self.fail(node, "indexing a tensor")
        else:
            self.fail(node, "this function has no .sc equivalent")

    def emit_method(self, node):
        method = node.target
        args = list(node.args)
        if method in _ACTIVATION_METHODS:
            self.let(node, node.name, f"{_ACTIVATION_METHODS[method]}({self.operand(node, args[0])})")
        elif method in ("add", "add_", "__add__"):
            self.let(node, node.name, self.binary(node, "+", args[0], args[1]))
        elif method in ("mul", "mul_", "__mul__"):
            self.let(node, node.name, self.binary(node, "*", args[0], args[1]))
        elif method in ("view", "reshape", "flatten"):
            if method == "flatten":
                start = args[1] if len(args) > 1 else node.kwargs.get("start_dim", 0)
                end = args[2] if len(args) > 2 else node.kwargs.get("end_dim", -1)
                if (start, end) != (1, -1):
                    self.fail(node, "flatten other than from dim 1 to the end")
            expr = self.reshape_like_flatten(node, args[0])
            self.alias(node, args[0]) if expr is None else self.let(node, node.name, expr)
        elif method == "softmax":
            dim = args[1] if len(args) > 1 else node.kwargs.get("dim")
            if dim not in (1, 1 - len(self.shape(args[0]) or ())):
                self.fail(node, f"softmax over dim {dim} (only dim 1)")
            self.let(node, node.name, f"softmax({self.operand(node, args[0])})")
        elif method in ("contiguous", "float", "clone", "detach"):
            self.alias(node, args[0])
        elif method in ("size", "dim") and self.shape(node) is None:
            pass  # a compile-time value, used by a reshape
        else:
            self.fail(node, "this tensor method has no .sc equivalent")


def export(
    model: nn.Module,
    example_input: Any,
    path,
    *,
    model_name: str | None = None,
    check: bool = True,
    rtol: float = 1e-4,
) -> Exported:
    """Writes ``model`` as ``path`` (``.sc``) and its weights as the ``.safetensors`` file
    beside it (same stem), by tracing it with ``torch.fx`` in eval mode on
    ``example_input`` (one tensor, or a tuple of tensors: one per ``forward`` argument;
    its shapes become the model's input shapes). The model's mode is restored afterwards.

    With ``check`` (the default), scc compiles the written files and runs them on
    ``example_input``; an output differing from PyTorch's by more than
    ``rtol · max(1, max |PyTorch|)`` is an ``ExportError``.

    Raises ``ExportError`` naming the first node that ``.sc`` cannot express.
    """
    path = pathlib.Path(path)
    weights_path = path.with_suffix(".safetensors")
    inputs = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    if not all(isinstance(t, torch.Tensor) for t in inputs):
        raise TypeError("example_input must be a tensor or a tuple of tensors")
    was_training = model.training
    model.eval()
    try:
        try:
            graph = _Tracer().trace(model)
        except Exception as e:  # torch.fx's own message says which construct it cannot trace
            raise ExportError(f"torch.fx cannot trace the model: {e}") from e
        gm = torch.fx.GraphModule(model, graph)
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(inputs):
            raise ExportError(f"the model takes {len(placeholders)} inputs, example_input gives {len(inputs)}")
        with torch.no_grad():
            ShapeProp(gm).propagate(*inputs)
            reference = model(*inputs)
        emitter = _Emitter(gm)
        declared = []
        for node, tensor in zip(placeholders, inputs):
            if tensor.dim() not in (2, 4):
                emitter.fail(node, f"input of shape {list(tensor.shape)}: .sc inputs are [N, F] or [N, C, H, W]")
            name = emitter.fresh(node.name)
            emitter.value[node] = name
            declared.append((name, tuple(tensor.shape)))
        outputs = None
        for node in gm.graph.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                outputs = node.args[0]
                break
            emitter.emit(node)
        results = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
        returned = []
        for value in results:
            if not isinstance(value, torch.fx.Node) or value not in emitter.value:
                raise ExportError(f"the model returns {value!r}, which is not a tensor it computes")
            returned.append(emitter.value[value])
        name = emitter.fresh(model_name or re.sub(r"\W", "_", type(model).__name__).lower())
        header = ", ".join(f"{n}: [{', '.join(map(str, s))}]" for n, s in declared)
        text = "\n".join(
            [
                f"// Exported from PyTorch ({type(model).__name__}) by scc.torch.export.",
                f"model {name}({header}) {{",
                *emitter.lines,
                f"    return {', '.join(returned)};",
                "}",
                "",
            ]
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        scc.save_safetensors(weights_path, emitter.weights)
    finally:
        model.train(was_training)

    references = list(reference) if isinstance(reference, (tuple, list)) else [reference]
    exported = Exported(path, weights_path, declared)
    compiled = scc.compile(path, weights_path)
    exported.outputs = compiled.outputs
    if check:
        feed = {n: t.detach().cpu().float().numpy() for (n, _), t in zip(declared, inputs)}
        got = compiled.run(None, feed)
        worst = 0.0
        for (out_name, _), ours, theirs in zip(compiled.outputs, got, references):
            theirs = theirs.detach().cpu().double().numpy()
            diff = float(np.abs(ours.astype(np.float64) - theirs).max(initial=0.0))
            scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
            if diff > rtol * scale:
                raise ExportError(
                    f"output `{out_name}` of the exported model differs from PyTorch's by {diff:.3e} "
                    f"(tolerance {rtol * scale:.3e})"
                )
            worst = max(worst, diff)
        exported.max_abs_diff = worst
    return exported
