"""Build and run one op, and check it three ways.

``check_op(name, arrays, expected, **attrs)`` asserts that
1. ``infer`` gives the shape and dtype of ``expected`` (the real NumPy result),
2. the op's ``reference`` equals ``expected``,
3. the te lowering (or the op's hand-written ``prim_func``), built into a PrimFunc and run on every target
   (the reference interpreter and LLVM, or ``--mlc-target``'s), equals the ``reference``.

Builds are cached per (op, input types, attrs, target), since Hypothesis
repeats signatures with different values. Strategies, dtype groups and the
comparison are :mod:`mlc.testing`'s.
"""
from __future__ import annotations

import warnings

import numpy as np

import mlc
import mlc.testing as mt
from mlc import te
from mlc.ops import TensorType, get_op
from mlc.ops.hand_written import REGION_WRITE, hand_written
from mlc.testing import ALL, FLOATS, INTS, NUMERIC, SIGNED, UNSIGNED, numpy_call  # noqa: F401

#: Every target an op's lowering runs on (the pytest option --mlc-target picks another).
TARGETS = tuple(sorted(mt.default_targets(), reverse=True))

#: Relative tolerance of one float operation per dtype (a few ulps: libm implementations differ).
RTOL = mt.DEFAULT_RTOL

_BUILDS: dict = {}


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def build_op(name: str, in_types, attrs: dict, target: str):
    """Lower op ``name`` for inputs of ``in_types`` and build it; cached."""
    # an attribute's type is part of the key: 0 == 0.0 == False, but clip(x, 0.0) is a float op
    key = (name, tuple(in_types), tuple(sorted((k, type(v).__name__, v) for k, v in attrs.items())), target)
    hit = _BUILDS.get(key)
    if hit is not None:
        return hit
    op = get_op(name)
    if op.prim_func is not None:  # an opaque op with its own hand-written PrimFunc, as the graph lowers it
        func = hand_written(name, in_types, attrs)
        out_types = list(_as_tuple(op.infer(*in_types, **attrs)))
    else:
        inputs = [te.placeholder(t.shape, t.dtype, f"in{n}") for n, t in enumerate(in_types)]
        outs = _as_tuple(op.lower(*inputs, **attrs))
        func = te.create_prim_func(inputs + list(outs))
        out_types = [TensorType(o.shape, o.dtype) for o in outs]
    lib = mlc.build(mlc.IRModule({"main": func}), target)
    _BUILDS[key] = (lib, out_types)
    return lib, out_types


def output_starts(name: str, in_types, attrs: dict) -> list[tuple[int, int]]:
    """(output, argument) pairs of the outputs a kernel of op ``name`` finds holding an
    argument, as ``main`` gives them: an in-place kernel updates its output, a region write
    (:data:`~mlc.ops.hand_written.REGION_WRITE`) writes only its region."""
    op = get_op(name)
    pairs = list(op.inplace(in_types, attrs) if callable(op.inplace) else op.inplace)
    if op.prim_func is not None:
        k = hand_written(name, in_types, attrs).attr(REGION_WRITE)
        if k is not None:
            pairs.append((0, k))
    return pairs


def run_op(name: str, arrays, target: str = "reference", **attrs) -> tuple[np.ndarray, ...]:
    """Run op ``name``'s te lowering on ``arrays`` with ``target``; returns its outputs."""
    arrays = [np.asarray(a).copy(order="C") for a in arrays]  # (ascontiguousarray makes 0-d 1-d)
    in_types = [TensorType(a.shape, a.dtype.name) for a in arrays]
    lib, out_types = build_op(name, in_types, attrs, target)
    outs = [np.empty(t.shape, t.dtype) for t in out_types]
    for o, k in output_starts(name, in_types, attrs):
        outs[o][...] = arrays[k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lib["main"](*arrays, *outs)
    return tuple(outs)


def assert_close(actual, expected, *, rtol=None, atol=0.0, what=""):
    """Same shape and dtype; exact for ints and bools, NaN/inf-aware tolerance for floats."""
    rtol = RTOL.get(np.asarray(actual).dtype.name) if rtol is None else rtol
    mt.assert_close(actual, expected, rtol=rtol, atol=atol, what=what)


def check_op(name: str, arrays, expected, *, targets=TARGETS, rtol=None, atol=0.0, **attrs):
    """The three checks of this module's docstring; ``expected`` is NumPy's own result."""
    op = get_op(name)
    arrays = [np.asarray(a) for a in arrays]
    in_types = [TensorType(a.shape, a.dtype.name) for a in arrays]
    expected = _as_tuple(expected)
    inferred = _as_tuple(op.infer(*in_types, **attrs))
    assert inferred == tuple(TensorType(e.shape, e.dtype.name) for e in expected), \
        f"{name}: infer gave {inferred}, NumPy gives {[(e.shape, e.dtype.name) for e in expected]}"
    reference = _as_tuple(numpy_call(op.reference, *arrays, **attrs))
    for r, e in zip(reference, expected, strict=True):
        assert_close(r, e, rtol=rtol, atol=atol, what=f"{name} reference vs NumPy")
    for target in targets:
        for got, r in zip(run_op(name, arrays, target, **attrs), reference, strict=True):
            assert_close(got, r, rtol=rtol, atol=atol, what=f"{name} on {target} vs reference")


def sorted_expected(name: str, x: np.ndarray, descending: bool) -> np.ndarray:
    """What ``sort`` or ``argsort`` (``name``) of ``x`` along its last axis gives: NumPy's stable
    order; descending, the stable ascending order of the reversed axis, reversed (NaN first,
    ties in input order)."""
    if descending:
        n = x.shape[-1]
        order = n - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]
    else:
        order = np.argsort(x, axis=-1, kind="stable")
    return order.astype("int64") if name == "argsort" else np.take_along_axis(x, order, axis=-1)


# ------------------------------------------------------------------ strategies

def arrays(dtype: str, shape, *, special: bool = True, bound: float | None = None, min_value=None):
    """Arrays of ``dtype`` and ``shape`` (mlc.testing's); NaN and infinities unless ``special=False``."""
    return mt.arrays(dtype, shape, special=("nan", "inf") if special else False, bound=bound,
                     min_value=min_value)


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=5):
    return mt.shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_pair(min_dims=0, max_dims=3, max_side=5):
    """Two shapes that broadcast together (size-1 and missing dimensions included)."""
    return mt.broadcastable(2, min_dims=min_dims, max_dims=max_dims, max_side=max_side)


def types(*dtypes):
    """TensorTypes of one scalar element, for quick infer checks."""
    return [TensorType((), d) for d in dtypes]
