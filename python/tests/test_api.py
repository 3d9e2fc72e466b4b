"""The rest of the numpy API: model and weight arguments, inputs/outputs, run forms,
bench, check, build, input shapes and the package's typing files."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import scc
from conftest import EXAMPLES, REPO, read_safetensors

TWO_OUTPUTS = """
model two(a: [2, 3, 4, 4], b: [2, 3, 4, 4]) {
    let conv = conv2d(a, 5, kernel=3, pad=1);
    let pooled = flatten(global_avgpool(relu(conv)));
    return pooled, a + b;
}
"""


def test_inputs_outputs_and_repr():
    model = scc.compile(TWO_OUTPUTS, 0)
    assert model.inputs == [("a", (2, 3, 4, 4)), ("b", (2, 3, 4, 4))]
    assert model.outputs == [("pooled", (2, 5)), ("output1", (2, 3, 4, 4))]
    assert model.name == "two"
    assert model.engine == "jit" and model.threads >= 1 and model.compile_ms > 0
    assert repr(model) == (
        "<scc.CompiledModel `two` (a: [2, 3, 4, 4], b: [2, 3, 4, 4]) -> "
        f"(pooled: [2, 5], output1: [2, 3, 4, 4]), engine=jit, threads={model.threads}>"
    )


def test_run_forms():
    model = scc.compile(TWO_OUTPUTS, 0)
    rng = np.random.default_rng(0)
    feed = {n: rng.standard_normal(s).astype(np.float32) for n, s in model.inputs}
    outputs = model.run(feed)
    assert list(outputs) == ["pooled", "output1"]
    np.testing.assert_allclose(outputs["output1"], feed["a"] + feed["b"], rtol=0, atol=0)
    listed = model.run(None, feed)
    assert [a.shape for a in listed] == [(2, 5), (2, 3, 4, 4)]
    chosen = model.run(["output1", "pooled", "output1"], input_feed=feed)
    np.testing.assert_array_equal(chosen[0], outputs["output1"])
    np.testing.assert_array_equal(chosen[1], outputs["pooled"])
    np.testing.assert_array_equal(chosen[2], outputs["output1"])
    assert chosen[0] is not chosen[2]


def test_engines_agree_and_threads_are_bit_identical():
    feed = {"image": np.random.default_rng(1).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)}
    interp = scc.compile(EXAMPLES / "resnet20s.sc", 5, engine="interp").run(feed)["fc"]
    one = scc.compile(EXAMPLES / "resnet20s.sc", 5, threads=1).run(feed)["fc"]
    two = scc.compile(EXAMPLES / "resnet20s.sc", 5, threads=2).run(feed)["fc"]
    np.testing.assert_array_equal(one, two)
    scale = max(1.0, float(np.abs(interp).max()))
    assert float(np.abs(one - interp).max()) <= 1e-4 * scale


def test_random_weights_are_deterministic_and_seeded():
    feed = {"x": np.ones((1, 3, 8, 8), np.float32)}
    source = "model m(x: [1, 3, 8, 8]) { let conv = conv2d(x, 4, kernel=3, bias=true); return conv; }"
    a = scc.compile(source, 7).run(feed)["conv"]
    b = scc.compile(source, 7).run(feed)["conv"]
    c = scc.compile(source, 8).run(feed)["conv"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_model_path_forms(tmp_path):
    path = tmp_path / "m.sc"
    path.write_text("model m(x: [1, 4]) { return relu(x); }")
    feed = {"x": np.array([[-1, 0, 1, 2]], np.float32)}
    for model in (path, str(path)):
        np.testing.assert_array_equal(scc.compile(model).run(feed)["output0"], [[0, 0, 1, 2]])
    with pytest.raises(scc.FileError, match="cannot read `no/such.sc`"):
        scc.compile("no/such.sc")


def test_model_name_picks_one_model():
    source = "model a(x: [1, 4]) { return relu(x); }\nmodel b(x: [1, 2]) { return sigmoid(x); }"
    assert scc.compile(source, model_name="b").inputs == [("x", (1, 2))]


def test_input_shapes_override():
    model = scc.compile(EXAMPLES / "resnet20s.sc", 0, input_shapes={"image": [3, 3, 32, 32]})
    assert model.inputs == [("image", (3, 3, 32, 32))]
    assert model.outputs == [("fc", (3, 10))]
    with pytest.raises(scc.SourceError, match="unknown input `nope`|no input `nope`|`nope`"):
        scc.compile(EXAMPLES / "resnet20s.sc", 0, input_shapes={"nope": [1, 3, 32, 32]})


def test_dense_kernels_are_projected_and_reported():
    source = "model m(x: [1, 4, 6, 6]) { let s = sconv2d(x, 4, kernel=3, c=2, n=2, pad=1); return s; }"
    alpha = np.random.default_rng(2).standard_normal((4, 2, 2, 2)).astype(np.float32)
    # compose(alpha): a superposition of 3x2x2 all-ones boxes, as LANGUAGE.md defines it.
    dense = np.zeros((4, 4, 3, 3), np.float32)
    for a in range(2):
        for p in range(2):
            for q in range(2):
                dense[:, a : a + 3, p : p + 2, q : q + 2] += alpha[:, a, p, q][:, None, None, None]
    feed = {"x": np.random.default_rng(3).standard_normal((1, 4, 6, 6)).astype(np.float32)}
    structured = scc.compile(source, {"s.alpha": alpha})
    projected = scc.compile(source, {"s.weight": dense})
    assert structured.projections == {}
    assert list(projected.projections) == ["s"] and projected.projections["s"] < 1e-6
    np.testing.assert_allclose(projected.run(feed)["s"], structured.run(feed)["s"], atol=1e-5)
    noisy = dense + np.random.default_rng(4).standard_normal(dense.shape).astype(np.float32)
    with pytest.raises(scc.WeightError, match="s.weight"):
        scc.compile(source, {"s.weight": noisy})
    assert scc.compile(source, {"s.weight": noisy}, max_structure_error=1.0).projections["s"] > 1e-3
    report = scc.check(source, {"s.weight": noisy})
    assert report["structure_residuals"][0]["layer"] == "s"
    assert report["structure_residuals"][0]["relative_residual"] > 1e-3


def test_bench_report():
    model = scc.compile(EXAMPLES / "resnet20s.sc", 0, threads=1)
    report = model.bench(runs=3, warmup=1)
    assert report["model"] == "resnet20s" and report["runs"] == 3 and report["threads"] == 1
    assert report["engine"] == "jit"
    assert 0 < report["min_ms"] <= report["median_ms"] <= report["max_ms"]
    assert report["executed_macs"] < report["dense_macs"]
    assert report["gflops_executed"] > 0
    feed = {"image": np.zeros((1, 3, 32, 32), np.float32)}
    assert model.bench(1, feed, warmup=0)["runs"] == 1
    with pytest.raises(ValueError):
        model.bench(0)


def scc_binary():
    """The `scc` executable to compare with: $SCC_BIN, else one built in target/."""
    if os.environ.get("SCC_BIN"):
        return pathlib.Path(os.environ["SCC_BIN"])
    for profile in ("debug", "release"):
        candidate = REPO / "target" / profile / "scc"
        if candidate.is_file():
            return candidate
    return None


def test_check_matches_the_cli_report(in_repo):
    report = scc.check("examples/resnet18s.sc")
    assert report["model"] == "resnet18s"
    assert report["inputs"] == [{"name": "image", "shape": [1, 3, 224, 224]}]
    assert report["structured_macs"] < report["dense_macs"]
    assert {"name", "op", "shape", "params", "dense_macs", "structured_macs"} <= set(report["layers"][0])
    cli = scc_binary()
    if cli is None:
        pytest.skip("no scc executable (set SCC_BIN or build target/debug/scc) to compare with")
    out = subprocess.run([str(cli), "check", "examples/resnet18s.sc", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == report

def test_build_an_executable(tmp_path):
    case = EXAMPLES / "digits"
    output = tmp_path / "digits"
    report = scc.build(case / "digits.sc", case / "weights_alpha.safetensors", output)
    assert report["files"][0] == str(output) and output.is_file()
    assert report["bytes"] > report["weight_bytes"] > 0 and report["code_bytes"] > 0
    saved = tmp_path / "logits.safetensors"
    subprocess.run(
        [str(output), "--inputs", str(case / "test_images.safetensors"), "--save", str(saved)],
        check=True,
        capture_output=True,
    )
    expected = scc.compile(case / "digits.sc", case / "weights_alpha.safetensors").run(
        read_safetensors(case / "test_images.safetensors")
    )["fc"]
    np.testing.assert_array_equal(read_safetensors(saved)["fc"], expected)
    lib = scc.build(case / "digits.sc", case / "weights_alpha.safetensors", tmp_path / "net", emit="staticlib")
    assert sorted(pathlib.Path(f).name for f in lib["files"]) == ["libnet.a", "net.h"]


def test_package_ships_type_stubs():
    package = pathlib.Path(scc.__file__).parent
    assert (package / "py.typed").is_file()
    stub = (package / "_scc.pyi").read_text()
    for name in scc.__all__:
        if name != "__version__":
            assert name in stub, f"{name} is not typed in _scc.pyi"
    for public in (scc.compile, scc.check, scc.build, scc.CompiledModel.run, scc.CompiledModel.bench):
        assert public.__doc__, public
    assert scc.__version__ == "0.1.0"
