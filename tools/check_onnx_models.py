"""Runs every model exported by tools/onnx_models.py through scc two ways and compares with
ONNX Runtime's outputs: `scc run MODEL.onnx` (ONNX inputs and outputs by their ONNX names), and
`scc import MODEL.onnx -o MODEL.sc` then `scc run MODEL.sc --weights MODEL.safetensors`.
Prints one Markdown table row per model: max |scc - ORT| and max |ORT| of the first output.

    python tools/check_onnx_models.py SCC_BINARY DIR
"""
import glob
import os
import re
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

scc, folder = sys.argv[1], sys.argv[2]


def run(*args):
    out = subprocess.run([scc, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"scc {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


print("| model | exporter | max \\|scc − ORT\\| (`scc run .onnx`) | (imported `.sc`) | max \\|ORT\\| | within 1e-4·max(1, max\\|ORT\\|) |")
print("|---|---|---:|---:|---:|---|")
for path in sorted(glob.glob(f"{folder}/*.onnx")):
    stem = path[: -len(".onnx")]
    inputs, expected = f"{stem}.inputs.safetensors", load_file(f"{stem}.ort.safetensors")
    run("run", path, "--inputs", inputs, "--save", f"{stem}.scc.safetensors")
    direct = load_file(f"{stem}.scc.safetensors")
    run("import", path, "-o", f"{stem}.sc")
    header = open(f"{stem}.sc").read()
    renames = dict(re.findall(r"`([^`]+)` is `([^`]+)`", header.split("\n\n")[0]))
    feeds = {renames.get(k, k): v for k, v in load_file(inputs).items()}
    save_file(feeds, f"{stem}.sc_inputs.safetensors")
    run("run", f"{stem}.sc", "--weights", f"{stem}.safetensors", "--inputs", f"{stem}.sc_inputs.safetensors", "--save", f"{stem}.sc_out.safetensors")
    imported = load_file(f"{stem}.sc_out.safetensors")
    name = next(iter(expected))
    want = expected[name]
    d1 = np.abs(direct[name] - want).max()
    d2 = np.abs(imported[renames.get(name, name)] - want).max()
    scale = np.abs(want).max()
    ok = max(d1, d2) <= 1e-4 * max(1.0, scale)
    model, exporter = os.path.basename(stem).rsplit("_", 1)
    print(f"| {model} | {exporter} | {d1:.2e} | {d2:.2e} | {scale:.3g} | {'yes' if ok else 'NO'} |", flush=True)
