"""Writes the small ONNX models the ONNX tests read (run from this folder with PyTorch,
onnx and onnxruntime; see ../shared/peers). Each model is exported by both PyTorch exporters:
`<name>_dynamo.onnx` (opset 18, its weights in `<name>_dynamo.onnx.data`) and
`<name>_legacy.onnx` (opset 17 / 13, weights inline); `<file>.inputs.safetensors` holds the input
(by ONNX input name), `<file>.ort.safetensors` ONNX Runtime's outputs (by ONNX output name).
"""
import warnings

import numpy as np
import onnxruntime as ort
import torch
from safetensors.numpy import save_file
from torch import nn
from torch.nn import functional as F

warnings.filterwarnings("ignore")


class Ops(nn.Module):
    """Every operator the importer reads in one small network: convolutions (grouped, dilated,
    with and without bias), a batchnorm that cannot fold, ReLU, ReLU6 (Clip), hardswish,
    a hardsigmoid squeeze-excite gate, SiLU (x * sigmoid(x)), tanh, max and average pooling,
    channel concatenation, nearest and bilinear upsampling, global average pooling, flatten,
    linear and softmax."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.se_reduce = nn.Conv2d(8, 4, 1)
        self.se_expand = nn.Conv2d(4, 8, 1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.mix_bn = nn.BatchNorm2d(16)
        self.head = nn.Conv2d(16, 12, 1, bias=False)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        h = F.relu(self.stem_bn(self.stem(x)))
        h = F.hardswish(self.dw(h))
        gate = F.hardsigmoid(self.se_expand(F.relu(self.se_reduce(F.adaptive_avg_pool2d(h, 1)))))
        h = h * gate
        d = F.relu6(self.down(h))
        d = F.silu(d)
        up = F.interpolate(d, scale_factor=2, mode="nearest")
        h = torch.cat([h, up], 1)
        h = self.mix_bn(h)
        h = torch.tanh(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
        h = F.max_pool2d(h, 3, 2, 1)
        h = F.avg_pool2d(self.head(h), 2)
        h = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
        return torch.softmax(self.fc(h), 1)


def calibrated(model, shape):
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(*shape) * 1.5 + 0.2)
    return model.eval()


def write(name, model, x):
    for exporter, kwargs in (
        ("dynamo", dict(dynamo=True, opset_version=18, external_data=True)),
        ("legacy", dict(dynamo=False, opset_version=17)),
        ("legacy13", dict(dynamo=False, opset_version=13)),
    ):
        path = f"{name}_{exporter}.onnx"
        torch.onnx.export(model, (x,), path, **kwargs)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feeds = {session.get_inputs()[0].name: x.numpy()}
        outputs = session.run(None, feeds)
        save_file(feeds, path + ".inputs.safetensors")
        save_file({o.name: r for o, r in zip(session.get_outputs(), outputs)}, path + ".ort.safetensors")
        with torch.no_grad():
            assert np.abs(model(x).numpy() - outputs[0]).max() < 1e-5


torch.manual_seed(0)
shape = (2, 3, 16, 16)
model = calibrated(Ops(), shape)
write("ops", model, torch.randn(*shape, generator=torch.Generator().manual_seed(1)))
