"""Every elementwise function on bool and integer operands, under ``@mlc.jit`` and eager
``mlc.numpy``, against what NumPy 2 itself returns (the expected values and dtypes are
NumPy's own answers, never a table written here).

NumPy's loops are not plain promotion: ``np.conj`` of bool is int8 (``conj(b) + conj(b)``
was bool ``[True, False]`` where NumPy gives int8 ``[2, 0]``), ``np.round`` of bool is
float16, ``np.ldexp(2, x_i16)`` is float16 and ``np.arctan2(x_i8, 300)`` computes 300 in
float16. The dtype tests trace only (no compilation), so they cover every pair of dtypes and
Python scalar operands of both sides; the value tests compile a few drawn cases per function.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
import mlc.testing as mt
from mlc.errors import MLCError
from mlc.numpy.elementwise import UFUNCS

SMALL = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
SCALARS = [True, 2, -1, 300, 2.5]


def _distinct_ufuncs() -> dict:
    """name -> NumPy ufunc, one name per ufunc (``abs`` and ``absolute`` are one)."""
    out = {}
    for name in sorted(UFUNCS):
        ufunc = getattr(np, name)
        if all(u is not ufunc for u in out.values()):
            out[name] = ufunc
    return out


UFUNC_TABLE = _distinct_ufuncs()
#: The functions written by hand around the ufuncs (``np.conj`` is the ufunc conjugate,
#: ``mlc.numpy.conj`` a function of its own).
FUNCTIONS = {"conj": np.conj, "round": np.round, "real": np.real, "imag": np.imag, "angle": np.angle}
UNARY = {**{n: f for n, f in UFUNC_TABLE.items() if f.nin == 1}, **FUNCTIONS}
BINARY = {n: f for n, f in UFUNC_TABLE.items() if f.nin == 2}


def _sample(dtype: str) -> np.ndarray:
    """Small non-negative values (NumPy refuses negative integer powers, which mlc computes)."""
    return np.array([1, 0, 2], dtype)


def _numpy(fn, *args):
    """NumPy's answer: the result, or None where it raises."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np.asarray(fn(*args))
    except (TypeError, ValueError, OverflowError):
        return None


def _traced_dtype(traced) -> str:
    return traced.graph.outputs[0].type.dtype


def _jit_dtype(fn, args) -> str:
    """The result dtype under ``@mlc.jit`` (Python scalars are constants there), by tracing."""
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    slots = iter(range(len(arrays)))
    picks = [next(slots) if isinstance(a, np.ndarray) else None for a in args]

    def program(*xs):
        return fn(*(a if k is None else xs[k] for a, k in zip(args, picks)))
    return _traced_dtype(mlc.jit(program).trace(*arrays))


def _eager_dtype(name: str, args, run: bool) -> str:
    """The result dtype of eager ``mlc.numpy.<name>`` (Python scalars are traced arguments,
    checked when the function runs: ``run`` it where NumPy refuses them)."""
    if run:
        return np.asarray(getattr(mnp, name)(*args)).dtype.name
    return _traced_dtype(getattr(mnp, name).jitted().trace(*args))


def _check_dtypes(name: str, fn, args) -> list[str]:
    want = _numpy(fn, *args)
    problems = []
    for mode, run in (("jit", lambda: _jit_dtype(fn, args)), ("eager", lambda: _eager_dtype(name, args, want is None))):
        what = f"{mode} {name}({', '.join(a.dtype.name if isinstance(a, np.ndarray) else repr(a) for a in args)})"
        try:
            got = run()
        except MLCError as err:
            if want is not None:
                problems.append(f"{what}: NumPy gives {want.dtype}, mlc raised {type(err).__name__}: "
                                f"{str(err).splitlines()[0]}")
            continue
        if want is None:
            problems.append(f"{what}: NumPy raises, mlc gives {got}")
        elif got != want.dtype.name:
            problems.append(f"{what}: NumPy gives {want.dtype}, mlc {got}")
    return problems


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_result_dtype_of_every_small_dtype_is_numpys(name):
    problems = [p for d in SMALL for p in _check_dtypes(name, UNARY[name], [_sample(d)])]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_result_dtype_of_every_pair_of_small_dtypes_is_numpys(name):
    problems = []
    for a in SMALL:
        for b in SMALL:
            problems += _check_dtypes(name, BINARY[name], [_sample(a), _sample(b)])
        for s in SCALARS:
            problems += _check_dtypes(name, BINARY[name], [_sample(a), s])
            problems += _check_dtypes(name, BINARY[name], [s, _sample(a)])
    assert not problems, "\n".join(problems[:20]) + (f"\n... {len(problems)} in all" if len(problems) > 20 else "")


def _nonnegative_powers(name: str, dtype: str, x: np.ndarray) -> np.ndarray:
    """NumPy refuses integers to negative integer powers (mlc computes 1 // x ** -e)."""
    return np.abs(x) if name in ("power", "pow") and dtype != "bool" and np.dtype(dtype).kind == "i" else x


def _check_values(name: str, fn, args) -> None:
    want = _numpy(fn, *args)
    if want is None:
        return  # (the dtype tests check that mlc refuses it too)
    for mode, got in (("jit", mlc.jit(lambda *xs: fn(*xs))(*args)), ("eager", getattr(mnp, name)(*args))):
        got = np.asarray(got)
        what = f"{mode} {name}({', '.join(a.dtype.name for a in args)})"
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy's {want.dtype}"
        mt.assert_close(got, want, ulps=2, what=f"{what} of {args}")


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=3, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(SMALL))
def test_unary_values_on_small_dtypes_are_numpys(name, data, dtype):
    x = data.draw(mt.arrays(dtype, shapes=mt.shapes(max_dims=2, max_side=5)), label="x")
    if name == "reciprocal" and dtype != "bool":
        x = np.where(x == 0, 1, x).astype(dtype)  # 1 // 0 is C's undefined conversion of inf (x86: below)
    _check_values(name, UNARY[name], [x])


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=3, deadline=None)
@given(data=st.data(), dtypes=st.tuples(st.sampled_from(SMALL), st.sampled_from(SMALL)),
       pair=mt.broadcastable(2, max_dims=2, max_side=4))
def test_binary_values_on_small_dtypes_are_numpys(name, data, dtypes, pair):
    a = data.draw(mt.arrays(dtypes[0], pair[0]), label="a")
    b = _nonnegative_powers(name, dtypes[1], data.draw(mt.arrays(dtypes[1], pair[1]), label="b"))
    _check_values(name, BINARY[name], [a, b])


def test_conj_of_bool_adds_as_int8():
    b = np.array([True, False])
    got = mlc.jit(lambda v: np.conj(v) + np.conj(v))(b)
    assert got.dtype == np.int8 and got.tolist() == [2, 0]
    assert mnp.conj(b).dtype == np.int8 and mnp.conjugate(b).dtype == np.int8
    assert mlc.jit(lambda v: v.conj())(b).dtype == np.bool_  # NumPy's method: the real array itself


def test_python_numbers_take_the_ufunc_loops_dtype():
    i8, i16 = np.array([1, 2], "int8"), np.array([1, 2], "int16")
    for fn, args in ((lambda n: np.ldexp(2, n), (i16,)), (lambda x: np.arctan2(x, 300), (i8,)),
                     (lambda x: np.ldexp(x.astype("uint64"), 2), (i8,)), (lambda x: x / 300, (i8,))):
        want = fn(*args)
        got = mlc.jit(fn)(*args)
        assert got.dtype == want.dtype
        mt.assert_close(got, want)
    got = mlc.jit(lambda n, k: np.ldexp(k, n))(i16, 2)  # a traced Python int
    assert got.dtype == np.float16 and got.tolist() == [4.0, 8.0]


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
def test_half_nextafter_and_spacing_match_numpy_bit_for_bit(target):
    """float16 (what 8-bit integers compute these in) by steps on the half's bits, on every
    half value: NumPy's half rules (nextafter(-0, 0) is -0; spacing is never negative)."""
    h = np.arange(-2 ** 15, 2 ** 15, dtype=np.int32).astype(np.int16).view(np.float16)
    with np.errstate(all="ignore"):
        want = np.spacing(h)
    got = mlc.jit(np.spacing, target=target)(h)
    assert np.array_equal(got, want, equal_nan=True)
    step = mlc.jit(np.nextafter, target=target)
    for toward in (np.inf, -np.inf, 0.0, -0.0, 1.0, np.nan):
        with np.errstate(all="ignore"):
            want = np.nextafter(h, np.float16(toward))
        got = step(h, np.full_like(h, toward))
        numbers = ~np.isnan(want)
        assert np.array_equal(np.isnan(got), ~numbers)
        assert np.array_equal(got.view(np.int16)[numbers], want.view(np.int16)[numbers]), toward


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint32"])
def test_integer_reciprocal_of_zero_is_cs_conversion_of_inf(dtype):
    """NumPy's integer loop is ``1.0 / x`` converted back; mlc converts inf as x86 does."""
    import platform
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"the conversion of inf is x86's; this host is {platform.machine()}")
    x = np.array([0, 1, 2, 0], dtype)
    with np.errstate(all="ignore"):
        want = np.reciprocal(x)
    for target in ("llvm", "reference"):
        np.testing.assert_array_equal(mlc.jit(np.reciprocal, target=target)(x), want)
