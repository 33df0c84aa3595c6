"""Loop primitives: golden before/after IR, printed text, every illegal use, numerics, traces."""
import importlib.util

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir.buffer import BufferRegion, decl_buffer
from mlc.ir.expr import IterVar, Range, Var, const
from mlc.ir.tir import Block, BlockRealize, BufferStore, For, IfThenElse, PrimFunc, seq
from mlc.schedules import Schedule, Trace

from examples.ch7_gpu_acceleration import matmul as gpu_matmul, schedule_matmul_shared

from .test_get_and_trace import course_module

TARGETS = [t for t, mod in (("reference", "mlc.backends.reference"), ("llvm", "mlc.backends.llvm"))
           if importlib.util.find_spec(mod) is not None]


# ------------------------------------------------------------------ helpers

def prim_func(params, body, allocs=()):
    """A PrimFunc shaped like te.create_prim_func's output."""
    root = Block("root", (), (), (), body, alloc_buffers=tuple(allocs))
    return PrimFunc(tuple(params), BlockRealize((), const(True, "bool"), root),
                    (("global_symbol", "main"), ("tir.noalias", True)))


def nest(spec, body):
    """Nested loops from [(var, extent) or (var, extent, kind)], outermost first."""
    for entry in reversed(spec):
        var, extent, kind = (*entry, "serial")[:3]
        body = For(var, const(0), const(extent), kind, body)
    return body


def point(buf, *idx):
    return BufferRegion(buf, tuple(Range(i, const(1)) for i in idx))


def spatial(name, extent):
    return IterVar(Var(name), Range.from_extent(extent), "spatial")


def add_one(shape=(8, 10)):
    """B[i, j] = A[i, j] + 1 as a te program (module function "main")."""
    A = te.placeholder(shape, "float32", "A")
    B = te.compute(shape, lambda i, j: A[i, j] + 1, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def add_one_realize(A, B, values, predicate=None, shape=(8, 10)):
    vi, vj = spatial("vi", shape[0]), spatial("vj", shape[1])
    block = Block("B", (vi, vj), (point(A, vi.var, vj.var),), (point(B, vi.var, vj.var),),
                  BufferStore(B, A[vi.var, vj.var] + 1, (vi.var, vj.var)))
    return BlockRealize(tuple(values), const(True, "bool") if predicate is None else predicate, block)


def buffers(shape=(8, 10)):
    return decl_buffer(shape, "float32", "A"), decl_buffer(shape, "float32", "B")


def assert_same_result(before, after, name="main", seed=0):
    """Both modules compute the same arrays on every available backend."""
    assert TARGETS, "no backend to run programs on"
    params = before[name].params
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(p.static_shape()).astype(p.dtype) for p in params]
    for target in TARGETS:
        results = []
        for mod in (before, after):
            arrays = [x.copy() for x in inputs]
            mlc.build(mod, target)[name](*arrays)
            results.append(arrays)
        for x, y in zip(*results):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5, err_msg=target)


def loops_of(sch, block_name, func_name=None):
    return sch.get_loops(sch.get_block(block_name, func_name))


# -------------------------------------------------------------------- split

def test_split_divisible_golden():
    sch = Schedule(add_one((8, 12)))
    i, j = loops_of(sch, "B")
    j0, j1 = sch.split(j, factors=[None, 4])
    A, B = buffers((8, 12))
    i_, a, b = Var("i"), Var("j_0"), Var("j_1")
    expected = prim_func([A, B], nest([(i_, 8), (a, 3), (b, 4)],
                                      add_one_realize(A, B, [i_, a * 4 + b], shape=(8, 12))))
    mlc.assert_structural_equal(sch.mod["main"], expected)
    assert_same_result(add_one((8, 12)), sch.mod)


def test_split_non_divisible_adds_predicate_golden():
    sch = Schedule(add_one())
    _, j = loops_of(sch, "B")
    sch.split(j, factors=[None, 4])
    A, B = buffers()
    i_, a, b = Var("i"), Var("j_0"), Var("j_1")
    expected = prim_func([A, B], nest([(i_, 8), (a, 3), (b, 4)],
                                      add_one_realize(A, B, [i_, a * 4 + b], a * 4 + b < 10)))
    mlc.assert_structural_equal(sch.mod["main"], expected)
    assert "T.where(j_0 * 4 + j_1 < 10)" in sch.mod.script()
    assert_same_result(add_one(), sch.mod)


def test_split_twice_ands_predicates():
    sch = Schedule(add_one())
    _, j = loops_of(sch, "B")
    j0, _ = sch.split(j, factors=[None, 4])          # 3 x 4
    sch.split(j0, factors=[2, 2])                    # 2 x 2 covers 3
    text = sch.mod.script()
    assert "vj = T.axis.spatial(10, j_0_0 * 8 + j_0_1 * 4 + j_1)" in text
    assert "T.where(j_0_0 * 8 + j_0_1 * 4 + j_1 < 10 and j_0_0 * 2 + j_0_1 < 3)" in text
    assert_same_result(add_one(), sch.mod)


def test_split_three_factors_and_expr_rv_factors():
    sch = Schedule(add_one((8, 24)))
    _, j = loops_of(sch, "B")
    loops = sch.split(j, factors=[2, None, mlc.ExprRV(4)])
    assert len(loops) == 3
    assert "for i, j_0, j_1, j_2 in T.grid(8, 2, 3, 4):" in sch.mod.script()
    assert "vj = T.axis.spatial(24, j_0 * 12 + j_1 * 4 + j_2)" in sch.mod.script()
    assert_same_result(add_one((8, 24)), sch.mod)


def test_course_split_reorder_prints_like_the_course():
    sch = Schedule(course_module(128))
    block_Y = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, 4])
    sch.reorder(j0, k, j1)
    text = sch.mod.script()
    assert "for i, j_0, k, j_1 in T.grid(128, 32, 128, 4):" in text
    assert "vj = T.axis.spatial(128, j_0 * 4 + j_1)" in text
    assert "vk = T.axis.reduce(128, k)" in text
    assert "T.where" not in text


def test_split_course_numerics():
    before = course_module(16)
    sch = Schedule(before)
    i, j, k = loops_of(sch, "Y", "mm_relu")
    j0, j1 = sch.split(j, factors=[None, 4])
    k0, k1 = sch.split(k, factors=[None, 3])  # 16 = 6 * 3 - 2: guarded
    sch.reorder(j0, k0, k1, j1)
    assert_same_result(before, sch.mod, "mm_relu")


def test_split_errors():
    sch = Schedule(add_one())
    _, j = loops_of(sch, "B")
    before = sch.mod
    with pytest.raises(ScheduleError, match=r"multiply to 9, less than the extent 10"):
        sch.split(j, factors=[3, 3])
    with pytest.raises(ScheduleError, match="at most one factor may be None"):
        sch.split(j, factors=[None, None])
    with pytest.raises(ScheduleError, match="less than 1"):
        sch.split(j, factors=[None, 0])
    with pytest.raises(ScheduleError, match="less than 1"):
        sch.split(j, factors=[-2, 5])
    with pytest.raises(ScheduleError, match="must be ints"):
        sch.split(j, factors=[2.5, 4])
    with pytest.raises(ScheduleError, match="non-empty list"):
        sch.split(j, factors=[])
    with pytest.raises(ScheduleError, match="expected a LoopRV"):
        sch.split("j", factors=[2, 5])
    assert sch.mod is before and len(sch.trace) == 2  # get_block, get_loops only


def test_split_error_shows_the_loop():
    sch = Schedule(add_one())
    _, j = loops_of(sch, "B")
    with pytest.raises(ScheduleError) as info:
        sch.split(j, factors=[3, 3])
    message = str(info.value)
    assert message.startswith("split:")
    assert "for i, j in T.grid(8, 10):  # <-- here" in message


def test_old_handle_is_invalid_after_split():
    sch = Schedule(add_one())
    _, j = loops_of(sch, "B")
    sch.split(j, factors=[2, 5])
    with pytest.raises(ScheduleError, match="no longer exists"):
        sch.parallel(j)


@given(extent=st.sampled_from([1, 2, 3, 7, 10, 13, 16, 17, 31]),
       factors=st.lists(st.integers(1, 9), min_size=1, max_size=3),
       none_at=st.integers(-1, 2))
def test_split_any_factors_keeps_the_result(extent, factors, none_at):
    if 0 <= none_at < len(factors):
        factors[none_at] = None
    module = add_one((3, extent))
    sch = Schedule(module)
    _, j = loops_of(sch, "B")
    known = int(np.prod([f for f in factors if f is not None]))
    covered = None in factors or known >= extent
    if not covered:
        with pytest.raises(ScheduleError):
            sch.split(j, factors=factors)
        return
    new_loops = sch.split(j, factors=factors)
    assert len(new_loops) == len(factors)
    extents = [f.extent.value for f in _all_loops(sch.mod["main"])][1:]
    assert np.prod(extents) >= extent
    assert ("T.where" in sch.mod.script()) == (np.prod(extents) > extent)
    assert_same_result(module, sch.mod)  # the reference raises IndexError on any overrun


def _all_loops(func):
    from mlc.ir.functor import pre_order_nodes
    return [n for n in pre_order_nodes(func.body) if isinstance(n, For)]


def test_split_of_a_loop_without_blocks_guards_with_if():
    from mlc.schedules.primitives.loop_transforms import split_loop
    A = decl_buffer((5,), "float32", "A")
    i = Var("i")
    func = prim_func([A], For(i, const(0), const(5), "serial",
                              BufferStore(A, A[i] * 2.0, (i,))))
    out, (a, b) = split_loop(func, i, [2, 3])
    expected = prim_func([A], nest([(a, 2), (b, 3)], IfThenElse(
        a * 3 + b < 5, BufferStore(A, A[a * 3 + b] * 2.0, (a * 3 + b,)))))
    mlc.assert_structural_equal(out, expected)


# --------------------------------------------------------------------- fuse

def test_fuse_golden():
    sch = Schedule(add_one())
    i, j = loops_of(sch, "B")
    sch.fuse(i, j)
    A, B = buffers()
    f = Var("i_j_fused")
    expected = prim_func([A, B], nest([(f, 80)], add_one_realize(A, B, [f // 10, f % 10])))
    mlc.assert_structural_equal(sch.mod["main"], expected)
    assert "for i_j_fused in range(80):" in sch.mod.script()
    assert_same_result(add_one(), sch.mod)


def test_fuse_three_loops_and_split_simplifies():
    A = te.placeholder((4, 6, 8), "float32", "A")
    B = te.compute((4, 6, 8), lambda i, j, k: A[i, j, k] * 2, "B")
    module = mlc.IRModule({"main": te.create_prim_func([A, B])})
    sch = Schedule(module)
    f = sch.fuse(*loops_of(sch, "B"))
    text = sch.mod.script()
    assert "vi = T.axis.spatial(4, i_j_k_fused // 48)" in text
    assert "vj = T.axis.spatial(6, i_j_k_fused // 8 % 6)" in text
    assert "vk = T.axis.spatial(8, i_j_k_fused % 8)" in text
    sch.split(f, factors=[None, 16])
    text = sch.mod.script()
    assert "vi = T.axis.spatial(4, i_j_k_fused_0 // 3)" in text
    assert "vj = T.axis.spatial(6, i_j_k_fused_0 % 3 * 2 + i_j_k_fused_1 // 8)" in text
    assert "vk = T.axis.spatial(8, i_j_k_fused_1 % 8)" in text
    assert_same_result(module, sch.mod)


def test_fuse_accepts_a_list_and_one_loop():
    sch = Schedule(add_one())
    i, j = loops_of(sch, "B")
    f = sch.fuse([i, j])
    g = sch.fuse(f)
    assert "for i_j_fused_fused in range(80):" in sch.mod.script()
    assert isinstance(g, mlc.LoopRV)


def test_fuse_errors():
    sch = Schedule(course_module())
    i, j, k = loops_of(sch, "Y", "mm_relu")
    ci, _ = loops_of(sch, "C")
    with pytest.raises(ScheduleError, match="not the only statement directly inside loop i"):
        sch.fuse(i, k)
    with pytest.raises(ScheduleError, match="not the only statement"):
        sch.fuse(j, i)  # wrong order
    with pytest.raises(ScheduleError, match="not the only statement"):
        sch.fuse(i, ci)  # sibling nests
    with pytest.raises(ScheduleError, match="not both"):
        sch.fuse(i, loops=[j])
    with pytest.raises(ScheduleError, match="LoopRVs"):
        sch.fuse()


# ------------------------------------------------------------------ reorder

def test_reorder_golden():
    sch = Schedule(add_one())
    i, j = loops_of(sch, "B")
    sch.reorder(j, i)
    A, B = buffers()
    i_, j_ = Var("i"), Var("j")
    expected = prim_func([A, B], nest([(j_, 10), (i_, 8)], add_one_realize(A, B, [i_, j_])))
    mlc.assert_structural_equal(sch.mod["main"], expected)
    assert_same_result(add_one(), sch.mod)


def test_reorder_keeps_unlisted_loops_and_kinds():
    before = course_module(16)
    sch = Schedule(before)
    i, j, k = loops_of(sch, "Y", "mm_relu")
    sch.unroll(j)
    sch.reorder(k, i)
    text = sch.mod.script()
    assert "for k in range(16):\n            for j in T.unroll(16):\n                for i in range(16):" in text
    assert_same_result(before, sch.mod, "mm_relu")


def test_reorder_errors():
    sch = Schedule(course_module())
    i, j, k = loops_of(sch, "Y", "mm_relu")
    ci, cj = loops_of(sch, "C")
    with pytest.raises(ScheduleError, match="not nested in one another"):
        sch.reorder(cj, k)
    with pytest.raises(ScheduleError, match="listed twice"):
        sch.reorder(i, i)
    # a block between two loops
    A = decl_buffer((4, 4), "float32", "A")
    x, y = Var("x"), Var("y")
    vx = spatial("vx", 4)
    inner = For(y, const(0), const(4), "serial", BufferStore(A, A[vx.var, y] + 1.0, (vx.var, y)))
    outer_block = Block("outer", (vx,), (), (), inner)
    func = prim_func([A], For(x, const(0), const(4), "serial",
                              BlockRealize((x,), const(True, "bool"), outer_block)))
    sch = Schedule(mlc.IRModule({"main": func}))
    lx = sch.get_loops(sch.get_block("outer"))[0]
    ly = sch._loop_rv("main", y)
    with pytest.raises(ScheduleError, match="there is a BlockRealize in between"):
        sch.reorder(ly, lx)
    # a SeqStmt between two loops
    z = Var("z")
    body = For(x, const(0), const(4), "serial", seq(
        For(y, const(0), const(4), "serial", BufferStore(A, A[x, y] + 1.0, (x, y))),
        For(z, const(0), const(4), "serial", BufferStore(A, A[x, z] * 2.0, (x, z)))))
    sch = Schedule(mlc.IRModule({"main": prim_func([A], body)}))
    with pytest.raises(ScheduleError, match="there is a SeqStmt in between"):
        sch.reorder(sch._loop_rv("main", y), sch._loop_rv("main", x))


def test_reorder_refuses_a_range_depending_on_a_moved_loop():
    A = decl_buffer((8, 8), "float32", "A")
    x, y = Var("x"), Var("y")
    body = For(x, const(0), const(4), "serial",
               For(y, x, const(4), "serial", BufferStore(A, A[x, y] + 1.0, (x, y))))
    sch = Schedule(mlc.IRModule({"main": prim_func([A], body)}))
    with pytest.raises(ScheduleError, match="range of loop y depends on loop x"):
        sch.reorder(sch._loop_rv("main", y), sch._loop_rv("main", x))


# -------------------------------------------------------------- loop kinds

def with_kinds(func, kinds):
    """``func`` with the loops named in ``kinds`` given the kind (or (kind, thread))."""
    from mlc.ir.functor import Mutator

    class SetKind(Mutator):
        def visit_For(self, node):
            node = self.generic_visit(node)
            if node.loop_var.name in kinds:
                kind, thread = (kinds[node.loop_var.name], None) if isinstance(
                    kinds[node.loop_var.name], str) else kinds[node.loop_var.name]
                return For(node.loop_var, node.min, node.extent, kind, node.body, thread)
            return node

    return SetKind().visit(func)


@pytest.mark.parametrize("primitive,kind", [("parallel", "parallel"), ("vectorize", "vectorized"),
                                            ("unroll", "unrolled")])
def test_loop_kind_golden(primitive, kind):
    module = add_one()
    sch = Schedule(module)
    i, j = loops_of(sch, "B")
    getattr(sch, primitive)(j if primitive == "vectorize" else i)
    expected = with_kinds(module["main"], {"j" if primitive == "vectorize" else "i": kind})
    mlc.assert_structural_equal(sch.mod["main"], expected)
    assert_same_result(module, sch.mod)


def test_bind_golden():
    module = add_one()
    sch = Schedule(module)
    i, j = loops_of(sch, "B")
    sch.bind(i, "blockIdx.x")
    sch.bind(j, "threadIdx.x")
    expected = with_kinds(module["main"], {"i": ("thread_binding", "blockIdx.x"),
                                           "j": ("thread_binding", "threadIdx.x")})
    mlc.assert_structural_equal(sch.mod["main"], expected)
    assert 'for j in T.thread_binding(10, thread="threadIdx.x"):' in sch.mod.script()
    if "reference" in TARGETS:
        out = np.zeros((8, 10), "float32")
        a = np.arange(80, dtype="float32").reshape(8, 10)
        mlc.build(sch.mod, "reference")["main"](a, out)
        np.testing.assert_array_equal(out, a + 1)


def test_course_parallel_vectorize_numerics():
    before = course_module(16)
    sch = Schedule(before)
    i, j, k = loops_of(sch, "Y", "mm_relu")
    j0, j1 = sch.split(j, factors=[None, 4])
    sch.reorder(j0, k, j1)
    sch.parallel(i)
    sch.vectorize(j1)
    ci, cj = loops_of(sch, "C")
    sch.parallel(sch.fuse(ci, cj))
    text = sch.mod.script()
    assert "for i in T.parallel(16):" in text and "for j_1 in T.vectorized(4):" in text
    assert_same_result(before, sch.mod, "mm_relu")


@pytest.mark.parametrize("primitive", ["parallel", "vectorize"])
def test_reduction_loop_cannot_run_at_once(primitive):
    sch = Schedule(course_module())
    _, _, k = loops_of(sch, "Y", "mm_relu")
    with pytest.raises(ScheduleError, match=f"{primitive}: loop k drives the reduce iterator vk "
                                            "of block 'Y'") as info:
        getattr(sch, primitive)(k)
    assert "for i, j, k in T.grid(16, 16, 16):  # <-- here" in str(info.value)


def test_reduction_loop_split_part_is_still_a_reduction():
    sch = Schedule(course_module())
    _, _, k = loops_of(sch, "Y", "mm_relu")
    _, k1 = sch.split(k, factors=[None, 4])
    with pytest.raises(ScheduleError, match="reduce iterator"):
        sch.vectorize(k1)


def test_bind_errors():
    sch = Schedule(course_module())
    i, j, k = loops_of(sch, "Y", "mm_relu")
    with pytest.raises(ScheduleError, match="only threadIdx loops may reduce across threads"):
        sch.bind(k, "blockIdx.x")
    with pytest.raises(ScheduleError, match="unknown thread axis 'threadIdx.w'"):
        sch.bind(i, "threadIdx.w")
    with pytest.raises(ScheduleError, match="unknown thread axis"):
        sch.bind(i, "x")
    sch.bind(i, "threadIdx.x")
    with pytest.raises(ScheduleError, match="bound to threadIdx.x with extent 16; loops nested in "
                                            "one another may share a thread axis only with the "
                                            "same extent"):
        sch.bind(sch.split(j, factors=[2, 8])[1], "threadIdx.x")
    with pytest.raises(ScheduleError, match="loop i is already bound to threadIdx.x; parallel "
                                            "needs a serial loop"):
        sch.parallel(i)
    with pytest.raises(ScheduleError, match="already bound"):
        sch.bind(i, "blockIdx.x")
    sch.bind(i, "threadIdx.x")  # the same binding again is allowed


def test_kind_conflicts():
    sch = Schedule(add_one())
    i, j = loops_of(sch, "B")
    sch.parallel(i)
    with pytest.raises(ScheduleError, match="loop i is already parallel; vectorize needs a serial"):
        sch.vectorize(i)
    with pytest.raises(ScheduleError, match="already parallel; unroll"):
        sch.unroll(i)
    sch.unroll(j)
    with pytest.raises(ScheduleError, match="already unrolled"):
        sch.parallel(j)


def two_stage(read_index, shape=8):
    """for i: B[i] = A[i] * 2; C[i] = B[read_index(i)] + 1 -- one loop, two blocks."""
    A, B, C = (decl_buffer((shape,), "float32", n) for n in "ABC")
    i = Var("i")
    vb, vc = spatial("vb", shape), spatial("vc", shape)
    idx = read_index(vc.var)
    first = BlockRealize((i,), const(True, "bool"), Block(
        "B", (vb,), (point(A, vb.var),), (point(B, vb.var),),
        BufferStore(B, A[vb.var] * 2.0, (vb.var,))))
    second = BlockRealize((i,), const(True, "bool"), Block(
        "C", (vc,), (point(B, idx),), (point(C, vc.var),),
        BufferStore(C, B[idx] + 1.0, (vc.var,))))
    body = For(i, const(0), const(shape), "serial", seq(first, second))
    return mlc.IRModule({"main": prim_func([A, C], body, allocs=[B])})


@pytest.mark.parametrize("primitive", ["parallel", "vectorize"])
def test_dependent_iterations_are_refused(primitive):
    module = two_stage(lambda v: (v + 1) % 8)
    sch = Schedule(module)
    (i,) = sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match=r"iterations of loop i may depend on each other: "
                                            r"buffer B .* by block 'C'"):
        getattr(sch, primitive)(i)
    with pytest.raises(ScheduleError, match="may depend on each other"):
        sch.bind(i, "threadIdx.x")
    sch.unroll(i)  # unrolling keeps the order: always fine


@pytest.mark.parametrize("primitive", ["parallel", "vectorize"])
def test_independent_two_stage_loop_is_accepted(primitive):
    module = two_stage(lambda v: v)
    sch = Schedule(module)
    (i,) = sch.get_loops(sch.get_block("C"))
    getattr(sch, primitive)(i)
    assert_same_result(module, sch.mod)


def test_whole_buffer_read_and_same_element_writes_are_refused():
    # C reads all of B while B is written per iteration
    module = two_stage(lambda v: const(0))
    sch = Schedule(module)
    (i,) = sch.get_loops(sch.get_block("B"))
    with pytest.raises(ScheduleError, match="buffer B"):
        sch.parallel(i)
    # every iteration writes the same element
    A, S = decl_buffer((8,), "float32", "A"), decl_buffer((1,), "float32", "S")
    i_ = Var("i")
    vi = spatial("vi", 8)
    block = Block("S", (vi,), (point(A, vi.var),), (point(S, const(0)),),
                  BufferStore(S, A[vi.var], (const(0),)))
    func = prim_func([A, S], For(i_, const(0), const(8), "serial",
                                 BlockRealize((i_,), const(True, "bool"), block)))
    sch = Schedule(mlc.IRModule({"main": func}))
    (i,) = sch.get_loops(sch.get_block("S"))
    with pytest.raises(ScheduleError, match="buffer S"):
        sch.vectorize(i)


def test_split_windows_are_disjoint():
    """Blocks reading a window [4*j0, 4*j0 + 4) written in the same iteration are independent."""
    module = two_stage(lambda v: v)
    sch = Schedule(module)
    (i,) = sch.get_loops(sch.get_block("C"))
    i0, i1 = sch.split(i, factors=[None, 4])
    sch.parallel(i0)
    sch.vectorize(i1)
    assert_same_result(module, sch.mod)


def test_fused_tiles_are_independent_and_shared_elements_are_not():
    """Tiled-then-fused indices (f // 4 * 4 + i1) are checked by enumerating the loop."""
    module = add_one((8, 16))
    sch = Schedule(module)
    i, j = loops_of(sch, "B")
    i0, i1 = sch.split(i, factors=[None, 4])
    j0, j1 = sch.split(j, factors=[None, 4])
    sch.reorder(i0, j0, i1, j1)
    f = sch.fuse(i0, j0)
    sch.parallel(f)
    assert "vi = T.axis.spatial(8, i_0_j_0_fused // 4 * 4 + i_1)" in sch.mod.script()
    assert_same_result(module, sch.mod)
    # every two iterations write one element: B[f // 2]
    A, B = decl_buffer((8,), "float32", "A"), decl_buffer((4,), "float32", "B")
    f_ = Var("f")
    vi = spatial("vi", 4)
    block = Block("B", (vi,), (point(A, vi.var),), (point(B, vi.var),),
                  BufferStore(B, A[vi.var], (vi.var,)))
    func = prim_func([A, B], For(f_, const(0), const(8), "serial",
                                 BlockRealize((f_ // 2,), const(True, "bool"), block)))
    sch = Schedule(mlc.IRModule({"main": func}))
    (loop,) = sch.get_loops(sch.get_block("B"))
    with pytest.raises(ScheduleError, match="buffer B"):
        sch.parallel(loop)


# -------------------------------------------------------------- annotations

def test_annotate_and_unannotate():
    module = add_one()
    sch = Schedule(module)
    block = sch.get_block("B")
    i, _ = sch.get_loops(block)
    sch.annotate(i, "pragma_auto_unroll_max_step", 16)
    sch.annotate(block, "meta_schedule.tiling_structure", "SSRSRS")
    sch.annotate(block, "sizes", [1, 2])
    text = sch.mod.script()
    assert 'for i in T.serial(8, annotations={"pragma_auto_unroll_max_step": 16}):' in text
    assert 'T.block_attr({"meta_schedule.tiling_structure": "SSRSRS", "sizes": (1, 2)})' in text
    sch.annotate(i, "pragma_auto_unroll_max_step", 64)  # replaces
    assert '{"pragma_auto_unroll_max_step": 64}' in sch.mod.script()
    loop = _all_loops(sch.mod["main"])[0]
    assert loop.annotations == (("pragma_auto_unroll_max_step", 64),)
    sch.unannotate(i, "pragma_auto_unroll_max_step")
    sch.unannotate(block, "meta_schedule.tiling_structure")
    sch.unannotate(block, "sizes")
    mlc.assert_structural_equal(sch.mod, module)
    with pytest.raises(ScheduleError, match="no annotation 'sizes'"):
        sch.unannotate(block, "sizes")
    with pytest.raises(ScheduleError, match="annotation values must be"):
        sch.annotate(block, "bad", {"a": 1})
    with pytest.raises(ScheduleError, match="ann_key must be a non-empty string"):
        sch.annotate(block, "", 1)
    with pytest.raises(ScheduleError, match="expected a BlockRV or LoopRV"):
        sch.annotate("B", "k", 1)


# ------------------------------------------------------------------- traces

def schedule_everything(sch):
    block_Y = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, 4])
    sch.reorder(j0, k, j1)
    sch.parallel(i)
    sch.vectorize(j1)
    ci, cj = sch.get_loops(sch.get_block("C", "mm_relu"))
    fused = sch.fuse(ci, cj)
    outer, inner = sch.split(fused, factors=[None, 7])
    sch.unroll(inner)
    sch.annotate(outer, "pragma", "x")
    sch.annotate(block_Y, "tiles", [4, 4])
    sch.unannotate(outer, "pragma")


def test_trace_round_trips_python_and_json():
    sch = Schedule(course_module())
    schedule_everything(sch)
    text = str(sch.trace)
    assert "l4, l5 = sch.split(loop=l2, factors=[None, 4])" in text
    assert "sch.reorder(loops=[l4, l3, l5])" in text
    assert "l9 = sch.fuse(loops=[l7, l8])" in text
    assert "sch.annotate(block_or_loop=b0, ann_key='tiles', ann_val=[4, 4])" in text
    namespace = {}
    exec(text, namespace)
    fresh = Schedule(course_module())
    namespace["apply_schedule"](fresh)
    mlc.assert_structural_equal(fresh.mod, sch.mod)
    assert str(fresh.trace) == text
    replayed = Trace.from_json(sch.trace.to_json()).apply(Schedule(course_module()))
    mlc.assert_structural_equal(replayed.mod, sch.mod)
    assert_same_result(course_module(), sch.mod, "mm_relu")


# -------------------------------------------------------------------- fuzzing

def row_sum(shape):
    A = te.placeholder(shape, "float32", "A")
    k = te.reduce_axis((0, shape[2]), "k")
    S = te.compute(shape[:2], lambda i, j: te.sum(A[i, j, k], axis=k), "S")
    T = te.compute(shape[:2], lambda i, j: S[i, j] * 2, "T")
    return mlc.IRModule({"main": te.create_prim_func([A, T])})


PROGRAMS = st.one_of(
    st.tuples(st.integers(1, 9), st.integers(1, 13)).map(lambda s: (add_one(s), "main", ["B"])),
    st.integers(2, 9).map(lambda n: (course_module(n), "mm_relu", ["Y", "C"])),
    st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 7)).map(
        lambda s: (row_sum(s), "main", ["S", "T"])))


@given(PROGRAMS, st.data())
def test_random_legal_loop_schedules_compute_the_same(program, data):
    module, name, blocks = program
    sch = Schedule(module, seed=0)
    for _ in range(data.draw(st.integers(1, 6), label="steps")):
        loops = sch.get_loops(sch.get_block(data.draw(st.sampled_from(blocks)), name))
        op = data.draw(st.sampled_from(["split", "fuse", "reorder", "parallel", "vectorize", "unroll"]))
        pick = st.integers(0, len(loops) - 1)
        try:
            if op == "split":
                factors = data.draw(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=2,
                                             max_size=3))
                sch.split(loops[data.draw(pick)], factors=factors)
            elif op == "fuse":
                start = data.draw(pick)
                sch.fuse(*loops[start:start + data.draw(st.integers(1, 3))])
            elif op == "reorder":
                sch.reorder(*data.draw(st.permutations(loops)))
            else:
                getattr(sch, op)(loops[data.draw(pick)])
        except ScheduleError:
            pass
    assert_same_result(module, sch.mod, name)


# ------------------------------------------------------------------ GPU shapes

def test_bind_tiled_and_fused_thread_loops():
    module = gpu_matmul(32)
    sch = Schedule(module)
    i, j, k = loops_of(sch, "C")
    i0, i1, i2 = sch.split(i, factors=[None, 4, 2])
    j0, j1, j2 = sch.split(j, factors=[None, 4, 2])
    sch.reorder(i0, j0, i1, j1, k, i2, j2)
    sch.bind(i0, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    tx = sch.fuse(i1, j1)
    sch.bind(tx, "threadIdx.x")
    assert "vi = T.axis.spatial(32, i_0 * 8 + i_1_j_1_fused // 4 * 2 + i_2)" in sch.mod.script()
    _reference_only(module, sch.mod)  # thread-bound loops run on the reference interpreter


def _reference_only(before, after):
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(p.static_shape()).astype("float32") for p in before["main"].params]
    outs = []
    for mod in (before, after):
        arrays = [x.copy() for x in inputs]
        mlc.build(mod, "reference")["main"](*arrays)
        outs.append(arrays[-1])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)


def test_course_gpu_schedule_with_shared_memory_binds():
    """The MLC course's shared-memory matmul: cooperative fetches re-bind threadIdx.x."""
    module = gpu_matmul(64)
    sch = schedule_matmul_shared(module, local=(4, 4), block=(8, 8), tile_k=8, vector=4)
    assert sch.mod.script().count('T.thread_binding(64, thread="threadIdx.x")') == 3
    _reference_only(module, sch.mod)


def test_reorder_of_a_loop_feeding_spatial_and_reduce_iterators_of_an_init_block_is_refused():
    """Fusing i with k and splitting the fused loop unevenly, then swapping the two parts, would
    visit (i=1, k=2) before (i=1, k=0), whose init would then wipe the first step's sum."""
    A = te.placeholder((3,), "float32", name="A")
    k = te.reduce_axis((0, 3), name="k")
    S = te.compute((3,), lambda i: te.sum(A[i] * (k + 1).astype("float32"), axis=k), name="S")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, S])}))
    i, kk = sch.get_loops(sch.get_block("S"))
    fused = sch.fuse(i, kk)
    outer, inner = sch.split(fused, factors=[2, None])
    before = sch.mod
    with pytest.raises(mlc.ScheduleError, match="feeds both spatial and reduce iterators"):
        sch.reorder(inner, outer)
    mlc.assert_structural_equal(sch.mod, before)



@given(shape=st.tuples(st.integers(1, 9), st.integers(1, 70), st.integers(1, 100)),
       threads=st.sampled_from([32, 64, 100, 256]))
@example(shape=(4, 64, 96), threads=256)   # the first split's index recombines only with f1 < 256 known
@example(shape=(2, 3, 2), threads=32)      # (32 * f0 + f1) // 2 % 3 written (16 * f0 + f1 // 2) % 3
def test_three_loops_fused_and_split_off_their_grid_run_on_threads(shape, threads):
    """(n, i, j) fused and split by a factor their extents do not divide (4 x 64 x 96 by
    256: ``vi = (f0 * 256 + f1) % 6144 // 96``): the iterations of both parts write distinct
    elements, so bind and parallel take them; the emulator, which raises on a race, and the
    CPU agree with NumPy."""
    A = te.placeholder(shape, "float32", "A")
    B = te.compute(shape, lambda n, i, j: A[n, i, j] * 2.0 + 1.0, "B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    a = np.random.default_rng(0).standard_normal(shape).astype("float32")
    for target in ("cuda-emulator", "llvm"):
        sch = Schedule(mod)
        outer, inner = sch.split(sch.fuse(*sch.get_loops(sch.get_block("B"))), [None, threads])
        if target == "llvm":
            sch.parallel(outer)
        else:
            sch.bind(outer, "blockIdx.x")
            sch.bind(inner, "threadIdx.x")
        b = np.zeros(shape, "float32")
        mlc.build(sch.mod, target)["main"](a, b)
        np.testing.assert_allclose(b, a * 2 + 1, rtol=1e-6)
