"""The PyTorch reference of every example in `examples/` (see `reference.py`).

Each `.sc` file of `examples/` names the reference architecture it implements:
torchvision's ResNets, MobileNetV2 and EfficientNet-B0, timm's `hrnet_w18_small`, and two
modules written here, the CIFAR ResNets-20 and -56 (He et al., 2016, with 1x1 projection
shortcuts) and the HRNetV2 semantic-segmentation head on timm's `hrnet_w18_small` and
`hrnet_w18_small_v2` stages. A structured twin's reference is its dense twin's
architecture: its composed kernels are loaded into it.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import timm
from timm.models.hrnet import HighResolutionNet, cfg_cls


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (same state_dict names)."""

    def __init__(self, in_ch, ch, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.downsample = None
        if stride != 1 or in_ch != ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, ch, 1, stride, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR-10 (He et al., 2016, section 4.2): a 3x3 stem to 16 channels,
    three stages of n BasicBlocks at 16, 32 and 64 channels, the first block of stages 2 and
    3 with stride 2 and a 1x1 projection shortcut (option B), global pooling, 10 classes."""

    def __init__(self, n, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_ch = 16
        for stage, ch in enumerate([16, 32, 64], start=1):
            blocks = []
            for i in range(n):
                stride = 2 if (i == 0 and stage > 1) else 1
                blocks.append(BasicBlock(in_ch, ch, stride))
                in_ch = ch
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class HRNetV2Segmentation(HighResolutionNet):
    """HRNetV2 semantic segmentation (Wang et al., 2019) on the stem and four stages of a timm
    HRNet (`cfg`): `hrnet_w18_small` (branches of 16, 32, 64 and 128 channels at 1/4 ... 1/32)
    or `hrnet_w18_small_v2` (18, 36, 72, 144), the three lower branches upsampled bilinearly
    (align_corners=False) to the 1/4 branch's size and concatenated (240 or 270 channels),
    conv1x1 + batchnorm + ReLU at that width, conv1x1 to 19 (the Cityscapes classes; both
    convs with bias, as in HRNet-Semantic-Segmentation's `last_layer`), and a x4 bilinear
    upsampling to the input size. State_dict names: timm's for the stem and stages,
    `last_layer.{0,1,3}` for the head."""

    def __init__(self, cfg="hrnet_w18_small", num_classes=19):
        super().__init__(cfg_cls[cfg], head="none")
        channels = sum(self.stage4_cfg["num_channels"])
        self.last_layer = nn.Sequential(
            nn.Conv2d(channels, channels, 1),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, num_classes, 1),
        )

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        branches = self.stages(x)
        size = branches[0].shape[2:]
        up = [F.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]]
        x = self.last_layer(torch.cat([branches[0]] + up, 1))
        return F.interpolate(x, size=(4 * size[0], 4 * size[1]), mode="bilinear", align_corners=False)


def hrnet_w18_small():
    return timm.create_model("hrnet_w18_small", pretrained=False)


# Every example of the zoo: (reference constructor, full input H x W, small CI input H x W).
REFERENCES = {
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
    "resnet18": torchvision.models.resnet18,
    "resnet20": lambda: CifarResNet(3),
    "resnet56": lambda: CifarResNet(9),
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
    "hrnet_w18_small": hrnet_w18_small,
    "hrnet_w18_small_seg": HRNetV2Segmentation,
    "hrnet_w18_small_v2_seg": lambda: HRNetV2Segmentation("hrnet_w18_small_v2"),
}

# example file stem -> (reference, full size, small size for the committed CI outputs)
EXAMPLES = {
    "resnet18": ("resnet18", (224, 224), (64, 64)),
    "resnet18s": ("resnet18", (224, 224), (64, 64)),
    "resnet20": ("resnet20", (32, 32), (32, 32)),
    "resnet20s": ("resnet20", (32, 32), (32, 32)),
    "mobilenetv2": ("mobilenet_v2", (224, 224), (64, 64)),
    "mobilenetv2s": ("mobilenet_v2", (224, 224), (64, 64)),
    "resnet34": ("resnet34", (224, 224), (64, 64)),
    "resnet34s": ("resnet34", (224, 224), (64, 64)),
    "resnet50": ("resnet50", (224, 224), (64, 64)),
    "resnet50s": ("resnet50", (224, 224), (64, 64)),
    "resnet18s_a": ("resnet18", (224, 224), (64, 64)),
    "resnet56": ("resnet56", (32, 32), (32, 32)),
    "resnet56s": ("resnet56", (32, 32), (32, 32)),
    "efficientnet_b0": ("efficientnet_b0", (224, 224), (64, 64)),
    "efficientnet_b0s": ("efficientnet_b0", (224, 224), (64, 64)),
    "hrnet_w18_small": ("hrnet_w18_small", (224, 224), (64, 64)),
    "hrnet_w18_small_s": ("hrnet_w18_small", (224, 224), (64, 64)),
    "hrnet_w18_small_seg": ("hrnet_w18_small_seg", (512, 1024), (32, 64)),
    "hrnet_w18_small_seg_s": ("hrnet_w18_small_seg", (512, 1024), (32, 64)),
    "hrnet_w18_small_v2_seg": ("hrnet_w18_small_v2_seg", (512, 1024), (32, 64)),
    "hrnet_w18_small_v2_seg_s": ("hrnet_w18_small_v2_seg", (512, 1024), (32, 64)),
}
