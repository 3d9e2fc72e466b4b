"""Writes the small ONNX models of `transpose` and `Gemm` in every transposition (run from this
folder with onnx, onnxruntime and PyTorch; see ../shared/peers), each with its input
(`<file>.inputs.safetensors`) and ONNX Runtime's output (`<file>.ort.safetensors`):

- `gemm_transposes.onnx`, built with `onnx.helper` (opset 17): Gemm with transA and transB in
  all four combinations, alpha and beta not 1, a bias per output, a scalar bias and none, from
  an input `[F, N]` (read directly by the transA=1 Gemms, through a default-perm Transpose by
  the others), their outputs concatenated;
- `permute_dynamo.onnx` / `permute_legacy.onnx`, exported by both PyTorch exporters: a
  network that moves channels last and back (`permute`), swaps height and width
  (`transpose(2, 3)`) between convolutions, and reads a linear layer through `x.t()`.
"""
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file
from torch import nn
from torch.nn import functional as F


def run_and_save(path, feeds, reference=None):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = session.run(None, feeds)
    save_file(feeds, path + ".inputs.safetensors")
    save_file({o.name: r for o, r in zip(session.get_outputs(), outputs)}, path + ".ort.safetensors")
    if reference is not None:
        assert np.abs(reference - outputs[0]).max() < 1e-5
    return outputs


def gemm_model():
    rng = np.random.default_rng(3)
    features, batch = 6, 2
    inits, nodes, outs, reference = [], [], [], []
    x = rng.standard_normal((features, batch)).astype(np.float32)  # A as stored: [F, N]
    nodes.append(helper.make_node("Transpose", ["x"], ["x_rows"], name="rows"))  # [N, F]
    cases = [
        # name, transA, transB, alpha, beta, bias kind
        ("ta_tb0", 1, 0, 2.0, 0.5, "vector"),
        ("ta_tb1", 1, 1, 0.5, 1.0, None),
        ("tb1", 0, 1, 1.0, 2.0, "vector"),
        ("plain", 0, 0, 1.5, 1.0, "scalar"),
    ]
    for i, (name, trans_a, trans_b, alpha, beta, bias) in enumerate(cases):
        out = 3 + i
        b = rng.standard_normal((out, features) if trans_b else (features, out)).astype(np.float32)
        inits.append(numpy_helper.from_array(b, f"{name}.weight"))
        inputs = ["x" if trans_a else "x_rows", f"{name}.weight"]
        c = None
        if bias == "vector":
            c = rng.standard_normal(out).astype(np.float32)
        elif bias == "scalar":
            c = np.array([0.75], dtype=np.float32)
        if c is not None:
            inits.append(numpy_helper.from_array(c, f"{name}.bias"))
            inputs.append(f"{name}.bias")
        nodes.append(
            helper.make_node(
                "Gemm", inputs, [name], name=f"gemm_{name}",
                transA=trans_a, transB=trans_b, alpha=alpha, beta=beta,
            )
        )
        a = x.T.astype(np.float64)
        w = (b.T if trans_b else b).astype(np.float64)
        y = alpha * a @ w + (beta * c.astype(np.float64) if c is not None else 0.0)
        reference.append(y)
        outs.append(name)
    nodes.append(helper.make_node("Concat", outs, ["joined"], name="join", axis=1))
    nodes.append(helper.make_node("Relu", ["joined"], ["y"], name="act"))
    graph = helper.make_graph(
        nodes, "gemm_transposes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [features, batch])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3 + 4 + 5 + 6])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.producer_name = "onnx.helper (make_transpose.py)"
    onnx.checker.check_model(model)
    onnx.save(model, "gemm_transposes.onnx")
    expected = np.maximum(np.concatenate(reference, axis=1), 0.0)
    run_and_save("gemm_transposes.onnx", {"x": x}, expected)


class Permute(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.mix = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(2, 5)

    def forward(self, x):
        h = self.stem(x)
        h = F.relu(h.permute(0, 2, 3, 1))  # NHWC
        h = h.permute(0, 3, 1, 2)  # back to NCHW
        h = self.mix(h).transpose(2, 3)  # [N, C, W, H]
        h = self.head(torch.sigmoid(h))
        pooled = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)  # [N, 4]
        return self.fc(pooled.t())  # [4, N] -> [4, 5]


def permute_models():
    torch.manual_seed(0)
    model = Permute().eval()
    x = torch.randn(2, 3, 6, 7, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        reference = model(x).numpy()
    exporters = {
        "dynamo": dict(dynamo=True, opset_version=18, external_data=False),
        "legacy": dict(dynamo=False, opset_version=17),
    }
    for exporter, options in exporters.items():
        path = f"permute_{exporter}.onnx"
        torch.onnx.export(model, (x,), path, **options)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        run_and_save(path, {session.get_inputs()[0].name: x.numpy()}, reference)


gemm_model()
permute_models()
