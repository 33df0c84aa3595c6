"""Schedule.merge: sibling loops of one range become one loop; numerics against the reference
interpreter, every refusal, trace replay; and the row rules' passes (layer_norm's and softmax's
gradients read a row in as few passes as their forwards)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir.functor import substitute, uses_var
from mlc.ir.tir import For
from mlc.schedules import Schedule, examples
from mlc.schedules.analysis import stmt_blocks
from mlc.schedules.default.cpu import schedule_cpu
from mlc.schedules.default.steps import CpuInfo
from mlc.schedules.edit import body_items
from mlc.schedules.state import all_blocks, all_loops, loops_above

from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import const
from mlc.ir.tir import BufferStore

from .block_programs import V, assert_replays, assert_same_numerics, block, func, loops, module


def _siblings(n: int, m: int, dependent: bool = False):
    """Row sums S = sum(A, 1), Q = sum(A * A, 1) (or, ``dependent``, Q = sum(A - S, 1), which reads S)
    and a spatial stage B = A * 2, as three loop nests over the rows."""
    A = te.placeholder((n, m), "float32", "A")
    k = te.reduce_axis((0, m), name="k")
    S = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), "S")
    r = te.reduce_axis((0, m), name="r")
    Q = te.compute((n,), (lambda i: te.sum(A[i, r] - S[i], axis=r)) if dependent
                   else (lambda i: te.sum(A[i, r] * A[i, r], axis=r)), "Q")
    B = te.compute((n, m), lambda i, j: A[i, j] * 2, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, S, Q, B])})


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 5), st.integers(1, 9), st.permutations([0, 1, 2]))
def test_merged_rows_compute_what_the_separate_loops_do(n, m, order):
    """The three row loops merged (in any order of the handles), then the three inner loops:
    one pass over each row, the same numbers on the reference interpreter and llvm."""
    make = lambda: _siblings(n, m)  # noqa: E731
    sch = Schedule(make())
    nests = [sch.get_loops(sch.get_block(b)) for b in ("S", "Q", "B")]
    i = sch.merge(*[nests[o][0] for o in order])
    inner = sch.merge(*[nest[1] for nest in nests])
    loops = all_loops(sch.mod["main"])
    assert len(loops) == 2 and loops[1].node is loops[0].node.body  # a row loop, a loop over its elements
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


def test_statements_between_the_loops_follow_the_merged_loop():
    """S's loop, then the rows' independent B, then Q's loop: Q's loop moves up to S's and
    B's nest, left between them, runs after the merged loop."""
    sch = Schedule(_siblings(3, 4))
    (i, _), (j, _), (b, _) = (sch.get_loops(sch.get_block(n)) for n in ("S", "B", "Q"))
    sch.merge(i, b)
    func = sch.mod["main"]
    assert [loc.node.block.name_hint for loc in all_blocks(func)] == ["S", "Q", "B"]
    assert [len(loops_above(loc)) for loc in all_blocks(func)] == [2, 2, 2]
    assert loops_above(all_blocks(func)[0])[0] is loops_above(all_blocks(func)[1])[0]
    assert_same_numerics(_siblings(3, 4), sch.mod)


def test_a_loop_reading_what_an_earlier_one_writes_is_refused():
    sch = Schedule(_siblings(3, 4, dependent=True))
    (i, k), (j, r) = sch.get_loops(sch.get_block("S")), sch.get_loops(sch.get_block("Q"))
    with pytest.raises(ScheduleError, match="loop i reads buffer S, which an earlier loop"):
        sch.merge(i, j)
    # the row loops merged are fine (Q's row i runs after S's row i); the loops over a row are not
    sch2 = Schedule(_siblings(3, 4, dependent=True))
    (i, k), (j, r) = sch2.get_loops(sch2.get_block("S")), sch2.get_loops(sch2.get_block("Q"))
    with pytest.raises(ScheduleError, match="reads buffer S"):
        sch2.merge(j, i)  # the order of the handles does not matter: S's loop comes first


def test_a_consumer_loop_is_refused():
    """C = B + 1 after B = A * 2: merged, C's loop would read B before B's loop wrote it
    (buffer by buffer: merge does not prove that iteration k reads only what iteration k wrote)."""
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] * 2, "B")
    C = te.compute((4,), lambda i: B[i] + 1, "C")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}))
    (i,), (j,) = sch.get_loops(sch.get_block("B")), sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match="loop i reads buffer B"):
        sch.merge(i, j)


def _between(reads_b: bool):
    """B = A * 2; C[0] = A[0] + 1 (or B[0] + 1); D = A + C[0]."""
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] * 2, "B")
    C = te.compute((1,), (lambda i: B[0] + 1) if reads_b else (lambda i: A[0] + 1), "C")
    D = te.compute((4,), lambda i: A[i] + C[0], "D")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C, D])})


def test_a_statement_between_that_a_later_loop_needs_moves_before_the_merged_loop():
    sch = Schedule(_between(False))
    (i,), (k,) = sch.get_loops(sch.get_block("B")), sch.get_loops(sch.get_block("D"))
    sch.merge(i, k)
    func = sch.mod["main"]
    assert [loc.node.block.name_hint for loc in all_blocks(func)] == ["C", "B", "D"]
    assert loops_above(all_blocks(func)[1])[0] is loops_above(all_blocks(func)[2])[0]
    assert_same_numerics(_between(False), sch.mod)


def test_a_statement_between_needing_the_earlier_loop_and_needed_by_the_later_is_refused():
    sch = Schedule(_between(True))
    (i,), (k,) = sch.get_loops(sch.get_block("B")), sch.get_loops(sch.get_block("D"))
    with pytest.raises(ScheduleError, match="can move neither before nor after the merged loop"):
        sch.merge(i, k)


def test_a_loop_overwriting_what_an_earlier_loop_reads_is_refused():
    """B[i] = A[3 - i], then A[i] = 0: merged, B[3] would read the A[0] already zeroed."""
    A, B = decl_buffer((4,), "float32", "A"), decl_buffer((4,), "float32", "B")
    i, j = V("i"), V("j")
    first = loops([(i, 4)], block("B", [("vi", 4, "S")], [i], lambda vi: BufferStore(B, A[3 - vi], (vi,))))
    second = loops([(j, 4)], block("Z", [("vj", 4, "S")], [j], lambda vj: BufferStore(A, const(0.0, "float32"), (vj,))))
    mod = module(func([A, B], [], first, second))
    sch = Schedule(mod)
    (li,), (lj,) = sch.get_loops(sch.get_block("B")), sch.get_loops(sch.get_block("Z"))
    with pytest.raises(ScheduleError, match="loop j writes buffer A, which an earlier loop or a statement between"):
        sch.merge(li, lj)


@pytest.mark.parametrize("case, message", [
    ("one", "merge needs two loops or more"),
    ("twice", "listed twice"),
    ("nested", "not statements of one sequence"),
    ("extent", "merged loops need one range"),
    ("kind", "merged loops need one kind"),
    ("thread", "bound to a thread"),
])
def test_refusals(case, message):
    sch = Schedule(_siblings(4, 6))
    (i, k), (j, r) = sch.get_loops(sch.get_block("S")), sch.get_loops(sch.get_block("Q"))
    if case == "one":
        args = (i,)
    elif case == "twice":
        args = (i, i)
    elif case == "nested":
        args = (i, r)
    elif case == "extent":
        sch.merge(i, j)
        k, r = sch.get_loops(sch.get_block("S"))[1], sch.get_loops(sch.get_block("Q"))[1]
        args = (k, sch.split(r, [2, 3])[0])
    elif case == "kind":
        sch.parallel(j)
        args = (i, j)
    else:
        sch.bind(i, "threadIdx.x")
        sch.bind(j, "threadIdx.x")
        args = (i, j)
    before = sch.mod
    with pytest.raises(ScheduleError, match=message):
        sch.merge(*args)
    mlc.assert_structural_equal(sch.mod, before)


def test_the_docstring_program_merges_two_sums():
    sch = Schedule(examples.two_sums(8))
    (i, k), (j, r) = sch.get_loops(sch.get_block("S")), sch.get_loops(sch.get_block("Q"))
    sch.merge(i, j)
    sch.merge(k, r)
    assert_same_numerics(examples.two_sums(8), sch.mod)


# ------------------------------------------------------------------ the row rules' passes

def _kernel(f, *args):
    """The scheduled row kernel of ``f`` (the largest function of its module)."""
    scheduled = mlc.jit(f).lower(*args).scheduled()
    return max((scheduled[n] for n in scheduled if n != "main"), key=lambda fn: len(fn.script()))


def _passes(func, *params: str) -> int:
    """The passes over a row of the buffers ``params``: the loops directly under the row loop
    (the innermost loop around every block reading one) whose blocks read one; a loop over a
    group's rows there (its variable in the row index of a read) counts its own passes."""
    def reads(stmt):
        return any(r.buffer.name in params for b in stmt_blocks(stmt) for r in b.block.reads)

    def over_rows(loop):
        return any(r.buffer.name in params and uses_var(
            [substitute(r.region[0].min, {iv.var: v for iv, v in zip(b.block.iter_vars, b.iter_values)})],
            loop.loop_var) for b in stmt_blocks(loop) for r in b.block.reads)

    def passes(loop):
        return sum(passes(item) if over_rows(item) else 1
                   for item in body_items(loop.body) if isinstance(item, For) and reads(item))
    readers = {id(loc.node) for loc in all_blocks(func) if reads(loc.node)}
    row = max((loc for loc in all_loops(func) if readers <= {id(b) for b in stmt_blocks(loc.node)}),
              key=lambda loc: len(loc.path)).node
    return passes(row)


def test_layer_norm_gradient_reads_a_row_in_three_passes_like_its_forward():
    """The row's sum and the sum of ct * gamma; then the sums of ct * gamma * (x - mean) and
    of (x - mean)^2; then, for a group of rows side by side, dx and gamma's and beta's terms:
    x and ct are read in three passes (seven before), as the forward reads x (sum, squares,
    output)."""
    x = np.zeros((4096, 256), "float32")
    g = np.zeros(256, "float32")
    grad = _kernel(lambda v, g, b, w: mlc.grad(lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * w),
                                                argnums=(0, 1, 2))(v, g, b), x, g, g, x)
    forward = _kernel(lambda v, g, b: mlc.nn.layer_norm(v, g, b, axis=1), x, g, g)
    assert _passes(grad, "v", "w") == 3, grad.script()
    assert _passes(forward, "v") == 3, forward.script()


def test_softmax_gradient_sums_e_and_ct_times_e_in_one_pass():
    """sum(e) and sum(ct * e) (e = exp(x - max)) in one loop over the row's e, then the
    output: two passes over e (three before), as softmax's forward (its sum, its output)."""
    x = np.zeros((4096, 256), "float32")
    grad = _kernel(lambda v, w: mlc.grad(lambda u: np.sum(mlc.nn.softmax(u, axis=1) * w))(v), x, x)
    assert _passes(grad, "T_softmax_exp") == 2, grad.script()
    forward = _kernel(lambda v: mlc.nn.softmax(v, axis=1), x)
    assert _passes(forward, "T_softmax_exp") == 2, forward.script()


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([1, 3, 16, 64]), st.sampled_from([64, 96, 192, 320]), st.integers(0, 2 ** 16))
def test_merged_gradients_against_numpy(rows, cols, seed):
    """layer_norm's and softmax's gradients, at row lengths whose passes merge, against NumPy."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype("float32") * 3
    c = rng.standard_normal((rows, cols)).astype("float32")
    gamma, beta = rng.standard_normal(cols).astype("float32"), rng.standard_normal(cols).astype("float32")
    f = mlc.jit(lambda v, g, b, w: mlc.grad(lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * w),
                                             argnums=(0, 1, 2))(v, g, b))
    dx, dg, db = f(x, gamma, beta, c)
    v, w = x.astype("float64"), c.astype("float64")
    mean = v.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(v.var(axis=1, keepdims=True) + 1e-5)
    xhat, gc = (v - mean) * rstd, w * gamma
    want = rstd * (gc - gc.mean(axis=1, keepdims=True) - xhat * (gc * xhat).mean(axis=1, keepdims=True))
    np.testing.assert_allclose(dx, want, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dg, (w * xhat).sum(axis=0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(db, w.sum(axis=0), rtol=1e-4, atol=1e-3)
    s = mlc.jit(lambda v, w: mlc.grad(lambda u: np.sum(mlc.nn.softmax(u, axis=1) * w))(v))(x, c)
    e = np.exp(v - v.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(s, y * (w - (w * y).sum(axis=1, keepdims=True)), rtol=1e-4, atol=1e-5)


def _three_moments(n: int, m: int):
    """Three sibling row sums (of x, x^2, x^3) and an output reading them."""
    A = te.placeholder((n, m), "float32", "A")
    k1, k2, k3 = (te.reduce_axis((0, m), name=f"k{p}") for p in (1, 2, 3))
    S1 = te.compute((n,), lambda i: te.sum(A[i, k1], axis=k1), "S1")
    S2 = te.compute((n,), lambda i: te.sum(A[i, k2] * A[i, k2], axis=k2), "S2")
    S3 = te.compute((n,), lambda i: te.sum(A[i, k3] * A[i, k3] * A[i, k3], axis=k3), "S3")
    O = te.compute((n, m), lambda i, j: A[i, j] * S1[i] + S2[i] - S3[i], "O")
    return mlc.IRModule({"main": te.create_prim_func([A, O])})


@pytest.mark.parametrize("cpu, most, passes", [(CpuInfo(512, 2), 3, 2), (CpuInfo(256, 2), 2, 3)])
def test_a_merged_pass_keeps_its_accumulators_in_half_the_vector_registers(cpu, most, passes):
    """Three sibling sums of four vector accumulators each: one pass with 32 vector registers
    (12 of them accumulators), two with 16 (at most 8); then the output's pass."""
    sch = Schedule(_three_moments(64, 512))
    schedule_cpu(sch, "main", cpu)
    func = sch.mod["main"]
    per_loop = [sum(1 for item in body_items(loc.node.body) if isinstance(item, For)
                    and item.kind != "serial" and any(b.block.name_hint.endswith("_rf_update")
                                                      for b in stmt_blocks(item)))
                for loc in all_loops(func) if loc.node.kind == "serial"]
    assert max(per_loop) == most, func.script()
    assert _passes(func, "A") == passes, func.script()
    assert_same_numerics(_three_moments(64, 512), sch.mod, rtol=1e-4, atol=1e-2)
