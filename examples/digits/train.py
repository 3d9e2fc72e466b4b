#!/usr/bin/env python3
"""Train the structured-convolution digits demo three ways and export what scc runs.

Bhalgat et al. (2020), "Structured Convolutions for Efficient Neural Network Design", on
scikit-learn's bundled digits dataset (1,797 8x8 images), with the architecture of
``digits.sc``:

  (a) dense        -- an ordinary CNN; its structured layers are then projected onto the
                      structure (alpha = A^+ vec(W)), which costs accuracy;
  (b) regularized  -- dense, trained with the Structural Regularization loss
                      L = L_task + lambda * sum_layers ||(I - A A^+) W||_F / ||W||_F,
                      so that the projection afterwards costs (almost) nothing;
  (c) alpha        -- trained directly in the alpha parameters (scc.torch's
                      StructuredConv2d: a sum-pool and a small conv over alpha).

A is the box basis of a structured layer, A = B_c (x) B_h (x) B_w, where B_m is the
L x n matrix whose column j has ones on rows j .. j+L-n. The structured layers, the
regulariser and the projection are scc's Python package (scc.torch); the deployable (b)
is also exported with scc.torch.export (exported.sc + exported.safetensors).

Run from this folder: ``pip install -r requirements.txt && python train.py`` (installs
scc from ../../python). It rewrites the committed files next to it (see README.md);
training takes about a minute on two idle CPU cores.
"""

import argparse
import copy
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import scc
import scc.torch as st

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
TEST_SIZE = 0.2

# The structured layers of digits.sc: name -> (in channels, out channels, c, n).
STRUCTURED = {"conv2": (16, 32, 8, 2), "conv3": (32, 32, 16, 2)}
KERNEL = 3


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# Every structured layer of digits.sc keeps half of its input channels (c = Cg / 2), n = 2.
C_FRACTION, N = 0.5, 2


def structured_layer(name, mode):
    """A 3x3 pad-1 conv (no bias): a dense nn.Conv2d, or scc.torch's StructuredConv2d
    (sum-pool + small conv over alpha), initialised as the projection of nn.Conv2d's
    initial kernel."""
    cin, cout, c, n = STRUCTURED[name]
    if mode == "dense":
        return nn.Conv2d(cin, cout, KERNEL, padding=KERNEL // 2, bias=False)
    return st.StructuredConv2d(cin, cout, KERNEL, c=c, n=n, padding=KERNEL // 2, bias=False)


class Digits(nn.Module):
    """The model of digits.sc; attribute names are its `let` names, so state_dict keys are
    scc's weight names."""

    def __init__(self, mode):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = structured_layer("conv2", mode)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = structured_layer("conv3", mode)
        self.bn3 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, images):
        h = F.relu(self.bn1(self.conv1(images)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = F.max_pool2d(h, 2)
        h = F.relu(self.bn3(self.conv3(h)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))

    def structure_loss(self):
        """Structural Regularization over the structured layers (trained dense)."""
        return st.structural_regularization(self, c=C_FRACTION, n=N, layers=list(STRUCTURED))


def export_state(model):
    """The model's tensors under scc's weight names, f32, contiguous (no BN counters)."""
    return {
        k: v.detach().float().contiguous().clone()
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }


def projected(model):
    """The structured (alpha) model nearest to a dense one: scc.torch.project replaces each
    structured layer's dense weight W by alpha = A^+ vec(W)."""
    return st.project(copy.deepcopy(model), c=C_FRACTION, n=N, layers=list(STRUCTURED))


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    return (model(x).argmax(1) == y).sum().item() / len(y)


def train(mode, x, y, epochs, lam, seed):
    seed_everything(seed)
    model = Digits("dense" if mode in ("dense", "regularized") else "alpha")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    steps_per_epoch = (len(x) + 31) // 32
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 32):
            idx = order[i : i + 32]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if mode == "regularized":
                loss = loss + lam * model.structure_loss()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def scc_stats():
    """params / MACs as scc counts them (`scc check --json`)."""
    return scc.check(os.path.join(HERE, "digits.sc"))


def count_stats(n_images):
    """Params and MACs (per batch of n_images) of the architecture, dense and structured,
    with the definitions of scc check / the fixtures' stats.json (params: conv and linear
    weights or alphas, biases, batchnorm weight and bias; MACs: output elements x taps of
    conv/linear layers)."""
    bn = 2 * (16 + 32 + 32)
    fc = 32 * 10 + 10
    dense_conv = [(16 * 1 * 9, 8 * 8), (32 * 16 * 9, 8 * 8), (32 * 32 * 9, 4 * 4)]
    struct_conv = [(16 * 1 * 9, 8 * 8), (32 * 8 * 4, 8 * 8), (32 * 16 * 4, 4 * 4)]
    dense_params = sum(p for p, _ in dense_conv) + bn + fc
    struct_params = sum(p for p, _ in struct_conv) + bn + fc
    dense_macs = n_images * (sum(p * hw for p, hw in dense_conv) + 32 * 10)
    struct_macs = n_images * (sum(p * hw for p, hw in struct_conv) + 32 * 10)
    return dense_params, struct_params, dense_macs, struct_macs


def export_onnx(model, path, n_images):
    """The model as PyTorch deploys it, exported to ONNX (legacy exporter, opset 17, weights
    inline; in eval mode the batchnorms fold into the convolutions, which keeps a structured
    kernel structured: each output channel is only scaled). `scc import --structure auto` turns
    it back into `sconv2d` layers."""
    model.eval()
    torch.onnx.export(model, (torch.zeros(n_images, 1, 8, 8),), path, dynamo=False, opset_version=17,
                      input_names=["images"], output_names=["logits"])


def export_onnx_only(out):
    """Exports variant (b) from the committed weights, without training again."""
    from safetensors.torch import load_file

    model = Digits("dense")
    model.load_state_dict(load_file(os.path.join(HERE, "weights_regularized.safetensors")), strict=False)
    export_onnx(model, os.path.join(out, "digits_regularized.onnx"), 360)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx-only", action="store_true",
                        help="only export variant (b) to ONNX from the committed weights")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lam", type=float, default=1.0, help="weight of the structural regulariser")
    parser.add_argument("--out", default=HERE, help="where to write the exported files")
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.onnx_only:
        export_onnx_only(args.out)
        return

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # [1797, 1, 8, 8] in [0, 1]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_SIZE, stratify=labels, random_state=SEED
    )
    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
    y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)
    n_test = len(x_test)
    print(f"digits: {len(x_train)} training images, {n_test} test images")

    results = {"test_images": n_test, "seed": SEED, "epochs": args.epochs, "lambda": args.lam, "variants": {}}
    models = {}
    for variant in ("dense", "regularized", "alpha"):
        model = train(variant, x_train, y_train, args.epochs, args.lam, SEED)
        entry = {"test_accuracy": accuracy(model, x_test, y_test)}
        if variant != "alpha":
            entry["structure_residual"] = st.structure_residuals(model, c=C_FRACTION, n=N, layers=list(STRUCTURED))
            deploy = projected(model)
            entry["test_accuracy_projected"] = accuracy(deploy, x_test, y_test)
        else:
            deploy = model
        models[variant] = (model, deploy)
        results["variants"][variant] = entry
        print(f"{variant}: {json.dumps(entry)}")

    dense_params, struct_params, dense_macs, struct_macs = count_stats(n_test)
    stats = scc_stats()
    assert stats["params"] == struct_params, (stats["params"], struct_params)
    assert stats["dense_macs"] == dense_macs, (stats["dense_macs"], dense_macs)
    assert stats["structured_macs"] == struct_macs, (stats["structured_macs"], struct_macs)
    print("scc.check agrees with the params and MACs")
    for variant, entry in results["variants"].items():
        entry["params"] = dense_params if variant == "dense" else struct_params
        entry["params_deployed"] = struct_params
        entry["macs"] = dense_macs if variant == "dense" else struct_macs
        entry["macs_deployed"] = struct_macs
        entry["macs_per_image"] = entry["macs"] // n_test
    results["dense_equivalent"] = {"params": dense_params, "macs": dense_macs}
    results["structured"] = {"params": struct_params, "macs": struct_macs}

    out = args.out
    os.makedirs(out, exist_ok=True)
    save_file(export_state(models["dense"][0]), os.path.join(out, "weights_dense.safetensors"))
    save_file(export_state(models["regularized"][0]), os.path.join(out, "weights_regularized.safetensors"))
    save_file(export_state(models["regularized"][1]), os.path.join(out, "weights_regularized_alpha.safetensors"))
    save_file(export_state(models["alpha"][1]), os.path.join(out, "weights_alpha.safetensors"))
    save_file({"images": x_test.contiguous()}, os.path.join(out, "test_images.safetensors"))
    save_file({"labels": y_test.float().contiguous()}, os.path.join(out, "test_labels.safetensors"))
    export_onnx(models["regularized"][0], os.path.join(out, "digits_regularized.onnx"), n_test)

    # PyTorch's logits of the deployable models, exactly as exported (f32 alphas composed
    # to W), evaluated in f64 and rounded once to f32.
    for variant, file in (("regularized", "weights_regularized_alpha"), ("alpha", "weights_alpha")):
        reference = Digits("alpha").double()
        state = {k: v.double() for k, v in export_state(models[variant][1]).items()}
        reference.load_state_dict(state, strict=True)
        reference.eval()
        with torch.no_grad():
            logits = reference(x_test.double())
        acc = (logits.argmax(1) == y_test).sum().item() / len(y_test)
        assert abs(acc - results["variants"][variant].get("test_accuracy_projected", results["variants"][variant]["test_accuracy"])) < 1e-9
        save_file({"logits": logits.float().contiguous()}, os.path.join(out, f"test_logits_{variant}.safetensors"))
        results["variants"][variant]["deployed_test_accuracy"] = acc
        results["variants"][variant]["deployed_correct"] = int((logits.argmax(1) == y_test).sum().item())

    # (b) as a user deploys it from PyTorch: regularize, project, export (torch.fx) to
    # .sc + .safetensors; export checks that scc reproduces PyTorch on the test split.
    exported = st.export(models["regularized"][1], x_test, os.path.join(out, "exported.sc"), model_name="digits")
    results["exported"] = {
        "model": "exported.sc",
        "weights": "exported.safetensors",
        "variant": "regularized",
        "max_abs_diff_vs_pytorch": exported.max_abs_diff,
    }

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
