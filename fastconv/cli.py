"""The `fastconv` command line (also `python -m fastconv`).

    fastconv train-edge     learn the lesson's 1x2 edge kernel [[1, -1]] (fastconv.train.train_edge)
    fastconv train-digits   a small CNN on scikit-learn's 8x8 digits (fastconv.train.train_digits)
    fastconv info           fastconv.show_config()
    fastconv bench ...      fastconv.bench.main(...): every argument after "bench" goes to it

`main(argv)` returns the exit status instead of exiting, argparse errors included (status 2),
so it can be called from Python and tests.  The experiments and the benchmark are imported
only when their subcommand runs, which keeps `fastconv --help` instant.
"""
import argparse
import json
import sys

from ._version import __version__


def _checked_number(convert, accept, expected):
    """An argparse type: convert the text, then require accept(value)."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_int = _checked_number(int, lambda v: v >= 1, "an integer >= 1")
_seed = _checked_number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _checked_number(float, lambda v: 0 < v < float("inf"), "a finite number > 0")


def _add_output_options(parser):
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true",
                        help="print only the result line, no per-epoch progress")
    output.add_argument("--json", action="store_true",
                        help="print one JSON object with the settings and results, nothing else")


def build_parser():
    from . import train

    parser = argparse.ArgumentParser(
        prog="fastconv",
        description="fastconv: fast NCHW convolution, pooling and ReLU for NumPy, in C.",
    )
    parser.add_argument("--version", action="version", version=f"fastconv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    edge = commands.add_parser(
        "train-edge", help="learn the 1x2 edge kernel [[1, -1]] by gradient descent",
        description="The lesson's experiment: learn the kernel [[1, -1]] back from a 6x8 image "
                    "X and its edge map Y = conv2d(X, [[1, -1]]) with a 1x2 Conv2D (no bias), "
                    "by gradient descent on sum((Yhat - Y)**2).",
    )
    edge.add_argument("--epochs", type=_positive_int, default=train.EDGE_EPOCHS,
                      help="gradient descent steps (default %(default)s)")
    edge.add_argument("--lr", type=_positive_float, default=train.EDGE_LEARNING_RATE,
                      help="learning rate (default %(default)s)")
    edge.add_argument("--seed", type=_seed, default=train.EDGE_SEED,
                      help="seed of the kernel's random initial value (default %(default)s)")
    _add_output_options(edge)

    digits = commands.add_parser(
        "train-digits", help="train a small CNN on scikit-learn's 8x8 digits",
        description="conv-ReLU-pool twice then Dense, trained with minibatch SGD and softmax "
                    "cross-entropy on scikit-learn's bundled 8x8 digits; reports test accuracy "
                    "and training time.  Needs scikit-learn: pip install 'fastconv[digits]'.",
    )
    digits.add_argument("--epochs", type=_positive_int, default=train.DIGITS_EPOCHS,
                        help="passes over the training set (default %(default)s)")
    digits.add_argument("--lr", type=_positive_float, default=train.DIGITS_LEARNING_RATE,
                        help="learning rate (default %(default)s)")
    digits.add_argument("--batch-size", type=_positive_int, default=train.DIGITS_BATCH_SIZE,
                        help="images per SGD step (default %(default)s)")
    digits.add_argument("--seed", type=_seed, default=train.DIGITS_SEED,
                        help="seed of the split, the initial weights and the shuffling "
                             "(default %(default)s)")
    _add_output_options(digits)

    commands.add_parser("info", help="print version, compiler, OpenMP, SIMD level and threads")
    # Listed for --help only: main() hands everything after "bench" to fastconv.bench.
    commands.add_parser("bench", add_help=False,
                        help="benchmark fastconv against NumPy, SciPy and PyTorch "
                             "(fastconv bench --help)")
    return parser


def _print_line(line):
    print(line, flush=True)


def _run_train_edge(options):
    from .train import train_edge

    report = None if options.quiet or options.json else _print_line
    result = train_edge(epochs=options.epochs, learning_rate=options.lr, seed=options.seed,
                        report=report)
    if options.json:
        print(json.dumps(result))
        return 0
    kernel = ", ".join(f"{value:.3f}" for value in result["kernel"][0])
    print(f"learned kernel [[{kernel}]] (target [[1, -1]]), loss {result['final_loss']:.4f}")
    return 0


def _run_train_digits(options):
    from .train import MissingOptionalDependency, train_digits

    report = None if options.quiet or options.json else _print_line
    try:
        result = train_digits(epochs=options.epochs, learning_rate=options.lr,
                              batch_size=options.batch_size, seed=options.seed, report=report)
    except MissingOptionalDependency as error:
        print(f"fastconv train-digits: {error}", file=sys.stderr)
        return 2
    if options.json:
        print(json.dumps(result))
        return 0
    correct = round(result["test_accuracy"] * result["test_size"])
    print(f"test accuracy {result['test_accuracy']:.4f} ({correct}/{result['test_size']} "
          f"digits), train accuracy {result['train_accuracy']:.4f}; "
          f"{result['epochs']} epochs on {result['train_size']} images in "
          f"{result['seconds']:.1f} s")
    return 0


def _run_info(options):
    from ._config import show_config

    show_config()
    return 0


_COMMANDS = {
    "train-edge": _run_train_edge,
    "train-digits": _run_train_digits,
    "info": _run_info,
}


def main(argv=None):
    """Runs the command line with argv (default sys.argv[1:]); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # bench has its own parser (and --help): forward its arguments untouched
        from . import bench

        return int(bench.main(argv[1:]) or 0)
    try:
        options = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        # --help, --version and usage errors: argparse has printed; report its status
        code = exit_request.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    return _COMMANDS[options.command](options)
