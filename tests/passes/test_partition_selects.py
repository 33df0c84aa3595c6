"""partition_selects: a loop is split where a select's condition flips, so that each part
computes one side only (a concatenation fused with what it concatenates)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.llvm.module import compile_sources
from mlc.ir import te
from mlc.ir.calls import is_graph_main
from mlc.ir.expr import BufferLoad, Call, Ramp, Select
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For
from mlc.passes.tir import (convert_blocks_to_loops, lower, lower_init_block, partition_selects, partition_tiles,
                            run_passes, simplify)
from mlc.schedules import Schedule

from ..targets import AVX2, each_pinned_target, pinned_threads


def _concat(rows, first, second, factor=None, kind="serial"):
    """``out[i, j] = sin(A[i, j])`` for ``j < first``, else ``cos(B[i, j - first])``, its
    column loop split by ``factor`` (the inner part vectorized)."""
    A = te.placeholder((rows, first), "float32", "A")
    B = te.placeholder((rows, second), "float32", "B")
    out = te.compute((rows, first + second),
                     lambda i, j: te.if_then_else(j < first, te.sin(A[i, j]), te.cos(B[i, j - first])),
                     name="out")
    sch = Schedule(te.create_prim_func([A, B, out]))
    i, j = sch.get_loops(sch.get_block("out"))
    if factor is not None:
        _, inner = sch.split(j, [None, factor])
        sch.vectorize(inner)
    if kind == "parallel":
        sch.parallel(i)
    return run_passes(sch.mod["main"], [lower_init_block, convert_blocks_to_loops, simplify])


def _concat_1d(first, second, factor):
    """``out[i] = sin(A[i])`` for ``i < first``, else ``cos(B[i - first])``: the loop split
    by ``factor``, its outer part parallel and its inner part vectorized."""
    A = te.placeholder((first,), "float32", "A")
    B = te.placeholder((second,), "float32", "B")
    out = te.compute((first + second,),
                     lambda i: te.if_then_else(i < first, te.sin(A[i]), te.cos(B[i - first])), name="out")
    sch = Schedule(te.create_prim_func([A, B, out]))
    outer, inner = sch.split(sch.get_loops(sch.get_block("out"))[0], [None, factor])
    sch.parallel(outer)
    sch.vectorize(inner)
    return run_passes(sch.mod["main"], [lower_init_block, convert_blocks_to_loops, simplify])


def _selects(func):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, Select)]


def _loops(func, var_prefix):
    return [(s.min.value, s.extent.value) for s in pre_order_nodes(func.body)
            if isinstance(s, For) and s.loop_var.name.startswith(var_prefix)]


def test_a_concatenation_loop_becomes_one_loop_per_side():
    out = partition_selects(_concat(8, 64, 64, factor=32))
    assert _selects(out) == []
    assert _loops(out, "j_0") == [(0, 2), (2, 2)]
    text = out.script()
    first, second = text.split("j_0_rest")[0], "j_0_rest".join(text.split("j_0_rest")[1:])
    assert "T.sin" in first and "T.cos" not in first
    assert "T.cos" in second and "T.sin" not in second
    assert partition_selects(out) is out


def test_an_iteration_the_condition_changes_in_keeps_its_select():
    """50 columns then 30, tiles of 16: tiles 0-2 all first, tile 3 mixed, tile 4 second."""
    out = partition_selects(_concat(4, 50, 30, factor=16))
    assert _loops(out, "j_0") == [(0, 3), (3, 1), (4, 1)]
    assert len(_selects(out)) == 1


def test_a_parallel_loop_becomes_two_parallel_loops():
    """1-d: 4096 elements then 4096, vectors of 32: a team computes each side."""
    out = partition_selects(_concat_1d(4096, 4096, 32))
    assert _selects(out) == []
    parallel = [(s.min.value, s.extent.value) for s in pre_order_nodes(out.body)
                if isinstance(s, For) and s.kind == "parallel"]
    assert parallel == [(0, 128), (128, 128)]


def test_a_vector_loop_whose_condition_never_changes_keeps_one_side():
    """The ragged last tile of a 1-d concatenation (64 then 7 elements, vectors of 32, as
    partition_tiles leaves it): its vector loop lies past the first array, so it keeps
    the second side alone without a split; sin is left in the first array's tiles only."""
    out = partition_selects(partition_tiles(_concat_1d(64, 7, 32)))
    assert _selects(out) == []
    assert [n.op for n in pre_order_nodes(out.body) if isinstance(n, Call)].count("sin") == 1


def test_a_loop_without_such_a_select_is_left_as_it_is():
    A = te.placeholder((64,), "float32", "A")
    out = te.compute((64,), lambda i: te.if_then_else(A[i] < 0, -A[i], A[i]), name="out")
    func = run_passes(te.create_prim_func([A, out]), [lower_init_block, convert_blocks_to_loops, simplify])
    assert partition_selects(func) is func


def _rotary(v, p, f, xp=np):
    d = v.shape[1]
    a = p[:, None] * f[None, :]
    c, s = xp.cos(a), xp.sin(a)
    x1, x2 = v[:, :d // 2], v[:, d // 2:]
    return xp.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], axis=1)


def _rotary_args(n, d):
    x = np.random.default_rng(0).standard_normal((n, d), dtype="float32")
    return x, np.arange(n, dtype="float32"), (10000.0 ** (-np.arange(0, d, 2) / d)).astype("float32")


def test_the_rotary_embedding_kernel_computes_each_half_once():
    """RoPE under @mlc.jit: one fused kernel whose lowered loops hold no select (each half's
    sin and cos computed once, not both halves' everywhere), and NumPy's result."""
    x, pos, inv = _rotary_args(16, 64)
    rotary = _rotary
    f = mlc.jit(rotary)
    np.testing.assert_allclose(f(x, pos, inv), rotary(x, pos, inv), rtol=1e-5, atol=1e-5)
    kernels = [fn for fn in f.lower(x, pos, inv).scheduled().values() if not is_graph_main(fn)]
    assert len(kernels) == 1
    assert _selects(lower(kernels[0])) == []


@each_pinned_target
def test_the_rotary_embedding_kernel_is_vectorized(isa, target):
    """Each half's sin and cos read the other half's operands through loads guarded by the
    negated split condition (``select(not j < 64, f[j - 64], 0)``): a split part resolves
    them as it resolves the select itself, so no select with a load is left and the loop is
    vectorized (it stayed a scalar loop of float64 trig: 6x slower)."""
    args = _rotary_args(64, 128)
    with pinned_threads():  # (compiled, not loaded: the pinned CPU need not be this one)
        ll = compile_sources(mlc.jit(_rotary, target=target).lower(*args).scheduled(), target)["ll"]
    assert " x float>" in ll and " x double>" in ll


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(0, 5), first=st.integers(1, 70), second=st.integers(1, 70),
       factor=st.sampled_from([None, 1, 3, 8, 16]), kind=st.sampled_from(["serial", "parallel"]))
def test_partitioned_concatenations_match_numpy(rows, first, second, factor, kind):
    """rows 0: a 1-d concatenation (its loop split by ``factor or 8``, parallel)."""
    rng = np.random.default_rng(rows * 1000 + first * 10 + second)
    shape = (rows,) if rows else ()
    a = rng.standard_normal((*shape, first), dtype="float32")
    b = rng.standard_normal((*shape, second), dtype="float32")
    out = np.empty((*shape, first + second), "float32")
    func = _concat(rows, first, second, factor, kind) if rows else _concat_1d(first, second, factor or 8)
    lib = mlc.build(func, "llvm")
    lib["main"](a, b, out)
    np.testing.assert_allclose(out, np.concatenate([np.sin(a), np.cos(b)], axis=-1), rtol=1e-6, atol=1e-6)
    lib_ref = mlc.build(func, "reference")
    ref = np.empty_like(out)
    lib_ref["main"](a, b, ref)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def _heat(u, steps):  # an in-place update of the interior, kept around its border by selects
    for t in range(steps):
        u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


def _lopsided(u, steps):  # borders of other widths on each side
    for t in range(steps):
        u[2:-1, 1:] = 0.5 * u[2:-1, 1:] + 0.25 * (u[1:-2, :-1] + u[3:, 1:])


@settings(max_examples=10, deadline=None)
@given(n=st.sampled_from([1, 2, 3, 4, 5, 9, 17, 33]), m=st.sampled_from([1, 2, 3, 7, 16, 17, 31, 37, 40]),
       steps=st.integers(1, 3), fn=st.sampled_from([_heat, _lopsided]))
def test_in_place_stencil_updates_match_numpy(n, m, steps, fn):
    """An in-place slice update selects the update inside the slice and the old value outside
    it; its loops are cut where each bound of the slice starts or stops holding (the interior
    without selects, the borders with them): NumPy's answer for any size."""
    u = np.random.default_rng(n * 100 + m).random((n, m), dtype=np.float32)
    ours, theirs = u.copy(), u.copy()
    mlc.jit(fn, static_argnames=("steps",))(ours, steps)
    fn(theirs, steps)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def _plain_vector_stores(func):
    """The vector stores of ``func`` whose values have no select and load through vector
    ranges only (a whole vector of contiguous elements: no gather, no masked load)."""
    found = []
    for node in pre_order_nodes(func.body):
        if isinstance(node, BufferStore) and isinstance(node.indices[-1], Ramp):
            inner = list(pre_order_nodes(node.value))
            loads = [x for x in inner if isinstance(x, BufferLoad)]
            if not any(isinstance(x, Select) for x in inner) and loads and all(
                    isinstance(x.indices[-1], Ramp) for x in loads):
                found.append(node)
    return found


def test_an_in_place_stencils_interior_has_no_selects():
    """heat's kernel on an array too small to block in time (its update of ``u[1:-1, 1:-1]``
    selects, for every element, between the update and the old value, through indices
    clamped into the slice): the interior columns of every interior row are plain vector
    loads and stores for the AVX2 CPU, as LLVM code too; left whole, the loop was LLVM's to
    vectorize, with masked loads (2.8x slower at 512 x 512)."""
    u = np.zeros((64, 64), "float32")
    with pinned_threads():
        mod = mlc.jit(_heat, static_argnames=("steps",), target=AVX2).lower(u, 1000).scheduled()
        kernels = [fn for fn in mod.values() if not is_graph_main(fn) and _selects(fn)]
        assert kernels and all(_plain_vector_stores(lower(fn)) for fn in kernels)
        ll = compile_sources(mod, AVX2)["ll"]
    assert ll.count("load <8 x float>, ptr") >= 5  # the five loads of the stencil
