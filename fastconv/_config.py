"""show_config(): what this build of fastconv is and what it chose at run time."""
from __future__ import annotations

import os
import platform
import sys
import warnings

import numpy as np

from . import _core
from ._version import __version__


# Values FASTCONV_SIMD understands; it can only lower the level the CPU supports.
SIMD_LEVELS = ("generic", "avx2", "avx512")


def check_simd_env():
    """Warn about a FASTCONV_SIMD value the core ignores (a typo would silently test the wrong kernels)."""
    value = os.environ.get("FASTCONV_SIMD", "")
    if value and value not in SIMD_LEVELS:
        warnings.warn(f"FASTCONV_SIMD={value!r} is not one of {SIMD_LEVELS}; ignored "
                      f"(using {_core.simd_level()})", RuntimeWarning, stacklevel=3)


def config():
    """The build and run-time facts as a dict."""
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "compiler": _core.compiler(),
        "openmp": _core.openmp_enabled(),
        "simd": _core.simd_level(),
        "simd_detected": _core.simd_level_detected(),
        "threads": _core.get_num_threads(),
        "cpus": _core.cpu_count(),
        "llc_bytes": _core.llc_bytes(),
        "stream_threshold": _core.stream_threshold(),
        "pointwise_in_place": _core.pointwise_in_place(),
        "buffer_cache_limit": _core.buffer_cache_info()["limit"],
    }


def show_config():
    """Print version, compiler, OpenMP on/off, the SIMD level chosen at run time, threads, the
    last-level cache with the pass size from which pooling streams its output past it, and whether
    1x1 convs read their input in place."""
    c = config()
    forced = "" if c["simd"] == c["simd_detected"] else f" (CPU supports {c['simd_detected']}; lowered by FASTCONV_SIMD)"
    print(f"fastconv {c['version']}")
    print(f"  python     {c['python']}, numpy {c['numpy']}, {c['platform']}")
    print(f"  compiler   {c['compiler']}")
    print(f"  openmp     {'on' if c['openmp'] else 'off (serial build)'}")
    print(f"  simd       {c['simd']}{forced}")
    print(f"  threads    {c['threads']} (of {c['cpus']} CPUs)")
    llc = f"{c['llc_bytes'] / 2**20:g} MB last level" if c["llc_bytes"] else "last level not reported"
    stream = ("pooling passes write no output non-temporally" if c["stream_threshold"] is None else
              f"pooling passes over {c['stream_threshold'] / 2**20:g} MB write their output non-temporally")
    print(f"  cache      {llc}; {stream}")
    in_place = c["pointwise_in_place"] and c["simd"] == "avx512"
    print(f"  1x1 convs  {'input read in place where the shape suits' if in_place else 'input packed'}")
    print(f"  buffers    freed outputs of 1 MiB or more kept for reuse: up to "
          f"{c['buffer_cache_limit'] / 2**20:g} MiB (set_buffer_cache)")
