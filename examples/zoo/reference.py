"""Checks the model zoo of `examples/` against its PyTorch references (torchvision, timm and
`models.py`), and writes the small artefacts CI checks without PyTorch.

Needs PyTorch, torchvision, timm and safetensors (`../shared/peers/setup.sh`'s venv), and
builds scc with cargo. From the repository root:

    python examples/zoo/reference.py check [EXAMPLE ...]
        Full size. A dense example: the reference with its own random initialisation
        (batchnorm affine parameters drawn in [0.5, 1.5] x [-0.2, 0.2], running statistics
        calibrated by a few training-mode batches, then eval mode), its state_dict saved as
        PyTorch saves it (safetensors.torch.save_file: PyTorch's names, integer
        `num_batches_tracked`) and run by `scc run --weights` with no renaming by hand (scc
        maps the names by s/\\.([0-9]+)/_\\1/g and skips the counters); a structured
        example: scc's random weights (batchnorm statistics calibrated on 2 images), the
        alphas composed into dense kernels and loaded into the reference. Compares the parameter
        counts and the outputs (max |scc - torch| <= 1e-4 * max(1, max |torch|)).
    python examples/zoo/reference.py fixtures [EXAMPLE ...]
        Small inputs (`models.EXAMPLES`): scc's deterministic random weights (seed SEED,
        batchnorm statistics calibrated on a batch of 16 random images of that size) and
        input (seed SEED) by `examples/zoo_weights.rs`, loaded into the reference; PyTorch's
        outputs, computed in float64 from those float32 tensors, are written to
        `examples/zoo/expected/EXAMPLE.safetensors` (with the weights' digest and the
        reference's state_dict keys as metadata), which `tests/zoo.rs` compares with scc.
"""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from safetensors.numpy import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "examples/zoo/expected"
SCC = ROOT / "target/release/scc"
ZOO_WEIGHTS = ROOT / "target/release/examples/zoo_weights"
# The seed of the committed outputs' weights and inputs; tests/zoo.rs uses the same.
SEED = 1


def sc_name(key):
    """A PyTorch state_dict key as an scc weight name."""
    return re.sub(r"\.([0-9]+)", r"_\1", key)


def build_scc():
    subprocess.run(
        ["nice", "-n", "19", "cargo", "build", "--release", "--bin", "scc", "--example", "zoo_weights"],
        cwd=ROOT, check=True,
    )


def compose(alpha, dense_shape):
    """The dense kernel [out, Cg, kh, kw] an `alpha [out, c, nh, nw]` stands for (LANGUAGE.md)."""
    out, cg, kh, kw = dense_shape
    _, c, nh, nw = alpha.shape
    bc, bh, bw = cg - c + 1, kh - nh + 1, kw - nw + 1
    w = np.zeros(dense_shape, dtype=np.float64)
    for a in range(c):
        for p in range(nh):
            for q in range(nw):
                w[:, a:a + bc, p:p + bh, q:q + bw] += alpha[:, a, p, q].astype(np.float64)[:, None, None, None]
    return w.astype(np.float32)


def load_scc_weights(module, weights):
    """Loads scc-named weights (alphas composed) into the reference, strictly."""
    state = module.state_dict()
    loaded, used = {}, set()
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            loaded[key] = value
            continue
        name = sc_name(key)
        if name in weights:
            tensor = weights[name]
        elif name.endswith(".weight") and name[: -len("weight")] + "alpha" in weights:
            name = name[: -len("weight")] + "alpha"
            tensor = compose(weights[name], tuple(value.shape))
        else:
            raise KeyError(f"scc weights have no `{name}` for `{key}`")
        if tuple(tensor.shape) != tuple(value.shape):
            raise ValueError(f"{name}: {tensor.shape} vs {tuple(value.shape)}")
        used.add(name)
        loaded[key] = torch.from_numpy(np.ascontiguousarray(tensor))
    unused = set(weights) - used
    if unused:
        raise KeyError(f"scc weights the reference does not have: {sorted(unused)[:5]}")
    module.load_state_dict(loaded, strict=True)
    return module.eval()


def random_reference(module, size, seed=0):
    """The reference with its own random init, random batchnorm affine parameters and running
    statistics calibrated on random batches (training mode, cumulative average), in eval mode."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.reset_running_stats()
                m.momentum = None
        module.train()
        for _ in range(4):
            module(torch.randn(2, 3, *size))
    return module.eval()


def save_state_dict(module, path):
    """The reference's state_dict exactly as PyTorch saves it (PyTorch's key names, the
    integer `num_batches_tracked` counters included): `scc --weights` maps the names."""
    safetensors.torch.save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))


def scc_check(example, size=None):
    args = [str(SCC), "check", f"examples/{example}.sc", "--json"]
    if size:
        args += ["--input-shape", f"image=1,3,{size[0]},{size[1]}"]
    return json.loads(subprocess.run(args, cwd=ROOT, check=True, capture_output=True).stdout)


def scc_run(example, weights, inputs, out, size):
    subprocess.run(
        [str(SCC), "run", f"examples/{example}.sc", "--weights", str(weights), "--inputs", str(inputs),
         "--save", str(out), "--input-shape", f"image=1,3,{size[0]},{size[1]}"],
        cwd=ROOT, check=True, capture_output=True,
    )
    return load_file(str(out))


def zoo_weights(example, size, out_dir, batch=None):
    """scc's seeded weights (batchnorm statistics calibrated on `batch` images, by default
    the committed outputs' 16) and input."""
    subprocess.run(
        [str(ZOO_WEIGHTS), f"examples/{example}.sc", str(size[0]), str(size[1]), str(SEED), str(out_dir)]
        + ([str(batch)] if batch else []),
        cwd=ROOT, check=True, capture_output=True,
    )
    return load_file(str(out_dir / "weights.safetensors")), load_file(str(out_dir / "inputs.safetensors"))


def max_error(got, expected):
    diff = float(np.abs(got - expected).max())
    return diff, 1e-4 * max(1.0, float(np.abs(expected).max()))


def output_name(stats):
    return stats["outputs"][0]["name"]


def check(example, work):
    reference, full, _ = models.EXAMPLES[example]
    module = models.REFERENCES[reference]()
    stats = scc_check(example)
    structured = stats["structured_macs"] != stats["dense_macs"]
    torch_params = sum(p.numel() for p in module.parameters())
    if structured:
        # Full size: two calibration images give every channel thousands of positions.
        weights, inputs = zoo_weights(example, full, work, batch=2)
        load_scc_weights(module, weights)
        weights_path = work / "weights.safetensors"
        image = inputs["image"]
    else:
        random_reference(module, full)
        weights_path = work / "weights.safetensors"
        save_state_dict(module, weights_path)
        image = torch.randn(1, 3, *full, generator=torch.Generator().manual_seed(1)).numpy()
    inputs_path = work / "inputs.safetensors"
    save_file({"image": image}, str(inputs_path))
    with torch.no_grad():
        expected = module(torch.from_numpy(image)).numpy()
    got = scc_run(example, weights_path, inputs_path, work / "out.safetensors", full)
    (name, value), = got.items()
    diff, tol = max_error(value, expected)
    params_ok = structured or stats["params"] == torch_params
    ok = diff <= tol and params_ok
    kind = "scc random alphas, composed" if structured else "reference init, calibrated BN"
    print(f"{example:24} {'x'.join(map(str, full)):>9}  params scc {stats['params']:>11,} torch {torch_params:>11,}"
          f"  max|diff| {diff:.2e} (tol {tol:.2e}, max|torch| {np.abs(expected).max():.3g})  [{kind}]"
          f"  {'OK' if ok else 'FAIL'}", flush=True)
    return ok


def fixture(example, work):
    reference, _, small = models.EXAMPLES[example]
    module = models.REFERENCES[reference]()
    weights, inputs = zoo_weights(example, small, work)
    load_scc_weights(module, weights)
    with torch.no_grad():
        single = module(torch.from_numpy(inputs["image"])).numpy()
        # The committed reference: the same weights and input, computed in float64.
        expected = module.double()(torch.from_numpy(inputs["image"]).double()).float().numpy()
    stats = scc_check(example, small)
    name = output_name(stats)
    EXPECTED.mkdir(parents=True, exist_ok=True)
    path = EXPECTED / f"{example}.safetensors"
    metadata = {"input_shape": f"1,3,{small[0]},{small[1]}", "seed": str(SEED), "reference": reference,
                "computed": "float64"}
    metadata.update(json.loads((work / "digest.json").read_text()))
    # The reference's state_dict keys, for the test that binds a checkpoint as saved.
    metadata["state_dict_keys"] = "\n".join(models.REFERENCES[reference]().state_dict().keys())
    save_file({name: np.ascontiguousarray(expected)}, str(path), metadata=metadata)
    got = scc_run(example, work / "weights.safetensors", work / "inputs.safetensors", work / "out.safetensors", small)
    diff, tol = max_error(got[name], expected)
    torch_diff, _ = max_error(single, expected)
    print(f"{example:24} {'x'.join(map(str, small)):>7} -> {path.relative_to(ROOT)} {list(expected.shape)}"
          f"  max|expected| {np.abs(expected).max():.3g}, max|diff| scc {diff:.2e} torch-f32 {torch_diff:.2e}"
          f" (tol {tol:.2e})  {'OK' if diff <= tol else 'FAIL'}", flush=True)
    return diff <= tol


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("check", "fixtures"):
        print(__doc__)
        sys.exit(2)
    examples = sys.argv[2:] or list(models.EXAMPLES)
    build_scc()
    job = check if sys.argv[1] == "check" else fixture
    failed = []
    for example in examples:
        with tempfile.TemporaryDirectory() as work:
            if not job(example, Path(work)):
                failed.append(example)
    if failed:
        print("FAILED:", ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
