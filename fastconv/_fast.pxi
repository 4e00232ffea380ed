# Entry points of conv2d, relu and the pools.  The common call (ndarrays of one
# float dtype, C-contiguous, int geometry; for conv2d and relu, no out= or an
# out= they can write straight into) is checked and dispatched here in C with
# no Python-level work, because for small images (the lesson's 6x8) the call
# overhead is the whole cost.  Anything else, including every invalid call,
# goes to the checked op in fastconv._ops (_conv2d_checked, _relu_checked,
# ...), which validates everything and raises the messages; the arithmetic
# below mirrors fastconv._geometry and tests check that both paths agree.

from cpython.object cimport PyObject

cdef int64_t MAX_GEOMETRY_VALUE = 2**31 - 1

cdef inline bint small_int(object v, int64_t minimum):
    return type(v) is int and minimum <= <object>v <= MAX_GEOMETRY_VALUE

cdef inline bint float_carray(object a, int typenum):
    return (type(a) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>a))


cdef inline bint disjoint(cnp.ndarray a, object b):
    """a and b (None, or a C-contiguous ndarray) share no byte: the bounds test
    of numpy.may_share_memory, which the checked path uses."""
    if b is None:
        return True
    cdef char *a0 = <char *>cnp.PyArray_DATA(a)
    cdef char *b0 = <char *>cnp.PyArray_DATA(<cnp.ndarray>b)
    return (a0 + cnp.PyArray_NBYTES(a) <= b0
            or b0 + cnp.PyArray_NBYTES(<cnp.ndarray>b) <= a0)


cdef bint usable_out(object out, int ndim, cnp.npy_intp *dims, int typenum,
                     object x, object weight, object bias):
    """out can take the result (conv2d's, relu's) as it is: the exact shape and dtype,
    C-contiguous, aligned and writeable, overlapping no input.  Anything else
    (including every invalid out) goes to the checked path."""
    if type(out) is not cnp.ndarray:
        return False
    cdef cnp.ndarray o = <cnp.ndarray>out
    if (cnp.PyArray_TYPE(o) != typenum or cnp.PyArray_NDIM(o) != ndim
            or not cnp.PyArray_ISCARRAY(o)):
        return False
    cdef int i
    for i in range(ndim):
        if cnp.PyArray_DIM(o, i) != dims[i]:
            return False
    return disjoint(o, x) and disjoint(o, weight) and disjoint(o, bias)


def conv2d_entry(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                 activation=None, out=None):
    cdef int typenum
    cdef int relu
    cdef fc_geom g
    cdef int64_t KH, KW, Cg, span_h, span_w
    cdef cnp.npy_intp dims[4]
    cdef int ndim_x, ndim_w, out_ndim
    cdef cnp.ndarray y
    cdef void *px
    cdef void *pw
    cdef void *pb = NULL
    cdef int status

    if ((out is None or type(out) is cnp.ndarray) and (activation is None or activation == "relu")
            and type(x) is cnp.ndarray and small_int(stride, 1) and small_int(padding, 0)
            and small_int(dilation, 1) and small_int(groups, 1)):
        typenum = cnp.PyArray_TYPE(<cnp.ndarray>x)
        relu = activation is not None
        if ((typenum == cnp.NPY_FLOAT32 or typenum == cnp.NPY_FLOAT64)
                and float_carray(x, typenum) and float_carray(weight, typenum)
                and (bias is None or (float_carray(bias, typenum) and cnp.PyArray_NDIM(<cnp.ndarray>bias) == 1))):
            ndim_x = cnp.PyArray_NDIM(<cnp.ndarray>x)
            ndim_w = cnp.PyArray_NDIM(<cnp.ndarray>weight)
            g.groups = groups
            g.stride_h = g.stride_w = stride
            g.dilation_h = g.dilation_w = dilation
            g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = padding
            if ndim_w == 4 and (ndim_x == 4 or ndim_x == 3):
                if ndim_x == 4:
                    g.N = cnp.PyArray_DIM(<cnp.ndarray>x, 0)
                else:
                    g.N = 1
                g.C = cnp.PyArray_DIM(<cnp.ndarray>x, ndim_x - 3)
                g.H = cnp.PyArray_DIM(<cnp.ndarray>x, ndim_x - 2)
                g.W = cnp.PyArray_DIM(<cnp.ndarray>x, ndim_x - 1)
                g.O = cnp.PyArray_DIM(<cnp.ndarray>weight, 0)
                Cg = cnp.PyArray_DIM(<cnp.ndarray>weight, 1)
                g.KH = cnp.PyArray_DIM(<cnp.ndarray>weight, 2)
                g.KW = cnp.PyArray_DIM(<cnp.ndarray>weight, 3)
            elif ndim_w == 2 and ndim_x == 2:
                g.N = g.C = g.O = Cg = 1
                g.H = cnp.PyArray_DIM(<cnp.ndarray>x, 0)
                g.W = cnp.PyArray_DIM(<cnp.ndarray>x, 1)
                g.KH = cnp.PyArray_DIM(<cnp.ndarray>weight, 0)
                g.KW = cnp.PyArray_DIM(<cnp.ndarray>weight, 1)
            else:
                g.N = 0
            span_h = g.dilation_h * (g.KH - 1) + 1
            span_w = g.dilation_w * (g.KW - 1) + 1
            if (g.N >= 1 and g.C >= 1 and g.H >= 1 and g.W >= 1 and g.O >= 1 and g.KH >= 1 and g.KW >= 1
                    and g.C % g.groups == 0 and g.O % g.groups == 0 and Cg == g.C // g.groups
                    and span_h <= g.H + 2 * padding and span_w <= g.W + 2 * padding
                    and (bias is None or cnp.PyArray_DIM(<cnp.ndarray>bias, 0) == g.O)):
                g.OH = (g.H + 2 * padding - span_h) // g.stride_h + 1
                g.OW = (g.W + 2 * padding - span_w) // g.stride_w + 1
                out_ndim = ndim_x
                if ndim_x == 4:
                    dims[0] = g.N; dims[1] = g.O; dims[2] = g.OH; dims[3] = g.OW
                elif ndim_x == 3:
                    dims[0] = g.O; dims[1] = g.OH; dims[2] = g.OW
                else:
                    dims[0] = g.OH; dims[1] = g.OW
                if out is None:
                    y = cnp.PyArray_EMPTY(out_ndim, dims, typenum, 0)
                elif usable_out(out, out_ndim, dims, typenum, x, weight, bias):
                    y = <cnp.ndarray>out
                else:
                    return _checked_ops["conv2d"](x, weight, bias, stride, padding, dilation, groups,
                                                  activation=activation, out=out)
                px = cnp.PyArray_DATA(<cnp.ndarray>x)
                pw = cnp.PyArray_DATA(<cnp.ndarray>weight)
                if bias is not None:
                    pb = cnp.PyArray_DATA(<cnp.ndarray>bias)
                if typenum == cnp.NPY_FLOAT32:
                    with nogil:
                        status = fc_conv2d_f32(&g, <float *>px, <float *>pw, <float *>pb,
                                               <float *>cnp.PyArray_DATA(y), relu)
                else:
                    with nogil:
                        status = fc_conv2d_f64(&g, <double *>px, <double *>pw, <double *>pb,
                                               <double *>cnp.PyArray_DATA(y), relu)
                check_status(status)
                return y
    return _checked_ops["conv2d"](x, weight, bias, stride, padding, dilation, groups,
                                  activation=activation, out=out)


def relu_entry(x, *, out=None):
    cdef int typenum
    cdef int ndim
    cdef cnp.ndarray y
    cdef void *px
    cdef void *py
    cdef int64_t n
    cdef int status
    if type(x) is cnp.ndarray and (out is None or type(out) is cnp.ndarray):
        typenum = cnp.PyArray_TYPE(<cnp.ndarray>x)
        if (typenum == cnp.NPY_FLOAT32 or typenum == cnp.NPY_FLOAT64) and float_carray(x, typenum):
            ndim = cnp.PyArray_NDIM(<cnp.ndarray>x)
            if out is None:
                y = cnp.PyArray_EMPTY(ndim, cnp.PyArray_DIMS(<cnp.ndarray>x), typenum, 0)
            elif usable_out(out, ndim, cnp.PyArray_DIMS(<cnp.ndarray>x), typenum, x, None, None):
                y = <cnp.ndarray>out
            else:
                return _checked_ops["relu"](x, out=out)
            px = cnp.PyArray_DATA(<cnp.ndarray>x)
            py = cnp.PyArray_DATA(y)
            n = cnp.PyArray_SIZE(y)
            if typenum == cnp.NPY_FLOAT32:
                with nogil:
                    status = fc_relu_f32(<float *>px, <float *>py, n)
            else:
                with nogil:
                    status = fc_relu_f64(<double *>px, <double *>py, n)
            check_status(status)
            return y
    return _checked_ops["relu"](x, out=out)


# Pooling entry points, on the same principle: the common call (int kernel,
# stride and padding, no dilation or ceil_mode, float C-contiguous input) is
# served here; every other call goes to fastconv._ops, which mirrors this
# arithmetic in fastconv._geometry and owns the error messages.

cdef bint pool_fast_geometry(object x, object kernel_size, object stride, object padding,
                             fc_geom *g, int *typenum):
    """Fill g for a common pooling call; False when the call needs the checked path."""
    cdef int ndim
    cdef int64_t k, s, p
    if not (type(x) is cnp.ndarray and small_int(kernel_size, 1) and small_int(padding, 0)
            and (stride is None or small_int(stride, 1))):
        return False
    typenum[0] = cnp.PyArray_TYPE(<cnp.ndarray>x)
    if typenum[0] != cnp.NPY_FLOAT32 and typenum[0] != cnp.NPY_FLOAT64:
        return False
    if not cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>x):
        return False
    ndim = cnp.PyArray_NDIM(<cnp.ndarray>x)
    if ndim != 4 and ndim != 3:
        return False
    k = kernel_size
    s = k if stride is None else stride
    p = padding
    g.N = cnp.PyArray_DIM(<cnp.ndarray>x, 0) if ndim == 4 else 1
    g.C = cnp.PyArray_DIM(<cnp.ndarray>x, ndim - 3)
    g.H = cnp.PyArray_DIM(<cnp.ndarray>x, ndim - 2)
    g.W = cnp.PyArray_DIM(<cnp.ndarray>x, ndim - 1)
    if g.N < 1 or g.C < 1 or g.H < 1 or g.W < 1 or p > k // 2 or k > g.H + 2 * p or k > g.W + 2 * p:
        return False
    g.O = g.C
    g.groups = 1
    g.KH = g.KW = k
    g.stride_h = g.stride_w = s
    g.dilation_h = g.dilation_w = 1
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = p
    g.OH = (g.H + 2 * p - k) // s + 1
    g.OW = (g.W + 2 * p - k) // s + 1
    return True


cdef cnp.ndarray pool_output(object x, fc_geom *g, int typenum):
    cdef cnp.npy_intp dims[4]
    cdef int ndim = cnp.PyArray_NDIM(<cnp.ndarray>x)
    if ndim == 4:
        dims[0] = g.N; dims[1] = g.C; dims[2] = g.OH; dims[3] = g.OW
        return cnp.PyArray_EMPTY(4, dims, typenum, 0)
    dims[0] = g.C; dims[1] = g.OH; dims[2] = g.OW
    return cnp.PyArray_EMPTY(3, dims, typenum, 0)


def max_pool2d_entry(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                     return_indices=False):
    cdef fc_geom g
    cdef int typenum
    cdef cnp.ndarray y
    cdef cnp.ndarray indices = None
    cdef void *px
    cdef void *py
    cdef int64_t *pi = NULL
    cdef int status
    if (dilation is 1 or dilation == 1) and ceil_mode is False and (return_indices is False or return_indices is True) \
            and pool_fast_geometry(x, kernel_size, stride, padding, &g, &typenum):
        y = pool_output(x, &g, typenum)
        if return_indices:
            indices = pool_output(x, &g, cnp.NPY_INT64)
            pi = <int64_t *>cnp.PyArray_DATA(indices)
        px = cnp.PyArray_DATA(<cnp.ndarray>x)
        py = cnp.PyArray_DATA(y)
        if typenum == cnp.NPY_FLOAT32:
            with nogil:
                status = fc_max_pool2d_f32(&g, <float *>px, <float *>py, pi)
        else:
            with nogil:
                status = fc_max_pool2d_f64(&g, <double *>px, <double *>py, pi)
        check_status(status)
        return (y, indices) if return_indices else y
    return _checked_ops["max_pool2d"](x, kernel_size, stride, padding, dilation, ceil_mode,
                                      return_indices)


def avg_pool2d_entry(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True, divisor_override=None):
    cdef fc_geom g
    cdef int typenum
    cdef cnp.ndarray y
    cdef void *px
    cdef void *py
    cdef int mode
    cdef int status
    if divisor_override is None and ceil_mode is False \
            and (count_include_pad is True or count_include_pad is False) \
            and pool_fast_geometry(x, kernel_size, stride, padding, &g, &typenum):
        mode = FC_AVG_COUNT_PAD if count_include_pad else FC_AVG_COUNT_VALID
        y = pool_output(x, &g, typenum)
        px = cnp.PyArray_DATA(<cnp.ndarray>x)
        py = cnp.PyArray_DATA(y)
        if typenum == cnp.NPY_FLOAT32:
            with nogil:
                status = fc_avg_pool2d_f32(&g, <float *>px, <float *>py, mode, 0)
        else:
            with nogil:
                status = fc_avg_pool2d_f64(&g, <double *>px, <double *>py, mode, 0)
        check_status(status)
        return y
    return _checked_ops["avg_pool2d"](x, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override)


_checked_ops = {}

def set_checked_op(str name, function):
    """The fully validating op (fastconv._ops) that an entry point falls back to."""
    _checked_ops[name] = function
