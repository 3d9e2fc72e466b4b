"""Writes the small ONNX models the ONNX tests read (run from this folder with PyTorch,
onnx and onnxruntime; see ../shared/peers). Each model is exported by both PyTorch exporters:
`<name>_dynamo.onnx` (opset 18, its weights in `<name>_dynamo.onnx.data`) and
`<name>_legacy.onnx` (opset 17 / 13, weights inline); `extended` also in training mode
(`extended_train.onnx`: batchnorm with the batch's statistics, `training_mode=1`) and without
constant folding (`extended_nofold.onnx`: the batchnorm stays). `<file>.inputs.safetensors` holds
the input (by ONNX input name), `<file>.ort.safetensors` ONNX Runtime's outputs (by ONNX output
name).
"""
import copy
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


class Extended(nn.Module):
    """The operators of the second round in one small network on an odd-sized input: an input
    normalisation `(x - mean) / std` (per-channel constant Sub and Div), scalar arithmetic,
    TF-style asymmetric padding (ZeroPad2d before a stride-2 conv), LeakyReLU, clamps with
    both bounds and with one, a per-channel constant Mul, max pooling in ceil mode, average
    pooling without the padding counted and in ceil mode with it counted, tensor `-` and `/`,
    and upsampling to a skip connection's odd size, bilinear with align_corners=True and
    nearest."""

    def __init__(self, width=4):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.stem = nn.Conv2d(3, width, 3, stride=2)
        self.stem_bn = nn.BatchNorm2d(width)
        self.dw = nn.Conv2d(width, width, 3, padding=1, groups=width)
        self.scale = nn.Parameter(torch.rand(1, width, 1, 1) + 0.5)
        self.mix = nn.Conv2d(width, 2 * width, 1)
        self.deep = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.head = nn.Conv2d(4 * width + width, 3, 1)

    def forward(self, x):
        x = (x - self.mean) / self.std * 0.5 - 0.25
        h = F.leaky_relu(self.stem_bn(self.stem(self.pad(x))), 0.1)
        h = torch.clamp(self.dw(h), -1.5, 2.0) * self.scale + 0.25
        a = F.max_pool2d(h, 2, 2, ceil_mode=True)
        b = F.avg_pool2d(h, 3, 2, padding=1, count_include_pad=False)
        c = F.avg_pool2d(h, 3, 2, padding=1, ceil_mode=True)
        d = F.leaky_relu(self.mix(a - b + c), 0.2)
        e = self.deep(d) / (1.0 + torch.sigmoid(d))
        size = h.shape[-2:]
        u1 = F.interpolate(e, size=size, mode="bilinear", align_corners=True)
        u2 = F.interpolate(torch.clamp(e, min=0.1), size=size, mode="nearest")
        return self.head(torch.cat([u1, u2, h], 1)) / 3.0


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


EXPORTERS = {
    "dynamo": dict(dynamo=True, opset_version=18, external_data=True),
    "legacy": dict(dynamo=False, opset_version=17),
    "legacy13": dict(dynamo=False, opset_version=13),
    "nofold": dict(dynamo=False, opset_version=17, do_constant_folding=False),
    "train": dict(dynamo=False, opset_version=17, training=torch.onnx.TrainingMode.TRAINING),
}


def write(name, model, x, exporters=("dynamo", "legacy", "legacy13")):
    for exporter in exporters:
        path = f"{name}_{exporter}.onnx"
        # A training-mode export runs the model in training mode: each export gets a copy.
        torch.onnx.export(copy.deepcopy(model), (x,), path, **EXPORTERS[exporter])
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feeds = {session.get_inputs()[0].name: x.numpy()}
        outputs = session.run(None, feeds)
        save_file(feeds, path + ".inputs.safetensors")
        save_file({o.name: r for o, r in zip(session.get_outputs(), outputs)}, path + ".ort.safetensors")
        with torch.no_grad():
            reference = copy.deepcopy(model).train(exporter == "train")
            assert np.abs(reference(x).numpy() - outputs[0]).max() < 1e-5


torch.manual_seed(0)
shape = (2, 3, 16, 16)
model = calibrated(Ops(), shape)
write("ops", model, torch.randn(*shape, generator=torch.Generator().manual_seed(1)))

torch.manual_seed(0)
shape = (2, 3, 15, 15)
model = calibrated(Extended(), shape)
x = torch.rand(*shape, generator=torch.Generator().manual_seed(2))
write("extended", model, x, ("dynamo", "legacy", "legacy13", "nofold", "train"))
