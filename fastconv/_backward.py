"""Backward ops: the gradients of conv2d, the pools and relu.

Same shape as the forward module: validate with the shared geometry, check
grad_output against the forward output shape, allocate, one compiled call.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import _core
from ._arrays import as_array, check_ndim, compute_dtype, contiguous, new_output
from ._geometry import as_int, conv_geometry, pool_geometry
from ._ops import _conv_operands, avg_divisor

Conv2dGrads = namedtuple("Conv2dGrads", ["input", "weight", "bias"])
Conv2dGrads.__doc__ = "Gradients of conv2d; a field not asked for in `needs` is None."

_NEEDS = ("input", "weight", "bias")


def _check_grad_shape(grad_output, expected):
    if grad_output.shape != tuple(expected):
        raise ValueError(f"grad_output has shape {grad_output.shape} but the forward output "
                         f"has shape {tuple(expected)}")


def _conv2d_backward_checked(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                             needs=("input", "weight", "bias")):
    """conv2d_backward with every argument validated (the path for all but the common call)."""
    if isinstance(needs, str):
        needs = (needs,)
    needs = tuple(needs)
    for item in needs:
        if item not in _NEEDS:
            raise ValueError(f"needs must name only 'input', 'weight' or 'bias', got needs={needs!r}")
    grad_output = as_array(grad_output, "grad_output")
    x4, weight4, _, dtype, rank = _conv_operands(x, weight, None,
                                                 extra=(("grad_output", grad_output),))
    g = conv_geometry(x4.shape, weight4.shape, stride, padding, dilation, groups)
    forward_shape = (g.N, g.O, g.OH, g.OW)
    _check_grad_shape(grad_output, forward_shape[4 - rank:])
    geom = tuple(g)
    gy = contiguous(grad_output.reshape(forward_shape), dtype)
    grad_input = grad_weight = grad_bias = None
    if "input" in needs:
        grad_input = new_output(x4.shape, dtype, "grad input")
    if "weight" in needs:
        grad_weight = new_output(weight4.shape, dtype, "grad weight")
    if "bias" in needs:
        grad_bias = new_output((g.O,), dtype, "grad bias")
    # as few calls as the needs allow: the kernels then read grad_y fewer times
    if grad_input is not None and grad_weight is not None:
        _core.conv2d_backward(geom, gy, contiguous(x4, dtype), contiguous(weight4, dtype), grad_input,
                              grad_weight, grad_bias)
    else:
        if grad_input is not None:
            _core.conv2d_grad_input(geom, gy, contiguous(weight4, dtype), grad_input)
        if grad_weight is not None:
            _core.conv2d_grad_weight(geom, gy, contiguous(x4, dtype), grad_weight, grad_bias)
        elif grad_bias is not None:
            _core.conv2d_grad_bias(geom, gy, grad_bias)
    if grad_input is not None:
        grad_input = grad_input.reshape(np.shape(x))
    if grad_weight is not None:
        grad_weight = grad_weight.reshape(np.shape(weight))
    return Conv2dGrads(grad_input, grad_weight, grad_bias)


# The public conv2d_backward is the compiled entry point (fastconv/_fast.pxi): it
# serves the common call directly and hands everything else to the checked op.
_core.set_checked_op("conv2d_backward", _conv2d_backward_checked)
_core.set_conv2d_grads_type(Conv2dGrads)
conv2d_backward = _core.conv2d_backward_entry
conv2d_backward.__name__ = conv2d_backward.__qualname__ = "conv2d_backward"
conv2d_backward.__doc__ = """Gradients of conv2d(x, weight, bias, ...) given grad_output = dL/dy.

    Returns Conv2dGrads(input, weight, bias) shaped like x, weight and (O,);
    a field not named in ``needs`` is None.  Same argument forms as conv2d.
    """


def _input_shape(input_shape):
    try:
        shape = tuple(as_int(s, "input_shape") for s in input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple of ints, got input_shape={input_shape!r}") from None
    if len(shape) not in (3, 4) or min(shape) < 1:
        raise ValueError(f"input_shape must be (N, C, H, W) or (C, H, W) of positive sizes, "
                         f"got input_shape={input_shape!r}")
    return shape, (shape if len(shape) == 4 else (1,) + shape)


def _max_pool2d_backward_checked(grad_output, indices, input_shape):
    """max_pool2d_backward with every argument validated."""
    shape, shape4 = _input_shape(input_shape)
    grad_output = as_array(grad_output, "grad_output")
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer array, got indices.dtype={indices.dtype}")
    if grad_output.shape != indices.shape:
        raise ValueError(f"grad_output has shape {grad_output.shape} but indices has shape {indices.shape}")
    check_ndim(grad_output, "grad_output", (len(shape),))
    if grad_output.shape[:-2] != shape[:-2]:
        raise ValueError(f"grad_output has shape {grad_output.shape}, which does not match "
                         f"input_shape={tuple(input_shape)} in its leading (N, C) axes")
    N, C, H, W = shape4
    OH, OW = grad_output.shape[-2:]
    indices = contiguous(indices.reshape(N, C, OH, OW), np.int64)
    dtype = compute_dtype(("grad_output", grad_output))
    geom = (N, C, H, W, C, 1, 1, 1, OH, OW, 1, 1, 1, 1, 0, 0, 0, 0)
    grad_x = new_output(shape4, dtype, "grad input")
    # the kernels range-check each plane's indices before using any of them
    if not _core.max_pool2d_backward(geom, contiguous(grad_output.reshape(N, C, OH, OW), dtype),
                                     indices, grad_x):
        low, high = _core.index_range(indices)
        bad = low if low < 0 else high
        raise ValueError(f"indices must lie in [0, H*W) = [0, {H * W}) for input_shape="
                         f"{tuple(input_shape)}, found index {bad}")
    return grad_x.reshape(shape)


def _avg_pool2d_backward_checked(grad_output, input_shape, kernel_size, stride=None, padding=0,
                                 ceil_mode=False, count_include_pad=True, divisor_override=None):
    """avg_pool2d_backward with every argument validated."""
    shape, shape4 = _input_shape(input_shape)
    grad_output = as_array(grad_output, "grad_output")
    g, same = pool_geometry(shape4, kernel_size, stride, padding, 1, ceil_mode)
    mode, divisor = avg_divisor(same, count_include_pad, divisor_override)
    _check_grad_shape(grad_output, (g.N, g.C, g.OH, g.OW)[4 - len(shape):])
    dtype = compute_dtype(("grad_output", grad_output))
    grad_x = new_output(shape4, dtype, "grad input")
    _core.avg_pool2d_backward(tuple(g), contiguous(grad_output.reshape(g.N, g.C, g.OH, g.OW), dtype),
                              grad_x, mode, divisor)
    return grad_x.reshape(shape)


def _relu_backward_checked(grad_output, x):
    """relu_backward with every argument validated."""
    grad_output = as_array(grad_output, "grad_output")
    x = as_array(x, "x")
    if grad_output.shape != x.shape:
        raise ValueError(f"grad_output has shape {grad_output.shape} but x has shape {x.shape}")
    dtype = compute_dtype(("grad_output", grad_output), ("x", x))
    grad_x = new_output(x.shape, dtype, "grad input")
    _core.relu_backward(contiguous(grad_output, dtype), contiguous(x, dtype), grad_x)
    return grad_x


# The public backward ops of the pools and relu are compiled entry points too.
_core.set_checked_op("max_pool2d_backward", _max_pool2d_backward_checked)
max_pool2d_backward = _core.max_pool2d_backward_entry
max_pool2d_backward.__name__ = max_pool2d_backward.__qualname__ = "max_pool2d_backward"
max_pool2d_backward.__doc__ = """Gradient of max_pool2d: grad_output routed to the positions in ``indices``
    (from max_pool2d(..., return_indices=True)); overlapping windows add up."""

_core.set_checked_op("avg_pool2d_backward", _avg_pool2d_backward_checked)
avg_pool2d_backward = _core.avg_pool2d_backward_entry
avg_pool2d_backward.__name__ = avg_pool2d_backward.__qualname__ = "avg_pool2d_backward"
avg_pool2d_backward.__doc__ = """Gradient of avg_pool2d with the same arguments."""

_core.set_checked_op("relu_backward", _relu_backward_checked)
relu_backward = _core.relu_backward_entry
relu_backward.__name__ = relu_backward.__qualname__ = "relu_backward"
relu_backward.__doc__ = """grad_output where x > 0, else 0."""
