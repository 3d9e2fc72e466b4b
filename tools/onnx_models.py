"""Exports torchvision-sized models to ONNX with both PyTorch exporters and records ONNX
Runtime's outputs, for checking `scc run MODEL.onnx` and `scc import` (see README, "ONNX and
PyTorch checkpoints"). Needs PyTorch, torchvision, onnx and onnxruntime (../shared/peers).

    python tools/onnx_models.py OUT_DIR [MODEL[:EXPORTER,...] ...]

For each model and exporter it writes OUT_DIR/<model>_<exporter>.onnx (dynamo: external data
beside it), <...>.inputs.safetensors (by ONNX input name) and <...>.ort.safetensors (by ONNX
output name). Exporters: `dynamo` (opset 20, external data), `legacy` (opset 17), `legacy13`
(opset 13), `nofold` (legacy, opset 17, `do_constant_folding=False`: batchnorms stay) and
`train` (legacy, opset 17, training-mode export: batchnorms normalise with the batch's own
statistics, `training_mode=1`). Without a list, a model gets `dynamo` and `legacy`.
Weights are random (seeded) and batchnorm statistics calibrated by a few training steps'
forward passes, so activations are not vanishingly small.
"""
import copy
import sys
import warnings

import numpy as np
import onnxruntime as ort
import torch
import torchvision
from safetensors.numpy import save_file
from torch import nn
from torch.nn import functional as F

warnings.filterwarnings("ignore")


class EncoderDecoder(nn.Module):
    """A small U-Net: strided-conv encoder, nearest and bilinear upsampling decoder, skip
    concatenations, a sigmoid head."""

    def __init__(self, width=16):
        super().__init__()

        def block(cin, cout, stride=1):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.enc1 = block(3, width)
        self.enc2 = block(width, 2 * width, 2)
        self.enc3 = block(2 * width, 4 * width, 2)
        self.dec2 = block(4 * width + 2 * width, 2 * width)
        self.dec1 = block(2 * width + width, width)
        self.head = nn.Conv2d(width, 2, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False), e1], 1))
        return torch.sigmoid(self.head(d1))


class OddUNet(nn.Module):
    """An encoder–decoder on an odd-sized input, with the operators the first models lack:
    TF-style asymmetric "same" padding (ZeroPad2d before a stride-2 conv), LeakyReLU, general
    clamps (both bounds, one bound), scalar and per-channel constant arithmetic, max pooling in
    ceil mode, average pooling without the padding counted, tensor `-` and `/`, and upsampling
    to a skip connection's (odd) size, bilinear with align_corners=True and nearest."""

    def __init__(self, width=16):
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.stem = nn.Conv2d(3, width, 3, stride=2)
        self.stem_bn = nn.BatchNorm2d(width)
        self.dw = nn.Conv2d(width, width, 3, padding=1, groups=width)
        self.scale = nn.Parameter(torch.rand(1, width, 1, 1) + 0.5)
        self.mix = nn.Conv2d(width, 2 * width, 1)
        self.deep = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.head = nn.Conv2d(4 * width + width, 4, 1)

    def forward(self, x):
        x = x * 2.0 - 1.0
        h = F.leaky_relu(self.stem_bn(self.stem(self.pad(x))), 0.1)
        h = torch.clamp(self.dw(h), -1.5, 2.0) * self.scale + 0.25
        a = F.max_pool2d(h, 2, 2, ceil_mode=True)
        b = F.avg_pool2d(h, 3, 2, padding=1, count_include_pad=False)
        d = F.leaky_relu(self.mix(a - b), 0.2)
        e = self.deep(d) / (1.0 + torch.sigmoid(d))
        size = h.shape[-2:]
        u1 = F.interpolate(e, size=size, mode="bilinear", align_corners=True)
        u2 = F.interpolate(torch.clamp(e, min=0.1), size=size, mode="nearest")
        return self.head(torch.cat([u1, u2, h], 1)) / 3.0


class Normalized(nn.Module):
    """Input normalisation `(x - mean) / std` (ImageNet's, per channel) before a network."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet34": lambda: torchvision.models.resnet34(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(),
    "mobilenet_v3_large": lambda: torchvision.models.mobilenet_v3_large(),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
    "encoder_decoder": lambda: EncoderDecoder(),
    "odd_unet": lambda: OddUNet(),
    "normalized_resnet18": lambda: Normalized(torchvision.models.resnet18()),
}
SIZES = {"encoder_decoder": 64, "odd_unet": 63}
BATCH = {"odd_unet": 2}
EXPORTERS = {
    "dynamo": dict(dynamo=True, external_data=True),
    "legacy": dict(dynamo=False, opset_version=17),
    "legacy13": dict(dynamo=False, opset_version=13),
    "nofold": dict(dynamo=False, opset_version=17, do_constant_folding=False),
    "train": dict(dynamo=False, opset_version=17, training=torch.onnx.TrainingMode.TRAINING),
}


def calibrated(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    size = SIZES.get(name, 224)
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.rand(4, 3, size, size) if name.startswith("normalized") else torch.randn(4, 3, size, size))
    model.eval()
    return model, size


def export(name, exporters, out_dir):
    model, size = calibrated(name)
    shape = (BATCH.get(name, 1), 3, size, size)
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(*shape, generator=generator) if name.startswith("normalized") else torch.randn(*shape, generator=generator)
    for exporter in exporters:
        path = f"{out_dir}/{name}_{exporter}.onnx"
        # A training-mode export runs the model in training mode (updating its batchnorm
        # statistics): every export gets its own copy.
        torch.onnx.export(copy.deepcopy(model), (x,), path, **EXPORTERS[exporter])
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feeds = {session.get_inputs()[0].name: x.numpy()}
        outputs = session.run(None, feeds)
        save_file(feeds, path.replace(".onnx", ".inputs.safetensors"))
        names = [o.name for o in session.get_outputs()]
        save_file(dict(zip(names, outputs)), path.replace(".onnx", ".ort.safetensors"))
        with torch.no_grad():
            reference = copy.deepcopy(model).train(exporter == "train")
            torch_out = reference(x).numpy()
        print(f"{name} {exporter}: ORT vs PyTorch max |diff| {np.abs(outputs[0] - torch_out).max():.2e}", flush=True)


if __name__ == "__main__":
    out_dir = sys.argv[1]
    for spec in sys.argv[2:] or MODELS:
        name, _, exporters = spec.partition(":")
        export(name, exporters.split(",") if exporters else ["dynamo", "legacy"], out_dir)
