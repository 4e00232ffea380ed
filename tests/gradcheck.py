"""Central finite differences in float64, for checking analytic gradients.

The loss is L(x) = sum(f(x) * r) for a fixed random r, so dL/dx is exactly
what a backward op computes when handed grad_output = r.  Central differences
are exact for the linear ops (conv, average pooling) up to rounding, and for
the piecewise-linear ones (max pooling, ReLU) as long as the step never moves
an input across a kink: callers use tie-free inputs whose gaps exceed 2*step.
"""
import numpy as np

DEFAULT_STEP = 1e-3


def numerical_gradient(function, x, grad_output, step=DEFAULT_STEP):
    """d/dx of sum(function(x) * grad_output), one central difference per element of x.

    `function` receives a float64 array of x's shape; x itself is not modified.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    grad_output = np.asarray(grad_output, dtype=np.float64)
    gradient = np.empty_like(x)
    flat_x = x.reshape(-1)
    flat_gradient = gradient.reshape(-1)
    for position in range(flat_x.size):
        original = flat_x[position]
        flat_x[position] = original + step
        loss_plus = np.sum(np.asarray(function(x), dtype=np.float64) * grad_output)
        flat_x[position] = original - step
        loss_minus = np.sum(np.asarray(function(x), dtype=np.float64) * grad_output)
        flat_x[position] = original
        flat_gradient[position] = (loss_plus - loss_minus) / (2.0 * step)
    return gradient


def assert_gradient_close(analytic, numeric, rtol=1e-6, context=""):
    """analytic ~= numeric, element-wise, relative to the largest gradient entry.

    Entries near zero cannot meet a pure relative bound (rounding of the two
    losses is ~1e-16 of their size divided by the step), so the absolute part
    is rtol times the largest magnitude present.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    assert analytic.shape == numeric.shape, f"shape {analytic.shape} != {numeric.shape}; {context}"
    scale = max(float(np.max(np.abs(numeric), initial=0.0)), 1.0)
    error = np.abs(analytic - numeric)
    allowed = rtol * (np.abs(numeric) + scale)
    bad = ~(error <= allowed)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} gradient entries differ from finite differences; "
            f"first at {where}: analytic {analytic[where]!r}, numeric {numeric[where]!r}; {context}")
