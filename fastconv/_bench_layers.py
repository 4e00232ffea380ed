"""The layer suite `fastconv bench` times: shapes real CNN users run (NCHW, float32).

This module is the one copy of the suite: it ships in the wheel so that the
benchmark runs from an installed package, and bench/layers.py re-exports it.

Each conv case: (name, x_shape, w_shape, stride, padding, dilation, groups).
Each pool case: (name, x_shape, kind, kernel, stride, padding).
"""
CONV = [
    ("seed-edge-1x2",  (1, 1, 6, 8),      (1, 1, 1, 2),     1, 0, 1, 1),
    ("img512-3x3",     (1, 1, 512, 512),  (1, 1, 3, 3),     1, 1, 1, 1),
    ("img512-7x7",     (1, 1, 512, 512),  (1, 1, 7, 7),     1, 3, 1, 1),
    ("lenet-c1",       (64, 1, 28, 28),   (6, 1, 5, 5),     1, 0, 1, 1),
    ("cifar-3to64",    (32, 3, 32, 32),   (64, 3, 3, 3),    1, 1, 1, 1),
    ("vgg-64x56",      (8, 64, 56, 56),   (64, 64, 3, 3),   1, 1, 1, 1),
    ("res-128x28",     (8, 128, 28, 28),  (128, 128, 3, 3), 1, 1, 1, 1),
    ("res-256x14",     (8, 256, 14, 14),  (256, 256, 3, 3), 1, 1, 1, 1),
    ("res-s2-64to128", (8, 64, 56, 56),   (128, 64, 3, 3),  2, 1, 1, 1),
    ("pw-1x1-256to64", (8, 256, 56, 56),  (64, 256, 1, 1),  1, 0, 1, 1),
    ("stem-7x7-s2",    (4, 3, 224, 224),  (64, 3, 7, 7),    2, 3, 1, 1),
    ("dw-128x56",      (8, 128, 56, 56),  (128, 1, 3, 3),   1, 1, 1, 128),
    ("dilated-64",     (4, 64, 64, 64),   (64, 64, 3, 3),   1, 2, 2, 1),
    ("batch1-res-64",  (1, 64, 56, 56),   (64, 64, 3, 3),   1, 1, 1, 1),
]
POOL = [
    ("max2-s2-112",    (8, 64, 112, 112), "max", 2, 2, 0),
    ("max3-s2-p1-112", (8, 64, 112, 112), "max", 3, 2, 1),
    ("avg2-s2-112",    (8, 64, 112, 112), "avg", 2, 2, 0),
    ("avg3-s1-p1-56",  (8, 64, 56, 56),   "avg", 3, 1, 1),
    ("max2-s1-seed",   (1, 1, 6, 8),      "max", 2, 1, 0),
]


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_flops(case):
    """Multiply-adds x 2 of one forward pass."""
    _, (n, _, h, w), (o, cg, kh, kw), s, p, d, _ = case
    return 2.0 * n * o * out_size(h, kh, s, p, d) * out_size(w, kw, s, p, d) * cg * kh * kw
