"""Every backward op, three ways.

1. Against the exact float64 gradients of reference_pool.py on parameter grids
   and Hypothesis examples (float32 too, with tolerances scaled by the sum of
   |terms|, which the reference gives when fed absolute values).
2. Against central finite differences of fastconv's own forward op in float64
   (gradcheck.py), so each backward is the true derivative of the forward the
   library actually ships.  Max pooling and ReLU are only piecewise linear:
   their inputs are tie-free and keep every value > step away from a kink.
3. Against torch.autograd (float64, rtol 1e-10) when torch is importable.
Plus the contract's edges: needs= subsets, ranks, shape errors that name
grad_output, range-checked max-pool indices, and 1-vs-2-thread bitwise equality.
"""
import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastconv
import reference_pool as ref
from gradcheck import assert_gradient_close, numerical_gradient

DTYPES = [np.float32, np.float64]
PROPERTY_SETTINGS = settings(deadline=None, max_examples=40)
# (N, C, O, groups): plain, depthwise, depthwise with multiplier 2, grouped, single channel
CHANNELS = [(2, 4, 6, 2), (1, 3, 3, 3), (2, 2, 4, 2), (2, 3, 5, 1), (1, 1, 1, 1)]
CONV_PADDINGS = [0, 1, (2, 1), ((1, 0), (2, 1)), ((0, 3), (1, 0)), "same", "valid"]
RELATIVE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-12}


def assert_matches_reference(actual, expected, term_scale, dtype, context):
    """|actual - expected| <= rtol * (|expected| + sum of |terms|), element-wise."""
    assert actual is not None, f"gradient missing; {context}"
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}; {context}"
    assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != {np.dtype(dtype).name}; {context}"
    assert actual.flags.c_contiguous, f"result not C-contiguous; {context}"
    allowed = RELATIVE[np.dtype(dtype)] * (np.abs(expected) + np.abs(term_scale) + 1e-300)
    error = np.abs(actual.astype(np.float64) - expected)
    bad = ~(error <= allowed)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{int(bad.sum())} of {bad.size} differ; first at {where}: got {actual[where]!r}, "
                             f"expected {expected[where]!r}; {context}")


def conv_operands(channels, kernel_hw, in_hw, dtype, rng):
    batch, in_channels, out_channels, groups = channels
    x = rng.standard_normal((batch, in_channels) + in_hw).astype(dtype)
    weight = rng.standard_normal((out_channels, in_channels // groups) + kernel_hw).astype(dtype)
    return x, weight


def conv_geometry_is_valid(in_hw, kernel_hw, stride, padding, dilation):
    geometry = ref.conv_geometry(in_hw, kernel_hw, stride, padding, dilation)
    return geometry.out_h > 0 and geometry.out_w > 0


def check_conv_backward_against_reference(x, weight, grad_output, stride, padding, dilation, groups, context):
    dtype = np.result_type(x, weight, grad_output, np.float32)
    expected = ref.conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups)
    scale = ref.conv2d_backward(np.abs(grad_output), np.abs(x), np.abs(weight), stride, padding, dilation, groups)
    grads = fastconv.conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups)
    assert isinstance(grads, fastconv.Conv2dGrads), f"{type(grads)}; {context}"
    assert_matches_reference(grads.input, expected.input, scale.input, dtype, "input; " + context)
    assert_matches_reference(grads.weight, expected.weight, scale.weight, dtype, "weight; " + context)
    assert_matches_reference(grads.bias, expected.bias, scale.bias, dtype, "bias; " + context)
    return grads


# ---- conv2d_backward vs the float64 reference -------------------------------------------------

# (x shape, weight shape, stride, padding): grad_weight's reduction over n * OH * OW cut into
# chunks (conv_gemm_impl.h, FC_GW_CHUNK_T): 40x40 images two to a chunk and a last chunk of
# one; 14x14 images whose reduction blocks span images, the last chunk short; a 1x1 conv
# whose input rows are read in place.
GRAD_WEIGHT_CHUNK_CASES = [
    ((5, 8, 40, 40), (16, 8, 3, 3), 1, 1),
    ((24, 8, 14, 14), (16, 8, 3, 3), 1, 1),
    ((6, 32, 32, 32), (16, 32, 1, 1), 1, 0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", GRAD_WEIGHT_CHUNK_CASES, ids=["images", "blocks-across-images", "pointwise"])
def test_conv2d_grad_weight_sums_its_chunks_whatever_the_threads(case, dtype):
    """grad_weight adds its chunks' partial sums in chunk order; the chunks follow from the
    geometry alone, so 1, 2, 3 and 7 threads agree bit for bit, and the sum is the reference's."""
    x_shape, w_shape, stride, padding = case
    rng = np.random.default_rng(21)
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal(w_shape).astype(dtype)
    y_shape = fastconv.conv2d(x, weight, stride=stride, padding=padding).shape
    grad_output = rng.standard_normal(y_shape).astype(dtype)
    with fastconv.threads(1):
        one = check_conv_backward_against_reference(x, weight, grad_output, stride, padding, 1, 1,
                                                    f"case {case}")
    for count in (2, 3, 7):
        with fastconv.threads(count):
            many = fastconv.conv2d_backward(grad_output, x, weight, stride, padding)
        assert many.weight.tobytes() == one.weight.tobytes(), f"{count} threads; case {case}"


@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("kernel_hw", [(1, 1), (3, 3), (2, 3), (1, 4)])
def test_conv2d_backward_grid(channels, kernel_hw):
    rng = np.random.default_rng(20)
    checked = 0
    for stride, padding, dilation, dtype, in_hw in itertools.product(
            [1, 2, (1, 3)], CONV_PADDINGS, [1, 2, (2, 1)], DTYPES, [(7, 8), (5, 9)]):
        if not conv_geometry_is_valid(in_hw, kernel_hw, stride, padding, dilation):
            continue
        x, weight = conv_operands(channels, kernel_hw, in_hw, dtype, rng)
        geometry = ref.conv_geometry(in_hw, kernel_hw, stride, padding, dilation)
        grad_output = rng.standard_normal((channels[0], channels[2], geometry.out_h, geometry.out_w)).astype(dtype)
        context = (f"channels(N,C,O,groups)={channels} kernel={kernel_hw} in_hw={in_hw} stride={stride} "
                   f"padding={padding} dilation={dilation} dtype={np.dtype(dtype).name}")
        check_conv_backward_against_reference(x, weight, grad_output, stride, padding, dilation, channels[3], context)
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride, padding, dilation", [
    (1, 0, 1), (2, 1, 1), (1, "same", 2), ((2, 1), ((1, 2), (0, 1)), 1), (3, "same", 1), (1, "valid", (1, 2)),
])
def test_conv2d_backward_two_dimensional(dtype, stride, padding, dilation):
    """(H, W) x with a (KH, KW) weight: the lesson's corr2d; grads keep those ranks."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((9, 8)).astype(dtype)
    weight = rng.standard_normal((2, 3)).astype(dtype)
    geometry = ref.conv_geometry((9, 8), (2, 3), stride, padding, dilation)
    grad_output = rng.standard_normal((geometry.out_h, geometry.out_w)).astype(dtype)
    context = f"2-D stride={stride} padding={padding} dilation={dilation} dtype={np.dtype(dtype).name}"
    grads = fastconv.conv2d_backward(grad_output, x, weight, stride, padding, dilation)
    expected = ref.conv2d_backward(grad_output, x, weight, stride, padding, dilation)
    scale = ref.conv2d_backward(np.abs(grad_output), np.abs(x), np.abs(weight), stride, padding, dilation)
    assert_matches_reference(grads.input, expected.input, scale.input, dtype, "input; " + context)
    assert_matches_reference(grads.weight, expected.weight, scale.weight, dtype, "weight; " + context)
    assert_matches_reference(np.reshape(grads.bias, (1,)), expected.bias, scale.bias, dtype, "bias; " + context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels, stride, padding, dilation", [
    ((1, 4, 6, 2), 1, 1, 1), ((1, 3, 3, 3), 2, "same", 1), ((1, 2, 3, 1), (1, 2), ((0, 1), (2, 0)), 2),
])
def test_conv2d_backward_unbatched(dtype, channels, stride, padding, dilation):
    rng = np.random.default_rng(22)
    x, weight = conv_operands(channels, (3, 2), (8, 7), dtype, rng)
    x = x[0]
    geometry = ref.conv_geometry((8, 7), (3, 2), stride, padding, dilation)
    grad_output = rng.standard_normal((channels[2], geometry.out_h, geometry.out_w)).astype(dtype)
    context = f"3-D channels={channels} stride={stride} padding={padding} dilation={dilation}"
    grads = check_conv_backward_against_reference(x, weight, grad_output, stride, padding, dilation,
                                                  channels[3], context)
    assert grads.input.shape == x.shape, context


def test_conv2d_backward_accepts_any_layout():
    """Negative strides, Fortran order and step slices give the same gradients as copies."""
    rng = np.random.default_rng(39)
    x = rng.standard_normal((2, 4, 14, 9))[:, :, ::2, ::-1]
    weight = np.asfortranarray(rng.standard_normal((6, 2, 3, 2)))
    grad_output = rng.standard_normal((2, 6, 6, 9))[:, ::-1, :, ::-1]
    grad_output = grad_output[:, :, :, :8]
    grads = fastconv.conv2d_backward(grad_output, x, weight, 1, ((1, 0), (0, 0)), 1, 2)
    expected = fastconv.conv2d_backward(np.ascontiguousarray(grad_output), np.ascontiguousarray(x),
                                        np.ascontiguousarray(weight), 1, ((1, 0), (0, 0)), 1, 2)
    reference = ref.conv2d_backward(grad_output, x, weight, 1, ((1, 0), (0, 0)), 1, 2)
    for field in ("input", "weight", "bias"):
        np.testing.assert_array_equal(getattr(grads, field), getattr(expected, field), err_msg=field)
        np.testing.assert_allclose(getattr(grads, field), getattr(reference, field), rtol=1e-12, atol=1e-12,
                                   err_msg=field)


@pytest.mark.parametrize("needs", [
    ("input",), ("weight",), ("bias",), ("input", "weight"), ("input", "bias"), ("weight", "bias"),
    ("bias", "input"), ("input", "weight", "bias"), ["weight"],
])
def test_conv2d_backward_needs(needs):
    rng = np.random.default_rng(23)
    x, weight = conv_operands((2, 4, 6, 2), (3, 3), (7, 6), np.float64, rng)
    grad_output = rng.standard_normal((2, 6, 4, 3))
    grads = fastconv.conv2d_backward(grad_output, x, weight, 2, 1, 1, 2, needs=needs)
    full = ref.conv2d_backward(grad_output, x, weight, 2, 1, 1, 2)
    for field in ("input", "weight", "bias"):
        value = getattr(grads, field)
        if field in needs:
            assert value is not None, f"{field} asked for but None; needs={needs}"
            np.testing.assert_allclose(value, getattr(full, field), rtol=1e-12, atol=1e-12,
                                       err_msg=f"{field}; needs={needs}")
        else:
            assert value is None, f"{field} not asked for but returned; needs={needs}"
    assert grads._fields == ("input", "weight", "bias")


@pytest.mark.parametrize("needs", [("inputs",), ("grad_input",), ("input", "Weight")])
def test_conv2d_backward_unknown_needs(needs):
    x = np.ones((1, 1, 4, 4))
    weight = np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match="needs"):
        fastconv.conv2d_backward(np.ones((1, 1, 3, 3)), x, weight, needs=needs)


@PROPERTY_SETTINGS
@given(
    batch=st.integers(1, 2), groups=st.integers(1, 3), in_per_group=st.integers(1, 3), out_per_group=st.integers(1, 3),
    kernel_hw=st.tuples(st.integers(1, 4), st.integers(1, 4)), in_hw=st.tuples(st.integers(1, 10), st.integers(1, 10)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)), st.just("same"),
                      st.just("valid"), st.tuples(st.tuples(st.integers(0, 3), st.integers(0, 3)),
                                                  st.tuples(st.integers(0, 3), st.integers(0, 3)))),
    rank=st.sampled_from([2, 3, 4]), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**31 - 1),
)
def test_conv2d_backward_property(batch, groups, in_per_group, out_per_group, kernel_hw, in_hw, stride, dilation,
                                  padding, rank, dtype, seed):
    assume(conv_geometry_is_valid(in_hw, kernel_hw, stride, padding, dilation))
    if rank == 2:
        batch = groups = in_per_group = out_per_group = 1
    elif rank == 3:
        batch = 1
    rng = np.random.default_rng(seed)
    channels = (batch, groups * in_per_group, groups * out_per_group, groups)
    x, weight = conv_operands(channels, kernel_hw, in_hw, dtype, rng)
    geometry = ref.conv_geometry(in_hw, kernel_hw, stride, padding, dilation)
    grad_output = rng.standard_normal((batch, channels[2], geometry.out_h, geometry.out_w)).astype(dtype)
    if rank == 2:
        x, weight, grad_output = x[0, 0], weight[0, 0], grad_output[0, 0]
    elif rank == 3:
        x, grad_output = x[0], grad_output[0]
    context = (f"rank={rank} channels={channels} kernel={kernel_hw} in_hw={in_hw} stride={stride} "
               f"padding={padding} dilation={dilation} dtype={np.dtype(dtype).name}")
    grads = fastconv.conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups)
    expected = ref.conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups)
    scale = ref.conv2d_backward(np.abs(grad_output), np.abs(x), np.abs(weight), stride, padding, dilation, groups)
    assert_matches_reference(grads.input, expected.input, scale.input, dtype, "input; " + context)
    assert_matches_reference(grads.weight, expected.weight, scale.weight, dtype, "weight; " + context)
    assert_matches_reference(np.reshape(grads.bias, expected.bias.shape), expected.bias, scale.bias, dtype,
                             "bias; " + context)


# ---- conv2d_backward vs finite differences of fastconv.conv2d -----------------------------

FD_CONV_CASES = [
    # channels (N, C, O, groups), kernel, in_hw, stride, padding, dilation
    ((2, 3, 4, 1), (3, 3), (6, 5), 1, 0, 1),
    ((1, 4, 6, 2), (3, 2), (7, 6), 2, 1, 1),
    ((1, 3, 3, 3), (3, 3), (6, 6), 1, "same", 1),         # depthwise
    ((1, 2, 4, 2), (2, 2), (5, 7), (2, 1), "same", 2),     # depthwise, multiplier 2
    ((2, 2, 3, 1), (2, 3), (6, 7), 3, "same", 1),          # TF "same" with stride 3
    ((1, 2, 2, 1), (3, 3), (7, 7), 1, ((2, 0), (1, 3)), 1),
    ((1, 4, 2, 2), (1, 1), (5, 4), 2, "valid", 1),
    ((1, 2, 3, 1), (3, 2), (8, 7), (1, 2), (2, 1), (2, 3)),
    ((1, 1, 1, 1), (1, 4), (3, 9), 1, ((0, 0), (3, 0)), 1),
]


@pytest.mark.parametrize("channels, kernel_hw, in_hw, stride, padding, dilation", FD_CONV_CASES)
def test_conv2d_backward_finite_differences(channels, kernel_hw, in_hw, stride, padding, dilation):
    rng = np.random.default_rng(24)
    groups = channels[3]
    x, weight = conv_operands(channels, kernel_hw, in_hw, np.float64, rng)
    bias = rng.standard_normal(channels[2])
    forward = fastconv.conv2d(x, weight, bias, stride, padding, dilation, groups)
    grad_output = rng.standard_normal(forward.shape)
    context = (f"channels={channels} kernel={kernel_hw} in_hw={in_hw} stride={stride} padding={padding} "
               f"dilation={dilation}")
    grads = fastconv.conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups)
    numeric_input = numerical_gradient(
        lambda v: fastconv.conv2d(v, weight, bias, stride, padding, dilation, groups), x, grad_output)
    numeric_weight = numerical_gradient(
        lambda v: fastconv.conv2d(x, v, bias, stride, padding, dilation, groups), weight, grad_output)
    numeric_bias = numerical_gradient(
        lambda v: fastconv.conv2d(x, weight, v, stride, padding, dilation, groups), bias, grad_output)
    assert_gradient_close(grads.input, numeric_input, 1e-6, "input; " + context)
    assert_gradient_close(grads.weight, numeric_weight, 1e-6, "weight; " + context)
    assert_gradient_close(grads.bias, numeric_bias, 1e-6, "bias; " + context)


@settings(deadline=None, max_examples=30)
@given(
    groups=st.integers(1, 2), in_per_group=st.integers(1, 2), out_per_group=st.integers(1, 2),
    kernel_hw=st.tuples(st.integers(1, 3), st.integers(1, 3)), in_hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.one_of(st.integers(0, 2), st.just("same"),
                      st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                st.tuples(st.integers(0, 2), st.integers(0, 2)))),
    seed=st.integers(0, 2**31 - 1),
)
def test_conv2d_backward_finite_differences_property(groups, in_per_group, out_per_group, kernel_hw, in_hw,
                                                     stride, dilation, padding, seed):
    assume(conv_geometry_is_valid(in_hw, kernel_hw, stride, padding, dilation))
    rng = np.random.default_rng(seed)
    channels = (1, groups * in_per_group, groups * out_per_group, groups)
    x, weight = conv_operands(channels, kernel_hw, in_hw, np.float64, rng)
    grad_output = rng.standard_normal(fastconv.conv2d(x, weight, None, stride, padding, dilation, groups).shape)
    context = (f"channels={channels} kernel={kernel_hw} in_hw={in_hw} stride={stride} padding={padding} "
               f"dilation={dilation}")
    grads = fastconv.conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups,
                                     needs=("input", "weight"))
    assert grads.bias is None
    assert_gradient_close(grads.input, numerical_gradient(
        lambda v: fastconv.conv2d(v, weight, None, stride, padding, dilation, groups), x, grad_output),
        1e-6, "input; " + context)
    assert_gradient_close(grads.weight, numerical_gradient(
        lambda v: fastconv.conv2d(x, v, None, stride, padding, dilation, groups), weight, grad_output),
        1e-6, "weight; " + context)


# ---- conv2d_backward vs torch.autograd ---------------------------------------------------

def torch_conv_grads(torch, x, weight, bias, grad_output, stride, padding, dilation, groups):
    functional = torch.nn.functional
    (top, bottom), (left, right) = ref.explicit_padding(padding, x.shape[-2:], weight.shape[-2:], stride, dilation)
    x_t = torch.from_numpy(x).requires_grad_()
    w_t = torch.from_numpy(weight).requires_grad_()
    b_t = torch.from_numpy(bias).requires_grad_()
    y = functional.conv2d(functional.pad(x_t, (left, right, top, bottom)), w_t, b_t, stride, 0, dilation, groups)
    y.backward(torch.from_numpy(grad_output))
    return x_t.grad.numpy(), w_t.grad.numpy(), b_t.grad.numpy()


@pytest.mark.parametrize("channels, kernel_hw, in_hw, stride, padding, dilation", FD_CONV_CASES + [
    ((3, 8, 8, 8), (3, 3), (12, 11), 2, 1, 1),
    ((2, 6, 12, 3), (5, 5), (13, 14), (2, 3), "same", (1, 2)),
    ((2, 16, 8, 1), (1, 1), (9, 9), 1, 0, 1),
])
def test_conv2d_backward_matches_torch(channels, kernel_hw, in_hw, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(25)
    groups = channels[3]
    x, weight = conv_operands(channels, kernel_hw, in_hw, np.float64, rng)
    bias = rng.standard_normal(channels[2])
    geometry = ref.conv_geometry(in_hw, kernel_hw, stride, padding, dilation)
    grad_output = rng.standard_normal((channels[0], channels[2], geometry.out_h, geometry.out_w))
    context = (f"channels={channels} kernel={kernel_hw} in_hw={in_hw} stride={stride} padding={padding} "
               f"dilation={dilation}")
    expected = torch_conv_grads(torch, x, weight, bias, grad_output, stride, padding, dilation, groups)
    grads = fastconv.conv2d_backward(grad_output, x, weight, stride, padding, dilation, groups)
    for name, actual, wanted in zip(("input", "weight", "bias"), grads, expected):
        scale = max(float(np.max(np.abs(wanted))), 1.0)
        np.testing.assert_allclose(actual, wanted, rtol=1e-10, atol=1e-10 * scale, err_msg=f"{name}; {context}")


# ---- conv_transpose2d --------------------------------------------------------------------

TRANSPOSE_CASES = [
    # channels (N, C_in, O, groups), kernel, in_hw, stride, padding, output_padding, dilation
    ((2, 4, 3, 1), (3, 3), (5, 6), 1, 0, 0, 1),
    ((1, 4, 6, 2), (3, 3), (4, 5), 2, 1, 1, 1),
    ((2, 3, 3, 3), (2, 3), (6, 4), (2, 3), (1, 0), (1, 2), 1),
    ((1, 2, 4, 2), (3, 2), (5, 5), 3, (2, 1), (0, 2), (1, 2)),
    ((1, 6, 2, 1), (1, 1), (4, 4), 2, 0, 1, 1),
    ((1, 2, 2, 1), (3, 3), (3, 4), 2, 1, (1, 0), 2),
]


def transposed_output_size(size, kernel, stride, padding, output_padding, dilation):
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("channels, kernel_hw, in_hw, stride, padding, output_padding, dilation", TRANSPOSE_CASES)
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(with_bias, channels, kernel_hw, in_hw, stride, padding,
                                                         output_padding, dilation):
    rng = np.random.default_rng(26)
    batch, in_channels, out_channels, groups = channels
    x = rng.standard_normal((batch, in_channels) + in_hw)
    weight = rng.standard_normal((in_channels, out_channels // groups) + kernel_hw)
    bias = rng.standard_normal(out_channels) if with_bias else None
    out_hw = tuple(transposed_output_size(in_hw[axis], kernel_hw[axis], ref.as_pair(stride)[axis],
                                          ref.as_pair(padding)[axis], ref.as_pair(output_padding)[axis],
                                          ref.as_pair(dilation)[axis]) for axis in range(2))
    context = (f"channels={channels} kernel={kernel_hw} in_hw={in_hw} stride={stride} padding={padding} "
               f"output_padding={output_padding} dilation={dilation} bias={with_bias}")
    result = fastconv.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)
    assert result.shape == (batch, out_channels) + out_hw, context
    # the same geometry seen from conv2d: an input of out_hw maps to in_hw
    forward_input = np.zeros((batch, out_channels) + out_hw)
    expected = ref.conv2d_backward(x, forward_input, weight, stride, padding, dilation, groups).input
    if with_bias:
        expected = expected + bias[None, :, None, None]
    scale = max(float(np.max(np.abs(expected))), 1.0)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12 * scale, err_msg=context)
    from_backward = fastconv.conv2d_backward(x, forward_input, weight, stride, padding, dilation, groups,
                                             needs=("input",)).input
    if with_bias:
        from_backward = from_backward + bias[None, :, None, None]
    np.testing.assert_allclose(result, from_backward, rtol=1e-12, atol=1e-12 * scale,
                               err_msg="vs conv2d_backward; " + context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels, kernel_hw, in_hw, stride, padding, output_padding, dilation", TRANSPOSE_CASES)
def test_conv_transpose2d_matches_torch(dtype, channels, kernel_hw, in_hw, stride, padding, output_padding, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(27)
    batch, in_channels, out_channels, groups = channels
    x = rng.standard_normal((batch, in_channels) + in_hw).astype(dtype)
    weight = rng.standard_normal((in_channels, out_channels // groups) + kernel_hw).astype(dtype)
    bias = rng.standard_normal(out_channels).astype(dtype)
    context = (f"channels={channels} kernel={kernel_hw} in_hw={in_hw} stride={stride} padding={padding} "
               f"output_padding={output_padding} dilation={dilation} dtype={np.dtype(dtype).name}")
    expected = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x).double(), torch.from_numpy(weight).double(), torch.from_numpy(bias).double(),
        stride, padding, output_padding, groups, dilation).numpy()
    result = fastconv.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)
    assert result.dtype == np.dtype(dtype), context
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    scale = max(float(np.max(np.abs(expected))), 1.0)
    np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol * scale, err_msg=context)
    unbatched = fastconv.conv_transpose2d(x[0], weight, bias, stride, padding, output_padding, groups, dilation)
    np.testing.assert_allclose(unbatched, expected[0], rtol=rtol, atol=rtol * scale, err_msg="unbatched; " + context)


# ---- max_pool2d_backward -----------------------------------------------------------------

MAX_POOL_CASES = [
    # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False),
    (3, 1, 1, 1, False),              # overlapping windows: one input can win several
    (3, 2, 1, 1, True),
    ((3, 2), (1, 2), (1, 0), 1, True),
    (2, 1, 0, 2, False),              # dilation
    (3, 2, 1, (2, 1), True),
    (4, 3, 2, 1, True),
    ((2, 3), 1, "same", 1, False),
    (3, 2, ((1, 0), (0, 1)), 1, True),
]


def torch_accepts_padding(padding):
    """torch pooling takes an int or (ph, pw), not "same" or ((top, bottom), (left, right))."""
    return not isinstance(padding, str) and not (isinstance(padding, tuple) and isinstance(padding[0], tuple))


def tie_free(shape, rng, dtype=np.float64):
    """Distinct values one apart: a finite-difference step below 0.5 never changes an argmax."""
    return (rng.permutation(int(np.prod(shape))).astype(np.float64) - 40.0).reshape(shape).astype(dtype)


@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 7, 10)])
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", MAX_POOL_CASES)
def test_max_pool2d_backward_finite_differences(shape, kernel_size, stride, padding, dilation, ceil_mode):
    rng = np.random.default_rng(28)
    x = tie_free(shape, rng)
    values, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    grad_output = rng.standard_normal(values.shape)
    context = (f"shape={shape} kernel={kernel_size} stride={stride} padding={padding} dilation={dilation} "
               f"ceil_mode={ceil_mode}")
    analytic = fastconv.max_pool2d_backward(grad_output, indices, x.shape)
    assert analytic.shape == x.shape and analytic.dtype == np.float64, context
    numeric = numerical_gradient(
        lambda v: fastconv.max_pool2d(v, kernel_size, stride, padding, dilation, ceil_mode), x, grad_output,
        step=0.25)
    assert_gradient_close(analytic, numeric, 1e-9, context)
    expected = ref.max_pool2d_backward_from_input(grad_output, x, kernel_size, stride, padding, dilation, ceil_mode)
    np.testing.assert_allclose(analytic, expected, rtol=1e-13, atol=1e-13, err_msg="vs reference; " + context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", MAX_POOL_CASES)
def test_max_pool2d_backward_reference(dtype, kernel_size, stride, padding, dilation, ceil_mode):
    rng = np.random.default_rng(29)
    x = tie_free((2, 4, 11, 10), rng, dtype)
    _, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    grad_output = rng.standard_normal(indices.shape).astype(dtype)
    context = (f"kernel={kernel_size} stride={stride} padding={padding} dilation={dilation} "
               f"ceil_mode={ceil_mode} dtype={np.dtype(dtype).name}")
    analytic = fastconv.max_pool2d_backward(grad_output, indices, x.shape)
    expected = ref.max_pool2d_backward_from_input(grad_output, x, kernel_size, stride, padding, dilation, ceil_mode)
    scale = ref.max_pool2d_backward_from_input(np.abs(grad_output), x, kernel_size, stride, padding, dilation,
                                               ceil_mode)
    assert_matches_reference(analytic, expected, scale, dtype, context)


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode",
                         [case for case in MAX_POOL_CASES if torch_accepts_padding(case[2])])
def test_max_pool2d_backward_matches_torch(kernel_size, stride, padding, dilation, ceil_mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(30)
    x = tie_free((2, 3, 10, 9), rng)
    x_t = torch.from_numpy(x).requires_grad_()
    y_t = torch.nn.functional.max_pool2d(x_t, kernel_size, stride, padding, dilation, ceil_mode)
    grad_output = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(torch.from_numpy(grad_output))
    _, indices = fastconv.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    analytic = fastconv.max_pool2d_backward(grad_output, indices, x.shape)
    np.testing.assert_allclose(analytic, x_t.grad.numpy(), rtol=1e-12, atol=1e-12,
                               err_msg=f"kernel={kernel_size} stride={stride} padding={padding} "
                                       f"dilation={dilation} ceil_mode={ceil_mode}")


def test_max_pool2d_backward_accumulates_repeated_indices():
    """Arbitrary indices (not from max_pool2d) are legal as long as they are in range;
    several outputs pointing at one input add up."""
    grad_output = np.array([[[[1.0, 2.0], [4.0, 8.0]]]])
    indices = np.array([[[[5, 5], [0, 5]]]], dtype=np.int64)
    grad_x = fastconv.max_pool2d_backward(grad_output, indices, (1, 1, 3, 3))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 2] = 11.0
    expected[0, 0, 0, 0] = 4.0
    np.testing.assert_array_equal(grad_x, expected)


def scatter_in_dtype(grad_output, indices, input_shape):
    """grad_x = 0, then grad_output added at each index in output order, in grad_output's
    dtype: the bits max_pool2d_backward must give (0 + -0 is +0; NaN payloads pass)."""
    planes = int(np.prod(input_shape[:-2]))
    grad_x = np.zeros((planes, input_shape[-2] * input_shape[-1]), grad_output.dtype)
    flat_grad, flat_indices = grad_output.reshape(planes, -1), indices.reshape(planes, -1)
    with np.errstate(invalid="ignore"):   # inf + -inf is NaN, as in the scatter
        for plane in range(planes):
            np.add.at(grad_x[plane], flat_indices[plane], flat_grad[plane])
    return grad_x.reshape(input_shape)


def gradients_that_round(rng, shape, dtype):
    """Gradients of many magnitudes, with -0, NaNs of both signs and infinities: sums of
    them depend on their order."""
    grad = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)
    grad = grad.astype(dtype)
    grad.flat[::7] = -0.0
    grad.flat[3::5] = np.nan
    grad.flat[4::6] = -np.nan   # the sign tells NaNs apart: which one a sum keeps
    grad.flat[5::13] = -np.inf
    grad.flat[6::17] = np.inf
    return grad


def same_bits(actual, expected):
    bits = np.uint32 if actual.dtype == np.float32 else np.uint64
    return actual.dtype == expected.dtype and np.array_equal(actual.view(bits), expected.view(bits))


def assert_scatter_bits(grad_output, indices, shape, context):
    """max_pool2d_backward gives the clear-then-scatter bits, and no -0 (0 + -0 is +0)."""
    analytic = fastconv.max_pool2d_backward(grad_output, indices, shape)
    assert same_bits(analytic, scatter_in_dtype(grad_output, indices, shape)), context
    assert not np.signbit(analytic[analytic == 0]).any(), f"a -0 gradient must land as +0, as 0 + -0; {context}"


# Input planes twice the output plane (or one more row or column): at AVX-512 and AVX2 the backward
# writes planes whose indices stay in their own 2x2 block densely, and scatters the others.
# Output widths cover whole vectors and a tail at every SIMD width.
BLOCK_SHAPES = [(2, 3, 8, 32), (1, 2, 9, 37), (2, 2, 10, 66), (1, 2, 7, 112), (1, 1, 4, 46),
                (1, 2, 6, 28), (1, 1, 4, 10), (2, 1, 4, 88), (1, 1, 5, 58)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BLOCK_SHAPES)
def test_max_pool2d_backward_over_2x2_blocks_has_the_scatter_bits(shape, dtype):
    """Indices of 2x2 stride-2 pooling (each in its own block), with gradients that
    include -0, NaNs and infinities: bit for bit the clear-then-scatter result."""
    rng = np.random.default_rng(33)
    x = rng.standard_normal(shape).astype(dtype)
    _, indices = fastconv.max_pool2d(x, 2, 2, return_indices=True)
    assert_scatter_bits(gradients_that_round(rng, indices.shape, dtype), indices, shape, f"shape={shape}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BLOCK_SHAPES)
def test_max_pool2d_backward_with_indices_outside_their_block(shape, dtype):
    """Same plane shapes, but some indices leave their 2x2 block (3x3 windows that
    overlap, an index moved by hand in a late row, repeated indices): those planes
    are scattered, in output order, as if nothing had been written before."""
    rng = np.random.default_rng(34)
    x = rng.standard_normal(shape).astype(dtype)
    _, blocks = fastconv.max_pool2d(x, 2, 2, return_indices=True)
    moved = blocks.copy()
    moved[0, 0, -1, -1] = 0                  # the plane's first cell, from its last output
    moved[-1, -1, moved.shape[2] // 2, 0] = moved[-1, -1, 0, 0]
    cases = {"moved by hand": moved}
    if shape[-2] % 2 == 0 and shape[-1] % 2 == 0:
        _, overlapping = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
        assert overlapping.shape == blocks.shape
        cases["3x3 stride 2 padding 1"] = overlapping
    for label, indices in cases.items():
        grad_output = rng.standard_normal(indices.shape).astype(dtype)
        analytic = fastconv.max_pool2d_backward(grad_output, indices, shape)
        assert same_bits(analytic, scatter_in_dtype(grad_output, indices, shape)), f"{label}; shape={shape}"


# Input planes for which 3x3 stride-2 pooling padded by 1 gives (H + 1) / 2 x (W + 1) / 2
# outputs: at AVX-512, in float32, the backward writes planes whose indices stay in their own window densely,
# and scatters the others; at AVX2 it does so for rows of at least 24 outputs (widths 47 on),
# whose kernel AVX-512 takes for them too.
# Odd and even sizes, output widths with whole vectors and tails of every length at both levels.
WINDOW3_SHAPES = [(2, 3, 8, 32), (1, 2, 9, 37), (2, 2, 10, 66), (1, 2, 7, 112), (1, 1, 4, 46),
                  (1, 2, 13, 35), (1, 2, 17, 33), (1, 1, 6, 31),
                  (1, 2, 9, 79), (2, 1, 8, 80), (1, 1, 11, 95), (1, 2, 6, 97), (1, 1, 5, 130),
                  (1, 1, 7, 101), (1, 1, 4, 86), (1, 2, 9, 48), (1, 1, 6, 49), (2, 1, 5, 47)]
# Planes of one to three rows: a single output row, with or without a row below its middle one.
WINDOW3_LOW_SHAPES = [(1, 1, 1, 81), (1, 1, 2, 92), (1, 2, 3, 86), (1, 1, 1, 9), (1, 1, 2, 16)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", WINDOW3_SHAPES + WINDOW3_LOW_SHAPES)
def test_max_pool2d_backward_over_3x3_stride_2_windows_has_the_scatter_bits(shape, dtype):
    """Indices of 3x3 stride-2 padding-1 pooling, and indices that make neighbouring windows
    share cells (each output row alternately on its first and last row, each output on its
    left or right column, so a cell sums up to four gradients, or on its middle column, so
    a cell sums two): bit for bit the clear-then-scatter result, which adds them in output
    order."""
    rng = np.random.default_rng(37)
    x = rng.standard_normal(shape).astype(dtype)
    _, pooled = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    out_h, out_w = pooled.shape[-2:]
    assert (out_h, out_w) == ((shape[-2] + 1) // 2, (shape[-1] + 1) // 2)
    height, width = shape[-2:]
    oh, ow = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    row = np.where(oh % 2 == 0, 2 * oh + 1, 2 * oh - 1)
    row = np.where(row >= height, 2 * oh, np.maximum(row, 0))
    col = np.where(ow % 2 == 0, 2 * ow + 1, 2 * ow - 1)
    col = np.where(col >= width, 2 * ow, col)
    shared = np.broadcast_to(row * width + col, pooled.shape).astype(np.int64)
    shared_rows = np.broadcast_to(row * width + 2 * ow, pooled.shape).astype(np.int64)
    cases = {"pooled": pooled, "shared cells": shared, "shared rows, middle column": shared_rows}
    for label, indices in cases.items():
        assert_scatter_bits(gradients_that_round(rng, indices.shape, dtype), indices, shape,
                            f"{label}; shape={shape}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", WINDOW3_SHAPES)
def test_max_pool2d_backward_with_indices_outside_their_3x3_window(shape, dtype):
    """Planes shaped as 3x3 stride-2 padding-1 pooling gives, with one index in the plane
    but outside its window: the previous row's last cell (where a row's first window's
    padding column would be), the next row's first cell (past the last window's right
    column when the width is odd), a cell two columns right of the window, or the first
    row's cell from an output two rows down.  The plane is scattered, in output order."""
    rng = np.random.default_rng(38)
    x = rng.standard_normal(shape).astype(dtype)
    _, pooled = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    out_h, out_w = pooled.shape[-2:]
    height, width = shape[-2:]
    moves = {
        "previous row's last cell": ((0, 0, 1, 0), 2 * width - 1),
        "next row's first cell": ((-1, -1, 1, out_w - 1), 3 * width if width % 2 else 2 * width + 2 * out_w),
        "two columns right": ((0, -1, out_h // 2, 1), 2 * (out_h // 2) * width + 5),
        "two rows down": ((-1, 0, min(2, out_h - 1), 0), 0),
    }
    for label, (position, index) in moves.items():
        indices = pooled.copy()
        indices[position] = index
        grad_output = gradients_that_round(rng, indices.shape, dtype)
        analytic = fastconv.max_pool2d_backward(grad_output, indices, shape)
        assert same_bits(analytic, scatter_in_dtype(grad_output, indices, shape)), f"{label}; shape={shape}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", WINDOW3_SHAPES)
def test_max_pool2d_backward_3x3_windows_rejects_indices_2_to_the_32_away(shape, dtype):
    """An index 2^32 above its own (or its own less 2^32, negative), whose low 32 bits name the
    cell the pooling chose, in a late output row: ValueError, as for any index outside the
    plane (the AVX2 kernel compares the indices' low 32 bits and must not take it for that
    cell)."""
    rng = np.random.default_rng(39)
    x = rng.standard_normal(shape).astype(dtype)
    _, pooled = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    grad_output = gradients_that_round(rng, pooled.shape, dtype)
    for shift in (2 ** 32, -2 ** 32, 2 ** 31):
        indices = pooled.copy()
        indices[-1, -1, -1, pooled.shape[-1] // 2] += shift
        with pytest.raises(ValueError, match="indices must lie in"):
            fastconv.max_pool2d_backward(grad_output, indices, shape)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_max_backward_is_the_plain_stores_bits(dtype, threads):
    """A max backward pass over the threshold writes the planes whose indices stay in their
    2x2 blocks (or, in float32, their 3x3 stride-2 windows; at AVX2 from width 47) with
    non-temporal stores (rows of whole 16-byte pieces: widths 16, 24, 32, 64, 80, 96 in
    float32, every even width in float64), and falls back to clearing and scattering a plane after writing part of it
    (an index moved out of its block in a late row; 3x3 windows are outside the 2x2
    blocks): the bits of plain stores, and of the scatter, at every width."""
    from fastconv import _core
    rng = np.random.default_rng(110)
    for width in (16, 18, 22, 24, 32, 34, 64, 66, 80, 82, 96, 97):
        shape = (2, 3, 12, width)
        x = rng.standard_normal(shape).astype(dtype)
        _, blocks = fastconv.max_pool2d(x, 2, 2, return_indices=True)
        _, windows = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
        moved = blocks.copy()
        moved[1, 2, -2, -1] = 0
        cases = {"in their blocks": blocks, "one moved": moved, "3x3 windows": windows}
        for label, indices in cases.items():
            grad_output = rng.standard_normal(indices.shape).astype(dtype)
            grad_output.flat[::5] = -0.0
            grad_output.flat[2::9] = np.nan
            context = f"{label}; dtype={np.dtype(dtype).name} shape={shape} threads={threads}"
            try:
                with fastconv.threads(threads):
                    _core.set_stream_threshold(1 << 62)
                    plain = fastconv.max_pool2d_backward(grad_output, indices, shape)
                    _core.set_stream_threshold(0)
                    streamed = fastconv.max_pool2d_backward(grad_output, indices, shape)
            finally:
                _core.set_stream_threshold(None)
            assert same_bits(streamed, plain), context
            assert same_bits(streamed, scatter_in_dtype(grad_output, indices, shape)), context


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_max_backward_clears_large_planes_row_by_row(dtype, threads):
    """Over the threshold, planes larger than L1 pooled at stride 2 or more down are cleared
    row by row just before each output row's gradients are added (max_backward_rows_scatter;
    float64 at AVX2 and AVX-512 scatters into a plane of its own instead).  Indices of 3x3
    stride-2, 4x4 stride-3 and 2x2 stride-2 and -3 pooling (rows no window reaches), one
    moved out of its window (so no dense path takes the plane), an output row all at the
    first cell not yet cleared, one in the first output row pointing at the plane's last row
    (clears the rest at once), one in a late row pointing back at row 0: the bits of clearing the whole
    plane first, and of the scatter, in an output block the buffer cache hands back full of
    7s (a cell left uncleared shows).  An index out of the plane in a late row: ValueError."""
    from fastconv import _core
    rng = np.random.default_rng(111)
    height, width = 90, 100 if dtype == np.float32 else 50   # 36 KB planes
    shape = (1, 30, height, width)                           # 1.08 MB: from the buffer cache

    def backward(grad_output, indices):
        dirty = fastconv.relu(np.full(shape, 7.0, dtype))    # a block of the output's size
        del dirty
        return fastconv.max_pool2d_backward(grad_output, indices, shape)

    x = rng.standard_normal(shape).astype(dtype)
    for kernel, stride, padding in ((3, 2, 1), (4, 3, 1), (2, 2, 0), (2, 3, 0)):
        _, indices = fastconv.max_pool2d(x, kernel, stride, padding, return_indices=True)
        indices[0, 0, 3, 4] = indices[0, 0, 3, 4] + 3 * width       # out of its window
        # a whole output row at the first cell of the first row not cleared before it
        indices[0, 0, 5, :] = (indices[0, 0, :5].max() // width + 1) * width
        indices[0, 1, 0, 2] = height * width - 1                    # the plane's last cell
        indices[0, 2, -1, -1] = 5                                   # back at row 0
        grad_output = gradients_that_round(rng, indices.shape, dtype)
        context = f"kernel={kernel} stride={stride} dtype={np.dtype(dtype).name} threads={threads}"
        try:
            with fastconv.threads(threads):
                _core.set_stream_threshold(1 << 62)
                plain = backward(grad_output, indices)
                _core.set_stream_threshold(0)
                streamed = backward(grad_output, indices)
                for bad in (-1, height * width):
                    wrong = indices.copy()
                    wrong[0, 2, -2, 1] = bad
                    with pytest.raises(ValueError, match="indices must lie in"):
                        fastconv.max_pool2d_backward(grad_output, wrong, shape)
        finally:
            _core.set_stream_threshold(None)
        assert same_bits(streamed, plain), context
        assert same_bits(streamed, scatter_in_dtype(grad_output, indices, shape)), context


@pytest.mark.parametrize("bad_index", [-1, -2**63, 2**63 - 1, 16 * 70, 17 * 70 + 1])
@pytest.mark.parametrize("position", [(0, 0, 0, 0), (0, 1, 5, 33), (0, 1, 7, 17)])
def test_max_pool2d_backward_rejects_out_of_range_indices_over_2x2_blocks(bad_index, position):
    """Planes the dense 2x2 path takes (16x70 inputs, 8x35 outputs: whole vectors and a
    tail), one index out of the plane (-1 is also the cell before a block, 16 * 70 and
    17 * 70 + 1 past the plane, and the int64 extremes): ValueError naming it."""
    x = np.random.default_rng(35).standard_normal((1, 2, 16, 70))
    _, indices = fastconv.max_pool2d(x, 2, 2, return_indices=True)
    indices[position] = bad_index
    with pytest.raises(ValueError, match=f"found index {bad_index}"):
        fastconv.max_pool2d_backward(np.ones(indices.shape), indices, x.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shift", [2**32, -2**32, 2**32 + 1, 2**32 + 70])
@pytest.mark.parametrize("position", [(0, 0, 0, 0), (0, 1, 5, 33), (0, 1, 7, 34)])
def test_max_pool2d_backward_rejects_indices_a_multiple_of_2_to_32_off(shift, position, dtype):
    """An index 2**32 (or 2**32 plus an offset within its block) away from a cell of its
    block: the low 32 bits point into the block, so a kernel that compared them alone
    would take it.  It is out of the plane: ValueError naming it."""
    x = np.random.default_rng(36).standard_normal((1, 2, 16, 70)).astype(dtype)
    _, indices = fastconv.max_pool2d(x, 2, 2, return_indices=True)
    indices[position] += shift
    with pytest.raises(ValueError, match=f"found index {indices[position]}"):
        fastconv.max_pool2d_backward(np.ones(indices.shape, dtype), indices, x.shape)


@pytest.mark.parametrize("bad_index", [-1, -10**12, 12, 13, 2**40])
@pytest.mark.parametrize("position", [(0, 0, 0, 0), (1, 1, 2, 1), (1, 2, 2, 2)])
def test_max_pool2d_backward_rejects_out_of_range_indices(bad_index, position):
    """A plane of 3x4 = 12 cells: every index must be in [0, 12)."""
    rng = np.random.default_rng(31)
    indices = rng.integers(0, 12, size=(2, 3, 3, 3)).astype(np.int64)
    indices[position] = bad_index
    grad_output = np.ones(indices.shape)
    with pytest.raises(ValueError) as error:
        fastconv.max_pool2d_backward(grad_output, indices, (2, 3, 3, 4))
    assert "indices" in str(error.value) or "index" in str(error.value), str(error.value)


@pytest.mark.parametrize("bad_index", [-1, -2**40, 40 * 36, 40 * 36 + 7, 2**40])
@pytest.mark.parametrize("position", [(0, 0, 0, 0), (1, 2, 17, 11), (1, 3, 19, 19)])
def test_max_pool2d_backward_rejects_out_of_range_indices_wide(bad_index, position):
    """Planes wide enough for the row kernels (which check each index as they
    scatter it, clamping a bad one into the plane): the error names the bad index,
    and an in-range copy of the same indices still works."""
    rng = np.random.default_rng(32)
    indices = rng.integers(0, 40 * 36, size=(2, 4, 20, 20)).astype(np.int64)
    good = indices.copy()
    indices[position] = bad_index
    grad_output = np.ones(indices.shape, dtype=np.float32)
    with pytest.raises(ValueError, match=f"found index {bad_index}"):
        fastconv.max_pool2d_backward(grad_output, indices, (2, 4, 40, 36))
    grad_x = fastconv.max_pool2d_backward(grad_output, good, (2, 4, 40, 36))
    expected = np.zeros((2, 4, 40 * 36), dtype=np.float32)
    for n in range(2):
        for c in range(4):
            np.add.at(expected[n, c], good[n, c].ravel(), 1.0)
    np.testing.assert_array_equal(grad_x, expected.reshape(2, 4, 40, 36))


# ---- avg_pool2d_backward -----------------------------------------------------------------

AVG_POOL_CASES = [
    # kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    (2, None, 0, False, True, None),
    (3, 1, 1, False, True, None),
    (3, 1, 1, False, False, None),
    (3, 2, 1, True, True, None),       # ceil overhang never counted
    (3, 2, 1, True, False, None),
    (2, 2, 1, True, True, None),
    ((2, 3), (1, 2), (1, 1), True, True, 4),
    (3, 2, 1, False, True, 1),
    (4, 3, 2, True, False, 7),
    ((3, 2), 2, "same", False, True, None),     # "same": padding never counted
    (3, 3, "same", True, False, None),
    (2, 1, "same", False, True, 3),
    (3, 2, ((1, 0), (0, 1)), True, True, None),  # asymmetric
    (3, 1, ((0, 1), (1, 1)), False, False, None),
    (4, 2, ((2, 1), (0, 2)), True, True, None),
]


@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 7, 10)])
@pytest.mark.parametrize("kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override",
                         AVG_POOL_CASES)
def test_avg_pool2d_backward_finite_differences(shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                                divisor_override):
    rng = np.random.default_rng(32)
    x = rng.standard_normal(shape)
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    grad_output = rng.standard_normal(fastconv.avg_pool2d(x, *args).shape)
    context = (f"shape={shape} kernel={kernel_size} stride={stride} padding={padding} ceil_mode={ceil_mode} "
               f"count_include_pad={count_include_pad} divisor_override={divisor_override}")
    analytic = fastconv.avg_pool2d_backward(grad_output, x.shape, *args)
    assert analytic.shape == x.shape and analytic.dtype == np.float64, context
    numeric = numerical_gradient(lambda v: fastconv.avg_pool2d(v, *args), x, grad_output)
    assert_gradient_close(analytic, numeric, 1e-6, context)
    expected = ref.avg_pool2d_backward(grad_output, x.shape, *args)
    np.testing.assert_allclose(analytic, expected, rtol=1e-13, atol=1e-13, err_msg="vs reference; " + context)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override",
                         AVG_POOL_CASES)
def test_avg_pool2d_backward_reference(dtype, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                       divisor_override):
    rng = np.random.default_rng(33)
    shape = (2, 4, 11, 10)
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    geometry = ref.pool_geometry(shape[2:], kernel_size, stride, padding, 1, ceil_mode)
    grad_output = rng.standard_normal(shape[:2] + (geometry.out_h, geometry.out_w)).astype(dtype)
    context = (f"kernel={kernel_size} stride={stride} padding={padding} ceil_mode={ceil_mode} "
               f"count_include_pad={count_include_pad} divisor_override={divisor_override} dtype={np.dtype(dtype).name}")
    analytic = fastconv.avg_pool2d_backward(grad_output, shape, *args)
    expected = ref.avg_pool2d_backward(grad_output, shape, *args)
    scale = ref.avg_pool2d_backward(np.abs(grad_output), shape, *args)
    assert_matches_reference(analytic, expected, scale, dtype, context)


@pytest.mark.parametrize("kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override",
                         [case for case in AVG_POOL_CASES if torch_accepts_padding(case[2])])
def test_avg_pool2d_backward_matches_torch(kernel_size, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(34)
    x = rng.standard_normal((2, 3, 10, 9))
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    x_t = torch.from_numpy(x).requires_grad_()
    y_t = torch.nn.functional.avg_pool2d(x_t, *args)
    grad_output = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(torch.from_numpy(grad_output))
    analytic = fastconv.avg_pool2d_backward(grad_output, x.shape, *args)
    np.testing.assert_allclose(analytic, x_t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"args={args}")


@PROPERTY_SETTINGS
@given(
    in_hw=st.tuples(st.integers(1, 10), st.integers(1, 10)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    padding_choice=st.sampled_from(["int", "asymmetric", "same", "valid"]),
    ceil_mode=st.booleans(), count_include_pad=st.booleans(),
    divisor_override=st.one_of(st.none(), st.integers(1, 9)), seed=st.integers(0, 2**31 - 1),
)
def test_pool_backward_property(in_hw, kernel, stride, padding_choice, ceil_mode, count_include_pad,
                                divisor_override, seed):
    rng = np.random.default_rng(seed)
    if padding_choice == "int":
        padding = int(rng.integers(0, min(kernel) // 2 + 1))
    elif padding_choice == "asymmetric":
        padding = tuple(tuple(int(v) for v in rng.integers(0, k // 2 + 1, size=2)) for k in kernel)
    else:
        padding = padding_choice
    geometry = ref.pool_geometry(in_hw, kernel, stride, padding, 1, ceil_mode)
    assume(geometry.out_h > 0 and geometry.out_w > 0)
    shape = (2, 2) + in_hw
    grad_output = rng.standard_normal((2, 2, geometry.out_h, geometry.out_w))
    args = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    context = f"shape={shape} args={args}"
    np.testing.assert_allclose(fastconv.avg_pool2d_backward(grad_output, shape, *args),
                               ref.avg_pool2d_backward(grad_output, shape, *args), rtol=1e-13, atol=1e-13,
                               err_msg="avg; " + context)
    x = tie_free(shape, rng)
    _, indices = fastconv.max_pool2d(x, kernel, stride, padding, 1, ceil_mode, True)
    np.testing.assert_allclose(fastconv.max_pool2d_backward(grad_output, indices, shape),
                               ref.max_pool2d_backward_from_input(grad_output, x, kernel, stride, padding, 1,
                                                                  ceil_mode),
                               rtol=1e-13, atol=1e-13, err_msg="max; " + context)


# ---- relu_backward -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5), (1, 1, 1, 1), (4, 3, 33, 17)])
def test_relu_backward(dtype, shape):
    rng = np.random.default_rng(35)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[::5] = 0.0            # x == 0 is not > 0: gradient 0 (torch's choice)
    x.reshape(-1)[1::11] = np.nan       # NaN is not > 0 either
    grad_output = rng.standard_normal(shape).astype(dtype)
    result = fastconv.relu_backward(grad_output, x)
    expected = np.where(x > 0, grad_output, 0).astype(dtype)
    assert result.dtype == np.dtype(dtype) and result.shape == x.shape, f"shape={shape} dtype={dtype}"
    np.testing.assert_array_equal(result, expected, err_msg=f"shape={shape} dtype={np.dtype(dtype).name}")


def test_relu_backward_noncontiguous_and_finite_differences():
    rng = np.random.default_rng(36)
    base = rng.standard_normal((2, 3, 8, 10))
    base[np.abs(base) < 0.01] = 0.5     # keep every value a few steps away from the kink
    x = base[:, ::-1, ::2, 1::3]
    grad_output = np.asfortranarray(rng.standard_normal(x.shape))
    analytic = fastconv.relu_backward(grad_output, x)
    np.testing.assert_array_equal(analytic, np.where(x > 0, grad_output, 0.0))
    numeric = numerical_gradient(fastconv.relu, x, grad_output)
    assert_gradient_close(analytic, numeric, 1e-6, "relu")


# ---- errors ------------------------------------------------------------------------------

def assert_names_grad_output(call):
    with pytest.raises(ValueError) as error:
        call()
    assert "grad_output" in str(error.value), str(error.value)


@pytest.mark.parametrize("grad_shape", [(2, 6, 5, 4), (2, 6, 4, 5), (2, 5, 4, 4), (1, 6, 4, 4), (6, 4, 4),
                                        (2, 6, 4, 4, 1)])
def test_conv2d_backward_grad_output_shape_mismatch(grad_shape):
    """Forward output is (2, 6, 4, 4)."""
    x = np.ones((2, 4, 6, 6))
    weight = np.ones((6, 2, 3, 3))
    assert fastconv.conv2d(x, weight, groups=2).shape == (2, 6, 4, 4)
    assert_names_grad_output(lambda: fastconv.conv2d_backward(np.ones(grad_shape), x, weight, groups=2))
    assert_names_grad_output(lambda: fastconv.conv2d_backward(np.ones(grad_shape), x, weight, groups=2,
                                                              needs=("bias",)))


@pytest.mark.parametrize("grad_shape", [(2, 3, 3, 4), (2, 3, 4, 3), (2, 2, 3, 3), (3, 3, 3, 3), (3, 3, 3)])
def test_avg_pool2d_backward_grad_output_shape_mismatch(grad_shape):
    """avg_pool2d of (2, 3, 7, 7), kernel 3, stride 2 is (2, 3, 3, 3)."""
    assert fastconv.avg_pool2d(np.ones((2, 3, 7, 7)), 3, 2).shape == (2, 3, 3, 3)
    assert_names_grad_output(lambda: fastconv.avg_pool2d_backward(np.ones(grad_shape), (2, 3, 7, 7), 3, 2))


@pytest.mark.parametrize("grad_shape", [(2, 3, 3, 4), (2, 3, 3)])
def test_max_pool2d_backward_grad_output_shape_mismatch(grad_shape):
    indices = np.zeros((2, 3, 3, 3), np.int64)
    assert_names_grad_output(lambda: fastconv.max_pool2d_backward(np.ones(grad_shape), indices, (2, 3, 7, 7)))


def test_max_pool2d_backward_input_shape_mismatch():
    """indices for 2x3 planes, but input_shape says 4 channels."""
    indices = np.zeros((2, 3, 3, 3), np.int64)
    with pytest.raises(ValueError):
        fastconv.max_pool2d_backward(np.ones(indices.shape), indices, (2, 4, 7, 7))


@pytest.mark.parametrize("grad_shape", [(3, 4), (4, 3), (12,)])
def test_relu_backward_grad_output_shape_mismatch(grad_shape):
    assert_names_grad_output(lambda: fastconv.relu_backward(np.ones(grad_shape), np.ones((3, 3))))


# ---- threads -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels, kernel_hw, stride, padding, dilation", [
    ((4, 32, 32, 1), (3, 3), 1, 1, 1),
    ((4, 32, 32, 32), (3, 3), 2, "same", 1),    # depthwise
    ((2, 16, 24, 2), (5, 3), (2, 1), ((2, 1), (0, 1)), (1, 2)),
    ((8, 64, 16, 1), (1, 1), 1, 0, 1),
])
def test_conv2d_backward_bitwise_identical_for_one_and_two_threads(dtype, channels, kernel_hw, stride, padding,
                                                                   dilation):
    rng = np.random.default_rng(37)
    x, weight = conv_operands(channels, kernel_hw, (32, 32), dtype, rng)
    geometry = ref.conv_geometry((32, 32), kernel_hw, stride, padding, dilation)
    grad_output = rng.standard_normal((channels[0], channels[2], geometry.out_h, geometry.out_w)).astype(dtype)
    results = {}
    for count in (1, 2):
        with fastconv.threads(count):
            results[count] = fastconv.conv2d_backward(grad_output, x, weight, stride, padding, dilation, channels[3])
    context = (f"channels={channels} kernel={kernel_hw} stride={stride} padding={padding} dilation={dilation} "
               f"dtype={np.dtype(dtype).name}")
    for field in ("input", "weight", "bias"):
        one, two = getattr(results[1], field), getattr(results[2], field)
        assert one.tobytes() == two.tobytes(), f"grad {field} differs between 1 and 2 threads; {context}"
    transposed = {}
    for count in (1, 2):
        with fastconv.threads(count):
            transposed[count] = fastconv.conv_transpose2d(grad_output, weight, None, stride,
                                                          0 if isinstance(padding, (str, tuple)) else padding,
                                                          0, channels[3], dilation)
    assert transposed[1].tobytes() == transposed[2].tobytes(), f"conv_transpose2d; {context}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_and_relu_backward_bitwise_identical_for_one_and_two_threads(dtype):
    rng = np.random.default_rng(38)
    x = rng.standard_normal((8, 16, 64, 64)).astype(dtype)
    _, indices = fastconv.max_pool2d(x, 3, 1, 1, return_indices=True)
    grad_max = rng.standard_normal(indices.shape).astype(dtype)
    grad_avg = rng.standard_normal(fastconv.avg_pool2d(x, 3, 2, 1, True).shape).astype(dtype)
    grad_relu = rng.standard_normal(x.shape).astype(dtype)
    results = {}
    for count in (1, 2):
        with fastconv.threads(count):
            results[count] = (
                fastconv.max_pool2d_backward(grad_max, indices, x.shape),
                fastconv.avg_pool2d_backward(grad_avg, x.shape, 3, 2, 1, True),
                fastconv.avg_pool2d_backward(grad_avg, x.shape, 3, 2, 1, True, False),
                fastconv.relu_backward(grad_relu, x),
            )
    for name, one, two in zip(("max", "avg", "avg no pad count", "relu"), results[1], results[2]):
        assert one.tobytes() == two.tobytes(), f"{name} backward differs between 1 and 2 threads ({np.dtype(dtype).name})"
