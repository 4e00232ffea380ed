"""`python -m fastconv`: the same command line as the `fastconv` script (fastconv.cli)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
