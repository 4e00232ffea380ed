# Convolution bindings: forward, im2col/col2im, gradients.  Empty results
# (an empty batch) never reach the kernels.

cdef extern from "fastconv.h" nogil:
    int fc_conv2d_f32(const fc_geom *g, const float *x, const float *weight, const float *bias, float *y, int relu)
    int fc_conv2d_f64(const fc_geom *g, const double *x, const double *weight, const double *bias, double *y, int relu)
    const char *fc_conv2d_kernel(const fc_geom *g, int f64)
    int fc_conv2d_winograd_tile(const fc_geom *g, int f64)
    int fc_im2col_f32(const fc_geom *g, const float *x, float *cols)
    int fc_im2col_f64(const fc_geom *g, const double *x, double *cols)
    int fc_col2im_f32(const fc_geom *g, const float *cols, float *x)
    int fc_col2im_f64(const fc_geom *g, const double *cols, double *x)
    int fc_conv2d_grad_input_f32(const fc_geom *g, const float *grad_y, const float *weight, float *grad_x)
    int fc_conv2d_grad_input_f64(const fc_geom *g, const double *grad_y, const double *weight, double *grad_x)
    int fc_conv2d_grad_bias_f32(const fc_geom *g, const float *grad_y, float *grad_bias)
    int fc_conv2d_grad_bias_f64(const fc_geom *g, const double *grad_y, double *grad_bias)
    int fc_conv2d_grad_weight_bias_f32(const fc_geom *g, const float *grad_y, const float *x,
                                       float *grad_weight, float *grad_bias)
    int fc_conv2d_grad_weight_bias_f64(const fc_geom *g, const double *grad_y, const double *x,
                                       double *grad_weight, double *grad_bias)
    int fc_conv2d_backward_f32(const fc_geom *g, const float *grad_y, const float *x, const float *weight,
                               float *grad_x, float *grad_weight, float *grad_bias)
    int fc_conv2d_backward_f64(const fc_geom *g, const double *grad_y, const double *x, const double *weight,
                               double *grad_x, double *grad_weight, double *grad_bias)


def conv2d(tuple geom, cnp.ndarray x, cnp.ndarray weight, object bias, cnp.ndarray y, bint relu):
    cdef fc_geom g = make_geom(geom)
    cdef void *px = data(x)
    cdef void *pw = data(weight)
    cdef void *pb = data_or_null(bias)
    cdef void *py = data(y)
    cdef int status
    if cnp.PyArray_SIZE(y) == 0:
        return
    if is_f32(y):
        with nogil:
            status = fc_conv2d_f32(&g, <float *>px, <float *>pw, <float *>pb, <float *>py, relu)
    else:
        with nogil:
            status = fc_conv2d_f64(&g, <double *>px, <double *>pw, <double *>pb, <double *>py, relu)
    check_status(status)


def conv2d_kernel(tuple geom, bint f64):
    """The kernel family conv2d runs for this geometry and dtype at the current
    SIMD level: "winograd", "winograd-gemm", "direct", "pixels", "reference" or
    "gemm"."""
    cdef fc_geom g = make_geom(geom)
    return fc_conv2d_kernel(&g, f64).decode("ascii")


def conv2d_winograd_tile(tuple geom, bint f64):
    """Where conv2d_kernel says "winograd": the side of the output tiles its
    transforms compute, 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3), on inputs whose
    values are all finite; others take F(2x2, 3x3)); else 0."""
    cdef fc_geom g = make_geom(geom)
    return fc_conv2d_winograd_tile(&g, f64)


def im2col(tuple geom, cnp.ndarray x, cnp.ndarray cols):
    cdef fc_geom g = make_geom(geom)
    cdef void *px = data(x)
    cdef void *pc = data(cols)
    cdef int status
    if cnp.PyArray_SIZE(cols) == 0:
        return
    if is_f32(cols):
        with nogil:
            status = fc_im2col_f32(&g, <float *>px, <float *>pc)
    else:
        with nogil:
            status = fc_im2col_f64(&g, <double *>px, <double *>pc)
    check_status(status)


def col2im(tuple geom, cnp.ndarray cols, cnp.ndarray x):
    cdef fc_geom g = make_geom(geom)
    cdef void *pc = data(cols)
    cdef void *px = data(x)
    cdef int status
    if cnp.PyArray_SIZE(x) == 0:
        return
    if is_f32(x):
        with nogil:
            status = fc_col2im_f32(&g, <float *>pc, <float *>px)
    else:
        with nogil:
            status = fc_col2im_f64(&g, <double *>pc, <double *>px)
    check_status(status)


def conv2d_grad_input(tuple geom, cnp.ndarray grad_y, cnp.ndarray weight, cnp.ndarray grad_x):
    cdef fc_geom g = make_geom(geom)
    cdef void *pgy = data(grad_y)
    cdef void *pw = data(weight)
    cdef void *pgx = data(grad_x)
    cdef int status
    if cnp.PyArray_SIZE(grad_x) == 0:
        return
    if is_f32(grad_x):
        with nogil:
            status = fc_conv2d_grad_input_f32(&g, <float *>pgy, <float *>pw, <float *>pgx)
    else:
        with nogil:
            status = fc_conv2d_grad_input_f64(&g, <double *>pgy, <double *>pw, <double *>pgx)
    check_status(status)


def conv2d_grad_weight(tuple geom, cnp.ndarray grad_y, cnp.ndarray x, cnp.ndarray grad_weight,
                       object grad_bias=None):
    """grad_weight, and grad_bias too unless None (one pass over grad_y where the
    kernels allow; the same bits as conv2d_grad_bias)."""
    cdef fc_geom g = make_geom(geom)
    cdef void *pgy = data(grad_y)
    cdef void *px = data(x)
    cdef void *pgw = data(grad_weight)
    cdef void *pgb = data_or_null(grad_bias)
    cdef int status
    if g.N == 0:  # an empty batch contributes nothing
        grad_weight.fill(0)
        if grad_bias is not None:
            grad_bias.fill(0)
        return
    if is_f32(grad_weight):
        with nogil:
            status = fc_conv2d_grad_weight_bias_f32(&g, <float *>pgy, <float *>px, <float *>pgw,
                                                    <float *>pgb)
    else:
        with nogil:
            status = fc_conv2d_grad_weight_bias_f64(&g, <double *>pgy, <double *>px, <double *>pgw,
                                                    <double *>pgb)
    check_status(status)


def conv2d_backward(tuple geom, cnp.ndarray grad_y, cnp.ndarray x, cnp.ndarray weight, cnp.ndarray grad_x,
                    cnp.ndarray grad_weight, object grad_bias=None):
    """grad_x, grad_weight and grad_bias (unless None) in one call: the bits of the
    separate calls, with fewer passes over grad_y where the kernels allow."""
    cdef fc_geom g = make_geom(geom)
    cdef void *pgy = data(grad_y)
    cdef void *px = data(x)
    cdef void *pw = data(weight)
    cdef void *pgx = data(grad_x)
    cdef void *pgw = data(grad_weight)
    cdef void *pgb = data_or_null(grad_bias)
    cdef int status
    if g.N == 0:  # an empty batch: nothing to compute, and no gradient
        grad_weight.fill(0)
        if grad_bias is not None:
            grad_bias.fill(0)
        return
    if is_f32(grad_weight):
        with nogil:
            status = fc_conv2d_backward_f32(&g, <float *>pgy, <float *>px, <float *>pw, <float *>pgx,
                                            <float *>pgw, <float *>pgb)
    else:
        with nogil:
            status = fc_conv2d_backward_f64(&g, <double *>pgy, <double *>px, <double *>pw, <double *>pgx,
                                            <double *>pgw, <double *>pgb)
    check_status(status)


def conv2d_grad_bias(tuple geom, cnp.ndarray grad_y, cnp.ndarray grad_bias):
    cdef fc_geom g = make_geom(geom)
    cdef void *pgy = data(grad_y)
    cdef void *pgb = data(grad_bias)
    cdef int status
    if g.N == 0:  # an empty batch contributes nothing
        grad_bias.fill(0)
        return
    if is_f32(grad_bias):
        with nogil:
            status = fc_conv2d_grad_bias_f32(&g, <float *>pgy, <float *>pgb)
    else:
        with nogil:
            status = fc_conv2d_grad_bias_f64(&g, <double *>pgy, <double *>pgb)
    check_status(status)
