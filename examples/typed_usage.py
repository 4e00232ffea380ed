"""A small, fully typed use of fastconv: checked with `mypy --strict`.

The conv -> ReLU -> max-pool block of a CNN, its backward pass through the
compiled gradients, and one SGD step of a two-layer fastconv.nn model.
Run it:  python examples/typed_usage.py
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

import fastconv
from fastconv import nn

FloatArray = NDArray[np.floating[Any]]


def conv_block(x: FloatArray, weight: FloatArray, bias: FloatArray) -> tuple[FloatArray, FloatArray]:
    """conv2d ("same" padding, fused ReLU) then 2x2 max pooling; also returns the conv output."""
    activated = fastconv.conv2d(x, weight, bias, padding="same", activation="relu")
    pooled, _ = fastconv.max_pool2d(activated, 2, return_indices=True)
    return pooled, activated


def block_gradients(x: FloatArray, weight: FloatArray, bias: FloatArray) -> fastconv.Conv2dGrads:
    """Gradients of sum(max_pool2d(relu(conv2d(x)))) with respect to x, weight and bias."""
    conv = fastconv.conv2d(x, weight, bias, padding="same")
    activated = fastconv.relu(conv)
    pooled, indices = fastconv.max_pool2d(activated, 2, return_indices=True)
    grad_activated = fastconv.max_pool2d_backward(np.ones_like(pooled), indices, activated.shape)
    grad_conv = fastconv.relu_backward(grad_activated, conv)
    return fastconv.conv2d_backward(grad_conv, x, weight, padding="same")


def train_step(model: nn.Sequential, images: FloatArray, labels: NDArray[np.int64],
               optimizer: nn.SGD) -> float:
    """One forward/backward/update step; returns the loss before the update."""
    logits = model(images)
    loss, grad = nn.softmax_cross_entropy(logits, labels)
    model.backward(grad)
    optimizer.step(model)
    return loss


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = np.zeros(4, dtype=np.float32)

    with fastconv.threads(1):
        pooled, activated = conv_block(x, weight, bias)
    print("block output", pooled.shape, pooled.dtype, "from", activated.shape)

    grads = block_gradients(x, weight, bias)
    assert grads.input is not None and grads.weight is not None and grads.bias is not None
    print("gradients", grads.input.shape, grads.weight.shape, grads.bias.shape)

    model = nn.Sequential([
        nn.Conv2D(4, 3, padding="same", activation="relu", seed=0),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(3, seed=0),
    ])
    labels = np.array([0, 2], dtype=np.int64)
    optimizer = nn.SGD(learning_rate=0.1)
    losses = [train_step(model, x, labels, optimizer) for _ in range(5)]
    print("losses", " ".join(f"{loss:.4f}" for loss in losses))
    print(f"fastconv {fastconv.__version__} on {fastconv.get_num_threads()} threads")


if __name__ == "__main__":
    main()
