"""Every case of ../shared/fixtures through Python: compiled with both engines, weights
from the file and from a dict, outputs against PyTorch's, and `scc.check` against each
case's stats.json."""

import json

import numpy as np
import pytest

import scc
from conftest import assert_close, fixture_cases, read_safetensors

CASES = fixture_cases()
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("engine", ["jit", "interp"])
def test_fixture_outputs_match_pytorch(case, engine):
    model = scc.compile(case / "model.sc", str(case / "weights.safetensors"), engine=engine)
    assert model.engine == engine
    inputs = read_safetensors(case / "inputs.safetensors")
    expected = read_safetensors(case / "expected.safetensors")
    assert sorted(name for name, _ in model.inputs) == sorted(inputs)
    outputs = model.run(inputs)
    assert sorted(outputs) == sorted(expected)
    for name, array in outputs.items():
        assert_close(f"{case.name}/{name}", array, expected[name])
    # onnxruntime's form: run(None, feed) is every output in `return` order.
    as_list = model.run(None, inputs)
    assert [a.shape for a in as_list] == [tuple(shape) for _, shape in model.outputs]
    for (name, _), array in zip(model.outputs, as_list):
        np.testing.assert_array_equal(array, outputs[name])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fixture_weights_from_a_dict_and_source_text(case):
    weights = read_safetensors(case / "weights.safetensors")
    source = (case / "model.sc").read_text()
    model = scc.compile(source, weights)
    inputs = read_safetensors(case / "inputs.safetensors")
    expected = read_safetensors(case / "expected.safetensors")
    for name, array in model.run(inputs).items():
        assert_close(f"{case.name}/{name}", array, expected[name])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fixture_check_matches_stats(case):
    stats = json.loads((case / "stats.json").read_text())
    report = scc.check(case / "model.sc")
    for key, value in stats.items():
        assert report[key] == value, f"{case.name}: {key}"
    with_weights = scc.check(case / "model.sc", case / "weights.safetensors")
    assert "structure_residuals" in with_weights
    assert "structure_residuals" not in report
