"""Errors: every case of tests/errors (the CLI's snapshot of each error class) raised from
Python with the CLI's exact report, located source errors, and hostile input that must
raise scc.Error rather than crash the interpreter."""

import pathlib
import shlex

import numpy as np
import pytest

import scc
from conftest import REPO, read_safetensors

ERRORS = REPO / "tests" / "errors"
CASES = sorted(p.stem for p in ERRORS.iterdir() if p.suffix in (".sc", ".cmd"))

# The stage (exception class) of each CLI error case.
STAGE = {
    "alpha_and_weight": scc.WeightError,
    "input_name": scc.RunError,
    "input_shape": scc.RunError,
    "model_file_missing": scc.FileError,
    "not_structured": scc.WeightError,
    "weights_corrupt": scc.FileError,
    "weights_mismatch": scc.WeightError,
    "weights_missing_file": scc.FileError,
}


def replay(case):
    """What `scc <case>` does, through the Python API."""
    cmd = ERRORS / f"{case}.cmd"
    if not cmd.is_file():
        return scc.check(f"tests/errors/{case}.sc")
    command, model, *rest = shlex.split(cmd.read_text())
    options = dict(zip(rest[::2], rest[1::2]))
    assert len(rest) == 2 * len(options), f"{case}: flags without values are not replayed"
    shapes = None
    if "--input-shape" in options:
        name, dims = options.pop("--input-shape").split("=")
        shapes = {name: [int(d) for d in dims.split(",")]}
    weights = options.pop("--weights", None)
    inputs = options.pop("--inputs", None)
    assert not options, f"{case}: {options} not replayed"
    if command == "check":
        return scc.check(model, weights, input_shapes=shapes)
    assert command == "run"
    compiled = scc.compile(model, weights, input_shapes=shapes)
    feed = read_safetensors(inputs) if inputs else {n: np.zeros(s, np.float32) for n, s in compiled.inputs}
    return compiled.run(feed)


@pytest.mark.parametrize("case", CASES)
def test_cli_error_cases_raise_the_cli_report(case, in_repo):
    with pytest.raises(scc.Error) as err:
        replay(case)
    expected = (ERRORS / f"{case}.stderr").read_text()
    assert err.value.diagnostic == expected
    assert str(err.value) == expected.removeprefix("error: ").rstrip()
    stage = STAGE.get(case, scc.SourceError)
    assert type(err.value) is stage, f"{case}: {type(err.value).__name__}"


def test_source_error_is_located(tmp_path):
    path = tmp_path / "net.sc"
    path.write_text("model m(x: [1, 3, 8, 8]) {\n    let conv = conv2d(x, 8, kernel=3, padding=1);\n    return conv;\n}\n")
    with pytest.raises(scc.SourceError) as err:
        scc.compile(path, 0)
    e = err.value
    assert (e.file, e.line, e.column) == (str(path), 2, 39)
    assert str(e) == (
        "`conv2d` has no argument `padding`\n"
        f"  ┌─ {path}:2:39\n"
        "  │\n"
        "2 │     let conv = conv2d(x, 8, kernel=3, padding=1);\n"
        "  │                                       ^^^^^^^ unknown argument\n"
        "  │\n"
        "  = `conv2d(x, out, kernel, stride=…, pad=…, dilation=…, groups=…, bias=…)`"
    )
    assert e.diagnostic == "error: " + str(e) + "\n\n"
    assert isinstance(e, scc.Error) and isinstance(e, Exception)


def test_source_text_errors_name_the_string():
    with pytest.raises(scc.SourceError) as err:
        scc.compile("model m(x: [1, 4]) {\n  let y = relu(x)\n  return y;\n}", 0)
    assert err.value.file == "<string>"
    assert (err.value.line, err.value.column) == (3, 3)
    assert "<string>:3:3" in str(err.value)


def test_an_error_without_location_has_no_line():
    with pytest.raises(scc.SourceError) as err:
        scc.compile("model a(x: [1, 4]) { return relu(x); }", model_name="b")
    assert str(err.value) == "no model named `b` in this file\n = the file defines: `a`"
    assert err.value.line is None and err.value.column is None


def test_missing_weights_are_listed_with_shapes():
    source = "model m(x: [1, 3, 8, 8]) { let conv = conv2d(x, 8, kernel=3, bias=true); return conv; }"
    with pytest.raises(scc.WeightError) as err:
        scc.compile(source)
    assert "conv.weight" in str(err.value) and "[8, 3, 3, 3]" in str(err.value)
    assert "conv.bias" in str(err.value)


def test_missing_and_unexpected_inputs():
    model = scc.compile("model m(x: [1, 4], y: [1, 4]) { return x + y; }")
    ones = np.ones((1, 4), np.float32)
    with pytest.raises(scc.RunError, match=r"^missing input `y` \(expected shape \[1, 4\]\)$"):
        model.run({"x": ones})
    with pytest.raises(scc.RunError, match=r"^unexpected input `z`: the model's inputs are `x` \[1, 4\], `y` \[1, 4\]$"):
        model.run({"x": ones, "y": ones, "z": ones})
    with pytest.raises(scc.RunError, match=r"^unknown output `w`: the model's outputs are `output0` \[1, 4\]$"):
        model.run(["w"], {"x": ones, "y": ones})


def test_python_argument_errors():
    model = scc.compile("model m(x: [1, 4]) { return relu(x); }")
    with pytest.raises(TypeError):
        model.run([1, 2, 3])
    with pytest.raises(TypeError):
        model.run(None)
    with pytest.raises(TypeError):
        model.run("output0", {"x": np.zeros((1, 4), np.float32)})
    with pytest.raises(TypeError):
        scc.compile(42)
    with pytest.raises(TypeError):
        scc.compile("model m(x: [1, 4]) { return relu(x); }", 1.5)
    with pytest.raises(TypeError):
        scc.compile("model m(x: [1, 4]) { return relu(x); }", True)
    with pytest.raises(ValueError):
        scc.compile("model m(x: [1, 4]) { return relu(x); }", -1)
    with pytest.raises(ValueError, match="engine"):
        scc.compile("model m(x: [1, 4]) { return relu(x); }", engine="gpu")
    with pytest.raises(ValueError, match="threads"):
        scc.compile("model m(x: [1, 4]) { return relu(x); }", threads=0)
    with pytest.raises(ValueError, match="emit"):
        scc.build("model m(x: [1, 4]) { return relu(x); }", 0, "out", emit="dll")


HOSTILE_SOURCES = [
    "",
    "{",
    "model",
    "model m(x: [1, 4]) {",
    "model m(x: [0, 4]) { return relu(x); }",
    "model m(x: [1, 3, 8, 8]) { let c = conv2d(x, 0, kernel=3); return c; }",
    "model m(x: [1, 3, 8, 8]) { let c = conv2d(x, 8, kernel=30); return c; }",
    "model m(x: [1, 3, 8, 8]) { let c = sconv2d(x, 8, kernel=3, c=9, n=2); return c; }",
    "model m(x: [1, 4]) { return relu(" * 50 + "x" + ")" * 50 + "; }",
    "block b(x) { return b(x); } model m(x: [1, 4]) { return b(x); }",
    "model m(x: [1, 4]) { return x + \u0000; }",
    "model m(x: [99999999999999999999, 4]) { return relu(x); }",
]


@pytest.mark.parametrize("source", HOSTILE_SOURCES)
def test_hostile_sources_raise_scc_errors(source):
    try:
        model = scc.compile(source, 0)
    except scc.Error:
        return
    # A model that compiles must also run (or refuse its inputs) without crashing.
    feed = {n: np.zeros(s, np.float32) for n, s in model.inputs}
    model.run(feed)


def test_non_finite_weights_are_refused():
    source = "model m(x: [1, 3, 8, 8]) { let conv = conv2d(x, 2, kernel=1); return conv; }"
    weight = np.ones((2, 3, 1, 1), np.float32)
    weight[1, 2] = np.nan
    with pytest.raises(scc.WeightError, match="conv.weight"):
        scc.compile(source, {"conv.weight": weight})
