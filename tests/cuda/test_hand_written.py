"""Hand-written op functions on the GPU: the generic batch-parallel form (batch loops one per
thread, scratch buffers privatised, the rest one-thread kernels), an op's own GPU kernel
replacing its CPU function on the same parameters, and the driver paths that reach them
(the default rules, a user schedule, a graph module)."""
import dataclasses

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.cuda import emulate, kernels, lower
from mlc.driver import schedule_module
from mlc.errors import CompileError, IRError, RaceError
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.functor import Mutator, pre_order_nodes
from mlc.ir.tir import Allocate, For, IfThenElse, BufferStore, seq
from mlc.ops import TensorType, register_op
from mlc.ops.hand_written import BATCH, hand_written, thread_loops
from mlc.ops.library._common import hand_written_func
from mlc.ops.library._kernel import Scalar, batched, loop
from mlc.schedules.default.batch_parallel import LOCAL_MAX, batch_parallel
from mlc.schedules.gpu.hand_written import hand_written_for_gpu

RNG = np.random.default_rng(0)


def _weighted_sums(batch, k=24):
    """``out[b] = sum_i (i + 1) * x[b, i]`` for each batch index ``b``, through a scratch row ``w``
    of ``k`` elements (more than LOCAL_MAX: privatised in global memory) and a scalar ``s`` (a
    local register), the sum taken backwards from ``w``."""
    X, OUT = decl_buffer(batch + (k,), "int32", "x"), decl_buffer(batch, "int32", "out")
    w, s = decl_buffer((k,), "int32", "w"), Scalar("s", "int32")

    def iteration(r):
        fill = loop("i", 0, k, lambda i: BufferStore(w, X[r + (i,)] * (i + 1), (i,)))
        total = loop("i", 0, k, lambda i: s.set(s.get() + w[const(k - 1) - i]))
        return seq(fill, s.set(0), total, BufferStore(OUT, s.get(), r))
    return hand_written_func((X, OUT), batched(batch, iteration), (w, s.buffer))


def _run(func, *arrays):
    outs = [np.zeros(tuple(int(e.value) for e in p.shape), p.dtype) for p in func.params[len(arrays):]]
    emulate(batch_parallel(func))["main"](*arrays, *outs)
    return outs


def _nodes(func, kind):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, kind)]


def _thread_extents(func):
    return sorted((n.thread_binding, n.extent.value) for n in _nodes(func, For) if n.kind == "thread_binding")


def test_scratch_is_privatised_and_a_ragged_batch_guarded():
    func = _weighted_sums((3, 100))
    assert _size(func, "w") > LOCAL_MAX
    gpu = batch_parallel(func)
    assert _thread_extents(gpu) == [("blockIdx.x", 3), ("threadIdx.x", 128)]  # 300 = 3 blocks of 128, guarded
    (guard,) = _nodes(gpu, IfThenElse)
    assert "< 300" in repr(guard.condition)
    (w,) = [b for b in gpu.root_block.alloc_buffers]
    assert (w.name, tuple(e.value for e in w.shape), w.scope) == ("w", (24, 300), "global")
    (s,) = [n.buffer for n in _nodes(gpu, Allocate)]
    assert (s.name, s.scope) == ("s", "local")
    x = RNG.integers(-9, 10, (3, 100, 24)).astype("int32")
    (out,) = _run(func, x)
    np.testing.assert_array_equal(out, (x * np.arange(1, 25)).sum(-1))


def _size(func, name):
    (buf,) = [b for b in func.root_block.alloc_buffers if b.name == name]
    return int(np.prod([e.value for e in buf.shape]))


class _Shared(Mutator):
    """The privatised ``w`` made one buffer again: every thread's accesses to one copy."""

    def __init__(self, private):
        self.private, self.shared = private, dataclasses.replace(private, shape=private.shape[:-1])

    def visit_BufferLoad(self, node):
        node = self.generic_visit(node)
        return BufferLoad(self.shared, node.indices[:-1], node.dtype) if node.buffer is self.private else node

    def visit_BufferStore(self, node):
        node = self.generic_visit(node)
        return BufferStore(self.shared, node.value, node.indices[:-1]) if node.buffer is self.private else node


def test_without_private_copies_the_threads_race_on_the_scratch_row():
    """What privatisation prevents, shown by the emulator on the same kernel with one copy."""
    gpu = batch_parallel(_weighted_sums((5,)))
    (w,) = gpu.root_block.alloc_buffers
    one_copy = _Shared(w)
    block = dataclasses.replace(gpu.root_block, body=one_copy.visit(gpu.root_block.body),
                                alloc_buffers=(one_copy.shared,))
    shared = gpu.with_body(dataclasses.replace(gpu.body, block=block))
    x = RNG.integers(-9, 10, (5, 24)).astype("int32")
    with pytest.raises(RaceError):
        emulate(shared)["main"](x, np.zeros(5, "int32"))


def test_a_batch_smaller_than_a_block_is_one_block_without_a_guard():
    gpu = batch_parallel(_weighted_sums((15,)))
    assert _thread_extents(gpu) == [("blockIdx.x", 1), ("threadIdx.x", 15)]
    assert not _nodes(gpu, IfThenElse)
    x = RNG.integers(-9, 10, (15, 24)).astype("int32")
    (out,) = _run(_weighted_sums((15,)), x)
    np.testing.assert_array_equal(out, (x * np.arange(1, 25)).sum(-1))


def test_an_empty_batch_launches_nothing():
    func = _weighted_sums((0, 4))
    assert kernels(lower(batch_parallel(func))["main"]) == []
    (out,) = _run(func, np.zeros((0, 4, 24), "int32"))
    assert out.shape == (0, 4)


def _prefix_sums(n):
    """A function with no batch loop: ``out`` the running sum of ``x`` through a scalar."""
    X, OUT = decl_buffer((n,), "int32", "x"), decl_buffer((n,), "int32", "out")
    s = Scalar("s", "int32")
    body = seq(s.set(0), loop("i", 0, n, lambda i: seq(s.set(s.get() + X[i]), BufferStore(OUT, s.get(), (i,)))))
    return hand_written_func((X, OUT), body, (s.buffer,))


def test_a_function_without_batch_loops_runs_as_one_thread():
    func = _prefix_sums(37)
    (k,) = kernels(lower(batch_parallel(func))["main"])
    assert (k.grid, k.block) == ((1, 1, 1), (1, 1, 1))
    x = RNG.integers(-9, 10, 37).astype("int32")
    (out,) = _run(func, x)
    np.testing.assert_array_equal(out, np.cumsum(x))


def _with_prologue_and_epilogue(shared_scratch: bool):
    """``first[0] = 7``, then the batch of weighted sums, then ``total[0] = sum(out)``; with
    ``shared_scratch`` the prologue also writes the batch's scratch row."""
    inner = _weighted_sums((6,))
    X, OUT = inner.params
    w = inner.root_block.alloc_buffers[0]
    FIRST, TOTAL = decl_buffer((1,), "int32", "first"), decl_buffer((1,), "int32", "total")
    zero = const(0)
    prologue = [BufferStore(FIRST, const(7, "int32"), (zero,))]
    if shared_scratch:
        prologue.append(BufferStore(w, const(0, "int32"), (zero,)))
    epilogue = seq(BufferStore(TOTAL, const(0, "int32"), (zero,)),
                   loop("b", 0, 6, lambda b: BufferStore(TOTAL, TOTAL[zero] + OUT[b], (zero,))))
    return hand_written_func((X, OUT, FIRST, TOTAL), seq(*prologue, inner.root_block.body, epilogue),
                             inner.root_block.alloc_buffers)


@pytest.mark.parametrize("shared_scratch", [False, True])
def test_statements_outside_the_batch_loops_run_in_their_place(shared_scratch):
    """Code before and after the batch nest runs as kernels of one thread, in order; code sharing
    a scratch buffer with the nest makes the whole function one thread."""
    func = _with_prologue_and_epilogue(shared_scratch)
    launches = kernels(lower(batch_parallel(func))["main"])
    if shared_scratch:
        assert [k.threads for k in launches] == [1]
    else:
        assert [(k.blocks, k.threads) for k in launches] == [(1, 1), (1, 6), (1, 1)]
    x = RNG.integers(-9, 10, (6, 24)).astype("int32")
    out, first, total = _run(func, x)
    want = (x * np.arange(1, 25)).sum(-1)
    np.testing.assert_array_equal(out, want)
    assert first[0] == 7 and total[0] == want.sum()


def test_the_iterations_own_allocations_become_local_and_parallel_loops_serial():
    X, OUT = decl_buffer((4, 8), "float32", "x"), decl_buffer((4, 8), "float32", "out")
    tmp = decl_buffer((8,), "float32", "tmp")  # allocated by each iteration (global scope, as the CPU's)

    def row(r):
        i = Var("i")
        fill = For(i, const(0), const(8), "parallel", BufferStore(tmp, X[r[0], const(7) - i], (i,)))
        back = loop("j", 0, 8, lambda j: BufferStore(OUT, tmp[j] * 2, (r[0], j)))
        return Allocate(tmp, seq(fill, back))
    func = hand_written_func((X, OUT), batched((4,), row))
    gpu = batch_parallel(func)
    (alloc,) = _nodes(gpu, Allocate)
    assert alloc.buffer.scope == "local"
    assert {n.kind for n in _nodes(gpu, For)} == {"thread_binding", "serial"}
    x = RNG.standard_normal((4, 8)).astype("float32")
    (out,) = _run(func, x)
    np.testing.assert_array_equal(out, x[:, ::-1] * 2)


def test_a_function_bound_to_threads_already_is_left_as_it_is():
    gpu = batch_parallel(_weighted_sums((5,)))
    assert gpu.attr("mlc.scheduled") == "hand-written-gpu"
    assert batch_parallel(gpu) is gpu


def test_batch_loops_of_the_ops_are_annotated():
    f = hand_written("cholesky", [TensorType((2, 3, 4, 4), "float32")], {})
    batch = [n for n in _nodes(f, For) if dict(n.annotations).get(BATCH)]
    assert [n.extent.value for n in batch] == [2, 3]


# ------------------------------------------------------------------ an op's own GPU kernel

def _reverse_cpu(x: TensorType):
    X, OUT = decl_buffer(x.shape, x.dtype, "x"), decl_buffer(x.shape, x.dtype, "out")
    n = x.shape[-1]
    return hand_written_func((X, OUT), batched(x.shape[:-1], lambda r: loop(
        "i", 0, n, lambda i: BufferStore(OUT, X[r + (const(n - 1) - i,)], r + (i,)))))


def _reverse_gpu(x: TensorType):
    """A thread per element (the CPU's: a thread per row); its parameters named otherwise."""
    X, OUT = decl_buffer(x.shape, x.dtype, "src"), decl_buffer(x.shape, x.dtype, "dst")
    rows, n = int(np.prod(x.shape[:-1])), x.shape[-1]

    def element(t):
        r, i = t // const(n), t % const(n)
        return BufferStore(OUT, X[(r, const(n - 1) - i)], (r, i))
    return hand_written_func((X, OUT), thread_loops(rows * n, element))


def _reverse_bad_gpu(x: TensorType):
    X, OUT = decl_buffer((1,), x.dtype, "src"), decl_buffer(x.shape, x.dtype, "dst")
    return hand_written_func((X, OUT), thread_loops(1, lambda t: BufferStore(OUT, X[(t,)], (t, t))))


register_op("test.hw_reverse", pattern="opaque", infer=lambda x: x, lower=None, reference=lambda x: x[..., ::-1],
            prim_func=_reverse_cpu, gpu_prim_func=_reverse_gpu, doc="A test op: the last axis reversed.")
register_op("test.hw_reverse_bad", pattern="opaque", infer=lambda x: x, lower=None,
            reference=lambda x: x[..., ::-1], prim_func=_reverse_cpu, gpu_prim_func=_reverse_bad_gpu,
            doc="A test op whose GPU kernel takes other parameters than its prim_func.")


def test_an_ops_gpu_kernel_replaces_its_function_on_the_same_parameters():
    func = hand_written("test.hw_reverse", [TensorType((3, 50), "float32")], {})
    gpu = hand_written_for_gpu(func)
    assert gpu.params == func.params and [p.name for p in gpu.params] == ["x", "out"]
    assert dict(gpu.attrs) == {**dict(func.attrs), "mlc.scheduled": "hand-written-gpu"}
    assert _thread_extents(gpu) == [("blockIdx.x", 2), ("threadIdx.x", 128)]  # 150 elements, not 3 rows
    lib = mlc.build(mlc.IRModule({"main": func}), "cuda-emulator")
    x = RNG.standard_normal((3, 50)).astype("float32")
    out = np.zeros_like(x)
    lib["main"](x, out)
    np.testing.assert_array_equal(out, x[:, ::-1])


def test_a_gpu_kernel_on_other_parameters_is_refused():
    func = hand_written("test.hw_reverse_bad", [TensorType((3, 4), "float32")], {})
    with pytest.raises(IRError, match=r"takes src as float32\[1\], its hand-written PrimFunc as "
                                      r"float32\[3, 4\]; a target's kernel takes the prim_func's parameters"):
        hand_written_for_gpu(func)


def test_a_function_without_an_op_or_a_gpu_kernel_gets_the_batch_parallel_form():
    plain = _weighted_sums((5,))
    assert hand_written_for_gpu(plain).script() == batch_parallel(plain).script()
    cholesky = hand_written("cholesky", [TensorType((5, 3, 3), "float32")], {})
    assert hand_written_for_gpu(cholesky).script() == batch_parallel(cholesky).script()


# ------------------------------------------------------------------ through the driver

def test_below_the_driver_a_hand_written_function_needs_its_gpu_form_first():
    func = hand_written("cumsum", [TensorType((4, 5), "float32")], {"axis": 1})
    with pytest.raises(CompileError, match=r"function\(s\) 'main' are an op's hand-written loops for the CPU; "
                                           r"schedule the module first with mlc.driver.schedule_module"):
        emulate(mlc.IRModule({"main": func}))
    x, out = RNG.standard_normal((4, 5)).astype("float32"), np.zeros((4, 5), "float32")
    emulate(schedule_module(mlc.IRModule({"main": func}), "cuda"))["main"](x, out)
    assert out.tobytes() == np.cumsum(x, axis=1).tobytes()


def test_the_cpu_builds_hand_written_functions_as_written():
    func = hand_written("cumsum", [TensorType((4, 5), "float32")], {"axis": 1})
    assert schedule_module(mlc.IRModule({"main": func}), "llvm")["main"] is func


def test_a_user_schedule_leaves_hand_written_functions_to_the_gpu_rules():
    A = te.placeholder((300,), "float32", "A")
    B = te.compute((300,), lambda i: A[i] * 2, "B")
    scan = hand_written("cumsum", [TensorType((4, 5), "float32")], {"axis": 0})
    mod = mlc.IRModule({"double": te.create_prim_func([A, B]), "scan": scan})

    def schedule(sch):
        i0, i1 = sch.split(sch.get_loops(sch.get_block("B", "double"))[0], [None, 100])
        sch.bind(i0, "blockIdx.x")
        sch.bind(i1, "threadIdx.x")
    lib = mlc.build(mod, "cuda-emulator", schedule=schedule)
    a, b = RNG.standard_normal(300).astype("float32"), np.zeros(300, "float32")
    lib["double"](a, b)
    np.testing.assert_array_equal(b, a * 2)
    x, out = RNG.standard_normal((4, 5)).astype("float32"), np.zeros((4, 5), "float32")
    lib["scan"](x, out)
    assert out.tobytes() == np.cumsum(x, axis=0).tobytes()


@pytest.mark.parametrize("legalize", [False, True])
def test_hand_written_kernels_in_a_graph_module_on_the_gpu(legalize):
    """Lowered from a graph (parameters reordered, one value passed twice as one parameter),
    each hand-written kernel still gets its GPU form: searchsorted(s, s) reads one buffer twice."""
    from mlc.graph import BlockBuilder, LegalizeOps, op
    from mlc.ir.graph import Var as GraphVar

    bb = BlockBuilder()
    x = GraphVar("x", TensorType((12,), "float32"))
    with bb.function("main", [x]):
        s = bb.emit(op("sort", x))
        pos = bb.emit(op("searchsorted", s, s, side="right"))
        rows = bb.emit(op("reshape", x, newshape=(2, 6)))
        bb.emit_func_output((s, bb.emit(op("cumsum", rows, axis=1)), pos))
    mod = bb.get()
    if legalize:
        mod = LegalizeOps(mod)
    x = np.array([2.0, np.nan, -1.0, 2.0, -0.0, 0.0, 5, 4, 3, 2, 1, 0], "float32")
    got = mlc.build(mod, "cuda-emulator")["main"](x)
    s = np.sort(x, kind="stable")  # NumPy's default sort orders -0.0 and 0.0 by host (SIMD sorts)
    assert got[0].tobytes() == s.tobytes()
    assert got[1].tobytes() == np.cumsum(x.reshape(2, 6), axis=1).tobytes()
    np.testing.assert_array_equal(got[2], np.searchsorted(s, s, side="right"))
