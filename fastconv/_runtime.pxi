# Runtime bindings: thread count, SIMD level, build facts.

def set_num_threads(int n):
    fc_set_num_threads(n)


def get_num_threads():
    return fc_get_num_threads()


def cpu_count():
    return fc_cpu_count()


def simd_level():
    return fc_simd_name(fc_simd_level()).decode()


def simd_level_detected():
    return fc_simd_name(fc_simd_level_detected()).decode()


def set_winograd(bint enabled):
    """Lets 3x3 stride-1 convs take the Winograd kernels (the default, unless
    FASTCONV_WINOGRAD=0) or keeps them on the direct sums; returns the
    previous setting."""
    previous = bool(fc_winograd_enabled())
    fc_set_winograd(enabled)
    return previous


def llc_bytes():
    """The last-level cache in bytes as the CPU reports it (0: not reported)."""
    return fc_llc_bytes()


def stream_threshold():
    """Bytes (input and output) from which a pooling pass writes its output with
    non-temporal stores; None where it never does (the cache size is unknown)."""
    cdef int64_t t = fc_stream_threshold()
    return None if t == INT64_MAX else t


def set_stream_threshold(nbytes):
    """Sets stream_threshold() (None: 3/4 of the last-level cache, the default);
    returns the previous setting as stream_threshold() gave it."""
    previous = stream_threshold()
    fc_set_stream_threshold(-1 if nbytes is None else max(0, int(nbytes)))
    return previous


def cpu_intel():
    """Whether the CPU is Intel's, where a few kernel choices differ from AMD's."""
    return bool(fc_cpu_intel())


def pointwise_in_place():
    """Whether 1x1 stride-1 forwards at the AVX-512 level read their input in
    place where the shape suits, rather than packing it (by default yes, except
    on Intel CPUs)."""
    return bool(fc_pointwise_in_place())


def set_pointwise_in_place(enabled):
    """Sets pointwise_in_place() (None: back to the CPU's default); returns the
    previous setting as pointwise_in_place() gave it.  The results are the same
    bits either way."""
    previous = pointwise_in_place()
    fc_set_pointwise_in_place(-1 if enabled is None else int(bool(enabled)))
    return previous


def openmp_enabled():
    return bool(fc_openmp_enabled())


def compiler():
    return fc_compiler().decode().strip()
