"""Independent NumPy reference implementations of fastconv's forward ops.

Nothing here imports fastconv: the tests compare the library with these
functions, so they are written the obvious way (padded copies, strided
window views, einsum, scatter loops over kernel taps) and always compute in
float64.  Geometry follows API.md: NCHW, weights
(O, C // groups, KH, KW), padding as int, (ph, pw), ((top, bottom),
(left, right)), "valid" or TensorFlow's "same" rule for any stride.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pair(value):
    """An int or a 2-sequence of ints as an (h, w) tuple of Python ints."""
    if np.ndim(value) == 0:
        return int(value), int(value)
    first, second = value
    return int(first), int(second)


def same_padding(in_size, kernel, stride, dilation):
    """TensorFlow "same": out = ceil(in / stride); extra padding goes to the end."""
    out_size = -(-in_size // stride)
    total = max(0, (out_size - 1) * stride + dilation * (kernel - 1) + 1 - in_size)
    top = total // 2
    return top, total - top


def explicit_padding(padding, in_hw, kernel_hw, stride_hw, dilation_hw):
    """Any accepted padding form as ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            return tuple(
                same_padding(in_hw[axis], kernel_hw[axis], stride_hw[axis], dilation_hw[axis])
                for axis in range(2)
            )
        raise ValueError(f"reference: unknown padding {padding!r}")
    if np.ndim(padding) == 0:
        return (int(padding),) * 2, (int(padding),) * 2
    first, second = padding
    if np.ndim(first) == 0:
        return (int(first),) * 2, (int(second),) * 2
    return (int(first[0]), int(first[1])), (int(second[0]), int(second[1]))


def conv_output_size(in_size, kernel, stride, dilation, pad_lo, pad_hi):
    return (in_size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def is_valid_geometry(in_hw, kernel_hw, stride_hw, dilation_hw, padding):
    """True when the padded input holds at least one dilated kernel window."""
    pads = explicit_padding(padding, in_hw, kernel_hw, stride_hw, dilation_hw)
    return all(
        in_hw[axis] + sum(pads[axis]) >= dilation_hw[axis] * (kernel_hw[axis] - 1) + 1
        for axis in range(2)
    )


def _windows(x, kernel_hw, stride, padding, dilation):
    """(N, C, OH, OW, KH, KW) view of the zero-padded float64 input's windows."""
    stride_h, stride_w = pair(stride)
    dilation_h, dilation_w = pair(dilation)
    kernel_h, kernel_w = kernel_hw
    pads = explicit_padding(padding, x.shape[2:], kernel_hw, (stride_h, stride_w),
                            (dilation_h, dilation_w))
    padded = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0)) + pads)
    span_h = dilation_h * (kernel_h - 1) + 1
    span_w = dilation_w * (kernel_w - 1) + 1
    if padded.shape[2] < span_h or padded.shape[3] < span_w:
        raise ValueError("reference: kernel larger than the padded input")
    view = sliding_window_view(padded, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::stride_h, ::stride_w, ::dilation_h, ::dilation_w]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of NCHW x with (O, C // groups, KH, KW) weight, float64.

    Accepts the same lower-rank forms as fastconv: (C, H, W) with a 4-D weight
    returns (O, OH, OW); (H, W) with a (KH, KW) weight returns (OH, OW).
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    if x.ndim == 2:
        return conv2d(x[None, None], weight[None, None], bias, stride, padding,
                      dilation, groups)[0, 0]
    if x.ndim == 3:
        return conv2d(x[None], weight, bias, stride, padding, dilation, groups)[0]
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    windows = _windows(x, (kernel_h, kernel_w), stride, padding, dilation)
    group_out = out_channels // groups
    pieces = []
    for group in range(groups):
        pieces.append(np.einsum(
            "nchwij,ocij->nohw",
            windows[:, group * group_channels:(group + 1) * group_channels],
            weight[group * group_out:(group + 1) * group_out],
        ))
    result = np.concatenate(pieces, axis=1)
    if bias is not None:
        result += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return result


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """torch's conv_transpose2d by scattering every input pixel, float64.

    weight is (C_in, O // groups, KH, KW).  Output size per axis:
    (in - 1) * stride - pad_lo - pad_hi + dilation * (k - 1) + output_padding + 1.
    padding also takes ((top, bottom), (left, right)) and "same", where the
    output is in * stride (Keras' Conv2DTranspose) and the padding is the
    forward "same" padding for an input of that size.
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    if x.ndim == 3:
        return conv_transpose2d(x[None], weight, bias, stride, padding, output_padding,
                                groups, dilation)[0]
    batch, in_channels, in_h, in_w = x.shape
    _, group_out, kernel_h, kernel_w = weight.shape
    stride_h, stride_w = pair(stride)
    extra_h, extra_w = pair(output_padding)
    dilation_h, dilation_w = pair(dilation)
    if isinstance(padding, str) and padding == "same":
        out_h, out_w = in_h * stride_h, in_w * stride_w
    (pad_top, pad_bottom), (pad_left, pad_right) = explicit_padding(
        padding, (in_h * stride_h, in_w * stride_w), (kernel_h, kernel_w),
        (stride_h, stride_w), (dilation_h, dilation_w))
    if not (isinstance(padding, str) and padding == "same"):
        out_h = ((in_h - 1) * stride_h - pad_top - pad_bottom + dilation_h * (kernel_h - 1)
                 + extra_h + 1)
        out_w = ((in_w - 1) * stride_w - pad_left - pad_right + dilation_w * (kernel_w - 1)
                 + extra_w + 1)
    group_in = in_channels // groups
    # every scattered position, plus room for rows no input pixel reaches
    full_h = max((in_h - 1) * stride_h + dilation_h * (kernel_h - 1) + 1, pad_top + out_h)
    full_w = max((in_w - 1) * stride_w + dilation_w * (kernel_w - 1) + 1, pad_left + out_w)
    full = np.zeros((batch, group_out * groups, full_h, full_w))
    for group in range(groups):
        x_group = x[:, group * group_in:(group + 1) * group_in]
        w_group = weight[group * group_in:(group + 1) * group_in]
        target = full[:, group * group_out:(group + 1) * group_out]
        for i in range(kernel_h):
            for j in range(kernel_w):
                # input pixel (h, w) lands on (h * stride + i * dilation, w * stride + j * dilation)
                row0, col0 = i * dilation_h, j * dilation_w
                target[:, :,
                       row0:row0 + (in_h - 1) * stride_h + 1:stride_h,
                       col0:col0 + (in_w - 1) * stride_w + 1:stride_w] += np.einsum(
                    "nchw,co->nohw", x_group, w_group[:, :, i, j])
    result = full[:, :, pad_top:pad_top + out_h, pad_left:pad_left + out_w].copy()
    if bias is not None:
        result += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return result


def im2col(x, kernel_size, dilation=1, padding=0, stride=1):
    """torch unfold: (N, C*KH*KW, OH*OW), row (c*KH + i)*KW + j; (C, H, W) -> 2-D."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        return im2col(x[None], kernel_size, dilation, padding, stride)[0]
    kernel_h, kernel_w = pair(kernel_size)
    windows = _windows(x, (kernel_h, kernel_w), stride, padding, dilation)
    batch, channels, out_h, out_w = windows.shape[:4]
    return (windows.transpose(0, 1, 4, 5, 2, 3)
            .reshape(batch, channels * kernel_h * kernel_w, out_h * out_w).copy())


def col2im(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """torch fold: scatter-add every column back to its window; 2-D cols -> (C, H, W)."""
    cols = np.asarray(cols, dtype=np.float64)
    if cols.ndim == 2:
        return col2im(cols[None], output_size, kernel_size, dilation, padding, stride)[0]
    height, width = pair(output_size)
    kernel_h, kernel_w = pair(kernel_size)
    stride_h, stride_w = pair(stride)
    dilation_h, dilation_w = pair(dilation)
    (pad_top, pad_bottom), (pad_left, pad_right) = explicit_padding(
        padding, (height, width), (kernel_h, kernel_w), (stride_h, stride_w),
        (dilation_h, dilation_w))
    out_h = conv_output_size(height, kernel_h, stride_h, dilation_h, pad_top, pad_bottom)
    out_w = conv_output_size(width, kernel_w, stride_w, dilation_w, pad_left, pad_right)
    batch = cols.shape[0]
    channels = cols.shape[1] // (kernel_h * kernel_w)
    patches = cols.reshape(batch, channels, kernel_h, kernel_w, out_h, out_w)
    padded = np.zeros((batch, channels, height + pad_top + pad_bottom,
                       width + pad_left + pad_right))
    for i in range(kernel_h):
        for j in range(kernel_w):
            row0, col0 = i * dilation_h, j * dilation_w
            padded[:, :,
                   row0:row0 + (out_h - 1) * stride_h + 1:stride_h,
                   col0:col0 + (out_w - 1) * stride_w + 1:stride_w] += patches[:, :, i, j]
    return padded[:, :, pad_top:pad_top + height, pad_left:pad_left + width].copy()



def relu(x):
    """max(x, 0) in float64; NaN stays NaN (np.maximum propagates it)."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def compute_dtype(*arrays):
    """API.md's rule: numpy.result_type(inputs..., float32)."""
    return np.result_type(*arrays, np.float32)


def flop_scale(x, weight, **conv_kwargs):
    """conv2d(|x|, |w|): the size of the terms summed, to scale absolute tolerances."""
    return conv2d(np.abs(np.asarray(x, dtype=np.float64)),
                  np.abs(np.asarray(weight, dtype=np.float64)), **conv_kwargs)
