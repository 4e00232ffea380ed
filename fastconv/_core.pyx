# cython: language_level=3
"""fastconv._core: the compiled core's bindings.

Callers (fastconv/_ops.py, fastconv/_backward.py) have validated every
argument and allocated every output: arrays arrive C-contiguous, aligned, of
one float dtype, and the geometry arrives as a tuple in fc_geom's field order.
Each binding picks the float32/float64 entry point, releases the GIL and makes
one call into src_c/.  The op bindings live in the included .pxi files.
"""
cimport numpy as cnp
from libc.stdint cimport int64_t, INT64_MAX

cnp.import_array()

cdef extern from "fastconv.h" nogil:
    ctypedef struct fc_geom:
        int64_t N, C, H, W
        int64_t O, groups
        int64_t KH, KW
        int64_t OH, OW
        int64_t stride_h, stride_w
        int64_t dilation_h, dilation_w
        int64_t pad_top, pad_bottom, pad_left, pad_right

    enum:
        FC_OK
        FC_ENOMEM
        FC_EINDEX
        FC_AVG_COUNT_PAD
        FC_AVG_COUNT_VALID

    void fc_runtime_init()
    int fc_simd_level()
    int fc_simd_level_detected()
    const char *fc_simd_name(int level)
    int fc_openmp_enabled()
    void fc_set_num_threads(int n)
    int fc_winograd_enabled()
    void fc_set_winograd(int on)
    int64_t fc_llc_bytes()
    int64_t fc_stream_threshold()
    void fc_set_stream_threshold(int64_t nbytes)
    int fc_pointwise_in_place()
    int fc_cpu_intel()
    void fc_set_pointwise_in_place(int mode)
    int fc_get_num_threads()
    int fc_cpu_count()
    const char *fc_compiler()


cdef fc_geom make_geom(tuple t) except *:
    """fc_geom from the tuple fastconv._geometry builds (field order of fc_geom)."""
    cdef fc_geom g
    (g.N, g.C, g.H, g.W, g.O, g.groups, g.KH, g.KW, g.OH, g.OW,
     g.stride_h, g.stride_w, g.dilation_h, g.dilation_w,
     g.pad_top, g.pad_bottom, g.pad_left, g.pad_right) = t
    return g


cdef inline void check_status(int status) except *:
    if status == FC_ENOMEM:
        raise MemoryError("fastconv: not enough memory for the kernel's workspace")
    if status != FC_OK:
        raise RuntimeError(f"fastconv: kernel failed with status {status}")


cdef inline bint is_f32(cnp.ndarray a):
    return cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32


cdef inline void *data(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


cdef inline void *data_or_null(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


fc_runtime_init()

include "_runtime.pxi"
include "_buffers.pxi"
include "_conv.pxi"
include "_pool.pxi"
include "_probe.pxi"
include "_fast.pxi"
