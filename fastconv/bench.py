"""`fastconv bench`: fastconv's kernels timed against NumPy, SciPy and PyTorch on the layer suite.

Design
------
    ceilings ──> peak FMA GFLOP/s (C probe, per dtype and thread count)
                 copy GB/s (NumPy copy of 64 MB, read + write bytes)
                 measured before and after the suite, the best of the two is quoted
    suite    ──> for each thread count, case, mode:
                   contenders = fastconv + the peers that apply
                   every result checked against fastconv's once (a fast wrong answer is no result)
                   round-robin timing: repeat x (each contender one sample) -> medians
                   rate (GFLOP/s or GB/s), % of ceiling, speedup = peer time / fastconv time
    scaling  ──> with several thread counts: fastconv alone per conv case and mode, each
                 round timing every thread count in turn -> speedup over the fewest threads
                 (ratio of medians) and the spread of the per-round ratios
    extras   ──> the lesson's 6x8 edge case as one full Python call; peak memory of one
                 conv2d on vgg-64x56 (child processes, VmHWM / ru_maxrss)

Contenders run interleaved in one process so that drift of a shared machine hits all of them
alike; medians ignore the odd preempted sample.  Each sample loops a contender enough times to
last a few milliseconds, so microsecond calls are measured above the clock's resolution, and
follows WARMUP_SECONDS of untimed runs of the same contender, so that it times the steady
state rather than the core's recovery from the contender before.

Counting: conv forward flops are conv_flops() of the suite (2 x multiply-adds); forward +
backward counts 3x forward (each of grad_input and grad_weight costs about one forward).
Pooling bytes are what a pass must touch: forward reads x and writes y, backward reads
grad_y and writes grad_x (index arrays are an implementation choice and not counted).
"""
import argparse
import gc
import importlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

import fastconv
from fastconv import _core
from fastconv._bench_layers import CONV, POOL, conv_flops, out_size

PROBE_SECONDS = 0.2
COPY_BYTES = 64 * 2**20
# The NumPy reference materialises every window (im2col); beyond this it only adds minutes.
NUMPY_MAX_CONV_FLOPS = 1.2e8
NUMPY_MAX_POOL_WINDOW_ELEMENTS = 3e7
MEMORY_CASE = "vgg-64x56"
MIN_SAMPLE_SECONDS = 0.005
# Before each timed sample its contender runs untimed for this long, so that every sample sees
# the steady state rather than the switch from the previous contender.  A core slows down for
# milliseconds after other work or an idle pause (measured here, cifar-3to64 forward on one
# thread, 0.75 ms a call back to back: after 3 ms of a busy Python loop the next calls took
# 1.16, 0.95, 0.87, 0.82 ms; after a 3 ms sleep 1.51, 1.39, 1.23 and still 1.00 at the eighth),
# a fixed cost in time that a contender finishing its sample in fewer milliseconds pays a
# larger share of.  The warm-up also outlasts the OpenMP workers of the contender that ran
# before (fastconv's and torch's are different runtimes), which keep spinning for a few ms
# after their last parallel region.
WARMUP_SECONDS = 0.02
QUICK_WARMUP_SECONDS = 0.005
TOLERANCE = {"float32": 2e-4, "float64": 1e-10}
LESSON_EDGE_CASE = "lesson-edge-6x8-call"


# --------------------------------------------------------------------------- optional peers

def _optional_import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _load_peers():
    """The peer libraries this Python has: {"scipy": module or None, "torch": ..., ...}."""
    scipy_ndimage = _optional_import("scipy.ndimage")   # imports scipy and its ndimage
    return {"scipy": sys.modules["scipy"] if scipy_ndimage else None,
            "torch": _optional_import("torch"),
            "threadpoolctl": _optional_import("threadpoolctl")}


# --------------------------------------------------------------------------- ceilings

def measure_peak_gflops(dtype_name, seconds=PROBE_SECONDS):
    """Best FMA rate of the probe on fastconv's current threads, in GFLOP/s."""
    # Many ~10 ms runs, the best is the ceiling: on a shared machine a run that short often has
    # its cores to itself for the whole run, a long one rarely does.
    run_seconds = 0.01
    rounds = 1000
    while True:
        start = time.perf_counter()
        _core.probe_fma_flops(dtype_name, rounds)
        elapsed = time.perf_counter() - start
        if elapsed >= run_seconds / 2:
            break
        rounds *= 2
    rounds = max(1, int(rounds * run_seconds / elapsed))
    best = 0.0
    for _ in range(max(1, round(seconds / run_seconds))):
        start = time.perf_counter()
        flops = _core.probe_fma_flops(dtype_name, rounds)
        best = max(best, flops / (time.perf_counter() - start))
    return best / 1e9


def _wider_simd_than(probe_simd):
    """AVX-512 when this CPU has it but the probe (so fastconv) runs narrower, else None
    (Linux x86 only: read from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None
    return "AVX-512" if probe_simd != "avx512f" and "avx512f" in flags else None


def measure_copy_gbps(nbytes=COPY_BYTES, samples=5):
    """Best NumPy copy bandwidth (one thread), counting bytes read + written, in GB/s."""
    source = np.ones(nbytes // 8, dtype=np.float64)
    destination = np.empty_like(source)
    np.copyto(destination, source)
    best = math.inf
    for _ in range(samples):
        start = time.perf_counter()
        np.copyto(destination, source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.nbytes / best / 1e9


# --------------------------------------------------------------------------- NumPy references

def numpy_conv2d(x, weight, bias, stride, padding, dilation, groups):
    """Plain NumPy conv (sliding windows + einsum): the textbook im2col reference."""
    c = x.shape[1]
    out_channels, _, kernel_h, kernel_w = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    span_h, span_w = dilation * (kernel_h - 1) + 1, dilation * (kernel_w - 1) + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (span_h, span_w), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride, ::dilation, ::dilation]
    per_group_in, per_group_out = c // groups, out_channels // groups
    parts = [
        np.einsum("nchwij,ocij->nohw",
                  windows[:, g * per_group_in:(g + 1) * per_group_in],
                  weight[g * per_group_out:(g + 1) * per_group_out], optimize=True)
        for g in range(groups)
    ]
    y = parts[0] if groups == 1 else np.concatenate(parts, axis=1)
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y


def numpy_pool2d(x, kind, kernel, stride, padding):
    """Plain NumPy pooling over sliding windows (avg counts padding, like count_include_pad)."""
    fill = -np.inf if kind == "max" else 0.0
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                    constant_values=fill)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    return windows.max(axis=(4, 5)) if kind == "max" else windows.mean(axis=(4, 5))


def lesson_corr2d(image, kernel):
    """The lesson's corr2d: a Python double loop over output positions."""
    kernel_h, kernel_w = kernel.shape
    out = np.zeros((image.shape[0] - kernel_h + 1, image.shape[1] - kernel_w + 1), image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i:i + kernel_h, j:j + kernel_w] * kernel).sum()
    return out


# --------------------------------------------------------------------------- contenders

@dataclass
class Contender:
    name: str
    run: object                    # () -> result
    to_numpy: object = None        # result -> ndarray or tuple of ndarrays, for the check
    samples: list = field(default_factory=list)
    number: int = 1
    max_error: float = 0.0
    agrees: bool = True


def _as_numpy(result):
    if isinstance(result, (tuple, list)):
        return tuple(_as_numpy(r) for r in result)
    if hasattr(result, "detach"):
        return result.detach().contiguous().numpy()
    return np.asarray(result)


def _relative_error(result, expected):
    """Largest difference relative to the largest expected magnitude (at least 1)."""
    if isinstance(expected, tuple):
        return max(_relative_error(r, e) for r, e in zip(result, expected))
    if result.shape != expected.shape:
        return math.inf
    if expected.size == 0:
        return 0.0
    difference = np.max(np.abs(result.astype(np.float64) - expected))
    return float(difference) / max(1.0, float(np.max(np.abs(expected))))


def conv_contenders(case, mode, dtype, rng, peers):
    """fastconv and every peer that applies to this conv case and mode."""
    _, x_shape, w_shape, stride, padding, dilation, groups = case
    x = rng.uniform(-1, 1, x_shape).astype(dtype)
    weight = rng.uniform(-1, 1, w_shape).astype(dtype)
    bias = rng.uniform(-1, 1, w_shape[0]).astype(dtype)
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    torch = peers["torch"]
    contenders = []
    if mode == "forward":
        contenders.append(Contender("fastconv", lambda: fastconv.conv2d(x, weight, **geometry)))
        if conv_flops(case) <= NUMPY_MAX_CONV_FLOPS:
            contenders.append(Contender(
                "numpy-ref", lambda: numpy_conv2d(x, weight, None, stride, padding, dilation, groups)))
        scipy = peers["scipy"]
        n, c, height, width = x_shape
        out_channels, _, kernel_h, kernel_w = w_shape
        single_channel = n == 1 and c == 1 and out_channels == 1
        if scipy is not None and single_channel and stride == 1 and dilation == 1:
            # correlate() centres the kernel at k // 2 and zero-fills (mode="constant"):
            # conv output row r is its row r - padding + k // 2.
            top, left = kernel_h // 2 - padding, kernel_w // 2 - padding
            out_h = height + 2 * padding - kernel_h + 1
            out_w = width + 2 * padding - kernel_w + 1
            if top >= 0 and left >= 0 and top + out_h <= height and left + out_w <= width:
                image, kernel = x[0, 0], weight[0, 0]
                contenders.append(Contender(
                    "scipy",
                    lambda: scipy.ndimage.correlate(image, kernel, mode="constant", cval=0.0)
                    [top:top + out_h, left:left + out_w],
                    to_numpy=lambda r: r[None, None]))
        if torch is not None:
            functional = torch.nn.functional
            for layout, memory_format in (("nchw", torch.contiguous_format),
                                          ("nhwc", torch.channels_last)):
                xt = torch.from_numpy(x).contiguous(memory_format=memory_format)
                wt = torch.from_numpy(weight).contiguous(memory_format=memory_format)

                def run(xt=xt, wt=wt):
                    with torch.no_grad():
                        return functional.conv2d(xt, wt, None, stride, padding, dilation, groups)
                contenders.append(Contender(f"torch-{layout}", run, to_numpy=_as_numpy))
        return contenders

    grad_y = rng.uniform(-1, 1, fastconv.conv2d(x, weight, bias, **geometry).shape).astype(dtype)

    def fastconv_train_step():
        fastconv.conv2d(x, weight, bias, **geometry)   # the forward pass a training step runs first
        return fastconv.conv2d_backward(grad_y, x, weight, **geometry)

    contenders.append(Contender("fastconv", fastconv_train_step,
                                to_numpy=lambda g: (g.input, g.weight, g.bias)))
    if torch is not None:
        functional = torch.nn.functional
        for layout, memory_format in (("nchw", torch.contiguous_format),
                                      ("nhwc", torch.channels_last)):
            xt = torch.from_numpy(x).contiguous(memory_format=memory_format).requires_grad_()
            wt = torch.from_numpy(weight).contiguous(memory_format=memory_format).requires_grad_()
            bt = torch.from_numpy(bias).clone().requires_grad_()
            gyt = torch.from_numpy(grad_y).contiguous(memory_format=memory_format)

            def run(xt=xt, wt=wt, bt=bt, gyt=gyt):
                xt.grad = wt.grad = bt.grad = None
                functional.conv2d(xt, wt, bt, stride, padding, dilation, groups).backward(gyt)
                return xt.grad, wt.grad, bt.grad
            contenders.append(Contender(f"torch-{layout}", run, to_numpy=_as_numpy))
    return contenders


def pool_contenders(case, mode, dtype, rng, peers):
    """fastconv and every peer that applies to this pooling case and mode."""
    _, x_shape, kind, kernel, stride, padding = case
    size = int(np.prod(x_shape))
    # Distinct values (exact in float32 for the suite's sizes): max pooling has no ties to break.
    x = (rng.permutation(size) / size * 2 - 1).reshape(x_shape).astype(dtype)
    torch = peers["torch"]
    fastconv_pool = fastconv.max_pool2d if kind == "max" else fastconv.avg_pool2d
    contenders = []
    if mode == "forward":
        contenders.append(Contender("fastconv", lambda: fastconv_pool(x, kernel, stride, padding)))
        window_elements = x.size * kernel * kernel / (stride * stride)
        if window_elements <= NUMPY_MAX_POOL_WINDOW_ELEMENTS:
            contenders.append(Contender("numpy-ref",
                                        lambda: numpy_pool2d(x, kind, kernel, stride, padding)))
        if torch is not None:
            torch_pool = getattr(torch.nn.functional, f"{kind}_pool2d")
            for layout, memory_format in (("nchw", torch.contiguous_format),
                                          ("nhwc", torch.channels_last)):
                xt = torch.from_numpy(x).contiguous(memory_format=memory_format)

                def run(xt=xt):
                    with torch.no_grad():
                        return torch_pool(xt, kernel, stride, padding)
                contenders.append(Contender(f"torch-{layout}", run, to_numpy=_as_numpy))
        return contenders

    grad_y = rng.uniform(-1, 1, fastconv_pool(x, kernel, stride, padding).shape).astype(dtype)
    if kind == "max":
        def fastconv_train_step():
            _, indices = fastconv.max_pool2d(x, kernel, stride, padding, return_indices=True)
            return fastconv.max_pool2d_backward(grad_y, indices, x.shape)
    else:
        def fastconv_train_step():
            fastconv.avg_pool2d(x, kernel, stride, padding)   # the forward pass comes first
            return fastconv.avg_pool2d_backward(grad_y, x.shape, kernel, stride, padding)
    contenders.append(Contender("fastconv", fastconv_train_step))
    if torch is not None:
        torch_pool = getattr(torch.nn.functional, f"{kind}_pool2d")
        for layout, memory_format in (("nchw", torch.contiguous_format),
                                      ("nhwc", torch.channels_last)):
            xt = torch.from_numpy(x).contiguous(memory_format=memory_format).requires_grad_()
            gyt = torch.from_numpy(grad_y).contiguous(memory_format=memory_format)

            def run(xt=xt, gyt=gyt):
                xt.grad = None
                torch_pool(xt, kernel, stride, padding).backward(gyt)
                return xt.grad
            contenders.append(Contender(f"torch-{layout}", run, to_numpy=_as_numpy))
    return contenders


def edge_case_contenders(dtype, peers):
    """The lesson's first example as users write it: a 6x8 image with a vertical edge,
    the 1x2 kernel [[1, -1]], one call on 2-D arrays.  Measures per-call overhead."""
    image = np.ones((6, 8), dtype=dtype)
    image[:, 2:6] = 0
    kernel = np.array([[1.0, -1.0]], dtype=dtype)
    contenders = [Contender("fastconv", lambda: fastconv.conv2d(image, kernel)),
                  Contender("lesson-loop", lambda: lesson_corr2d(image, kernel))]
    scipy = peers["scipy"]
    if scipy is not None:
        # Kernel width 2 is centred on its second column: valid output column j is column j + 1.
        contenders.append(Contender(
            "scipy", lambda: scipy.ndimage.correlate(image, kernel, mode="constant")[:, 1:]))
    torch = peers["torch"]
    if torch is not None:
        def run():
            with torch.no_grad():
                return torch.nn.functional.conv2d(torch.from_numpy(image)[None, None],
                                                  torch.from_numpy(kernel)[None, None])[0, 0]
        contenders.append(Contender("torch", run, to_numpy=_as_numpy))
    return contenders


# --------------------------------------------------------------------------- timing

def _calibrate(contender):
    """Runs the contender twice, a warm-up (lazy set-up, first touch) and a timed call that
    picks its loop count per sample; returns the result."""
    contender.run()
    start = time.perf_counter()
    result = contender.run()
    elapsed = time.perf_counter() - start
    contender.number = max(1, math.ceil(MIN_SAMPLE_SECONDS / max(elapsed, 1e-7)))
    return result


def _warm_up(run, seconds):
    """Calls run() untimed, at least once, until `seconds` have passed."""
    until = time.perf_counter() + seconds
    run()
    while time.perf_counter() < until:
        run()


def check_and_time(contenders, repeat, dtype_name, warmup_seconds=0.0):
    """Checks every contender against the first (fastconv), then times them round-robin,
    each sample right after the same contender has run untimed for warmup_seconds (at least
    one call when warmup_seconds > 0)."""
    expected = None
    for contender in contenders:
        result = _calibrate(contender)
        converted = contender.to_numpy(result) if contender.to_numpy else _as_numpy(result)
        if expected is None:
            expected = converted
            continue
        contender.max_error = _relative_error(converted, expected)
        contender.agrees = contender.max_error <= TOLERANCE[dtype_name]
    del result, converted, expected
    for _ in range(repeat):
        for contender in contenders:
            run, number = contender.run, contender.number
            if warmup_seconds > 0:
                _warm_up(run, warmup_seconds)
            start = time.perf_counter()
            for _ in range(number):
                run()
            contender.samples.append((time.perf_counter() - start) / number)


def pool_pass_bytes(case, dtype_name):
    """Bytes one pooling pass must move: read the input, write the output."""
    _, (n, c, height, width), _, kernel, stride, padding = case
    out_h, out_w = (out_size(size, kernel, stride, padding, 1) for size in (height, width))
    return (n * c * (height * width + out_h * out_w)) * np.dtype(dtype_name).itemsize


def summarise(contenders, case_name, kind, mode, threads, dtype_name, work):
    """Result rows: work is the flops (conv) or bytes (pool) of one call (None: no rate).
    percent_of_ceiling is filled in by add_percentages once the ceilings are final."""
    baseline = statistics.median(contenders[0].samples)
    rows = []
    for contender in contenders:
        median = statistics.median(contender.samples)
        rate = work / median / 1e9 if work else None
        rows.append({
            "case": case_name, "kind": kind, "mode": mode, "threads": threads, "dtype": dtype_name,
            "contender": contender.name, "median_s": median, "samples_s": contender.samples,
            "calls_per_sample": contender.number,
            "rate": rate, "rate_unit": {"conv": "GFLOP/s", "pool": "GB/s"}.get(kind),
            "percent_of_ceiling": None,
            "speedup": None if contender is contenders[0] else median / baseline,
            "agrees": contender.agrees, "max_error": contender.max_error,
        })
    return rows


# --------------------------------------------------------------------------- peak memory

_MEMORY_CHILD = r"""
import gc, json, os, sys
import numpy as np
spec = json.loads(sys.argv[1])

def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])

def maxrss_kb():
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak   # macOS reports bytes

rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, spec["x_shape"]).astype(spec["dtype"])
weight = rng.uniform(-1, 1, spec["w_shape"]).astype(spec["dtype"])
geometry = spec["geometry"]
if spec["contender"] == "fastconv":
    import fastconv
    fastconv.set_num_threads(spec["threads"])
    # what one call needs: the warm-up call's output is not kept to be handed back
    fastconv.set_buffer_cache(0)
    op = lambda: fastconv.conv2d(x, weight, **geometry)
elif spec["contender"] == "numpy-ref":
    from fastconv.bench import numpy_conv2d
    op = lambda: numpy_conv2d(x, weight, None, geometry["stride"], geometry["padding"],
                              geometry["dilation"], geometry["groups"])
else:
    import torch
    torch.set_num_threads(spec["threads"])
    xt, wt = torch.from_numpy(x), torch.from_numpy(weight)
    def op():
        with torch.no_grad():
            return torch.nn.functional.conv2d(xt, wt, None, **geometry)

if os.access("/proc/self/clear_refs", os.W_OK):
    # Linux: warm up (lazy pools, first touch), reset the high-water mark to the current RSS
    # ("5" > clear_refs), then measure a steady-state call.
    op()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    method = "VmHWM after reset, second call"
    before = status_kb("VmRSS")
    y = op()
    after = status_kb("VmHWM")
else:
    # Elsewhere: the lifetime peak before and after the first call (a lower bound).
    method = "ru_maxrss, first call"
    before = maxrss_kb()
    y = op()
    after = maxrss_kb()
print(json.dumps({"method": method, "peak_extra_kb": after - before,
                  "output_kb": y.numel() * y.element_size() // 1024 if hasattr(y, "numel")
                  else y.nbytes // 1024}))
"""


def measure_peak_memory(case, contender, threads, dtype_name):
    """Extra resident memory one conv2d call needs at its peak, measured in a fresh child process
    (tracemalloc sees only Python allocations, not the C workspace)."""
    name, x_shape, w_shape, stride, padding, dilation, groups = case
    spec = {"x_shape": x_shape, "w_shape": w_shape, "dtype": dtype_name, "threads": threads,
            "contender": contender,
            "geometry": dict(stride=stride, padding=padding, dilation=dilation, groups=groups)}
    env = dict(os.environ)
    # A fixed glibc mmap threshold returns every large block to the OS when it is freed, so the
    # warm-up call's freed buffers do not hide the measured call's allocations.
    env["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    completed = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, json.dumps(spec)],
                               capture_output=True, text=True, env=env, timeout=600,
                               cwd=package_parent)
    if completed.returncode != 0:
        return {"case": name, "contender": contender, "error": completed.stderr.strip()[-500:]}
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    measured.update(case=name, contender=contender, threads=threads, dtype=dtype_name)
    return measured


# --------------------------------------------------------------------------- report

def _format_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.3f} s "


def format_table(rows):
    header = (f"{'case':<22} {'mode':<8} {'contender':<12} {'median':>11} {'rate':>15} "
              f"{'% ceiling':>9} {'speedup':>8}  check")
    lines = [header, "-" * len(header)]
    previous = None
    for row in rows:
        key = (row["case"], row["mode"])
        if previous is not None and key != previous:
            lines.append("")
        previous = key
        rate = f"{row['rate']:8.2f} {row['rate_unit']}" if row["rate"] is not None else ""
        percent = row["percent_of_ceiling"]
        percent = "" if percent is None else f"{percent:8.1f}%" if percent >= 1 else f"{percent:8.2f}%"
        speedup = f"{row['speedup']:7.2f}x" if row["speedup"] is not None else ""
        check = "ok" if row["agrees"] else f"MISMATCH (rel. error {row['max_error']:.2e})"
        if row["contender"] == "fastconv":
            check = "reference"
        lines.append(f"{row['case']:<22} {row['mode']:<8} {row['contender']:<12} "
                     f"{_format_time(row['median_s']):>11} {rate:>15} {percent:>9} {speedup:>8}  {check}")
    return "\n".join(lines)


def plot_speedups(rows, path):
    """Bar chart of speedup (peer time / fastconv time) per case, one panel per threads x mode."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--plot {path}: matplotlib is not installed (pip install matplotlib); no plot written",
              file=sys.stderr)
        return False
    panels = sorted({(r["threads"], r["mode"]) for r in rows if r["speedup"] is not None},
                    key=lambda panel: (panel[0], panel[1] != "forward"))
    if not panels:
        print(f"--plot {path}: no peer was timed, nothing to plot", file=sys.stderr)
        return False
    figure, axes = plt.subplots(len(panels), 1, figsize=(12, 4 * len(panels)), squeeze=False)
    for axis, (threads, mode) in zip(axes[:, 0], panels):
        selected = [r for r in rows if r["threads"] == threads and r["mode"] == mode
                    and r["speedup"] is not None]
        cases = list(dict.fromkeys(r["case"] for r in selected))
        peers = list(dict.fromkeys(r["contender"] for r in selected))
        width = 0.8 / len(peers)
        for index, peer in enumerate(peers):
            speedups = {r["case"]: r["speedup"] for r in selected if r["contender"] == peer}
            positions = [i + index * width for i, c in enumerate(cases) if c in speedups]
            axis.bar(positions, [speedups[c] for c in cases if c in speedups], width, label=peer)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(cases))])
        axis.set_xticklabels(cases, rotation=30, ha="right", fontsize=8)
        axis.set_ylabel("peer time / fastconv time")
        axis.set_title(f"fastconv speedup, {mode}, {threads} thread(s) (above 1: fastconv faster)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


# --------------------------------------------------------------------------- driver

def _parse_threads(text):
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads must be a comma-separated list of ints, got {text!r}")
    if not counts or any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"--threads values must be >= 1, got {text!r}")
    return counts


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--repeat must be >= 1, got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastconv bench",
        description="Time fastconv against NumPy, SciPy and PyTorch (when installed) on a suite "
                    "of CNN layers, next to this machine's measured peak FMA rate and copy bandwidth.")
    default_threads = sorted({1, fastconv.get_num_threads()})
    parser.add_argument("--threads", type=_parse_threads, default=default_threads,
                        help="comma-separated thread counts (default: %(default)s)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--cases", default=None,
                        help="only cases whose name matches one of these comma-separated regexes")
    parser.add_argument("--repeat", type=_positive_int, default=None,
                        help="timed samples per contender (default 7, 3 with --quick)")
    parser.add_argument("--mode", choices=["forward", "backward", "both"], default="both",
                        help="backward times forward + backward (a training step)")
    parser.add_argument("--json", metavar="PATH", help="write every measurement as JSON")
    parser.add_argument("--plot", metavar="PATH", help="PNG bar chart of speedups (needs matplotlib)")
    parser.add_argument("--quick", action="store_true",
                        help="short probes and fewer samples: a smoke run, not numbers to quote")
    return parser


def _select(cases, patterns):
    """The cases whose name matches one of the comma-separated regexes (all when none given)."""
    if not patterns:
        return list(cases)
    regexes = [re.compile(p.strip()) for p in patterns.split(",") if p.strip()]
    return [case for case in cases if any(r.search(case[0]) for r in regexes)]


def _versions(peers):
    return {
        "fastconv": fastconv.__version__, "simd": _core.simd_level(),
        "widest_fma": _core.probe_simd_name(),
        "openmp": _core.openmp_enabled(), "compiler": _core.compiler(),
        "python": platform.python_version(), "numpy": np.__version__,
        "scipy": peers["scipy"].__version__ if peers["scipy"] else None,
        "torch": peers["torch"].__version__ if peers["torch"] else None,
        "threadpoolctl": peers["threadpoolctl"].__version__ if peers["threadpoolctl"] else None,
        "machine": platform.machine(), "processor": platform.processor(),
        "cpu_count": _core.cpu_count(),
    }


def _thread_limits(threads, peers):
    """Context: fastconv, torch and NumPy's BLAS all on `threads` threads."""
    stack = ExitStack()
    stack.enter_context(fastconv.threads(threads))
    if peers["torch"] is not None:
        previous = peers["torch"].get_num_threads()
        peers["torch"].set_num_threads(threads)
        stack.callback(peers["torch"].set_num_threads, previous)
    if peers["threadpoolctl"] is not None:
        stack.enter_context(peers["threadpoolctl"].threadpool_limits(threads, user_api="blas"))
    return stack


def measure_ceilings(thread_counts, quick):
    """Peak FMA GFLOP/s per dtype and thread count, and the copy bandwidth."""
    probe_seconds = PROBE_SECONDS / 4 if quick else PROBE_SECONDS
    fma = {"float32": {}, "float64": {}}
    for threads in thread_counts:
        with fastconv.threads(threads):
            for dtype_name in fma:
                fma[dtype_name][str(threads)] = measure_peak_gflops(dtype_name, probe_seconds)
    return {"fma_gflops": fma, "copy_gbps": measure_copy_gbps(samples=3 if quick else 5)}


def _load_average():
    """1-minute load average (runnable threads), or None where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def print_load_warning(load_before, load_after, out):
    """Says so when other work competed for the CPUs: busy machines make OpenMP barriers wait
    on preempted threads, which hurts multi-threaded timings most."""
    loads = [load for load in (load_before, load_after) if load is not None]
    cpus = _core.cpu_count()
    if loads and max(loads) > 0.75 * cpus:
        print(f"\nwarning: the machine was busy (load average {max(loads):.1f} on {cpus} CPUs): "
              "timings are noisy, multi-threaded ones most; compare ratios within one run",
              file=out)


def _cpu_times(path="/proc/stat"):
    """(steal, busy) CPU time in clock ticks over all CPUs since boot, from Linux's /proc/stat:
    the time the hypervisor ran something else while a virtual CPU wanted to run, and the time
    the CPUs ran this machine's work; None where there is no such file (other systems) or no
    steal column."""
    try:
        with open(path) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    try:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    except ValueError:
        return None
    return steal, user + nice + system + irq + softirq   # guest time is inside user and nice


def steal_percent(before, after):
    """Of the CPU time this machine's work wanted between two _cpu_times() readings, the percent
    its host gave to other work (steal); None when a reading is missing or nothing ran."""
    if before is None or after is None:
        return None
    steal, busy = after[0] - before[0], after[1] - before[1]
    if steal < 0 or busy < 0 or steal + busy <= 0:
        return None
    return 100.0 * steal / (steal + busy)


def print_steal_warning(percent, out):
    """Says so when this virtual machine waited for its host's CPUs: a sample that loses its CPU
    for a while runs slower, while the ceilings are the best of many short runs."""
    if percent is not None and percent >= 2.0:
        print(f"\nwarning: this virtual machine's host took {percent:.0f}% of the CPU time its "
              "work wanted (steal time): samples that lost their CPU ran slower, so percentages "
              "of the ceilings are lower than the code's; interleaved ratios to peers suffer less",
              file=out)


def best_ceilings(before, after):
    """The higher of two measurements of each ceiling (a busy moment only ever lowers one)."""
    return {"fma_gflops": {dtype_name: {threads: max(value, after["fma_gflops"][dtype_name][threads])
                                        for threads, value in per_threads.items()}
                           for dtype_name, per_threads in before["fma_gflops"].items()},
            "copy_gbps": max(before["copy_gbps"], after["copy_gbps"]),
            "probe_simd": _core.probe_simd_name(),
            "cpu_has_wider_simd": _wider_simd_than(_core.probe_simd_name()),
            "before_suite": before, "after_suite": after}


def add_percentages(rows, ceilings):
    """Fills percent_of_ceiling: conv against the peak FMA rate, pooling against copy bandwidth."""
    for row in rows:
        if row["rate"] is None:
            continue
        if row["kind"] == "conv":
            ceiling = ceilings["fma_gflops"][row["dtype"]][str(row["threads"])]
        else:
            ceiling = ceilings["copy_gbps"]
        row["percent_of_ceiling"] = 100.0 * row["rate"] / ceiling


def print_ceilings(ceilings, thread_counts, out):
    simd = ceilings["probe_simd"]
    print("\nCeilings: peak FMA rate of the probe (register-resident FMA chains, "
          f"{simd} code), and a 64 MB NumPy copy (one thread, read + write bytes); each the best of "
          "a measurement before and one after the suite", file=out)
    fma = ceilings["fma_gflops"]
    for threads in thread_counts:
        print(f"  {threads} thread(s): float32 {fma['float32'][str(threads)]:7.1f} GFLOP/s, "
              f"float64 {fma['float64'][str(threads)]:7.1f} GFLOP/s", file=out)
    print(f"  copy: {ceilings['copy_gbps']:.1f} GB/s", file=out)
    if ceilings["cpu_has_wider_simd"]:
        print(f"  note: this CPU also has {ceilings['cpu_has_wider_simd']}, which fastconv's {simd} "
              "code does not use; peers that do (oneDNN in PyTorch) can exceed 100% of this ceiling",
              file=out)


def _progress(message):
    """What is being timed now, on an interactive terminal only (runs take minutes)."""
    if sys.stderr.isatty():
        print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


def run_suite(conv_cases, pool_cases, edge_case, modes, threads, dtype_name, repeat, peers,
              warmup_seconds=WARMUP_SECONDS):
    """Result rows of every selected case and mode (and of the lesson's edge case when
    edge_case is true) at `threads`, each sample after warmup_seconds of untimed runs."""
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(0)
    rows = []
    with _thread_limits(threads, peers):
        for case in conv_cases:
            for mode in modes:
                _progress(f"{threads} thread(s): {case[0]} {mode}")
                contenders = conv_contenders(case, mode, dtype, rng, peers)
                check_and_time(contenders, repeat, dtype_name, warmup_seconds)
                flops = conv_flops(case) * (1 if mode == "forward" else 3)
                rows += summarise(contenders, case[0], "conv", mode, threads, dtype_name, flops)
        for case in pool_cases:
            for mode in modes:
                _progress(f"{threads} thread(s): {case[0]} {mode}")
                contenders = pool_contenders(case, mode, dtype, rng, peers)
                check_and_time(contenders, repeat, dtype_name, warmup_seconds)
                nbytes = pool_pass_bytes(case, dtype_name) * (1 if mode == "forward" else 2)
                rows += summarise(contenders, case[0], "pool", mode, threads, dtype_name, nbytes)
        if edge_case:
            contenders = edge_case_contenders(dtype, peers)
            check_and_time(contenders, repeat, dtype_name, warmup_seconds)
            rows += summarise(contenders, LESSON_EDGE_CASE, "call", "forward", threads, dtype_name,
                              None)
    return rows


def measure_scaling(conv_cases, modes, thread_counts, dtype_name, repeat,
                    warmup_seconds=WARMUP_SECONDS):
    """fastconv's speedup on more threads, per conv case and mode: each round times one sample
    of every case and mode at every thread count in turn, and each count above the first is
    compared with the first, as the ratio of median times and as the range of the per-round
    ratios (the spread a busy second core causes).

    Rounds run across the cases, not case by case: on a shared cloud machine the second vCPU
    goes missing for a tenth of a second or more at a time, which is a whole case's samples
    when they are taken together (measured here: 2 threads timed at the speed of one on every
    round of one case, the next case unaffected), and one round of many cases when they are
    interleaved, which the medians then drop.

    Each sample follows warmup_seconds of untimed calls at its thread count, as in the suite,
    and no pause: an idle pause lets the cores clock down (measured here: a 20 ms sleep before
    a single 14 ms call made it 15% slower on one thread and 30% on two)."""
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(0)
    base_threads = thread_counts[0]
    entries = []
    for case in conv_cases:
        for mode in modes:
            _progress(f"thread scaling: {case[0]} {mode} (calibrating)")
            contender = conv_contenders(case, mode, dtype, rng, {"torch": None, "scipy": None})[0]
            with fastconv.threads(base_threads):
                _calibrate(contender)   # the loop count of the slowest setting
            entries.append((case, mode, contender, {threads: [] for threads in thread_counts}))
    for round_index in range(repeat):
        _progress(f"thread scaling: round {round_index + 1} of {repeat}")
        for case, mode, contender, samples in entries:
            for threads in thread_counts:
                with fastconv.threads(threads):
                    _warm_up(contender.run, warmup_seconds)
                    start = time.perf_counter()
                    for _ in range(contender.number):
                        contender.run()
                    samples[threads].append((time.perf_counter() - start) / contender.number)
    rows = []
    for case, mode, contender, samples in entries:
        base = samples[base_threads]
        for threads in thread_counts[1:]:
            ratios = [b / t for b, t in zip(base, samples[threads])]
            rows.append({"case": case[0], "mode": mode, "dtype": dtype_name,
                         "threads": threads, "base_threads": base_threads,
                         "median_s": statistics.median(samples[threads]),
                         "base_median_s": statistics.median(base),
                         "speedup": statistics.median(base) / statistics.median(samples[threads]),
                         "spread": [min(ratios), max(ratios)],
                         "samples_s": samples[threads], "base_samples_s": base})
    return rows


def format_scaling(rows):
    header = (f"{'case':<22} {'mode':<8} {'threads':>7} {'median':>10} {'at base':>10} "
              f"{'speedup':>8}  spread")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row['case']:<22} {row['mode']:<8} {row['threads']:>7} "
                     f"{_format_time(row['median_s']):>10} {_format_time(row['base_median_s']):>10} "
                     f"{row['speedup']:>7.2f}x  {row['spread'][0]:.2f}-{row['spread'][1]:.2f}")
    return "\n".join(lines)


def print_memory(measurements, threads, out):
    print(f"\nPeak memory of one forward conv2d on {MEMORY_CASE} ({threads} thread(s)), measured in "
          "a fresh child process from the resident-set high-water mark (tracemalloc cannot see C "
          "allocations); 'extra' is the peak growth during the call, the output array included:",
          file=out)
    for measured in measurements:
        if "error" in measured:
            print(f"  {measured['contender']:<10} failed: {measured['error']}", file=out)
            continue
        extra_mb, output_mb = measured["peak_extra_kb"] / 1024, measured["output_kb"] / 1024
        print(f"  {measured['contender']:<10} extra {extra_mb:8.1f} MB (output {output_mb:.1f} MB, "
              f"workspace and temporaries {extra_mb - output_mb:.1f} MB) [{measured['method']}]",
              file=out)


def run_bench(options, out=None):
    """Runs everything the options ask for and prints the tables; returns the JSON-ready report."""
    out = out or sys.stdout
    peers = _load_peers()
    repeat = options.repeat or (3 if options.quick else 7)
    warmup = QUICK_WARMUP_SECONDS if options.quick else WARMUP_SECONDS
    modes = ["forward", "backward"] if options.mode == "both" else [options.mode]
    conv_cases, pool_cases = _select(CONV, options.cases), _select(POOL, options.cases)
    edge_case = bool(_select([(LESSON_EDGE_CASE,)], options.cases))
    versions = _versions(peers)
    print(f"fastconv {versions['fastconv']} (SIMD {versions['simd']}, FMAs up to "
          f"{versions['widest_fma']}, OpenMP "
          f"{'on' if versions['openmp'] else 'off'}), numpy {versions['numpy']}, "
          f"scipy {versions['scipy'] or 'not installed'}, torch {versions['torch'] or 'not installed'}; "
          f"{versions['cpu_count']} CPUs, dtype {options.dtype}", file=out, flush=True)
    if peers["threadpoolctl"] is None:
        # OpenBLAS's idle workers spin for a while after each call.  On a 2-vCPU cloud
        # machine, a busy loop on the other vCPU made a single-thread conv2d 1.4x slower
        # (FMA work there: 1.8x), so an unlimited BLAS skews the samples that follow it.
        print("note: threadpoolctl is not installed, so NumPy's BLAS (numpy-ref) runs on every "
              "CPU whatever --threads says, and its idle workers can spin on the CPUs the other "
              "contenders' samples use; install it (pip install fastconv[bench]) for fair timings",
              file=out, flush=True)
    load_before, cpu_before = _load_average(), _cpu_times()
    ceilings_before = measure_ceilings(options.threads, options.quick)
    results = []
    for threads in options.threads:
        results += run_suite(conv_cases, pool_cases, edge_case, modes, threads, options.dtype,
                             repeat, peers, warmup)
        gc.collect()
    scaling = []
    if len(options.threads) > 1 and conv_cases:
        scaling = measure_scaling(conv_cases, modes, options.threads, options.dtype, repeat,
                                  warmup)
        gc.collect()
    _progress("")
    ceilings = best_ceilings(ceilings_before, measure_ceilings(options.threads, options.quick))
    load_after, steal = _load_average(), steal_percent(cpu_before, _cpu_times())
    add_percentages(results, ceilings)
    report = {"versions": versions,
              "settings": {"threads": options.threads, "dtype": options.dtype, "cases": options.cases,
                           "repeat": repeat, "mode": options.mode, "quick": options.quick,
                           "warmup_seconds": warmup},
              "ceilings": ceilings, "results": results, "scaling": scaling, "memory": [],
              "load_average": {"before": load_before, "after": load_after},
              "steal_percent": steal}

    print_ceilings(ceilings, options.threads, out)
    for threads in options.threads:
        print(f"\n{threads} thread(s), {options.dtype}: median of {repeat} interleaved samples, "
              f"each after {warmup * 1e3:.0f} ms of untimed runs of its contender; "
              "rate = GFLOP/s for conv (forward + backward counted as 3x forward), GB/s for pooling "
              "(bytes read + written); % ceiling = of the peak FMA rate for conv, of the copy "
              "bandwidth for pooling; speedup = peer time / fastconv time (above 1: fastconv faster); "
              "check = result agrees with fastconv's", file=out)
        print(format_table([r for r in results if r["threads"] == threads]), file=out)
    if scaling:
        print(f"\nThread scaling of fastconv, {options.dtype}: {repeat} rounds, each timing every "
              f"thread count in turn; speedup = median time on {options.threads[0]} thread(s) / "
              "median time on `threads`; spread = lowest-highest of the per-round ratios", file=out)
        print(format_scaling(scaling), file=out)
    print_load_warning(load_before, load_after, out)
    print_steal_warning(steal, out)
    if any(r["kind"] == "pool" and (r["percent_of_ceiling"] or 0) > 100 for r in results):
        print("note: pooling above 100% of the copy bandwidth: a pooling input of tens of MB can "
              "stay in a large last-level cache between repeats, the 64 MB copy cannot", file=out)

    memory_case = next((case for case in conv_cases if case[0] == MEMORY_CASE), None)
    if memory_case:
        threads = options.threads[-1]
        for contender in ["fastconv", "numpy-ref"] + (["torch"] if peers["torch"] else []):
            report["memory"].append(measure_peak_memory(memory_case, contender, threads, options.dtype))
        print_memory(report["memory"], threads, out)

    if options.json:
        with open(options.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nwrote {options.json}", file=out)
    out.flush()   # before plot_speedups' messages on stderr
    if options.plot and plot_speedups(report["results"], options.plot):
        print(f"wrote {options.plot}", file=out)
    return report


def main(argv=None):
    """Entry point of `fastconv bench`: returns the exit status (2 for bad arguments, 1 when a
    peer's result disagrees with fastconv's) instead of exiting, so callers can use it."""
    try:
        options = build_parser().parse_args(argv)
    except SystemExit as request:   # --help (0) or a usage error argparse has already printed (2)
        return request.code if isinstance(request.code, int) else 2
    every_case = CONV + POOL + [(LESSON_EDGE_CASE,)]
    try:
        selected = _select(every_case, options.cases)
    except re.error as error:
        print(f"fastconv bench: --cases {options.cases!r} is not a valid regex: {error}", file=sys.stderr)
        return 2
    if not selected:
        print(f"fastconv bench: --cases {options.cases!r} matches no case; cases are: "
              + ", ".join(c[0] for c in every_case), file=sys.stderr)
        return 2
    report = run_bench(options)
    mismatches = [r for r in report["results"] if not r["agrees"]]
    if mismatches:
        print("\nfastconv bench: results disagree in "
              + ", ".join(f"{r['case']}/{r['mode']}/{r['contender']}" for r in mismatches),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
