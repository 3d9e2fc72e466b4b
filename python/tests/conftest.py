"""Shared helpers of the Python tests: where the repository, its fixtures and examples
are, a minimal safetensors reader (independent of scc and of the `safetensors` package)
and the fixtures' tolerance."""

import json
import os
import pathlib
import struct

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(os.environ.get("SCC_FIXTURES", REPO.parent / "shared" / "fixtures"))
EXAMPLES = REPO / "examples"

_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path):
    """{name: numpy array} of a safetensors file."""
    data = pathlib.Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = data[8 + header_len :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=_DTYPES[info["dtype"]])
        out[name] = array.reshape(info["shape"]).copy()
    return out


def fixture_cases():
    """Every fixture folder (empty when ../shared/fixtures is absent)."""
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.iterdir() if (p / "model.sc").is_file())


def assert_close(what, got, expected):
    """The fixtures' contract: max |got - expected| <= 1e-4 * max(1, max |expected|)."""
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == np.float32, f"{what}: dtype {got.dtype}"
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    diff = float(np.abs(got.astype(np.float64) - expected.astype(np.float64)).max(initial=0.0))
    assert diff <= 1e-4 * scale, f"{what}: max |got - expected| = {diff:e} > {1e-4 * scale:e}"


@pytest.fixture
def in_repo(monkeypatch):
    """Runs the test from the repository root (paths as the CLI tests give them)."""
    monkeypatch.chdir(REPO)
    return REPO
