# Pooling and ReLU bindings, forward and backward.

cdef extern from "fastconv.h" nogil:
    int fc_max_pool2d_f32(const fc_geom *g, const float *x, float *y, int64_t *indices)
    int fc_max_pool2d_f64(const fc_geom *g, const double *x, double *y, int64_t *indices)
    int fc_avg_pool2d_f32(const fc_geom *g, const float *x, float *y, int divisor_mode, int64_t divisor_override)
    int fc_avg_pool2d_f64(const fc_geom *g, const double *x, double *y, int divisor_mode, int64_t divisor_override)
    int fc_max_pool2d_backward_f32(const fc_geom *g, const float *grad_y, const int64_t *indices, float *grad_x)
    int fc_max_pool2d_backward_f64(const fc_geom *g, const double *grad_y, const int64_t *indices, double *grad_x)
    int fc_avg_pool2d_backward_f32(const fc_geom *g, const float *grad_y, float *grad_x, int divisor_mode, int64_t divisor_override)
    int fc_avg_pool2d_backward_f64(const fc_geom *g, const double *grad_y, double *grad_x, int divisor_mode, int64_t divisor_override)
    int fc_relu_f32(const float *x, float *y, int64_t n)
    int fc_relu_f64(const double *x, double *y, int64_t n)
    int fc_relu_backward_f32(const float *grad_y, const float *x, float *grad_x, int64_t n)
    int fc_relu_backward_f64(const double *grad_y, const double *x, double *grad_x, int64_t n)


def max_pool2d(tuple geom, cnp.ndarray x, cnp.ndarray y, object indices):
    cdef fc_geom g = make_geom(geom)
    cdef void *px = data(x)
    cdef void *py = data(y)
    cdef int64_t *pi = <int64_t *>data_or_null(indices)
    cdef int status
    if cnp.PyArray_SIZE(y) == 0:
        return
    if is_f32(y):
        with nogil:
            status = fc_max_pool2d_f32(&g, <float *>px, <float *>py, pi)
    else:
        with nogil:
            status = fc_max_pool2d_f64(&g, <double *>px, <double *>py, pi)
    check_status(status)


def avg_pool2d(tuple geom, cnp.ndarray x, cnp.ndarray y, int divisor_mode, int64_t divisor_override):
    cdef fc_geom g = make_geom(geom)
    cdef void *px = data(x)
    cdef void *py = data(y)
    cdef int status
    if cnp.PyArray_SIZE(y) == 0:
        return
    if is_f32(y):
        with nogil:
            status = fc_avg_pool2d_f32(&g, <float *>px, <float *>py, divisor_mode, divisor_override)
    else:
        with nogil:
            status = fc_avg_pool2d_f64(&g, <double *>px, <double *>py, divisor_mode, divisor_override)
    check_status(status)


def max_pool2d_backward(tuple geom, cnp.ndarray grad_y, cnp.ndarray indices, cnp.ndarray grad_x):
    """Scatter grad_y into grad_x through indices; False (grad_x unusable) when
    an index lies outside [0, H*W): the kernels check each plane's indices
    before using any, so nothing is written out of bounds."""
    cdef fc_geom g = make_geom(geom)
    cdef void *pgy = data(grad_y)
    cdef const int64_t *pi = <const int64_t *>data(indices)
    cdef void *pgx = data(grad_x)
    cdef int status
    if cnp.PyArray_SIZE(grad_x) == 0:
        return True
    if is_f32(grad_x):
        with nogil:
            status = fc_max_pool2d_backward_f32(&g, <float *>pgy, pi, <float *>pgx)
    else:
        with nogil:
            status = fc_max_pool2d_backward_f64(&g, <double *>pgy, pi, <double *>pgx)
    if status == FC_EINDEX:
        return False
    check_status(status)
    return True


def avg_pool2d_backward(tuple geom, cnp.ndarray grad_y, cnp.ndarray grad_x, int divisor_mode,
                        int64_t divisor_override):
    cdef fc_geom g = make_geom(geom)
    cdef void *pgy = data(grad_y)
    cdef void *pgx = data(grad_x)
    cdef int status
    if cnp.PyArray_SIZE(grad_x) == 0:
        return
    if is_f32(grad_x):
        with nogil:
            status = fc_avg_pool2d_backward_f32(&g, <float *>pgy, <float *>pgx, divisor_mode, divisor_override)
    else:
        with nogil:
            status = fc_avg_pool2d_backward_f64(&g, <double *>pgy, <double *>pgx, divisor_mode, divisor_override)
    check_status(status)


def relu(cnp.ndarray x, cnp.ndarray y):
    cdef void *px = data(x)
    cdef void *py = data(y)
    cdef int64_t n = cnp.PyArray_SIZE(y)
    cdef int status
    if is_f32(y):
        with nogil:
            status = fc_relu_f32(<float *>px, <float *>py, n)
    else:
        with nogil:
            status = fc_relu_f64(<double *>px, <double *>py, n)
    check_status(status)


def relu_backward(cnp.ndarray grad_y, cnp.ndarray x, cnp.ndarray grad_x):
    cdef void *pgy = data(grad_y)
    cdef void *px = data(x)
    cdef void *pgx = data(grad_x)
    cdef int64_t n = cnp.PyArray_SIZE(grad_x)
    cdef int status
    if is_f32(grad_x):
        with nogil:
            status = fc_relu_backward_f32(<float *>pgy, <float *>px, <float *>pgx, n)
    else:
        with nogil:
            status = fc_relu_backward_f64(<double *>pgy, <double *>px, <double *>pgx, n)
    check_status(status)


def index_range(cnp.ndarray indices):
    """(min, max) of a non-empty C-contiguous int64 array in one pass, GIL released
    (names the offending index when max_pool2d_backward finds one out of range)."""
    cdef const int64_t *p = <const int64_t *>data(indices)
    cdef int64_t n = cnp.PyArray_SIZE(indices)
    cdef int64_t i, low, high
    low = high = p[0]
    with nogil:
        for i in range(1, n):
            if p[i] < low:
                low = p[i]
            if p[i] > high:
                high = p[i]
    return low, high
