"""ONNX's reference ``pool`` (``onnx.reference.ops.op_pool_common.pool``), vectorised.

The node test cases of average, max and Lp pooling compute their expected outputs with
onnx's ``pool`` when :func:`mlc.frontend.onnx_conformance.node_cases` collects them: a
Python loop over every output position that builds each window's values by a list
comprehension, most of the collection's time (the 3-D default cases have 32**3 positions).
:func:`pool` gathers every window at once and reduces each the way onnx's does, to the
same bits: the window's values in the same order (C order over the window's dimensions),
the NaN padding left out of the same windows, and one NumPy reduction along a contiguous
row per window (the reduction onnx makes of each window's 1-D array).
:func:`fast_pool` puts it in place of onnx's while the cases are collected
(``tests/frontend/test_onnx_pool.py`` checks it against onnx's own).
"""
from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence

import numpy as np


def _window_positions(x_shape, kernel, strides, pads_required, pads, dilations):
    """Per spatial dimension: the output positions' count and, for each, its window's pixels
    (those inside the padded extent), as onnx's loop enumerates them."""
    spatial = len(x_shape) - 2
    out, pixels = [], []
    for i in range(spatial):
        span = 1 + (kernel[i] - 1) * dilations[i]
        count = int((x_shape[i + 2] + pads_required[i] + pads_required[i + spatial] - span) / strides[i] + 1)
        limit = x_shape[i + 2] + pads[i] + pads[spatial + i]
        out.append(count)
        pixels.append([[p for p in range(strides[i] * o, strides[i] * o + span, dilations[i]) if p < limit]
                       for o in range(count)])
    return out, pixels


def pool(padded: np.ndarray, x_shape: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
         out_shape: Sequence[int], pooling_type: str, pads_required: Sequence[int] | None = None,
         pads: Sequence[int] | None = None, dilations: Sequence[int] | None = None,
         count_include_pad: int = 0, p: int = 1) -> np.ndarray:
    """onnx's ``pool`` (same arguments, same result to the bit), without its loop."""
    spatial = len(x_shape) - 2
    y = np.zeros([x_shape[0], x_shape[1], *list(out_shape)], dtype=padded.dtype)
    dilations = np.ones([spatial], dtype=np.int64) if dilations is None else dilations
    if pads_required is None:
        pads_required = np.zeros([spatial * 2], dtype=np.int64)
    elif len(pads_required) == 1:
        pads_required = pads_required * spatial * 2
    if pads is None:
        pads = np.zeros([spatial * 2], dtype=np.int64)
    elif len(pads) == 1:
        pads = pads * spatial * 2
    strides = strides or [1] * spatial
    if pooling_type not in ("AVG", "MAX", "LPPOOL"):
        raise ValueError(f"pool: pooling_type must be 'AVG', 'MAX' or 'LPPOOL', got {pooling_type!r}")
    counts, pixels = _window_positions(x_shape, kernel, strides, pads_required, pads, dilations)
    keep_nan = count_include_pad == 1 and pooling_type in ("AVG", "LPPOOL")
    # windows of the same size per dimension share one gather: the positions by window shape
    by_size: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for position in itertools.product(*(range(c) for c in counts)):
        by_size.setdefault(tuple(len(pixels[i][o]) for i, o in enumerate(position)), []).append(position)
    for sizes, positions in by_size.items():
        # index arrays (positions, window elements) per spatial dimension, window in C order
        grids = np.meshgrid(*(np.arange(s) for s in sizes), indexing="ij")
        index = [np.array([pixels[i][pos[i]] for pos in positions], np.int64)[:, grids[i].ravel()]
                 for i in range(spatial)]
        where = tuple(np.array(positions, np.int64).T)
        for n, c in itertools.product(range(x_shape[0]), range(x_shape[1])):
            values = padded[n, c][tuple(index)]  # (positions, window)
            out = y[n, c]
            if keep_nan:
                out[where] = _reduce(values, pooling_type, p)
                continue
            valid = ~np.isnan(values)
            masks, which = np.unique(valid, axis=0, return_inverse=True)
            which = which.reshape(-1)
            for k, mask in enumerate(masks):  # the windows leaving out the same NaNs
                rows = np.flatnonzero(which == k)
                out[tuple(w[rows] for w in where)] = _reduce(values[rows][:, mask], pooling_type, p)
    return y


def _reduce(rows: np.ndarray, pooling_type: str, p: int) -> np.ndarray:
    """onnx's reduction of one window's values (np.average, np.max, its lp_pool), of each row."""
    rows = np.ascontiguousarray(rows)
    if pooling_type == "AVG":
        return np.mean(rows, axis=1)
    if pooling_type == "MAX":
        return np.max(rows, axis=1)
    # the root of each sum as onnx takes it, a NumPy scalar's ``**`` (an array's rounds
    # differently: it takes sqrt for 0.5)
    sums = np.sum(np.abs(rows) ** p, axis=1)
    return np.array([s ** (1.0 / p) for s in sums], sums.dtype)


@contextlib.contextmanager
def fast_pool():
    """onnx's ``pool`` is :func:`pool` for the node test modules imported inside (they take
    the name at import); those imported already keep onnx's."""
    from onnx.reference.ops import op_pool_common
    original = op_pool_common.pool
    op_pool_common.pool = pool
    try:
        yield
    finally:
        op_pool_common.pool = original
