"""The benchmark's layer suite (NCHW conv and pooling shapes).

The suite lives in the package, fastconv/_bench_layers.py, so that
`fastconv bench` works from an installed wheel; this module re-exports it for
scripts in bench/ so there is one list to edit.
"""
from fastconv._bench_layers import CONV, POOL, conv_flops, out_size

__all__ = ["CONV", "POOL", "conv_flops", "out_size"]
