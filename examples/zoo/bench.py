"""Times every example pair in one run: scc's JIT on the dense and the structured twin
(`scc bench --json`, random weights) and ONNX Runtime on the dense reference (exported from
PyTorch to ONNX), all on the same number of threads, and prints examples/README.md's table.

    python examples/zoo/bench.py [--threads 2] [--rounds 3] [--runs 20] [--readme] [PAIR ...]

Needs the peers venv (torch, torchvision, timm, onnx, onnxruntime) and builds scc with
cargo (release). Each round times every model once (ONNX Runtime: 5 warm-up runs, then the
median of --runs; scc: `scc bench --runs`, its median); the table shows the median over the
rounds. Run it on a quiet machine: the ratios are what matters. Prints the table, then one
JSON object; with --readme (all pairs only) it also replaces the table in examples/README.md
(between the `bench.py` markers) by this run's, with the command and settings that made it.
"""

import argparse
import datetime
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCC = ROOT / "target/release/scc"
README = ROOT / "examples/README.md"
BEGIN, END = "<!-- bench.py: begin -->", "<!-- bench.py: end -->"

# (dense example, structured example, reference, input H x W)
PAIRS = [
    ("resnet18", "resnet18s", "resnet18", (224, 224)),
    ("resnet18", "resnet18s_a", "resnet18", (224, 224)),
    ("resnet34", "resnet34s", "resnet34", (224, 224)),
    ("resnet50", "resnet50s", "resnet50", (224, 224)),
    ("resnet20", "resnet20s", "resnet20", (32, 32)),
    ("resnet56", "resnet56s", "resnet56", (32, 32)),
    ("mobilenetv2", "mobilenetv2s", "mobilenet_v2", (224, 224)),
    ("efficientnet_b0", "efficientnet_b0s", "efficientnet_b0", (224, 224)),
    ("hrnet_w18_small", "hrnet_w18_small_s", "hrnet_w18_small", (224, 224)),
    ("hrnet_w18_small_seg", "hrnet_w18_small_seg_s", "hrnet_w18_small_seg", (512, 1024)),
    ("hrnet_w18_small_v2_seg", "hrnet_w18_small_v2_seg_s", "hrnet_w18_small_v2_seg", (512, 1024)),
]

def reference(name):
    return models.REFERENCES[name]()


def ort_session(name, size, threads, work):
    path = work / f"{name}.onnx"
    if not path.exists():
        torch.manual_seed(0)
        module = reference(name).eval()
        torch.onnx.export(module, (torch.randn(1, 3, *size),), str(path), opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_ms(session, size, runs):
    x = np.random.default_rng(0).standard_normal((1, 3, *size), dtype=np.float32)
    feed = {session.get_inputs()[0].name: x}
    for _ in range(5):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def scc_bench(example, threads, runs):
    out = subprocess.run(
        [str(SCC), "bench", f"examples/{example}.sc", "--random-weights", "1", "--threads", str(threads),
         "--runs", str(runs), "--interp-runs", "1", "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return float(json.loads(out.stdout)["jit_ms"])


def scc_counts(example):
    out = subprocess.run([str(SCC), "check", f"examples/{example}.sc", "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    stats = json.loads(out.stdout)
    return {k: stats[k] for k in ("params", "dense_macs", "structured_macs")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--readme", action="store_true", help="write the table into examples/README.md")
    parser.add_argument("pairs", nargs="*", help="structured examples to time (default: all)")
    args = parser.parse_args()
    if args.readme and args.pairs:
        parser.error("--readme writes the whole table: give no PAIR")
    pairs = [p for p in PAIRS if not args.pairs or p[1] in args.pairs]
    subprocess.run(["nice", "-n", "19", "cargo", "build", "--release", "--bin", "scc", "--example", "zoo_weights"], cwd=ROOT, check=True)

    work = Path(tempfile.mkdtemp(prefix="zoo_bench_"))
    sessions = {}
    for _, _, ref, size in pairs:
        if ref not in sessions:
            sessions[ref] = ort_session(ref, size, args.threads, work)
    times = {}
    for _ in range(args.rounds):
        for dense, structured, ref, size in pairs:
            times.setdefault(f"ort:{ref}", []).append(ort_ms(sessions[ref], size, args.runs))
            for example in (dense, structured):
                times.setdefault(example, []).append(scc_bench(example, args.threads, args.runs))
    median = {k: float(np.median(v)) for k, v in times.items()}
    shutil.rmtree(work)

    rows = []
    lines = [
        "| model | input | params | dense MACs | executed MACs | scc JIT, dense twin | scc JIT, structured twin |"
        " structured / dense | ONNX Runtime, dense reference |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dense, structured, ref, size in pairs:
        d, s = scc_counts(dense), scc_counts(structured)
        row = {
            "dense": dense, "structured": structured, "input": f"{size[0]}x{size[1]}",
            "params": [d["params"], s["params"]], "dense_macs": d["dense_macs"],
            "executed_macs": [d["structured_macs"], s["structured_macs"]],
            "scc_dense_ms": median[dense], "scc_structured_ms": median[structured],
            "ort_dense_ms": median[f"ort:{ref}"],
        }
        rows.append(row)
        lines.append(f"| `{dense}` / `{structured}` | {row['input']} | {d['params']:,} / {s['params']:,} |"
                     f" {d['dense_macs']:,} | {d['structured_macs']:,} / {s['structured_macs']:,} |"
                     f" {median[dense]:.2f} ms | {median[structured]:.2f} ms |"
                     f" {median[structured] / median[dense]:.2f}x | {median[f'ort:{ref}']:.2f} ms |")
    print("\n".join(lines))
    print(json.dumps({"threads": args.threads, "rounds": args.rounds, "runs": args.runs, "rows": rows}))
    if args.readme:
        write_readme(lines, args)


def write_readme(lines, args):
    """Replaces the table between the markers of examples/README.md by this run's."""
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    command = (f"python examples/zoo/bench.py --threads {args.threads} --rounds {args.rounds}"
               f" --runs {args.runs} --readme")
    header = (f"\nMeasured by `{command}` on {datetime.date.today().isoformat()} (commit {commit},"
              f" {platform.machine()}, {args.threads} threads, ONNX Runtime {ort.__version__},"
              f" PyTorch {torch.__version__} for the export), all in one run.\n\n")
    README.write_text(text[:start] + header + "\n".join(lines) + "\n\n" + text[end:])
    print(f"wrote the table into {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
