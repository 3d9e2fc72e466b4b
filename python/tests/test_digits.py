"""The digits demo from Python (no PyTorch): the committed models run with PyTorch's
numbers, and the model `train.py` exported with scc.torch (regularize → project →
export) equals the hand-written digits.sc and reproduces PyTorch's logits and accuracy."""

import json

import numpy as np
import pytest

import scc
from conftest import EXAMPLES, assert_close, read_safetensors

DIGITS = EXAMPLES / "digits"
RESULTS = json.loads((DIGITS / "results.json").read_text())
IMAGES = read_safetensors(DIGITS / "test_images.safetensors")
LABELS = read_safetensors(DIGITS / "test_labels.safetensors")["labels"].astype(np.int64)


def check_against_pytorch(logits, variant):
    expected = read_safetensors(DIGITS / f"test_logits_{variant}.safetensors")["logits"]
    assert_close(f"digits {variant}", logits, expected)
    np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))
    correct = int((logits.argmax(1) == LABELS).sum())
    assert correct == RESULTS["variants"][variant]["deployed_correct"]
    assert correct / len(LABELS) > 0.95


@pytest.mark.parametrize("engine", ["jit", "interp"])
@pytest.mark.parametrize(
    "variant, weights",
    [("regularized", "weights_regularized_alpha"), ("alpha", "weights_alpha"), ("regularized", "weights_regularized")],
)
def test_committed_models_match_pytorch(variant, weights, engine):
    model = scc.compile(DIGITS / "digits.sc", DIGITS / f"{weights}.safetensors", engine=engine)
    check_against_pytorch(model.run(IMAGES)["fc"], variant)


def test_dense_model_is_refused_with_its_residuals():
    with pytest.raises(scc.WeightError, match="conv2"):
        scc.compile(DIGITS / "digits.sc", DIGITS / "weights_dense.safetensors")
    report = scc.check(DIGITS / "digits.sc", DIGITS / "weights_dense.safetensors")
    residuals = {r["layer"]: r["relative_residual"] for r in report["structure_residuals"]}
    expected = RESULTS["variants"]["dense"]["structure_residual"]
    assert residuals == pytest.approx(expected, rel=1e-4)


def test_exported_model_matches_pytorch_and_the_handwritten_model():
    exported = RESULTS["exported"]
    assert exported["variant"] == "regularized"
    model = scc.compile(DIGITS / exported["model"], DIGITS / exported["weights"])
    assert model.inputs == [("images", (360, 1, 8, 8))]
    assert model.outputs == [("fc", (360, 10))]
    logits = model.run(IMAGES)["fc"]
    check_against_pytorch(logits, "regularized")
    # Same weights (under the same names) through the hand-written digits.sc: same numbers.
    handwritten = scc.compile(DIGITS / "digits.sc", DIGITS / exported["weights"]).run(IMAGES)["fc"]
    np.testing.assert_array_equal(logits, handwritten)
    # And the same counts as scc check of digits.sc.
    ours, theirs = scc.check(DIGITS / exported["model"]), scc.check(DIGITS / "digits.sc")
    for key in ("params", "dense_macs", "structured_macs", "sumpool_adds"):
        assert ours[key] == theirs[key], key
