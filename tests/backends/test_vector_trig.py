"""sin, cos and tan (mlc.passes.tir.math.trig), as the llvm backend and the reference
interpreter run them.

lower_math writes each call out as float TIR: lanes below ``FAST_LIMIT`` reduced by pi/2
(float32 in double, float64 in four parts), a larger, infinite or NaN lane computed by
double's libm function under a select, which the llvm codegen computes only where a lane
needs it, behind a branch weighted unlikely; the vectorize pass makes vector statements of
the loop. float32 must round within the 0.51 ulp the routine's docstring states; float64
within the bounds it states against the exact values (the sweeps of
tests/backends/test_vector_math.py run through this code too); the reference interpreter
runs the same algorithm, bit for bit.
"""
import functools
import re
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import IRModule, te
from mlc.backends.llvm.module import LLVM_TIR_PASSES, compile_sources, vectorize_loops_for_llvm
from mlc.passes.tir.math.trig import FAST_LIMIT, FAST_LIMIT64
from mlc.ir.buffer import decl_buffer
from mlc.driver import schedule_module
from mlc.ir.expr import Call, IntImm, Var
from mlc.ir.tir import BufferStore, For, PrimFunc
from mlc.passes.tir import vectorize_loops

from tests.targets import each_pinned_target, each_runnable_target, pinned_threads

from .test_vector_math import MAX_ULPS, PI, reference, ulp_errors

OPS = ("sin", "cos", "tan")
#: The bounds mlc.passes.tir.math.trig's docstring states for float64, in ulps of the exact value.
EXACT_ULPS_64 = {"sin": 0.8, "cos": 0.8, "tan": 0.95}


def _program(op, n, dtype="float32"):
    X = te.placeholder((n,), dtype, "X")
    fn = getattr(te, op)
    return te.create_prim_func([X, te.compute((n,), lambda i: fn(X[i]), "Y")])


def _run(op, x, target="llvm"):
    lib = mlc.build(_program(op, x.size, str(x.dtype)), target)
    y = np.empty_like(x)
    lib["main"](x, y)
    return y


def _assert_rounds_as_documented(op, x, y):
    """float32 within its bound of NumPy in float64; float64 within 1 ulp of libm's."""
    dtype = str(x.dtype)
    err = ulp_errors(y, reference(op, x), dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULPS[dtype][op], (op, x[worst], y[worst])
    np.testing.assert_array_equal(np.isnan(y), ~np.isfinite(x) | np.isnan(reference(op, x)))


@each_pinned_target
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_trig_loop_is_vector_code_calling_libm_only_on_a_rare_branch(dtype, isa, target):
    """The loop's body is vector double arithmetic with no gather (float32's table reduction,
    left to LLVM's loop vectorizer, gathered three doubles per 8 lanes; a scalar libm call kept
    a float64 loop scalar); libm's function of double is called only in the blocks a branch
    weighted unlikely leads to, through a function of its own, out of line, that calls it on
    one lane after another."""
    for op in OPS:
        with pinned_threads():
            sources = compile_sources(schedule_module(IRModule({"main": _program(op, 4096, dtype)}), target), target)
        ll, asm = sources["ll"], sources["asm"]
        assert "gather" not in ll and "vgather" not in asm, op
        assert re.search(r"fma\.v\d+f64", ll), op
        lanes = re.search(rf'define internal [^@]*@"?(__mlc_lanes\.{op}\.v\d+f64)"?\(<\d+ x double>', ll)
        assert lanes, op
        assert re.search(rf'call [^\n]*@"?(llvm\.{op}\.f64|{op})"?\(', _function(ll, lanes.group(1))), op
        body = _function(ll, "main")
        assert lanes.group(1) in body and not re.search(rf'@"?(llvm\.{op}\.|{op}\()', body), op
        for block in re.split(r"\n\n", body):  # (each basic block)
            assert not (lanes.group(1) in block and re.search(r"fma\.v\d+f64", block)), op
        assert "!prof" in ll and "branch_weights" in ll, op


def _function(ll, name):
    """The text of the function ``name`` defined in ``ll``."""
    start = re.search(rf'define [^\n]*@"?{re.escape(name)}"?\(', ll).start()  # (optimised IR)
    return ll[start:ll.index("\n}", start)]


def test_vectorize_for_llvm_vectorizes_the_calls_lower_math_leaves():
    """The calls of double's sin, cos and tan that the trig routines leave for their rare
    lanes join their loop's vector statements; float32's (written out before) and float64
    atan's keep their loop."""
    def loop(op, dtype):
        A, B = decl_buffer((64,), dtype, "A"), decl_buffer((64,), dtype, "B")
        j = Var("j")
        store = BufferStore(B, Call(op, (A[j],), dtype), (j,))
        return PrimFunc((A, B), For(j, IntImm(0), IntImm(64), "vectorized", store))

    for op in OPS:
        vector = vectorize_loops_for_llvm(loop(op, "float64")).script()
        assert f"B[T.Ramp(0, 1, 64)] = T.{op}(A[T.Ramp(0, 1, 64)])" in vector
    for op, dtype in (("atan", "float64"), ("sin", "float32")):
        func = loop(op, dtype)
        assert vectorize_loops_for_llvm(func) is func
    assert vectorize_loops(loop("sin", "float64")).body.kind == "vectorized"  # (the default: none)
    assert vectorize_loops_for_llvm in LLVM_TIR_PASSES and vectorize_loops not in LLVM_TIR_PASSES


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vectors_with_a_lane_beyond_the_limit_take_the_scalar_routine(dtype, target):
    """Every vector below holds ordinary lanes and one that is huge, infinite, NaN, at the
    limit, or a signed zero: each lane still rounds as documented, and the ordinary lanes
    of the other vectors too."""
    rng = np.random.default_rng(3)
    limit = FAST_LIMIT if dtype == "float32" else FAST_LIMIT64
    tiny, huge = (1e-40, 3.4e38) if dtype == "float32" else (5e-324, 1.7e308)
    odd = np.array([limit, np.nextafter(limit, 0, dtype=dtype), 1e30, huge,
                    np.inf, -np.inf, np.nan, 0.0, -0.0, tiny, -2.5e7, 123456.789], dtype)
    x = rng.uniform(-100, 100, 64 * len(odd)).astype(dtype)
    x[::64] = odd  # one per 64 elements; the others' vectors are ordinary
    x[40::64] = -odd
    for op in OPS:
        y = _run(op, x, target)
        _assert_rounds_as_documented(op, x, y)
        zero = x == 0
        np.testing.assert_array_equal(np.signbit(y[zero]), np.signbit(x[zero]) if op != "cos" else False)


_FLOATS = st.one_of(
    st.floats(-200, 200, width=32),
    st.floats(-FAST_LIMIT * 2, FAST_LIMIT * 2, width=32),
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from([FAST_LIMIT, -FAST_LIMIT, 0.0, -0.0, 1.5707964, 3.1415927, 1e-45]))


@settings(max_examples=25, deadline=None)
@given(values=st.lists(_FLOATS, min_size=1, max_size=150), op=st.sampled_from(OPS))
def test_vector_trig_rounds_as_the_scalar_routine_does(values, op):
    """Any float32 values, any count (whole vectors and a ragged end), as NumPy in
    float64 within the documented bound, NaN where NumPy is NaN."""
    x = np.array(values, "float32")
    _assert_rounds_as_documented(op, x, _run(op, x))


_DOUBLES = st.one_of(
    st.floats(-200, 200),
    st.floats(-FAST_LIMIT64 * 2, FAST_LIMIT64 * 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([FAST_LIMIT64, -FAST_LIMIT64, 0.0, -0.0, 1.5707963267948966, 3.141592653589793, 5e-324]))


@settings(max_examples=25, deadline=None)
@given(values=st.lists(_DOUBLES, min_size=1, max_size=100), op=st.sampled_from(OPS))
def test_float64_vector_trig_is_within_an_ulp_of_libm(values, op):
    """Any float64 values, any count: within 1 ulp of libm's (NumPy's), NaN where it is NaN,
    zeros keeping their sign (cos: 1)."""
    x = np.array(values, "float64")
    y = _run(op, x)
    _assert_rounds_as_documented(op, x, y)
    zero = x == 0
    np.testing.assert_array_equal(y[zero], reference(op, x[zero]))
    np.testing.assert_array_equal(np.signbit(y[zero]), np.signbit(reference(op, x[zero])))


def _exact(op, x):
    """``op(x)`` for a double ``x`` in Decimal, to some 50 digits (x mod pi/2 with 110 digits
    of pi, then Taylor's series)."""
    with localcontext() as ctx:
        ctx.prec = 80
        half_pi = PI / 2
        d = Decimal(float(x))
        n = (d / half_pi).to_integral_value()
        r, z = d - n * half_pi, (d - n * half_pi) ** 2
        sums = []
        for term, k in ((r, 1), (Decimal(1), 0)):
            total = Decimal(0)
            while abs(term) > Decimal(10) ** -70:
                total += term
                term = -term * z / ((k + 1) * (k + 2))
                k += 2
            sums.append(total)
        s, c = sums
        q = int(n) % 4
        sin, cos = (s, c, -s, -c)[q], (c, -s, -c, s)[q]
        return {"sin": sin, "cos": cos, "tan": sin / cos}[op]


def _closest_to_multiples_of_half_pi(binades=range(21)):
    """Per binade [2^e, 2^(e+1)), the doubles closest to a multiple of pi/2 (from the
    continued fraction of pi/2 2^(52-e): its convergents M/k with M a 53-bit significand,
    and their neighbours). Below 2^21 the closest is 45.553093477052, 2^-60.5 from 29 pi/2."""
    from fractions import Fraction

    from mlc.passes.tir.math.float_ops import pi_fixed
    half_pi = Fraction(pi_fixed(400), 2 ** 401)
    out = []
    for e in binades:
        a = half_pi * 2 ** (52 - e)
        h0, h1, k0, k1 = 0, 1, 1, 0
        while True:
            q = a.numerator // a.denominator
            h0, h1, k0, k1 = h1, q * h1 + h0, k1, q * k1 + k0
            if h1 >= 2 ** 53:
                break
            out += [float(Fraction(m) * Fraction(2) ** (e - 52)) for m in (h1 - 1, h1, h1 + 1) if m >= 2 ** 52]
            if a == q:
                break
            a = 1 / (a - q)
    return out


@each_runnable_target
def test_float64_vector_trig_is_within_its_bound_of_the_exact_value(target):
    """Against values computed exactly (Decimal): ordinary arguments, those near pi/4 (where
    the polynomials' terms weigh most), the doubles nearest to multiples of pi/2 up to the
    limit, and in each binade below it the closest of all (where the reduction cancels all
    but its last part); libm's own values are within 0.52 ulp of them."""
    rng = np.random.default_rng(9)
    near_multiples = [float(Decimal(int(k)) * PI / 2) for k in rng.integers(1, int(FAST_LIMIT64 / 1.6), 400)]
    hardest = _closest_to_multiples_of_half_pi()
    assert 45.553093477052 in hardest
    x = np.concatenate([rng.uniform(-4, 4, 400), rng.uniform(0.74, 0.83, 200), rng.standard_normal(200) * 1e3,
                        rng.uniform(-FAST_LIMIT64, FAST_LIMIT64, 200), near_multiples, hardest, np.negative(hardest)])
    for op in OPS:
        y = _run(op, x, target)
        for value, got, lib in zip(x, y, reference(op, x)):
            want = _exact(op, value)
            ulp = Decimal(float(np.spacing(abs(float(want)))))
            assert abs(Decimal(float(got)) - want) / ulp <= EXACT_ULPS_64[op], (op, value, got, lib)


_EDGES32 = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.2e-38, 1e6, -3e7, 1e20, 3.4e38, FAST_LIMIT,
            np.float32(np.pi / 2), np.float32(np.pi), np.float32(3 * np.pi / 2), np.float32(np.pi / 4)]
_EDGES64 = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2e-308, 1e6, -1e9, 1e22, 1e300, 1.7e308,
            FAST_LIMIT64, np.pi / 2, np.pi, 3 * np.pi / 2, np.pi / 4, 1e6 * np.pi / 2]


#: The length of the arrays below: odd, no whole number of vectors.
_N = 37


@functools.lru_cache(maxsize=None)
def _built(op, dtype, target):
    return mlc.build(_program(op, _N, dtype), target)["main"]


def _run_built(op, x, target):
    y = np.empty_like(x)
    _built(op, str(x.dtype), target)(x, y)
    return y


@settings(max_examples=20, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64"]), op=st.sampled_from(OPS))
def test_the_reference_interpreter_runs_the_same_algorithm(data, dtype, op):
    """Drawn values with the edge cases (zeros, infinities, NaN, subnormals, huge arguments,
    multiples of pi/2), any count: the reference interpreter (which runs lower_math's
    routine, libm's lanes as NumPy's) and the llvm backend agree bit for bit below the limit,
    and both round within the documented bound of NumPy in float64 everywhere."""
    edges = _EDGES32 if dtype == "float32" else _EDGES64
    width, big = (32, float(np.float32(3e38))) if dtype == "float32" else (64, 1e300)
    values = data.draw(st.lists(st.one_of(st.floats(width=width), st.sampled_from(edges),
                                          st.floats(-2 * FAST_LIMIT, 2 * FAST_LIMIT, width=width),
                                          st.floats(1e6, big, width=width)), min_size=1, max_size=_N))
    x = np.resize(np.array(values, dtype), _N)  # (one build per op, dtype and backend)
    with np.errstate(all="ignore"):
        got = {target: _run_built(op, x, target) for target in ("reference", "llvm")}
    for y in got.values():
        _assert_rounds_as_documented(op, x, y)
    ordinary = np.abs(x) < FAST_LIMIT
    np.testing.assert_array_equal(got["reference"][ordinary].view(f"u{x.itemsize}"),
                                  got["llvm"][ordinary].view(f"u{x.itemsize}"))


def test_lower_math_leaves_a_double_call_under_a_select_in_vectorized_and_serial_loops():
    """After lower_math, float32 sin is float TIR with one call left, in a vectorized loop
    and in a serial one alike: double's sin of the widened value, the rare side of a select
    on |x| < 2^20 (a serial loop's call on its branch LLVM's loop vectorizer widens to a
    masked vector form; no reduction of large lanes is written out). Large lanes round
    within 0.51 ulp."""
    from mlc.passes.tir.lower_math import lower_math
    from mlc.schedules import as_written

    def loop(kind):
        X, Y = decl_buffer((16,), "float32", "X"), decl_buffer((16,), "float32", "Y")
        j = Var("j")
        return PrimFunc((X, Y), For(j, IntImm(0), IntImm(16), kind, BufferStore(Y, Call("sin", (X[j],), "float32"), (j,))))

    for kind in ("vectorized", "serial"):
        script = lower_math(loop(kind)).script()
        assert script.count("T.sin(") == 1 and 'T.sin(T.Cast("float64"' in script, kind
        assert "T.if_then_else(" in script and "T.floor(" not in script, kind
    x = np.array(_EDGES32 + [3.0e38, 1.1e30, -7.7e12, 2.0 ** 21 + 1], "float32")
    y = np.empty_like(x)
    with np.errstate(all="ignore"):
        mlc.build(_program("sin", x.size), "llvm", schedule=as_written)["main"](x, y)
    _assert_rounds_as_documented("sin", x, y)


@functools.lru_cache(maxsize=None)
def _serial(op, n, dtype, target):
    from mlc.schedules import as_written
    return mlc.build(_program(op, n, dtype), target, schedule=as_written)["main"]


@settings(max_examples=12, deadline=None)
@given(data=st.data(), op=st.sampled_from(OPS), n=st.sampled_from([1, 3, 8, 17]),
       dtype=st.sampled_from(["float32", "float64"]))
def test_serial_trig_loops_round_as_documented(data, op, n, dtype):
    """sin, cos and tan in a serial loop (which LLVM's loop vectorizer may widen, its large
    lanes' calls to masked vector forms): small and large lanes round within the documented
    bound of NumPy, and the reference interpreter and llvm agree bit for bit below the
    limit."""
    edges = _EDGES32 if dtype == "float32" else _EDGES64
    width, huge = (32, float(np.float32(3e38))) if dtype == "float32" else (64, 1e300)
    values = data.draw(st.lists(st.one_of(st.floats(width=width), st.sampled_from(edges), st.floats(1e6, huge, width=width),
                                          st.floats(-200.0, 200.0, width=width)), min_size=n, max_size=n))
    x = np.array(values, dtype)
    got = {}
    with np.errstate(all="ignore"):
        for target in ("reference", "llvm"):
            got[target] = np.empty_like(x)
            _serial(op, n, dtype, target)(x, got[target])
    _assert_rounds_as_documented(op, x, got["llvm"])
    ordinary = np.abs(x) < FAST_LIMIT
    np.testing.assert_array_equal(got["reference"][ordinary].view(f"u{x.itemsize}"),
                                  got["llvm"][ordinary].view(f"u{x.itemsize}"))


def _element_loop(op):
    f = getattr(np, op)

    def elem(x):
        y = np.empty_like(x)
        for i in range(x.shape[0]):
            y[i] = f(x[i])
        return y
    return elem


@each_pinned_target
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_serial_trig_loops_are_vector_code_branching_to_libm_on_rare_vectors(dtype, isa, target):
    """An element loop ``y[i] = np.sin(x[i])`` and tan of rows of 3 (a loop too short to
    vectorize, inside one LLVM's loop vectorizer widens): LLVM widens each loop, the large
    lanes' libm call becoming a masked vector form, inlined after O3: the loop's vector
    arithmetic, and a branch weighted unlikely to a block of its own calling the form's
    lanes loop; no reduction of large lanes computed on every lane (no floor: float32's
    table-free one, written out, cost every lane some 60 operations)."""
    for fn, shape, op in ((_element_loop("sin"), (4096,), "sin"), (np.tan, (1001, 3), "tan")):
        with pinned_threads():
            low = mlc.jit(fn, target=target).lower(np.zeros(shape, dtype))
            ll = compile_sources(low.scheduled(), target)["ll"]
        assert "vector.body:" in ll, ("not widened", op, shape)
        loop = ll[ll.index("vector.body:"):]
        loop = loop[:loop.index("!llvm.loop")]  # (the vector loop's blocks, to its back branch)
        blocks = loop.split("\n\n")
        assert re.search(r"fma\.v\d+f64", blocks[0]), (op, shape)
        rare = [b for b in blocks if re.search(rf"call [^\n]*@__mlc_lanes\.{op}\.m\d+f64\.lanes\(<\d+ x double>", b)]
        assert rare and not any(re.search(r"fma\.v\d+f64", b) for b in rare), (op, shape)
        assert "!prof" in loop and "floor" not in loop and "gather" not in loop, (op, shape)
