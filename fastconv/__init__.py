"""fastconv: the convolutional base of a CNN on NumPy arrays, in C.

    from fastconv import conv2d, max_pool2d, relu
    y = max_pool2d(relu(conv2d(x, weight, padding="same")), 2)

Layers (see DESIGN.md):
    fastconv/*.py      validate arguments, pick dtype, allocate (this package)
    fastconv/_*.pyx    Cython bindings: one C call per op, GIL released
    src_c/             C kernels: portable reference + AVX2/FMA, chosen at run time
"""
import os as _os


def _load_core():
    """Import the compiled core with OpenMP's passive wait policy, unless the
    user chose a policy.  Spinning worker threads fight the caller's thread
    for CPUs on a busy machine (a training loop of small convs ran several
    times slower on 2 threads than on 1); passive workers sleep between calls.
    libgomp reads the variable once, when the core loads it, so the
    environment is restored right after and other libraries never see it."""
    if "OMP_WAIT_POLICY" in _os.environ or "GOMP_SPINCOUNT" in _os.environ:
        from . import _core  # noqa: F401
        return
    _os.environ["OMP_WAIT_POLICY"] = "passive"
    try:
        from . import _core  # noqa: F401
    finally:
        del _os.environ["OMP_WAIT_POLICY"]


_load_core()

from ._backward import (Conv2dGrads, avg_pool2d_backward, conv2d_backward, max_pool2d_backward,
                        relu_backward)
from ._config import show_config
from ._ops import avg_pool2d, col2im, conv2d, conv_transpose2d, im2col, max_pool2d, relu
from ._threads import get_num_threads, set_num_threads, threads
from ._version import __version__
from ._config import check_simd_env as _check_simd_env

_check_simd_env()

__all__ = [
    "conv2d", "conv_transpose2d", "im2col", "col2im", "max_pool2d", "avg_pool2d", "relu",
    "conv2d_backward", "Conv2dGrads", "max_pool2d_backward", "avg_pool2d_backward", "relu_backward",
    "set_num_threads", "get_num_threads", "threads", "show_config", "__version__",
]
