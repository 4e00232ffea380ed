"""Run the fastconv benchmark from a source checkout: `python bench/run.py --help`.

The benchmark itself is fastconv.bench (also `fastconv bench` once installed);
this script only forwards the command line to it.
"""
import sys

from fastconv.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
