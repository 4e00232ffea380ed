"""The benchmark runs end to end and reports what it claims; nothing here is timed.

- A tiny run (--quick --repeat 1, the seed cases) writes JSON of the documented structure.
- The pieces the bench's correctness check relies on (its NumPy references, the lesson loop,
  the mismatch detection) are checked against the test suite's references and known answers.
- The FMA probe counts its flops exactly; the peak-memory child returns sane numbers.
"""
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastconv
import reference
import reference_pool
from fastconv import _bench_layers as packaged
from fastconv import _core, bench
from fastconv._bench_layers import CONV, POOL, conv_flops

SMOKE_CASES = "^seed-edge-1x2$,^max2-s1-seed$,^lesson-edge"
ROW_KEYS = {"case", "kind", "mode", "threads", "dtype", "contender", "median_s", "samples_s",
            "calls_per_sample", "rate", "rate_unit", "percent_of_ceiling", "speedup", "agrees",
            "max_error"}


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    status = bench.main(["--quick", "--repeat", "1", "--threads", "1", "--cases", SMOKE_CASES,
                         "--mode", "both", "--json", str(path)])
    return status, json.loads(path.read_text())


def test_smoke_run_exits_zero(smoke_report):
    status, report = smoke_report
    assert status == 0, f"bench.main returned {status}; rows: {report['results']}"


def test_report_top_level_structure(smoke_report):
    _, report = smoke_report
    assert set(report) == {"versions", "settings", "ceilings", "results", "scaling", "memory",
                           "load_average", "steal_percent"}, sorted(report)
    steal = report["steal_percent"]
    assert steal is None or 0.0 <= steal <= 100.0, steal
    assert report["scaling"] == [], "one thread count: no scaling rows"
    assert report["settings"] == {"threads": [1], "dtype": "float32", "cases": SMOKE_CASES,
                                  "repeat": 1, "mode": "both", "quick": True,
                                  "warmup_seconds": bench.QUICK_WARMUP_SECONDS}, report["settings"]
    assert report["versions"]["fastconv"] == fastconv.__version__, report["versions"]
    for dtype_name in ("float32", "float64"):
        peak = report["ceilings"]["fma_gflops"][dtype_name]["1"]
        assert peak > 0, f"peak {dtype_name} at 1 thread: {peak}"
    assert report["ceilings"]["copy_gbps"] > 0, report["ceilings"]
    # vgg-64x56 was not selected, so no memory measurement.
    assert report["memory"] == [], report["memory"]


def test_every_case_and_mode_has_a_fastconv_row_and_peers(smoke_report):
    _, report = smoke_report
    rows = report["results"]
    expected = {(name, mode) for name in ("seed-edge-1x2", "max2-s1-seed")
                for mode in ("forward", "backward")} | {(bench.LESSON_EDGE_CASE, "forward")}
    keys = {(r["case"], r["mode"]) for r in rows}
    assert keys == expected, f"got {sorted(keys)}, expected {sorted(expected)}"
    for case, mode in expected:
        group = [r for r in rows if (r["case"], r["mode"]) == (case, mode)]
        assert group[0]["contender"] == "fastconv", f"{case}/{mode}: first row {group[0]}"
        assert [r["contender"] for r in group].count("fastconv") == 1, f"{case}/{mode}: {group}"
    # Forward seed cases always have the NumPy reference; the edge case the lesson's loop.
    contenders = {(r["case"], r["mode"], r["contender"]) for r in rows}
    for required in [("seed-edge-1x2", "forward", "numpy-ref"), ("max2-s1-seed", "forward", "numpy-ref"),
                     (bench.LESSON_EDGE_CASE, "forward", "lesson-loop")]:
        assert required in contenders, f"missing {required}; have {sorted(contenders)}"


def test_rows_are_complete_and_consistent(smoke_report):
    _, report = smoke_report
    for row in report["results"]:
        context = f"row {row}"
        assert set(row) == ROW_KEYS, context
        assert row["threads"] == 1 and row["dtype"] == "float32", context
        assert len(row["samples_s"]) == 1 and row["median_s"] == row["samples_s"][0] > 0, context
        assert row["calls_per_sample"] >= 1, context
        assert row["agrees"] is True, context
        if row["contender"] == "fastconv":
            assert row["speedup"] is None and row["max_error"] == 0.0, context
        else:
            fastconv_row = next(r for r in report["results"] if r["contender"] == "fastconv"
                                and (r["case"], r["mode"]) == (row["case"], row["mode"]))
            assert row["speedup"] == pytest.approx(row["median_s"] / fastconv_row["median_s"]), context
        if row["kind"] == "call":
            assert row["rate"] is None and row["percent_of_ceiling"] is None, context
            continue
        assert row["rate_unit"] == {"conv": "GFLOP/s", "pool": "GB/s"}[row["kind"]], context
        assert row["rate"] > 0 and row["percent_of_ceiling"] > 0, context


def test_rates_use_the_documented_work_counts(smoke_report):
    _, report = smoke_report
    seed_conv = next(c for c in CONV if c[0] == "seed-edge-1x2")
    seed_pool = next(c for c in POOL if c[0] == "max2-s1-seed")
    peak = report["ceilings"]["fma_gflops"]["float32"]["1"]
    copy = report["ceilings"]["copy_gbps"]
    for row in report["results"]:
        if row["case"] == "seed-edge-1x2":
            flops = conv_flops(seed_conv) * (1 if row["mode"] == "forward" else 3)
            expected_rate, ceiling = flops / row["median_s"] / 1e9, peak
        elif row["case"] == "max2-s1-seed":
            # x (1, 1, 6, 8) read, y (1, 1, 5, 7) written, float32; backward moves as much again.
            nbytes = (6 * 8 + 5 * 7) * 4 * (1 if row["mode"] == "forward" else 2)
            assert bench.pool_pass_bytes(seed_pool, "float32") == (6 * 8 + 5 * 7) * 4
            expected_rate, ceiling = nbytes / row["median_s"] / 1e9, copy
        else:
            continue
        assert row["rate"] == pytest.approx(expected_rate), f"row {row}"
        assert row["percent_of_ceiling"] == pytest.approx(100 * expected_rate / ceiling), f"row {row}"


def test_thread_scaling_rows(tmp_path, capsys):
    path = tmp_path / "bench.json"
    status = bench.main(["--quick", "--repeat", "2", "--threads", "1,2", "--cases",
                         "^seed-edge-1x2$,^max2-s1-seed$", "--mode", "both", "--json", str(path)])
    assert status == 0
    scaling = json.loads(path.read_text())["scaling"]
    # conv cases only, one row per mode and thread count above the first
    assert [(r["case"], r["mode"], r["threads"], r["base_threads"]) for r in scaling] == [
        ("seed-edge-1x2", "forward", 2, 1), ("seed-edge-1x2", "backward", 2, 1)], scaling
    for row in scaling:
        assert len(row["samples_s"]) == len(row["base_samples_s"]) == 2, row
        assert row["speedup"] == pytest.approx(row["base_median_s"] / row["median_s"]), row
        ratios = [b / t for b, t in zip(row["base_samples_s"], row["samples_s"])]
        assert row["spread"] == [min(ratios), max(ratios)], row
    assert "Thread scaling of fastconv" in capsys.readouterr().out


def test_unknown_case_filter_is_an_error(capsys):
    assert bench.main(["--cases", "no-such-case"]) == 2
    assert "matches no case" in capsys.readouterr().err


def test_invalid_case_regex_is_an_error(capsys):
    assert bench.main(["--cases", "vgg("]) == 2
    assert "not a valid regex" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--threads", "0"], ["--threads", "a"], ["--repeat", "0"],
                                  ["--dtype", "float16"], ["--mode", "sideways"]])
def test_bad_options_are_rejected(argv, capsys):
    assert bench.main(argv) == 2, f"argv {argv}"
    assert "usage:" in capsys.readouterr().err, f"argv {argv}"


def test_help_returns_zero(capsys):
    assert bench.main(["--help"]) == 0
    assert "--threads" in capsys.readouterr().out


# --------------------------------------------------------------------------- references

@pytest.mark.parametrize("stride,padding,dilation,groups",
                         [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (1, 1, 1, 2), (2, 1, 1, 4)])
def test_numpy_reference_conv_matches_the_test_reference(stride, padding, dilation, groups):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 4, 7, 6))
    weight = rng.uniform(-1, 1, (4, 4 // groups, 3, 2))
    bias = rng.uniform(-1, 1, 4)
    got = bench.numpy_conv2d(x, weight, bias, stride, padding, dilation, groups)
    expected = reference.conv2d(x, weight, bias, stride, padding, dilation, groups)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12,
                               err_msg=f"stride={stride} padding={padding} dilation={dilation} groups={groups}")


@pytest.mark.parametrize("kind,kernel,stride,padding",
                         [("max", 2, 2, 0), ("max", 3, 2, 1), ("avg", 2, 1, 0), ("avg", 3, 1, 1)])
def test_numpy_reference_pool_matches_the_test_reference(kind, kernel, stride, padding):
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (2, 3, 7, 8))
    got = bench.numpy_pool2d(x, kind, kernel, stride, padding)
    if kind == "max":
        expected = reference_pool.max_pool2d(x, kernel, stride, padding)
    else:
        expected = reference_pool.avg_pool2d(x, kernel, stride, padding, count_include_pad=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12,
                               err_msg=f"kind={kind} kernel={kernel} stride={stride} padding={padding}")


def test_lesson_loop_finds_the_edge():
    image = np.ones((6, 8))
    image[:, 2:6] = 0
    expected = np.zeros((6, 7))
    expected[:, 1], expected[:, 5] = 1, -1
    np.testing.assert_array_equal(bench.lesson_corr2d(image, np.array([[1.0, -1.0]])), expected)


def test_edge_case_contenders_agree_on_the_lesson_output():
    peers = bench._load_peers()
    contenders = bench.edge_case_contenders(np.dtype("float64"), peers)
    expected = np.zeros((6, 7))
    expected[:, 1], expected[:, 5] = 1, -1
    for contender in contenders:
        result = contender.run()
        result = contender.to_numpy(result) if contender.to_numpy else np.asarray(result)
        np.testing.assert_array_equal(result, expected, err_msg=f"contender {contender.name}")


def test_a_wrong_contender_is_flagged():
    right = bench.Contender("fastconv", lambda: np.arange(6.0))
    wrong = bench.Contender("peer", lambda: np.arange(6.0) + np.array([0, 0, 0, 0, 0, 1e-2]))
    bench.check_and_time([right, wrong], repeat=2, dtype_name="float32")
    assert right.agrees and right.max_error == 0.0
    assert not wrong.agrees and wrong.max_error == pytest.approx(1e-2 / 5), wrong.max_error
    assert len(right.samples) == len(wrong.samples) == 2


def test_each_sample_follows_a_warm_up_of_its_own_contender():
    calls = []   # (contender name, start time) of every call, in order

    def contender(name):
        def run():
            calls.append((name, time.perf_counter()))
            time.sleep(0.001)
            return np.zeros(3)
        return bench.Contender(name, run)

    first, second = contender("fastconv"), contender("peer")
    bench.check_and_time([first, second], repeat=3, dtype_name="float64", warmup_seconds=0.02)
    timed = calls[4:]   # after the two calibration calls of each contender
    blocks = []         # the runs of consecutive calls of one contender: one per sample
    for name, start in timed:
        if blocks and blocks[-1][0] == name:
            blocks[-1][1].append(start)
        else:
            blocks.append((name, [start]))
    assert [name for name, _ in blocks] == ["fastconv", "peer"] * 3
    for name, starts in blocks:
        number = first.number if name == "fastconv" else second.number
        warm_up, sample = starts[:-number], starts[-number:]
        assert warm_up, f"{name}: a sample with no untimed call before it"
        assert sample[0] - warm_up[0] >= 0.02, f"{name}: warm-up of {sample[0] - warm_up[0]:.4f} s"
    assert len(first.samples) == len(second.samples) == 3


# --------------------------------------------------------------------------- probe and memory

@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("threads", [1, 2])
def test_probe_counts_flops_in_proportion_to_rounds(dtype_name, threads):
    with fastconv.threads(threads):
        once = _core.probe_fma_flops(dtype_name, 100)
        twice = _core.probe_fma_flops(dtype_name, 200)
        # Every thread runs the same rounds of a whole number of flops each.
        per_round = once / fastconv.get_num_threads() / 100
    assert once > 0 and twice == 2 * once, f"{dtype_name}, {threads} threads: {once}, {twice}"
    assert per_round == int(per_round), f"{dtype_name}, {threads} threads: {once} flops for 100 rounds"


def test_probe_names_its_instruction_set():
    assert _core.probe_simd_name() in {"avx512f", "avx2", "generic"}
    if _core.simd_level() == "generic":   # FASTCONV_SIMD=generic forces the portable chains too
        assert _core.probe_simd_name() == "generic"


def test_probe_rejects_other_dtypes():
    with pytest.raises(ValueError, match="float16"):
        _core.probe_fma_flops("float16", 10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc high-water mark is Linux's")
def test_peak_memory_child_reports_the_output_at_least():
    case = ("small", (2, 8, 64, 64), (16, 8, 3, 3), 1, 1, 1, 1)
    measured = bench.measure_peak_memory(case, "fastconv", 1, "float32")
    assert "error" not in measured, measured
    assert measured["output_kb"] == 2 * 16 * 64 * 64 * 4 // 1024, measured
    assert measured["peak_extra_kb"] >= measured["output_kb"], measured


def test_steal_time_from_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  700 10 80 5000 40 5 5 60 30 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n")
    assert bench._cpu_times(str(stat)) == (60, 800)
    # 100 busy ticks and 25 stolen ones: 20% of the time the work wanted
    assert bench.steal_percent((60, 800), (85, 900)) == pytest.approx(20.0)
    assert bench.steal_percent((60, 800), (60, 900)) == 0.0
    assert bench.steal_percent(None, (85, 900)) is None
    assert bench.steal_percent((60, 800), (60, 800)) is None, "nothing ran"
    stat.write_text("cpu  1 2 3 4\n")   # an old kernel without the steal column
    assert bench._cpu_times(str(stat)) is None
    assert bench._cpu_times(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("percent, warned", [(None, False), (0.5, False), (12.0, True)])
def test_steal_warning_only_when_the_host_took_time(percent, warned, capsys):
    bench.print_steal_warning(percent, sys.stdout)
    out = capsys.readouterr().out
    assert ("steal time" in out) == warned, out
    if warned:
        assert "12%" in out, out


def test_plot_without_matplotlib_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import fails as if not installed
    rows = [{"threads": 1, "mode": "forward", "case": "c", "contender": "peer", "speedup": 2.0}]
    assert bench.plot_speedups(rows, str(tmp_path / "speedups.png")) is False
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not (tmp_path / "speedups.png").exists()


def test_run_without_threadpoolctl_says_numpy_blas_is_not_limited(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # import fails as if not installed
    path = tmp_path / "bench.json"
    status = bench.main(["--quick", "--repeat", "1", "--threads", "1", "--cases", "^seed-edge-1x2$",
                         "--mode", "forward", "--json", str(path)])
    assert status == 0
    assert "threadpoolctl is not installed" in capsys.readouterr().out
    assert json.loads(path.read_text())["versions"]["threadpoolctl"] is None


def test_run_with_threadpoolctl_reports_its_version(smoke_report, capsys):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    _, report = smoke_report
    assert report["versions"]["threadpoolctl"] == threadpoolctl.__version__, report["versions"]


def test_bench_scripts_use_the_packaged_suite():
    """bench/layers.py re-exports the suite shipped in the package: one list to edit."""
    path = Path(__file__).resolve().parent.parent / "bench" / "layers.py"
    spec = importlib.util.spec_from_file_location("bench_layers_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for name in ("CONV", "POOL", "conv_flops", "out_size"):
        assert getattr(script, name) is getattr(packaged, name), f"bench/layers.py {name}"
