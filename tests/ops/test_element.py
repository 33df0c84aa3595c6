"""element_get, element_set and element_loop against NumPy: one element read and written at
int indices (negative ones from the end), and a loop nest of element code run as one kernel,
on every target."""
import numpy as np
from hypothesis import given, settings, strategies as st

from mlc.ir.graph import Binding, Graph, Var, constant
from mlc.ops import TensorType, get_op

from ._harness import TARGETS, arrays, run_op, shapes


def _indices(data, shape):
    return [np.int64(data.draw(st.integers(-n, n - 1), label="index")) for n in shape]


@settings(max_examples=10, deadline=None)
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
       dtype=st.sampled_from(["float32", "int64", "bool"]))
def test_element_get_and_set_are_numpys(data, shape, dtype):
    x = data.draw(arrays(dtype, shape, special=False))
    at = _indices(data, shape)
    value = np.asarray(data.draw(arrays(dtype, ())), dtype)
    want = x.copy()
    want[tuple(int(k) for k in at)] = value
    for target in TARGETS:
        (got,) = run_op("element_get", [x, *at], target)
        np.testing.assert_array_equal(got, x[tuple(int(k) for k in at)])
        (put,) = run_op("element_set", [x, value, *at], target)
        np.testing.assert_array_equal(put, want)


def _running_sum_loop(n: int):
    """``for j in range(lo, hi): a[j] = a[j - 1] + x[j]; tot += a[j]``: an array and a scalar carried."""
    i, s, a_t = TensorType((), "int64"), TensorType((), "float64"), TensorType((n,), "float64")
    j, a, tot, x = Var("j", i), Var("a", a_t), Var("tot", s), Var("x", a_t)
    prev, xj, v, w, a2, tot2 = Var("prev", i), Var("xj", s), Var("v", s), Var("w", s), Var("a2", a_t), Var("tot2", s)
    return Graph((j, a, tot, x), (
        Binding((prev,), "subtract", (j, constant(np.int64(1)))),
        Binding((xj,), "element_get", (x, j)),
        Binding((v,), "element_get", (a, prev)),
        Binding((w,), "add", (v, xj)),
        Binding((a2,), "element_set", (a, w, j)),
        Binding((tot2,), "add", (tot, w))), (a2, tot2))


@settings(max_examples=8, deadline=None)
@given(data=st.data(), n=st.integers(1, 9))
def test_element_loop_is_the_loop_run_as_python(data, n):
    body = _running_sum_loop(n)
    a = data.draw(arrays("float64", (n,), special=False, bound=4.0))
    x = data.draw(arrays("float64", (n,), special=False, bound=4.0))
    lo = np.int64(data.draw(st.integers(1, n)))
    hi = np.int64(data.draw(st.integers(0, n)))
    want, total = a.copy(), 0.0
    for j in range(int(lo), int(hi)):
        want[j] = want[j - 1] + x[j]
        total += want[j]
    for target in TARGETS:
        got, tot = run_op("element_loop", [lo, hi, a, np.float64(0.0), x], target, body=body, num_carry=2)
        np.testing.assert_allclose(got, want)
        np.testing.assert_allclose(tot, total)


@settings(max_examples=6, deadline=None)
@given(shape=st.sampled_from([(1,), (5,), (4, 7)]), data=st.data())
def test_dynamic_update_slice_is_its_reference(shape, data):
    """The op alone (its kernel updates a copy of x, as the graph gives it): starts anywhere,
    negative ones from the end, positions outside the array not written."""
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x = rng.random(shape)
    region = tuple(data.draw(st.integers(1, n)) for n in shape)
    steps = tuple(data.draw(st.sampled_from([1, 2, -1])) for _ in shape)
    starts = [np.int64(data.draw(st.integers(-n, n))) for n in shape]
    v = rng.random(region)
    want = get_op("dynamic_update_slice").reference(x, v, *starts, steps=steps)
    for k in np.ndindex(*region):  # NumPy's own writes, for the positions inside the array
        pos = [(s + n if s < 0 else s) + kk * t for s, kk, t, n in zip(starts, k, steps, shape)]
        if all(0 <= p < n for p, n in zip(pos, shape)):
            assert want[tuple(pos)] == v[k]
    for target in TARGETS:
        (got,) = run_op("dynamic_update_slice", [x, v, *starts], target, steps=steps)
        np.testing.assert_array_equal(got, want)
