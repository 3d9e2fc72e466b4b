"""Type stubs of scc's extension module (re-exported by ``scc``)."""

import os
from typing import Any, Literal, Mapping, Sequence, overload

import numpy as np
import numpy.typing as npt

__version__: str

DEFAULT_MAX_STRUCTURE_ERROR: float
"""Largest relative residual ``‖W − compose(alpha)‖ / ‖W‖`` accepted when a dense kernel
is given for a structured layer (1e-3), as ``--max-structure-error`` on the CLI."""

ModelLike = str | os.PathLike[str]
"""A path to a ``.sc`` file or an ONNX file (``.onnx``, which brings its own weights and
input/output names), as ``str`` or ``os.PathLike``; or ``.sc`` source text (a ``str``
containing ``{``)."""

ArrayLike = npt.ArrayLike
"""Anything ``numpy.asarray`` accepts, of a floating-point dtype: float32 is used as is,
float16 and float64 are converted; any memory layout (Fortran order, strided or reversed
views) gives the same numbers."""

WeightsLike = str | os.PathLike[str] | Mapping[str, ArrayLike] | int | None
"""A safetensors file, a dict of arrays by weight name, an int seed for deterministic
random weights (He-uniform, calibrated batchnorms, as ``--random-weights``), or ``None``
for a model without weights. A PyTorch ``state_dict`` (saved, or as a dict of arrays or
tensors) binds as it is: keys in PyTorch's naming are mapped by ``s/\.([0-9]+)/_\1/g``
(``layer1.0.conv1.weight`` -> ``layer1_0.conv1.weight``), integer tensors such as
``num_batches_tracked`` are passed over."""

class Error(Exception):
    """Base class of every error scc raises. ``str(e)`` is the CLI's message (for source
    errors the located diagnostic with the source line)."""

    diagnostic: str
    """The full report, exactly as the CLI prints it (``error: ...``)."""

class SourceError(Error):
    """An error in the model text: syntax, names, arguments, shapes."""

    file: str | None
    """The file name the diagnostic shows (``<string>`` for source text)."""
    line: int | None
    """1-based line of the error's primary location (``None`` if it has none)."""
    column: int | None
    """1-based column (in characters) of the error's primary location."""

class FileError(Error):
    """A file that cannot be read or written, or is not valid safetensors."""

class WeightError(Error):
    """Weights that do not match the model: every missing (with its expected shape),
    unexpected, misshapen or non-finite tensor at once, and dense kernels too far from a
    structured layer's structure."""

class RunError(Error):
    """Inputs that do not match the model: a missing or unexpected name, a wrong shape,
    a dtype that is not floating point, an unknown output name."""

class PassError(Error):
    """An optimisation pass failed (verifier or translation validation)."""

class CodegenError(Error):
    """Code generation failed."""

class OnnxError(Error):
    """An ONNX file that cannot be read or imported (the message names the ONNX node)."""

class BuildError(Error):
    """``scc.build`` failed: no C compiler, linking, or writing the output."""

class CompiledModel:
    """A model compiled for one engine. ``run`` may be called from many Python threads at
    once: the GIL is released while the model runs."""

    @property
    def name(self) -> str:
        """The model's name (``model NAME(...)``)."""
    @property
    def inputs(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of every input, in declaration order."""
    @property
    def outputs(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of every output, in ``return`` order."""
    @property
    def engine(self) -> Literal["jit", "interp"]:
        """The engine that runs the model."""
    @property
    def threads(self) -> int:
        """Worker threads of a run (1 for the interpreter)."""
    @property
    def compile_ms(self) -> float:
        """Milliseconds spent optimising and generating code."""
    @property
    def projections(self) -> dict[str, float]:
        """Structured layers given a dense kernel, projected onto their structure:
        ``{layer: relative residual}``."""
    @property
    def skipped_weights(self) -> list[str]:
        """Tensors of the weights that are not weights (integer or boolean, such as a
        state_dict's ``num_batches_tracked``), passed over."""
    @property
    def renamed_weights(self) -> dict[str, str]:
        """Keys given in PyTorch's naming -> the ``.sc`` weight each was bound as
        (``layer1.0.conv1.weight`` -> ``layer1_0.conv1.weight``)."""
    @overload
    def run(self, input_feed: Mapping[str, ArrayLike], /) -> dict[str, np.ndarray]:
        """Runs the model: ``{input name: array}`` -> ``{output name: float32 array}``.

        Raises ``RunError`` (with the CLI's message) for a missing or unexpected input
        name, a wrong shape or a non-floating dtype."""
    @overload
    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, ArrayLike]
    ) -> list[np.ndarray]:
        """As ``onnxruntime.InferenceSession.run``: the outputs named by
        ``output_names`` (``None``: all, in ``return`` order), as a list."""
    def bench(
        self,
        runs: int = 20,
        input_feed: Mapping[str, ArrayLike] | None = None,
        *,
        warmup: int = 3,
    ) -> dict[str, Any]:
        """Times ``runs`` runs after ``warmup`` untimed ones, on ``input_feed`` or on
        seeded random inputs uniform in [-1, 1].

        Returns ``model``, ``engine``, ``threads``, ``runs``, ``warmup``, ``compile_ms``,
        ``median_ms``, ``mean_ms``, ``min_ms``, ``max_ms``, ``executed_macs``,
        ``dense_macs``, ``gflops_executed`` and ``gflops_dense_equivalent`` (both at the
        median)."""

def compile(
    model: ModelLike,
    weights: WeightsLike = None,
    *,
    model_name: str | None = None,
    engine: Literal["jit", "interp", "interpreter"] = "jit",
    threads: int | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    max_structure_error: float = ...,
) -> CompiledModel:
    """Parses, checks, optimises and compiles a model.

    Args:
        model: a ``.sc`` path or ``.sc`` source text.
        weights: a safetensors path, a dict of arrays by weight name, an int seed for
            random weights, or ``None`` (a model without weights). A structured layer may
            be given a dense ``weight``: it is projected onto the structure and refused
            above ``max_structure_error``.
        model_name: which model of a file that defines several.
        engine: ``"jit"`` (Cranelift kernels specialised to the shapes) or ``"interp"``
            (the reference interpreter).
        threads: worker threads of the JIT (``None``: all cores).
        input_shapes: replaces declared input shapes, e.g. ``{"image": (8, 3, 224, 224)}``
            for a batch of 8 (same rank; every other shape follows).
        max_structure_error: tolerance on projected dense kernels (default 1e-3).

    Raises:
        SourceError, FileError, WeightError, PassError, CodegenError.
    """

def check(
    model: ModelLike,
    weights: WeightsLike = None,
    *,
    model_name: str | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    max_structure_error: float = ...,
) -> dict[str, Any]:
    """The report of ``scc check --json``: ``model``, ``inputs``, ``outputs``, ``params``,
    ``dense_macs``, ``structured_macs``, ``sumpool_adds``, ``arena_bytes``,
    ``naive_bytes`` and one row per layer in ``layers``; with ``weights``, also
    ``structure_residuals`` (every dense kernel given for a structured layer, reported
    without failing on it)."""

def build(
    model: ModelLike,
    weights: WeightsLike,
    output: str | os.PathLike[str],
    emit: Literal["exe", "obj", "staticlib"] = "exe",
    *,
    model_name: str | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    max_structure_error: float = ...,
) -> dict[str, Any]:
    """Compiles ahead of time, as ``scc build``: a standalone executable ``output``
    (``"exe"``), ``output.o`` + ``output.h`` + ``libscc_native.a`` (``"obj"``), or
    ``liboutput.a`` + ``output.h`` (``"staticlib"``). Needs a C compiler (``cc`` or
    ``$CC``). Returns ``files`` (every file written), ``bytes`` (of the main one),
    ``weight_bytes``, ``code_bytes`` and ``seconds``."""

def load_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Reads a safetensors file (f32; f16 and bf16 widened) as ``{name: float32 array}``.
    Raises ``FileError``."""

def save_safetensors(path: str | os.PathLike[str], tensors: Mapping[str, ArrayLike]) -> None:
    """Writes ``{name: array}`` (floating point, any layout) as float32 safetensors, the
    format of weights and inputs. Raises ``FileError``."""

def import_onnx(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    structure: None | Literal["auto"] | float | Mapping[str, int | Sequence[int]] = None,
    *,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """``scc import``: writes ``output`` (a readable ``.sc``, one ``let`` per ONNX node,
    each commented with its node) and the weights beside it (``.safetensors``).

    ``structure``: ``None`` keeps every layer dense; ``"auto"`` (or a tolerance) makes
    structured every conv/linear layer whose best candidate structure has a relative
    residual at most the tolerance (1e-3 for ``"auto"``); a dict ``{layer: c | (c, n) |
    (c, nh, nw)}`` chooses by ``.sc`` layer name. ``input_shapes`` fixes symbolic
    dimensions by ONNX input name.

    Returns ``model``, ``weights`` (the paths written), ``model_name``, ``layers``,
    ``weight_tensors``, ``inputs``/``outputs`` (``{"onnx": ..., "sc": ...}`` names) and
    ``structured`` (``layer``, ``c``, ``n``, ``relative_residual``, ``automatic``).
    Raises ``OnnxError``, ``FileError``."""

def advise(
    model: ModelLike,
    weights: WeightsLike = None,
    *,
    model_name: str | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    tolerance: float = ...,
) -> dict[str, Any]:
    """``scc advise --json``: for every dense conv and linear layer of a trained model
    (an ONNX file's own weights, or ``weights``), its candidate structures with their
    relative residual, params and MACs, and the recommended one (fewest multiplications
    with a residual at most ``tolerance``, default 1e-3)."""
