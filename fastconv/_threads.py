"""Thread count of the compiled core.

The core keeps one process-wide count (set_num_threads) and, at each call,
also honours the OpenMP limit of the calling thread, so threadpoolctl's
``threadpool_limits(n, user_api="openmp")`` works.  Default: OMP_NUM_THREADS
when set, else the CPUs this process may run on.
"""
from __future__ import annotations

import contextlib

from . import _core
from ._geometry import as_int


def set_num_threads(n):
    """Use n threads (n >= 1); n <= -1 counts back from the CPU count (-1 = all)."""
    try:
        n = as_int(n, "n")
    except TypeError:
        raise TypeError(f"n must be an int, got n={n!r}") from None
    if n == 0:
        raise ValueError("n must be >= 1, or <= -1 to count back from the CPU count, got n=0")
    if n < 0:
        cpus = _core.cpu_count()
        resolved = cpus + 1 + n
        if resolved < 1:
            raise ValueError(f"n={n} counts back past the {cpus} available CPUs")
        n = resolved
    _core.set_num_threads(min(n, 2**16))


def get_num_threads():
    """Threads the next call from this thread will use at most."""
    return _core.get_num_threads()


@contextlib.contextmanager
def threads(n):
    """Context manager: set_num_threads(n) inside, the previous count restored after."""
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)
