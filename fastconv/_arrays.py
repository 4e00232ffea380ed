"""Array validation shared by every op: the compute dtype rule, conversion of
inputs to the C-contiguous aligned buffers the kernels need, and `out=`.

Compute dtype (API.md): numpy.result_type(inputs..., float32) when that is
float32 or float64; anything else is a TypeError naming the dtype.
"""
from __future__ import annotations

import numpy as np

from ._geometry import check_size

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_array(value, name):
    """numpy array from any array-like, TypeError (naming the argument) for object/str data."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be array-like numbers: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} has unsupported dtype {array.dtype} (kind {array.dtype.kind!r}); "
                        f"fastconv computes in float32 or float64")
    return array


def compute_dtype(*named_arrays):
    """The compute dtype of (name, array) pairs (None entries are skipped)."""
    arrays = [(n, a) for n, a in named_arrays if a is not None]
    first = arrays[0][1].dtype
    if first in _FLOATS and all(a.dtype == first for _, a in arrays):
        return first
    dtype = np.result_type(*(a.dtype for _, a in arrays), np.float32)
    if dtype not in _FLOATS:
        details = ", ".join(f"{n}.dtype={a.dtype}" for n, a in arrays)
        raise TypeError(f"unsupported dtype combination ({details}) gives {dtype}; "
                        f"fastconv computes in float32 or float64")
    return dtype


def reject_bool(array, name):
    if array.dtype == np.bool_:
        raise TypeError(f"{name} has dtype bool; use a numeric dtype")


def contiguous(array, dtype):
    """C-contiguous, aligned copy-if-needed of array in dtype (read-only input is fine)."""
    if array.dtype == dtype and array.flags.c_contiguous and array.flags.aligned:
        return array
    return np.require(array, dtype=dtype, requirements=("C", "A"))


def check_ndim(array, name, allowed):
    if array.ndim not in allowed:
        wanted = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {wanted}, got {name}.ndim={array.ndim} "
                         f"({name}.shape={array.shape})")


def new_output(shape, dtype, name="output"):
    check_size(shape, dtype.itemsize if isinstance(dtype, np.dtype) else np.dtype(dtype).itemsize, name)
    return np.empty(shape, dtype=dtype)


def prepare_out(out, shape, dtype, inputs):
    """The buffer a kernel writes: out itself when usable, else a fresh array.

    Returns (buffer, out): after the kernel, finish_out(buffer, out) copies
    into a non-contiguous out.  inputs: (name, array) pairs out must not overlap.
    """
    if out is None:
        return new_output(shape, dtype), None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"out has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    for name, array in inputs:
        if array is not None and isinstance(array, np.ndarray) and np.may_share_memory(out, array):
            raise ValueError(f"out overlaps the input {name}; pass a separate array")
    if out.flags.c_contiguous and out.flags.aligned:
        return out, out
    return new_output(shape, dtype), out


def finish_out(buffer, out):
    if out is None or buffer is out:
        return buffer
    out[...] = buffer
    return out
