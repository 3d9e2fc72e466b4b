"""ONNX from Python: every ONNX test model of tests/data/onnx compiled with its own weights
against ONNX Runtime's outputs, `scc.import_onnx` (dense, structure="auto", by layer) on the
digits export, `scc.advise`, and ONNX errors."""

import numpy as np
import pytest

import scc
from conftest import EXAMPLES, REPO, assert_close, read_safetensors

ONNX_DIR = REPO / "tests" / "data" / "onnx"
MODELS = sorted(ONNX_DIR.glob("*.onnx"))
DIGITS = EXAMPLES / "digits"


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_onnx_models_match_onnx_runtime(path):
    model = scc.compile(path)
    inputs = read_safetensors(path.with_name(path.name + ".inputs.safetensors"))
    expected = read_safetensors(path.with_name(path.name + ".ort.safetensors"))
    assert sorted(n for n, _ in model.inputs) == sorted(inputs)
    outputs = model.run(inputs)
    assert sorted(outputs) == sorted(expected)
    for name, array in outputs.items():
        assert_close(f"{path.stem}/{name}", array, expected[name])
    assert scc.check(path)["params"] > 0


def digits_logits_ok(logits):
    expected = read_safetensors(DIGITS / "test_logits_regularized.safetensors")["logits"]
    assert_close("digits", logits, expected)
    np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))


def test_digits_onnx_runs_with_its_own_weights():
    model = scc.compile(DIGITS / "digits_regularized.onnx")
    assert model.inputs == [("images", (360, 1, 8, 8))]
    (output, _), = model.outputs
    digits_logits_ok(model.run(read_safetensors(DIGITS / "test_images.safetensors"))[output])


def test_import_onnx_with_structure_auto_recovers_the_structure(tmp_path):
    report = scc.import_onnx(DIGITS / "digits_regularized.onnx", tmp_path / "digits.sc", structure="auto")
    assert [(l["layer"], l["c"], l["n"]) for l in report["structured"]] == [("conv2", 8, [2, 2]), ("conv3", 16, [2, 2])]
    assert all(l["relative_residual"] < 1e-5 and l["automatic"] for l in report["structured"])
    assert report["model"] == str(tmp_path / "digits.sc") and report["weights"] == str(tmp_path / "digits.safetensors")
    assert report["inputs"] == [{"onnx": "images", "sc": "images"}]
    model = scc.compile(tmp_path / "digits.sc", tmp_path / "digits.safetensors")
    images = read_safetensors(DIGITS / "test_images.safetensors")
    (output, _), = model.outputs
    digits_logits_ok(model.run(images)[output])
    assert "sconv2d" in (tmp_path / "digits.sc").read_text()


def test_import_onnx_dense_and_by_layer(tmp_path):
    dense = scc.import_onnx(DIGITS / "digits_regularized.onnx", tmp_path / "dense.sc")
    assert dense["structured"] == [] and dense["layers"] > 0
    chosen = scc.import_onnx(DIGITS / "digits_regularized.onnx", tmp_path / "one.sc", {"conv2": (8, 2)})
    assert [(l["layer"], l["c"], l["n"], l["automatic"]) for l in chosen["structured"]] == [("conv2", 8, [2, 2], False)]
    with pytest.raises(ValueError, match="structure must be"):
        scc.import_onnx(DIGITS / "digits_regularized.onnx", tmp_path / "bad.sc", "sometimes")


def test_advise_finds_the_trained_structure():
    advice = scc.advise(DIGITS / "digits_regularized.onnx")
    best = {}
    for layer in advice["layers"]:
        pick = layer["candidates"][layer["best"]] if layer["best"] is not None else None
        best[layer["layer"]] = None if pick is None else (pick["c"], pick["n"])
    assert best["conv2"] is not None and best["conv2"][0] == 8
    assert best["conv3"] is not None and best["conv3"][0] == 16
    assert best["conv1"] is None and best["fc"] is None
    with pytest.raises(ValueError, match="trained weights"):
        scc.advise(DIGITS / "digits.sc")


def test_onnx_errors(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01 not a protobuf \xff" * 4)
    with pytest.raises(scc.OnnxError):
        scc.compile(garbage)
    with pytest.raises(scc.Error):
        scc.compile(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="an ONNX file holds one"):
        scc.compile(DIGITS / "digits_regularized.onnx", model_name="x")
