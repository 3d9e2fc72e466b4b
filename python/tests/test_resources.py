"""Bounded memory from Python: a model that needs more memory than the machine has raises
scc.ResourceError, naming the largest tensors, before anything is allocated (the process
neither aborts nor swaps)."""

import re

import pytest

import scc

HUGE_CONV = "model m(x: [1, 3, 100000, 100000]) { let c = conv2d(x, 16, kernel=3, pad=1); return c; }"
HUGE_LINEAR = "model m(x: [1000000, 1000000]) { let fc = linear(x, 1000000); return fc; }"
HUGE_UPSAMPLE = "model m(x: [1, 3, 32, 32]) { let u = upsample(x, scale=100000); return u; }"


@pytest.mark.parametrize(
    ("engine", "what"),
    [("jit", "the model `m` (JIT)"), ("interp", "running the model `m` (interpreter)")],
)
def test_a_huge_activation_is_refused_before_it_is_allocated(engine, what):
    # The total depends on the tier's layouts (a blocked layout adds a reorder at the output).
    with pytest.raises(scc.ResourceError) as err:
        scc.compile(HUGE_CONV, 1, engine=engine)
    message = str(err.value)
    pattern = re.escape(what) + r" needs [0-9.]+ TB of memory, more than the limit of "
    assert re.match(pattern, message), message
    assert "(the memory available on this machine" in message
    assert "largest tensors: `c` [1, 16, 100000, 100000] 640.0 GB (intermediate)" in message
    assert err.value.diagnostic == f"error: {message}\n"
    assert isinstance(err.value, scc.Error)


def test_huge_random_weights_are_refused():
    with pytest.raises(scc.ResourceError) as err:
        scc.compile(HUGE_LINEAR, 1)
    message = str(err.value)
    assert message.startswith("random weights for the model `m` needs 4.0 TB of memory"), message
    assert "largest tensors: `fc.weight` [1000000, 1000000] 4.0 TB (weight)" in message


def test_a_huge_upsample_is_refused():
    with pytest.raises(scc.ResourceError) as err:
        scc.compile(HUGE_UPSAMPLE, 1)
    assert "`u` [1, 3, 3200000, 3200000] 122.9 TB (intermediate)" in str(err.value)


def test_the_check_report_knows_the_arena_without_allocating_it():
    report = scc.check(HUGE_CONV)
    conv = next(layer for layer in report["layers"] if layer["name"] == "c")
    assert conv["bytes"] == 640_000_000_000
    # At least the conv's output (a blocked layout's output reorder adds another copy).
    assert report["arena_bytes"] >= 640_000_000_000
