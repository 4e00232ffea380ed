"""Independent float64 NumPy references for pooling and for every backward op.

Nothing here imports fastconv: each function re-derives the contract of
/work/shared/API.md (torch semantics where it is silent) from first principles,
with plain slicing over kernel offsets, so a shared misunderstanding between the
library and its tests would have to be written twice to go unnoticed.

Geometry, per spatial dimension (input size n, kernel k, stride s, dilation d,
padding lo/hi): input cell of output o, kernel tap i = o*s - lo + i*d.
    out = floor((n + lo + hi - d*(k-1) - 1) / s) + 1
ceil_mode uses ceil and then drops the last window if it starts in the hi
padding: (out-1)*s >= n + lo.  "same" is TensorFlow's rule for every stride.

Max pooling treats padding (and ceil-mode overhang) as -inf, so a padded cell
never wins; a NaN anywhere in a window makes the window NaN.  Average pooling
divides by, in order of precedence: divisor_override; the count of real cells
(count_include_pad=False, and always for padding="same"); the window clipped
to the padded input (count_include_pad=True, torch's rule: overhang past the
padding is never counted).
"""
from collections import namedtuple

import numpy as np

PoolGeometry = namedtuple(
    "PoolGeometry",
    "kernel stride dilation pad_top pad_bottom pad_left pad_right out_h out_w is_same",
)


def as_pair(value):
    """int or (h, w) -> (h, w)."""
    if isinstance(value, (tuple, list)):
        assert len(value) == 2, value
        return int(value[0]), int(value[1])
    return int(value), int(value)


def same_padding(size, kernel, stride, dilation):
    """TensorFlow "same": out = ceil(size / stride), padding split low-first."""
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - size)
    return total // 2, total - total // 2


def resolve_padding(padding, in_hw, kernel, stride, dilation):
    """Every padding form -> ((top, bottom), (left, right)), is_same."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0)), False
        assert padding == "same", padding
        return (
            same_padding(in_hw[0], kernel[0], stride[0], dilation[0]),
            same_padding(in_hw[1], kernel[1], stride[1], dilation[1]),
        ), True
    if isinstance(padding, (tuple, list)) and isinstance(padding[0], (tuple, list)):
        (top, bottom), (left, right) = padding
        return ((int(top), int(bottom)), (int(left), int(right))), False
    pad_h, pad_w = as_pair(padding)
    return ((pad_h, pad_h), (pad_w, pad_w)), False


def output_size(size, kernel, stride, dilation, pad_lo, pad_hi, ceil_mode=False):
    """Output length along one dimension; <= 0 means the geometry is invalid."""
    span = size + pad_lo + pad_hi - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad_lo:
        out -= 1
    return out


def pool_geometry(in_hw, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Resolved pooling geometry; out_h/out_w <= 0 when the output would be empty."""
    kernel = as_pair(kernel_size)
    stride = kernel if stride is None else as_pair(stride)
    dilation = as_pair(dilation)
    ((top, bottom), (left, right)), is_same = resolve_padding(padding, in_hw, kernel, stride, dilation)
    out_h = output_size(in_hw[0], kernel[0], stride[0], dilation[0], top, bottom, ceil_mode)
    out_w = output_size(in_hw[1], kernel[1], stride[1], dilation[1], left, right, ceil_mode)
    return PoolGeometry(kernel, stride, dilation, top, bottom, left, right, out_h, out_w, is_same)


def pool_padding_is_legal(geometry):
    """torch's rule, applied to every side: padding <= kernel_size // 2.  "same"
    padding is exempt (API.md: its padded cells are never counted, so a dilated
    window may reach past half the kernel)."""
    if geometry.is_same:
        return True
    kernel_h, kernel_w = geometry.kernel
    return (
        geometry.pad_top <= kernel_h // 2
        and geometry.pad_bottom <= kernel_h // 2
        and geometry.pad_left <= kernel_w // 2
        and geometry.pad_right <= kernel_w // 2
    )


def compute_dtype(*arrays):
    """API.md's rule: numpy.result_type(..., float32)."""
    return np.result_type(*[np.asarray(a).dtype for a in arrays], np.float32)


def _as_batched(x):
    """(C, H, W) or (N, C, H, W) -> float64 (N, C, H, W), and whether to drop N again."""
    x = np.asarray(x)
    assert x.ndim in (3, 4), x.shape
    unbatched = x.ndim == 3
    x64 = x.astype(np.float64)
    return (x64[None] if unbatched else x64), unbatched


def _padded_windows(x, geometry, fill):
    """Pad x (N, C, H, W) with `fill` far enough for every window (ceil overhang too)
    and return a list of ((i, j), view (N, C, OH, OW)) over the kernel taps."""
    kernel_h, kernel_w = geometry.kernel
    stride_h, stride_w = geometry.stride
    dilation_h, dilation_w = geometry.dilation
    out_h, out_w = geometry.out_h, geometry.out_w
    height, width = x.shape[2], x.shape[3]
    rows_needed = (out_h - 1) * stride_h + dilation_h * (kernel_h - 1) + 1
    cols_needed = (out_w - 1) * stride_w + dilation_w * (kernel_w - 1) + 1
    bottom = max(geometry.pad_bottom, rows_needed - height - geometry.pad_top)
    right = max(geometry.pad_right, cols_needed - width - geometry.pad_left)
    padded = np.pad(
        x,
        ((0, 0), (0, 0), (geometry.pad_top, bottom), (geometry.pad_left, right)),
        constant_values=fill,
    )
    taps = []
    for i in range(kernel_h):
        for j in range(kernel_w):
            row0, col0 = i * dilation_h, j * dilation_w
            view = padded[
                :,
                :,
                row0 : row0 + (out_h - 1) * stride_h + 1 : stride_h,
                col0 : col0 + (out_w - 1) * stride_w + 1 : stride_w,
            ]
            taps.append(((i, j), view))
    return taps


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Reference max pooling: (values[, int64 indices]) in the dtype of x."""
    x_in = np.asarray(x)
    x64, unbatched = _as_batched(x_in)
    height, width = x64.shape[2:]
    geometry = pool_geometry((height, width), kernel_size, stride, padding, dilation, ceil_mode)
    assert geometry.out_h > 0 and geometry.out_w > 0, geometry
    taps = _padded_windows(x64, geometry, -np.inf)
    stacked = np.stack([view for _, view in taps])           # (taps, N, C, OH, OW)
    values = stacked.max(axis=0)                              # NaN propagates through max
    # First maximum in row-major tap order (torch's tie rule); on NaN the NaN's tap.
    winner = np.argmax(np.where(np.isnan(stacked), np.inf, stacked), axis=0)
    tap_rows = np.array([i for (i, _), _ in taps]) * geometry.dilation[0]
    tap_cols = np.array([j for (_, j), _ in taps]) * geometry.dilation[1]
    out_rows = np.arange(geometry.out_h)[:, None] * geometry.stride[0] - geometry.pad_top
    out_cols = np.arange(geometry.out_w)[None, :] * geometry.stride[1] - geometry.pad_left
    rows = out_rows + tap_rows[winner]
    cols = out_cols + tap_cols[winner]
    indices = (rows * width + cols).astype(np.int64)
    values = values.astype(compute_dtype(x_in))
    if unbatched:
        values, indices = values[0], indices[0]
    return (values, indices) if return_indices else values


def _avg_divisors(in_hw, geometry, count_include_pad, divisor_override):
    """Divisor for every output cell, (OH, OW) float64."""
    if divisor_override is not None:
        return np.full((geometry.out_h, geometry.out_w), float(divisor_override))

    def counts(size, kernel, stride, pad_lo, pad_hi, out):
        with_pad, real = [], []
        for o in range(out):
            start = o * stride - pad_lo
            end_in_padding = min(start + kernel, size + pad_hi)
            with_pad.append(end_in_padding - start)
            real.append(min(start + kernel, size) - max(start, 0))
        return np.array(with_pad, float), np.array(real, float)

    rows_pad, rows_real = counts(in_hw[0], geometry.kernel[0], geometry.stride[0],
                                 geometry.pad_top, geometry.pad_bottom, geometry.out_h)
    cols_pad, cols_real = counts(in_hw[1], geometry.kernel[1], geometry.stride[1],
                                 geometry.pad_left, geometry.pad_right, geometry.out_w)
    if count_include_pad and not geometry.is_same:
        return rows_pad[:, None] * cols_pad[None, :]
    return rows_real[:, None] * cols_real[None, :]


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Reference average pooling in the dtype of x (computed in float64)."""
    x_in = np.asarray(x)
    x64, unbatched = _as_batched(x_in)
    in_hw = x64.shape[2:]
    geometry = pool_geometry(in_hw, kernel_size, stride, padding, 1, ceil_mode)
    assert geometry.out_h > 0 and geometry.out_w > 0, geometry
    total = sum(view for _, view in _padded_windows(x64, geometry, 0.0))
    values = total / _avg_divisors(in_hw, geometry, count_include_pad, divisor_override)
    values = values.astype(compute_dtype(x_in))
    return values[0] if unbatched else values


def max_pool2d_backward(grad_output, indices, input_shape):
    """Scatter-add grad_output to the flat positions in `indices`, float64."""
    grad_output = np.asarray(grad_output, np.float64)
    indices = np.asarray(indices)
    height, width = input_shape[-2:]
    planes = int(np.prod(input_shape[:-2]))
    grad_x = np.zeros((planes, height * width))
    plane_of = np.repeat(np.arange(planes), grad_output.size // planes)
    np.add.at(grad_x, (plane_of, indices.reshape(-1)), grad_output.reshape(-1))
    return grad_x.reshape(input_shape)


def max_pool2d_backward_from_input(grad_output, x, kernel_size, stride=None, padding=0,
                                   dilation=1, ceil_mode=False):
    """Gradient of max_pool2d w.r.t. x, with the argmax found by the reference itself."""
    _, indices = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    return max_pool2d_backward(grad_output, indices, np.shape(x))


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Each output's gradient / divisor goes to the real cells of its window, float64."""
    grad_output = np.asarray(grad_output, np.float64)
    unbatched = len(input_shape) == 3
    batched_shape = (1,) + tuple(input_shape) if unbatched else tuple(input_shape)
    grad_y = grad_output[None] if unbatched else grad_output
    in_hw = batched_shape[2:]
    geometry = pool_geometry(in_hw, kernel_size, stride, padding, 1, ceil_mode)
    share = grad_y / _avg_divisors(in_hw, geometry, count_include_pad, divisor_override)
    kernel_h, kernel_w = geometry.kernel
    stride_h, stride_w = geometry.stride
    rows_needed = (geometry.out_h - 1) * stride_h + kernel_h
    cols_needed = (geometry.out_w - 1) * stride_w + kernel_w
    padded_h = max(geometry.pad_top + in_hw[0] + geometry.pad_bottom, rows_needed)
    padded_w = max(geometry.pad_left + in_hw[1] + geometry.pad_right, cols_needed)
    grad_padded = np.zeros(batched_shape[:2] + (padded_h, padded_w))
    for i in range(kernel_h):
        for j in range(kernel_w):
            grad_padded[:, :, i : i + (geometry.out_h - 1) * stride_h + 1 : stride_h,
                        j : j + (geometry.out_w - 1) * stride_w + 1 : stride_w] += share
    grad_x = grad_padded[:, :, geometry.pad_top : geometry.pad_top + in_hw[0],
                         geometry.pad_left : geometry.pad_left + in_hw[1]]
    return grad_x[0] if unbatched else grad_x


def relu_backward(grad_output, x):
    """grad where x > 0, else 0 (NaN in x is not > 0)."""
    return np.where(np.asarray(x) > 0, np.asarray(grad_output, np.float64), 0.0)


# ---- convolution (float64), the forward and its exact gradients ------------------------------

ConvGeometry = namedtuple("ConvGeometry", "stride dilation pad_top pad_bottom pad_left pad_right out_h out_w")


def conv_geometry(in_hw, kernel_hw, stride=1, padding=0, dilation=1):
    stride, dilation = as_pair(stride), as_pair(dilation)
    ((top, bottom), (left, right)), _ = resolve_padding(padding, in_hw, kernel_hw, stride, dilation)
    out_h = output_size(in_hw[0], kernel_hw[0], stride[0], dilation[0], top, bottom)
    out_w = output_size(in_hw[1], kernel_hw[1], stride[1], dilation[1], left, right)
    return ConvGeometry(stride, dilation, top, bottom, left, right, out_h, out_w)


def _conv_batched(x, weight):
    """Bring 2-D/3-D conv operands to (N, C, H, W) / (O, C/g, KH, KW); returns the rank of x."""
    x = np.asarray(x, np.float64)
    weight = np.asarray(weight, np.float64)
    rank = x.ndim
    if rank == 2:
        x, weight = x[None, None], weight[None, None]
    elif rank == 3:
        x = x[None]
    return x, weight, rank


def _conv_taps(x_padded, geometry, kernel_hw):
    """(i, j) -> view (N, C, OH, OW) of the padded input under kernel tap (i, j)."""
    for i in range(kernel_hw[0]):
        for j in range(kernel_hw[1]):
            row0, col0 = i * geometry.dilation[0], j * geometry.dilation[1]
            yield i, j, x_padded[
                :, :,
                row0 : row0 + (geometry.out_h - 1) * geometry.stride[0] + 1 : geometry.stride[0],
                col0 : col0 + (geometry.out_w - 1) * geometry.stride[1] + 1 : geometry.stride[1],
            ]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Reference cross-correlation, float64, with the rank rules of API.md."""
    x4, w4, rank = _conv_batched(x, weight)
    out_channels, channels_per_group = w4.shape[:2]
    kernel_hw = w4.shape[2:]
    geometry = conv_geometry(x4.shape[2:], kernel_hw, stride, padding, dilation)
    x_padded = np.pad(x4, ((0, 0), (0, 0), (geometry.pad_top, geometry.pad_bottom),
                           (geometry.pad_left, geometry.pad_right)))
    outs_per_group = out_channels // groups
    y = np.zeros((x4.shape[0], out_channels, geometry.out_h, geometry.out_w))
    for i, j, view in _conv_taps(x_padded, geometry, kernel_hw):
        for g in range(groups):
            inputs = view[:, g * channels_per_group : (g + 1) * channels_per_group]
            taps = w4[g * outs_per_group : (g + 1) * outs_per_group, :, i, j]
            y[:, g * outs_per_group : (g + 1) * outs_per_group] += np.einsum("nchw,oc->nohw", inputs, taps)
    if bias is not None:
        y += np.asarray(bias, np.float64).reshape(1, -1, 1, 1)
    if rank == 2:
        return y[0, 0]
    return y[0] if rank == 3 else y


ConvGrads = namedtuple("ConvGrads", "input weight bias")


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Exact float64 gradients of sum(conv2d(x, weight, b) * grad_output)."""
    x4, w4, rank = _conv_batched(x, weight)
    grad_y = np.asarray(grad_output, np.float64)
    grad_y = grad_y[None, None] if rank == 2 else (grad_y[None] if rank == 3 else grad_y)
    out_channels, channels_per_group = w4.shape[:2]
    kernel_hw = w4.shape[2:]
    geometry = conv_geometry(x4.shape[2:], kernel_hw, stride, padding, dilation)
    pads = ((0, 0), (0, 0), (geometry.pad_top, geometry.pad_bottom), (geometry.pad_left, geometry.pad_right))
    x_padded = np.pad(x4, pads)
    grad_padded = np.zeros_like(x_padded)
    grad_weight = np.zeros_like(w4)
    outs_per_group = out_channels // groups
    grad_taps = dict(((i, j), view) for i, j, view in _conv_taps(grad_padded, geometry, kernel_hw))
    for i, j, view in _conv_taps(x_padded, geometry, kernel_hw):
        for g in range(groups):
            in_slice = slice(g * channels_per_group, (g + 1) * channels_per_group)
            out_slice = slice(g * outs_per_group, (g + 1) * outs_per_group)
            grad_weight[out_slice, :, i, j] = np.einsum("nohw,nchw->oc", grad_y[:, out_slice], view[:, in_slice])
            grad_taps[i, j][:, in_slice] += np.einsum("nohw,oc->nchw", grad_y[:, out_slice], w4[out_slice, :, i, j])
    height, width = x4.shape[2:]
    grad_x = grad_padded[:, :, geometry.pad_top : geometry.pad_top + height,
                         geometry.pad_left : geometry.pad_left + width]
    grad_bias = grad_y.sum(axis=(0, 2, 3))
    if rank == 2:
        return ConvGrads(grad_x[0, 0], grad_weight[0, 0], grad_bias)
    return ConvGrads(grad_x[0] if rank == 3 else grad_x, grad_weight, grad_bias)


def explicit_padding(padding, in_hw, kernel_hw, stride=1, dilation=1):
    """Any padding form -> ((top, bottom), (left, right)), for feeding frameworks that lack a form."""
    pads, _ = resolve_padding(padding, in_hw, as_pair(kernel_hw), as_pair(stride), as_pair(dilation))
    return pads
