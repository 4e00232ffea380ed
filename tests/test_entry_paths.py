"""The compiled entry points (fastconv/_fast.pxi: conv2d, relu, the pools) must
agree with the fully validating Python paths (fastconv._ops._conv2d_checked and
the others) on every call: bit for bit when both compute, the same exception
when the arguments are invalid."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv
from fastconv import _ops


def outcome(function, *args, **kwargs):
    try:
        return "ok", function(*args, **kwargs)
    except (ValueError, TypeError) as error:
        return type(error).__name__, str(error)


def assert_same_outcome(fast, checked, params):
    """Both computed the same bits (dtype, shape, bytes), or raised the same error."""
    assert fast[0] == checked[0], f"{params}: entry {fast} vs checked {checked}"
    if fast[0] == "ok":
        assert fast[1].dtype == checked[1].dtype and fast[1].shape == checked[1].shape, params
        assert fast[1].tobytes() == checked[1].tobytes(), params
    else:
        assert fast[1] == checked[1], params


@settings(deadline=None, max_examples=150)
@given(
    n=st.integers(0, 2), c=st.integers(0, 4), o=st.integers(1, 4),
    h=st.integers(0, 9), w=st.integers(0, 9), kh=st.integers(1, 4), kw=st.integers(1, 4),
    stride=st.integers(0, 3), padding=st.integers(-1, 3), dilation=st.integers(0, 3),
    groups=st.integers(0, 4), rank=st.sampled_from([2, 3, 4]),
    dtype=st.sampled_from([np.float32, np.float64]), with_bias=st.booleans(),
    activation=st.sampled_from([None, "relu"]), seed=st.integers(0, 2**16),
)
def test_compiled_entry_matches_checked_path(n, c, o, h, w, kh, kw, stride, padding, dilation,
                                             groups, rank, dtype, with_bias, activation, seed):
    rng = np.random.default_rng(seed)
    cg = max(c // max(groups, 1), 1)
    if rank == 2:
        x = rng.standard_normal((h, w)).astype(dtype)
        weight = rng.standard_normal((kh, kw)).astype(dtype)
        bias = rng.standard_normal(1).astype(dtype) if with_bias else None
    else:
        x = rng.standard_normal((n, c, h, w) if rank == 4 else (c, h, w)).astype(dtype)
        weight = rng.standard_normal((o, cg, kh, kw)).astype(dtype)
        bias = rng.standard_normal(o).astype(dtype) if with_bias else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  activation=activation)
    fast = outcome(fastconv.conv2d, x, weight, bias, **kwargs)
    checked = outcome(_ops._conv2d_checked, x, weight, bias, **kwargs)
    params = f"x={x.shape} weight={weight.shape} bias={with_bias} {kwargs} {np.dtype(dtype)}"
    assert_same_outcome(fast, checked, params)


@pytest.mark.parametrize("case", ["fortran", "strided", "mixed-dtype", "int-input", "list-input",
                                  "pair-stride", "string-padding", "strided-out"])
def test_uncommon_calls_take_the_checked_path_and_match(case):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8))
    weight = rng.standard_normal((4, 3, 3, 3))
    kwargs = {}
    if case == "fortran":
        x = np.asfortranarray(x)
    elif case == "strided":
        x = np.repeat(x, 2, axis=3)[..., ::2]
    elif case == "mixed-dtype":
        weight = weight.astype(np.float32)
    elif case == "int-input":
        x = (x * 10).astype(np.int32)
    elif case == "list-input":
        x = x.tolist()
    elif case == "pair-stride":
        kwargs["stride"] = (1, 2)
    elif case == "string-padding":
        kwargs["padding"] = "same"
    expected = _ops._conv2d_checked(np.array(x), weight, **kwargs)
    if case == "strided-out":   # written through a contiguous buffer, then copied in
        out = np.empty(expected.shape[:3] + (2 * expected.shape[3],))[..., ::2]
        result = fastconv.conv2d(x, weight, out=out)
        assert result is out
    else:
        result = fastconv.conv2d(x, weight, **kwargs)
    np.testing.assert_array_equal(result, expected, err_msg=case)


OUT_KINDS = ["exact", "exact", "wrong-shape", "wrong-dtype", "byteswapped", "strided",
             "fortran", "read-only", "overlaps-x", "overlaps-weight", "overlaps-bias", "list"]


def make_out(kind, shape, dtype, x, weight, bias):
    """An out= argument of the given kind for a result of shape and dtype."""
    if kind == "wrong-shape":
        return np.empty(shape[:-1] + (shape[-1] + 1,) if shape else (1,), dtype)
    if kind == "wrong-dtype":
        return np.empty(shape, np.float64 if dtype == np.float32 else np.float32)
    if kind == "byteswapped":
        return np.empty(shape, np.dtype(dtype).newbyteorder())
    if kind == "strided" and shape:   # (a 0-d out is always contiguous: "exact")
        return np.empty(shape[:-1] + (2 * shape[-1],), dtype)[..., ::2]
    if kind == "fortran":
        return np.asfortranarray(np.empty(shape, dtype))
    if kind == "read-only":
        out = np.empty(shape, dtype)
        out.flags.writeable = False
        return out
    if kind.startswith("overlaps-"):
        array = {"x": x, "weight": weight, "bias": bias}[kind[len("overlaps-"):]]
        if array is None or array.size < np.prod(shape):
            return np.empty(shape, dtype)
        return array.reshape(-1)[:int(np.prod(shape))].reshape(shape)
    if kind == "list":
        return np.empty(shape, dtype).tolist()
    return np.empty(shape, dtype)


@settings(deadline=None, max_examples=200)
@given(
    n=st.integers(1, 2), c=st.integers(1, 4), o=st.integers(1, 4), h=st.integers(3, 9),
    w=st.integers(3, 9), k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
    rank=st.sampled_from([2, 3, 4]), dtype=st.sampled_from([np.float32, np.float64]),
    with_bias=st.booleans(), activation=st.sampled_from([None, "relu"]),
    kind=st.sampled_from(OUT_KINDS), seed=st.integers(0, 2**16),
)
def test_compiled_entry_with_out_matches_checked_path(n, c, o, h, w, k, stride, padding, rank,
                                                      dtype, with_bias, activation, kind, seed):
    """out= that can take the result as it is is written by the compiled entry; every
    other out goes to the checked path: both give the same bits or the same error, and
    return the out they were given."""
    rng = np.random.default_rng(seed)
    if rank == 2:
        x, weight = rng.standard_normal((h, w)), rng.standard_normal((k, k))
        bias = rng.standard_normal(1) if with_bias else None
    else:
        x = rng.standard_normal((n, c, h, w) if rank == 4 else (c, h, w))
        weight = rng.standard_normal((o, c, k, k))
        bias = rng.standard_normal(o) if with_bias else None
    x, weight = x.astype(dtype), weight.astype(dtype)
    bias = None if bias is None else bias.astype(dtype)
    kwargs = dict(stride=stride, padding=padding, activation=activation)
    shape = _ops._conv2d_checked(x, weight, bias, **kwargs).shape
    outs = [make_out(kind, shape, dtype, x, weight, bias) for _ in range(2)]
    if kind.startswith("overlaps-"):
        outs[1] = outs[0]   # the same view of the same input for both calls
    fast = outcome(fastconv.conv2d, x, weight, bias, out=outs[0], **kwargs)
    checked = outcome(_ops._conv2d_checked, x, weight, bias, out=outs[1], **kwargs)
    params = f"x={x.shape} weight={weight.shape} bias={with_bias} {kwargs} {np.dtype(dtype)} {kind}"
    assert fast[0] == checked[0], f"{params}: entry {fast} vs checked {checked}"
    if fast[0] == "ok":
        assert fast[1] is outs[0] and checked[1] is outs[1], params
        assert np.asarray(fast[1]).tobytes() == np.asarray(checked[1]).tobytes(), params
    else:
        assert fast[1] == checked[1], params


@settings(deadline=None, max_examples=150)
@given(
    n=st.integers(0, 2), c=st.integers(0, 3), h=st.integers(0, 9), w=st.integers(0, 9),
    kernel=st.integers(0, 4), stride=st.one_of(st.none(), st.integers(0, 3)),
    padding=st.integers(-1, 3), rank=st.sampled_from([3, 4]),
    dtype=st.sampled_from([np.float32, np.float64]), return_indices=st.booleans(),
    count_include_pad=st.booleans(), seed=st.integers(0, 2**16),
)
def test_compiled_pool_entries_match_checked_paths(n, c, h, w, kernel, stride, padding, rank,
                                                   dtype, return_indices, count_include_pad, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c, h, w) if rank == 4 else (c, h, w)
    x = rng.permutation(int(np.prod(shape))).reshape(shape).astype(dtype)   # tie-free
    params = f"x={x.shape} kernel={kernel} stride={stride} padding={padding} {np.dtype(dtype)}"
    for name, kwargs in (("max_pool2d", dict(return_indices=return_indices)),
                         ("avg_pool2d", dict(count_include_pad=count_include_pad))):
        fast = outcome(getattr(fastconv, name), x, kernel, stride, padding, **kwargs)
        checked = outcome(getattr(_ops, f"_{name}_checked"), x, kernel, stride, padding, **kwargs)
        assert fast[0] == checked[0], f"{name} {params}: entry {fast} vs checked {checked}"
        if fast[0] != "ok":
            assert fast[1] == checked[1], f"{name} {params}"
            continue
        fast_arrays = fast[1] if isinstance(fast[1], tuple) else (fast[1],)
        checked_arrays = checked[1] if isinstance(checked[1], tuple) else (checked[1],)
        for a, b in zip(fast_arrays, checked_arrays, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, f"{name} {params}"
            assert a.tobytes() == b.tobytes(), f"{name} {params}"


RELU_INPUTS = ["float32", "float64", "float16", "int32", "fortran", "strided", "byteswapped",
               "0-d", "empty", "list"]


def relu_input(kind, shape, rng):
    """x of the given kind; about a tenth of the float values NaN."""
    if kind == "0-d":
        shape = ()
    elif kind == "empty":
        shape = (0,) + shape
    elif kind == "strided" and not shape:
        shape = (1,)
    x = rng.standard_normal(shape)
    x[x > 1.3] = np.nan
    if kind == "float32":
        return x.astype(np.float32)
    if kind == "float16":
        return x.astype(np.float16)
    if kind == "int32":
        return (np.nan_to_num(x) * 4).astype(np.int32)
    if kind == "fortran":
        return np.asfortranarray(x)
    if kind == "strided":
        return np.repeat(x, 2, axis=-1)[..., ::2]
    if kind == "byteswapped":
        return x.astype(x.dtype.newbyteorder())
    if kind == "list":
        return x.tolist()
    return x


@settings(deadline=None, max_examples=200)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    input_kind=st.sampled_from(RELU_INPUTS),
    kind=st.sampled_from(["none", "exact", "exact", "wrong-shape", "wrong-dtype", "byteswapped",
                          "strided", "fortran", "read-only", "x-itself", "list"]),
    seed=st.integers(0, 2**16),
)
def test_relu_entry_matches_checked_path(shape, input_kind, kind, seed):
    """relu's compiled entry (float C-contiguous x; no out, or an out it can write
    straight into) against _relu_checked: same bits or same error, the out returned."""
    x = relu_input(input_kind, shape, np.random.default_rng(seed))
    expected = _ops._relu_checked(x)
    if kind == "none":
        outs = [None, None]
    elif kind == "x-itself":   # out must not overlap an input
        outs = [x, x]
    else:
        outs = [make_out(kind, expected.shape, expected.dtype, None, None, None) for _ in range(2)]
    fast = outcome(fastconv.relu, x, out=outs[0])
    checked = outcome(_ops._relu_checked, x, out=outs[1])
    params = f"x={input_kind} {np.shape(x)} out={kind}"
    assert fast[0] == checked[0], f"{params}: entry {fast} vs checked {checked}"
    if fast[0] == "ok":
        if kind != "none":
            assert fast[1] is outs[0] and checked[1] is outs[1], params
        assert fast[1].dtype == checked[1].dtype and fast[1].shape == checked[1].shape, params
        assert np.asarray(fast[1]).tobytes() == np.asarray(checked[1]).tobytes(), params
    else:
        assert fast[1] == checked[1], params


NEEDS_CHOICES = [("input", "weight", "bias"), "input", "weight", "bias", ("weight", "bias"),
                 ("bias", "input"), (), ("input", "input"), ["input", "weight"], "inputs",
                 ("weight", 3), None]


@settings(deadline=None, max_examples=200)
@given(
    n=st.integers(1, 2), c=st.integers(1, 4), o=st.integers(1, 4), h=st.integers(1, 8),
    w=st.integers(1, 8), k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
    dilation=st.integers(1, 2), groups=st.sampled_from([1, 2]), rank=st.sampled_from([2, 3, 4]),
    dtype=st.sampled_from([np.float32, np.float64]),
    needs=st.sampled_from(NEEDS_CHOICES),
    grad_kind=st.sampled_from(["exact", "exact", "exact", "other-dtype", "wrong-shape",
                               "fortran", "list", "batched"]),
    seed=st.integers(0, 2**16),
)
def test_conv2d_backward_entry_matches_checked_path(n, c, o, h, w, k, stride, padding, dilation,
                                                    groups, rank, dtype, needs, grad_kind, seed):
    """conv2d_backward's compiled entry (the common call, as conv2d's, with a float
    C-contiguous grad_output of the output's shape and needs a str or a tuple of
    names) against _conv2d_backward_checked: same bits or same error."""
    from fastconv import _backward
    rng = np.random.default_rng(seed)
    if rank == 2:
        x, weight = rng.standard_normal((h, w)), rng.standard_normal((k, k))
    else:
        x = rng.standard_normal((n, c * groups, h, w) if rank == 4 else (c * groups, h, w))
        weight = rng.standard_normal((o * groups, c, k, k))
    x, weight = x.astype(dtype), weight.astype(dtype)
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups if rank > 2 else 1)
    forward = outcome(_ops._conv2d_checked, x, weight, **geometry)
    shape = forward[1].shape if forward[0] == "ok" else (1, 1)
    grad = rng.standard_normal(shape).astype(dtype)
    if grad_kind == "other-dtype":
        grad = grad.astype(np.float64 if dtype == np.float32 else np.float32)
    elif grad_kind == "wrong-shape":
        grad = rng.standard_normal(shape[:-1] + (shape[-1] + 1,)).astype(dtype)
    elif grad_kind == "fortran":
        grad = np.asfortranarray(grad)
    elif grad_kind == "list":
        grad = grad.tolist()
    elif grad_kind == "batched":
        grad = grad[None]
    kwargs = dict(geometry) if needs is None else dict(geometry, needs=needs)
    fast = outcome(fastconv.conv2d_backward, grad, x, weight, **kwargs)
    checked = outcome(_backward._conv2d_backward_checked, grad, x, weight, **kwargs)
    params = f"x={x.shape} weight={weight.shape} {kwargs} grad={grad_kind} {np.dtype(dtype)}"
    assert fast[0] == checked[0], f"{params}: entry {fast} vs checked {checked}"
    if fast[0] == "ok":
        assert type(fast[1]) is fastconv.Conv2dGrads, params
        for name, a, b in zip(fastconv.Conv2dGrads._fields, fast[1], checked[1]):
            assert (a is None) == (b is None), f"{params}: {name}"
            if a is not None:
                assert a.dtype == b.dtype and a.shape == b.shape, f"{params}: {name}"
                assert a.tobytes() == b.tobytes(), f"{params}: {name}"
    else:
        assert fast[1] == checked[1], params


@pytest.mark.parametrize("needs", NEEDS_CHOICES, ids=repr)
@pytest.mark.parametrize("rank", [2, 4])
def test_conv2d_backward_entry_needs_forms(needs, rank):
    """Every form of needs, on a layer the compiled entry serves: the same fields (or the
    same error) as the checked path."""
    from fastconv import _backward
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 6, 7) if rank == 4 else (6, 7)).astype(np.float32)
    weight = rng.standard_normal((4, 3, 3, 3) if rank == 4 else (3, 3)).astype(np.float32)
    grad = rng.standard_normal(fastconv.conv2d(x, weight, padding=1).shape).astype(np.float32)
    kwargs = dict(padding=1) if needs is None else dict(padding=1, needs=needs)
    fast = outcome(fastconv.conv2d_backward, grad, x, weight, **kwargs)
    checked = outcome(_backward._conv2d_backward_checked, grad, x, weight, **kwargs)
    assert fast[0] == checked[0], f"needs={needs!r}: entry {fast} vs checked {checked}"
    if fast[0] == "ok":
        for a, b in zip(fast[1], checked[1]):
            assert (a is None) == (b is None) and (a is None or a.tobytes() == b.tobytes()), needs
    else:
        assert fast[1] == checked[1], needs


@settings(deadline=None, max_examples=150)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    x_kind=st.sampled_from(RELU_INPUTS), grad_kind=st.sampled_from(RELU_INPUTS + ["other-shape"]),
    seed=st.integers(0, 2**16),
)
def test_relu_backward_entry_matches_checked_path(shape, x_kind, grad_kind, seed):
    from fastconv import _backward
    rng = np.random.default_rng(seed)
    x = relu_input(x_kind, shape, rng)
    if grad_kind == "other-shape":
        grad = rng.standard_normal(np.shape(x) + (2,))
    else:   # x's shape, except for the kinds "0-d" and "empty" (a shape error)
        grad = relu_input(grad_kind, np.shape(x), rng)
    fast = outcome(fastconv.relu_backward, grad, x)
    checked = outcome(_backward._relu_backward_checked, grad, x)
    assert_same_outcome(fast, checked, f"x={x_kind} {np.shape(x)} grad={grad_kind}")


# the pooling layers the backward entries are compared on
POOL_LAYERS = dict(
    n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
    kernel=st.integers(1, 3), stride=st.one_of(st.none(), st.integers(1, 3)),
    padding=st.integers(0, 1), rank=st.sampled_from([3, 4]),
    dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16),
)


@settings(deadline=None, max_examples=150)
@given(
    **POOL_LAYERS,
    kind=st.sampled_from(["plain", "plain", "plain", "int32-indices", "index-out-of-range",
                          "negative-index", "list-shape", "wrong-batch", "wrong-channels",
                          "fortran-grad", "short-shape"]),
)
def test_max_pool2d_backward_entry_matches_checked_path(n, c, h, w, kernel, stride, padding, rank,
                                                        dtype, kind, seed):
    from fastconv import _backward
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w) if rank == 4 else (c, h, w)).astype(dtype)
    pooled = outcome(fastconv.max_pool2d, x, kernel, stride, padding, return_indices=True)
    if pooled[0] != "ok":
        return
    y, indices = pooled[1]
    grad = rng.standard_normal(y.shape).astype(dtype)
    shape = x.shape
    if kind == "int32-indices":
        indices = indices.astype(np.int32)
    elif kind == "index-out-of-range":
        indices = indices.copy()
        indices.reshape(-1)[-1] = h * w
    elif kind == "negative-index":
        indices = indices.copy()
        indices.reshape(-1)[0] = -1
    elif kind == "list-shape":
        shape = list(shape)
    elif kind == "wrong-batch" and rank == 4:
        shape = (n + 1,) + shape[1:]
    elif kind == "wrong-channels":
        shape = shape[:-3] + (c + 1,) + shape[-2:]
    elif kind == "fortran-grad":
        grad = np.asfortranarray(grad)
    elif kind == "short-shape":
        shape = shape[1:]
    fast = outcome(fastconv.max_pool2d_backward, grad, indices, shape)
    checked = outcome(_backward._max_pool2d_backward_checked, grad, indices, shape)
    assert_same_outcome(fast, checked, f"x={x.shape} k={kernel} s={stride} p={padding} {kind}")


@settings(deadline=None, max_examples=150)
@given(
    **POOL_LAYERS, count_include_pad=st.booleans(),
    kind=st.sampled_from(["plain", "plain", "plain", "ceil-mode", "divisor", "list-shape",
                          "wrong-grad-shape", "numpy-int-kernel", "pair-kernel", "fortran-grad"]),
)
def test_avg_pool2d_backward_entry_matches_checked_path(n, c, h, w, kernel, stride, padding, rank,
                                                        dtype, count_include_pad, kind, seed):
    from fastconv import _backward
    rng = np.random.default_rng(seed)
    shape = (n, c, h, w) if rank == 4 else (c, h, w)
    kwargs = dict(stride=stride, padding=padding, count_include_pad=count_include_pad)
    if kind == "ceil-mode":
        kwargs["ceil_mode"] = True
    elif kind == "divisor":
        kwargs["divisor_override"] = 3
    pooled = outcome(fastconv.avg_pool2d, np.zeros(shape, dtype), kernel, **kwargs)
    if pooled[0] != "ok":
        return
    grad = rng.standard_normal(pooled[1].shape).astype(dtype)
    if kind == "list-shape":
        shape = list(shape)
    elif kind == "wrong-grad-shape":
        grad = grad[..., :-1] if grad.shape[-1] > 1 else np.concatenate([grad, grad], -1)
        grad = np.ascontiguousarray(grad)
    elif kind == "numpy-int-kernel":
        kernel = np.int64(kernel)
    elif kind == "pair-kernel":
        kernel = (kernel, kernel)
    elif kind == "fortran-grad":
        grad = np.asfortranarray(grad)
    fast = outcome(fastconv.avg_pool2d_backward, grad, shape, kernel, **kwargs)
    checked = outcome(_backward._avg_pool2d_backward_checked, grad, shape, kernel, **kwargs)
    assert_same_outcome(fast, checked, f"shape={shape} k={kernel} {kwargs} {kind}")


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d_backward", "avg_pool2d_backward"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_entries_refuse_absurd_sizes_with_the_checked_message(op, dtype):
    """An output of 2**62 bytes or more: the entry defers to the checked path, whose
    ValueError names the array (numpy's own message would not)."""
    from fastconv import _backward
    one = np.ones((1, 1, 1, 1), dtype)
    if op == "conv2d":
        calls = [(fastconv.conv2d, _ops._conv2d_checked, (one, one), dict(padding=2**30))]
    else:
        big = (1, 1, 2**31 - 1, 2**31 - 1)
        if op == "max_pool2d_backward":
            args = (one, np.zeros((1, 1, 1, 1), np.int64), big)
            calls = [(fastconv.max_pool2d_backward, _backward._max_pool2d_backward_checked, args, {})]
        else:
            args = (one, big, 2**31 - 1)
            calls = [(fastconv.avg_pool2d_backward, _backward._avg_pool2d_backward_checked, args, {})]
    for entry, checked, args, kwargs in calls:
        fast = outcome(entry, *args, **kwargs)
        assert fast[0] == "ValueError" and "more than can be allocated" in fast[1], fast
        assert fast == outcome(checked, *args, **kwargs)
