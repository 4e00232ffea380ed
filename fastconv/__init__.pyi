# Type stub of fastconv's public API (the contract in API.md); the runtime
# functions live in _ops.py, _backward.py, _threads.py, _arrays.py and _config.py.
# tests/test_typing.py checks every signature here against the runtime.
from contextlib import AbstractContextManager
from typing import Any, Iterable, Literal, NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str

__all__ = [
    "conv2d", "conv_transpose2d", "im2col", "col2im", "max_pool2d", "avg_pool2d", "relu",
    "conv2d_backward", "Conv2dGrads", "max_pool2d_backward", "avg_pool2d_backward", "relu_backward",
    "set_num_threads", "get_num_threads", "threads", "set_buffer_cache", "buffer_cache_info",
    "show_config", "__version__",
]

# Results are float32 or float64 (numpy.result_type(inputs..., float32)).
_FloatArray = NDArray[np.floating[Any]]
# int or (h, w)
_Size2 = int | tuple[int, int]
# int, (ph, pw), ((top, bottom), (left, right)), "valid" or "same" (TensorFlow's rule)
_Padding = int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] | Literal["valid", "same"]
_Needs = Literal["input", "weight", "bias"]

# ---- forward ops ---------------------------------------------------------------------------

def conv2d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: _Size2 = 1,
           padding: _Padding = 0, dilation: _Size2 = 1, groups: int = 1, *,
           activation: Literal["relu"] | None = None, out: _FloatArray | None = None) -> _FloatArray: ...
def conv_transpose2d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
                     stride: _Size2 = 1, padding: _Padding = 0, output_padding: _Size2 = 0,
                     groups: int = 1, dilation: _Size2 = 1) -> _FloatArray: ...
def im2col(x: ArrayLike, kernel_size: _Size2, dilation: _Size2 = 1, padding: _Padding = 0,
           stride: _Size2 = 1) -> _FloatArray: ...
def col2im(cols: ArrayLike, output_size: _Size2, kernel_size: _Size2, dilation: _Size2 = 1,
           padding: _Padding = 0, stride: _Size2 = 1) -> _FloatArray: ...
@overload
def max_pool2d(x: ArrayLike, kernel_size: _Size2, stride: _Size2 | None = None,
               padding: _Padding = 0, dilation: _Size2 = 1, ceil_mode: bool = False,
               return_indices: Literal[False] = False) -> _FloatArray: ...
@overload
def max_pool2d(x: ArrayLike, kernel_size: _Size2, stride: _Size2 | None = None,
               padding: _Padding = 0, dilation: _Size2 = 1, ceil_mode: bool = False, *,
               return_indices: Literal[True]) -> tuple[_FloatArray, NDArray[np.int64]]: ...
@overload
def max_pool2d(x: ArrayLike, kernel_size: _Size2, stride: _Size2 | None = None,
               padding: _Padding = 0, dilation: _Size2 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> _FloatArray | tuple[_FloatArray, NDArray[np.int64]]: ...
def avg_pool2d(x: ArrayLike, kernel_size: _Size2, stride: _Size2 | None = None,
               padding: _Padding = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> _FloatArray: ...
def relu(x: ArrayLike, *, out: _FloatArray | None = None) -> _FloatArray: ...

# ---- backward ops --------------------------------------------------------------------------

class Conv2dGrads(NamedTuple):
    """Gradients of conv2d; a field not asked for in `needs` is None."""
    input: _FloatArray | None
    weight: _FloatArray | None
    bias: _FloatArray | None

def conv2d_backward(grad_output: ArrayLike, x: ArrayLike, weight: ArrayLike, stride: _Size2 = 1,
                    padding: _Padding = 0, dilation: _Size2 = 1, groups: int = 1, *,
                    needs: _Needs | Iterable[_Needs] = ("input", "weight", "bias")) -> Conv2dGrads: ...
def max_pool2d_backward(grad_output: ArrayLike, indices: ArrayLike,
                        input_shape: tuple[int, ...]) -> _FloatArray: ...
def avg_pool2d_backward(grad_output: ArrayLike, input_shape: tuple[int, ...], kernel_size: _Size2,
                        stride: _Size2 | None = None, padding: _Padding = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: int | None = None) -> _FloatArray: ...
def relu_backward(grad_output: ArrayLike, x: ArrayLike) -> _FloatArray: ...

# ---- threads and build ---------------------------------------------------------------------

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def threads(n: int) -> AbstractContextManager[None]: ...
def set_buffer_cache(max_bytes: int) -> int: ...
def buffer_cache_info() -> dict[str, int]: ...
def show_config() -> None: ...
