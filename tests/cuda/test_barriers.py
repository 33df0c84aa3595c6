"""The barriers of shared memory: needed within a loop iteration and across iterations,
placed by insert_thread_sync, rendered as ``__syncthreads();``.

Each kernel below has a ``shared`` buffer that a loop refills every iteration (the course's
shared-memory tiled matmul: tiles of A and B per k-step; a hand-written running sum whose
threads read their neighbour's element). Without the pass the emulator reports the race;
with only the barrier inside an iteration, or only the one carried from the previous
iteration's reads, it reports the other race; with both the result is NumPy's. The CUDA C
has the barriers where the IR has them.
"""
import re
from unittest import mock

import numpy as np
import pytest

import mlc
from mlc.backends.cuda import Emulator, compile_sources, emulate, lower
from mlc.passes.tir.gpu_pipeline import GPU_PIPELINE
from mlc.errors import RaceError
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.functor import Mutator, pre_order_nodes
from mlc.ir.tir import Allocate, BufferStore, Evaluate, For, PrimFunc, SeqStmt, seq
from mlc.passes.tir.pipeline import run_passes
from mlc.passes.tir import thread_sync
from mlc.passes.tir.thread_sync import insert_thread_sync, is_sync

from .conftest import NVRTC_MISSING
from .programs import matmul, row_sum, schedule_matmul_shared, schedule_row_sum

RNG = np.random.default_rng(0)
NO_SYNC = [p for p in GPU_PIPELINE if p is not insert_thread_sync]


def tiled_matmul(n):
    return schedule_matmul_shared(matmul(n)).mod["main"]


def matmul_args(n):
    a, b = RNG.standard_normal((2, n, n)).astype("float32")
    return a, b, np.zeros((n, n), "float32")


def running_neighbour_sum(n=32, steps=5):
    """One block of ``n`` threads; ``steps`` times: S[tx] = A[tx] * (step + 1); then
    B[tx] += S[(tx + 1) % n]. A barrier must separate the write from the read in each
    iteration, and the read of one iteration from the write of the next."""
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    S = decl_buffer((n,), "float32", "S", scope="shared")
    tx, k = Var("tx"), Var("k")
    step = BufferStore(S, BufferLoad(A, (tx,), "float32") * (k + 1).astype("float32"), (tx,))
    add = BufferStore(B, BufferLoad(B, (tx,), "float32") + BufferLoad(S, ((tx + 1) % n,), "float32"), (tx,))
    loop = For(k, const(0), const(steps), "serial", seq(step, add))
    body = For(tx, const(0), const(n), "thread_binding", loop, "threadIdx.x")
    return PrimFunc((A, B), For(Var("bx"), const(0), const(1), "thread_binding", Allocate(S, body), "blockIdx.x"))


def neighbour_args(n=32):
    return RNG.standard_normal(n).astype("float32"), np.zeros(n, "float32")


def neighbour_expected(a, steps=5):
    return np.roll(a, -1) * sum(range(1, steps + 1))


def serial_loops_with_shared_stores(func):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, For) and n.kind == "serial"
            and any(isinstance(s, BufferStore) and s.buffer.scope == "shared" for s in pre_order_nodes(n.body))]


def body_items(loop):
    """The statements of ``loop``'s body, nested sequences flattened."""
    out, stack = [], [loop.body]
    while stack:
        s = stack.pop()
        if isinstance(s, SeqStmt):
            stack.extend(reversed(s.seq))
        elif isinstance(s, Allocate):
            stack.append(s.body)
        else:
            out.append(s)
    return out


def without_barrier(func, which):
    """``func`` with the ``which``-th (0: first) barrier of its refilling loop's body removed."""
    (loop,) = serial_loops_with_shared_stores(func)
    target = [s for s in body_items(loop) if is_sync(s)][which]

    class Drop(Mutator):
        def visit_Evaluate(self, node):
            return Evaluate(const(0)) if node is target else node

    return func.with_body(Drop().visit(func.body))


CASES = {"tiled_matmul": (lambda: tiled_matmul(32), lambda: matmul_args(32), "_shared"),
         "neighbour_sum": (running_neighbour_sum, neighbour_args, r"S\[")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_without_the_sync_pass_the_emulator_reports_a_race(case):
    make, args, buffer = CASES[case]
    lowered = run_passes(make(), NO_SYNC)
    assert not any(is_sync(n) for n in pre_order_nodes(lowered.body))
    with pytest.raises(RaceError, match=buffer):
        Emulator(lowered).run(list(args()))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_pass_puts_two_barriers_in_the_loop_and_each_is_needed(case):
    """One before the loop body's refill (the previous iteration's reads are done), one
    between the refill and its reads; without either, a race."""
    make, args, buffer = CASES[case]
    lowered = run_passes(make(), GPU_PIPELINE)
    Emulator(lowered).run(list(args()))  # no race
    (loop,) = serial_loops_with_shared_stores(lowered)
    items = body_items(loop)
    syncs = [k for k, s in enumerate(items) if is_sync(s)]
    writes = [k for k, s in enumerate(items) if any(isinstance(n, BufferStore) and n.buffer.scope == "shared"
                                                    for n in pre_order_nodes(s))]
    reads = [k for k, s in enumerate(items) if any(isinstance(n, BufferLoad) and n.buffer.scope == "shared"
                                                   for n in pre_order_nodes(s))]
    assert len(syncs) == 2, f"{case}: barriers at {syncs} of the loop body"
    # a barrier between the refill and the reads, and one between the reads and the next refill
    assert any(max(writes) < s < min(reads) for s in syncs)
    assert any(s < min(writes) or s > max(reads) for s in syncs)
    for which in (0, 1):
        with pytest.raises(RaceError, match=buffer):
            Emulator(without_barrier(lowered, which)).run(list(args()))


def test_the_running_neighbour_sum_is_numpys_on_the_emulator():
    a, b = neighbour_args()
    lib = emulate(mlc.IRModule({"main": running_neighbour_sum()}))
    lib["main"](a, b)
    np.testing.assert_allclose(b, neighbour_expected(a), rtol=1e-5)


@pytest.mark.parametrize("n", [16, 40])
def test_the_tiled_matmul_is_numpys_on_the_emulator(n):
    a, b, c = matmul_args(n)
    emulate(schedule_matmul_shared(matmul(n)).mod)["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


def _loop_body_lines(source: str, loop_var: str) -> list[str]:
    """The lines of the body of the C loop over ``loop_var`` (by brace depth)."""
    lines = source.splitlines()
    start = next(k for k, line in enumerate(lines) if re.search(rf"for \(int {loop_var} = ", line))
    depth, out = 0, []
    for line in lines[start:]:
        depth += line.count("{") - line.count("}")
        out.append(line)
        if depth == 0:
            break
    return out[1:-1]


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_the_cuda_c_of_the_tiled_matmul_has_both_barriers_in_its_k_loop():
    source, _ = compile_sources(schedule_matmul_shared(matmul(64)).mod)
    body = _loop_body_lines(source, "k_0")
    syncs = [k for k, line in enumerate(body) if line.strip() == "__syncthreads();"]
    stores = [k for k, line in enumerate(body) if re.match(r"\s*[AB]_shared\[.*\] = ", line)]
    loads = [k for k, line in enumerate(body) if re.search(r"= .*[AB]_shared\[", line)]
    assert len(syncs) == 2 and stores and loads, "\n".join(body)
    assert syncs[0] < min(stores) and max(stores) < syncs[1] < min(loads), "\n".join(body)


def test_the_cuda_c_of_the_neighbour_sum_has_a_barrier_before_and_after_the_refill():
    source = mlc.build(mlc.IRModule({"main": running_neighbour_sum()}), "cuda",
                       schedule=mlc.schedules.as_written).get_source("cuda") if NVRTC_MISSING is None else None
    if source is None:
        pytest.skip(str(NVRTC_MISSING))
    body = _loop_body_lines(source, "k")
    kinds = [("sync" if line.strip() == "__syncthreads();" else "store" if re.match(r"\s*S\[", line)
              else "load" if "S[" in line else None) for line in body]
    kinds = [k for k in kinds if k]
    assert kinds == ["sync", "store", "sync", "load"], "\n".join(body)


def doubling_in_a_thread_dependent_loop(n=32):
    """S[tx] = A[tx]; tx % 4 times S[tx] *= 2; B[tx] = S[(tx + 1) % n]. The loop's trip count
    depends on the thread: a barrier inside it would be reached by some threads only, so
    the pass puts its barriers around it (each thread touches only its own S[tx] in it)."""
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    S = decl_buffer((n,), "float32", "S", scope="shared")
    tx, k = Var("tx"), Var("k")
    double = BufferStore(S, BufferLoad(S, (tx,), "float32") * const(2.0, "float32"), (tx,))
    body = seq(BufferStore(S, BufferLoad(A, (tx,), "float32"), (tx,)),
               For(k, const(0), tx % 4, "serial", double),
               BufferStore(B, BufferLoad(S, ((tx + 1) % n,), "float32"), (tx,)))
    kernel = For(tx, const(0), const(n), "thread_binding", body, "threadIdx.x")
    return PrimFunc((A, B), For(Var("bx"), const(0), const(1), "thread_binding", Allocate(S, kernel), "blockIdx.x"))


def test_no_barrier_goes_inside_a_loop_whose_trip_count_depends_on_the_thread():
    lowered = run_passes(doubling_in_a_thread_dependent_loop(), GPU_PIPELINE)
    (loop,) = [n for n in pre_order_nodes(lowered.body) if isinstance(n, For) and n.kind == "serial"]
    assert not any(is_sync(n) for n in pre_order_nodes(loop.body))
    a, b = neighbour_args()
    Emulator(lowered).run([a, b])  # no divergent barrier, no race
    t = (np.arange(32) + 1) % 32
    np.testing.assert_array_equal(b, a[t] * 2.0 ** (t % 4))


def test_two_stores_to_one_shared_element_by_different_threads_get_a_barrier_between():
    """S[tx] = A[tx], then S[(tx + 1) % n] = 2 A[tx] (the neighbour's element), then
    B[tx] = S[tx]: the second write must wait for the first (a write after a write)."""
    n = 32
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    S = decl_buffer((n,), "float32", "S", scope="shared")
    tx = Var("tx")
    body = seq(BufferStore(S, BufferLoad(A, (tx,), "float32"), (tx,)),
               BufferStore(S, BufferLoad(A, (tx,), "float32") * const(2.0, "float32"), ((tx + 1) % n,)),
               BufferStore(B, BufferLoad(S, (tx,), "float32"), (tx,)))
    kernel = For(tx, const(0), const(n), "thread_binding", body, "threadIdx.x")
    func = PrimFunc((A, B), For(Var("bx"), const(0), const(1), "thread_binding", Allocate(S, kernel), "blockIdx.x"))
    with pytest.raises(RaceError, match=r"S\[.*writes it"):
        Emulator(run_passes(func, NO_SYNC)).run(list(neighbour_args()))
    a, b = neighbour_args()
    Emulator(run_passes(func, GPU_PIPELINE)).run([a, b])
    np.testing.assert_array_equal(b, 2 * np.roll(a, 1))


def test_what_is_pending_before_a_loop_stays_pending_when_it_runs_no_iteration():
    """S[tx] = A[tx]; K times (K read at run time) a neighbour exchange through T, with its
    own barriers; then B[tx] = S[(tx + 1) % n]. With K = 0 no barrier of the loop runs, so
    one must follow it for S."""
    n = 32
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    K = decl_buffer((1,), "int32", "K")
    S = decl_buffer((n,), "float32", "S", scope="shared")
    T = decl_buffer((n,), "float32", "T", scope="shared")
    tx, k = Var("tx"), Var("k")
    exchange = seq(BufferStore(T, BufferLoad(A, (tx,), "float32"), (tx,)),
                   BufferStore(B, BufferLoad(T, ((tx + 1) % n,), "float32"), (tx,)))
    body = seq(BufferStore(S, BufferLoad(A, (tx,), "float32"), (tx,)),
               For(k, const(0), BufferLoad(K, (const(0),), "int32"), "serial", exchange),
               BufferStore(B, BufferLoad(B, (tx,), "float32") + BufferLoad(S, ((tx + 1) % n,), "float32"), (tx,)))
    kernel = For(tx, const(0), const(n), "thread_binding", body, "threadIdx.x")
    func = PrimFunc((A, B, K), For(Var("bx"), const(0), const(1), "thread_binding",
                                   Allocate(S, Allocate(T, kernel)), "blockIdx.x"))
    lowered = run_passes(func, GPU_PIPELINE)
    for trips in (0, 1, 3):
        a, b = neighbour_args()
        Emulator(lowered).run([a, b, np.array([trips], "int32")])
        np.testing.assert_array_equal(b, np.roll(a, -1) * (2 if trips else 1))


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("case", ["tiled_matmul", "row_sum_48", "row_sum_256"])
def test_the_cuda_c_renders_every_barrier_of_the_ir(case):
    """Row reductions of 48 threads (a shared-memory tree) and 256 (warps meeting in shared
    memory): their barriers come from the cross-thread reduction; the tiled matmul's from
    the sync pass. The CUDA C has one __syncthreads() per barrier of the lowered IR."""
    mod = {"tiled_matmul": lambda: schedule_matmul_shared(matmul(64)).mod,
           "row_sum_48": lambda: schedule_row_sum(row_sum(4, 300), 48).mod,
           "row_sum_256": lambda: schedule_row_sum(row_sum(4, 1000), 256).mod}[case]()
    barriers = sum(is_sync(n) for f in lower(mod).values() for n in pre_order_nodes(f.body))
    source, _ = compile_sources(mod)
    assert barriers > 0 and source.count("__syncthreads();") == barriers


def _plain_accesses(stmts, to_barrier):
    """(reads, writes) of the shared accesses under ``stmts`` by one pre-order walk each,
    stopping at the first barrier with ``to_barrier``."""
    reads, writes = set(), {}
    for s in stmts:
        for n in pre_order_nodes(s):
            if to_barrier and is_sync(n):
                return reads, writes
            if isinstance(n, BufferStore) and n.buffer.scope == "shared":
                writes.setdefault(id(n.buffer), set()).add(id(n))
            elif isinstance(n, BufferLoad) and n.buffer.scope == "shared":
                reads.add(id(n.buffer))
    return reads, writes


def deep_neighbour_sum(depth):
    """The running neighbour sum, lowered but for the barriers, with its refilling loop under
    ``depth`` serial loops of one iteration each."""
    func = run_passes(running_neighbour_sum(), NO_SYNC)

    class Nest(Mutator):
        def visit_For(self, node):
            if node.kind != "serial":
                return self.generic_visit(node)
            for d in range(depth):
                node = For(Var(f"d{d}"), const(0), const(1), "serial", node)
            return node

    return func.with_body(Nest().visit(func.body))


@pytest.mark.parametrize("case", ["tiled_matmul", "deep_neighbour_sum"])
def test_the_accesses_of_every_statement_are_those_of_a_plain_walk(case):
    """The pass keeps each statement's shared accesses (all of them, and those before its
    first barrier) once found; for every statement, before and after the pass, they are
    what one walk of it finds."""
    func = {"tiled_matmul": lambda: run_passes(tiled_matmul(16), NO_SYNC),
            "deep_neighbour_sum": lambda: deep_neighbour_sum(3)}[case]()
    synced = insert_thread_sync(func)
    assert any(is_sync(n) for n in pre_order_nodes(synced.body))
    for body in (func.body, synced.body):
        sync = thread_sync._Sync()
        stmts = [n for n in pre_order_nodes(body) if isinstance(n, thread_sync.Stmt)]
        for s in reversed(stmts):  # inner statements first, then outer ones that reuse them
            found = sync._shared_accesses(s)
            assert (found.reads, found.writes) == _plain_accesses([s], False)
            first = sync._first_accesses([s])
            assert (first.reads, first.writes) == _plain_accesses([s], True)
        first = sync._first_accesses(stmts)
        assert (first.reads, first.writes) == _plain_accesses(stmts, True)


def test_a_deep_nest_of_loops_is_walked_once_and_keeps_its_barriers():
    """Under 12 nested serial loops each node's accesses are looked at a bounded number of
    times (not once per enclosing loop, nor once per path through the loops' two runs of
    their bodies); each loop gets its barrier at the end of its body, and the result is
    NumPy's on the emulator, which refuses any race."""
    depth = 12
    func = deep_neighbour_sum(depth)
    nodes = sum(1 for _ in pre_order_nodes(func.body))
    calls = 0
    add = thread_sync._Pending.add

    def counted(self, node):
        nonlocal calls
        calls += 1
        add(self, node)

    with mock.patch.object(thread_sync._Pending, "add", counted):
        synced = insert_thread_sync(func)
    assert calls <= 3 * nodes, (calls, nodes)
    assert sum(map(is_sync, pre_order_nodes(synced.body))) == depth + 2
    a, b = neighbour_args()
    Emulator(synced).run([a, b])
    np.testing.assert_allclose(b, neighbour_expected(a), rtol=1e-5)
