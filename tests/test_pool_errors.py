"""Bad pooling arguments raise ValueError/TypeError whose message names the argument
and the offending value (API.md, "Geometry arguments"), before any work is done."""
import re

import numpy as np
import pytest

import fastconv

X = np.arange(2 * 3 * 6 * 7, dtype=np.float64).reshape(2, 3, 6, 7)


def both_pools(**kwargs):
    """max_pool2d and avg_pool2d accept the same geometry arguments except dilation."""
    ops = [("max_pool2d", fastconv.max_pool2d)]
    if "dilation" not in kwargs:
        ops.append(("avg_pool2d", fastconv.avg_pool2d))
    return ops


def assert_message_names(error, argument, value_text):
    message = str(error.value)
    assert re.search(rf"\b{re.escape(argument)}\b", message), f"message does not name {argument!r}: {message!r}"
    assert value_text in message, f"message does not show the value {value_text!r}: {message!r}"


@pytest.mark.parametrize("argument, value, value_text", [
    ("kernel_size", 0, "0"),
    ("kernel_size", -2, "-2"),
    ("kernel_size", (3, 0), "0"),
    ("kernel_size", (-1, 2), "-1"),
    ("kernel_size", (2, 2, 2), "(2, 2, 2)"),
    ("kernel_size", (), "()"),
    ("stride", 0, "0"),
    ("stride", (1, 0), "0"),
    ("stride", -1, "-1"),
    ("stride", (2, 2, 1), "(2, 2, 1)"),
    ("padding", -1, "-1"),
    ("padding", (0, -1), "-1"),
    ("padding", ((0, -1), (0, 0)), "-1"),
    ("padding", ((0, 0), (-2, 0)), "-2"),
    ("padding", "full", "full"),
    ("padding", "SAME_", "SAME_"),
    ("padding", (1, 1, 1), "(1, 1, 1)"),
    ("padding", ((1, 1), (1, 1), (1, 1)), "(1, 1)"),
])
@pytest.mark.parametrize("op_name", ["max_pool2d", "avg_pool2d"])
def test_bad_geometry_value(op_name, argument, value, value_text):
    op = getattr(fastconv, op_name)
    kwargs = {"kernel_size": 2, argument: value}
    with pytest.raises(ValueError) as error:
        op(X, **kwargs)
    assert_message_names(error, argument, value_text)


@pytest.mark.parametrize("kernel_size, padding, value_text", [
    (3, 2, "2"), (2, 2, "2"), (1, 1, "1"), ((4, 3), (1, 2), "2"), ((3, 4), (2, 1), "2"),
    (4, 3, "3"), (3, ((0, 2), (0, 0)), "2"), (3, ((0, 0), (2, 0)), "2"),
])
@pytest.mark.parametrize("op_name", ["max_pool2d", "avg_pool2d"])
def test_padding_larger_than_half_the_kernel(op_name, kernel_size, padding, value_text):
    """torch's rule: pooling padding <= kernel_size // 2 (a window of only padding is meaningless)."""
    op = getattr(fastconv, op_name)
    with pytest.raises(ValueError) as error:
        op(X, kernel_size, 1, padding)
    assert_message_names(error, "padding", value_text)


@pytest.mark.parametrize("dilation, value_text", [(0, "0"), (-1, "-1"), ((1, 0), "0"), ((2, 2, 2), "(2, 2, 2)")])
def test_bad_dilation(dilation, value_text):
    with pytest.raises(ValueError) as error:
        fastconv.max_pool2d(X, 2, dilation=dilation)
    assert_message_names(error, "dilation", value_text)


@pytest.mark.parametrize("op_name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("in_hw, kernel_size, padding, dilation", [
    ((6, 7), 7, 0, 1),          # kernel taller than the 6-row input
    ((6, 7), (2, 8), 0, 1),     # kernel wider than the 7-column input
    ((1, 1), 4, 1, 1),          # padded input 3x3 is smaller than the kernel
    ((6, 7), 3, 0, 3),          # dilated extent 7 > 6 rows
])
def test_empty_output(op_name, in_hw, kernel_size, padding, dilation):
    if op_name == "avg_pool2d" and dilation != 1:
        pytest.skip("avg_pool2d has no dilation")
    op = getattr(fastconv, op_name)
    kwargs = {"dilation": dilation} if dilation != 1 else {}
    x = np.ones((2, 3) + in_hw)
    with pytest.raises(ValueError) as error:
        op(x, kernel_size, 1, padding, **kwargs)
    message = str(error.value)
    assert re.search(r"kernel_size|output|input", message), message


@pytest.mark.parametrize("op_name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("shape", [(7,), (6, 7), (1, 2, 3, 6, 7), ()])
def test_wrong_number_of_dimensions(op_name, shape):
    op = getattr(fastconv, op_name)
    x = np.ones(shape)
    with pytest.raises(ValueError) as error:
        op(x, 1)
    message = str(error.value)
    assert re.search(r"\bx\b", message), f"message does not name x: {message!r}"
    assert str(len(shape)) in message or str(shape) in message, f"message does not show ndim/shape: {message!r}"


@pytest.mark.parametrize("op_name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("shape", [(2, 3, 0, 7), (2, 3, 6, 0), (3, 0, 7)])
def test_empty_spatial_dimension(op_name, shape):
    op = getattr(fastconv, op_name)
    with pytest.raises(ValueError) as error:
        op(np.ones(shape), 1)
    assert "0" in str(error.value), str(error.value)


@pytest.mark.parametrize("op_name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, object, np.str_, np.bytes_])
def test_unsupported_dtype(op_name, dtype):
    op = getattr(fastconv, op_name)
    x = np.ones((1, 1, 4, 4)).astype(dtype)
    with pytest.raises(TypeError) as error:
        op(x, 2)
    assert x.dtype.name in str(error.value) or str(x.dtype) in str(error.value), str(error.value)


@pytest.mark.parametrize("op_name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("argument, value", [
    ("kernel_size", 2.5), ("kernel_size", "3"), ("kernel_size", None), ("stride", 1.5),
    ("padding", 0.5), ("kernel_size", (2, 2.5)),
])
def test_non_integer_geometry(op_name, argument, value):
    op = getattr(fastconv, op_name)
    kwargs = {"kernel_size": 2, argument: value}
    with pytest.raises((TypeError, ValueError)) as error:
        op(X, **kwargs)
    assert re.search(rf"\b{argument}\b", str(error.value)), str(error.value)


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("divisor_override, error_type", [
    (0, ValueError), (True, ValueError),
    (2**63, ValueError), (-2**63 - 1, ValueError), (2**64, ValueError),   # past the C kernels' int64
    (2.5, TypeError), ("3", TypeError), (np.float64(2.0), TypeError),
])
def test_bad_divisor_override(divisor_override, error_type, backward):
    """torch rejects only zero (a negative divisor is accepted there, so it is here);
    what is not an int, or does not fit in 64 bits, is rejected by name too."""
    with pytest.raises(error_type) as error:
        if backward:
            fastconv.avg_pool2d_backward(np.ones((2, 3, 3, 3)), X.shape, 2, divisor_override=divisor_override)
        else:
            fastconv.avg_pool2d(X, 2, divisor_override=divisor_override)
    assert_message_names(error, "divisor_override", repr(divisor_override))


@pytest.mark.parametrize("divisor_override", [-2, 2**63 - 1, -2**63, np.int64(-3)])
def test_divisor_override_any_nonzero_int64(divisor_override):
    expected = X[:, :, :6:2, :6:2] + X[:, :, 1:6:2, :6:2] + X[:, :, :6:2, 1:6:2] + X[:, :, 1:6:2, 1:6:2]
    np.testing.assert_array_equal(fastconv.avg_pool2d(X, 2, divisor_override=divisor_override),
                                  expected / float(divisor_override))


def test_errors_leave_input_untouched():
    x = X.copy()
    with pytest.raises(ValueError):
        fastconv.max_pool2d(x, 3, padding=2)
    np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("shape, kernel, padding, dilation", [
    ((1, 1, 1, 1), 2, 1, (1, 2)),      # width 1: taps at -1 and +1 both miss it
    ((1, 1, 2, 5), 2, 1, (3, 1)),      # height 2: taps at -1 and +2 both miss it
])
def test_max_pool2d_window_of_only_padding_is_rejected(shape, kernel, padding, dilation):
    with pytest.raises(ValueError, match=r"covers only padding.*dilation="):
        fastconv.max_pool2d(np.ones(shape), kernel, None, padding, dilation, return_indices=True)
