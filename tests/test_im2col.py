"""im2col (torch unfold) and col2im (torch fold) against the NumPy reference.

Grids cover kernel, stride, dilation and every padding form in both dtypes,
batched and unbatched.  im2col only copies values, so it is compared exactly;
col2im sums overlapping windows, so it gets dtype tolerances.  Property
tests check the two are adjoint (<im2col(x), c> == <x, col2im(c)>) and that
col2im(im2col(x)) is x times the per-pixel window count.  torch's unfold and
fold are a second oracle where torch is importable.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import reference
from conftest import assert_close, relayout, tolerance

DTYPES = [np.float32, np.float64]
KERNELS = [1, 2, (2, 3), (3, 1)]
DILATIONS = [1, 2, (1, 2)]
PADDINGS = [0, 1, (1, 0), ((0, 2), (1, 0)), "valid", "same"]
STRIDES = [1, 2, (2, 1), (1, 3)]


def dtype_id(dtype):
    return np.dtype(dtype).name


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("stride", STRIDES, ids=lambda v: f"s{v}")
@pytest.mark.parametrize("padding", PADDINGS, ids=lambda v: f"p{v}")
@pytest.mark.parametrize("dilation", DILATIONS, ids=lambda v: f"d{v}")
@pytest.mark.parametrize("kernel_size", KERNELS, ids=lambda v: f"k{v}")
def test_im2col_grid(kernel_size, dilation, padding, stride, dtype, rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    geometry = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    result = fastconv.im2col(x, **geometry)
    expected = reference.im2col(x, **geometry)
    context = f"{geometry} dtype={dtype_id(dtype)}"
    assert result.dtype == dtype, context
    assert result.flags.c_contiguous, context
    assert result.shape == expected.shape, context
    # a pure gather: every value is an input value or a padding zero, bit for bit
    assert np.array_equal(result, expected.astype(dtype)), context


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("stride", STRIDES, ids=lambda v: f"s{v}")
@pytest.mark.parametrize("padding", PADDINGS, ids=lambda v: f"p{v}")
@pytest.mark.parametrize("dilation", DILATIONS, ids=lambda v: f"d{v}")
@pytest.mark.parametrize("kernel_size", KERNELS, ids=lambda v: f"k{v}")
def test_col2im_grid(kernel_size, dilation, padding, stride, dtype, rng):
    output_size = (6, 7)
    geometry = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    rows, length = reference.im2col(np.zeros((1, 3) + output_size), **geometry).shape[1:]
    cols = rng.standard_normal((2, rows, length)).astype(dtype)
    result = fastconv.col2im(cols, output_size, **geometry)
    expected = reference.col2im(cols, output_size, **geometry)
    context = f"{geometry} dtype={dtype_id(dtype)}"
    assert result.flags.c_contiguous, context
    assert_close(result, expected, dtype,
                 scale=reference.col2im(np.abs(cols), output_size, **geometry), context=context)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("padding", [0, ((1, 0), (2, 1)), "same"], ids=lambda v: f"p{v}")
def test_im2col_col2im_unbatched(padding, dtype, rng):
    x = rng.standard_normal((3, 5, 6)).astype(dtype)
    geometry = dict(kernel_size=(2, 3), dilation=1, padding=padding, stride=(1, 2))
    cols = fastconv.im2col(x, **geometry)
    assert cols.ndim == 2
    assert np.array_equal(cols, reference.im2col(x, **geometry).astype(dtype))
    image = fastconv.col2im(cols, (5, 6), **geometry)
    assert image.shape == (3, 5, 6)
    assert_close(image, reference.col2im(cols, (5, 6), **geometry), dtype,
                 scale=reference.col2im(np.abs(cols), (5, 6), **geometry))
    assert np.array_equal(image, fastconv.col2im(cols[None], (5, 6), **geometry)[0])


def test_col2im_output_size_int_equals_pair(rng):
    cols = rng.standard_normal((1, 4 * 4, 2 * 2))  # 4 channels, 2x2 windows
    assert np.array_equal(fastconv.col2im(cols, 5, 2, padding=0, stride=2),
                          fastconv.col2im(cols, (5, 5), (2, 2), padding=0, stride=(2, 2)))


@pytest.mark.parametrize("layout", ["strided", "negative_strides", "fortran", "readonly"])
def test_im2col_col2im_accept_any_layout(layout, rng):
    x = rng.standard_normal((2, 3, 6, 5))
    cols = rng.standard_normal((2, 3 * 4, 20))
    assert np.array_equal(fastconv.im2col(relayout(x, layout), 2),
                          fastconv.im2col(x, 2))
    assert np.array_equal(fastconv.col2im(relayout(cols, layout), (6, 5), 2),
                          fastconv.col2im(cols, (6, 5), 2))


@pytest.mark.parametrize("input_dtype, expected_dtype",
                         [(np.float16, np.float32), (np.int16, np.float32),
                          (np.int64, np.float64), (np.uint8, np.float32)],
                         ids=lambda d: np.dtype(d).name)
def test_im2col_col2im_dtype_rule(input_dtype, expected_dtype, rng):
    x = rng.integers(0, 9, size=(1, 2, 4, 4)).astype(input_dtype)
    cols = fastconv.im2col(x, 2)
    assert cols.dtype == expected_dtype
    assert np.array_equal(cols, reference.im2col(x, 2))
    image = fastconv.col2im(cols.astype(input_dtype), (4, 4), 2)
    assert image.dtype == expected_dtype
    assert np.array_equal(image, reference.col2im(cols, (4, 4), 2))


def test_im2col_matches_conv2d_as_matrix_product(rng):
    """conv2d == weight matrix @ im2col, the textbook identity."""
    x = rng.standard_normal((2, 3, 7, 6))
    weight = rng.standard_normal((4, 3, 3, 2))
    geometry = dict(stride=(2, 1), padding=((1, 0), (0, 1)), dilation=(1, 2))
    cols = fastconv.im2col(x, (3, 2), **geometry)
    conv = fastconv.conv2d(x, weight, **geometry)
    product = np.einsum("ok,nkl->nol", weight.reshape(4, -1), cols).reshape(conv.shape)
    assert_close(conv, product, np.float64)


# ---- property tests ----------------------------------------------------------

@st.composite
def unfold_problems(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    form = draw(st.sampled_from(["int", "pair", "asymmetric", "same"]))
    if form == "int":
        padding = draw(st.integers(0, 2))
    elif form == "pair":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    elif form == "asymmetric":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2))
    else:
        padding = "same"
    size = []
    for axis in range(2):
        if padding == "same":
            smallest = 1
        else:
            pads = reference.explicit_padding(padding, (1, 1), kernel, stride, dilation)[axis]
            smallest = max(1, dilation[axis] * (kernel[axis] - 1) + 1 - sum(pads))
        size.append(draw(st.integers(smallest, smallest + 8)))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3))) + tuple(size),
                geometry=dict(kernel_size=kernel, dilation=dilation, padding=padding,
                              stride=stride),
                dtype=draw(st.sampled_from(DTYPES)), seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=80, deadline=None)
@given(unfold_problems())
def test_im2col_col2im_property(problem):
    rng = np.random.default_rng(problem["seed"])
    geometry, dtype, shape = problem["geometry"], problem["dtype"], problem["shape"]
    x = rng.standard_normal(shape).astype(dtype)
    cols = fastconv.im2col(x, **geometry)
    assert np.array_equal(cols, reference.im2col(x, **geometry).astype(dtype)), problem
    probe = rng.standard_normal(cols.shape).astype(dtype)
    image = fastconv.col2im(probe, shape[2:], **geometry)
    assert_close(image, reference.col2im(probe, shape[2:], **geometry), dtype,
                 scale=reference.col2im(np.abs(probe), shape[2:], **geometry), context=str(problem))
    # adjoint: <im2col(x), probe> == <x, col2im(probe)>
    lhs = float(np.vdot(cols.astype(np.float64), probe.astype(np.float64)))
    rhs = float(np.vdot(x.astype(np.float64), image.astype(np.float64)))
    bound = 10 * tolerance(dtype) * (
        1 + float(np.vdot(np.abs(cols), np.abs(probe))))
    assert abs(lhs - rhs) <= bound, (lhs, rhs, problem)
    # folding the unfolded image multiplies each pixel by the number of windows that read it
    counts = fastconv.col2im(fastconv.im2col(np.ones(shape, dtype), **geometry), shape[2:],
                             **geometry)
    assert_close(fastconv.col2im(cols, shape[2:], **geometry), x * counts.astype(np.float64),
                 dtype, scale=np.abs(x) * counts, context=str(problem))


# ---- PyTorch as a second oracle ----------------------------------------------

@pytest.fixture
def torch_functional():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("stride", [1, (2, 3)], ids=lambda v: f"s{v}")
@pytest.mark.parametrize("padding", [0, 1, (2, 0)], ids=lambda v: f"p{v}")
@pytest.mark.parametrize("dilation", [1, (2, 1)], ids=lambda v: f"d{v}")
@pytest.mark.parametrize("kernel_size", [(2, 2), (3, 2)], ids=lambda v: f"k{v}")
def test_im2col_col2im_match_torch(kernel_size, dilation, padding, stride, dtype,
                                   torch_functional, rng):
    torch, functional = torch_functional
    geometry = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    expected_cols = functional.unfold(torch.from_numpy(x), **geometry).numpy()
    cols = fastconv.im2col(x, **geometry)
    assert cols.dtype == dtype
    assert np.array_equal(cols, expected_cols), str(geometry)
    probe = rng.standard_normal(cols.shape).astype(dtype)
    expected_image = functional.fold(torch.from_numpy(probe).double(), (7, 8), **geometry).numpy()
    assert_close(fastconv.col2im(probe, (7, 8), **geometry), expected_image, dtype,
                 scale=reference.col2im(np.abs(probe), (7, 8), **geometry), context=str(geometry))
