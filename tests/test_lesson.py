"""The lesson's worked examples (d2l "Convolutions for Images", "Padding and
Stride", "Multiple Input and Multiple Output Channels"), with their exact numbers."""

import numpy as np
import pytest

import fastconv

X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
K = np.array([[0.0, 1.0], [2.0, 3.0]])

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_corr2d(dtype):
    result = fastconv.conv2d(X.astype(dtype), K.astype(dtype))
    assert result.dtype == dtype
    assert np.array_equal(result, [[19.0, 25.0], [37.0, 43.0]])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_multiple_input_channels(dtype):
    x2 = np.stack([X, X + 1]).astype(dtype)          # (2, 3, 3)
    k2 = np.stack([K, K + 1]).astype(dtype)[None]    # (1, 2, 2, 2): one output channel
    result = fastconv.conv2d(x2, k2)
    assert result.shape == (1, 2, 2)
    assert np.array_equal(result[0], [[56.0, 72.0], [104.0, 120.0]])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_multiple_output_channels(dtype):
    x2 = np.stack([X, X + 1]).astype(dtype)
    k2 = np.stack([K, K + 1])
    k3 = np.stack([k2, k2 + 1, k2 + 2]).astype(dtype)  # (3, 2, 2, 2)
    result = fastconv.conv2d(x2, k3)
    assert result.shape == (3, 2, 2)
    assert np.array_equal(result, [[[56.0, 72.0], [104.0, 120.0]],
                                   [[76.0, 100.0], [148.0, 172.0]],
                                   [[96.0, 128.0], [192.0, 224.0]]])


def test_padding_keeps_size(rng):
    x = rng.standard_normal((8, 8))
    assert fastconv.conv2d(x, rng.standard_normal((3, 3)), padding=1).shape == (8, 8)


@pytest.mark.parametrize("padding", [(2, 1), "same"], ids=str)
def test_rectangular_kernel_padding_keeps_size(padding, rng):
    x = rng.standard_normal((8, 8))
    assert fastconv.conv2d(x, rng.standard_normal((5, 3)), padding=padding).shape == (8, 8)


def test_stride_two_halves_size(rng):
    x = rng.standard_normal((8, 8))
    assert fastconv.conv2d(x, rng.standard_normal((3, 3)), padding=1, stride=2).shape == (4, 4)


def test_lesson_stride_example(rng):
    """kernel (3, 5), padding (0, 1), stride (3, 4) on 8x8 gives 2x2."""
    x = rng.standard_normal((8, 8))
    result = fastconv.conv2d(x, rng.standard_normal((3, 5)), padding=(0, 1), stride=(3, 4))
    assert result.shape == (2, 2)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_edge_detection(dtype):
    x = np.ones((6, 8), dtype=dtype)
    x[:, 2:6] = 0
    k = np.array([[1.0, -1.0]], dtype=dtype)
    y = fastconv.conv2d(x, k)
    expected = np.zeros((6, 7))
    expected[:, 1] = 1
    expected[:, 5] = -1
    assert y.shape == (6, 7)
    assert np.array_equal(y, expected)
    # the kernel only detects vertical edges: the transposed image has none
    transposed = fastconv.conv2d(x.T, k)
    assert transposed.shape == (8, 5)
    assert np.array_equal(transposed, np.zeros((8, 5)))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_one_by_one_conv_is_matrix_product(dtype, rng):
    x = rng.standard_normal((3, 3, 3)).astype(dtype)
    weight = rng.standard_normal((2, 3, 1, 1)).astype(dtype)
    result = fastconv.conv2d(x, weight)
    expected = (weight.reshape(2, 3).astype(np.float64) @ x.reshape(3, 9).astype(np.float64))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert result.shape == (2, 3, 3)
    np.testing.assert_allclose(result, expected.reshape(2, 3, 3), rtol=tolerance, atol=tolerance)


def test_detect_with_fused_relu():
    """The lesson's Detect step: ReLU after the edge detector keeps only the rising edge."""
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    y = fastconv.conv2d(x, np.array([[1.0, -1.0]]), activation="relu")
    expected = np.zeros((6, 7))
    expected[:, 1] = 1
    assert np.array_equal(y, expected)
