"""Python if/while/for on traced values inside @mlc.jit: compiled into graph conditionals and
loops by rewriting the function's source, compared with the same function run by NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.control import bodies

SIZES = st.sampled_from([1, 2, 5, 16])


def _data(n, seed=0, dtype="float64"):
    return np.random.default_rng(seed).uniform(0.5, 2.0, n).astype(dtype)


def _all_ops(graph):
    """The ops of ``graph`` and of the bodies of its loops and branches."""
    out, stack = [], [graph]
    while stack:
        g = stack.pop()
        for b in g.bindings:
            out.append(b.op)
            if b.op in ("for_loop", "while_loop", "switch"):
                stack.extend(bodies(b))
    return out


def newton_sqrt(a, tol=1e-12):
    x = a.copy()
    while np.max(np.abs(x * x - a)) > tol:       # a loop on a traced condition
        x = 0.5 * (x + a / x)
    return x


def time_steps(u, steps):
    for t in range(steps):
        u = u + 0.1 * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return u


def sign_branch(x):
    if x.sum() > 0:
        y = x * 2
    else:
        y = -x
    return y


def elif_chain(x, k):
    if k < 0:
        y = x - 1
    elif k == 0:
        y = x
    elif k < 3:
        y = x * k
    else:
        y = x + k
    return y


def early_return(x):
    if x.min() > 1:
        return x - 1
    z = x * 3
    return z


def norm(x, ord=2):
    m = abs(x)
    if ord == np.inf:
        return m.max()
    if ord == 0:
        z = x != 0
        return z.sum()
    if ord == 1:
        return m.sum()
    p = m ** ord
    return p.sum() ** (1 / ord)


def counted_halving(x):
    k = 0
    while x.sum() > 1:
        x = x / 2
        k += 1
    return x, k


def traced_range(x, n):
    acc = np.zeros_like(x)
    for i in range(n):
        acc = acc + x * i
    return acc


def stepped_range(x, n):
    acc = np.zeros_like(x)
    for i in range(n, -3, -2):
        acc = acc + x * i
    return acc


def scalar_builtins(x):
    a, b = x.sum(), x.max()
    return max(a, b, 1.5), min(a, b), abs(-a), a if a > 3 else b


def logic(x):
    s = x.sum()
    if s > 1 and not s > 10 or x.max() > 100:
        y = x + 1
    else:
        y = x - 1
    return y


def nested(x, n, m):
    acc = np.zeros_like(x)
    for i in range(n):
        for j in range(m):
            acc = acc + x * (i - j)
        if acc.sum() > 5:
            acc = acc * 0.5
    return acc


@settings(max_examples=6, deadline=None)
@given(n=SIZES)
def test_newton_sqrt_is_one_while_loop(n):
    a = _data(n) * 10
    f = mlc.jit(newton_sqrt)
    np.testing.assert_allclose(f(a), np.sqrt(a), rtol=1e-12)
    assert f.lower(a).graph.ops().count("while_loop") == 1


def test_time_step_loop_is_one_loop_whatever_the_steps():
    u = np.linspace(0, 1, 33)
    for steps in (10, 1000):
        f = mlc.jit(time_steps, static_argnames=("steps",))
        graph = f.lower(u, steps=steps).graph
        assert graph.ops().count("for_loop") == 1
        np.testing.assert_allclose(f(u, steps=steps), time_steps(u, steps), rtol=1e-12)


def test_a_short_static_loop_unrolls():
    f = mlc.jit(time_steps, static_argnames=("steps",))
    u = np.linspace(0, 1, 9)
    assert "for_loop" not in f.lower(u, steps=3).graph.ops()
    np.testing.assert_allclose(f(u, steps=3), time_steps(u, 3), rtol=1e-12)


@settings(max_examples=6, deadline=None)
@given(n=SIZES, sign=st.sampled_from([1.0, -1.0]))
def test_if_else_on_traced_value(n, sign):
    x = _data(n) * sign
    f = mlc.jit(sign_branch)
    np.testing.assert_allclose(f(x), sign_branch(x))
    assert f.lower(x).graph.ops().count("switch") == 1


@pytest.mark.parametrize("k", [-4, 0, 2, 7])
def test_elif_chain_on_traced_int(k):
    x = _data(3)
    np.testing.assert_allclose(mlc.jit(elif_chain)(x, np.int64(k)), elif_chain(x, k))


@pytest.mark.parametrize("shift", [0.0, 5.0])
def test_early_return_from_an_if(shift):
    x = _data(4) + shift
    np.testing.assert_allclose(mlc.jit(early_return)(x), early_return(x))


@pytest.mark.parametrize("order", [np.inf, 0, 1, 2, 3])
def test_a_chain_of_early_returns_on_static_values(order):
    x = np.array([3.0, -4.0, 0.0])
    f = mlc.jit(norm, static_argnames=("ord",))
    np.testing.assert_allclose(f(x, ord=order), np.linalg.norm(x, order))


@settings(max_examples=5, deadline=None)
@given(n=SIZES)
def test_python_counter_becomes_a_carry(n):
    x = _data(n) * 50
    got_x, got_k = mlc.jit(counted_halving)(x)
    want_x, want_k = counted_halving(x)
    np.testing.assert_allclose(got_x, want_x)
    assert int(got_k) == want_k


@pytest.mark.parametrize("n", [-2, 0, 1, 6])
def test_for_over_traced_range(n):
    x = _data(3)
    np.testing.assert_allclose(mlc.jit(traced_range)(x, np.int64(n)), traced_range(x, n))
    np.testing.assert_allclose(mlc.jit(stepped_range)(x, np.int64(n)), stepped_range(x, n))


@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
def test_max_min_abs_ifexp_of_traced_scalars(scale):
    x = _data(3) * scale
    got = mlc.jit(scalar_builtins)(x)
    for g, w in zip(got, scalar_builtins(x)):
        np.testing.assert_allclose(g, w)


@pytest.mark.parametrize("scale", [0.1, 1.0, 100.0])
def test_and_or_not_of_traced_values(scale):
    x = _data(3) * scale
    np.testing.assert_allclose(mlc.jit(logic)(x), logic(x))


@pytest.mark.parametrize("n, m", [(0, 3), (4, 2), (9, 9)])
def test_nested_loops_and_an_if_inside(n, m):
    x = _data(3)
    f = mlc.jit(nested)
    np.testing.assert_allclose(f(x, np.int64(n), np.int64(m)), nested(x, n, m), rtol=1e-12)


def test_loops_with_python_effects_run_as_python():
    @mlc.jit(static_argnames=("n",))
    def f(x, n):
        rows = []
        for i in range(n):
            rows.append(x * i)
        return np.stack(rows)

    x = _data(2)
    np.testing.assert_allclose(f(x, n=12), np.stack([x * i for i in range(12)]))


def test_errors_keep_the_users_line():
    def bad_shape(x, n):
        for i in range(n):  # marker-shrink
            x = x[:-1]
        return x

    with pytest.raises(mlc.TraceError, match="(?s)variable 'x'.*float64.5. but the body returns "
                                             "float64.4.*marker-shrink"):
        mlc.jit(bad_shape)(_data(5), np.int64(2))

    def one_branch(x):
        if x.sum() > 0:
            y = x
        return y * 2  # marker-undefined

    with pytest.raises(mlc.TraceError, match="(?s)assigned in only one branch.*marker-undefined"):
        mlc.jit(one_branch)(_data(2))

    def inside_body(x, n):
        for i in range(n):
            x = x @ x  # marker-matmul
        return x

    with pytest.raises(mlc.ShapeError, match="marker-matmul"):
        mlc.jit(inside_body)(_data(6).reshape(2, 3), np.int64(2))


def test_functions_without_source_are_traced_as_they_are():
    f = mlc.jit(eval("lambda x: x * 2 if True else x"))
    np.testing.assert_allclose(f(_data(2)), _data(2) * 2)


def heat(u, steps):                              # the caller's u is updated, as NumPy does
    for t in range(steps):                       # one compiled loop, whatever steps is
        u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


def masked_branch(x):
    if x.sum() > 0:
        x[0] = -1.0                              # written in place in one branch only
    return x


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
@settings(max_examples=4, deadline=None)
@given(rows=st.sampled_from([3, 4, 9]), cols=st.sampled_from([3, 5, 8]), steps=st.sampled_from([1, 9, 20]))
def test_heat_writes_the_callers_array_in_one_loop(target, rows, cols, steps):
    u = np.random.default_rng(rows * cols).random((rows, cols)).astype("float32")
    want = u.copy()
    heat(want, steps)
    f = mlc.jit(heat, static_argnames=("steps",), target=target)
    got = u.copy()
    assert f(got, steps=steps) is None
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert f.lower(u.copy(), steps=steps).graph.ops().count("for_loop") == (steps > 8)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_branch_that_writes_in_place(sign):
    x = _data(3) * sign
    mine, numpys = x.copy(), x.copy()
    got = mlc.jit(masked_branch)(mine)
    np.testing.assert_allclose(got, masked_branch(numpys))
    np.testing.assert_allclose(mine, numpys)  # the caller's array, written as NumPy writes it


def update_then_use(x, c):
    y = x.copy()
    z = x * 2
    if c[0] > 0:
        y += 1.0    # written in place, then read by the next statement of the branch
        z = y * 3
    return y, z


@settings(max_examples=5)
@given(n=SIZES, sign=st.sampled_from([1.0, -1.0]))
def test_a_branch_that_writes_in_place_and_then_reads_is_traced_once(n, sign):
    """The branch ran once per result it returns, each run on the operands the one before had
    written: ``y += 1`` was applied twice (y = x + 2, z = 3 * (x + 2)); conjugate gradients
    with ``if rs_new < tol: break`` returned wrong iterates."""
    x, c = _data(n), np.array([sign])
    got = mlc.jit(update_then_use)(x, c)
    for g, w in zip(got, update_then_use(x, c)):
        np.testing.assert_allclose(g, w)


def forward_substitution(L, b):
    x = np.zeros_like(b)
    for i in range(L.shape[0]):                  # the slice grows with i
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


def weighted_by_list(x, weights):
    y = x * 0
    for i in range(x.shape[0]):
        y[i] = x[i] * weights[i]                 # a Python list needs i as a Python int
    return y


@pytest.mark.parametrize("n", [3, 12])
def test_a_static_loop_whose_body_needs_a_python_index_runs_as_python(n):
    """weights[i] of a Python list needs i when tracing: the loop over a static range is traced
    once per iteration rather than refused."""
    x, weights = _data(n), [float(k) for k in range(n)]
    f = mlc.jit(weighted_by_list, static_argnums=1)
    np.testing.assert_allclose(f(x, weights), x * np.arange(n), rtol=1e-12)
    assert "for_loop" not in f.lower(x, weights).graph.ops()


@pytest.mark.parametrize("n", [3, 12])
def test_a_slice_growing_with_the_index_compiles_into_one_loop(n):
    """L[i, :i] over more than UNROLL iterations: one compiled loop (see mlc.numpy.windows)."""
    L = np.tril(_data(n * n).reshape(n, n)) + n * np.eye(n)
    b = _data(n, seed=1)
    f = mlc.jit(forward_substitution)
    np.testing.assert_allclose(f(L, b), np.linalg.solve(L, b), rtol=1e-12)
    # (traced: one for_loop; the pipeline then makes it one element-loop kernel, the dot over
    # the slice a loop inside it)
    assert f.lower(L, b).traced.ops().count("for_loop") == (n > 8)


def break_and_continue(x, n):
    total = x * 0
    for i in range(n):
        if total.sum() > 20:
            break
        if i % 2 == 1:
            continue
        total = total + x * i
    return total


def grow_until(x):
    k = 0
    while True:
        x = x * 1.5
        k += 1
        if x.sum() > 100:
            break
    return x, k


@pytest.mark.parametrize("n", [0, 3, 7, 20])
def test_break_and_continue_in_a_compiled_loop(n):
    x = np.array([1.0, 2.0])
    f = mlc.jit(break_and_continue)
    np.testing.assert_allclose(f(x, np.int64(n)), break_and_continue(x, n))
    assert f.lower(x, np.int64(n)).graph.ops().count("for_loop") == 1


@settings(max_examples=5, deadline=None)
@given(n=SIZES)
def test_while_true_with_a_break_on_a_traced_value(n):
    x = _data(n)
    got_x, got_k = mlc.jit(grow_until)(x)
    want_x, want_k = grow_until(x)
    np.testing.assert_allclose(got_x, want_x)
    assert int(got_k) == want_k


def running_max(x):
    acc = np.zeros(x.shape[1:], x.dtype)
    for row in x:
        acc = np.maximum(acc, row) + 0.5
    return acc


@settings(max_examples=6, deadline=None)
@given(rows=st.sampled_from([1, 5, 9, 30]), cols=SIZES)
def test_for_over_a_traced_arrays_rows(rows, cols):
    x = _data(rows * cols).reshape(rows, cols)
    f = mlc.jit(running_max)
    np.testing.assert_allclose(f(x), running_max(x))
    assert f.lower(x).graph.ops().count("for_loop") == (rows > 8)


def fills_a_dict(x):
    table = {}
    for i in range(12):
        table[i] = x * i
    return table[11]


def test_a_static_loop_writing_python_containers_runs_as_python():
    x = _data(2)
    f = mlc.jit(fills_a_dict)
    np.testing.assert_allclose(f(x), x * 11)
    assert "for_loop" not in f.lower(x).graph.ops()


def _nested_updates(g, d, s):
    for k in range(g.shape[0]):
        for e in range(g.shape[1]):
            for q in range(d.shape[0]):
                for w in range(d.shape[1]):
                    for a in range(s.shape[2]):
                        if e - w >= 0:
                            s[k, e, a] += g[k, e - w, a] @ d[q, w, a]


def _jit_nested_updates(sizes, seed):
    """_nested_updates jitted, its result on arrays of ``sizes`` checked against NumPy's."""
    nk, ne, nq, na = sizes
    rng = np.random.default_rng(seed)
    g = rng.uniform(-1, 1, (nk, ne, na, 2, 2))
    d = rng.uniform(-1, 1, (nq, 2, na, 2, 2))
    s = rng.uniform(-1, 1, (nk, ne, na, 2, 2))
    want, got = s.copy(), s.copy()
    _nested_updates(g, d, want)
    f = mlc.jit(_nested_updates)
    f(g, d, got)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    return f, rng


@settings(max_examples=3, deadline=None)
@given(sizes=st.tuples(*[st.sampled_from([1, 2, 3])] * 4), seed=st.integers(0, 2**16))
def test_nested_static_loops_trace_a_bounded_number_of_copies(sizes, seed):
    """Five loops of a few trips each nested in one another: the loops run as Python only while
    their trips multiplied stay within UNROLL_NEST copies of the body, the inner ones compiled
    (the body traced 2**5 times with 2-trip loops otherwise, and 1,536 times with NPBench's
    sizes). Results as NumPy's."""
    from mlc.tracer.autograph_runtime import UNROLL_NEST
    f, rng = _jit_nested_updates(sizes, seed)
    g, d, s = np.zeros((2, 3, 2, 2, 2)), np.zeros((2, 2, 2, 2, 2)), np.zeros((2, 3, 2, 2, 2))
    traced = f.trace(g, d, s)  # 48 copies of the body, were every loop Python
    matmuls = sum(1 for gr in _graphs(traced.graph) for b in gr.bindings if b.op == "matmul")
    assert matmuls <= UNROLL_NEST, matmuls


def _triangle_in_a_nest(x, s):
    for k in range(x.shape[0]):
        for i in range(x.shape[1]):
            for j in range(i):  # (its trips depend on i: not counted ahead)
                s[k] += x[k, i] * x[k, j]


@settings(max_examples=2, deadline=None)
@given(sizes=st.tuples(*[st.sampled_from([1, 2, 3])] * 4), seed=st.integers(0, 2**16))
def test_a_loop_around_a_nest_too_large_to_unroll_is_compiled_not_copied(sizes, seed):
    """The loops inside a loop count with those around it: the outer loops of a nest whose
    copies of the body would pass UNROLL_NEST are compiled, not run as Python around compiled
    copies of the inner ones (each copy code of its own: a compile time that grows with the
    outer trips). Results as NumPy's; bounds that depend on the outer index stay right."""
    from mlc.tracer.autograph_runtime import UNROLL_NEST
    f, rng = _jit_nested_updates(sizes, seed)
    x, t = rng.uniform(-1, 1, (sizes[0], sizes[1] + 2)), rng.uniform(-1, 1, sizes[0])
    want_t, got_t = t.copy(), t.copy()
    _triangle_in_a_nest(x, want_t)
    mlc.jit(_triangle_in_a_nest)(x, got_t)
    np.testing.assert_allclose(got_t, want_t, rtol=1e-12, atol=1e-12)
    g, d, s = np.zeros((2, 3, 2, 2, 2)), np.zeros((2, 2, 2, 2, 2)), np.zeros((2, 3, 2, 2, 2))
    graph = f.trace(g, d, s).graph  # 48 copies of the body were every loop Python
    assert graph.ops().count("for_loop") == 1  # the outermost loop, not 12 copies of an inner one
    matmuls = sum(1 for gr in _graphs(graph) for b in gr.bindings if b.op == "matmul")
    assert matmuls <= UNROLL_NEST, matmuls


def _rows_of_pairs(x, out):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] * x[i, x.shape[1] - 1 - j]


@settings(max_examples=3, deadline=None)
@given(rows=st.sampled_from([9, 12]), cols=st.sampled_from([1, 3, 5, 8]), seed=st.integers(0, 2**16))
def test_a_short_loop_inside_a_compiled_loop_unrolls_only_up_to_unroll_in_loop(rows, cols, seed):
    """Inside a compiled loop's body, a loop runs as Python only within UNROLL_IN_LOOP copies:
    past it (though within UNROLL) it is compiled too, and the nest stays one loop nest instead
    of a compiled loop around copies of its body. Results as NumPy's."""
    from mlc.tracer.autograph_runtime import UNROLL_IN_LOOP
    x = np.random.default_rng(seed).uniform(-1, 1, (rows, cols))
    want, got = np.zeros_like(x), np.zeros_like(x)
    _rows_of_pairs(x, want)
    f = mlc.jit(_rows_of_pairs)
    f(x, got)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    graph = f.trace(np.zeros((12, 6)), np.zeros((12, 6))).graph
    (loop,) = [b for b in graph.bindings if b.op == "for_loop"]
    inner = bodies(loop)[0].ops()
    assert inner.count("for_loop") == 1 and inner.count("multiply") <= UNROLL_IN_LOOP, inner


def _graphs(graph):
    """``graph`` and the graphs of its loops and conditionals, nested ones too."""
    stack, out = [graph], []
    while stack:
        gr = stack.pop()
        out.append(gr)
        for b in gr.bindings:
            for key in ("body", "cond"):
                if b.op in ("for_loop", "while_loop") and b.attr(key, None) is not None:
                    stack.append(b.attr(key))
            if b.op == "switch":
                stack.extend(b.attr("branches"))
    return out
