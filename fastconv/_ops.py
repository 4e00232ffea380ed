"""Forward ops: conv2d, conv_transpose2d, im2col, col2im, max/avg pooling, relu.

Each function validates its arguments (through _geometry and _arrays), picks
the compute dtype, allocates the result and makes one call into the compiled
core, which releases the GIL.  No loop over data runs in Python.
"""
from __future__ import annotations

import operator

import numpy as np

from . import _core
from ._arrays import (as_array, check_ndim, compute_dtype, contiguous, finish_out, new_output,
                      prepare_out, reject_bool)
from ._geometry import (Geometry, as_int, conv_geometry, output_size, pair, parse_padding,
                        pool_geometry, resolve_padding)

# avg_pool2d divisor rules, as in src_c/fastconv.h
AVG_COUNT_PAD, AVG_COUNT_VALID, AVG_DIVISOR = 0, 1, 2


def _conv_operands(x, weight, bias, *, weight_name="weight", extra=()):
    """Arrays for a conv-like op: (x4, weight4, bias, dtype, rank) with x as 4-D.

    rank is x's original ndim: 2 (the lesson's corr2d: (H, W) with a (KH, KW)
    kernel), 3 (one unbatched image) or 4.
    """
    x = as_array(x, "x")
    weight = as_array(weight, weight_name)
    reject_bool(weight, weight_name)
    check_ndim(x, "x", (2, 3, 4))
    rank = x.ndim
    if rank == 2:
        if weight.ndim != 2:
            raise ValueError(f"a 2-D x (H, W) needs a 2-D {weight_name} (KH, KW), "
                             f"got {weight_name}.shape={weight.shape}")
        x4 = x[None, None]
        weight4 = weight[None, None]
    else:
        check_ndim(weight, weight_name, (4,))
        x4 = x[None] if rank == 3 else x
        weight4 = weight
    if bias is not None:
        bias = as_array(bias, "bias")
        if rank == 2 and bias.ndim == 0:
            bias = bias.reshape(1)
    # The bias follows the compute dtype; it does not choose it (API.md).
    dtype = compute_dtype(("x", x), (weight_name, weight), *extra)
    return x4, weight4, bias, dtype, rank


def _check_bias(bias, channels, dtype):
    if bias is None:
        return None
    if bias.shape != (channels,):
        raise ValueError(f"bias must have shape ({channels},) (one value per output channel), "
                         f"got bias.shape={bias.shape}")
    return contiguous(bias, dtype)


def _conv2d_checked(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                    activation=None, out=None):
    """conv2d with every argument validated (the path for all but the common call)."""
    if activation not in (None, "relu"):
        raise ValueError(f"activation must be None or 'relu', got activation={activation!r}")
    original = (("x", x), ("weight", weight), ("bias", bias))
    x4, weight4, bias, dtype, rank = _conv_operands(x, weight, bias)
    g = conv_geometry(x4.shape, weight4.shape, stride, padding, dilation, groups)
    bias = _check_bias(bias, g.O, dtype)
    shape = (g.N, g.O, g.OH, g.OW)
    out_shape = shape[4 - rank:]
    buffer, out = prepare_out(out, out_shape, dtype, original)
    _core.conv2d(tuple(g), contiguous(x4, dtype), contiguous(weight4, dtype), bias,
                 buffer.reshape(shape), activation == "relu")
    return finish_out(buffer, out)


# The public conv2d is the compiled entry point: it serves the common call
# directly and hands everything else to _conv2d_checked.
_core.set_checked_op("conv2d", _conv2d_checked)
conv2d = _core.conv2d_entry
conv2d.__name__ = conv2d.__qualname__ = "conv2d"
conv2d.__doc__ = """2-D cross-correlation over NCHW arrays, like torch.nn.functional.conv2d.

    x: (N, C, H, W), (C, H, W) unbatched, or (H, W) with a 2-D weight (KH, KW)
    (plain single-channel cross-correlation).  weight: (O, C // groups, KH, KW).
    padding: int, (ph, pw), ((top, bottom), (left, right)), "valid" or "same"
    (TensorFlow's rule, any stride).  activation: None or "relu" (fused).
    Returns a new array of the compute dtype (float32 unless an input is
    float64), shaped like x's rank, or writes into ``out``.
    """


def transpose_geometry(x_shape, weight_shape, stride, padding, output_padding, groups, dilation):
    """Geometry of the conv2d whose input gradient conv_transpose2d computes.

    x (N, C_in, H, W) and weight (C_in, O // groups, KH, KW) of the transposed
    op are that conv's output and weight; its input is the result.
    """
    N, C_in, H, W = x_shape
    W_in, Og, KH, KW = weight_shape
    groups = as_int(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be positive, got groups={groups}")
    if W_in != C_in:
        raise ValueError(f"weight must have x's {C_in} channels as its first axis "
                         f"(C_in, O // groups, KH, KW), got weight.shape={tuple(weight_shape)}")
    if C_in % groups:
        raise ValueError(f"input channels ({C_in}) must be divisible by groups, got groups={groups}")
    if Og < 1 or KH < 1 or KW < 1:
        raise ValueError(f"weight must not be empty, got weight.shape={tuple(weight_shape)}")
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    oph, opw = pair(output_padding, "output_padding", minimum=0)
    for op, s, d, axis in ((oph, sh, dh, "height"), (opw, sw, dw, "width")):
        if op >= max(s, d):
            raise ValueError(f"output_padding must be smaller than stride or dilation along the "
                             f"{axis}, got output_padding={output_padding!r}")
    parsed = parse_padding(padding)
    if parsed == "same":
        if (oph, opw) != (0, 0):
            raise ValueError(f"output_padding must be 0 with padding='same', "
                             f"got output_padding={output_padding!r}")
        # TensorFlow's Conv2DTranspose: out = in * stride, the padding that
        # the forward 'same' conv from that size would use.
        OH, OWt = H * sh, W * sw
        (pt, pb), (pl, pr) = resolve_padding("same", (OH, OWt), (KH, KW), (sh, sw), (dh, dw))
    else:
        (pt, pb), (pl, pr) = parsed
        OH = (H - 1) * sh - pt - pb + dh * (KH - 1) + oph + 1
        OWt = (W - 1) * sw - pl - pr + dw * (KW - 1) + opw + 1
    for size, axis in ((OH, "height"), (OWt, "width")):
        if size < 1:
            raise ValueError(f"conv_transpose2d output {axis} would be {size}: padding={padding!r} "
                             f"is too large for input {axis} {H if axis == 'height' else W}")
    return Geometry(N, Og * groups, OH, OWt, C_in, groups, KH, KW, H, W,
                    sh, sw, dh, dw, pt, pb, pl, pr)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed convolution, like torch.nn.functional.conv_transpose2d.

    weight: (C_in, O // groups, KH, KW).  It is the gradient of conv2d with
    respect to its input and shares that kernel.  padding also takes
    ((top, bottom), (left, right)) and "same" (output = input * stride, as
    Keras' Conv2DTranspose).
    """
    x4, weight4, bias, dtype, rank = _conv_operands(x, weight, bias)
    if rank == 2:
        raise ValueError(f"conv_transpose2d needs x of shape (N, C, H, W) or (C, H, W), got x.shape={x4.shape[2:]}")
    g = transpose_geometry(x4.shape, weight4.shape, stride, padding, output_padding, groups, dilation)
    bias = _check_bias(bias, g.C, dtype)
    y = new_output((g.N, g.C, g.H, g.W), dtype)
    _core.conv2d_grad_input(tuple(g), contiguous(x4, dtype), contiguous(weight4, dtype), y)
    if bias is not None:
        y += bias[:, None, None]
    return y if rank == 4 else y[0]


def _unfold_geometry(N, C, H, W, kernel_size, dilation, padding, stride):
    KH, KW = pair(kernel_size, "kernel_size")
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    (pt, pb), (pl, pr) = resolve_padding(parse_padding(padding), (H, W), (KH, KW), (sh, sw), (dh, dw))
    OH = output_size(H, KH, sh, dh, pt, pb, axis="height")
    OW = output_size(W, KW, sw, dw, pl, pr, axis="width")
    return Geometry(N, C, H, W, C, 1, KH, KW, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr)


def im2col(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding patches as columns, like torch.nn.functional.unfold.

    x: (N, C, H, W) -> (N, C*KH*KW, L), or (C, H, W) -> (C*KH*KW, L); row
    (c*KH + i)*KW + j, column oh*OW + ow, zeros where a patch reads padding.
    """
    x = as_array(x, "x")
    check_ndim(x, "x", (3, 4))
    rank = x.ndim
    x4 = x if rank == 4 else x[None]
    dtype = compute_dtype(("x", x))
    g = _unfold_geometry(*x4.shape, kernel_size, dilation, padding, stride)
    shape = (g.N, g.C * g.KH * g.KW, g.OH * g.OW)
    cols = new_output(shape, dtype)
    _core.im2col(tuple(g), contiguous(x4, dtype), cols)
    return cols if rank == 4 else cols[0]


def col2im(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum of sliding patches back into an image, like torch.nn.functional.fold.

    cols: (N, C*KH*KW, L) or (C*KH*KW, L); output_size: (H, W) or int.
    Overlapping patches add up.  L must equal the number of windows.
    """
    cols = as_array(cols, "cols")
    check_ndim(cols, "cols", (2, 3))
    rank = cols.ndim
    cols3 = cols if rank == 3 else cols[None]
    dtype = compute_dtype(("cols", cols))
    H, W = pair(output_size, "output_size")
    KH, KW = pair(kernel_size, "kernel_size")
    N, rows, L = cols3.shape
    if rows % (KH * KW):
        raise ValueError(f"cols.shape[{rank - 2}]={rows} must be divisible by KH*KW={KH * KW} "
                         f"(kernel_size={kernel_size!r})")
    g = _unfold_geometry(N, rows // (KH * KW), H, W, (KH, KW), dilation, padding, stride)
    if L != g.OH * g.OW:
        raise ValueError(f"cols has {L} columns but output_size={output_size!r} with "
                         f"kernel_size={kernel_size!r}, dilation={dilation!r}, padding={padding!r}, "
                         f"stride={stride!r} gives {g.OH}x{g.OW}={g.OH * g.OW} windows")
    x = new_output((g.N, g.C, g.H, g.W), dtype)
    _core.col2im(tuple(g), contiguous(cols3, dtype), x)
    return x if rank == 3 else x[0]


def _pool_input(x):
    x = as_array(x, "x")
    check_ndim(x, "x", (3, 4))
    dtype = compute_dtype(("x", x))
    return (x if x.ndim == 4 else x[None]), x.ndim, dtype


def _max_pool2d_checked(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                        return_indices=False):
    """max_pool2d with every argument validated (the path for all but the common call)."""
    x4, rank, dtype = _pool_input(x)
    g, _ = pool_geometry(x4.shape, kernel_size, stride, padding, dilation, ceil_mode)
    y = new_output((g.N, g.C, g.OH, g.OW), dtype)
    indices = new_output(y.shape, np.int64, "indices") if return_indices else None
    _core.max_pool2d(tuple(g), contiguous(x4, dtype), y, indices)
    if rank == 3:
        y = y[0]
        indices = None if indices is None else indices[0]
    return (y, indices) if return_indices else y


_core.set_checked_op("max_pool2d", _max_pool2d_checked)
max_pool2d = _core.max_pool2d_entry
max_pool2d.__name__ = max_pool2d.__qualname__ = "max_pool2d"
max_pool2d.__doc__ = """Max pooling over NCHW (or CHW) arrays, like torch.nn.functional.max_pool2d.

    Padding counts as -inf; a window containing NaN gives NaN.  With
    return_indices, also returns int64 flat positions (h*W + w) of each max
    in its input plane.  padding="same" follows TensorFlow.
    """


def avg_divisor(same, count_include_pad, divisor_override):
    """(divisor_mode, divisor) for the C kernel."""
    if divisor_override is not None:
        try:
            divisor = operator.index(divisor_override)
        except TypeError:
            raise TypeError(f"divisor_override must be a non-zero int, "
                            f"got divisor_override={divisor_override!r}") from None
        # a bool passes operator.index; the C kernels take the divisor as a 64-bit int
        if isinstance(divisor_override, bool) or divisor == 0 or not -2**63 <= divisor < 2**63:
            raise ValueError(f"divisor_override must be a non-zero 64-bit int, "
                             f"got divisor_override={divisor_override!r}")
        return AVG_DIVISOR, divisor
    if same or not count_include_pad:
        return AVG_COUNT_VALID, 0
    return AVG_COUNT_PAD, 0


def _avg_pool2d_checked(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """avg_pool2d with every argument validated (the path for all but the common call)."""
    x4, rank, dtype = _pool_input(x)
    g, same = pool_geometry(x4.shape, kernel_size, stride, padding, 1, ceil_mode)
    mode, divisor = avg_divisor(same, count_include_pad, divisor_override)
    y = new_output((g.N, g.C, g.OH, g.OW), dtype)
    _core.avg_pool2d(tuple(g), contiguous(x4, dtype), y, mode, divisor)
    return y if rank == 4 else y[0]


_core.set_checked_op("avg_pool2d", _avg_pool2d_checked)
avg_pool2d = _core.avg_pool2d_entry
avg_pool2d.__name__ = avg_pool2d.__qualname__ = "avg_pool2d"
avg_pool2d.__doc__ = """Average pooling over NCHW (or CHW) arrays, like torch.nn.functional.avg_pool2d.

    ceil_mode's overhang is never counted in the divisor; with padding="same"
    padded cells are never counted (TensorFlow's rule).
    """


def _relu_checked(x, *, out=None):
    """relu with every argument validated (the path for all but the common call)."""
    original = x
    x = as_array(x, "x")
    dtype = compute_dtype(("x", x))
    buffer, out = prepare_out(out, x.shape, dtype, (("x", original),))
    _core.relu(contiguous(x, dtype), buffer)
    return finish_out(buffer, out)


_core.set_checked_op("relu", _relu_checked)
relu = _core.relu_entry
relu.__name__ = relu.__qualname__ = "relu"
relu.__doc__ = """max(x, 0) elementwise; NaN stays NaN."""
