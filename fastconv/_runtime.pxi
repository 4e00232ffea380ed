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


def openmp_enabled():
    return bool(fc_openmp_enabled())


def compiler():
    return fc_compiler().decode().strip()
