"""Keras-style layers on NCHW NumPy arrays, trained with fastconv's compiled backward ops.

Design:
    Sequential([Conv2D, MaxPool2D, ..., Flatten, Dense])
        forward(x)      x -> layer 0 -> layer 1 -> ... -> y       (each layer keeps what
        backward(g)     g <- layer 0 <- layer 1 <- ... <- dL/dy    its backward needs)
    SGD.step(model)     param -= learning_rate * grad, in place, for every layer's params

* A layer's `params` and `grads` are dicts of plain NumPy arrays keyed by the Keras weight
  names ("kernel", "bias").  `params` holds the live arrays: `SGD` updates them in place, so a
  reference a user took stays current.  `backward` replaces `grads` (gradients are not
  accumulated across calls).
* The convolution, pooling and ReLU gradients come from the compiled ops
  (`conv2d_backward`, `max_pool2d_backward` fed with the indices of
  `max_pool2d(..., return_indices=True)`, `avg_pool2d_backward`, `relu_backward`); `Dense`
  is a NumPy matmul.
* dtype: a layer with weights creates them on its first call, in float64 when that input is
  float64 and in float32 otherwise (or as the `dtype=` argument says); later inputs are cast
  to that dtype, as Keras casts inputs to a layer's compute dtype.
* Layout is NCHW.  Conv2D, MaxPool2D, AvgPool2D and ReLU also take one unbatched (C, H, W)
  image and return an unbatched result; Dense takes an unbatched (features,) vector; Flatten
  always keeps axis 0 as the batch axis.
* Kernel initialisation: uniform Glorot (Keras's default), or uniform He when the layer's
  activation is "relu"; biases start at zero.  Weights are drawn from
  `numpy.random.default_rng(seed)` when the layer is built, so equal seeds give equal weights.
"""
import math
import operator
import types

import numpy

from ._backward import (
    avg_pool2d_backward,
    conv2d_backward,
    max_pool2d_backward,
    relu_backward,
)
from ._ops import avg_pool2d, conv2d, max_pool2d, relu

__all__ = [
    "Layer",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "ReLU",
    "Flatten",
    "Dense",
    "Sequential",
    "SGD",
    "mse",
    "softmax_cross_entropy",
    "losses",
]

_ACTIVATIONS = (None, "relu")
_INITIALIZERS = ("glorot_uniform", "he_uniform")


# ---- argument helpers ------------------------------------------------------------------------

def _positive_int(name, value):
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return number


def _size_pair(name, value):
    """An int or an (h, w) pair of ints >= 1, as a tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")
        return (_positive_int(name, value[0]), _positive_int(name, value[1]))
    size = _positive_int(name, value)
    return (size, size)


def _padding_arg(padding):
    # Keras spells the modes in lower case and accepts any case; numeric padding goes to the op.
    return padding.lower() if isinstance(padding, str) else padding


def _activation_arg(activation):
    if activation == "linear":
        return None
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be None, 'linear' or 'relu', got {activation!r}")
    return activation


def _dtype_arg(dtype):
    if dtype is None:
        return None
    dtype = numpy.dtype(dtype)
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _weights_dtype(input_dtype):
    return numpy.dtype(numpy.float64 if input_dtype == numpy.float64 else numpy.float32)


def _as_float_array(x, dtype=None):
    array = numpy.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"input must be a real numeric array, got dtype {array.dtype}")
    return array if dtype is None else array.astype(dtype, copy=False)


def _batched_image(layer_name, x):
    """(N, C, H, W) as is, or one (C, H, W) image as a batch of one; also says which it was."""
    if x.ndim == 4:
        return x, False
    if x.ndim == 3:
        return x[numpy.newaxis], True
    raise ValueError(
        f"{layer_name} expects NCHW input of shape (N, C, H, W) or one (C, H, W) image, "
        f"got shape {x.shape}"
    )


def _uniform_kernel(rng, shape, fan_in, fan_out, initializer, dtype):
    if initializer == "he_uniform":
        limit = math.sqrt(6.0 / fan_in)
    else:
        limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


# ---- layers ----------------------------------------------------------------------------------

class Layer:
    """Base of every layer: subclasses define `forward(x)` and `backward(grad)`; this class
    holds the `params` / `grads` dicts and the shape check of `backward`'s argument."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self._output_shape = None

    def __call__(self, x):
        return self.forward(x)

    def _grad_for_backward(self, grad, dtype):
        """Checks that backward follows a forward and that grad has the output's shape."""
        name = type(self).__name__
        if self._output_shape is None:
            raise RuntimeError(f"{name}.backward called before {name}.forward")
        grad = _as_float_array(grad, dtype)
        if grad.shape != self._output_shape:
            raise ValueError(
                f"{name}.backward: grad has shape {grad.shape}, "
                f"the last forward output had shape {self._output_shape}"
            )
        return grad

    def __repr__(self):
        return f"{type(self).__name__}()"


class _WeightedLayer(Layer):
    """A layer with a kernel and an optional bias (Conv2D, Dense), created on the first call."""

    def _configure_weights(self, activation, use_bias, seed, kernel_initializer, dtype):
        self.activation = _activation_arg(activation)
        self.use_bias = bool(use_bias)
        if kernel_initializer is None:
            kernel_initializer = "he_uniform" if self.activation == "relu" else "glorot_uniform"
        if kernel_initializer not in _INITIALIZERS:
            raise ValueError(
                f"kernel_initializer must be one of {_INITIALIZERS}, got {kernel_initializer!r}"
            )
        self.kernel_initializer = kernel_initializer
        self.dtype = _dtype_arg(dtype)
        self._rng = numpy.random.default_rng(seed)
        self._input = None
        self._output = None
        self._unbatched = False

    def _finish_forward(self, batch, output):
        """Keeps what backward needs and returns output shaped like the input."""
        self._input = batch
        # relu_backward only needs to know where the output is positive: the output says that.
        self._output = output if self.activation == "relu" else None
        self._output_shape = output.shape[1:] if self._unbatched else output.shape
        return output[0] if self._unbatched else output

    def _start_backward(self, grad):
        """grad as a batch, through the fused activation: the gradient at the pre-activation."""
        grad = self._grad_for_backward(grad, self.dtype)
        if self._unbatched:
            grad = grad[numpy.newaxis]
        if self.activation == "relu":
            grad = relu_backward(grad, self._output)
        return grad

    @property
    def built(self):
        return "kernel" in self.params

    @property
    def kernel(self):
        return self.params.get("kernel")

    @property
    def bias(self):
        return self.params.get("bias")


class Conv2D(_WeightedLayer):
    """2-D convolution layer (cross-correlation, like Keras and torch) on NCHW input.

    kernel: (filters, in_channels // groups, KH, KW); bias: (filters,).  in_channels is taken
    from the first input.  padding: "valid", "same" (TensorFlow's rule) or any numeric padding
    `fastconv.conv2d` accepts.  activation: None or "relu" (fused into the convolution).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
                 groups=1, activation=None, use_bias=True, seed=None, *,
                 kernel_initializer=None, dtype=None):
        super().__init__()
        self.filters = _positive_int("filters", filters)
        self.kernel_size = _size_pair("kernel_size", kernel_size)
        self.strides = _size_pair("strides", strides)
        self.padding = _padding_arg(padding)
        self.dilation_rate = _size_pair("dilation_rate", dilation_rate)
        self.groups = _positive_int("groups", groups)
        if self.filters % self.groups:
            raise ValueError(f"filters ({filters}) must be divisible by groups ({groups})")
        self._configure_weights(activation, use_bias, seed, kernel_initializer, dtype)

    def build(self, input_shape, dtype=None):
        """Creates kernel (and bias) for inputs of shape (N, C, H, W) or (C, H, W)."""
        if len(input_shape) not in (3, 4):
            raise ValueError(f"Conv2D input_shape must be (N, C, H, W) or (C, H, W), got {input_shape}")
        in_channels = input_shape[-3]
        if in_channels < 1 or in_channels % self.groups:
            raise ValueError(
                f"Conv2D: input channels ({in_channels}) must be a positive multiple of "
                f"groups ({self.groups})"
            )
        if self.dtype is None:
            self.dtype = _weights_dtype(numpy.dtype(numpy.float32 if dtype is None else dtype))
        kernel_h, kernel_w = self.kernel_size
        receptive_field = kernel_h * kernel_w
        shape = (self.filters, in_channels // self.groups, kernel_h, kernel_w)
        self.params["kernel"] = _uniform_kernel(
            self._rng, shape,
            fan_in=receptive_field * (in_channels // self.groups),
            fan_out=receptive_field * self.filters,
            initializer=self.kernel_initializer, dtype=self.dtype,
        )
        if self.use_bias:
            self.params["bias"] = numpy.zeros(self.filters, dtype=self.dtype)

    def forward(self, x):
        x = _as_float_array(x)
        batch, self._unbatched = _batched_image("Conv2D", x)
        if not self.built:
            self.build(batch.shape, dtype=batch.dtype)
        batch = batch.astype(self.dtype, copy=False)
        expected_channels = self.kernel.shape[1] * self.groups
        if batch.shape[1] != expected_channels:
            raise ValueError(
                f"Conv2D was built for {expected_channels} input channels, got input of shape {x.shape}"
            )
        output = conv2d(batch, self.kernel, self.bias, stride=self.strides, padding=self.padding,
                        dilation=self.dilation_rate, groups=self.groups,
                        activation=self.activation)
        return self._finish_forward(batch, output)

    def backward(self, grad):
        grad = self._start_backward(grad)
        needs = ("input", "weight", "bias") if self.use_bias else ("input", "weight")
        grads = conv2d_backward(grad, self._input, self.kernel, stride=self.strides,
                                padding=self.padding, dilation=self.dilation_rate,
                                groups=self.groups, needs=needs)
        self.grads = {"kernel": grads.weight}
        if self.use_bias:
            self.grads["bias"] = grads.bias
        return grads.input[0] if self._unbatched else grads.input

    def __repr__(self):
        return (f"Conv2D(filters={self.filters}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, padding={self.padding!r}, "
                f"dilation_rate={self.dilation_rate}, groups={self.groups}, "
                f"activation={self.activation!r}, use_bias={self.use_bias})")


class _Pool2D(Layer):
    """Shared argument handling of MaxPool2D and AvgPool2D (Keras names, torch semantics)."""

    def __init__(self, pool_size=2, strides=None, padding="valid"):
        super().__init__()
        self.pool_size = _size_pair("pool_size", pool_size)
        self.strides = self.pool_size if strides is None else _size_pair("strides", strides)
        self.padding = _padding_arg(padding)
        self._dtype = None
        self._input_shape = None
        self._unbatched = False

    def _prepare(self, x):
        x = _as_float_array(x)
        batch, self._unbatched = _batched_image(type(self).__name__, x)
        # the pooling ops compute in float32 for anything that is not float64
        self._dtype = _weights_dtype(batch.dtype)
        return batch.astype(self._dtype, copy=False)

    def _finish(self, batch, output):
        self._input_shape = batch.shape
        self._output_shape = output.shape[1:] if self._unbatched else output.shape
        return output[0] if self._unbatched else output

    def _grad(self, grad):
        grad = self._grad_for_backward(grad, self._dtype)
        return grad[numpy.newaxis] if self._unbatched else grad

    def __repr__(self):
        return (f"{type(self).__name__}(pool_size={self.pool_size}, strides={self.strides}, "
                f"padding={self.padding!r})")


class MaxPool2D(_Pool2D):
    """Max pooling; padded cells never win (they count as -inf).  strides=None: pool_size."""

    def forward(self, x):
        batch = self._prepare(x)
        output, self._indices = max_pool2d(batch, self.pool_size, stride=self.strides,
                                           padding=self.padding, return_indices=True)
        return self._finish(batch, output)

    def backward(self, grad):
        grad_input = max_pool2d_backward(self._grad(grad), self._indices, self._input_shape)
        return grad_input[0] if self._unbatched else grad_input


class AvgPool2D(_Pool2D):
    """Average pooling; with padding="same" padded cells are not counted (TensorFlow's rule)."""

    def forward(self, x):
        batch = self._prepare(x)
        output = avg_pool2d(batch, self.pool_size, stride=self.strides, padding=self.padding)
        return self._finish(batch, output)

    def backward(self, grad):
        grad_input = avg_pool2d_backward(self._grad(grad), self._input_shape, self.pool_size,
                                         stride=self.strides, padding=self.padding)
        return grad_input[0] if self._unbatched else grad_input


class ReLU(Layer):
    """max(x, 0) elementwise, on an array of any shape."""

    def __init__(self):
        super().__init__()
        self._output = None
        self._dtype = None

    def forward(self, x):
        output = relu(_as_float_array(x))
        self._output = output
        self._dtype = output.dtype
        self._output_shape = output.shape
        return output

    def backward(self, grad):
        grad = self._grad_for_backward(grad, self._dtype)
        return relu_backward(grad, self._output)


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); axis 0 is always the batch axis."""

    def forward(self, x):
        x = numpy.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten expects a batch of shape (N, ...), got shape {x.shape}")
        self._input_shape = x.shape
        output = x.reshape(x.shape[0], -1)
        self._output_shape = output.shape
        return output

    def backward(self, grad):
        grad = self._grad_for_backward(grad, None)
        return grad.reshape(self._input_shape)


class Dense(_WeightedLayer):
    """Fully connected layer: y = x @ kernel + bias, kernel (in_features, units) as in Keras."""

    def __init__(self, units, activation=None, use_bias=True, seed=None, *,
                 kernel_initializer=None, dtype=None):
        super().__init__()
        self.units = _positive_int("units", units)
        self._configure_weights(activation, use_bias, seed, kernel_initializer, dtype)

    def build(self, input_shape, dtype=None):
        """Creates kernel (and bias) for inputs of shape (N, in_features) or (in_features,)."""
        in_features = input_shape[-1]
        if self.dtype is None:
            self.dtype = _weights_dtype(numpy.dtype(numpy.float32 if dtype is None else dtype))
        self.params["kernel"] = _uniform_kernel(
            self._rng, (in_features, self.units), fan_in=in_features, fan_out=self.units,
            initializer=self.kernel_initializer, dtype=self.dtype,
        )
        if self.use_bias:
            self.params["bias"] = numpy.zeros(self.units, dtype=self.dtype)

    def forward(self, x):
        x = _as_float_array(x)
        if x.ndim not in (1, 2):
            raise ValueError(
                f"Dense expects input of shape (N, features) or (features,), got shape {x.shape}"
                " (put a Flatten layer before it)"
            )
        self._unbatched = x.ndim == 1
        batch = x[numpy.newaxis] if self._unbatched else x
        if not self.built:
            self.build(batch.shape, dtype=batch.dtype)
        batch = batch.astype(self.dtype, copy=False)
        if batch.shape[1] != self.kernel.shape[0]:
            raise ValueError(
                f"Dense was built for {self.kernel.shape[0]} input features, got input of shape {x.shape}"
            )
        output = batch @ self.kernel
        if self.use_bias:
            output += self.bias
        if self.activation == "relu":
            output = relu(output)
        return self._finish_forward(batch, output)

    def backward(self, grad):
        grad = self._start_backward(grad)
        self.grads = {"kernel": self._input.T @ grad}
        if self.use_bias:
            self.grads["bias"] = grad.sum(axis=0)
        grad_input = grad @ self.kernel.T
        return grad_input[0] if self._unbatched else grad_input

    def __repr__(self):
        return (f"Dense(units={self.units}, activation={self.activation!r}, "
                f"use_bias={self.use_bias})")


class Sequential:
    """A stack of layers: forward runs them in order, backward in reverse."""

    def __init__(self, layers=()):
        self.layers = []
        for layer in layers:
            self.add(layer)

    def add(self, layer):
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            raise TypeError(f"Sequential.add expects a layer with forward and backward, got {layer!r}")
        self.layers.append(layer)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, grad):
        """Propagates dL/d(output) back through every layer; returns dL/d(input)."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    @property
    def params(self):
        """Every layer's parameter arrays, in layer order (the live arrays)."""
        return [param for layer in self.layers for param in layer.params.values()]

    @property
    def grads(self):
        """The gradients matching `params` one to one (None before the first backward)."""
        return [layer.grads.get(name) for layer in self.layers for name in layer.params]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __repr__(self):
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n])" if self.layers else "Sequential([])"


def _layers_of(model):
    if isinstance(model, Sequential):
        return model.layers
    if isinstance(model, Layer) or hasattr(model, "params"):
        return [model]
    return list(model)


class SGD:
    """Stochastic gradient descent: param -= learning_rate * grad (with optional momentum).

    momentum follows Keras: velocity = momentum * velocity - learning_rate * grad,
    param += velocity.  Parameters are updated in place.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0):
        learning_rate = float(learning_rate)
        momentum = float(momentum)
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.learning_rate = learning_rate
        self.momentum = momentum
        # id(param) -> (param, velocity); holding param keeps its id from being reused
        self._velocities = {}

    def step(self, model):
        """Updates the params of a Sequential, one layer, or an iterable of layers."""
        for layer in _layers_of(model):
            for name, param in layer.params.items():
                grad = layer.grads.get(name)
                if grad is None:
                    raise RuntimeError(
                        f"{type(layer).__name__} has no gradient for {name!r}: "
                        "call backward() before step()"
                    )
                if self.momentum:
                    _, velocity = self._velocities.setdefault(
                        id(param), (param, numpy.zeros_like(param)))
                    velocity *= self.momentum
                    velocity -= self.learning_rate * grad
                    param += velocity
                else:
                    param -= self.learning_rate * grad


# ---- losses ----------------------------------------------------------------------------------

def mse(pred, target):
    """Mean squared error over every element: returns (loss, dloss/dpred)."""
    pred = _as_float_array(pred)
    pred = pred.astype(_weights_dtype(pred.dtype), copy=False)
    target = _as_float_array(target)
    if pred.shape != target.shape:
        raise ValueError(f"mse: pred shape {pred.shape} differs from target shape {target.shape}")
    if pred.size == 0:
        raise ValueError("mse: pred is empty")
    diff = pred - target.astype(pred.dtype, copy=False)
    loss = float(numpy.mean(numpy.square(diff)))
    return loss, diff * (2.0 / diff.size)


def softmax_cross_entropy(logits, labels):
    """Mean over the batch of -log softmax(logits)[label]: returns (loss, dloss/dlogits).

    logits: (N, K).  labels: N integer classes in [0, K), or an (N, K) array of target
    probabilities (one-hot rows, for instance).
    """
    logits = _as_float_array(logits)
    logits = logits.astype(_weights_dtype(logits.dtype), copy=False)
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"softmax_cross_entropy: logits must be (N, K) with N, K >= 1, got shape {logits.shape}")
    batch_size, num_classes = logits.shape
    labels = numpy.asarray(labels)
    if labels.ndim == 1 and labels.dtype.kind in "iu":
        if labels.shape[0] != batch_size:
            raise ValueError(
                f"softmax_cross_entropy: {labels.shape[0]} labels for {batch_size} rows of logits"
            )
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f"softmax_cross_entropy: labels must be in [0, {num_classes}), "
                f"got values from {labels.min()} to {labels.max()}"
            )
        targets = numpy.zeros_like(logits)
        targets[numpy.arange(batch_size), labels] = 1
    elif labels.shape == logits.shape and labels.dtype.kind in "biuf":
        targets = labels.astype(logits.dtype)
    else:
        raise ValueError(
            "softmax_cross_entropy: labels must be N integer classes or an (N, K) array of "
            f"probabilities; got shape {labels.shape}, dtype {labels.dtype} for logits {logits.shape}"
        )
    # log-sum-exp after subtracting the row maximum: exp never overflows
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = numpy.log(numpy.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_sum
    loss = float(-(targets * log_probs).sum() / batch_size)
    grad = (numpy.exp(log_probs) - targets) / batch_size
    return loss, grad


losses = types.SimpleNamespace(mse=mse, softmax_cross_entropy=softmax_cross_entropy)
