"""complex64/complex128 programs of the CUDA tests, each with the NumPy function it computes,
and the comparisons of their results with NumPy's.

Each builder returns ``(module, inputs, want)``: an unscheduled module whose ``main`` takes
the inputs and then the outputs, and ``want(*arrays) -> outputs``, NumPy's results.
"""
import itertools
import math

import numpy as np

import mlc
from mlc import te
from mlc.ir.expr import Call, const
from mlc.ir.ops import MATH_CALLS

_prod = te.comm_reducer(lambda x, y: x * y, lambda dtype: const(1, dtype), name="prod")

#: Elementwise complex ops: name -> (te expression of a and b, NumPy function of a and b).
ELEMENTWISE = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "neg": (lambda a, b: -a, lambda a, b: np.negative(a)),
    "eq": (lambda a, b: a == b, np.equal),
    "ne": (lambda a, b: a != b, np.not_equal),
    "conj": (lambda a, b: te.conj(a), lambda a, b: np.conjugate(a)),
    "real": (lambda a, b: te.real(a), lambda a, b: np.real(a)),
    "imag": (lambda a, b: te.imag(a), lambda a, b: np.imag(a)),
    "abs": (lambda a, b: te.abs(a), lambda a, b: np.abs(a)),
    "exp": (lambda a, b: te.exp(a), lambda a, b: np.exp(a)),
    "log": (lambda a, b: te.log(a), lambda a, b: np.log(a)),
    "sqrt": (lambda a, b: te.sqrt(a), lambda a, b: np.sqrt(a)),
}

#: Casts from a complex value: target dtype (NumPy: the real part; as a bool, either part nonzero).
CASTS_FROM = ("complex64", "complex128", "float32", "float64", "bool")


def _pointwise(fn, *tensors):
    """``i -> fn(t[i] for each tensor t)``: a compute rule of one index."""
    return lambda i: fn(*(t[i] for t in tensors))


def _flat(n, dtype, names):
    return [te.placeholder((n,), dtype, name) for name in names]


def elementwise(n: int, dtype: str, ops=tuple(ELEMENTWISE)):
    """One output per op of ``ops`` (:data:`ELEMENTWISE`) of two vectors of ``n`` elements."""
    a, b = _flat(n, dtype, "AB")
    outs = [te.compute((n,), _pointwise(ELEMENTWISE[op][0], a, b), op.upper()) for op in ops]

    def want(x, y):
        return [ELEMENTWISE[op][1](x, y) for op in ops]
    return mlc.IRModule({"main": te.create_prim_func([a, b, *outs])}), 2, want


def casts(n: int, dtype: str):
    """A complex vector cast to every dtype of :data:`CASTS_FROM`, and a float32 and an int16
    vector cast to ``dtype``."""
    (z,) = _flat(n, dtype, "Z")
    f = te.placeholder((n,), "float32", "F")
    k = te.placeholder((n,), "int16", "K")
    outs = [te.compute((n,), _pointwise(lambda x, d=d: x.astype(d), z), f"TO_{d.upper()}") for d in CASTS_FROM]
    outs += [te.compute((n,), lambda i: f[i].astype(dtype), "FROM_F"),
             te.compute((n,), lambda i: k[i].astype(dtype), "FROM_K")]

    def want(zv, fv, kv):
        return [zv.real.astype(d) if d not in ("bool", "complex64", "complex128") else zv.astype(d)
                for d in CASTS_FROM] + [fv.astype(dtype), kv.astype(dtype)]
    return mlc.IRModule({"main": te.create_prim_func([z, f, k, *outs])}), 3, want


def reductions(rows: int, cols: int, dtype: str):
    """The sum and the product of each row, and the sum of everything (across threads where
    the rows are long: warp shuffles of both parts)."""
    a = te.placeholder((rows, cols), dtype, "A")
    k, k2 = te.reduce_axis((0, cols), "k"), te.reduce_axis((0, cols), "k2")
    r, c = te.reduce_axis((0, rows), "r"), te.reduce_axis((0, cols), "c")
    s = te.compute((rows,), lambda i: te.sum(a[i, k], axis=k), "S")
    p = te.compute((rows,), lambda i: _prod(a[i, k2], axis=k2), "P")
    total = te.compute((), lambda: te.sum(a[r, c], axis=[r, c]), "T")
    mods = {name: mlc.IRModule({"main": te.create_prim_func([a, out])}) for name, out in
            (("sum", s), ("prod", p), ("total", total))}
    wants = {"sum": lambda x: [x.sum(axis=1)], "prod": lambda x: [x.prod(axis=1)],
             "total": lambda x: [np.asarray(x.sum(), dtype)]}
    return {name: (mods[name], 1, wants[name]) for name in mods}


def matmul(m: int, k: int, n: int, dtype: str):
    """``A @ B`` as a sum of complex products (the default GPU rule tiles it through shared
    memory from 32 x 32 on)."""
    a, b = te.placeholder((m, k), dtype, "A"), te.placeholder((k, n), dtype, "B")
    r = te.reduce_axis((0, k), "r")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), "C")
    return mlc.IRModule({"main": te.create_prim_func([a, b, c])}), 2, lambda x, y: [x @ y]


def math_call(n: int, op: str, dtype: str):
    """``Y[i] = op(Z[i])``: the Call node itself, even where the expression builders would
    simplify it."""
    z = te.placeholder((n,), dtype, "Z")
    y = te.compute((n,), lambda i: Call(op, (z[i],), MATH_CALLS[op].result_dtype(dtype)), "Y")
    return mlc.IRModule({"main": te.create_prim_func([z, y])}), 1, lambda x: [MATH_CALLS[op].numpy(x)]


def outputs(mod: mlc.IRModule, n_inputs: int):
    """Empty NumPy arrays for the outputs of ``mod``'s ``main``."""
    params = mod["main"].params[n_inputs:]
    return [np.empty(tuple(int(e.value) for e in p.shape), p.dtype) for p in params]


# ------------------------------------------------------------------ comparisons

#: Every pair of these parts: the special values of the op tests (tests/ops/test_complex.py).
SPECIAL_PARTS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, math.pi / 2, 1e30, -1e-30, math.inf, -math.inf,
                 -math.nan, math.nan]


def special_values(dtype: str) -> np.ndarray:
    return np.array([complex(a, b) for a, b in itertools.product(SPECIAL_PARTS, repeat=2)], dtype)


def rounding_rtol(dtype: str) -> float:
    """A few ulps of the parts' dtype (the op tests' bound, relative to the modulus)."""
    return 8 * float(np.finfo(np.dtype(dtype)).eps)


def _parts(got, want):
    if want.dtype.kind == "c":
        return [("real", got.real, want.real), ("imag", got.imag, want.imag)]
    return [("", got, want)]


def exactly(got, want, what: str = "") -> None:
    """Equal, NaN where NumPy has NaN, zeros with NumPy's signs (each part of a complex)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, f"{what}: {got.dtype} {got.shape}"
    for part, g, w in _parts(got, want):
        same = (g == w) if w.dtype.kind != "f" else \
            (g == w) & (np.signbit(g) == np.signbit(w)) | np.isnan(g) & np.isnan(w)
        assert same.all(), f"{what} {part}: got {got[~same][:6]}, want {want[~same][:6]}"


def close_or_special(got, want, dtype: str, what: str = "") -> None:
    """As tests/ops/test_complex.py checks every target: NaN, infinite and zero parts exactly
    (signs included; a subnormal for a zero within rounding of the modulus counts as rounding),
    the others within a few ulps of the modulus of NumPy's result (of the part itself where the
    other part is infinite or NaN)."""
    got, want = np.asarray(got), np.asarray(want)
    if want.dtype.kind not in "fc":
        exactly(got, want, what)
        return
    scale = np.abs(want).astype("float64")
    tiny = float(np.finfo(np.dtype(dtype)).tiny)
    for part, g, w in _parts(got, want):
        # a zero part that comes out subnormal, of its sign, within rounding of the modulus (the
        # root's y / 2t underflowing after scaling: rounded twice) counts as rounding
        underflow = (w == 0) & (np.abs(g) < tiny) & (np.signbit(g) == np.signbit(w)) & \
            (np.abs(g) <= rounding_rtol(dtype) * scale)
        special = (~np.isfinite(w) | (w == 0)) & ~underflow
        exactly(g[special], w[special], f"{what} {part}")
        bound = np.where(np.isfinite(scale), scale, np.abs(w))[~special]
        error = np.abs(g[~special].astype("float64") - w[~special])
        assert (error <= rounding_rtol(dtype) * bound).all(), f"{what} {part}: got {got}, want {want}"


def _exact_quotient(a: complex, b: complex) -> tuple:
    """a / b in exact rationals, each part rounded to float64 (+-inf past its range)."""
    from fractions import Fraction
    ar, ai, br, bi = (Fraction(float(v)) for v in (a.real, a.imag, b.real, b.imag))
    d = br * br + bi * bi

    def rounded(q):
        try:
            return float(q)
        except OverflowError:
            return math.inf if q > 0 else -math.inf
    return rounded((ar * br + ai * bi) / d), rounded((ai * br - ar * bi) / d)


def smith_scaled(x) -> np.ndarray:
    """Where lower_complex's division scales an operand (a part at least half the largest float
    or below 2 / eps times the smallest normal): there it may differ from NumPy's Smith."""
    info = np.finfo(x.real.dtype)
    with np.errstate(invalid="ignore"):
        m = np.fmax(np.abs(x.real), np.abs(x.imag))
        return (m >= info.max / 2) | (m < info.tiny * 2 / info.eps)


def assert_division_agrees(got, a, b, what: str = "") -> None:
    """``got`` is ``a / b``: NumPy's bit for bit where neither operand is scaled (and for a
    zero divisor); where one is, a non-finite quotient where NumPy's is for non-finite
    operands, and for finite ones the exact quotient within a few ulps of its modulus (NumPy's
    unscaled Smith overflows or underflows there: inf, NaN or 0 for a finite quotient)."""
    got, a, b = (np.broadcast_to(np.asarray(v), np.broadcast(a, b).shape) for v in (got, a, b))
    with np.errstate(all="ignore"):
        want = np.divide(a, b)
    plain = ~(smith_scaled(a) | smith_scaled(b)) | (b == 0)
    exactly(got[plain], want[plain], f"{what} (unscaled operands)")
    info = np.finfo(got.real.dtype)
    for g, x, y, w in zip(got[~plain], a[~plain], b[~plain], want[~plain]):
        if not (np.isfinite(x) and np.isfinite(y)):
            # (not part by part: NumPy's overflowing 1 / (c + d r) may turn an infinite part NaN)
            assert np.isfinite(g) == np.isfinite(w), f"{what}: {x} / {y} = {g}, NumPy's {w}"
            continue
        re, im = _exact_quotient(complex(x), complex(y))
        modulus = math.hypot(re, im)
        if modulus > float(info.max) / 4:  # a part past the range (infinite) or near its end
            assert max(abs(re), abs(im)) <= float(info.max) or not np.isfinite(g), \
                f"{what}: {x} / {y} = {g}, exact {re}, {im}"
            continue
        bound = 8 * float(info.eps) * modulus + 4 * float(info.smallest_subnormal)
        error = math.hypot(float(g.real) - re, float(g.imag) - im)
        assert error <= bound, f"{what}: {x} / {y} = {g}, exact {complex(re, im)}"
