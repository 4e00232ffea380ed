"""fastconv: the convolutional base of a CNN on NumPy arrays, in C.

    from fastconv import conv2d, max_pool2d, relu
    y = max_pool2d(relu(conv2d(x, weight, padding="same")), 2)

Layers (see DESIGN.md):
    fastconv/*.py      validate arguments, pick dtype, allocate (this package)
    fastconv/_*.pyx    Cython bindings: one C call per op, GIL released
    src_c/             C kernels: portable reference + AVX2/FMA, chosen at run time
"""
import os as _os


# How long an idle OpenMP worker of fastconv's spins before it sleeps, in
# libgomp's spin-loop turns: 1000 is 30-50 us on the project's 2-vCPU VM.
_SPIN_COUNT = "1000"


def _load_core():
    """Import the compiled core with OpenMP workers that spin briefly, then
    sleep, between calls, unless the user chose a policy.

    libgomp's default spins for milliseconds after each parallel region, and
    spinning workers fight the caller's thread for CPUs on a busy machine (a
    train-digits run took 12.8 s on 2 threads against 2.1 s on 1; 0.7 s with
    workers that sleep at once).  Workers that sleep at once must be woken by
    the next call, which a VM makes slow: 50-150 us per parallel region here,
    so back-to-back calls of a fraction of a millisecond (a training loop's
    layers) ran slower on 2 threads than on 1.  A spin of about the time
    between two such calls keeps the worker awake through them and costs
    little when the machine is busy (train-digits on 2 threads beside a busy
    process: 1.01-1.25 s, against 0.94-1.09 s sleeping at once).
    OMP_WAIT_POLICY=passive is set too: runtimes other than libgomp (LLVM's
    libomp) read no spin count and sleep at once, as before.  The runtime
    reads the variables once, when the core loads it, so the environment is
    restored right after and other libraries never see them."""
    if "OMP_WAIT_POLICY" in _os.environ or "GOMP_SPINCOUNT" in _os.environ:
        from . import _core  # noqa: F401
        return
    _os.environ["OMP_WAIT_POLICY"] = "passive"
    _os.environ["GOMP_SPINCOUNT"] = _SPIN_COUNT
    try:
        from . import _core  # noqa: F401
    finally:
        del _os.environ["OMP_WAIT_POLICY"]
        del _os.environ["GOMP_SPINCOUNT"]


_load_core()

from ._backward import (Conv2dGrads, avg_pool2d_backward, conv2d_backward, max_pool2d_backward,
                        relu_backward)
from ._arrays import buffer_cache_info, set_buffer_cache
from ._config import show_config
from ._ops import avg_pool2d, col2im, conv2d, conv_transpose2d, im2col, max_pool2d, relu
from ._threads import get_num_threads, set_num_threads, threads
from ._version import __version__
from ._config import check_simd_env as _check_simd_env

_check_simd_env()

__all__ = [
    "conv2d", "conv_transpose2d", "im2col", "col2im", "max_pool2d", "avg_pool2d", "relu",
    "conv2d_backward", "Conv2dGrads", "max_pool2d_backward", "avg_pool2d_backward", "relu_backward",
    "set_num_threads", "get_num_threads", "threads", "set_buffer_cache", "buffer_cache_info",
    "show_config", "__version__",
]
