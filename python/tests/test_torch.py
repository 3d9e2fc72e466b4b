"""scc.torch against PyTorch: structured layers equal conv2d/linear with the composed
kernel and train; the regulariser, residuals and projection; export of every supported
module and function, checked by running the exported model with scc, and errors naming the
node for what .sc cannot express. Skipped where PyTorch is not installed (CI)."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="scc.torch needs PyTorch (pip install 'scc[torch]'); not installed here")
nn = torch.nn
F = torch.nn.functional

import scc  # noqa: E402
import scc.torch as st  # noqa: E402


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


CONV_CASES = [
    # in, out, kernel, c, n, stride, padding, groups
    (8, 6, 3, 4, 2, 1, 1, 1),
    (8, 6, 3, 4, 2, 2, 1, 2),
    (6, 4, (3, 5), 3, (2, 3), (1, 2), (1, 2), 1),
    (4, 4, 3, 4, 3, 1, 0, 1),  # degenerate box: plain conv over alpha
    (4, 8, 3, 1, 1, 1, 1, 4),  # depthwise-like groups, one box
    (16, 8, 1, 8, 1, 1, 0, 1),  # 1x1, channel structure only
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_structured_conv_equals_conv2d_with_composed_kernel(case):
    cin, cout, k, c, n, stride, padding, groups = case
    layer = st.StructuredConv2d(cin, cout, k, c, n, stride, padding, groups).double()
    x = torch.randn(2, cin, 9, 10, dtype=torch.float64)
    expected = F.conv2d(x, layer.compose(), layer.bias, layer.stride, layer.padding, 1, groups)
    torch.testing.assert_close(layer(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.alpha.shape == (cout, c, *((n, n) if isinstance(n, int) else n))


def test_structured_conv_trains_alpha():
    layer = st.StructuredConv2d(4, 4, 3, 2, 2, padding=1)
    target = st.StructuredConv2d(4, 4, 3, 2, 2, padding=1)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    x = torch.randn(8, 4, 6, 6)
    losses = []
    for _ in range(30):
        loss = F.mse_loss(layer(x), target(x).detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert layer.alpha.grad is not None and losses[-1] < 0.1 * losses[0]


def test_structured_linear_equals_linear_with_composed_weight():
    layer = st.StructuredLinear(10, 5, 4).double()
    x = torch.randn(3, 10, dtype=torch.float64)
    torch.testing.assert_close(layer(x), F.linear(x, layer.compose(), layer.bias), rtol=1e-12, atol=1e-12)
    assert st.StructuredLinear(6, 2, 6, bias=False)(torch.randn(1, 6)).shape == (1, 2)


def test_invalid_structures_are_refused():
    with pytest.raises(ValueError, match="c must be in 1..4"):
        st.StructuredConv2d(8, 8, 3, c=5, n=2, groups=2)
    with pytest.raises(ValueError, match="n must be in 1..kernel"):
        st.StructuredConv2d(8, 8, 3, c=2, n=4)
    with pytest.raises(ValueError, match="multiples of groups"):
        st.StructuredConv2d(6, 8, 3, c=2, n=2, groups=4)


def test_projection_algebra_and_agreement_with_scc():
    structure = st.Structure(6, 3, (3, 3), (2, 2))
    alpha = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    w = structure.compose(alpha)
    torch.testing.assert_close(structure.project(w), alpha)
    assert structure.relative_residual(w).item() < 1e-12
    noisy = (w + 0.3 * torch.randn_like(w)).float()
    residual = st.structure_residuals(_one_conv(noisy), c=3, n=2)["conv"]
    source = "model m(x: [1, 6, 5, 5]) { let conv = sconv2d(x, 4, kernel=3, c=3, n=2); return conv; }"
    compiled = scc.compile(source, {"conv.weight": noisy.numpy()}, max_structure_error=1.0)
    assert compiled.projections["conv"] == pytest.approx(residual, rel=1e-5)


def _one_conv(weight):
    net = nn.Sequential()
    net.add_module("conv", nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], bias=False))
    with torch.no_grad():
        net.conv.weight.copy_(weight)
    return net


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.point = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        h = F.relu(self.conv(F.relu(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.point(h), 1), 1))


def test_regularization_selects_layers_and_sums_residuals():
    net = Small()
    chosen = st.select_layers(net)
    assert list(chosen) == ["stem", "conv"]  # the 1x1 conv cannot hold n=2
    assert (chosen["stem"].c, chosen["conv"].c) == (2, 4)  # half of the input channels
    loss = st.structural_regularization(net)
    residuals = st.structure_residuals(net)
    assert loss.item() == pytest.approx(sum(residuals.values()), rel=1e-5)
    assert st.select_layers(net, c=2, layers=["conv", net.fc])["fc"].c == 2
    with pytest.raises(ValueError, match="layer 'point' cannot be structured: n=\\(2, 2\\) does not fit its 1x1 kernel"):
        st.select_layers(net, layers=["point"])
    with pytest.raises(ValueError, match="no module named 'nope'"):
        st.select_layers(net, layers=["nope"])
    assert st.structural_regularization(nn.Sequential(nn.ReLU())).item() == 0


def test_regularization_drives_the_structure_then_projection_is_lossless():
    net = Small()
    x = torch.randn(16, 3, 8, 8)
    y = torch.randint(0, 10, (16,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    before = st.structure_residuals(net)
    for _ in range(300):
        loss = F.cross_entropy(net(x), y) + 1.0 * st.structural_regularization(net)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = st.structure_residuals(net)
    assert all(after[k] < 0.05 * before[k] for k in before), (before, after)
    dense_out = net(x)
    projected = st.project(copy.deepcopy(net))
    assert isinstance(projected.stem, st.StructuredConv2d) and isinstance(projected.conv, st.StructuredConv2d)
    assert isinstance(projected.point, nn.Conv2d)
    torch.testing.assert_close(projected(x), dense_out, atol=0.05 * dense_out.abs().max().item(), rtol=0)


def test_project_equals_the_nearest_structured_kernel():
    net = Small()
    x = torch.randn(2, 3, 8, 8)
    nearest = copy.deepcopy(net)
    with torch.no_grad():
        for name, structure in st.select_layers(nearest).items():
            conv = getattr(nearest, name)
            conv.weight.copy_(structure.projection(conv.weight.double()).float())
    st.project(net)
    torch.testing.assert_close(net(x), nearest(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="max_residual"):
        st.project(Small(), max_residual=1e-3)


class Everything(nn.Module):
    """Every module and function export supports, in one model."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8, eps=1e-3)
        self.block = nn.Sequential(
            st.StructuredConv2d(8, 8, 3, c=4, n=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(inplace=True)
        )
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.dil = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(8, 8, 1), nn.Hardsigmoid())
        self.act = nn.ModuleList([nn.SiLU(), nn.Hardswish(), nn.Tanh(), nn.Sigmoid(), nn.ReLU()])
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(3, stride=1, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.weight = nn.Parameter(torch.randn(4, 16, 1, 1) * 0.1)
        self.drop = nn.Dropout(0.5)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(4 * 4 * 4, 12)
        self.sfc = st.StructuredLinear(12, 6, 3)
        self.soft = nn.Softmax(dim=1)

    def forward(self, x, y):
        h = F.relu(self.bn(self.stem(x)))
        h = self.block(h) + h
        h = h * self.se(h)
        h = self.dil(self.dw(h))
        for act in self.act:
            h = act(h)
        h = self.pool(h)
        h = self.avg(h).relu()
        h = torch.cat([h, F.max_pool2d(y, kernel_size=2, stride=2)], dim=1)
        h = F.conv2d(h, self.weight)
        h = F.interpolate(self.up(h), scale_factor=1, mode="nearest")
        h = F.avg_pool2d(h, 2)
        h = torch.sigmoid(h).mul(torch.tanh(h)).add(h)
        h = self.drop(h)
        flat = self.flat(F.avg_pool2d(h, 2))
        same = h.view(h.size(0), -1)
        z = self.sfc(F.silu(self.fc(flat)))
        return self.soft(z), F.softmax(same, dim=1), torch.flatten(h, 1)


def _randomize_batchnorms(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def test_export_every_supported_op(tmp_path):
    model = Everything()
    _randomize_batchnorms(model)
    model.train()
    x, y = torch.randn(2, 3, 16, 16), torch.randn(2, 8, 16, 16)
    exported = st.export(model, (x, y), tmp_path / "everything.sc")
    assert model.training, "export restores the model's mode"
    assert exported.max_abs_diff is not None and exported.max_abs_diff < 1e-4
    assert exported.inputs == [("x", (2, 3, 16, 16)), ("y", (2, 8, 16, 16))]
    text = (tmp_path / "everything.sc").read_text()
    for op in ("sconv2d(", "slinear(", "batchnorm(", "eps=0.001", "groups=8", "dilation=2", "maxpool(", "avgpool(",
               "global_avgpool(", "hardsigmoid(", "hardswish(", "silu(", "relu6(", "concat(", "upsample(",
               'mode="bilinear"', "softmax(", "flatten(", " * ", " + "):
        assert op in text, op
    weights = scc.load_safetensors(tmp_path / "everything.safetensors")
    assert "block_0.alpha" in weights and "bn.running_var" in weights and "weight" not in weights
    compiled = scc.compile(tmp_path / "everything.sc", tmp_path / "everything.safetensors")
    model.eval()
    with torch.no_grad():
        reference = model(x, y)
    outputs = compiled.run(None, {"x": x.numpy(), "y": y.numpy()})
    for ours, theirs in zip(outputs, reference):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-4, rtol=0)


class Unsupported(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(3, 4, 3)
        self.gelu = nn.GELU()

    def forward(self, x):
        h = self.conv(x)
        if self.how == "module":
            return self.gelu(h)
        if self.how == "constant":
            return h + 1
        if self.how == "function":
            return torch.abs(h)
        if self.how == "reshape":
            return h.reshape(2, 2, -1)
        return h.permute(0, 2, 3, 1)


@pytest.mark.parametrize(
    "how, message",
    [
        ("module", "cannot export node `gelu` (module `gelu` (GELU)): this module has no .sc equivalent"),
        ("constant", "cannot export node `add` (function `add`): `+` with a constant: .sc has `+` of two tensors only"),
        ("function", "cannot export node `abs_1` (function `abs`): this function has no .sc equivalent"),
        ("reshape", "cannot export node `reshape` (method `.reshape()`): reshape from [2, 4, 6, 6] to [2, 2, 72]: only flattening [N, C, H, W] to [N, C*H*W]"),
        ("permute", "cannot export node `permute` (method `.permute()`): this tensor method has no .sc equivalent"),
    ],
)
def test_export_errors_name_the_node(tmp_path, how, message):
    with pytest.raises(st.ExportError) as err:
        st.export(Unsupported(how), torch.randn(2, 3, 8, 8), tmp_path / "bad.sc")
    assert str(err.value) == message
    assert isinstance(err.value, scc.Error)


def test_export_refuses_untraceable_and_odd_inputs(tmp_path):
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(st.ExportError, match="torch.fx cannot trace the model"):
        st.export(Branchy(), torch.randn(1, 4), tmp_path / "b.sc")
    with pytest.raises(st.ExportError, match=r"\.sc inputs are \[N, F\] or \[N, C, H, W\]"):
        st.export(nn.ReLU(), torch.randn(1, 2, 3), tmp_path / "c.sc")


def test_three_lines_from_training_to_compiled(tmp_path):
    net = Small()
    x = torch.randn(4, 3, 8, 8)
    st.project(net)
    st.export(net, x, tmp_path / "net.sc")
    model = scc.compile(tmp_path / "net.sc", tmp_path / "net.safetensors")
    with torch.no_grad():
        expected = net.eval()(x).numpy()
    np.testing.assert_allclose(model.run({"x": x.numpy()})["fc"], expected, atol=1e-5, rtol=0)


def test_torchvision_resnet18_structured_export(tmp_path):
    torchvision = pytest.importorskip("torchvision", reason="torchvision not installed")
    net = torchvision.models.resnet18(num_classes=10)
    _randomize_batchnorms(net)
    st.project(net, c=0.5, n=2)
    assert sum(isinstance(m, st.StructuredConv2d) for m in net.modules()) == 17  # every 3x3 and the 7x7 stem
    exported = st.export(net, torch.randn(1, 3, 64, 64), tmp_path / "resnet18s.sc")
    assert exported.max_abs_diff < 1e-3
    report = scc.check(tmp_path / "resnet18s.sc")
    assert report["structured_macs"] < report["dense_macs"] / 2
