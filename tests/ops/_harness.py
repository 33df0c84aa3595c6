"""Build and run one op, and check it three ways.

``check_op(name, arrays, expected, **attrs)`` asserts that
1. ``infer`` gives the shape and dtype of ``expected`` (the real NumPy result),
2. the op's ``reference`` equals ``expected``,
3. the te lowering, built into a PrimFunc and run on every available target
   (the reference interpreter, LLVM), equals the ``reference``.

Builds are cached per (op, input types, attrs, target), since Hypothesis
repeats signatures with different values.
"""
from __future__ import annotations

import warnings

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import te
from mlc.ops import TensorType, get_op

FLOATS = ("float16", "float32", "float64")
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
NUMERIC = INTS + FLOATS
ALL = ("bool",) + NUMERIC


#: Every target an op's lowering runs on.
TARGETS = ("reference", "llvm")

#: Relative tolerance of one float operation per dtype (a few ulps: libm implementations differ).
RTOL = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-12}

_BUILDS: dict = {}


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def build_op(name: str, in_types, attrs: dict, target: str):
    """Lower op ``name`` for inputs of ``in_types`` and build it; cached."""
    key = (name, tuple(in_types), tuple(sorted(attrs.items())), target)
    hit = _BUILDS.get(key)
    if hit is not None:
        return hit
    op = get_op(name)
    inputs = [te.placeholder(t.shape, t.dtype, f"in{n}") for n, t in enumerate(in_types)]
    outs = _as_tuple(op.lower(*inputs, **attrs))
    func = te.create_prim_func(inputs + list(outs))
    lib = mlc.build(mlc.IRModule({"main": func}), target)
    out_types = [TensorType(o.shape, o.dtype) for o in outs]
    _BUILDS[key] = (lib, out_types)
    return lib, out_types


def run_op(name: str, arrays, target: str = "reference", **attrs) -> tuple[np.ndarray, ...]:
    """Run op ``name``'s te lowering on ``arrays`` with ``target``; returns its outputs."""
    arrays = [np.asarray(a).copy(order="C") for a in arrays]  # (ascontiguousarray makes 0-d 1-d)
    in_types = [TensorType(a.shape, a.dtype.name) for a in arrays]
    lib, out_types = build_op(name, in_types, attrs, target)
    outs = [np.empty(t.shape, t.dtype) for t in out_types]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lib["main"](*arrays, *outs)
    return tuple(outs)


def numpy_call(fn, *args, **kwargs):
    """Call a NumPy function with floating-point warnings silenced; arrays out."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = fn(*args, **kwargs)
    if isinstance(result, (tuple, list)):
        return tuple(np.asarray(r) for r in result)
    return np.asarray(result)


def assert_close(actual, expected, *, rtol=None, atol=0.0, what=""):
    """Same shape and dtype; exact for ints and bools, NaN/inf-aware tolerance for floats."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if actual.dtype.kind != "f":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    rtol = RTOL[actual.dtype.name] if rtol is None else rtol
    a, e = actual.astype("float64"), expected.astype("float64")
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"{what}: NaN positions differ")
    finite = np.isfinite(e) & np.isfinite(a)
    np.testing.assert_array_equal(a[~finite & ~np.isnan(e)], e[~finite & ~np.isnan(e)],
                                  err_msg=f"{what}: infinities differ")
    tiny = np.finfo(actual.dtype).tiny * 4  # flush-to-zero / subnormal slack
    np.testing.assert_allclose(a[finite], e[finite], rtol=rtol, atol=atol + tiny, err_msg=what)


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


# ------------------------------------------------------------------ strategies

def elements(dtype: str, *, special: bool = True, bound: float | None = None, min_value=None):
    """Values of ``dtype``: negatives, zeros, large magnitudes; inf/nan when ``special``."""
    if dtype == "bool":
        return st.booleans()
    if dtype in FLOATS:
        finfo = np.finfo(dtype)
        hi = float(finfo.max) if bound is None else bound
        lo = -hi if min_value is None else min_value
        values = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=finfo.bits)
        picks = [0.0, -0.0, 1.0, -1.0, 0.5]
        picks = [p for p in picks if lo <= p <= hi]
        options = [values, st.sampled_from(picks)] if picks else [values]
        if special:
            options.append(st.sampled_from([np.nan, np.inf, -np.inf]))
        return st.one_of(*options)
    info = np.iinfo(dtype)
    lo = int(info.min) if bound is None else max(int(info.min), -int(bound))
    lo = lo if min_value is None else max(lo, int(min_value))
    hi = int(info.max) if bound is None else min(int(info.max), int(bound))
    return st.one_of(st.integers(lo, hi), st.sampled_from([v for v in (0, 1, -1, lo, hi) if lo <= v <= hi]))


def arrays(dtype: str, shape, **kwargs):
    """A NumPy array of ``dtype`` and ``shape`` drawn with :func:`elements`."""
    return hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, **kwargs))


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_pair(min_dims=0, max_dims=3, max_side=5):
    """Two shapes that broadcast together (size-1 and missing dimensions included)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=min_dims, max_dims=max_dims,
                                             max_side=max_side).map(lambda r: r.input_shapes)


def types(*dtypes):
    """TensorTypes of one scalar element, for quick infer checks."""
    return [TensorType((), d) for d in dtypes]
