"""The training experiments (fastconv.train) and the command line (fastconv.cli,
python -m fastconv): results, output format, determinism, argument errors, forwarding."""
import json
import os
import re
import subprocess
import sys

import numpy
import pytest

import fastconv
from fastconv import cli, train
from fastconv.train import train_edge

TARGET_KERNEL = numpy.array([[1.0, -1.0]])
EPOCH_LINE = re.compile(r"epoch (\d+), loss (\d+\.\d{3})")


def fastconv_subprocess(*arguments):
    """Runs `python -m fastconv ARGS` against the fastconv this test imported (from its
    parent folder: `-m` puts the working directory first on sys.path, and a source
    checkout's fastconv/ there has no compiled core)."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    environment = dict(os.environ, PYTHONPATH=package_parent)
    return subprocess.run([sys.executable, "-m", "fastconv", *arguments], capture_output=True,
                          text=True, env=environment, timeout=300,
                          cwd=package_parent)


# ---- train-edge ------------------------------------------------------------------------------

def test_edge_data_is_the_lessons():
    image, edges = train.edge_data()
    expected_image = numpy.ones((6, 8))
    expected_image[:, 2:6] = 0
    numpy.testing.assert_array_equal(image, expected_image)
    # +1 where a white->black edge starts, -1 where black->white: columns 1 and 5
    expected_edges = numpy.zeros((6, 7))
    expected_edges[:, 1] = 1
    expected_edges[:, 5] = -1
    numpy.testing.assert_array_equal(edges, expected_edges)


def test_train_edge_default_learns_the_kernel():
    result = train_edge()
    assert (result["epochs"], result["lr"], result["seed"]) == (10, 3e-2, train.EDGE_SEED)
    assert len(result["losses"]) == 10
    assert result["final_loss"] < 0.1, result
    assert numpy.abs(numpy.array(result["kernel"]) - TARGET_KERNEL).max() < 0.05, result


@pytest.mark.parametrize("seed", range(8))
def test_train_edge_converges_from_any_seed(seed):
    # Gradient descent on this quadratic shrinks the loss by at least 0.64 per step at
    # lr 3e-2 (the Hessian's eigenvalues are 12 and 60), whatever the start.
    result = train_edge(seed=seed)
    losses = result["losses"] + [result["final_loss"]]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), (seed, losses)
    assert result["final_loss"] < 0.0116 * losses[0], (seed, losses)
    assert numpy.abs(numpy.array(result["kernel"]) - TARGET_KERNEL).max() < 0.15, (seed, result)
    longer = train_edge(epochs=30, seed=seed)
    assert longer["final_loss"] < 1e-3, (seed, longer)


def test_train_edge_is_deterministic_for_a_seed():
    assert train_edge(seed=7) == train_edge(seed=7)
    assert train_edge(seed=7)["kernel"] != train_edge(seed=8)["kernel"]


def test_train_edge_reports_every_second_epoch():
    lines = []
    result = train_edge(epochs=7, report=lines.append)
    assert len(lines) == 3, lines
    for line, epoch in zip(lines, (2, 4, 6)):
        match = EPOCH_LINE.fullmatch(line)
        assert match, line
        assert int(match.group(1)) == epoch
        assert match.group(2) == f"{result['losses'][epoch - 1]:.3f}", (line, result["losses"])


@pytest.mark.parametrize("arguments,pattern", [
    (dict(epochs=0), "epochs must be an int >= 1, got 0"),
    (dict(learning_rate=-1.0), "learning_rate must be > 0, got -1.0"),
])
def test_train_edge_rejects_bad_arguments(arguments, pattern):
    with pytest.raises(ValueError, match=pattern):
        train_edge(**arguments)


def test_cli_train_edge_prints_the_lessons_output(capsys):
    assert cli.main(["train-edge"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [EPOCH_LINE.fullmatch(line) is not None for line in lines] == [True] * 5 + [False], lines
    result = train_edge()
    kernel = ", ".join(f"{value:.3f}" for value in result["kernel"][0])
    assert lines[-1] == f"learned kernel [[{kernel}]] (target [[1, -1]]), loss {result['final_loss']:.4f}"


def test_cli_train_edge_json_and_options(capsys):
    assert cli.main(["train-edge", "--json", "--epochs", "4", "--lr", "0.01", "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == train_edge(epochs=4, learning_rate=0.01, seed=3)
    assert set(printed) == {"epochs", "lr", "seed", "losses", "kernel", "final_loss"}


def test_cli_train_edge_quiet_prints_only_the_result(capsys):
    assert cli.main(["train-edge", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("learned kernel"), lines


def test_python_m_fastconv_train_edge_json():
    completed = fastconv_subprocess("train-edge", "--json")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result == train_edge()
    assert result["final_loss"] < 0.1


# ---- argument handling, info, bench --------------------------------------------------------

@pytest.mark.parametrize("argv,pattern", [
    ([], "required: COMMAND"),
    (["train-edge", "--epochs", "0"], "--epochs: expected an integer >= 1, got '0'"),
    (["train-edge", "--lr", "nan"], "--lr: expected a finite number > 0, got 'nan'"),
    (["train-edge", "--seed", "-1"], "--seed: expected an integer >= 0, got '-1'"),
    (["train-edge", "--quiet", "--json"], "not allowed with argument"),
    (["train-digits", "--batch-size", "x"], "--batch-size: expected an integer >= 1, got 'x'"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
])
def test_cli_usage_errors_return_2(argv, pattern, capsys):
    assert cli.main(argv) == 2, argv
    assert re.search(pattern, capsys.readouterr().err), argv


def test_cli_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train-edge", "train-digits", "info", "bench"):
        assert command in out, command


def test_cli_info_shows_config(capsys):
    from fastconv import _core
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert fastconv.__version__ in out
    llc = _core.llc_bytes()
    assert (f"{llc / 2**20:g} MB last level" if llc else "last level not reported") in out, out


def test_cli_bench_forwards_its_arguments(monkeypatch):
    import fastconv.bench

    received = []

    def fake_bench_main(argv):
        received.append(argv)
        return 3

    monkeypatch.setattr(fastconv.bench, "main", fake_bench_main)
    assert cli.main(["bench", "--help", "--cases", "seed-edge-1x2"]) == 3
    assert received == [["--help", "--cases", "seed-edge-1x2"]]


def test_python_m_fastconv_without_command_fails():
    completed = fastconv_subprocess()
    assert completed.returncode == 2
    assert "usage: fastconv" in completed.stderr


# ---- train-digits --------------------------------------------------------------------------

def test_cli_train_digits_without_scikit_learn(monkeypatch, capsys):
    # None in sys.modules makes `import sklearn...` raise ImportError, as if not installed
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert cli.main(["train-digits"]) == 2
    captured = capsys.readouterr()
    assert "pip install 'fastconv[digits]'" in captured.err and "scikit-learn" in captured.err
    assert captured.out == ""


def test_cli_train_digits_reaches_95_percent(capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["train-digits", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] >= 0.95, result
    assert (result["epochs"], result["batch_size"], result["seed"]) == (
        train.DIGITS_EPOCHS, train.DIGITS_BATCH_SIZE, train.DIGITS_SEED)
    assert result["train_size"] + result["test_size"] == 1797
    assert len(result["losses"]) == result["epochs"]
    assert result["losses"][-1] < result["losses"][0], result["losses"]


def test_cli_train_digits_output_lines(capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["train-digits", "--epochs", "1", "--batch-size", "64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"epoch 1/1, loss \d+\.\d{4}", lines[0]), lines
    assert re.fullmatch(r"test accuracy (0|1)\.\d{4} \(\d+/449 digits\), train accuracy (0|1)\.\d{4}; "
                        r"1 epochs on 1348 images in \d+\.\d s", lines[1]), lines
    assert len(lines) == 2, lines
