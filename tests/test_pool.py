"""max_pool2d / avg_pool2d forward against the float64 references in reference_pool.py.

Grids walk every geometry argument (kernel, stride, padding in every form,
dilation, ceil_mode, the avg divisor rules) over float32/float64 and 4-D/3-D
inputs; Hypothesis explores shapes the grids miss.  Max pooling is compared
exactly (a max selects an input value, so there is no rounding); max-pooling
inputs are random permutations so there are no ties and indices are unique.
torch is a second, outside opinion where it is importable.
"""
import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastconv
import reference_pool as ref

DTYPES = [np.float32, np.float64]
KERNELS = [1, 2, 3, 4, (2, 3), (3, 1), (1, 4), (4, 2)]
STRIDES = [None, 1, 2, 3, (1, 2), (3, 1)]
PADDINGS = [0, 1, 2, (1, 0), (0, 1), (2, 1), "valid", "same", ((1, 0), (0, 1)), ((0, 2), (1, 1)), ((2, 1), (0, 2))]
DILATIONS = [1, 2, (1, 3)]
PROPERTY_SETTINGS = settings(deadline=None, max_examples=60)


def tie_free(shape, dtype, rng, offset=0.0):
    """Distinct values (a permutation), so every window has one maximum.  Integers
    up to 2**24 are exact in float32 as well."""
    values = rng.permutation(int(np.prod(shape))).astype(np.float64) + offset
    return values.reshape(shape).astype(dtype)


def legal_geometry(in_hw, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    geometry = ref.pool_geometry(in_hw, kernel_size, stride, padding, dilation, ceil_mode)
    return geometry.out_h > 0 and geometry.out_w > 0 and ref.pool_padding_is_legal(geometry)


def assert_same_array(actual, expected, context):
    """Shape, dtype, C-contiguity and every value (NaN == NaN) identical."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}; {context}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}; {context}"
    assert actual.flags.c_contiguous, f"result not C-contiguous; {context}"
    same = actual == expected
    if actual.dtype.kind == "f":
        same |= np.isnan(actual) & np.isnan(expected)
    if not same.all():
        where = tuple(int(i) for i in np.argwhere(~same)[0])
        raise AssertionError(f"first difference at {where}: got {actual[where]!r}, "
                             f"expected {expected[where]!r}; {context}")


def assert_same_indices(indices, expected_indices, expected_values, context):
    """Indices equal wherever the window holds a real cell.  With dilation a window can
    fall entirely into padding (value -inf); which index such a window reports is not
    specified, so there only the value is checked (by the caller)."""
    indices = np.asarray(indices)
    assert indices.shape == expected_indices.shape, f"indices shape {indices.shape}; {context}"
    assert indices.dtype == np.int64, f"indices dtype {indices.dtype}; {context}"
    has_real_cell = np.isfinite(expected_values)
    assert_same_array(np.where(has_real_cell, indices, -1), np.where(has_real_cell, expected_indices, -1),
                      "indices; " + context)


def assert_avg_close(actual, expected, context):
    """Averages of <= 16 terms: float64 to 1e-12, float32 to 1e-5 of the value scale."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}; {context}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}; {context}"
    assert actual.flags.c_contiguous, f"result not C-contiguous; {context}"
    rtol = 1e-5 if actual.dtype == np.float32 else 1e-12
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=rtol * scale, err_msg=context)


# ---- max_pool2d: grid ------------------------------------------------------------------------

@pytest.mark.parametrize("kernel_size", KERNELS)
@pytest.mark.parametrize("stride", STRIDES)
def test_max_pool2d_grid(kernel_size, stride):
    rng = np.random.default_rng(1)
    checked = 0
    for padding, dilation, ceil_mode, dtype, in_hw in itertools.product(
            PADDINGS, DILATIONS, [False, True], DTYPES, [(9, 7), (6, 10)]):
        if not legal_geometry(in_hw, kernel_size, stride, padding, dilation, ceil_mode):
            continue
        x = tie_free((2, 3) + in_hw, dtype, rng, offset=-100.0)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} "
                   f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name} shape={x.shape}")
        expected, expected_indices = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode,
                                                    return_indices=True)
        values = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
        assert_same_array(values, expected, context)
        values, indices = fastconv.max_pool2d(x, kernel_size, stride=stride, padding=padding,
                                              dilation=dilation, ceil_mode=ceil_mode, return_indices=True)
        assert_same_array(values, expected, context)
        assert_same_indices(indices, expected_indices, expected, context)
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, True), ((3, 2), (2, 1), (1, 0), (2, 1), True),
    (3, 1, "same", 1, False), (2, 2, ((1, 0), (0, 1)), 1, True),
])
def test_max_pool2d_unbatched_input(dtype, kernel_size, stride, padding, dilation, ceil_mode):
    rng = np.random.default_rng(2)
    x = tie_free((4, 7, 8), dtype, rng)
    context = f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} ceil_mode={ceil_mode}"
    expected, expected_indices = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    assert expected.ndim == 3
    values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    assert_same_array(values, expected, context)
    assert_same_array(indices, expected_indices, "indices; " + context)


def noncontiguous_variants(x):
    """The same values as x, laid out in every way API.md promises to accept."""
    reversed_storage = x[:, :, ::-1, ::-1].copy()[:, :, ::-1, ::-1]
    strided_parent = np.zeros(x.shape[:2] + (x.shape[2] * 2, x.shape[3] * 3), x.dtype)
    strided_parent[:, :, ::2, ::3] = x
    transposed_storage = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    read_only = x.copy()
    read_only.setflags(write=False)
    unaligned_buffer = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(unaligned_buffer.data, dtype=x.dtype, count=x.size, offset=1).reshape(x.shape)
    unaligned[...] = x
    return {
        "fortran": np.asfortranarray(x),
        "negative_strides": reversed_storage,
        "step_slices": strided_parent[:, :, ::2, ::3],
        "transposed_storage": transposed_storage,
        "read_only": read_only,
        "unaligned": unaligned,
        "nested_list": x.tolist(),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["fortran", "negative_strides", "step_slices", "transposed_storage",
                                    "read_only", "unaligned", "nested_list"])
def test_pooling_accepts_any_layout(dtype, layout):
    rng = np.random.default_rng(3)
    x = tie_free((2, 3, 9, 8), dtype, rng)
    variant = noncontiguous_variants(x)[layout]
    if layout == "nested_list" and dtype == np.float32:
        variant = np.asarray(variant, np.float32)
    before = np.array(variant, copy=True)
    context = f"layout={layout} dtype={np.dtype(dtype).name}"
    expected, expected_indices = ref.max_pool2d(x, 3, 2, 1, 1, True, True)
    values, indices = fastconv.max_pool2d(variant, 3, 2, 1, 1, True, True)
    assert_same_array(values, expected, context)
    assert_same_array(indices, expected_indices, "indices; " + context)
    assert_avg_close(fastconv.avg_pool2d(variant, (2, 3), (2, 1), (1, 1), True, False),
                     ref.avg_pool2d(x, (2, 3), (2, 1), (1, 1), True, False), context)
    np.testing.assert_array_equal(np.asarray(variant), before, err_msg=f"input modified; {context}")


@pytest.mark.parametrize("input_dtype, compute_dtype", [
    (np.float16, np.float32), (np.int8, np.float32), (np.int16, np.float32),
    (np.int64, np.float64), (np.uint8, np.float32),
])
def test_pooling_compute_dtype(input_dtype, compute_dtype):
    rng = np.random.default_rng(4)
    x = rng.integers(-50, 50, size=(2, 2, 6, 7)).astype(input_dtype) if np.dtype(input_dtype).kind != "u" \
        else rng.integers(0, 100, size=(2, 2, 6, 7)).astype(input_dtype)
    context = f"input dtype {np.dtype(input_dtype).name}"
    expected = ref.max_pool2d(x.astype(np.float64), 2, 1, 1).astype(compute_dtype)
    assert_same_array(fastconv.max_pool2d(x, 2, 1, 1), expected, context)
    expected = ref.avg_pool2d(x.astype(np.float64), 3, 2, 1).astype(compute_dtype)
    assert_avg_close(fastconv.avg_pool2d(x, 3, 2, 1), expected, context)


# ---- max_pool2d: special values --------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", [
    (2, 1, 1, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 1, True), (4, 3, 2, 1, True),
    ((3, 2), 1, (1, 1), 2, False), (3, 2, "same", 1, True), (2, 2, ((1, 0), (1, 0)), 1, False),
])
def test_max_pool2d_padding_is_minus_infinity(dtype, kernel_size, stride, padding, dilation, ceil_mode):
    """All-negative inputs: a zero-padded implementation would return 0 at the borders."""
    rng = np.random.default_rng(5)
    x = (-1.0 - rng.random((2, 3, 7, 8))).astype(dtype)
    context = f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} ceil_mode={ceil_mode}"
    values = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
    assert np.all(values < 0), f"a padded cell won a window: max {values.max()}; {context}"
    assert_same_array(values, ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode), context)
    values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    assert np.all((indices >= 0) & (indices < 7 * 8)), f"index of a padded cell; {context}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", [
    (2, None, 0, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 2, True), ((2, 4), (1, 3), (1, 2), 1, True),
])
def test_max_pool2d_nan_propagates(dtype, kernel_size, stride, padding, dilation, ceil_mode):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 11, 12)).astype(dtype)
    nan_mask = rng.random(x.shape) < 0.04
    x[nan_mask] = np.nan
    x[0, 0, 0, 0] = np.nan       # a NaN at the very first cell, the usual seed of a running max
    x[1, 2, -1, -1] = np.nan     # and at the last
    context = f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} ceil_mode={ceil_mode}"
    # Where NaNs must appear, derived independently: max-pool the NaN mask.
    window_has_nan = ref.max_pool2d(np.isnan(x).astype(np.float64), kernel_size, stride, padding,
                                    dilation, ceil_mode) > 0
    values = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(np.isnan(values), window_has_nan, err_msg=context)
    assert_same_array(values, ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode), context)
    values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    np.testing.assert_array_equal(np.isnan(values), window_has_nan, err_msg="return_indices; " + context)
    planes = x.reshape(6, -1)
    picked = np.take_along_axis(planes, indices.reshape(6, -1), axis=1).reshape(values.shape)
    assert np.all(np.isnan(picked[window_has_nan])), f"index of a NaN window does not point at a NaN; {context}"


def test_max_pool2d_infinities_are_values():
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 3, 3] = 5.0
    x[0, 0, 0, 1] = np.inf
    values, indices = fastconv.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(values, [[[[np.inf, -np.inf], [-np.inf, 5.0]]]])
    np.testing.assert_array_equal(indices[0, 0, 0, 0], 1)
    np.testing.assert_array_equal(indices[0, 0, 1, 1], 15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_indices_point_at_the_maximum(dtype):
    rng = np.random.default_rng(7)
    for kernel_size, stride, padding, dilation, ceil_mode in [
            (3, 1, 1, 1, False), (3, 2, 1, 2, True), ((4, 2), (3, 1), (2, 0), (1, 2), True), (2, None, 0, 1, False)]:
        x = tie_free((3, 2, 13, 9), dtype, rng)
        context = f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} ceil_mode={ceil_mode}"
        values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        assert indices.dtype == np.int64, context
        planes = x.reshape(6, -1)
        picked = np.take_along_axis(planes, indices.reshape(6, -1), axis=1).reshape(values.shape)
        np.testing.assert_array_equal(picked, values, err_msg=context)
        _, expected_indices = ref.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
        assert_same_array(indices, expected_indices, context)


def test_max_pool2d_ties_pick_the_first_in_the_window():
    """torch's rule (a strict > scan in row-major window order)."""
    x = np.zeros((1, 1, 4, 4))
    values, indices = fastconv.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(indices[0, 0], [[0, 2], [8, 10]])
    values, indices = fastconv.max_pool2d(np.ones((1, 1, 3, 3)), 3, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(indices[0, 0], [[0, 0, 1], [0, 0, 1], [3, 3, 4]])


# ---- avg_pool2d: grid ------------------------------------------------------------------------

@pytest.mark.parametrize("kernel_size", KERNELS)
@pytest.mark.parametrize("stride", STRIDES)
def test_avg_pool2d_grid(kernel_size, stride):
    rng = np.random.default_rng(8)
    checked = 0
    for padding, ceil_mode, count_include_pad, divisor_override, dtype, in_hw in itertools.product(
            PADDINGS, [False, True], [True, False], [None, 1, 5], DTYPES, [(9, 7), (6, 10)]):
        if not legal_geometry(in_hw, kernel_size, stride, padding, 1, ceil_mode):
            continue
        x = rng.standard_normal((2, 3) + in_hw).astype(dtype)
        context = (f"kernel_size={kernel_size} stride={stride} padding={padding} ceil_mode={ceil_mode} "
                   f"count_include_pad={count_include_pad} divisor_override={divisor_override} "
                   f"dtype={np.dtype(dtype).name} shape={x.shape}")
        expected = ref.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        actual = fastconv.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        assert_avg_close(actual, expected, context)
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_unbatched_input(dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 8, 9)).astype(dtype)
    for args in [(2,), (3, 2, 1, True, False), ((2, 3), 1, "same"), (3, 2, ((1, 0), (1, 1)), False, True, 4)]:
        expected = ref.avg_pool2d(x, *args)
        assert expected.ndim == 3
        assert_avg_close(fastconv.avg_pool2d(x, *args), expected, f"args={args}")


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel_size, stride, in_hw", [(3, 1, (5, 6)), (2, 2, (5, 7)), (4, 3, (10, 8)), ((3, 2), (2, 3), (7, 7))])
def test_avg_pool2d_same_never_counts_padding(count_include_pad, kernel_size, stride, in_hw):
    """padding="same": the average of the real cells only, so a constant input stays constant."""
    x = np.full((1, 2) + in_hw, 3.5)
    context = f"kernel_size={kernel_size} stride={stride} count_include_pad={count_include_pad} shape={in_hw}"
    values = fastconv.avg_pool2d(x, kernel_size, stride, "same", count_include_pad=count_include_pad)
    expected_hw = tuple(-(-size // step) for size, step in zip(in_hw, ref.as_pair(stride)))
    assert values.shape == (1, 2) + expected_hw, context
    np.testing.assert_allclose(values, 3.5, rtol=1e-14, err_msg=context)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avg_pool2d_constant_input_without_padding_count(ceil_mode):
    """count_include_pad=False and ceil-mode overhang: only real cells, so constants stay constant."""
    x = np.full((1, 1, 7, 8), -2.25)
    values = fastconv.avg_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode, count_include_pad=False)
    np.testing.assert_allclose(values, -2.25, rtol=1e-14, err_msg=f"ceil_mode={ceil_mode}")


def test_avg_pool2d_ceil_overhang_is_not_counted():
    """5 columns, kernel 2, stride 2, ceil_mode: the last window holds one real column and no
    padding, so it divides by 2 (not 4) even with count_include_pad=True."""
    x = np.arange(10, dtype=np.float64).reshape(1, 1, 2, 5)
    values = fastconv.avg_pool2d(x, (2, 2), ceil_mode=True, count_include_pad=True)
    np.testing.assert_allclose(values, [[[[3.0, 5.0, 6.5]]]], rtol=1e-15)


# ---- Hypothesis ----------------------------------------------------------------------------

@st.composite
def geometry_strategy(draw, max_dilation=1):
    """Pooling geometry with legal padding (each side <= kernel // 2) and a random input."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    pad_h = st.integers(0, kernel[0] // 2)
    pad_w = st.integers(0, kernel[1] // 2)
    padding = draw(st.one_of(
        st.integers(0, min(kernel) // 2),
        st.tuples(pad_h, pad_w), st.just("same"), st.just("valid"),
        st.tuples(st.tuples(pad_h, pad_h), st.tuples(pad_w, pad_w)),
    ))
    return {
        "batch": draw(st.integers(1, 2)), "channels": draw(st.integers(1, 3)),
        "height": draw(st.integers(1, 12)), "width": draw(st.integers(1, 12)),
        "kernel_size": kernel,
        "stride": draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3)))),
        "padding": padding,
        "dilation": (draw(st.integers(1, max_dilation)), draw(st.integers(1, max_dilation))),
        "ceil_mode": draw(st.booleans()),
        "unbatched": draw(st.booleans()),
        "dtype": draw(st.sampled_from(DTYPES)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def input_shape(params):
    spatial = (params["channels"], params["height"], params["width"])
    return spatial if params["unbatched"] else (params["batch"],) + spatial


@PROPERTY_SETTINGS
@given(params=geometry_strategy(max_dilation=3))
def test_max_pool2d_property(params):
    dilation = params["dilation"]
    in_hw = (params["height"], params["width"])
    assume(legal_geometry(in_hw, params["kernel_size"], params["stride"], params["padding"],
                          dilation, params["ceil_mode"]))
    rng = np.random.default_rng(params["seed"])
    x = tie_free(input_shape(params), params["dtype"], rng, offset=-1000.0)
    args = (params["kernel_size"], params["stride"], params["padding"], dilation, params["ceil_mode"])
    context = f"params={params}"
    expected, expected_indices = ref.max_pool2d(x, *args, return_indices=True)
    if np.isneginf(expected).any():
        # x is finite, so a -inf window holds only padding: fastconv refuses that geometry.
        with pytest.raises(ValueError, match="covers only padding"):
            fastconv.max_pool2d(x, *args, return_indices=True)
        return
    values, indices = fastconv.max_pool2d(x, *args, return_indices=True)
    assert_same_indices(indices, expected_indices, expected, context)


@PROPERTY_SETTINGS
@given(params=geometry_strategy(), count_include_pad=st.booleans(),
       divisor_override=st.one_of(st.none(), st.integers(1, 20)))
def test_avg_pool2d_property(params, count_include_pad, divisor_override):
    in_hw = (params["height"], params["width"])
    assume(legal_geometry(in_hw, params["kernel_size"], params["stride"], params["padding"],
                          1, params["ceil_mode"]))
    rng = np.random.default_rng(params["seed"])
    x = rng.standard_normal(input_shape(params)).astype(params["dtype"])
    args = (params["kernel_size"], params["stride"], params["padding"], params["ceil_mode"],
            count_include_pad, divisor_override)
    context = f"params={params} count_include_pad={count_include_pad} divisor_override={divisor_override}"
    assert_avg_close(fastconv.avg_pool2d(x, *args), ref.avg_pool2d(x, *args), context)


# ---- threads ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_bitwise_identical_for_one_and_two_threads(dtype):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 16, 64, 64)).astype(dtype)
    results = {}
    for count in (1, 2):
        with fastconv.threads(count):
            results[count] = (
                fastconv.max_pool2d(x, 3, 2, 1, return_indices=True),
                fastconv.avg_pool2d(x, 3, 2, 1),
                fastconv.avg_pool2d(x, (2, 3), 1, "same", ceil_mode=True),
                fastconv.max_pool2d(x, 2, 1, 1, dilation=2, ceil_mode=True),
            )
    (max_one, idx_one), avg_one, same_one, dil_one = results[1]
    (max_two, idx_two), avg_two, same_two, dil_two = results[2]
    for name, one, two in [("max", max_one, max_two), ("indices", idx_one, idx_two),
                           ("avg", avg_one, avg_two), ("avg same", same_one, same_two),
                           ("max dilated", dil_one, dil_two)]:
        assert one.tobytes() == two.tobytes(), f"{name} differs between 1 and 2 threads ({np.dtype(dtype).name})"
    assert_same_array(max_one, ref.max_pool2d(x, 3, 2, 1), "threaded max vs reference")


# ---- torch, an outside opinion -------------------------------------------------------------

TORCH_CASES = [
    # kernel, stride, padding, dilation, ceil_mode, (H, W)
    (2, None, 0, 1, False, (8, 8)),
    (2, 2, 1, 1, True, (5, 5)),        # ceil: the 4th window would start in the padding -> dropped
    (2, 2, 0, 1, True, (5, 7)),        # ceil: overhanging last window kept
    (3, 2, 1, 1, True, (6, 6)),
    (3, 2, 1, 1, True, (7, 7)),
    (3, 3, 1, 2, True, (10, 11)),
    (4, 3, 2, 1, True, (9, 4)),
    ((3, 2), (2, 1), (1, 1), (2, 3), True, (9, 12)),
    ((1, 4), (1, 3), (0, 2), 1, True, (5, 13)),
    (3, 1, 1, 1, False, (1, 1)),
    (4, 4, 2, 1, True, (6, 6)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, in_hw", TORCH_CASES)
def test_max_pool2d_matches_torch(dtype, kernel_size, stride, padding, dilation, ceil_mode, in_hw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = tie_free((2, 3) + in_hw, dtype, rng, offset=-50.0)
    context = f"kernel_size={kernel_size} stride={stride} padding={padding} dilation={dilation} ceil_mode={ceil_mode} in_hw={in_hw}"
    expected, expected_indices = torch.nn.functional.max_pool2d(
        torch.from_numpy(x), kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    assert_same_array(values, expected.numpy(), context)
    assert_same_array(indices, expected_indices.numpy(), "indices; " + context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, in_hw",
                         [case for case in TORCH_CASES if case[3] == 1])
def test_avg_pool2d_matches_torch(dtype, count_include_pad, divisor_override, kernel_size, stride, padding,
                                  dilation, ceil_mode, in_hw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3) + in_hw).astype(dtype)
    context = (f"kernel_size={kernel_size} stride={stride} padding={padding} ceil_mode={ceil_mode} "
               f"count_include_pad={count_include_pad} divisor_override={divisor_override} in_hw={in_hw}")
    expected = torch.nn.functional.avg_pool2d(torch.from_numpy(x), kernel_size, stride, padding, ceil_mode,
                                              count_include_pad, divisor_override)
    actual = fastconv.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    assert_avg_close(actual, expected.numpy(), context)


@pytest.mark.parametrize("kernel_size, stride, in_hw", [(3, 1, (7, 9)), (2, 1, (6, 5)), ((3, 4), 1, (8, 8))])
def test_max_pool2d_same_matches_torch_with_explicit_minus_infinity_padding(kernel_size, stride, in_hw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    x = tie_free((2, 2) + in_hw, np.float64, rng, offset=-100.0)
    (top, bottom), (left, right) = ref.explicit_padding("same", in_hw, kernel_size, stride)
    padded = torch.nn.functional.pad(torch.from_numpy(x), (left, right, top, bottom), value=-float("inf"))
    expected = torch.nn.functional.max_pool2d(padded, kernel_size, stride)
    values = fastconv.max_pool2d(x, kernel_size, stride, "same")
    assert_same_array(values, expected.numpy(), f"kernel_size={kernel_size} stride={stride} in_hw={in_hw}")
