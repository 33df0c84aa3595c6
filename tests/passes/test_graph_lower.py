"""Lowering fused groups: one PrimFunc per group, elementwise stages inlined, equal kernels shared."""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.errors import CompileError
from mlc.ir.functor import pre_order_nodes
from mlc.ir.expr import BufferLoad, FloatImm
from mlc.passes.graph import inline_stages, lower_to_tir
from mlc.passes.graph.inline import INLINE_MAX_NODES

from .graph_helpers import blocks, fused

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6)).astype("float32")


def lowered(fn, *args):
    return lower_to_tir(fused(fn, *args))


def test_elementwise_chain_is_a_single_block():
    g = lowered(lambda x: np.tanh(np.exp(x) * 2 - 1) + x, X)
    (name,) = g.module
    assert blocks(g.module[name]) == ["T_add"]
    assert g.module[name].root_block.alloc_buffers == ()


def test_matmul_bias_relu_is_reduction_plus_one_epilogue():
    w, b = RNG.standard_normal((6, 3)).astype("float32"), RNG.standard_normal(3).astype("float32")
    g = lowered(lambda x: np.maximum(x @ w + b, 0), X)
    func = g.module["fused_matmul_add_maximum"]
    assert blocks(func) == ["T_matmul", "T_maximum"]
    assert [buf.name for buf in func.root_block.alloc_buffers] == ["T_matmul"]
    assert len(func.params) == 4  # x, the two constants, the output


def test_scalar_constants_become_immediates():
    g = lowered(lambda x: x * 2.5 + 1, X)
    (func,) = g.module.values()
    assert len(func.params) == 2
    values = {n.value for n in pre_order_nodes(func.body) if isinstance(n, FloatImm)}
    assert {2.5, 1.0} <= values


def test_array_constants_become_parameters():
    c = np.arange(6, dtype="float32")
    g = lowered(lambda x: x * c, X)
    (binding,) = g.bindings
    assert binding.op == "call_tir" and len(binding.args) == 2
    np.testing.assert_array_equal(binding.args[1].data, c)


def test_structurally_equal_kernels_are_shared():
    def f(x, y):
        return np.exp(x) + 1, np.exp(y) + 1  # two groups, one kernel

    g = lowered(f, X, X * 2)
    assert len(g.bindings) == 2 and len(g.module) == 1
    np.testing.assert_allclose(mlc.jit(f)(X, X * 2)[1], np.exp(X * 2) + 1, rtol=1e-6)


def test_kernels_are_hashed_only_where_another_has_their_parameters(monkeypatch):
    """A structural hash is made only for a group whose parameters another group's function
    has too: one group, or groups of other shapes, are hashed not at all; of two groups with
    the same parameters and other ops, both are hashed and both kept."""
    import importlib
    lower = importlib.import_module("mlc.passes.graph.lower")
    hashed = []
    real = lower.structural_hash
    monkeypatch.setattr(lower, "structural_hash", lambda node: hashed.append(node) or real(node))

    def kernels_and_hashes(fn, *args):
        graph = fused(fn, *args)  # (tracing runs the whole graph pipeline once: not counted)
        hashed.clear()
        return len(lower_to_tir(graph).module), len(hashed)

    assert kernels_and_hashes(lambda x: np.exp(x) + 1, X) == (1, 0)
    assert kernels_and_hashes(lambda x, y: (np.exp(x) + 1, np.exp(y) + 1), X, X[:2]) == (2, 0)
    assert kernels_and_hashes(lambda x, y: (np.exp(x) + 1, np.tanh(y) + 1), X, X * 2) == (2, 2)
    assert kernels_and_hashes(lambda x, y: (np.exp(x) + 1, np.exp(y) + 1), X, X * 2) == (1, 2)


def test_returned_inputs_and_duplicate_outputs_get_copies():
    f = mlc.jit(lambda x: (x.reshape(6, 4), x.reshape(6, 4)))
    a, b = f(X)
    np.testing.assert_array_equal(a, X.reshape(6, 4))
    np.testing.assert_array_equal(b, X.reshape(6, 4))
    assert a is not b and a.base is not X  # two reshapes: two arrays, as NumPy's two views are
    c, d = mlc.jit(lambda x: (lambda r: (r, r))(x.reshape(6, 4)))(X)
    assert c is d  # one value returned twice


def test_inline_keeps_large_multiply_read_stages():
    A = te.placeholder((8,), "float32", "A")
    big = te.compute((8,), lambda i: sum((A[i] * k for k in range(1, INLINE_MAX_NODES)), A[i]), name="big")
    out = te.compute((8,), lambda i: big[i] * big[i], name="out")
    (new_out,) = inline_stages([out])
    func = te.create_prim_func([A, new_out])
    assert [b.name for b in func.root_block.alloc_buffers] == ["big"]
    small = te.compute((8,), lambda i: A[i] + 1, name="small")
    out2 = te.compute((8,), lambda i: small[i] * small[i], name="out2")
    (new_out2,) = inline_stages([out2])
    assert te.create_prim_func([A, new_out2]).root_block.alloc_buffers == ()


def test_reads_of_an_inlined_stage_at_the_same_indices_share_one_value():
    """A stage read twice at the reader's axes is substituted once (one value, used twice);
    a read at other indices gets its own; the function computes what NumPy does."""
    A = te.placeholder((8,), "float32", "A")
    B = te.compute((8,), lambda i: A[i] * 2 + 1, name="B")
    C = te.compute((7,), lambda i: B[i] * B[i] + B[i + 1], name="C")
    (out,) = inline_stages([C])
    (body,) = out.op.body
    square, shifted = body.a, body.b
    assert square.a is square.b and shifted is not square.a
    assert [str(n) for n in pre_order_nodes(shifted) if isinstance(n, BufferLoad)] == ["A[i + 1]"]
    lib = mlc.build(te.create_prim_func([A, out]), target="llvm")
    a = np.arange(8, dtype="float32")
    got = np.zeros(7, "float32")
    lib["main"](a, got)
    b = a * 2 + 1
    np.testing.assert_array_equal(got, b[:7] * b[:7] + b[1:])


def test_a_chain_of_reshapes_inlines_to_one_load_at_the_axes():
    """A reshape reads its input at the divisions and remainders of a flat index: inlined into
    a reshape back, its load's indices are simplified under the reader's axes, so a chain of
    them stays one load at the axes (unsimplified, each level repeats the last one's indices
    three times, and the chain grows as 3 ** levels)."""
    def there_and_back(x, level):
        flat = te.compute((105,), lambda f: x[f // 35, f // 7 % 5, f % 7], name=f"flat{level}")
        return te.compute((3, 5, 7), lambda i, j, k: flat[i * 35 + j * 7 + k], name=f"back{level}")

    A = te.placeholder((3, 5, 7), "float32", "A")
    x = A
    for level in range(8):
        x = there_and_back(x, level)
    (out,) = inline_stages([x])
    (body,) = out.op.body
    assert isinstance(body, BufferLoad) and body.buffer is A.buffer
    assert list(body.indices) == [iv.var for iv in out.op.axis]


def test_integer_power_lowering_stays_bounded():
    f = mlc.jit(lambda x: x ** 7 + 1)
    x = np.arange(-3, 4, dtype="int64")
    np.testing.assert_array_equal(f(x), x ** 7 + 1)


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_lowered_kernels_run_on_every_backend(target):
    def f(x):
        return (np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)).T[1:, ::2]

    np.testing.assert_allclose(mlc.jit(f, target=target)(X), f(X), rtol=1e-5)


@pytest.mark.parametrize("fn, op", [(lambda x: np.flip(x, 0), "flip"), (lambda x: np.pad(x, 1), "pad"),
                                    (lambda x: np.concatenate([x, x]), "concatenate")])
def test_an_op_that_needs_the_size_of_a_dynamic_axis_says_so_at_the_users_line(fn, op):
    f = mlc.jit(fn, dynamic=("x", 0))
    with pytest.raises(CompileError, match=rf"{op} does not support these dynamic axes \(operand shapes "
                                           r"\(x_dim0, 3\).*Mark fewer axes dynamic.*\n  at File .*line \d+"):
        f(np.ones((4, 3), np.float32))
    np.testing.assert_array_equal(mlc.jit(fn)(np.ones((4, 3), np.float32)), fn(np.ones((4, 3), np.float32)))


def _unrolled(x, w):
    """A loop the tracer unrolls: the same group for every step, on other slices."""
    out = []
    for i in range(x.shape[0] - 1):
        out.append(np.tanh(x[i:i + 2] * w).sum(axis=0))
    return np.stack(out)


from hypothesis import given as _given, settings as _settings, strategies as _st  # noqa: E402


@_settings(max_examples=6, deadline=None)
@_given(rows=_st.sampled_from([2, 3, 6]), cols=_st.sampled_from([1, 5, 8]))
def test_groups_equal_to_one_lowered_before_are_not_lowered_again(rows, cols):
    import mlc
    import mlc.passes.graph.lower as lower_module
    x = np.linspace(-1, 1, rows * cols).reshape(rows, cols)
    w = np.linspace(0.5, 1.5, 2 * cols).reshape(2, cols)
    calls = []
    original = lower_module.lower_group

    def counted(body, name="fused"):
        calls.append(name)
        return original(body, name)

    lower_module.lower_group = counted
    try:
        f = mlc.jit(_unrolled, tiered=False)
        lowered = f.lower(x, w)
    finally:
        lower_module.lower_group = original
    groups = sum(1 for b in lowered.graph.bindings if b.op == "call_tir")
    assert len(calls) < groups or rows == 2  # every repeated group reused the first one's lowering
    np.testing.assert_allclose(lowered.compile()(x, w), _unrolled(x, w), rtol=1e-12)


def maxpool2d(x):
    """NPBench's (lenet): a loop whose body, unrolled, writes at traced indices several times."""
    out = np.empty([x.shape[0], x.shape[1] // 2, x.shape[2] // 2, x.shape[3]], dtype=x.dtype)
    for i in range(x.shape[1] // 2):
        for j in range(x.shape[2] // 2):
            out[:, i, j, :] = np.max(x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2, :], axis=(1, 2))
    return out


@_settings(max_examples=5, deadline=None)
@_given(n=_st.sampled_from([1, 2]), h=_st.sampled_from([8, 9, 12]),
        w=_st.sampled_from([3, 4, 7]), c=_st.sampled_from([1, 3]))
def test_a_loop_of_unrolled_writes_at_traced_indices_compiles_as_numpy_computes(n, h, w, c):
    x = np.random.default_rng(h * w).random((n, 2 * h, 2 * w, c)).astype(np.float32)
    np.testing.assert_array_equal(mlc.jit(maxpool2d)(x), maxpool2d(x))


def test_a_stage_read_at_its_axes_brings_its_loads_simplified():
    """A slice's stage reads its input at ``1 + i``: inlined into a stage that reads it at its
    own axes, the load is simplified as any inlined load is (``A[i + 1]``), under the reader's
    ranges (``min(i, 5)`` is ``i`` where ``i < 4``)."""
    A = te.placeholder((9,), "float32", "A")
    S = te.compute((8,), lambda i: A[1 + i], name="S")
    C = te.compute((8,), lambda i: S[i] * 2, name="C")
    (out,) = inline_stages([C])
    assert [str(n) for n in pre_order_nodes(out.op.body[0]) if isinstance(n, BufferLoad)] == ["A[i + 1]"]
    M = te.compute((8,), lambda i: A[te.min(i, 5)], name="M")
    D = te.compute((4,), lambda i: M[i] + 1, name="D")
    (out,) = inline_stages([D])
    assert [str(n) for n in pre_order_nodes(out.op.body[0]) if isinstance(n, BufferLoad)] == ["A[i]"]


def test_an_elementwise_chain_inlines_without_substituting_each_value_again(monkeypatch):
    """Stages read at their axes take the value so far as it is: the nodes substituted over a
    chain of 60 stages grow with its length, not with its square (each stage's value would
    otherwise be walked again by the next)."""
    from mlc.passes.graph import inline as inline_module
    walked = []
    real = inline_module.substitute

    def counting(node, vmap):
        walked.append(sum(1 for _ in pre_order_nodes(node)))
        return real(node, vmap)

    monkeypatch.setattr(inline_module, "substitute", counting)
    A = te.placeholder((16,), "float32", "A")
    def step(x, n):
        return te.compute((16,), lambda i: x[i] * 1.5 + A[i] * float(n), name=f"s{n}")

    x = A
    for n in range(60):
        x = step(x, n)
    (out,) = inline_stages([x])
    assert sum(walked) < 20 * 60
    f = te.create_prim_func([A, out])
    a = np.arange(16, dtype="float32") / 16
    want = a.copy()
    for n in range(60):
        want = want * np.float32(1.5) + a * np.float32(n)
    got = np.zeros(16, "float32")
    mlc.build(f, target="llvm")["main"](a, got)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_the_outputs_of_a_kept_stage_of_several_share_one_stage():
    A = te.placeholder((4,), "float32", "A")
    twin = te.compute((4,), lambda i: (A[i] + 1, A[i] * 2), name="twin")
    C = te.compute((4,), lambda i: twin[0][i] - twin[1][i], name="C")
    (out,) = inline_stages([C])
    ops = {id(t.op) for t in out.op.inputs}
    assert len(out.op.inputs) == 2 and len(ops) == 1
