# Entry points of conv2d, relu, the pools and their gradients.  The common call
# (ndarrays of one float dtype, C-contiguous, int geometry; for conv2d and relu,
# no out= or an out= they can write straight into) is checked and dispatched
# here in C with no Python-level work, because for small images (the lesson's
# 6x8) the call overhead is the whole cost.  Anything else, including every
# invalid call, goes to the checked op registered with set_checked_op
# (_conv2d_checked and the others in fastconv._ops and fastconv._backward),
# which validates everything and raises the messages; the arithmetic below
# mirrors fastconv._geometry and tests check that both paths agree.

from cpython.object cimport PyObject

cdef int64_t MAX_GEOMETRY_VALUE = 2**31 - 1

cdef inline bint small_int(object v, int64_t minimum):
    return type(v) is int and minimum <= <object>v <= MAX_GEOMETRY_VALUE

cdef inline bint float_carray(object a, int typenum):
    return (type(a) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>a))


cdef inline int float_type(object a):
    """a's typenum when a is a float32 or float64 ndarray the kernels can read as it
    is (C-contiguous, aligned, native byte order); -1 otherwise."""
    if type(a) is not cnp.ndarray:
        return -1
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if (typenum == cnp.NPY_FLOAT32 or typenum == cnp.NPY_FLOAT64) and cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>a):
        return typenum
    return -1


cdef inline bint has_shape(cnp.ndarray a, int ndim, const cnp.npy_intp *dims):
    """a's shape is dims[:ndim]."""
    cdef int i
    if cnp.PyArray_NDIM(a) != ndim:
        return False
    for i in range(ndim):
        if cnp.PyArray_DIM(a, i) != dims[i]:
            return False
    return True


cdef inline bint allocatable(int ndim, const cnp.npy_intp *dims, int64_t itemsize):
    """An array of shape dims[:ndim] needs fewer than 2**62 bytes: the bound the
    checked path enforces (fastconv._geometry.check_size) before it allocates,
    with a message that names the array; beyond it the entry defers to that path."""
    cdef int64_t count = itemsize
    cdef int i
    for i in range(ndim):
        if dims[i] != 0 and count >= ((<int64_t>1) << 62) // dims[i] + 1:
            return False
        count *= dims[i]
    return count < ((<int64_t>1) << 62)


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
    if cnp.PyArray_TYPE(o) != typenum or not cnp.PyArray_ISCARRAY(o) or not has_shape(o, ndim, dims):
        return False
    return disjoint(o, x) and disjoint(o, weight) and disjoint(o, bias)


cdef bint common_conv_geometry(object x, object weight, object stride, object padding,
                               object dilation, object groups, fc_geom *g, int *typenum,
                               int *out_ndim, cnp.npy_intp *dims):
    """Fill g, the dtype and the output's shape (dims[:out_ndim]) for a common conv call:
    float C-contiguous x and weight of one dtype, int geometry, a valid layer with a
    non-empty output.  False when the call needs the checked path."""
    cdef int ndim_x, ndim_w
    cdef int64_t Cg, span_h, span_w, p
    if not (small_int(stride, 1) and small_int(padding, 0)
            and small_int(dilation, 1) and small_int(groups, 1)):
        return False
    typenum[0] = float_type(x)
    if typenum[0] < 0 or not float_carray(weight, typenum[0]):
        return False
    ndim_x = cnp.PyArray_NDIM(<cnp.ndarray>x)
    ndim_w = cnp.PyArray_NDIM(<cnp.ndarray>weight)
    p = padding
    g.groups = groups
    g.stride_h = g.stride_w = stride
    g.dilation_h = g.dilation_w = dilation
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = p
    if ndim_w == 4 and (ndim_x == 4 or ndim_x == 3):
        g.N = cnp.PyArray_DIM(<cnp.ndarray>x, 0) if ndim_x == 4 else 1
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
        return False
    span_h = g.dilation_h * (g.KH - 1) + 1
    span_w = g.dilation_w * (g.KW - 1) + 1
    if not (g.N >= 1 and g.C >= 1 and g.H >= 1 and g.W >= 1 and g.O >= 1 and g.KH >= 1 and g.KW >= 1
            and g.C % g.groups == 0 and g.O % g.groups == 0 and Cg == g.C // g.groups
            and span_h <= g.H + 2 * p and span_w <= g.W + 2 * p):
        return False
    g.OH = (g.H + 2 * p - span_h) // g.stride_h + 1
    g.OW = (g.W + 2 * p - span_w) // g.stride_w + 1
    out_ndim[0] = ndim_x
    if ndim_x == 4:
        dims[0] = g.N; dims[1] = g.O; dims[2] = g.OH; dims[3] = g.OW
    elif ndim_x == 3:
        dims[0] = g.O; dims[1] = g.OH; dims[2] = g.OW
    else:
        dims[0] = g.OH; dims[1] = g.OW
    return True


def conv2d_entry(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                 activation=None, out=None):
    cdef int typenum
    cdef int relu
    cdef fc_geom g
    cdef cnp.npy_intp dims[4]
    cdef int out_ndim
    cdef cnp.ndarray y
    cdef void *px
    cdef void *pw
    cdef void *pb = NULL
    cdef int status

    if ((out is None or type(out) is cnp.ndarray) and (activation is None or activation == "relu")
            and common_conv_geometry(x, weight, stride, padding, dilation, groups,
                                     &g, &typenum, &out_ndim, dims)
            and (bias is None or (float_carray(bias, typenum) and cnp.PyArray_NDIM(<cnp.ndarray>bias) == 1
                                  and cnp.PyArray_DIM(<cnp.ndarray>bias, 0) == g.O))):
        relu = activation is not None
        if out is None and allocatable(out_ndim, dims, cnp.PyArray_ITEMSIZE(<cnp.ndarray>x)):
            y = new_array(out_ndim, dims, typenum)
        elif out is not None and usable_out(out, out_ndim, dims, typenum, x, weight, bias):
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


cdef object _conv2d_grads_type = tuple   # fastconv.Conv2dGrads, set by fastconv._backward


def set_conv2d_grads_type(cls):
    """The namedtuple conv2d_backward_entry returns (fastconv.Conv2dGrads)."""
    global _conv2d_grads_type
    _conv2d_grads_type = cls


cdef inline bint parse_needs(object needs, bint *want):
    """want[0..2] = input, weight, bias named in needs (a str or a tuple of them);
    False for anything else (the checked path validates it)."""
    want[0] = want[1] = want[2] = False
    if type(needs) is str:
        needs = (needs,)
    elif type(needs) is not tuple:
        return False
    for item in <tuple>needs:
        if type(item) is not str:
            return False
        if item == "input":
            want[0] = True
        elif item == "weight":
            want[1] = True
        elif item == "bias":
            want[2] = True
        else:
            return False
    return True


def conv2d_backward_entry(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                          needs=("input", "weight", "bias")):
    cdef int typenum
    cdef fc_geom g
    cdef cnp.npy_intp dims[4]
    cdef int out_ndim
    cdef bint want[3]
    cdef cnp.ndarray gi = None
    cdef cnp.ndarray gw = None
    cdef cnp.ndarray gb = None
    cdef cnp.npy_intp bias_dims[1]
    cdef void *pgy
    cdef void *px
    cdef void *pw
    cdef void *pgb
    cdef int status = 0

    if (parse_needs(needs, want)
            and common_conv_geometry(x, weight, stride, padding, dilation, groups,
                                     &g, &typenum, &out_ndim, dims)
            and float_carray(grad_output, typenum)
            and has_shape(<cnp.ndarray>grad_output, out_ndim, dims)):
        pgy = cnp.PyArray_DATA(<cnp.ndarray>grad_output)
        px = cnp.PyArray_DATA(<cnp.ndarray>x)
        pw = cnp.PyArray_DATA(<cnp.ndarray>weight)
        if want[0]:
            gi = new_array(cnp.PyArray_NDIM(<cnp.ndarray>x), cnp.PyArray_DIMS(<cnp.ndarray>x), typenum)
        if want[1]:
            gw = new_array(cnp.PyArray_NDIM(<cnp.ndarray>weight), cnp.PyArray_DIMS(<cnp.ndarray>weight),
                           typenum)
        if want[2]:
            bias_dims[0] = g.O
            gb = new_array(1, bias_dims, typenum)
        pgb = cnp.PyArray_DATA(gb) if want[2] else NULL
        if want[0] and want[1]:
            # one call: the depthwise kernels read grad_y once for all three
            if typenum == cnp.NPY_FLOAT32:
                with nogil:
                    status = fc_conv2d_backward_f32(&g, <float *>pgy, <float *>px, <float *>pw,
                                                    <float *>cnp.PyArray_DATA(gi),
                                                    <float *>cnp.PyArray_DATA(gw), <float *>pgb)
            else:
                with nogil:
                    status = fc_conv2d_backward_f64(&g, <double *>pgy, <double *>px, <double *>pw,
                                                    <double *>cnp.PyArray_DATA(gi),
                                                    <double *>cnp.PyArray_DATA(gw), <double *>pgb)
            check_status(status)
            return _conv2d_grads_type(gi, gw, gb)
        if want[0]:
            if typenum == cnp.NPY_FLOAT32:
                with nogil:
                    status = fc_conv2d_grad_input_f32(&g, <float *>pgy, <float *>pw,
                                                      <float *>cnp.PyArray_DATA(gi))
            else:
                with nogil:
                    status = fc_conv2d_grad_input_f64(&g, <double *>pgy, <double *>pw,
                                                      <double *>cnp.PyArray_DATA(gi))
            check_status(status)
        if want[1]:
            # with grad bias wanted too, one call (one pass over grad_y where it can)
            if typenum == cnp.NPY_FLOAT32:
                with nogil:
                    status = fc_conv2d_grad_weight_bias_f32(&g, <float *>pgy, <float *>px,
                                                            <float *>cnp.PyArray_DATA(gw), <float *>pgb)
            else:
                with nogil:
                    status = fc_conv2d_grad_weight_bias_f64(&g, <double *>pgy, <double *>px,
                                                            <double *>cnp.PyArray_DATA(gw), <double *>pgb)
            check_status(status)
        elif want[2]:
            if typenum == cnp.NPY_FLOAT32:
                with nogil:
                    status = fc_conv2d_grad_bias_f32(&g, <float *>pgy, <float *>pgb)
            else:
                with nogil:
                    status = fc_conv2d_grad_bias_f64(&g, <double *>pgy, <double *>pgb)
            check_status(status)
        return _conv2d_grads_type(gi, gw, gb)
    return _checked_ops["conv2d_backward"](grad_output, x, weight, stride, padding, dilation, groups,
                                           needs=needs)


def relu_entry(x, *, out=None):
    cdef int typenum
    cdef int ndim
    cdef cnp.ndarray y
    cdef void *px
    cdef void *py
    cdef int64_t n
    cdef int status
    typenum = float_type(x)
    if typenum >= 0 and (out is None or type(out) is cnp.ndarray):
        ndim = cnp.PyArray_NDIM(<cnp.ndarray>x)
        if out is None:
            y = new_array(ndim, cnp.PyArray_DIMS(<cnp.ndarray>x), typenum)
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

cdef bint pool_window_geometry(int ndim, const cnp.npy_intp *dims, object kernel_size,
                               object stride, object padding, fc_geom *g):
    """Fill g for a common pooling window (int kernel, stride and padding, no dilation
    or ceil_mode) over an input of shape dims[:ndim] (NCHW or CHW); False when the
    call needs the checked path."""
    cdef int64_t k, s, p
    if not (small_int(kernel_size, 1) and small_int(padding, 0)
            and (stride is None or small_int(stride, 1)) and (ndim == 4 or ndim == 3)):
        return False
    k = kernel_size
    s = k if stride is None else stride
    p = padding
    g.N = dims[0] if ndim == 4 else 1
    g.C = dims[ndim - 3]
    g.H = dims[ndim - 2]
    g.W = dims[ndim - 1]
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


cdef bint pool_fast_geometry(object x, object kernel_size, object stride, object padding,
                             fc_geom *g, int *typenum):
    """Fill g for a common pooling call; False when the call needs the checked path."""
    typenum[0] = float_type(x)
    if typenum[0] < 0:
        return False
    return pool_window_geometry(cnp.PyArray_NDIM(<cnp.ndarray>x), cnp.PyArray_DIMS(<cnp.ndarray>x),
                                kernel_size, stride, padding, g)


cdef cnp.ndarray pool_output(object x, fc_geom *g, int typenum):
    cdef cnp.npy_intp dims[4]
    cdef int ndim = cnp.PyArray_NDIM(<cnp.ndarray>x)
    if ndim == 4:
        dims[0] = g.N; dims[1] = g.C; dims[2] = g.OH; dims[3] = g.OW
        return new_array(4, dims, typenum)
    dims[0] = g.C; dims[1] = g.OH; dims[2] = g.OW
    return new_array(3, dims, typenum)


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


# Backward entry points of the pools and relu, on the same principle.

cdef bint shape_tuple(object shape, int ndim, cnp.npy_intp *dims):
    """dims[:ndim] = shape when it is a tuple of ndim plain ints, each >= 1."""
    cdef int i
    if type(shape) is not tuple or len(<tuple>shape) != ndim:
        return False
    for i in range(ndim):
        if not small_int((<tuple>shape)[i], 1):
            return False
        dims[i] = (<tuple>shape)[i]
    return True


cdef bint pool_grad_shape(cnp.ndarray grad_y, int ndim, fc_geom *g):
    """grad_y has the pooled shape (N, C, OH, OW), or (C, OH, OW) for CHW input."""
    if cnp.PyArray_NDIM(grad_y) != ndim:
        return False
    if ndim == 4 and cnp.PyArray_DIM(grad_y, 0) != g.N:
        return False
    return (cnp.PyArray_DIM(grad_y, ndim - 3) == g.C and cnp.PyArray_DIM(grad_y, ndim - 2) == g.OH
            and cnp.PyArray_DIM(grad_y, ndim - 1) == g.OW)


def relu_backward_entry(grad_output, x):
    cdef int typenum
    cdef cnp.ndarray gx
    cdef void *pgy
    cdef void *px
    cdef int64_t n
    cdef int status
    typenum = float_type(x)
    if (typenum >= 0 and float_carray(grad_output, typenum)
            and has_shape(<cnp.ndarray>grad_output, cnp.PyArray_NDIM(<cnp.ndarray>x),
                          cnp.PyArray_DIMS(<cnp.ndarray>x))):
        gx = new_array(cnp.PyArray_NDIM(<cnp.ndarray>x), cnp.PyArray_DIMS(<cnp.ndarray>x), typenum)
        pgy = cnp.PyArray_DATA(<cnp.ndarray>grad_output)
        px = cnp.PyArray_DATA(<cnp.ndarray>x)
        n = cnp.PyArray_SIZE(gx)
        if typenum == cnp.NPY_FLOAT32:
            with nogil:
                status = fc_relu_backward_f32(<float *>pgy, <float *>px, <float *>cnp.PyArray_DATA(gx), n)
        else:
            with nogil:
                status = fc_relu_backward_f64(<double *>pgy, <double *>px, <double *>cnp.PyArray_DATA(gx), n)
        check_status(status)
        return gx
    return _checked_ops["relu_backward"](grad_output, x)


def max_pool2d_backward_entry(grad_output, indices, input_shape):
    cdef int typenum, ndim
    cdef fc_geom g
    cdef cnp.npy_intp dims[4]
    cdef cnp.ndarray gx
    cdef void *pgy
    cdef const int64_t *pi
    cdef int status
    typenum = float_type(grad_output)
    ndim = cnp.PyArray_NDIM(<cnp.ndarray>grad_output) if typenum >= 0 else 0
    if (typenum >= 0 and float_carray(indices, cnp.NPY_INT64)
            and has_shape(<cnp.ndarray>indices, ndim, cnp.PyArray_DIMS(<cnp.ndarray>grad_output))
            and (ndim == 4 or ndim == 3) and shape_tuple(input_shape, ndim, dims)
            and allocatable(ndim, dims, cnp.PyArray_ITEMSIZE(<cnp.ndarray>grad_output))
            and (ndim == 3 or dims[0] == cnp.PyArray_DIM(<cnp.ndarray>grad_output, 0))
            and dims[ndim - 3] == cnp.PyArray_DIM(<cnp.ndarray>grad_output, ndim - 3)):
        # the geometry max_pool2d_backward's checked path builds: windows
        # are given by the indices, so only the sizes matter
        g.N = dims[0] if ndim == 4 else 1
        g.C = g.O = dims[ndim - 3]
        g.H = dims[ndim - 2]
        g.W = dims[ndim - 1]
        g.OH = cnp.PyArray_DIM(<cnp.ndarray>grad_output, ndim - 2)
        g.OW = cnp.PyArray_DIM(<cnp.ndarray>grad_output, ndim - 1)
        g.groups = g.KH = g.KW = 1
        g.stride_h = g.stride_w = g.dilation_h = g.dilation_w = 1
        g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = 0
        gx = new_array(ndim, dims, typenum)
        pgy = cnp.PyArray_DATA(<cnp.ndarray>grad_output)
        pi = <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>indices)
        if typenum == cnp.NPY_FLOAT32:
            with nogil:
                status = fc_max_pool2d_backward_f32(&g, <float *>pgy, pi, <float *>cnp.PyArray_DATA(gx))
        else:
            with nogil:
                status = fc_max_pool2d_backward_f64(&g, <double *>pgy, pi, <double *>cnp.PyArray_DATA(gx))
        if status != FC_EINDEX:   # an index out of range: the checked path names it
            check_status(status)
            return gx
    return _checked_ops["max_pool2d_backward"](grad_output, indices, input_shape)


def avg_pool2d_backward_entry(grad_output, input_shape, kernel_size, stride=None, padding=0,
                              ceil_mode=False, count_include_pad=True, divisor_override=None):
    cdef int typenum, ndim, mode
    cdef fc_geom g
    cdef cnp.npy_intp dims[4]
    cdef cnp.ndarray gx
    cdef void *pgy
    cdef int status
    typenum = float_type(grad_output)
    ndim = cnp.PyArray_NDIM(<cnp.ndarray>grad_output) if typenum >= 0 else 0
    if (typenum >= 0 and divisor_override is None and ceil_mode is False
            and (count_include_pad is True or count_include_pad is False)
            and shape_tuple(input_shape, ndim, dims)
            and allocatable(ndim, dims, cnp.PyArray_ITEMSIZE(<cnp.ndarray>grad_output))
            and pool_window_geometry(ndim, dims, kernel_size, stride, padding, &g)
            and pool_grad_shape(<cnp.ndarray>grad_output, ndim, &g)):
        mode = FC_AVG_COUNT_PAD if count_include_pad else FC_AVG_COUNT_VALID
        gx = new_array(ndim, dims, typenum)
        pgy = cnp.PyArray_DATA(<cnp.ndarray>grad_output)
        if typenum == cnp.NPY_FLOAT32:
            with nogil:
                status = fc_avg_pool2d_backward_f32(&g, <float *>pgy, <float *>cnp.PyArray_DATA(gx),
                                                    mode, 0)
        else:
            with nogil:
                status = fc_avg_pool2d_backward_f64(&g, <double *>pgy, <double *>cnp.PyArray_DATA(gx),
                                                    mode, 0)
        check_status(status)
        return gx
    return _checked_ops["avg_pool2d_backward"](grad_output, input_shape, kernel_size, stride, padding,
                                               ceil_mode, count_include_pad, divisor_override)


_checked_ops = {}

def set_checked_op(str name, function):
    """The fully validating op (fastconv._ops) that an entry point falls back to."""
    _checked_ops[name] = function
