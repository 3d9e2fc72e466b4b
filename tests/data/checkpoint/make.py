"""Writes the PyTorch checkpoint the checkpoint tests read (run from this folder with PyTorch).

`state_dict.safetensors` is a small network's `state_dict` exactly as PyTorch saves it:
PyTorch's key names (`features.0.1.running_mean`, `layer1.0.downsample.0.weight`) and dtypes
(the batchnorms' `num_batches_tracked` counters are I64). `tiny.sc` is the same network
written with the examples' naming; `inputs.safetensors` and `outputs.safetensors` are an input
and PyTorch's output for it.
"""
import torch
from safetensors.torch import save_file
from torch import nn


class Down(nn.Module):
    """torchvision's BasicBlock with a downsampling shortcut."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.downsample(x))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()))
        self.layer1 = nn.Sequential(Down(8, 16))
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        h = self.layer1(self.features(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1))


torch.manual_seed(0)
model = Tiny()
model.train()
with torch.no_grad():  # running statistics away from their initial values; 3 batches tracked
    for _ in range(3):
        model(torch.randn(8, 3, 8, 8) * 2 + 0.5)
model.eval()
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, "state_dict.safetensors")
x = torch.randn(2, 3, 8, 8)
with torch.no_grad():
    y = model(x)
save_file({"x": x}, "inputs.safetensors")
save_file({"fc": y}, "outputs.safetensors")
