"""Inputs in any memory layout and floating-point dtype give the numbers of the same
values as a C-contiguous float32 array."""

import numpy as np
import pytest

import scc

SOURCE = """
model m(x: [2, 4, 6, 5]) {
    let conv = conv2d(x, 6, kernel=3, pad=1, bias=true);
    let s = sconv2d(relu(conv), 6, kernel=3, c=3, n=2, pad=1);
    let fc = linear(flatten(global_avgpool(s)), 3);
    return fc, s;
}
"""


@pytest.fixture(scope="module")
def model():
    return scc.compile(SOURCE, 3)


def reference(model, x):
    return model.run({"x": np.ascontiguousarray(x, dtype=np.float32)})


def random_input(seed=0, shape=(2, 4, 6, 5)):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def assert_same(got, expected):
    assert sorted(got) == sorted(expected)
    for name in got:
        np.testing.assert_array_equal(got[name], expected[name])
        assert got[name].dtype == np.float32
        assert got[name].flags.c_contiguous


def test_fortran_order(model):
    x = random_input()
    fortran = np.asfortranarray(x)
    assert not fortran.flags.c_contiguous
    assert_same(model.run({"x": fortran}), reference(model, x))


def test_strided_and_reversed_views(model):
    big = random_input(1, (4, 8, 12, 5))
    view = big[::2, 1::2, ::2, ::-1]
    assert view.shape == (2, 4, 6, 5) and not view.flags.c_contiguous
    assert_same(model.run({"x": view}), reference(model, view.copy()))
    transposed = np.transpose(random_input(2, (5, 6, 4, 2)), (3, 2, 1, 0))
    assert_same(model.run({"x": transposed}), reference(model, transposed.copy()))


def test_broadcast_view_without_memory(model):
    row = random_input(3, (1, 1, 1, 5))
    x = np.broadcast_to(row, (2, 4, 6, 5))
    assert x.strides[:3] == (0, 0, 0)
    assert_same(model.run({"x": x}), reference(model, np.array(x)))


def test_non_native_byte_order(model):
    x = random_input(4)
    swapped = x.astype(x.dtype.newbyteorder(">"))
    assert_same(model.run({"x": swapped}), reference(model, x))


def test_float64_and_float16_are_converted(model):
    x64 = random_input(5).astype(np.float64) + 1e-9  # not representable in f32: rounded
    assert_same(model.run({"x": x64}), reference(model, x64.astype(np.float32)))
    x16 = random_input(6).astype(np.float16)
    assert_same(model.run({"x": x16}), reference(model, x16.astype(np.float32)))


def test_nested_lists(model):
    x = random_input(7)
    assert_same(model.run({"x": x.tolist()}), reference(model, x))


def test_integer_inputs_are_refused(model):
    with pytest.raises(scc.RunError) as err:
        model.run({"x": np.zeros((2, 4, 6, 5), dtype=np.int64)})
    assert str(err.value) == (
        "input `x` has dtype int64; expected a floating-point array "
        "(float32; float16 and float64 are converted)"
    )


def test_weights_in_any_layout_and_dtype():
    source = "model m(x: [1, 3, 5, 5]) { let conv = conv2d(x, 4, kernel=3, bias=true); return conv; }"
    rng = np.random.default_rng(8)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    x = {"x": rng.standard_normal((1, 3, 5, 5)).astype(np.float32)}
    expected = scc.compile(source, {"conv.weight": weight, "conv.bias": bias}).run(x)
    odd = {"conv.weight": np.asfortranarray(weight).astype(np.float64), "conv.bias": bias[::-1].copy()[::-1]}
    assert_same(scc.compile(source, odd).run(x), expected)
