"""NumPy 2 promotion (NEP 50) for every pair of a Python scalar kind and an array dtype.

A Python bool, int, float or complex next to an array is weak: it takes the array's dtype
when its kind fits (``complex64 * 2.5`` stays complex64, ``float16 + 3`` stays float16,
``int8 * 2.5`` is float64, ``float32 * 1j`` is complex64). Every (kind, dtype) pair, on
either side, as a constant of the function and as a traced argument, under the jit and in
eager ``mlc.numpy``: the result's dtype and values are NumPy's, for ufuncs (whose loops
decide) and for ``where`` (NEP 50's rules alone). Operations of Python scalars
only promote by kind (bool < int < float < complex) to the default dtypes.
"""
import itertools
import warnings

import numpy as np
import pytest

import mlc
import mlc.numpy as mnp

DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64", "complex64", "complex128")
SCALARS = {"bool": True, "int": 3, "float": 2.5, "complex": 1.5 - 2j}
OPS = {"add": np.add, "multiply": np.multiply, "divide": np.divide, "maximum": np.maximum}


def numpy_result(op, x, s, scalar_first):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return OPS[op](s, x) if scalar_first else OPS[op](x, s)
        except (TypeError, np.exceptions.DTypePromotionError):
            return None


def same(got, want, what):
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy's is {want.dtype}"
    np.testing.assert_allclose(got.astype(want.dtype), want, rtol=1e-3 if "float16" in what else 1e-6,
                               err_msg=what)


@pytest.mark.parametrize("kind", sorted(SCALARS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_python_scalar_next_to_an_array_promotes_as_numpy(dtype, kind):
    """add, multiply, divide and maximum of the pair, on either side (one jit for the ops NumPy
    takes on both sides), as a constant and as a traced argument, and in eager mlc.numpy."""
    x = np.array([0, 1, 2], dtype) if dtype != "bool" else np.array([False, True, True])
    s = SCALARS[kind]
    calls = {False: lambda fn, a, b: fn(a, b), True: lambda fn, a, b: fn(b, a)}  # scalar_first -> call
    cases = []  # (scalar_first, op, NumPy's result)
    for scalar_first in (False, True):
        for op in OPS:
            want = numpy_result(op, x, s, scalar_first)
            # (mlc does not order complex numbers)
            if want is not None and not (np.asarray(want).dtype.kind == "c" and op == "maximum"):
                cases.append((scalar_first, op, want))
    # where is no ufunc: its operands promote by NEP 50's rules alone, not by a loop's dtypes
    cond = np.array([True, False, True])
    wheres = [(first, np.where(cond, *calls[first](lambda a, b: (a, b), x, s))) for first in (False, True)]
    as_constants = mlc.jit(lambda c, a: (tuple(calls[first](OPS[op], a, s) for first, op, _ in cases),
                                         tuple(np.where(c, *calls[first](lambda u, v: (u, v), a, s))
                                               for first, _ in wheres)))
    got_ops, got_wheres = as_constants(cond, x)
    for (first, op, want), got in zip(cases, got_ops, strict=True):
        side = "scalar first" if first else "scalar second"
        same(got, want, f"jit {op}({dtype}, {kind} constant), {side}")
    for (first, want), got in zip(wheres, got_wheres, strict=True):
        side = "scalar first" if first else "scalar second"
        same(got, want, f"jit where(c, {dtype}, {kind} constant), {side}")
    products = [(first, want) for first, op, want in cases if op == "multiply"]
    assert products, f"NumPy multiplies {dtype} and a Python {kind}"
    # a traced Python scalar is weak as a constant is
    as_argument = mlc.jit(lambda c, a, b: (tuple(calls[first](np.multiply, a, b) for first, _ in products),
                                           tuple(np.where(c, *calls[first](lambda u, v: (u, v), a, b))
                                                 for first, _ in wheres)))
    got_products, got_wheres = as_argument(cond, x, s)
    for (first, want), got in zip(products, got_products, strict=True):
        side = "scalar first" if first else "scalar second"
        same(got, want, f"jit multiply({dtype}, {kind} argument), {side}")
        same(calls[first](mnp.multiply, x, s), want, f"mlc.numpy.multiply({dtype}, {kind}), {side}")
    for (first, want), got in zip(wheres, got_wheres, strict=True):
        side = "scalar first" if first else "scalar second"
        same(got, want, f"jit where(c, {dtype}, {kind} argument), {side}")


def test_complex64_times_a_float_stays_complex64():
    x = np.array([1 + 2j, 3 - 1j], "complex64")
    for f in (lambda a: a * 2.5, lambda a: 2.5 * a, lambda a: a / 2.0, lambda a: a + 1, lambda a: a - True):
        got = mlc.jit(f)(x)
        assert got.dtype == np.complex64
        np.testing.assert_allclose(got, f(x), rtol=1e-6)
    assert mnp.multiply(x, 2.5).dtype == np.complex64


def test_a_float32_array_times_a_complex_scalar_is_complex64():
    x = np.array([1.0, -2.0], "float32")
    got = mlc.jit(lambda a: a * (1 + 1j))(x)
    assert got.dtype == np.complex64
    np.testing.assert_allclose(got, x * (1 + 1j), rtol=1e-6)


@pytest.mark.parametrize("kinds", list(itertools.product(sorted(SCALARS), repeat=2)))
def test_python_scalars_only_promote_by_kind(kinds):
    """Traced Python scalars (arguments) only: the widest kind's default dtype, as NumPy's
    ufuncs give for Python scalars."""
    a, b = (SCALARS[k] for k in kinds)
    for op in ("add", "multiply"):
        want = OPS[op](a, b)
        want = np.asarray(want)
        got = mlc.jit(lambda u, v: OPS[op](u, v))(a, b)
        same(got, want, f"jit {op}({kinds[0]}, {kinds[1]})")
    c = np.array([True, False])
    want = np.where(c, a, b)
    same(mlc.jit(lambda cond, u, v: np.where(cond, u, v))(c, a, b), want, f"jit where(c, {kinds[0]}, {kinds[1]})")
    same(mnp.where(c, a, b), want, f"mlc.numpy.where(c, {kinds[0]}, {kinds[1]})")


@pytest.mark.parametrize("kinds", list(itertools.product(sorted(SCALARS), repeat=3)))
def test_three_python_scalars_promote_by_kind_together(kinds):
    """Traced Python scalars of three kinds: NumPy's ufuncs give the widest kind's default
    dtype whatever the order; Python's operators on them give Python's value (True * True
    is the int 1), as a 0-d array of that kind's default dtype. Next to a complex64 array
    the result is still weak."""
    a, b, c = (SCALARS[k] for k in kinds)
    ufuncs = mlc.jit(lambda u, v, w: np.add(np.multiply(u, v), w))
    same(ufuncs(a, b, c), np.asarray(np.add(np.multiply(a, b), c)), f"jit add(multiply({kinds[0]}, {kinds[1]}), {kinds[2]})")
    operators = mlc.jit(lambda u, v, w: u * v + w)
    same(operators(a, b, c), np.asarray(a * b + c), f"jit {kinds[0]} * {kinds[1]} + {kinds[2]}")
    x = np.array([1, 2], "complex64")
    g = mlc.jit(lambda arr, u, v, w: arr * (u * v + w))
    same(g(x, a, b, c), x * (a * b + c), f"jit complex64 * ({kinds[0]} * {kinds[1]} + {kinds[2]})")


NUMPY_SCALARS = (np.bool_(True), np.int8(3), np.uint16(3), np.int64(3), np.float16(2.5), np.float32(2.5),
                 np.float64(2.5), np.complex64(1 - 2j))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_numpy_scalar_next_to_an_array_is_strong(dtype):
    """NumPy scalars have their dtype (np.float32(2.5) * an int8 array is float32; np.int64(3)
    * a float16 array is float64): as constants and as traced arguments."""
    x = np.array([0, 1, 2], dtype) if dtype != "bool" else np.array([False, True, True])
    for s in NUMPY_SCALARS:
        with np.errstate(all="ignore"):
            want = np.multiply(x, s)
        same(mlc.jit(lambda a: a * s)(x), want, f"jit {dtype} * np.{type(s).__name__} constant")
        same(mlc.jit(lambda a, b: b * a)(x, s), want, f"jit np.{type(s).__name__} argument * {dtype}")
