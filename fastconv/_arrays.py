"""Array validation shared by every op: the compute dtype rule, conversion of
inputs to the C-contiguous aligned buffers the kernels need, and `out=`.

Compute dtype (API.md): numpy.result_type(inputs..., float32) when that is
float32 or float64; anything else is a TypeError naming the dtype.
"""
from __future__ import annotations

import numpy as np

from . import _core
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
    """An uninitialised output array; large ones come from the buffer cache
    (fastconv/_buffers.pxi), which hands a training loop's blocks back to it
    instead of fresh pages."""
    itemsize = dtype.itemsize if isinstance(dtype, np.dtype) else np.dtype(dtype).itemsize
    if check_size(shape, itemsize, name) * itemsize >= _core.BUFFER_CACHE_MIN_BYTES:
        return _core.empty(shape, dtype)
    return np.empty(shape, dtype=dtype)


def set_buffer_cache(max_bytes):
    """Sets how many bytes of freed fastconv outputs are kept for reuse; returns the previous limit.

    fastconv creates each output of 1 MiB or more with an allocator that, when
    the array is freed, keeps its block (up to 16 blocks and max_bytes in all,
    the oldest given back first) and hands it to the next output of exactly
    that size.  A loop that computes the same shapes again, as training does,
    then reuses warm memory instead of paying the operating system a page
    fault per fresh page.  0 gives back every block held and keeps none.  The
    default is 64 MiB.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)):
        raise TypeError(f"max_bytes must be an int number of bytes, got {type(max_bytes).__name__} "
                        f"{max_bytes!r}")
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, got max_bytes={max_bytes}")
    return _core.set_buffer_cache_limit(min(int(max_bytes), 2**63 - 1))


def buffer_cache_info():
    """The buffer cache as a dict: limit and held (bytes), blocks (held now), and hits and
    misses (outputs of 1 MiB or more served from it, or not, since import)."""
    return _core.buffer_cache_info()


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
