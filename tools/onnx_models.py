"""Exports torchvision-sized models to ONNX with both PyTorch exporters and records ONNX
Runtime's outputs, for checking `scc run MODEL.onnx` and `scc import` (see README, "ONNX and
PyTorch checkpoints"). Needs PyTorch, torchvision, onnx and onnxruntime (../shared/peers).

    python tools/onnx_models.py OUT_DIR [MODEL ...]

For each model and exporter it writes OUT_DIR/<model>_<exporter>.onnx (dynamo: external data
beside it), <...>.inputs.safetensors (by ONNX input name) and <...>.ort.safetensors (by ONNX
output name). Weights are random (seeded) and batchnorm statistics calibrated by a few training
steps' forward passes, so activations are not vanishingly small.
"""
import sys
import warnings

import numpy as np
import onnxruntime as ort
import torch
import torchvision
from safetensors.numpy import save_file
from torch import nn

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
        d2 = self.dec2(torch.cat([nn.functional.interpolate(e3, scale_factor=2, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([nn.functional.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False), e1], 1))
        return torch.sigmoid(self.head(d1))


MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet34": lambda: torchvision.models.resnet34(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(),
    "mobilenet_v3_large": lambda: torchvision.models.mobilenet_v3_large(),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
    "encoder_decoder": lambda: EncoderDecoder(),
}
SIZES = {"encoder_decoder": 64}


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
            model(torch.randn(4, 3, size, size))
    model.eval()
    return model, size


def export(name, out_dir):
    model, size = calibrated(name)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    for exporter in ("dynamo", "legacy"):
        path = f"{out_dir}/{name}_{exporter}.onnx"
        if exporter == "dynamo":
            torch.onnx.export(model, (x,), path, dynamo=True, external_data=True)
        else:
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feeds = {session.get_inputs()[0].name: x.numpy()}
        outputs = session.run(None, feeds)
        save_file(feeds, path.replace(".onnx", ".inputs.safetensors"))
        save_file({o.name: r for o, r in zip(session.get_outputs(), outputs)}, path.replace(".onnx", ".ort.safetensors"))
        with torch.no_grad():
            torch_out = model(x).numpy()
        print(f"{name} {exporter}: ORT vs PyTorch max |diff| {np.abs(outputs[0] - torch_out).max():.2e}", flush=True)


if __name__ == "__main__":
    out_dir = sys.argv[1]
    for name in sys.argv[2:] or MODELS:
        export(name, out_dir)
