# Peak-FMA probe binding (src_c/probe.c): fastconv.bench times it to measure
# the ceiling every kernel is quoted against.  The probe only counts the flops
# it did; the caller holds the clock.

cdef extern from "probe.h" nogil:
    int fc_probe_fma_f32(int64_t rounds, double *flops_done)
    int fc_probe_fma_f64(int64_t rounds, double *flops_done)
    const char *fc_probe_simd_name()


def probe_fma_flops(str dtype_name, int64_t rounds):
    """Run `rounds` rounds of register-resident FMA chains on each of the
    threads fastconv uses now (GIL released); return the flops done.
    dtype_name: "float32" or "float64"."""
    cdef double flops_done = 0.0
    cdef int status
    if dtype_name == "float32":
        with nogil:
            status = fc_probe_fma_f32(rounds, &flops_done)
    elif dtype_name == "float64":
        with nogil:
            status = fc_probe_fma_f64(rounds, &flops_done)
    else:
        raise ValueError(f"dtype_name must be 'float32' or 'float64', got {dtype_name!r}")
    check_status(status)
    return flops_done


def probe_simd_name():
    """Instruction set the probe runs: "avx512f", "avx2" or "generic" (the widest FMAs
    fastconv's kernels use now)."""
    return fc_probe_simd_name().decode()
