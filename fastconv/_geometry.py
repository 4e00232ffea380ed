"""The one place that parses geometry arguments and computes output sizes.

Every forward and backward entry point goes through here, so every op accepts
the same forms and raises the same messages (naming the argument and the
value).  Arithmetic is on Python ints, which cannot overflow; values are then
capped so that the C kernels' 64-bit index arithmetic cannot overflow either.

Padding forms (see API.md): int, (ph, pw), ((top, bottom), (left, right)),
"valid", "same" (TensorFlow's rule for any stride).
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

# Largest kernel size, stride, dilation or padding accepted: keeps every
# product of a geometry value and a coordinate inside int64 in the kernels.
MAX_GEOMETRY_VALUE = 2**31 - 1


class Geometry(NamedTuple):
    """Sizes of one conv or pooling call; field order is fc_geom's (src_c/fastconv.h)."""
    N: int
    C: int
    H: int
    W: int
    O: int
    groups: int
    KH: int
    KW: int
    OH: int
    OW: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int


def as_int(value, name):
    """An int from an int-like value (bool excluded), else TypeError naming the argument."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int or a pair of ints, got {name}={value!r}")
    return int(value)


def pair(value, name, minimum=1):
    """(h, w) from an int or a 2-sequence of ints, each >= minimum."""
    if type(value) is int and minimum <= value <= MAX_GEOMETRY_VALUE:
        return (value, value)
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {name}={value!r}")
        result = (as_int(value[0], name), as_int(value[1], name))
    else:
        if hasattr(value, "ndim") and getattr(value, "ndim", 0) == 1 and len(value) == 2:
            return pair(tuple(value.tolist()), name, minimum)
        v = as_int(value, name)
        result = (v, v)
    for v in result:
        if v < minimum:
            bound = "positive" if minimum == 1 else f">= {minimum}"
            raise ValueError(f"{name} must be {bound}, got {name}={value!r}")
        if v > MAX_GEOMETRY_VALUE:
            raise ValueError(f"{name} is too large (at most {MAX_GEOMETRY_VALUE}), got {name}={value!r}")
    return result


def parse_padding(padding, name="padding"):
    """'same', or ((top, bottom), (left, right)) of non-negative ints."""
    if type(padding) is int and 0 <= padding <= MAX_GEOMETRY_VALUE:
        return ((padding, padding), (padding, padding))
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "same":
            return "same"
        if mode == "valid":
            return ((0, 0), (0, 0))
        raise ValueError(f"{name} must be an int, a pair, ((top, bottom), (left, right)), "
                         f"'valid' or 'same', got {name}={padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
            isinstance(p, (tuple, list)) for p in padding):
        (top, bottom), (left, right) = (_side_pair(p, padding, name) for p in padding)
        return ((top, bottom), (left, right))
    if isinstance(padding, (tuple, list)) and any(isinstance(p, (tuple, list)) for p in padding):
        raise ValueError(f"{name} must be an int, a pair, ((top, bottom), (left, right)), "
                         f"'valid' or 'same', got {name}={padding!r}")
    ph, pw = pair(padding, name, minimum=0)
    return ((ph, ph), (pw, pw))


def _side_pair(p, padding, name):
    if len(p) != 2:
        raise ValueError(f"{name} must be ((top, bottom), (left, right)), got {name}={padding!r}")
    lo, hi = as_int(p[0], name), as_int(p[1], name)
    if lo < 0 or hi < 0:
        raise ValueError(f"{name} must be non-negative, got {name}={padding!r}")
    if max(lo, hi) > MAX_GEOMETRY_VALUE:
        raise ValueError(f"{name} is too large (at most {MAX_GEOMETRY_VALUE}), got {name}={padding!r}")
    return lo, hi


def same_padding(size, kernel, stride, dilation):
    """TensorFlow 'same': out = ceil(size / stride), the extra cell at the end."""
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - size)
    return total // 2, total - total // 2


def output_size(size, kernel, stride, dilation, pad_lo, pad_hi, ceil_mode=False, axis="height",
                kernel_name="kernel_size"):
    """Output length along one axis; ValueError when the window does not fit.
    kernel_name: the argument that carries the kernel (conv2d: its weight)."""
    span = dilation * (kernel - 1) + 1
    padded = size + pad_lo + pad_hi
    if span > padded:
        raise ValueError(
            f"{kernel_name} is larger than the padded input along the {axis}: "
            f"kernel extent {span} (kernel {kernel}, dilation {dilation}) > padded {axis} {padded} "
            f"(input {size} + padding {pad_lo} + {pad_hi})")
    if ceil_mode:
        out = -(-(padded - span) // stride) + 1
        # The last window must start inside the input or the top/left padding.
        if (out - 1) * stride >= size + pad_lo:
            out -= 1
    else:
        out = (padded - span) // stride + 1
    if out < 1:
        raise ValueError(f"the output {axis} would be {out} (input {size}, kernel {kernel}, "
                         f"stride {stride}, dilation {dilation}, padding {pad_lo}+{pad_hi})")
    return out


def resolve_padding(padding, in_hw, kernel_hw, stride_hw, dilation_hw):
    """((top, bottom), (left, right)) for this input, from a parsed padding."""
    if padding == "same":
        return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(in_hw, kernel_hw, stride_hw, dilation_hw))
    return padding


def _check_input_extent(x_shape):
    """Channels and spatial sizes must be non-empty (an empty batch is fine)."""
    N, C, H, W = x_shape
    if C < 1 or H < 1 or W < 1:
        raise ValueError(f"x must have at least one channel, row and column, "
                         f"got x.shape={tuple(x_shape)} (as N, C, H, W)")


def conv_geometry(x_shape, weight_shape, stride, padding, dilation, groups):
    """Geometry of conv2d with x (N, C, H, W) and weight (O, C // groups, KH, KW)."""
    _check_input_extent(x_shape)
    N, C, H, W = x_shape
    O, Cg, KH, KW = weight_shape
    groups = as_int(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be positive, got groups={groups}")
    if C % groups:
        raise ValueError(f"input channels ({C}) must be divisible by groups, got groups={groups}")
    if O % groups:
        raise ValueError(f"output channels of weight ({O}) must be divisible by groups, got groups={groups}")
    if Cg != C // groups:
        raise ValueError(f"weight has {Cg} input channels per group but x has {C} channels "
                         f"and groups={groups} (expected weight.shape[1] == {C // groups}); "
                         f"weight.shape={tuple(weight_shape)}, x.shape={tuple(x_shape)}")
    if O < 1 or KH < 1 or KW < 1:
        raise ValueError(f"weight must not be empty, got weight.shape={tuple(weight_shape)}")
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    (pt, pb), (pl, pr) = resolve_padding(parse_padding(padding), (H, W), (KH, KW), (sh, sw), (dh, dw))
    kernel_name = f"weight's kernel {KH}x{KW} (weight.shape={tuple(weight_shape)})"
    OH = output_size(H, KH, sh, dh, pt, pb, axis="height", kernel_name=kernel_name)
    OW = output_size(W, KW, sw, dw, pl, pr, axis="width", kernel_name=kernel_name)
    return Geometry(N, C, H, W, O, groups, KH, KW, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr)


def pool_geometry(x_shape, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    """Geometry of a pooling call; returns (Geometry, is_same_padding)."""
    _check_input_extent(x_shape)
    N, C, H, W = x_shape
    KH, KW = pair(kernel_size, "kernel_size")
    sh, sw = (KH, KW) if stride is None else pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    parsed = parse_padding(padding)
    same = parsed == "same"
    if not same:
        (pt, pb), (pl, pr) = parsed
        for pad, k, axis in ((pt, KH, "height"), (pb, KH, "height"), (pl, KW, "width"), (pr, KW, "width")):
            if pad > k // 2:
                raise ValueError(f"padding must be at most half the kernel size along the {axis} "
                                 f"({k} // 2 = {k // 2}), got padding={padding!r}")
    (pt, pb), (pl, pr) = resolve_padding(parsed, (H, W), (KH, KW), (sh, sw), (dh, dw))
    ceil_mode = bool(ceil_mode) and not same
    OH = output_size(H, KH, sh, dh, pt, pb, ceil_mode, axis="height")
    OW = output_size(W, KW, sw, dw, pl, pr, ceil_mode, axis="width")
    for size, k, stride_, dil, pad, count, axis in ((H, KH, sh, dh, pt, OH, "height"),
                                                   (W, KW, sw, dw, pl, OW, "width")):
        _check_windows_reach_input(size, k, stride_, dil, pad, count, axis, dilation, padding)
    return Geometry(N, C, H, W, C, 1, KH, KW, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr), same


def _check_windows_reach_input(size, kernel, stride, dilation, pad_lo, count, axis,
                               dilation_arg, padding_arg):
    """A pooling window must hold at least one input cell (else max pooling has no
    position to report).  Only dilated windows that start in the padding can miss
    the input: their taps may step over it."""
    if dilation == 1:
        return
    for o in range(min(count, pad_lo // stride + 1)):
        start = o * stride - pad_lo
        if start >= 0:
            break
        first_tap = -(-(-start) // dilation)          # first tap at or after row/col 0
        if first_tap >= kernel or start + first_tap * dilation >= size:
            raise ValueError(f"a pooling window along the {axis} covers only padding "
                             f"(input {axis} {size}, kernel {kernel}, dilation={dilation_arg!r}, "
                             f"padding={padding_arg!r}); use less padding or dilation")


def check_size(shape, itemsize, name):
    """ValueError before allocating an array whose byte size is absurd (numpy would also
    refuse, but with a message that does not name the argument)."""
    count = math.prod(int(s) for s in shape)
    if count * itemsize >= 2**62:
        raise ValueError(f"{name} of shape {tuple(shape)} would need {count * itemsize} bytes, "
                         f"more than can be allocated")
    return count
