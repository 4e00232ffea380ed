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


def openmp_enabled():
    return bool(fc_openmp_enabled())


def compiler():
    return fc_compiler().decode().strip()
