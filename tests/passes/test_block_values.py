"""share_block_values on its own: the reference interpreter runs Hypothesis-drawn runs of stores
before and after the pass to the same bits (a store between two loads of one element, a load
under a condition that is out of bounds where it fails: the interpreter raises or differs
where the pass moves them), and the pass binds what it says; the LetStmt it makes through
the printer, the parser, verify and the llvm backend (a register tile's unrolled matmul to
NumPy's values, its addresses computed once)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.reference.interpreter import Program
from mlc.driver.tiers import estimated_work
from mlc.ir.buffer import Buffer
from mlc.ir.expr import Binary, BufferLoad, Ramp, Select, Var, cast, const
from mlc.ir.extern import CallExtern
from mlc.ir.functor import pre_order_nodes
from mlc.ir.structural import assert_structural_equal
from mlc.ir.tir import OVERLAPPING, BufferStore, Evaluate, For, LetStmt, PrimFunc, SeqStmt
from mlc.passes.tir.block_values import share_block_values
from mlc.passes.tir.verify import verify_lowered

N = 5  # loop iterations; buffers hold 3 * N + 3 elements
SIZE = 3 * N + 3
A = Buffer("A", (const(SIZE),), "float32")
B = Buffer("B", (const(SIZE),), "float32")
C = Buffer("C", (const(SIZE),), "float32")
K = Buffer("K", (const(SIZE),), "int32")  # indices, all in [0, N]
D = Buffer("D", (const(SIZE),), "float32")  # read only
i = Var("i", "int32")


def run(func, arrays):
    copies = [a.copy() for a in arrays]
    Program(func, vectorize=False).run(copies)
    return copies


def lets(stmt):
    return [n for n in pre_order_nodes(stmt) if isinstance(n, LetStmt)]


# ------------------------------------------------------------------ programs

@st.composite
def indices(draw):
    """An index in [0, 3 * N + 2]: ``i * 3 + c`` written out again each time (equal, not the
    same node), or read from K (a gather)."""
    kind = draw(st.integers(0, 3))
    if kind == 3:
        return BufferLoad(K, (i * 3 + draw(st.integers(0, 2)),), "int32") + draw(st.integers(0, 2))
    return i * 3 + kind


@st.composite
def values(draw, depth=2):
    """A float32 value reading A, B and C (which the run also stores to), D, i, and
    ``D[i * 3 + 6]`` only under ``i < N - 1`` (past D's end otherwise: the interpreter raises
    where it is read at i = N - 1)."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        pick = draw(st.integers(0, 5))
        if pick == 4:
            return cast(i, "float32")
        if pick == 5:
            return const(0.5, "float32")
        return BufferLoad((A, B, C, D)[pick], (draw(indices()),), "float32")
    kind = draw(st.sampled_from(["add", "mul", "sub", "max", "guard"]))
    if kind == "guard":
        far = BufferLoad(D, (i * 3 + 6,), "float32")
        return Select(Binary("lt", i, const(N - 1), "bool"), far * draw(values(depth - 1)),
                      draw(values(depth - 1)), "float32")
    return Binary(kind, draw(values(depth - 1)), draw(values(depth - 1)), "float32")


@st.composite
def programs(draw):
    """``for i: X[index] = value`` several times, each X one of A, B, C: a value may read
    an element an earlier store of the run wrote."""
    stores = tuple(BufferStore(draw(st.sampled_from([A, B, C])), draw(values()), (draw(indices()),))
                   for _ in range(draw(st.integers(1, 5))))
    body = stores[0] if len(stores) == 1 else SeqStmt(stores)
    return PrimFunc((A, B, C, K, D), For(i, const(0), const(N), "serial", body))


def _arrays(seed):
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal(SIZE).astype("float32") for _ in range(3)]
    return data + [rng.integers(0, N + 1, SIZE).astype("int32"), rng.standard_normal(SIZE).astype("float32")]


@settings(max_examples=80, deadline=None)
@given(func=programs(), seed=st.integers(0, 99))
def test_runs_of_stores_compute_the_same_bits_after_the_pass(func, seed):
    out = share_block_values(func)
    verify_lowered(out)
    assert estimated_work(out) == estimated_work(func)  # (a tier decision is the same with the pass)
    arrays = _arrays(seed)
    for got, want in zip(run(out, arrays), run(func, arrays)):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ what it binds

def _loop(*stores, params=(A, B, C, K, D), attrs=()):
    return PrimFunc(params, For(i, const(0), const(N), "serial", SeqStmt(stores)), attrs)


def test_an_unrolled_tiles_address_is_bound_once_and_the_stored_buffer_is_read_in_place():
    """Three copies of ``C[i*3 + c] = C[i*3 + c] + A[i*3 + 2] * B[c]``: ``i * 3`` is bound
    (indices only), ``A[i*3 + 2]`` too (a value; A is not stored to); C's loads are not."""
    stores = [BufferStore(C, BufferLoad(C, (i * 3 + c,), "float32")
                          + BufferLoad(A, (i * 3 + 2,), "float32") * BufferLoad(B, (const(c),), "float32"),
                          (i * 3 + c,)) for c in range(3)]
    out = share_block_values(_loop(*stores))
    bound = [let.value for let in lets(out)]
    assert "i * 3" in map(str, bound)
    assert [x.buffer for x in bound if isinstance(x, BufferLoad)] == [A]
    assert sum(isinstance(x, BufferLoad) and x.buffer is C for x in pre_order_nodes(out)) == 3
    arrays = _arrays(0)
    np.testing.assert_array_equal(run(out, arrays)[2], run(_loop(*stores), arrays)[2])


def test_a_load_is_not_shared_across_a_store_to_its_buffer():
    x = lambda: BufferLoad(B, (i,), "float32")  # noqa: E731
    func = _loop(BufferStore(C, x() * 2.0, (i,)), BufferStore(B, x() + 1.0, (i,)), BufferStore(A, x() * 3.0, (i,)))
    out = share_block_values(func)
    assert not lets(out)
    arrays = _arrays(1)
    for got, want in zip(run(out, arrays), run(func, arrays)):
        np.testing.assert_array_equal(got, want)


def test_overlapping_parameters_share_no_load_where_one_is_stored():
    x = lambda: BufferLoad(A, (i + 1,), "float32")  # noqa: E731
    stores = (BufferStore(C, x() * 2.0, (i,)), BufferStore(C, x() * 3.0, (i + 2,)))

    def bound_loads(func):
        return [let.value for let in lets(share_block_values(func)) if isinstance(let.value, BufferLoad)]
    assert bound_loads(_loop(*stores))  # distinct by default: A[i + 1] bound
    overlapping = (("tir.noalias", False),)
    assert not bound_loads(_loop(*stores, attrs=overlapping))  # C may be A
    assert bound_loads(_loop(*stores, attrs=overlapping + ((OVERLAPPING, ("B", "C")),)))


def test_a_value_under_a_condition_stays_there():
    far = lambda: BufferLoad(D, (i * 3 + 6,), "float32")  # noqa: E731
    guard = lambda: Binary("lt", i, const(N - 1), "bool")  # noqa: E731
    stores = [BufferStore(C, Select(guard(), far() * float(c), const(0.0, "float32"), "float32"), (i + c,))
              for c in (1, 2)]
    out = share_block_values(_loop(*stores))
    assert [str(let.value) for let in lets(out)] == ["i < 4"]  # the guard; the load stays under it
    func = _loop(*stores)
    arrays = _arrays(2)
    np.testing.assert_array_equal(run(out, arrays)[2], run(func, arrays)[2])


def test_a_call_of_external_code_ends_a_run_and_index_and_value_uses_are_not_mixed():
    x = lambda: BufferLoad(A, (i,), "float32")  # noqa: E731
    call = Evaluate(CallExtern("f", (x(),), "int32"))
    out = share_block_values(_loop(BufferStore(C, x() * 2.0, (i,)), call, BufferStore(B, x() * 2.0, (i,))))
    assert not lets(out)
    mixed = (BufferStore(C, cast(i * 2, "float32"), (i * 2,)), BufferStore(B, cast(i * 2, "float32"), (i * 2,)))
    assert {str(let.value) for let in lets(share_block_values(_loop(*mixed)))} == {"T.Cast(\"float32\", i * 2)"}


def test_a_let_stmt_prints_and_parses_back():
    from mlc.script.parser import parse
    stores = [BufferStore(C, BufferLoad(A, (i * 3 + c,), "float32"), (i * 3 + c,)) for c in range(2)]
    out = share_block_values(_loop(*stores))
    assert "v: T.int32 = i * 3" in out.script()
    assert_structural_equal(parse(out.script()), out)


# ------------------------------------------------------------------ through the llvm backend

def _matmul(m, n, k):
    from mlc import te
    a = te.placeholder((m, k), "float32", "a")
    b = te.placeholder((k, n), "float32", "b")
    r = te.reduce_axis((0, k), "r")
    c = te.compute((m, n), lambda x, y: te.sum(a[x, r] * b[r, y], axis=r), "c")
    return mlc.IRModule({"main": te.create_prim_func([a, b, c])})


@settings(max_examples=5, deadline=None)
@given(m=st.sampled_from([1, 5, 13]), n=st.sampled_from([1, 7, 40]), k=st.sampled_from([1, 3, 17]))
def test_the_llvm_backend_renders_an_unrolled_matmul_to_numpys_values(m, n, k):
    """The default schedule's register tile, unrolled: its copies share their addresses."""
    rng = np.random.default_rng(m * n * k)
    x, y = rng.standard_normal((m, k)).astype("float32"), rng.standard_normal((k, n)).astype("float32")
    out = np.empty((m, n), "float32")
    mlc.build(_matmul(m, n, k), "llvm")["main"](x, y, out)
    np.testing.assert_allclose(out, x @ y, rtol=1e-5, atol=1e-5)


def test_a_register_tiles_rows_share_their_addresses_in_the_llvm_pipeline():
    from mlc.backends.llvm.generate import lower_for_llvm
    from mlc.schedules.default import default_schedule
    lowered = lower_for_llvm(default_schedule(_matmul(24, 64, 32), "llvm").mod)["main"]
    assert len(lets(lowered.body)) >= 2


@settings(max_examples=20, deadline=None)
@given(lanes=st.sampled_from([2, 4]), seed=st.integers(0, 99))
def test_without_vector_indices_a_ramps_base_stays_whole(lanes, seed):
    """``C[i*L : i*L+L] = A[i*L : i*L+L] * B[i*L : i*L+L]; E[i*L] = A[i*L] * 2``: by default
    ``i * L`` is bound everywhere; without ``vector_indices`` only the scalar accesses read it
    from its variable, each Ramp keeps its base (a renderer reads its alignment there), and
    the interpreter computes the same bits either way."""
    size = N * lanes
    Av, Bv, Cv, Ev = (Buffer(name, (const(size),), "float32") for name in "ABCE")
    ramp = lambda: Ramp(i * lanes, 1, lanes)  # noqa: E731
    vector_of = lambda buffer: BufferLoad(buffer, (ramp(),), f"float32x{lanes}")  # noqa: E731
    vector = BufferStore(Cv, vector_of(Av) * vector_of(Bv), (ramp(),))
    scalar = BufferStore(Ev, BufferLoad(Av, (i * lanes,), "float32") * 2.0, (i * lanes,))
    func = PrimFunc((Av, Bv, Cv, Ev), For(i, const(0), const(N), "serial", SeqStmt((vector, scalar))))

    def bases(f):
        return [n.base for n in pre_order_nodes(f.body) if isinstance(n, Ramp)]

    assert all(isinstance(b, Var) for b in bases(share_block_values(func)))
    kept = share_block_values(func, vector_indices=False)
    assert [str(let.value) for let in lets(kept)] == [f"i * {lanes}"]
    assert [str(b) for b in bases(kept)] == [f"i * {lanes}"] * 3
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(size).astype("float32") for _ in range(4)]
    for out in (kept, share_block_values(func)):
        for got, want in zip(run(out, arrays), run(func, arrays)):
            np.testing.assert_array_equal(got, want)


def test_each_nodes_operands_are_listed_once_per_run(monkeypatch):
    """The pass's cost: counting, ordering and rebuilding a run of 8 unrolled stores (their
    ``i * 3``, ``i * 3 + 2`` and ``A[i * 3 + 2]`` bound) list each node's operands once, not once per walk."""
    import mlc.passes.tir.block_values as pass_module
    stores = [BufferStore(C, BufferLoad(C, (i * 3 + c % 3,), "float32")
                          + BufferLoad(A, (i * 3 + 2,), "float32") * BufferLoad(B, (const(c),), "float32"),
                          (i * 3 + c % 3,)) for c in range(8)]
    listed = []
    always = pass_module._always
    monkeypatch.setattr(pass_module, "_always", lambda node: listed.append(id(node)) or always(node))
    out = share_block_values(_loop(*stores))
    assert {"i * 3", "v + 2", "A[v_1]"} <= {str(let.value) for let in lets(out)}
    assert len(listed) == len(set(listed))
