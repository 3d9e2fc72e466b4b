"""scc: a compiler for structured-convolution networks, from Python.

Compile a ``.sc`` model (a path or source text) with its weights and run it on numpy
arrays, as with ``onnxruntime.InferenceSession``::

    import numpy as np, scc
    model = scc.compile("model.sc", "weights.safetensors")
    (name, shape), = model.inputs
    logits = model.run({name: np.zeros(shape, np.float32)})["fc"]

``scc.check`` reports parameters, MACs and memory (``scc check --json``), ``scc.build``
compiles a native executable or C library, ``scc.import_onnx`` and ``scc.advise`` import
ONNX models and recommend structures, and ``scc.torch`` (needs PyTorch:
``pip install 'scc[torch]'``) holds structured layers, Structural Regularization,
projection and export from PyTorch to ``.sc`` + ``.safetensors``.

Every error is an ``scc.Error``: ``SourceError`` (model text, with ``line``/``column``),
``FileError``, ``WeightError``, ``RunError`` (inputs), ``PassError``, ``CodegenError``,
``BuildError``, ``OnnxError``.
"""

from ._scc import (
    DEFAULT_MAX_STRUCTURE_ERROR,
    BuildError,
    CodegenError,
    CompiledModel,
    Error,
    FileError,
    OnnxError,
    PassError,
    RunError,
    SourceError,
    WeightError,
    __version__,
    advise,
    build,
    check,
    compile,
    import_onnx,
    load_safetensors,
    save_safetensors,
)

__all__ = [
    "DEFAULT_MAX_STRUCTURE_ERROR",
    "BuildError",
    "CodegenError",
    "CompiledModel",
    "Error",
    "FileError",
    "OnnxError",
    "PassError",
    "RunError",
    "SourceError",
    "WeightError",
    "__version__",
    "advise",
    "build",
    "check",
    "compile",
    "import_onnx",
    "load_safetensors",
    "save_safetensors",
]
