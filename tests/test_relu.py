"""relu forward: max(x, 0) on any shape and layout, NaN kept, exact (no rounding)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastconv
import reference
from conftest import LAYOUTS, relayout

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 4), (2, 3, 4, 5), (1, 2, 1, 3, 2),
                                   (4097,), (3, 1000)], ids=str)
def test_relu_matches_reference(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    result = fastconv.relu(x)
    context = f"shape={shape} dtype={np.dtype(dtype).name}"
    assert result.dtype == dtype, context
    assert result.shape == shape, context
    assert result.flags.c_contiguous, context
    assert not np.shares_memory(result, x), context
    assert np.array_equal(result, reference.relu(x).astype(dtype)), context


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_special_values(dtype):
    tiny = np.finfo(dtype).tiny
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -1.5, tiny, -tiny,
                  np.finfo(dtype).max, np.finfo(dtype).min], dtype=dtype)
    result = fastconv.relu(x)
    assert np.isnan(result[0]) and np.isnan(result[1]), "NaN must stay NaN"
    assert result[2] == np.inf and result[3] == 0
    assert result[4] == 0 and result[5] == 0
    assert result[6] == 1.5 and result[7] == 0
    assert result[8] == tiny, "the smallest normal value must be kept exactly"
    assert result[9] == 0
    assert result[10] == np.finfo(dtype).max and result[11] == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_subnormals_never_negative(dtype):
    """Denormals may be flushed during a call, but no output of relu is ever negative."""
    subnormal = np.finfo(dtype).smallest_subnormal
    result = fastconv.relu(np.array([subnormal, 3 * subnormal, -subnormal], dtype=dtype))
    # max(-subnormal, 0) is 0; a positive subnormal may be kept or flushed to 0
    assert result[2] == 0, f"relu({-subnormal!r}) = {result[2]!r}"
    assert result[0] in (0, subnormal) and result[1] in (0, 3 * subnormal)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_relu_any_layout(layout, rng):
    x = rng.standard_normal((3, 4, 5))
    result = fastconv.relu(relayout(x, layout))
    assert np.array_equal(result, reference.relu(x)), layout
    assert result.flags.c_contiguous


@pytest.mark.parametrize("input_dtype, expected_dtype",
                         [(np.float16, np.float32), (np.int8, np.float32), (np.int16, np.float32),
                          (np.uint8, np.float32), (np.int32, np.float64), (np.int64, np.float64)],
                         ids=lambda d: np.dtype(d).name)
def test_relu_dtype_rule(input_dtype, expected_dtype, rng):
    x = rng.integers(-50, 50, size=(4, 6)).astype(input_dtype)
    result = fastconv.relu(x)
    assert result.dtype == expected_dtype
    assert np.array_equal(result, reference.relu(x))


def test_relu_accepts_lists():
    assert np.array_equal(fastconv.relu([[-1.0, 2.0], [3.0, -4.0]]), [[0, 2], [3, 0]])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_out_is_written_and_returned(dtype, rng):
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    out = np.full(x.shape, np.nan, dtype)
    result = fastconv.relu(x, out=out)
    assert result is out
    assert np.array_equal(out, reference.relu(x).astype(dtype))


def test_relu_does_not_modify_input(rng):
    x = rng.standard_normal((5, 5))
    before = x.copy()
    fastconv.relu(x)
    assert np.array_equal(x, before)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.float32, np.float64]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=9),
                  elements=dict(allow_nan=True, allow_infinity=True, allow_subnormal=False)))
def test_relu_property(x):
    result = fastconv.relu(x)
    expected = reference.relu(x).astype(x.dtype)
    assert result.dtype == x.dtype
    assert np.array_equal(result, expected, equal_nan=True)
