"""fastconv.nn: layer shapes and dtypes, forward against a NumPy reference, every backward
against float64 central finite differences, losses, SGD, and determinism for a seed."""
import itertools

import numpy
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastconv
from fastconv.nn import (SGD, AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential,
                         losses, mse, softmax_cross_entropy)

FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def tie_free(rng, shape, spacing=1e-2):
    """Values at least `spacing` apart and at least spacing/2 away from zero, in random order,
    so a finite-difference step never changes a max-pool winner or a ReLU's side."""
    count = int(numpy.prod(shape))
    values = (numpy.arange(count) - count // 2 + 0.5) * spacing
    return rng.permutation(values).reshape(shape)


# ---- NumPy references for the forward pass -------------------------------------------------

def same_padding(size, kernel, stride, dilation):
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - size)
    return total // 2, total - total // 2


def pads_for(padding, height, width, kernel, stride, dilation):
    if padding == "valid":
        return (0, 0), (0, 0)
    assert padding == "same"
    return (same_padding(height, kernel[0], stride[0], dilation[0]),
            same_padding(width, kernel[1], stride[1], dilation[1]))


def reference_conv(x, kernel, bias, stride, padding, dilation, groups):
    n, channels, height, width = x.shape
    filters, group_channels, kernel_h, kernel_w = kernel.shape
    (top, bottom), (left, right) = pads_for(padding, height, width, (kernel_h, kernel_w), stride, dilation)
    padded = numpy.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out_h = (height + top + bottom - dilation[0] * (kernel_h - 1) - 1) // stride[0] + 1
    out_w = (width + left + right - dilation[1] * (kernel_w - 1) - 1) // stride[1] + 1
    out = numpy.zeros((n, filters, out_h, out_w))
    filters_per_group = filters // groups
    for o, oh, ow in itertools.product(range(filters), range(out_h), range(out_w)):
        first = (o // filters_per_group) * group_channels
        rows = oh * stride[0] + dilation[0] * numpy.arange(kernel_h)
        cols = ow * stride[1] + dilation[1] * numpy.arange(kernel_w)
        window = padded[:, first:first + group_channels][:, :, rows][:, :, :, cols]
        out[:, o, oh, ow] = numpy.einsum("ncij,cij->n", window, kernel[o])
    if bias is not None:
        out += bias[None, :, None, None]
    return out


def reference_pool(x, pool, stride, padding, kind):
    """Keras pooling: padded cells never take part (max ignores them, avg does not count them)."""
    n, channels, height, width = x.shape
    (top, bottom), (left, right) = pads_for(padding, height, width, pool, stride, (1, 1))
    padded = numpy.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=numpy.nan)
    out_h = (height + top + bottom - pool[0]) // stride[0] + 1
    out_w = (width + left + right - pool[1]) // stride[1] + 1
    out = numpy.zeros((n, channels, out_h, out_w))
    reduce = numpy.nanmax if kind == "max" else numpy.nanmean
    for oh, ow in itertools.product(range(out_h), range(out_w)):
        window = padded[:, :, oh * stride[0]:oh * stride[0] + pool[0], ow * stride[1]:ow * stride[1] + pool[1]]
        out[:, :, oh, ow] = reduce(window, axis=(2, 3))
    return out


# ---- finite differences ------------------------------------------------------------------

def numeric_gradient(loss_of, array):
    """Central differences of the scalar loss_of() w.r.t. every element of `array` (in place)."""
    grad = numpy.zeros_like(array)
    for index in numpy.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + FD_STEP
        plus = loss_of()
        array[index] = saved - FD_STEP
        minus = loss_of()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * FD_STEP)
    return grad


def check_layer_gradients(layer, x, description):
    """Compares backward() with finite differences of L = sum(upstream * layer(x))."""
    rng = numpy.random.default_rng(1)
    output = layer(x)
    upstream = rng.standard_normal(output.shape)
    grad_input = layer.backward(upstream)
    assert grad_input.shape == x.shape, description
    assert grad_input.dtype == numpy.float64, description
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    assert set(analytic) == set(layer.params), description

    def loss_of():
        return float(numpy.sum(upstream * layer(x)))

    assert_allclose(grad_input, numeric_gradient(loss_of, x), rtol=FD_RTOL, atol=FD_ATOL,
                    err_msg=f"input gradient of {description}")
    for name, param in layer.params.items():
        assert analytic[name].shape == param.shape, f"{name} of {description}"
        assert_allclose(analytic[name], numeric_gradient(loss_of, param), rtol=FD_RTOL,
                        atol=FD_ATOL, err_msg=f"{name} gradient of {description}")


# ---- the lesson's models -------------------------------------------------------------------

LESSON_MODELS = {
    "conv": (lambda: Sequential([Conv2D(filters=64, kernel_size=3)]), (2, 64, 6, 6)),
    "conv-relu": (lambda: Sequential([Conv2D(filters=64, kernel_size=3, activation="relu")]),
                  (2, 64, 6, 6)),
    "conv-pool": (lambda: Sequential([Conv2D(filters=64, kernel_size=3), MaxPool2D(pool_size=2)]),
                  (2, 64, 3, 3)),
    "conv-same-pool-same": (lambda: Sequential([
        Conv2D(64, 3, strides=1, padding="same", activation="relu"),
        MaxPool2D(pool_size=2, strides=1, padding="same"),
    ]), (2, 64, 8, 8)),
}


@pytest.mark.parametrize("name", LESSON_MODELS)
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_lesson_models_build_and_run(name, dtype):
    make_model, expected_shape = LESSON_MODELS[name]
    model = make_model()
    x = numpy.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(dtype)
    output = model(x)
    description = f"model={name} dtype={numpy.dtype(dtype)}"
    assert output.shape == expected_shape, description
    assert output.dtype == dtype, description
    grad_input = model.backward(numpy.ones_like(output))
    assert grad_input.shape == x.shape and grad_input.dtype == dtype, description
    assert [p.shape for p in model.params] == [(64, 3, 3, 3), (64,)], description
    assert [g.shape for g in model.grads] == [(64, 3, 3, 3), (64,)], description
    assert all(p.dtype == dtype for p in model.params + model.grads), description


def test_lesson_edge_model_on_6x8_image():
    # The lesson's seed image through the strided/padded model keeps its 6x8 size.
    image = numpy.ones((1, 1, 6, 8), dtype=numpy.float32)
    image[..., 2:6] = 0
    model = LESSON_MODELS["conv-same-pool-same"][0]()
    assert model(image).shape == (1, 64, 6, 8)


# ---- forward against references ------------------------------------------------------------

CONV_CASES = [
    dict(filters=4, kernel_size=3, strides=1, padding="valid", dilation_rate=1, groups=1),
    dict(filters=4, kernel_size=(2, 3), strides=2, padding="same", dilation_rate=1, groups=1),
    dict(filters=3, kernel_size=3, strides=(1, 2), padding="same", dilation_rate=2, groups=1),
    dict(filters=4, kernel_size=3, strides=1, padding="valid", dilation_rate=1, groups=2),
    dict(filters=2, kernel_size=(1, 2), strides=1, padding="SAME", dilation_rate=(1, 2), groups=1),
]


def pair(value):
    return tuple(value) if isinstance(value, tuple) else (value, value)


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_forward_matches_reference(case, activation):
    rng = numpy.random.default_rng(3)
    layer = Conv2D(**case, activation=activation, seed=0)
    x = rng.standard_normal((2, 4, 7, 9))
    layer(x)  # builds the kernel, so the bias can be set before the checked call
    layer.params["bias"][:] = rng.standard_normal(case["filters"])
    output = layer(x)
    expected = reference_conv(x, layer.kernel, layer.bias, pair(case["strides"]),
                              case["padding"].lower(), pair(case["dilation_rate"]), case["groups"])
    if activation == "relu":
        expected = numpy.maximum(expected, 0)
    assert_allclose(output, expected, rtol=1e-12, atol=1e-12,
                    err_msg=f"case={case} activation={activation}")


@pytest.mark.parametrize("layer_class,kind", [(MaxPool2D, "max"), (AvgPool2D, "avg")])
@pytest.mark.parametrize("pool_size,strides,padding", [
    (2, None, "valid"), (3, 2, "valid"), (2, 1, "same"), (3, 2, "same"), ((2, 3), (1, 2), "same"),
])
def test_pooling_forward_matches_keras_semantics(layer_class, kind, pool_size, strides, padding):
    x = tie_free(numpy.random.default_rng(4), (2, 3, 7, 8))
    output = layer_class(pool_size=pool_size, strides=strides, padding=padding)(x)
    stride = pair(pool_size) if strides is None else pair(strides)
    expected = reference_pool(x, pair(pool_size), stride, padding, kind)
    assert_allclose(output, expected, rtol=1e-12, atol=1e-12,
                    err_msg=f"{kind} pool_size={pool_size} strides={strides} padding={padding}")


def test_relu_flatten_dense_forward():
    rng = numpy.random.default_rng(5)
    x = rng.standard_normal((3, 2, 4, 5))
    assert_array_equal(ReLU()(x), numpy.maximum(x, 0))
    flat = Flatten()(x)
    assert_array_equal(flat, x.reshape(3, 40))
    dense = Dense(6, activation="relu", seed=0)
    dense(flat)  # builds the kernel, so the bias can be set before the checked call
    dense.params["bias"][:] = rng.standard_normal(6)
    output = dense(flat)
    assert dense.kernel.shape == (40, 6)
    assert_allclose(output, numpy.maximum(flat @ dense.kernel + dense.bias, 0), rtol=1e-12)


# ---- gradients by finite differences -------------------------------------------------------

@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("activation,use_bias", [(None, True), ("relu", True), (None, False)])
def test_conv2d_gradients(case, activation, use_bias):
    layer = Conv2D(**case, activation=activation, use_bias=use_bias, seed=2)
    x = numpy.random.default_rng(6).standard_normal((2, 4, 6, 7))
    layer(x)
    if use_bias:
        # a bias moves pre-activations away from the ReLU kink less predictably than zero
        layer.params["bias"][:] = numpy.linspace(-0.05, 0.05, case["filters"])
    check_layer_gradients(layer, x, f"Conv2D {case} activation={activation} use_bias={use_bias}")


@pytest.mark.parametrize("layer_class", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("pool_size,strides,padding", [
    (2, None, "valid"), (3, 1, "valid"), (2, 1, "same"), (3, 2, "same"), ((2, 3), (2, 1), "same"),
])
def test_pooling_gradients(layer_class, pool_size, strides, padding):
    x = tie_free(numpy.random.default_rng(7), (2, 2, 6, 7))
    layer = layer_class(pool_size=pool_size, strides=strides, padding=padding)
    check_layer_gradients(layer, x, f"{layer_class.__name__} pool_size={pool_size} "
                                    f"strides={strides} padding={padding}")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5), (7,)])
def test_relu_gradients(shape):
    check_layer_gradients(ReLU(), tie_free(numpy.random.default_rng(8), shape), f"ReLU shape={shape}")


def test_flatten_gradients():
    check_layer_gradients(Flatten(), numpy.random.default_rng(9).standard_normal((2, 3, 2, 2)), "Flatten")


@pytest.mark.parametrize("activation,use_bias", [(None, True), ("relu", True), (None, False)])
@pytest.mark.parametrize("shape", [(4, 6), (6,)])
def test_dense_gradients(activation, use_bias, shape):
    layer = Dense(5, activation=activation, use_bias=use_bias, seed=3)
    x = numpy.random.default_rng(10).standard_normal(shape)
    check_layer_gradients(layer, x, f"Dense activation={activation} use_bias={use_bias} shape={shape}")


def small_model(seed=0):
    return Sequential([
        Conv2D(3, 3, padding="same", activation="relu", seed=seed),
        MaxPool2D(pool_size=2),
        Conv2D(4, 2, strides=1, seed=seed + 1),
        ReLU(),
        AvgPool2D(pool_size=2, strides=1, padding="same"),
        Flatten(),
        Dense(5, activation="relu", seed=seed + 2),
        Dense(3, seed=seed + 3),
    ])


def test_sequential_gradients_with_cross_entropy():
    model = small_model()
    rng = numpy.random.default_rng(11)
    x = rng.standard_normal((3, 2, 6, 6))
    labels = numpy.array([0, 2, 1])
    _, grad_logits = softmax_cross_entropy(model(x), labels)
    grad_input = model.backward(grad_logits)
    analytic = [grad.copy() for grad in model.grads]
    assert len(analytic) == len(model.params) == 8

    def loss_of():
        return softmax_cross_entropy(model(x), labels)[0]

    assert_allclose(grad_input, numeric_gradient(loss_of, x), rtol=FD_RTOL, atol=FD_ATOL,
                    err_msg="input gradient of the Sequential")
    for position, (param, grad) in enumerate(zip(model.params, analytic)):
        assert_allclose(grad, numeric_gradient(loss_of, param), rtol=FD_RTOL, atol=FD_ATOL,
                        err_msg=f"gradient of Sequential param {position} shape {param.shape}")


def test_unbatched_image_matches_batch_of_one():
    rng = numpy.random.default_rng(12)
    image = rng.standard_normal((2, 5, 6))
    for layer in (Conv2D(3, 3, padding="same", activation="relu", seed=0), MaxPool2D(2),
                  AvgPool2D(2, strides=1, padding="same"), ReLU()):
        batched = layer(image[None])
        upstream = rng.standard_normal(batched.shape)
        grad_batched = layer.backward(upstream)
        grads_batched = {name: grad.copy() for name, grad in layer.grads.items()}
        single = layer(image)
        assert single.shape == batched.shape[1:], repr(layer)
        assert_allclose(single, batched[0], rtol=1e-12, err_msg=repr(layer))
        assert_allclose(layer.backward(upstream[0]), grad_batched[0], rtol=1e-12, err_msg=repr(layer))
        for name, grad in layer.grads.items():
            assert_allclose(grad, grads_batched[name], rtol=1e-12, err_msg=f"{name} of {layer!r}")


# ---- losses ------------------------------------------------------------------------------------

def test_mse_value_and_gradient():
    rng = numpy.random.default_rng(13)
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss, grad = mse(pred, target)
    assert loss == pytest.approx(numpy.mean((pred - target) ** 2), rel=1e-14)
    assert_allclose(grad, numeric_gradient(lambda: mse(pred, target)[0], pred), rtol=FD_RTOL, atol=FD_ATOL)
    assert losses.mse is mse
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
        mse(pred, target.T)


def test_softmax_cross_entropy_value_and_gradient():
    rng = numpy.random.default_rng(14)
    logits = rng.standard_normal((5, 4)) * 3
    labels = numpy.array([0, 3, 1, 1, 2])
    loss, grad = softmax_cross_entropy(logits, labels)
    probabilities = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-numpy.mean(numpy.log(probabilities[numpy.arange(5), labels])), rel=1e-12)
    assert_allclose(grad, numeric_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits),
                    rtol=FD_RTOL, atol=FD_ATOL)
    one_hot = numpy.eye(4)[labels]
    loss_one_hot, grad_one_hot = softmax_cross_entropy(logits, one_hot)
    assert loss_one_hot == pytest.approx(loss, rel=1e-14)
    assert_allclose(grad_one_hot, grad, rtol=1e-14)
    assert losses.softmax_cross_entropy is softmax_cross_entropy


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    loss, grad = softmax_cross_entropy(numpy.array([[1000.0, 0.0], [0.0, -1000.0]]), numpy.array([0, 1]))
    assert numpy.isfinite(loss) and numpy.all(numpy.isfinite(grad))
    assert loss == pytest.approx(500.0)


@pytest.mark.parametrize("labels,pattern", [
    (numpy.array([0, 4]), r"\[0, 4\).*0 to 4"),
    (numpy.array([-1, 0]), r"\[0, 4\).*-1 to 0"),
    (numpy.array([0, 1, 2]), "3 labels for 2 rows"),
    (numpy.array([0.5, 1.0]), "integer classes"),
])
def test_softmax_cross_entropy_rejects_bad_labels(labels, pattern):
    with pytest.raises(ValueError, match=pattern):
        softmax_cross_entropy(numpy.zeros((2, 4)), labels)


# ---- SGD -------------------------------------------------------------------------------------

def test_sgd_step_is_in_place_and_exact():
    model = small_model()
    x = numpy.random.default_rng(15).standard_normal((2, 2, 6, 6))
    _, grad = softmax_cross_entropy(model(x), numpy.array([1, 2]))
    model.backward(grad)
    params_before = model.params
    expected = [param - 0.1 * grad for param, grad in zip(model.params, model.grads)]
    SGD(learning_rate=0.1).step(model)
    for position, (param, before, want) in enumerate(zip(model.params, params_before, expected)):
        assert param is before, f"param {position} was replaced, not updated in place"
        assert_array_equal(param, want, err_msg=f"param {position}")


def test_sgd_step_reduces_loss():
    model = small_model(seed=4)
    rng = numpy.random.default_rng(16)
    x = rng.standard_normal((6, 2, 6, 6)).astype(numpy.float32)
    labels = numpy.array([0, 1, 2, 0, 1, 2])
    optimizer = SGD(learning_rate=0.05)
    history = []
    for _ in range(5):
        loss, grad = softmax_cross_entropy(model(x), labels)
        history.append(loss)
        model.backward(grad)
        optimizer.step(model)
    assert all(later < earlier for earlier, later in zip(history, history[1:])), history


def test_sgd_momentum_matches_keras_rule():
    layer = Dense(2, seed=0)
    x = numpy.array([[1.0, 2.0]])
    layer(x)
    start = layer.kernel.copy()
    optimizer = SGD(learning_rate=0.1, momentum=0.5)
    gradient = numpy.array([[1.0, -1.0], [2.0, 0.5]])
    layer.grads = {"kernel": gradient, "bias": numpy.zeros(2)}
    optimizer.step(layer)
    optimizer.step([layer])
    # velocity1 = -0.1 g, velocity2 = 0.5 velocity1 - 0.1 g = -0.15 g
    assert_allclose(layer.kernel, start - 0.25 * gradient, rtol=1e-15)


def test_sgd_step_before_backward_raises():
    layer = Conv2D(2, 3, seed=0)
    layer(numpy.zeros((1, 1, 4, 4)))
    with pytest.raises(RuntimeError, match="backward"):
        SGD(0.1).step(layer)


@pytest.mark.parametrize("arguments,pattern", [
    (dict(learning_rate=0), "learning_rate must be > 0, got 0.0"),
    (dict(learning_rate=0.1, momentum=1.0), "momentum must be in"),
])
def test_sgd_rejects_bad_arguments(arguments, pattern):
    with pytest.raises(ValueError, match=pattern):
        SGD(**arguments)


# ---- dtype, seeds, errors ----------------------------------------------------------------------

@pytest.mark.parametrize("input_dtype,params_dtype", [
    (numpy.float32, numpy.float32), (numpy.float64, numpy.float64),
    (numpy.float16, numpy.float32), (numpy.int64, numpy.float32),
])
def test_params_follow_first_input_dtype(input_dtype, params_dtype):
    x = numpy.ones((1, 2, 5, 5), dtype=input_dtype)
    model = Sequential([Conv2D(2, 3, seed=0), MaxPool2D(), Flatten(), Dense(3, seed=0)])
    output = model(x)
    description = f"input {numpy.dtype(input_dtype)}"
    assert output.dtype == params_dtype, description
    assert all(param.dtype == params_dtype for param in model.params), description
    grad_input = model.backward(numpy.ones_like(output))
    assert grad_input.dtype == params_dtype, description
    assert all(grad.dtype == params_dtype for grad in model.grads), description


def test_later_inputs_are_cast_to_the_layer_dtype():
    layer = Conv2D(2, 3, seed=0, dtype="float32")
    output = layer(numpy.ones((1, 1, 4, 4), dtype=numpy.float64))
    assert layer.kernel.dtype == numpy.float32 and output.dtype == numpy.float32
    with pytest.raises(TypeError, match="float16"):
        Conv2D(2, 3, dtype=numpy.float16)


def test_same_seed_same_weights_and_training():
    def train(seed):
        model = small_model(seed)
        x = numpy.random.default_rng(17).standard_normal((4, 2, 6, 6)).astype(numpy.float32)
        optimizer = SGD(0.1)
        for _ in range(3):
            _, grad = softmax_cross_entropy(model(x), numpy.array([0, 1, 2, 0]))
            model.backward(grad)
            optimizer.step(model)
        return model.params

    first, second, other = train(5), train(5), train(6)
    for position, (a, b) in enumerate(zip(first, second)):
        assert_array_equal(a, b, err_msg=f"param {position} differs between two runs with seed 5")
    assert not numpy.array_equal(first[0], other[0]), "seeds 5 and 6 gave the same first kernel"


@pytest.mark.parametrize("activation,limit", [(None, (6 / (9 * 2 + 9 * 8)) ** 0.5), ("relu", (6 / 18) ** 0.5)])
def test_kernel_initialisation_range(activation, limit):
    layer = Conv2D(8, 3, activation=activation, seed=0)
    layer(numpy.zeros((1, 2, 5, 5)))
    kernel = layer.kernel
    assert numpy.all(numpy.abs(kernel) <= limit), f"activation={activation} limit={limit}"
    assert numpy.abs(kernel).max() > 0.8 * limit, f"activation={activation} limit={limit}"
    assert_array_equal(layer.bias, numpy.zeros(8))


@pytest.mark.parametrize("make,pattern", [
    (lambda: Conv2D(0, 3), "filters must be >= 1, got 0"),
    (lambda: Conv2D(4, (1, 2, 3)), r"kernel_size must be an int or a pair \(h, w\), got \(1, 2, 3\)"),
    (lambda: Conv2D(4, 3, strides=0), "strides must be >= 1, got 0"),
    (lambda: Conv2D(4, 3, activation="tanh"), "activation must be .* got 'tanh'"),
    (lambda: Conv2D(3, 3, groups=2), r"filters \(3\) must be divisible by groups \(2\)"),
    (lambda: Conv2D(4, 3, kernel_initializer="zeros"), "kernel_initializer must be one of"),
    (lambda: MaxPool2D(pool_size=0), "pool_size must be >= 1, got 0"),
    (lambda: Dense(0), "units must be >= 1, got 0"),
])
def test_constructor_arguments_are_validated(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_call_errors_name_the_problem():
    layer = Conv2D(2, 3, groups=2, seed=0)
    with pytest.raises(ValueError, match=r"input channels \(3\) must be a positive multiple of groups \(2\)"):
        layer(numpy.zeros((1, 3, 5, 5)))
    layer(numpy.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"built for 2 input channels, got input of shape \(1, 4, 5, 5\)"):
        layer(numpy.zeros((1, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*got shape \(5, 5\)"):
        layer(numpy.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"grad has shape \(1, 2, 2, 2\), the last forward output had shape \(1, 2, 3, 3\)"):
        layer.backward(numpy.zeros((1, 2, 2, 2)))
    with pytest.raises(ValueError, match="Flatten"):
        Dense(3)(numpy.zeros((1, 2, 3, 3)))
    with pytest.raises(TypeError, match="complex"):
        ReLU()(numpy.zeros(3, dtype=complex))
    for fresh in (Conv2D(2, 3), MaxPool2D(), AvgPool2D(), ReLU(), Flatten(), Dense(2)):
        with pytest.raises(RuntimeError, match="backward called before"):
            fresh.backward(numpy.zeros((1, 2, 3, 3)))


def test_sequential_container():
    model = Sequential()
    assert len(model) == 0 and model.params == [] and "Sequential" in repr(model)
    conv = Conv2D(2, 3, seed=0)
    model.add(conv)
    model.add(Flatten())
    assert model[0] is conv and list(model) == model.layers and len(model) == 2
    assert model.grads == []
    model(numpy.zeros((1, 1, 4, 4)))
    assert model.grads == [None, None]
    with pytest.raises(TypeError, match="forward and backward"):
        model.add(numpy.zeros(3))


def test_layer_uses_fastconv_ops():
    # the layer's forward is exactly fastconv.conv2d with the Keras arguments mapped over
    rng = numpy.random.default_rng(18)
    x = rng.standard_normal((2, 4, 9, 9)).astype(numpy.float32)
    layer = Conv2D(4, 3, strides=2, padding="same", dilation_rate=1, groups=2, activation="relu", seed=0)
    output = layer(x)
    assert_array_equal(output, fastconv.conv2d(x, layer.kernel, layer.bias, stride=2, padding="same",
                                               groups=2, activation="relu"))
