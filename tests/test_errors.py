"""Every bad input of the forward ops raises the documented exception, and the
message names the offending argument and its value (API.md).

`message_matches(...)` builds a regex that requires every given fragment
somewhere in the message, in any order.  Sizes too large for 64-bit arithmetic must end
in ValueError or MemoryError before anything is allocated, never a crash.
"""

import re

import numpy as np
import pytest

import fastconv


def message_matches(*fragments):
    """Regex requiring every fragment somewhere in the message, in any order;
    a tuple fragment is satisfied by any one of its spellings."""
    parts = []
    for fragment in fragments:
        spellings = fragment if isinstance(fragment, tuple) else (fragment,)
        parts.append("(?=.*(?:" + "|".join(re.escape(str(s)) for s in spellings) + "))")
    return "(?s)" + "".join(parts)


X = np.zeros((2, 4, 6, 6))
WEIGHT = np.zeros((6, 4, 3, 3))


# ---- geometry values -------------------------------------------------------------

@pytest.mark.parametrize("argument", ["stride", "dilation"])
@pytest.mark.parametrize("value, shown", [(0, "0"), (-1, "-1"), ((1, 0), "0"), ((-3, 1), "-3"),
                                          ([2, 0], "0")], ids=str)
def test_conv2d_non_positive_stride_dilation(argument, value, shown):
    with pytest.raises(ValueError, match=message_matches(argument, shown)):
        fastconv.conv2d(X, WEIGHT, **{argument: value})


@pytest.mark.parametrize("op", ["conv_transpose2d", "im2col", "col2im"])
@pytest.mark.parametrize("argument", ["stride", "dilation"])
def test_other_ops_non_positive_stride_dilation(op, argument):
    call = {
        "conv_transpose2d": lambda **kw: fastconv.conv_transpose2d(X, np.zeros((4, 2, 3, 3)), **kw),
        "im2col": lambda **kw: fastconv.im2col(X, 3, **kw),
        "col2im": lambda **kw: fastconv.col2im(np.zeros((1, 9, 16)), (6, 6), 3, **kw),
    }[op]
    with pytest.raises(ValueError, match=message_matches(argument, "-2")):
        call(**{argument: -2})
    with pytest.raises(ValueError, match=message_matches(argument, "0")):
        call(**{argument: 0})


@pytest.mark.parametrize("value", [1.5, "2", None, (1, 2, 3), (1.0, 2.0)], ids=repr)
def test_conv2d_stride_not_int(value):
    with pytest.raises((TypeError, ValueError), match="stride"):
        fastconv.conv2d(X, WEIGHT, stride=value)


@pytest.mark.parametrize("value, shown", [(0, "0"), (-1, "-1"), ((2, 0), "0"), ((-1, 2), "-1")],
                         ids=str)
def test_im2col_col2im_bad_kernel_size(value, shown):
    with pytest.raises(ValueError, match=message_matches("kernel_size", shown)):
        fastconv.im2col(X, value)
    with pytest.raises(ValueError, match=message_matches("kernel_size", shown)):
        fastconv.col2im(np.zeros((1, 4, 25)), (6, 6), value)


@pytest.mark.parametrize("padding, shown", [
    (-1, "-1"), ((1, -2), "-2"), ((-3, 0), "-3"), (((0, -1), (0, 0)), "-1"),
    (((0, 0), (-4, 1)), "-4")], ids=str)
def test_negative_padding(padding, shown):
    with pytest.raises(ValueError, match=message_matches("padding", shown)):
        fastconv.conv2d(X, WEIGHT, padding=padding)
    with pytest.raises(ValueError, match=message_matches("padding", shown)):
        fastconv.im2col(X, 3, padding=padding)


@pytest.mark.parametrize("padding", ["bogus", "full", "", "causal"], ids=repr)
def test_unknown_padding_string(padding):
    with pytest.raises(ValueError, match=message_matches("padding", repr(padding))):
        fastconv.conv2d(X, WEIGHT, padding=padding)
    with pytest.raises(ValueError, match=message_matches("padding", repr(padding))):
        fastconv.im2col(X, 3, padding=padding)


@pytest.mark.parametrize("padding", [
    (1, 2, 3), ((1, 2), (3,)), ((1, 2), 3), ((1, 2, 3), (1, 2)), ((1, 2), (3, 4), (5, 6)), ()],
    ids=str)
def test_padding_bad_shape(padding):
    with pytest.raises((ValueError, TypeError), match="padding"):
        fastconv.conv2d(X, WEIGHT, padding=padding)


@pytest.mark.parametrize("padding", [1.5, (1.0, 1)], ids=str)
def test_padding_not_int(padding):
    with pytest.raises((ValueError, TypeError), match="padding"):
        fastconv.conv2d(X, WEIGHT, padding=padding)


@pytest.mark.parametrize("groups, shown", [(0, "0"), (-2, "-2")], ids=str)
def test_conv2d_non_positive_groups(groups, shown):
    with pytest.raises(ValueError, match=message_matches("groups", shown)):
        fastconv.conv2d(X, WEIGHT, groups=groups)


# ---- kernel does not fit / empty output ----------------------------------------------

def test_conv2d_kernel_larger_than_input():
    with pytest.raises(ValueError, match=message_matches(("kernel", "weight"), "5")):
        fastconv.conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 5, 5)))


def test_conv2d_kernel_larger_than_padded_input_with_dilation():
    # dilated extent 2 * (3 - 1) + 1 = 5 > 3 + 1 padded
    with pytest.raises(ValueError, match=message_matches(("kernel", "weight"), "5")):
        fastconv.conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)), dilation=2,
                        padding=((1, 0), (1, 0)))
    # padding that makes it fit is fine
    assert fastconv.conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)), dilation=2,
                           padding=1).shape == (1, 1, 1, 1)


def test_im2col_kernel_larger_than_input():
    with pytest.raises(ValueError, match=message_matches("kernel", "7")):
        fastconv.im2col(X, 7)


@pytest.mark.parametrize("shape", [(1, 1, 0, 4), (1, 1, 4, 0)], ids=str)
def test_conv2d_empty_spatial_input(shape):
    with pytest.raises(ValueError, match="0"):
        fastconv.conv2d(np.zeros(shape), np.zeros((1, 1, 1, 1)))


def test_conv2d_empty_weight():
    with pytest.raises(ValueError, match="weight"):
        fastconv.conv2d(X, np.zeros((0, 4, 3, 3)))


def test_conv2d_empty_batch_is_empty_result_or_value_error():
    """N == 0: either torch's empty (0, O, OH, OW) result or a ValueError naming x."""
    try:
        result = fastconv.conv2d(np.zeros((0, 4, 6, 6)), WEIGHT)
    except ValueError as error:
        assert "x" in str(error)
        return
    assert result.shape == (0, 6, 4, 4)


def test_conv_transpose2d_empty_output():
    # (2 - 1) * 1 - 2 * 2 + (2 - 1) + 1 = -1 rows
    with pytest.raises(ValueError, match="padding"):
        fastconv.conv_transpose2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), padding=2)


@pytest.mark.parametrize("output_padding, stride, dilation",
                         [(1, 1, 1), (2, 2, 1), ((0, 3), (1, 3), 1), (2, 1, 2)], ids=str)
def test_conv_transpose2d_output_padding_too_large(output_padding, stride, dilation):
    with pytest.raises(ValueError, match="output_padding"):
        fastconv.conv_transpose2d(np.zeros((1, 2, 4, 4)), np.zeros((2, 1, 3, 3)),
                                  stride=stride, output_padding=output_padding,
                                  dilation=dilation)


# ---- channels and groups ---------------------------------------------------------------

def test_conv2d_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match=message_matches("groups", "2", "3")):
        fastconv.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((2, 1, 3, 3)), groups=2)


def test_conv2d_out_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match=message_matches("groups", "2", "3")):
        fastconv.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)), groups=2)


@pytest.mark.parametrize("weight_channels, groups", [(3, 1), (4, 2), (1, 1)], ids=str)
def test_conv2d_weight_channels_mismatch(weight_channels, groups):
    with pytest.raises(ValueError, match=message_matches("weight", str(weight_channels))):
        fastconv.conv2d(X, np.zeros((6, weight_channels, 3, 3)), groups=groups)


def test_conv_transpose2d_weight_channels_mismatch():
    with pytest.raises(ValueError, match=message_matches("weight", "3")):
        fastconv.conv_transpose2d(X, np.zeros((3, 2, 3, 3)))


def test_conv_transpose2d_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match=message_matches("groups", "3")):
        fastconv.conv_transpose2d(X, np.zeros((4, 2, 3, 3)), groups=3)


# ---- ranks and shapes ---------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6,), (1, 2, 4, 6, 6), ()], ids=str)
def test_conv2d_x_wrong_ndim(shape):
    with pytest.raises(ValueError, match=message_matches("x", str(len(shape)))):
        fastconv.conv2d(np.zeros(shape), WEIGHT)


@pytest.mark.parametrize("x_shape, weight_shape", [
    ((2, 4, 6, 6), (4, 3, 3)), ((2, 4, 6, 6), (3, 3)), ((4, 6, 6), (3, 3)),
    ((6, 6), (1, 1, 3, 3)), ((6, 6), (3,)), ((2, 4, 6, 6), (1, 6, 4, 3, 3))], ids=str)
def test_conv2d_weight_wrong_ndim(x_shape, weight_shape):
    """4-D/3-D x need a 4-D weight; a 2-D x (corr2d) needs a 2-D weight."""
    with pytest.raises(ValueError, match="weight"):
        fastconv.conv2d(np.zeros(x_shape), np.zeros(weight_shape))


@pytest.mark.parametrize("bias_shape, shown", [((7,), "7"), ((5,), "5"), ((1, 6), "1, 6"),
                                               ((6, 1), "6, 1")], ids=str)
def test_conv2d_bias_shape(bias_shape, shown):
    with pytest.raises(ValueError, match=message_matches("bias", shown)):
        fastconv.conv2d(X, WEIGHT, np.zeros(bias_shape))


def test_conv_transpose2d_bias_shape():
    with pytest.raises(ValueError, match=message_matches("bias", "5")):
        fastconv.conv_transpose2d(X, np.zeros((4, 2, 3, 3)), np.zeros(5))


@pytest.mark.parametrize("shape", [(6, 6), (1, 1, 1, 6, 6)], ids=str)
def test_im2col_x_wrong_ndim(shape):
    with pytest.raises(ValueError, match=message_matches("x", str(len(shape)))):
        fastconv.im2col(np.zeros(shape), 2)


@pytest.mark.parametrize("shape", [(9,), (1, 1, 9, 16)], ids=str)
def test_col2im_cols_wrong_ndim(shape):
    with pytest.raises(ValueError, match=message_matches("cols", str(len(shape)))):
        fastconv.col2im(np.zeros(shape), (6, 6), 3)


def test_col2im_rows_not_multiple_of_kernel():
    with pytest.raises(ValueError, match=message_matches(("cols", "kernel_size"), "10")):
        fastconv.col2im(np.zeros((1, 10, 16)), (6, 6), 3)


def test_col2im_wrong_number_of_columns():
    # output_size 6x6, kernel 3 -> 4x4 = 16 windows, not 15
    with pytest.raises(ValueError, match=message_matches("cols", "15")):
        fastconv.col2im(np.zeros((1, 9, 15)), (6, 6), 3)


@pytest.mark.parametrize("output_size, shown", [(0, "0"), ((6, -1), "-1"), ((6,), "output_size"),
                                                ((6, 6, 6), "output_size")], ids=str)
def test_col2im_bad_output_size(output_size, shown):
    with pytest.raises(ValueError, match=message_matches("output_size", shown)):
        fastconv.col2im(np.zeros((1, 9, 16)), output_size, 3)


# ---- dtypes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad_weight, dtype_name", [
    (np.zeros((6, 4, 3, 3), np.complex128), "complex128"),
    (np.zeros((6, 4, 3, 3), np.complex64), "complex64"),
    (np.zeros((6, 4, 3, 3), object), "object"),
    (np.full((6, 4, 3, 3), "a"), "<U1"),
    (np.zeros((6, 4, 3, 3), bool), "bool"),
    (np.zeros((6, 4, 3, 3), np.longdouble), np.dtype(np.longdouble).name),
], ids=lambda v: v if isinstance(v, str) else "")
def test_conv2d_unsupported_weight_dtype(bad_weight, dtype_name):
    if np.dtype(np.longdouble) == np.float64 and dtype_name == "float64":
        pytest.skip("long double is double on this platform")
    with pytest.raises(TypeError, match=message_matches("weight", dtype_name)):
        fastconv.conv2d(X, bad_weight)


@pytest.mark.parametrize("op", ["conv2d", "im2col", "relu", "conv_transpose2d"])
def test_complex_x_names_dtype(op):
    x = np.zeros((2, 4, 6, 6), np.complex128)
    call = {
        "conv2d": lambda: fastconv.conv2d(x, WEIGHT),
        "im2col": lambda: fastconv.im2col(x, 3),
        "relu": lambda: fastconv.relu(x),
        "conv_transpose2d": lambda: fastconv.conv_transpose2d(x, np.zeros((4, 2, 3, 3))),
    }[op]
    with pytest.raises(TypeError, match=message_matches("x", "complex128")):
        call()


def test_col2im_complex_cols():
    with pytest.raises(TypeError, match=message_matches("cols", "complex128")):
        fastconv.col2im(np.zeros((1, 9, 16), np.complex128), (6, 6), 3)


def test_conv2d_bias_complex():
    with pytest.raises(TypeError, match=message_matches("bias", "complex128")):
        fastconv.conv2d(X, WEIGHT, np.zeros(6, np.complex128))


def test_ragged_input_is_type_error():
    with pytest.raises((TypeError, ValueError), match="x"):
        fastconv.relu([[1.0, 2.0], [3.0]])


# ---- activation -------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["sigmoid", "RELU ", "", 1], ids=repr)
def test_conv2d_unknown_activation(activation):
    with pytest.raises(ValueError, match=message_matches("activation", repr(activation))):
        fastconv.conv2d(X, WEIGHT, activation=activation)


# ---- out= ----------------------------------------------------------------------------------------

def conv_out_shape():
    return (2, 6, 4, 4)


@pytest.mark.parametrize("shape", [(2, 6, 4, 5), (2, 6, 16), (6, 4, 4), (2, 6, 4, 4, 1)], ids=str)
def test_conv2d_out_wrong_shape(shape):
    with pytest.raises(ValueError, match=message_matches("out", str(shape))):
        fastconv.conv2d(X, WEIGHT, out=np.empty(shape))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.float16, np.complex128],
                         ids=lambda d: np.dtype(d).name)
def test_conv2d_out_wrong_dtype(dtype):
    # X and WEIGHT are float64, so out must be float64
    with pytest.raises(ValueError, match=message_matches("out", np.dtype(dtype).name)):
        fastconv.conv2d(X, WEIGHT, out=np.empty(conv_out_shape(), dtype))


def test_conv2d_out_float64_for_float32_inputs_rejected():
    with pytest.raises(ValueError, match=message_matches("out", "float64")):
        fastconv.conv2d(X.astype(np.float32), WEIGHT.astype(np.float32),
                        out=np.empty(conv_out_shape()))


def test_conv2d_out_overlapping_input():
    # a 1x1 conv whose output has exactly the input's shape and dtype
    x = np.ones((1, 3, 4, 4))
    weight = np.ones((3, 3, 1, 1))
    with pytest.raises(ValueError, match="out"):
        fastconv.conv2d(x, weight, out=x)
    # a view partly sharing memory with x is an overlap too
    storage = np.ones(48 + 8)
    with pytest.raises(ValueError, match="out"):
        fastconv.conv2d(storage[:48].reshape(1, 3, 4, 4), weight,
                        out=storage[8:].reshape(1, 3, 4, 4))
    assert np.array_equal(storage, np.ones(48 + 8)), "input was modified"


def test_conv2d_out_overlapping_weight_or_bias():
    storage = np.zeros(64 + 16)
    weight = storage[:9].reshape(1, 1, 3, 3)
    out = storage[4:4 + 16].reshape(1, 1, 4, 4)
    with pytest.raises(ValueError, match="out"):
        fastconv.conv2d(np.zeros((1, 1, 6, 6)), weight, out=out)
    bias = storage[30:31]
    out = storage[20:36].reshape(1, 1, 4, 4)
    with pytest.raises(ValueError, match="out"):
        fastconv.conv2d(np.zeros((1, 1, 6, 6)), np.zeros((1, 1, 3, 3)), bias, out=out)


def test_conv2d_out_read_only():
    out = np.empty(conv_out_shape())
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        fastconv.conv2d(X, WEIGHT, out=out)


def test_conv2d_out_not_an_array():
    with pytest.raises((TypeError, ValueError), match="out"):
        fastconv.conv2d(X, WEIGHT, out=[[0.0]])


def test_relu_out_errors():
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match=message_matches("out", "(4, 3)")):
        fastconv.relu(x, out=np.empty((4, 3)))
    with pytest.raises(ValueError, match=message_matches("out", "float32")):
        fastconv.relu(x, out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="out"):
        fastconv.relu(x, out=x)  # API.md: out must not overlap an input


# ---- sizes beyond 64 bits ------------------------------------------------------------------

# Every size below is beyond what a 48-bit address space can map, so the call
# must fail cleanly even where the OS overcommits memory.
SIZE_ERRORS = (ValueError, MemoryError)


def test_conv2d_broadcast_input_with_overflowing_output():
    # x is a zero-stride view of 2**46 images; the output would have 2**66 elements
    x = np.broadcast_to(np.float32(1), (2**46, 1, 1, 1))
    weight = np.zeros((2**20, 1, 1, 1), np.float32)
    with pytest.raises(SIZE_ERRORS):
        fastconv.conv2d(x, weight)


def test_conv2d_huge_broadcast_input():
    # output 2**46 x 2 x 2 float32 = 1 PiB: must be refused, not attempted
    x = np.broadcast_to(np.float32(1), (2**46, 1, 2, 2))
    with pytest.raises(SIZE_ERRORS):
        fastconv.conv2d(x, np.ones((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize("padding", [2**40, 2**62, (0, 2**62), ((2**63, 0), (0, 0))], ids=str)
def test_conv2d_huge_padding(padding):
    with pytest.raises(SIZE_ERRORS):
        fastconv.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), padding=padding)


@pytest.mark.parametrize("kwargs", [dict(padding=2**62), dict(padding=2**31),
                                    dict(kernel_size=2**62), dict(dilation=2**62, kernel_size=2),
                                    dict(stride=2**64)], ids=str)
def test_im2col_huge_geometry(kwargs):
    kwargs = {"kernel_size": 2, **kwargs}
    with pytest.raises(SIZE_ERRORS):
        fastconv.im2col(np.zeros((1, 1, 4, 4)), **kwargs)


@pytest.mark.parametrize("output_size, stride", [((2**62, 2**62), 2**62),
                                                 ((2**31 - 1, 2**31 - 1), 2**31 - 1),
                                                 ((2**46, 3), (2**46, 3))], ids=str)
def test_col2im_huge_output_size(output_size, stride):
    # kernel 1 with a stride as large as the image: one window, so cols is tiny
    with pytest.raises(SIZE_ERRORS):
        fastconv.col2im(np.zeros((1, 1, 1)), output_size, 1, stride=stride)


def test_conv_transpose2d_huge_stride():
    with pytest.raises(SIZE_ERRORS):
        fastconv.conv_transpose2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), stride=2**40)


# ---- threads --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0])
def test_set_num_threads_zero(value):
    with pytest.raises(ValueError, match=message_matches("0")):
        fastconv.set_num_threads(value)


@pytest.mark.parametrize("value", [1.5, "2", None])
def test_set_num_threads_not_int(value):
    with pytest.raises((TypeError, ValueError)):
        fastconv.set_num_threads(value)
