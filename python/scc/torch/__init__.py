"""scc.torch: the paper's training side in PyTorch (``pip install 'scc[torch]'``).

- ``StructuredConv2d`` / ``StructuredLinear``: layers parameterised by ``alpha`` whose
  forward pass is the sum-pool and the small conv / linear layer (scc's ``sconv2d`` /
  ``slinear``);
- ``structural_regularization(model, c, n, layers)``: the loss
  ``Σ ‖(I − A A⁺) W‖ / ‖W‖`` over the chosen dense layers; ``structure_residuals`` its
  terms; ``project(model, ...)`` replaces those layers by structured ones;
- ``export(model, example_input, "net.sc")``: ``net.sc`` + ``net.safetensors`` by torch.fx
  tracing, checked against PyTorch by running them with scc.

From a trained model to a compiled one::

    scc.torch.project(net)                      # after training with the regulariser
    scc.torch.export(net, example, "net.sc")
    model = scc.compile("net.sc", "net.safetensors")
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("scc.torch needs PyTorch: pip install 'scc[torch]' (or install torch)") from e

from .export import Exported, ExportError, export
from .modules import StructuredConv2d, StructuredLinear
from .regularization import project, select_layers, structural_regularization, structure_residuals
from .structure import LinearStructure, Structure, box_matrix

__all__ = [
    "ExportError",
    "Exported",
    "LinearStructure",
    "Structure",
    "StructuredConv2d",
    "StructuredLinear",
    "box_matrix",
    "export",
    "project",
    "select_layers",
    "structural_regularization",
    "structure_residuals",
]
