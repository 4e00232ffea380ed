"""Thread control and thread safety.

- set_num_threads / get_num_threads / threads() round-trip and restore; n <= -1
  counts back from the CPU count; 0 is refused (see test_errors.py).
- Results are bitwise identical for every thread count, at sizes large enough
  for the core to split the work.
- The GIL is released during compute.  The check cannot pass while the GIL is
  held: the switch interval is raised so far that the interpreter never
  preempts the calling thread, so a pure-Python spinner thread can only run
  while the caller is blocked outside the interpreter, i.e. inside the call.
  It is not timing-based: any progress at all during the call counts.
- threadpoolctl's openmp limit and OMP_NUM_THREADS are honoured.
- The OpenMP workers' wait: libgomp (where it is the runtime) takes fastconv's
  short spin count and passive policy, a user's own setting wins, and neither
  variable is left in the environment.
"""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastconv
import reference
from conftest import assert_close


def available_cpus():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# ---- thread count API ----------------------------------------------------------

def test_get_num_threads_is_positive_int():
    count = fastconv.get_num_threads()
    assert isinstance(count, int) and count >= 1


@pytest.mark.parametrize("count", [1, 2])
def test_set_then_get(count):
    if count > available_cpus():
        pytest.skip(f"only {available_cpus()} CPUs")
    fastconv.set_num_threads(count)
    assert fastconv.get_num_threads() == count


def test_negative_counts_back_from_cpu_count():
    cpus = available_cpus()
    fastconv.set_num_threads(-1)
    assert fastconv.get_num_threads() == cpus
    if cpus >= 2:
        fastconv.set_num_threads(-2)
        assert fastconv.get_num_threads() == cpus - 1
    fastconv.set_num_threads(-cpus)
    assert fastconv.get_num_threads() == 1


def test_threads_context_manager_restores():
    fastconv.set_num_threads(-1)
    before = fastconv.get_num_threads()
    with fastconv.threads(1):
        assert fastconv.get_num_threads() == 1
    assert fastconv.get_num_threads() == before


def test_threads_context_manager_restores_after_exception():
    fastconv.set_num_threads(-1)
    before = fastconv.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with fastconv.threads(1):
            raise RuntimeError("inside")
    assert fastconv.get_num_threads() == before


def test_threads_context_manager_nests():
    fastconv.set_num_threads(1)
    with fastconv.threads(-1):
        with fastconv.threads(1):
            assert fastconv.get_num_threads() == 1
        assert fastconv.get_num_threads() == available_cpus()
    assert fastconv.get_num_threads() == 1


# ---- bitwise identical results for any thread count -------------------------------

THREAD_COUNTS = [1, 2, 3, 4]


def run_with_threads(call, counts=THREAD_COUNTS):
    results = []
    for count in counts:
        with fastconv.threads(count):
            results.append(call())
    return results


def assert_bitwise_identical(results, context):
    first = results[0]
    for count, result in zip(THREAD_COUNTS, results):
        assert result.dtype == first.dtype and result.shape == first.shape, context
        assert result.tobytes() == first.tobytes(), (
            f"{count} threads differ from 1 thread; {context}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("geometry", [
    dict(padding=1), dict(stride=2, padding="same"), dict(groups=4, dilation=2),
    dict(groups=16, padding=1), dict(kernel=1)], ids=str)
def test_conv2d_bitwise_identical_across_thread_counts(geometry, dtype):
    geometry = dict(geometry)
    kernel = geometry.pop("kernel", 3)
    groups = geometry.get("groups", 1)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 16, 40, 40)).astype(dtype)
    weight = rng.standard_normal((16, 16 // groups, kernel, kernel)).astype(dtype)
    bias = rng.standard_normal(16).astype(dtype)
    results = run_with_threads(lambda: fastconv.conv2d(x, weight, bias, **geometry))
    assert_bitwise_identical(results, f"{geometry} kernel={kernel} {np.dtype(dtype).name}")
    assert_close(results[0], reference.conv2d(x, weight, bias, **geometry), dtype,
                 scale=reference.flop_scale(x, weight, **geometry) + np.abs(bias)[:, None, None],
                 context=str(geometry))


def test_conv2d_path_choice_does_not_follow_thread_count():
    # One image of 14 output rows, a reduction of two blocks (32 channels x 9
    # taps) and a dilation so tall that its padded rows sit right at the AVX2
    # float32 GEMM's cap (4 B blocks): the 7-row blocks of one thread are over
    # it, the 2-row blocks of the tasks split for more threads under it.  The
    # padded-rows path adds the bias after both reduction blocks, the packed
    # GEMM with the first, so a path chosen by block size gave other bits on
    # 2 threads than on 1.
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 32, 240, 68)).astype(np.float32)
    weight = rng.standard_normal((8, 32, 3, 3)).astype(np.float32)
    bias = (10 * rng.standard_normal(8)).astype(np.float32)
    geometry = dict(padding=1, dilation=(114, 1))
    results = run_with_threads(lambda: fastconv.conv2d(x, weight, bias, **geometry))
    assert_bitwise_identical(results, "dilation (114, 1) at the padded-rows cap")
    assert_close(results[0], reference.conv2d(x, weight, bias, **geometry), np.float32,
                 scale=reference.flop_scale(x, weight, **geometry) + np.abs(bias)[:, None, None],
                 context="dilation (114, 1)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_conv2d_fused_relu_and_transpose_bitwise_identical(dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 16, 36, 36)).astype(dtype)
    weight = rng.standard_normal((16, 8, 3, 3)).astype(dtype)
    results = run_with_threads(lambda: fastconv.conv2d(x, weight, padding=1, groups=2,
                                                       activation="relu"))
    assert_bitwise_identical(results, "conv2d relu")
    results = run_with_threads(lambda: fastconv.conv_transpose2d(x, weight, stride=2, padding=1,
                                                                 output_padding=1, groups=2))
    assert_bitwise_identical(results, "conv_transpose2d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_im2col_col2im_relu_bitwise_identical(dtype):
    rng = np.random.default_rng(9)
    # millions of elements each: well above the work at which the core adds a thread
    x = rng.standard_normal((8, 16, 64, 64)).astype(dtype)
    geometry = dict(kernel_size=3, padding=1, stride=1, dilation=1)
    cols = run_with_threads(lambda: fastconv.im2col(x, **geometry))
    assert_bitwise_identical(cols, "im2col")
    images = run_with_threads(lambda: fastconv.col2im(cols[0], (64, 64), **geometry))
    assert_bitwise_identical(images, "col2im")
    big = rng.standard_normal(1 << 23).astype(dtype)
    assert_bitwise_identical(run_with_threads(lambda: fastconv.relu(big)), "relu")
    assert np.array_equal(fastconv.relu(big), np.maximum(big, 0))


# ---- the GIL is released -------------------------------------------------------------

def spinner_progress_during(call, attempts=20):
    """(iterations a pure-Python thread made while call() ran, call's result).

    With the switch interval at 1000 s the interpreter never takes the GIL
    from this thread; the spinner sleeps between iterations (releasing the
    GIL), so whenever this thread wants the GIL back it gets it quickly.  The
    call runs on one core so the spinner has a CPU to run on; it is retried
    up to `attempts` times because on a busy machine the OS may not schedule
    the spinner during one call.  A call that holds the GIL shows zero progress on every attempt.
    """
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1
            time.sleep(1e-5)

    spinner = threading.Thread(target=spin, daemon=True)
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        spinner.start()
        with fastconv.threads(1):
            for _ in range(attempts):
                while count[0] == 0:
                    time.sleep(1e-3)  # releases the GIL until the spinner is running
                before = count[0]
                result = call()
                progress = count[0] - before
                if progress:
                    break
    finally:
        stop.set()
        spinner.join()
        sys.setswitchinterval(previous_interval)
    return progress, result


def test_spinner_detects_a_held_gil():
    """The probe itself: a call that keeps the GIL shows no spinner progress."""
    def hold_gil():
        total = 0
        for value in range(300_000):
            total += value
        return total

    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("free-threaded interpreter: there is no GIL to hold")
    progress, _ = spinner_progress_during(hold_gil)
    assert progress == 0


def test_conv2d_releases_gil():
    # about 2.4 GFLOP: tens of milliseconds even on one core of a fast machine
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 64, 64, 64)).astype(np.float32)
    weight = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    progress, result = spinner_progress_during(lambda: fastconv.conv2d(x, weight, padding=1))
    assert progress > 0, "no Python thread ran during conv2d: the GIL was held"
    assert result.shape == (8, 64, 64, 64)
    head = reference.conv2d(x[:1, :, :8, :8], weight, padding=((1, 0), (1, 0)))[..., :7, :7]
    assert_close(result[:1, :, :7, :7], head, np.float32,
                 scale=reference.flop_scale(x[:1, :, :8, :8], weight,
                                            padding=((1, 0), (1, 0)))[..., :7, :7])


@pytest.mark.parametrize("op", ["im2col", "col2im", "relu", "conv_transpose2d"])
def test_other_ops_release_gil(op):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 32, 64, 64))
    cols = fastconv.im2col(x, 3, padding=1) if op == "col2im" else None
    big = rng.standard_normal(1 << 24) if op == "relu" else None
    weight = rng.standard_normal((32, 32, 3, 3)) if op == "conv_transpose2d" else None
    call = {
        "im2col": lambda: fastconv.im2col(x, 3, padding=1),
        "col2im": lambda: fastconv.col2im(cols, (64, 64), 3, padding=1),
        "relu": lambda: fastconv.relu(big),
        "conv_transpose2d": lambda: fastconv.conv_transpose2d(x, weight, padding=1),
    }[op]
    progress, _ = spinner_progress_during(call)
    assert progress > 0, f"no Python thread ran during {op}: the GIL was held"


def test_conv2d_from_two_python_threads():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 32, 48, 48)).astype(np.float32)
    weight = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    inputs = [x, x[:, :, ::-1, :].copy()]
    expected = [fastconv.conv2d(image, weight, padding=1) for image in inputs]
    results = [None, None]
    errors = []
    barrier = threading.Barrier(2)

    def work(index):
        try:
            barrier.wait()
            for _ in range(3):
                results[index] = fastconv.conv2d(inputs[index], weight, padding=1)
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    for index in range(2):
        assert np.array_equal(results[index], expected[index]), f"thread {index}"


# ---- threadpoolctl and OMP_NUM_THREADS ----------------------------------------------------

def test_threadpoolctl_openmp_limit():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastconv.set_num_threads(-1)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastconv.get_num_threads() == 1
        # and a limited call still computes correctly
        x = np.arange(16.0).reshape(1, 1, 4, 4)
        assert np.array_equal(fastconv.conv2d(x, np.ones((1, 1, 1, 1))), x)
    assert fastconv.get_num_threads() == available_cpus()


def run_fresh_interpreter(code, with_stderr=False, **environment):
    """Run code in a new interpreter that imports the same fastconv as this process; its
    stdout, or (stdout, stderr) with_stderr.  An environment value of None removes the
    variable."""
    package_parent = os.path.dirname(os.path.dirname(fastconv.__file__))
    env = {key: value for key, value in os.environ.items()
           if key not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent,
                                                      env.get("PYTHONPATH", "")]))
    for key, value in environment.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, timeout=120, cwd=package_parent)
    assert completed.returncode == 0, completed.stderr
    if with_stderr:
        return completed.stdout.strip(), completed.stderr
    return completed.stdout.strip()


def test_omp_num_threads_sets_default():
    output = run_fresh_interpreter("import fastconv; print(fastconv.get_num_threads())",
                                   OMP_NUM_THREADS="1")
    assert output == "1"


def test_default_is_available_cpus():
    output = run_fresh_interpreter("import fastconv; print(fastconv.get_num_threads())")
    assert output == str(available_cpus())


def test_set_num_threads_overrides_omp_num_threads_default():
    """OMP_NUM_THREADS is the default (API.md), not a ceiling on an explicit request."""
    if available_cpus() < 2:
        pytest.skip("needs 2 CPUs")
    output = run_fresh_interpreter(
        "import fastconv; fastconv.set_num_threads(2); print(fastconv.get_num_threads())",
        OMP_NUM_THREADS="1")
    assert output == "2"


# ---- OpenMP wait policy ---------------------------------------------------------

REPORT_WAIT_VARIABLES = ("import os, fastconv; "
                         "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))")


def libgomp_settings(**environment):
    """Import fastconv in a fresh interpreter with OMP_DISPLAY_ENV=verbose: the wait
    variables left in its os.environ, and the spin count and wait policy libgomp reports
    it took (skips where the OpenMP runtime reports no spin count: not libgomp)."""
    stdout, stderr = run_fresh_interpreter(REPORT_WAIT_VARIABLES, with_stderr=True,
                                           OMP_DISPLAY_ENV="verbose", **environment)
    report = {}
    for line in stderr.splitlines():
        name, sep, value = line.strip().partition(" = ")
        if sep:
            report[name] = value.strip("'")
    if "GOMP_SPINCOUNT" not in report:
        pytest.skip("the OpenMP runtime reports no GOMP_SPINCOUNT (not libgomp)")
    return stdout, report


def test_workers_spin_briefly_then_sleep_by_default():
    left, report = libgomp_settings(OMP_WAIT_POLICY=None, GOMP_SPINCOUNT=None)
    assert report["GOMP_SPINCOUNT"] == fastconv._SPIN_COUNT
    assert report["OMP_WAIT_POLICY"] == "PASSIVE"
    # set only while the core loaded: other libraries never see them
    assert left == "None None"


def test_a_users_wait_policy_is_kept():
    left, report = libgomp_settings(OMP_WAIT_POLICY=None, GOMP_SPINCOUNT="7")
    assert report["GOMP_SPINCOUNT"] == "7"
    assert left == "None 7"
    left, report = libgomp_settings(OMP_WAIT_POLICY="active", GOMP_SPINCOUNT=None)
    assert report["OMP_WAIT_POLICY"] == "ACTIVE"
    assert report["GOMP_SPINCOUNT"] != fastconv._SPIN_COUNT
    assert left == "active None"
