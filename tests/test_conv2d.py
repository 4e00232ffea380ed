"""conv2d and conv_transpose2d forward values against the NumPy reference.

Parameter grids cover every geometry argument form at small sizes in both
dtypes; further grids cover groups/depthwise, bias, the fused ReLU, out=,
lower-rank inputs, input layouts and the dtype rule.  Hypothesis generates
random valid geometry (and, separately, arbitrary geometry that must either
match the reference or raise ValueError).  When torch is importable the same
ops are compared with torch.nn.functional as a second, independent oracle.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import reference
from conftest import LAYOUTS, assert_close, relayout

DTYPES = [np.float32, np.float64]

STRIDES = [1, 2, (1, 3)]
PADDINGS = [0, 1, (2, 1), ((0, 1), (2, 0)), ((3, 0), (0, 1)), "valid", "same"]
DILATIONS = [1, 2, (2, 1)]
KERNELS = [(3, 3), (1, 1), (2, 3), (4, 1)]


def random_array(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def conv_scale(x, weight, bias=None, **geometry):
    """Magnitude of the summed terms: tolerances are relative to it."""
    scale = reference.flop_scale(x, weight, **geometry)
    if bias is not None:
        bias_abs = np.abs(np.asarray(bias, dtype=np.float64))
        scale = scale + (bias_abs[:, None, None] if scale.ndim == 3 else
                         bias_abs[None, :, None, None] if scale.ndim == 4 else bias_abs)
    return scale


def check_conv2d(x, weight, bias=None, expected_dtype=None, **geometry):
    """fastconv.conv2d(x, weight, bias, **geometry) == reference, with exact dtype."""
    expected_dtype = expected_dtype or reference.compute_dtype(x, weight)
    context = (f"x {np.shape(x)} {np.asarray(x).dtype}, weight {np.shape(weight)} "
               f"{np.asarray(weight).dtype}, bias {None if bias is None else np.shape(bias)}, "
               f"{geometry}")
    result = fastconv.conv2d(x, weight, bias, **geometry)
    expected = reference.conv2d(x, weight, bias, **geometry)
    assert isinstance(result, np.ndarray), context
    assert result.flags.c_contiguous, context
    assert_close(result, expected, expected_dtype,
                 scale=conv_scale(x, weight, bias, **geometry), context=context)
    return result


# ---- geometry grid ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kernel", KERNELS, ids=str)
@pytest.mark.parametrize("dilation", DILATIONS, ids=lambda v: f"d{v}")
@pytest.mark.parametrize("padding", PADDINGS, ids=lambda v: f"p{v}")
@pytest.mark.parametrize("stride", STRIDES, ids=lambda v: f"s{v}")
def test_conv2d_geometry_grid(stride, padding, dilation, kernel, dtype, rng):
    x = random_array(rng, (2, 3, 7, 10), dtype)
    weight = random_array(rng, (4, 3) + kernel, dtype)
    bias = random_array(rng, (4,), dtype)
    check_conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("stride", [1, 2, 3, (3, 2)], ids=lambda v: f"s{v}")
@pytest.mark.parametrize("dilation", [1, 2, (3, 1)], ids=lambda v: f"d{v}")
@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 3), (5, 3), (2, 5)], ids=str)
@pytest.mark.parametrize("size", [(1, 1), (5, 6), (8, 8), (9, 7)], ids=str)
def test_conv2d_same_padding_keeps_ceil_size(size, kernel, dilation, stride, dtype, rng):
    """TF "same" for any stride: output is ceil(in / stride) and values match the rule."""
    x = random_array(rng, (1, 2) + size, dtype)
    weight = random_array(rng, (3, 2) + kernel, dtype)
    result = check_conv2d(x, weight, stride=stride, padding="same", dilation=dilation)
    stride_h, stride_w = reference.pair(stride)
    assert result.shape[2:] == (-(-size[0] // stride_h), -(-size[1] // stride_w)), (
        f"size={size} kernel={kernel} dilation={dilation} stride={stride}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("padding", [1, "same", ((2, 0), (1, 3))], ids=lambda v: f"p{v}")
@pytest.mark.parametrize("stride", [1, 2], ids=lambda v: f"s{v}")
@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize(
    "in_channels, out_channels, groups",
    [(4, 6, 2), (6, 3, 3), (4, 4, 4), (4, 8, 4), (3, 3, 3), (1, 5, 1), (5, 1, 1), (8, 16, 8)],
    ids=lambda v: str(v))
def test_conv2d_groups_and_depthwise(in_channels, out_channels, groups, with_bias, stride,
                                     padding, dtype, rng):
    x = random_array(rng, (2, in_channels, 8, 9), dtype)
    weight = random_array(rng, (out_channels, in_channels // groups, 3, 3), dtype)
    bias = random_array(rng, (out_channels,), dtype) if with_bias else None
    check_conv2d(x, weight, bias, stride=stride, padding=padding, groups=groups)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(
    "shape, weight_shape",
    [((1, 1, 1, 1), (1, 1, 1, 1)), ((1, 1, 3, 3), (1, 1, 3, 3)), ((3, 2, 1, 12), (2, 2, 1, 3)),
     ((1, 3, 12, 1), (2, 3, 4, 1)), ((2, 17, 5, 5), (19, 17, 1, 1)),
     ((1, 2, 33, 31), (3, 2, 3, 3)), ((1, 1, 64, 64), (1, 1, 7, 7))],
    ids=str)
def test_conv2d_edge_shapes(shape, weight_shape, dtype, rng):
    """Degenerate and odd sizes that exercise kernel tails and remainders."""
    x = random_array(rng, shape, dtype)
    weight = random_array(rng, weight_shape, dtype)
    bias = random_array(rng, (weight_shape[0],), dtype)
    check_conv2d(x, weight, bias)
    check_conv2d(x, weight, bias, padding="same")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("width", [15, 16, 17, 33, 40], ids=lambda v: f"w{v}")
@pytest.mark.parametrize("stride, padding", [(1, 1), (2, "same"), (1, ((0, 2), (3, 1)))],
                         ids=str)
@pytest.mark.parametrize("in_channels, out_channels, groups, kernel", [
    (1, 1, 1, 3), (3, 8, 1, 5), (8, 8, 8, 3), (16, 24, 1, 3), (24, 32, 1, 1), (16, 16, 2, 2)],
    ids=str)
def test_conv2d_vector_widths(in_channels, out_channels, groups, kernel, stride, padding, width,
                              dtype, rng):
    """Rows wider than a SIMD register, with remainders: direct, depthwise and GEMM paths."""
    x = random_array(rng, (2, in_channels, 7, width), dtype)
    weight = random_array(rng, (out_channels, in_channels // groups, kernel, kernel), dtype)
    bias = random_array(rng, (out_channels,), dtype)
    check_conv2d(x, weight, bias, stride=stride, padding=padding, groups=groups)


# ---- fused activation, out=, bias dtype -----------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("groups", [1, 2], ids=lambda v: f"g{v}")
@pytest.mark.parametrize("padding", [0, "same"], ids=lambda v: f"p{v}")
@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
def test_conv2d_fused_relu(with_bias, padding, groups, dtype, rng):
    x = random_array(rng, (2, 4, 9, 8), dtype)
    weight = random_array(rng, (6, 4 // groups, 3, 3), dtype)
    bias = random_array(rng, (6,), dtype) if with_bias else None
    geometry = dict(padding=padding, groups=groups)
    result = fastconv.conv2d(x, weight, bias, activation="relu", **geometry)
    expected = reference.relu(reference.conv2d(x, weight, bias, **geometry))
    context = f"with_bias={with_bias} {geometry} dtype={np.dtype(dtype).name}"
    assert_close(result, expected, dtype, scale=conv_scale(x, weight, bias, **geometry),
                 context=context)
    assert (result >= 0).all(), context
    # activation=None is the plain convolution
    plain = fastconv.conv2d(x, weight, bias, activation=None, **geometry)
    assert np.array_equal(np.maximum(plain, 0), result), context


def test_conv2d_fused_relu_keeps_nan(rng):
    x = random_array(rng, (1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    weight = np.ones((1, 1, 1, 1))
    result = fastconv.conv2d(x, weight, activation="relu")
    assert np.isnan(result[0, 0, 1, 1])
    assert_close(result, reference.relu(x), np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("rank", [4, 3, 2])
def test_conv2d_out_is_written_and_returned(rank, activation, dtype, rng):
    if rank == 2:
        x, weight, bias = random_array(rng, (7, 9), dtype), random_array(rng, (3, 2), dtype), None
    else:
        x = random_array(rng, (2, 3, 7, 9)[4 - rank:], dtype)
        weight = random_array(rng, (5, 3, 3, 2), dtype)
        bias = random_array(rng, (5,), dtype)
    expected = reference.conv2d(x, weight, bias, stride=2, padding="same")
    if activation == "relu":
        expected = reference.relu(expected)
    out = np.full(expected.shape, np.nan, dtype=dtype)  # NaN sentinel: every cell must be written
    result = fastconv.conv2d(x, weight, bias, stride=2, padding="same", activation=activation,
                             out=out)
    context = f"rank={rank} activation={activation} dtype={np.dtype(dtype).name}"
    assert result is out, context
    assert_close(out, expected, dtype,
                 scale=conv_scale(x, weight, bias, stride=2, padding="same"), context=context)


def test_conv2d_out_non_contiguous_is_written_or_rejected(rng):
    """A strided out of the exact shape and dtype: either correct values in it, or ValueError."""
    x = random_array(rng, (2, 3, 6, 6))
    weight = random_array(rng, (4, 3, 3, 3))
    expected = reference.conv2d(x, weight)
    storage = np.full(expected.shape[:3] + (expected.shape[3] * 2,), np.nan)
    out = storage[..., ::2]
    try:
        result = fastconv.conv2d(x, weight, out=out)
    except ValueError as error:
        assert "out" in str(error)
        return
    assert result is out
    assert_close(out, expected, np.float64)
    assert np.isnan(storage[..., 1::2]).all(), "wrote outside the out view"


@pytest.mark.parametrize("bias_dtype", [np.float16, np.float32, np.float64, np.int32])
def test_conv2d_bias_dtype_does_not_change_compute_dtype(bias_dtype, rng):
    """The compute dtype is result_type(x, weight, float32); bias is cast to it."""
    x = random_array(rng, (1, 2, 5, 5), np.float32)
    weight = random_array(rng, (3, 2, 3, 3), np.float32)
    bias = (rng.integers(-3, 4, size=3)).astype(bias_dtype)
    check_conv2d(x, weight, bias, expected_dtype=np.float32, padding=1)


def test_conv2d_does_not_modify_inputs(rng):
    x = random_array(rng, (2, 3, 6, 7))
    weight = random_array(rng, (4, 3, 3, 3))
    bias = random_array(rng, (4,))
    copies = [a.copy() for a in (x, weight, bias)]
    result = fastconv.conv2d(x, weight, bias, padding=1, activation="relu")
    for original, copy in zip((x, weight, bias), copies):
        assert np.array_equal(original, copy)
        assert not np.shares_memory(result, original)


# ---- lower-rank inputs -----------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("padding", [0, 1, ((1, 0), (0, 2)), "same"], ids=lambda v: f"p{v}")
@pytest.mark.parametrize("stride", [1, 2], ids=lambda v: f"s{v}")
def test_conv2d_unbatched_3d_returns_3d(stride, padding, dtype, rng):
    x = random_array(rng, (4, 7, 8), dtype)
    weight = random_array(rng, (6, 2, 3, 3), dtype)
    bias = random_array(rng, (6,), dtype)
    result = check_conv2d(x, weight, bias, stride=stride, padding=padding, groups=2)
    assert result.ndim == 3
    batched = fastconv.conv2d(x[None], weight, bias, stride=stride, padding=padding, groups=2)
    assert np.array_equal(result, batched[0]), "unbatched result differs from the batched one"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("dilation", [1, 2], ids=lambda v: f"d{v}")
@pytest.mark.parametrize("padding", [0, 2, ((0, 1), (1, 0)), "valid", "same"],
                         ids=lambda v: f"p{v}")
@pytest.mark.parametrize("stride", [1, (2, 1)], ids=lambda v: f"s{v}")
@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 1)], ids=str)
def test_conv2d_plain_2d_corr2d(kernel, stride, padding, dilation, dtype, rng):
    """2-D x with a 2-D weight is the single-channel cross-correlation, returning 2-D."""
    x = random_array(rng, (9, 8), dtype)
    weight = random_array(rng, kernel, dtype)
    result = check_conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
    assert result.ndim == 2


# ---- input layouts and dtypes ------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("which", ["x", "weight", "bias", "all"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_accepts_any_layout(layout, which, dtype, rng):
    x = random_array(rng, (2, 4, 6, 7), dtype)
    weight = random_array(rng, (6, 2, 3, 2), dtype)
    bias = random_array(rng, (6,), dtype)
    contiguous = fastconv.conv2d(x, weight, bias, padding=1, groups=2)
    x_in = relayout(x, layout) if which in ("x", "all") else x
    weight_in = relayout(weight, layout) if which in ("weight", "all") else weight
    bias_in = relayout(bias, layout) if which in ("bias", "all") else bias
    result = fastconv.conv2d(x_in, weight_in, bias_in, padding=1, groups=2)
    context = f"layout={layout} which={which} dtype={np.dtype(dtype).name}"
    assert np.array_equal(result, contiguous), context
    assert result.flags.c_contiguous, context


def test_conv2d_broadcast_batch(rng):
    """A zero-stride (broadcast) batch is read correctly."""
    image = random_array(rng, (1, 2, 5, 6))
    x = np.broadcast_to(image, (3, 2, 5, 6))
    weight = random_array(rng, (3, 2, 2, 2))
    result = check_conv2d(x, weight)
    assert np.array_equal(result[0], result[2])


def test_conv2d_accepts_nested_lists():
    result = fastconv.conv2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[0, 1], [2, 3]])
    assert result.dtype == np.float64  # int64 lists: result_type(int64, int64, float32)
    assert np.array_equal(result, [[19, 25], [37, 43]])


DTYPE_PAIRS = [
    (np.float16, np.float16, np.float32), (np.float16, np.float32, np.float32),
    (np.float32, np.float64, np.float64), (np.float64, np.float32, np.float64),
    (np.int8, np.float32, np.float32), (np.uint8, np.float32, np.float32),
    (np.int16, np.int16, np.float32), (np.int32, np.float32, np.float64),
    (np.int64, np.float32, np.float64), (np.int64, np.int64, np.float64),
    (np.float32, np.int8, np.float32), (np.uint16, np.float16, np.float32),
]


@pytest.mark.parametrize("x_dtype, weight_dtype, expected_dtype", DTYPE_PAIRS,
                         ids=lambda d: np.dtype(d).name)
def test_conv2d_dtype_rule(x_dtype, weight_dtype, expected_dtype, rng):
    assert reference.compute_dtype(np.empty(0, x_dtype), np.empty(0, weight_dtype)) \
        == expected_dtype
    x = rng.integers(0, 5, size=(2, 3, 5, 6)).astype(x_dtype)
    weight = rng.integers(-2, 3, size=(2, 3, 2, 2)).astype(weight_dtype)
    check_conv2d(x, weight, expected_dtype=expected_dtype, padding=1)


# ---- property tests ------------------------------------------------------------

@st.composite
def padding_forms(draw):
    form = draw(st.sampled_from(["int", "pair", "asymmetric", "valid", "same"]))
    small = st.integers(0, 3)
    if form == "int":
        return draw(small)
    if form == "pair":
        return (draw(small), draw(small))
    if form == "asymmetric":
        return ((draw(small), draw(small)), (draw(small), draw(small)))
    return form


@st.composite
def conv_problems(draw, always_valid=True):
    """Shapes and geometry for conv2d; with always_valid the padded input fits the kernel."""
    groups = draw(st.integers(1, 3))
    in_channels = groups * draw(st.integers(1, 3))
    out_channels = groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = draw(st.one_of(st.integers(1, 3),
                              st.tuples(st.integers(1, 3), st.integers(1, 3))))
    stride_hw, dilation_hw = reference.pair(stride), reference.pair(dilation)
    padding = draw(padding_forms())
    size = []
    for axis in range(2):
        if always_valid and not isinstance(padding, str):
            pads = reference.explicit_padding(padding, (1, 1), kernel, stride_hw,
                                              dilation_hw)[axis]
            smallest = max(1, dilation_hw[axis] * (kernel[axis] - 1) + 1 - sum(pads))
        elif always_valid and padding == "valid":
            smallest = dilation_hw[axis] * (kernel[axis] - 1) + 1
        else:
            smallest = 1
        size.append(draw(st.integers(smallest, smallest + 9)))
    return dict(
        batch=draw(st.integers(1, 3)), in_channels=in_channels, out_channels=out_channels,
        groups=groups, kernel=kernel, size=tuple(size),
        stride=stride, dilation=dilation,
        padding=padding, with_bias=draw(st.booleans()),
        dtype=draw(st.sampled_from(DTYPES)), seed=draw(st.integers(0, 2**32 - 1)),
    )


def build_conv_inputs(problem):
    rng = np.random.default_rng(problem["seed"])
    dtype = problem["dtype"]
    x = random_array(rng, (problem["batch"], problem["in_channels"]) + problem["size"], dtype)
    weight = random_array(rng, (problem["out_channels"],
                                problem["in_channels"] // problem["groups"])
                          + problem["kernel"], dtype)
    bias = random_array(rng, (problem["out_channels"],), dtype) if problem["with_bias"] else None
    geometry = {key: problem[key] for key in ("stride", "padding", "dilation", "groups")}
    return x, weight, bias, geometry


@settings(max_examples=80, deadline=None)
@given(conv_problems())
def test_conv2d_property_matches_reference(problem):
    x, weight, bias, geometry = build_conv_inputs(problem)
    kernel = problem["kernel"]
    stride = reference.pair(problem["stride"])
    dilation = reference.pair(problem["dilation"])
    assert reference.is_valid_geometry(problem["size"], kernel, stride, dilation,
                                       problem["padding"]), problem
    check_conv2d(x, weight, bias, **geometry)


@settings(max_examples=60, deadline=None)
@given(conv_problems(always_valid=False))
def test_conv2d_property_valid_or_value_error(problem):
    """Arbitrary geometry: the reference's answer, or ValueError when nothing fits."""
    x, weight, bias, geometry = build_conv_inputs(problem)
    valid = reference.is_valid_geometry(problem["size"], problem["kernel"],
                                        reference.pair(problem["stride"]),
                                        reference.pair(problem["dilation"]), problem["padding"])
    if valid:
        check_conv2d(x, weight, bias, **geometry)
    else:
        with pytest.raises(ValueError):
            fastconv.conv2d(x, weight, bias, **geometry)


# ---- conv_transpose2d ------------------------------------------------------------

def check_conv_transpose2d(x, weight, bias=None, **geometry):
    dtype = reference.compute_dtype(x, weight)
    context = f"x {np.shape(x)}, weight {np.shape(weight)}, bias {bias is not None}, {geometry}"
    result = fastconv.conv_transpose2d(x, weight, bias, **geometry)
    expected = reference.conv_transpose2d(x, weight, bias, **geometry)
    scale = reference.conv_transpose2d(np.abs(x), np.abs(weight),
                                       None if bias is None else np.abs(bias), **geometry)
    assert result.flags.c_contiguous, context
    assert_close(result, expected, dtype, scale=scale, context=context)
    return result


def check_conv_transpose2d_on_1_and_3_threads(x, weight, bias, **geometry):
    """check_conv_transpose2d on one thread; three threads must give the same bits."""
    with fastconv.threads(1):
        result = check_conv_transpose2d(x, weight, bias, **geometry)
    with fastconv.threads(3):
        again = fastconv.conv_transpose2d(x, weight, bias, **geometry)
    assert again.tobytes() == result.tobytes(), geometry


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("groups", [1, 2], ids=lambda v: f"g{v}")
@pytest.mark.parametrize("dilation", [1, 2, (1, 2)], ids=lambda v: f"d{v}")
@pytest.mark.parametrize("output_padding", [0, 1, (1, 0)], ids=lambda v: f"op{v}")
@pytest.mark.parametrize("padding", [0, 1, (2, 1)], ids=lambda v: f"p{v}")
@pytest.mark.parametrize("stride", [1, 2, (3, 2)], ids=lambda v: f"s{v}")
def test_conv_transpose2d_grid(stride, padding, output_padding, dilation, groups, dtype, rng):
    stride_hw, dilation_hw = reference.pair(stride), reference.pair(dilation)
    extra_hw = reference.pair(output_padding)
    if any(extra_hw[a] >= max(stride_hw[a], dilation_hw[a]) for a in range(2)):
        with pytest.raises(ValueError, match="output_padding"):
            fastconv.conv_transpose2d(np.zeros((1, 2, 4, 4)), np.zeros((2, 1, 3, 3)),
                                      stride=stride, padding=padding,
                                      output_padding=output_padding, groups=groups,
                                      dilation=dilation)
        return
    x = random_array(rng, (2, 4, 5, 4), dtype)
    weight = random_array(rng, (4, 3, 3, 2), dtype)
    bias = random_array(rng, (3 * groups,), dtype)
    check_conv_transpose2d(x, weight, bias, stride=stride, padding=padding,
                           output_padding=output_padding, groups=groups, dilation=dilation)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("x_shape, weight_shape, groups, padding, dilation, output_padding", [
    # 1x1: the GEMM's pointwise path, which writes grad_x rows in place
    ((2, 8, 5, 7), (8, 6, 1, 1), 1, 0, 2, (1, 1)),
    ((1, 12, 3, 9), (12, 4, 1, 1), 2, 0, (4, 3), (3, 2)),
    # stride 1, 16 or more output channels per group: the forward conv of x
    # with the flipped weight (GEMM; pixel tiles for the 4-channel x on AVX2)
    ((1, 36, 9, 6), (36, 17, 3, 1), 4, (2, 0), (1, 2), (0, 1)),
    ((1, 36, 6, 9), (36, 17, 1, 3), 4, (0, 2), (2, 1), (1, 0)),
    ((2, 4, 7, 7), (4, 32, 3, 3), 1, 3, 2, (1, 1)),
], ids=["1x1", "1x1-grouped", "forward-engine-width", "forward-engine-height", "forward-engine-pixels"])
def test_conv_transpose2d_output_padding_past_the_stride(x_shape, weight_shape, groups, padding,
                                                          dilation, output_padding, dtype, rng):
    """With dilation > stride, output_padding may reach the stride: the result then
    has rows or columns that no input pixel scatters into (bias only).  Every
    path must write them, and the same bits on any thread count."""
    x = random_array(rng, x_shape, dtype)
    weight = random_array(rng, weight_shape, dtype)
    bias = random_array(rng, (weight_shape[1] * groups,), dtype)
    geometry = dict(stride=1, padding=padding, output_padding=output_padding, groups=groups,
                    dilation=dilation)
    check_conv_transpose2d_on_1_and_3_threads(x, weight, bias, **geometry)


@pytest.mark.parametrize("kind", ["pointwise", "forward-engine", "depthwise", "any"])
@settings(max_examples=40, deadline=None)
@given(groups=st.sampled_from([1, 2, 4]), in_per_group=st.integers(2, 20),
       out_per_group=st.integers(1, 24),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       extra=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       pad_cut=st.tuples(st.integers(0, 6), st.integers(0, 6)),
       size=st.tuples(st.integers(1, 9), st.integers(1, 12)), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_any_output_padding(kind, groups, in_per_group, out_per_group, kernel, stride,
                                             dilation, extra, pad_cut, size, dtype, seed):
    """Every output_padding torch allows (below max(stride, dilation)), on each grad_input
    path: 1x1 stride 1 (the GEMM's pointwise path), stride 1 with 16+ result channels per
    group and a result no larger than x (the forward engine), depthwise, and anything
    else (col2im, reference loops); the same bits on 1 and 3 threads."""
    spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
    padding = tuple(cut % (span + 1) for cut, span in zip(pad_cut, spans))
    if kind == "pointwise":
        kernel, stride, padding = (1, 1), (1, 1), (0, 0)
        dilation = tuple(max(2, d) for d in dilation)
        extra = tuple(max(1, e) for e in extra)
    elif kind == "forward-engine":
        # 5+ channels of x per group keep dilated kernels on the GEMM, not the pixel tiles
        stride, out_per_group, in_per_group = (1, 1), max(16, out_per_group), max(5, in_per_group)
        dilation = tuple(max(2, d) for d in dilation)
        spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
        padding = tuple(span - cut % (span // 2 + 1) for cut, span in zip(pad_cut, spans))
    elif kind == "depthwise":
        groups, in_per_group, out_per_group = 4 * in_per_group, 1, 1
    output_padding = tuple(min(e, max(s, d) - 1) for e, s, d in zip(extra, stride, dilation))
    rng = np.random.default_rng(seed)
    x = random_array(rng, (2, groups * in_per_group) + size, dtype)
    weight = random_array(rng, (groups * in_per_group, out_per_group) + kernel, dtype)
    bias = random_array(rng, (groups * out_per_group,), dtype)
    geometry = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                    dilation=dilation)
    out_hw = [(n - 1) * s - 2 * p + d * (k - 1) + e + 1
              for n, s, p, d, k, e in zip(size, stride, padding, dilation, kernel, output_padding)]
    if min(out_hw) < 1:
        with pytest.raises(ValueError, match="padding"):
            fastconv.conv_transpose2d(x, weight, bias, **geometry)
        return
    check_conv_transpose2d_on_1_and_3_threads(x, weight, bias, **geometry)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_conv_transpose2d_unbatched_and_depthwise(dtype, rng):
    x = random_array(rng, (4, 5, 6), dtype)
    weight = random_array(rng, (4, 1, 3, 3), dtype)
    result = check_conv_transpose2d(x, weight, stride=2, padding=1, groups=4)
    assert result.ndim == 3


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("dilation", [1, 2], ids=lambda v: f"d{v}")
@pytest.mark.parametrize("stride", [1, 2, (3, 1)], ids=lambda v: f"s{v}")
@pytest.mark.parametrize("padding", [((1, 0), (0, 2)), ((0, 2), (1, 1)), "same", "valid"],
                         ids=lambda v: f"p{v}")
def test_conv_transpose2d_explicit_and_same_padding(padding, stride, dilation, dtype, rng):
    """Asymmetric padding crops top/left and bottom/right separately; "same" gives in * stride."""
    x = random_array(rng, (2, 4, 5, 4), dtype)
    weight = random_array(rng, (4, 3, 3, 2), dtype)
    bias = random_array(rng, (6,), dtype)
    result = check_conv_transpose2d(x, weight, bias, stride=stride, padding=padding,
                                    groups=2, dilation=dilation)
    if padding == "same":
        stride_hw = reference.pair(stride)
        assert result.shape[2:] == (5 * stride_hw[0], 4 * stride_hw[1])


@settings(max_examples=40, deadline=None)
@given(groups=st.integers(1, 2), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       size=st.tuples(st.integers(1, 5), st.integers(1, 5)), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_same_is_adjoint_of_conv2d_same(groups, kernel, stride, dilation, size,
                                                         seed):
    """conv_transpose2d(padding="same") is the adjoint of conv2d(padding="same") on in * stride."""
    rng = np.random.default_rng(seed)
    big = (size[0] * stride[0], size[1] * stride[1])
    x = rng.standard_normal((1, 2 * groups) + big)
    weight = rng.standard_normal((3 * groups, 2) + kernel)
    geometry = dict(stride=stride, padding="same", dilation=dilation, groups=groups)
    y = fastconv.conv2d(x, weight, **geometry)
    assert y.shape[2:] == size
    probe = rng.standard_normal(y.shape)
    back = fastconv.conv_transpose2d(probe, weight, **geometry)
    assert back.shape == x.shape
    lhs, rhs = float(np.vdot(y, probe)), float(np.vdot(x, back))
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs)), (lhs, rhs)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_conv_transpose2d_is_adjoint_of_conv2d(data):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for matching geometry."""
    groups = data.draw(st.integers(1, 2), label="groups")
    in_channels = groups * data.draw(st.integers(1, 3), label="in_per_group")
    out_channels = groups * data.draw(st.integers(1, 3), label="out_per_group")
    kernel = (data.draw(st.integers(1, 3), label="kh"), data.draw(st.integers(1, 3), label="kw"))
    stride = (data.draw(st.integers(1, 3), label="sh"), data.draw(st.integers(1, 3), label="sw"))
    dilation = (data.draw(st.integers(1, 2), label="dh"), data.draw(st.integers(1, 2), label="dw"))
    padding = (data.draw(st.integers(0, 2), label="ph"), data.draw(st.integers(0, 2), label="pw"))
    size = tuple(
        data.draw(st.integers(max(1, dilation[a] * (kernel[a] - 1) + 1 - 2 * padding[a]), 9),
                  label=f"size{a}") for a in range(2))
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, in_channels) + size)
    weight = rng.standard_normal((out_channels, in_channels // groups) + kernel)
    y = fastconv.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation,
                        groups=groups)
    probe = rng.standard_normal(y.shape)
    # output_padding recovers the rows the forward stride dropped
    extra = tuple((size[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) % stride[a]
                  for a in range(2))
    back = fastconv.conv_transpose2d(probe, weight, stride=stride, padding=padding,
                                     output_padding=extra, groups=groups, dilation=dilation)
    assert back.shape == x.shape
    lhs = float(np.vdot(y, probe))
    rhs = float(np.vdot(x, back))
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs)), (lhs, rhs)


# ---- PyTorch as a second oracle ----------------------------------------------------

@pytest.fixture
def torch_functional():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("groups", [1, 3], ids=lambda v: f"g{v}")
@pytest.mark.parametrize("dilation", [1, (2, 1)], ids=lambda v: f"d{v}")
@pytest.mark.parametrize("padding", [0, 2, (1, 0)], ids=lambda v: f"p{v}")
@pytest.mark.parametrize("stride", [1, (2, 3)], ids=lambda v: f"s{v}")
def test_conv2d_matches_torch(stride, padding, dilation, groups, dtype, torch_functional, rng):
    torch, functional = torch_functional
    x = random_array(rng, (2, 6, 9, 11), dtype)
    weight = random_array(rng, (9, 6 // groups, 3, 2), dtype)
    bias = random_array(rng, (9,), dtype)
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    expected = functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(weight).double(),
                                 torch.from_numpy(bias).double(), **geometry).numpy()
    result = fastconv.conv2d(x, weight, bias, **geometry)
    assert_close(result, expected, dtype, scale=conv_scale(x, weight, bias, **geometry),
                 context=str(geometry))


@pytest.mark.parametrize("dilation", [1, 2, (1, 3)], ids=lambda v: f"d{v}")
@pytest.mark.parametrize("kernel", [(3, 3), (2, 2), (5, 3), (4, 1)], ids=str)
def test_conv2d_same_stride1_matches_torch_same(kernel, dilation, torch_functional, rng):
    torch, functional = torch_functional
    x = random_array(rng, (1, 2, 8, 9))
    weight = random_array(rng, (3, 2) + kernel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that even kernels need a padded copy
        expected = functional.conv2d(torch.from_numpy(x), torch.from_numpy(weight),
                                     padding="same", dilation=dilation).numpy()
    result = fastconv.conv2d(x, weight, padding="same", dilation=dilation)
    assert_close(result, expected, np.float64, context=f"kernel={kernel} dilation={dilation}")


@pytest.mark.parametrize("stride", [2, 3, (2, 1)], ids=lambda v: f"s{v}")
@pytest.mark.parametrize("kernel", [(3, 3), (2, 2), (1, 4)], ids=str)
@pytest.mark.parametrize("size", [(8, 8), (7, 9)], ids=str)
def test_conv2d_tf_same_strided_matches_torch_explicit_pad(size, kernel, stride,
                                                          torch_functional, rng):
    """TF "same" at stride > 1 == torch conv2d after F.pad with the TF split (extra at the end)."""
    torch, functional = torch_functional
    x = random_array(rng, (1, 2) + size)
    weight = random_array(rng, (3, 2) + kernel)
    stride_hw = reference.pair(stride)
    (top, bottom), (left, right) = (reference.same_padding(size[a], kernel[a], stride_hw[a], 1)
                                    for a in range(2))
    padded = functional.pad(torch.from_numpy(x), (left, right, top, bottom))
    expected = functional.conv2d(padded, torch.from_numpy(weight), stride=stride).numpy()
    result = fastconv.conv2d(x, weight, stride=stride, padding="same")
    assert_close(result, expected, np.float64, context=f"size={size} kernel={kernel} "
                 f"stride={stride}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(
    "stride, padding, output_padding, dilation, groups",
    [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), ((2, 3), (0, 1), (1, 2), 1, 2), (2, 0, 1, 2, 1),
     (3, 2, 0, (1, 2), 2), (1, 1, 0, 2, 4), (2, (2, 0), (0, 1), 1, 4)],
    ids=str)
def test_conv_transpose2d_matches_torch(stride, padding, output_padding, dilation, groups,
                                        dtype, torch_functional, rng):
    torch, functional = torch_functional
    x = random_array(rng, (2, 4, 5, 6), dtype)
    weight = random_array(rng, (4, 2, 3, 3), dtype)
    bias = random_array(rng, (2 * groups,), dtype)
    geometry = dict(stride=stride, padding=padding, output_padding=output_padding,
                    groups=groups, dilation=dilation)
    expected = functional.conv_transpose2d(
        torch.from_numpy(x).double(), torch.from_numpy(weight).double(),
        torch.from_numpy(bias).double(), **geometry).numpy()
    result = fastconv.conv_transpose2d(x, weight, bias, **geometry)
    scale = reference.conv_transpose2d(np.abs(x), np.abs(weight), np.abs(bias), **geometry)
    assert_close(result, expected, dtype, scale=scale, context=str(geometry))
