"""Non-temporal stores: outputs a large kernel only writes go around the cache.

The asm tests pin their targets (an AVX2 and an AVX-512 CPU, whose assumed
last-level caches are 8 and 16 MiB); the run tests lower the threshold so that
any x86-64 host takes the non-temporal path, aligned or not.
"""
import re
import platform

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.llvm import compile_sources
from mlc.backends.llvm import generate as llvm_generate
from mlc.backends.llvm.streaming import (STREAMING_FRACTION, streaming_alignment, streaming_buffers,
                                         streaming_threshold)
from mlc.driver import schedule_module
from mlc.passes.tir import lower
from tests.targets import each_pinned_target, pinned_threads


def _add(n):
    A = te.placeholder((n,), "float32", name="A")
    B = te.placeholder((n,), "float32", name="B")
    C = te.compute((n,), lambda i: A[i] + B[i], name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _row_sums(rows, cols):
    A = te.placeholder((rows, cols), "float32", name="A")
    k = te.reduce_axis((0, cols), name="k")
    S = te.compute((rows,), lambda i: te.sum(A[i, k], axis=k), name="S")
    return mlc.IRModule({"main": te.create_prim_func([A, S])})


def _asm(mod, target):
    with pinned_threads():
        return compile_sources(schedule_module(mod, target), target)["asm"]


@each_pinned_target
def test_a_large_elementwise_kernel_streams_its_output_and_ends_with_sfence(isa, target):
    asm = _asm(_add(1 << 22), target)  # 16 MiB written: above 3/4 of either L3
    register = "zmm" if isa == "avx512" else "ymm"
    assert f"vmovntps\t%{register}" in asm
    assert "sfence" in asm
    assert f"vmovups\t%{register}" in asm  # the unaligned fallback


@each_pinned_target
def test_small_kernels_and_outputs_read_back_store_normally(isa, target):
    small = _asm(_add(1 << 12), target)
    assert "vmovnt" not in small and "sfence" not in small
    sums = _asm(_row_sums(1 << 12, 1 << 10), target)  # 16 MiB read, the sums read back while summed
    assert "vmovnt" not in sums and "sfence" not in sums
    fits = _asm(_add(1 << 19), target)  # 4 MiB read, 2 MiB written: both fit in either L3
    assert "vmovnt" not in fits and "sfence" not in fits


def test_the_threshold_is_three_quarters_of_the_last_level_cache_on_x86_only():
    caches = (32 << 10, 1 << 20, 32 << 20)
    assert STREAMING_FRACTION == 0.75
    assert streaming_threshold("x86_64-unknown-linux-gnu", caches) == 24 << 20
    assert streaming_threshold("aarch64-unknown-linux-gnu", caches) == 0
    assert streaming_alignment("float32", 32) == 64 and streaming_alignment("float32", 8) == 32
    assert streaming_alignment("float32", 2) is None and streaming_alignment("float32", 12) is None


def test_only_write_only_parameters_of_a_large_enough_kernel_stream():
    func = lower(_add(1 << 10)["main"])
    a, b, c = func.params
    assert streaming_buffers(func, 4 * (1 << 10)) == {c}  # what it writes reaches the threshold
    assert streaming_buffers(func, 4 * (1 << 10) + 1) == frozenset()  # what it reads counts only for an
    # output asked to be written ahead (tests/schedules/test_default_rows.py: layer_norm's gradient)
    assert streaming_buffers(func, 0) == frozenset()
    sums = lower(_row_sums(64, 64)["main"])
    assert streaming_buffers(sums, 1) == frozenset()


def test_a_streaming_kernel_is_walked_once_for_its_loads_and_stores(monkeypatch):
    """Which outputs stream and which inputs their starts are checked against are read off
    one walk of the body (not one per question); the answers are those of each question
    asked on its own."""
    from llvmlite import ir
    from mlc.backends.llvm import codegen, streaming
    func = lower(_add(1 << 10)["main"])
    walked = []
    real_walk = streaming.pre_order_nodes

    def counted(root):
        walked.append(root)
        return real_walk(root)

    monkeypatch.setattr(streaming, "pre_order_nodes", counted)
    fn = codegen.emit_function(ir.Module(), func, "add", streaming_bytes=1)
    assert [root for root in walked if root is func.body] == [func.body]
    monkeypatch.undo()
    assert streaming.streaming_buffers(func, 1) == {func.params[2]}
    assert streaming.loaded_params(func) == tuple(func.params[:2])
    assert fn.name == "add"


@pytest.fixture
def stream_everything(monkeypatch):
    """Every write-only output of a kernel built here streams (x86-64 hosts)."""
    monkeypatch.setattr(llvm_generate, "streaming_threshold", lambda triple, caches: 1 if "x86_64" in triple else 0)


@pytest.mark.parametrize("offset", [0, 1, 4, 16])
def test_streamed_outputs_are_right_whether_aligned_or_not(stream_everything, offset):
    n = 4099  # a ragged tail after the whole vectors
    lib = mlc.build(_add(n), "llvm")
    if platform.machine() in ("x86_64", "AMD64"):
        assert "vmovnt" in lib.get_source("asm")
    rng = np.random.default_rng(offset)
    a, b = rng.standard_normal(n, dtype="float32"), rng.standard_normal(n, dtype="float32")
    raw = np.full(n + 64, np.nan, "float32")
    start = (-raw.ctypes.data % 64) // 4 + offset  # `offset` elements past a 64-byte boundary
    out = raw[start:start + n]
    lib["main"](a, b, out)
    np.testing.assert_array_equal(out, a + b)
    assert np.isnan(raw[:start]).all() and np.isnan(raw[start + n:]).all()


def test_a_jitted_large_elementwise_function_streams_and_is_right(stream_everything):
    x = np.random.default_rng(0).standard_normal((1 << 14) + 3, dtype="float32")
    f = mlc.jit(lambda v: v[2:] * 2 + 1)
    np.testing.assert_allclose(f(x), x[2:] * 2 + 1, rtol=1e-6)
    if platform.machine() in ("x86_64", "AMD64"):  # (movntps for a target without AVX: MLC_TARGET)
        assert re.search(r"\bv?movnt", f.lower(x).compile().as_text("asm"))


def test_the_run_time_test_of_page_offsets_is_apart():
    """The kernel's test (emit_apart, compiled for the host) answers as apart() for a streamed
    output's start at every 16 bytes of a page against loaded streams at NumPy's and mlc's
    offsets: near from ALIAS_BEFORE bytes before to ALIAS_AFTER after any of them."""
    import ctypes

    from llvmlite import binding, ir

    from mlc.backends.llvm.streaming import ALIAS_AFTER, ALIAS_BEFORE, PAGE_BYTES, apart, emit_apart

    module = ir.Module(name="apart")
    i64 = ir.IntType(64)
    fn = ir.Function(module, ir.FunctionType(i64, [ir.PointerType()] * 3), name="apart")
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(b.zext(emit_apart(b, fn.args[0], list(fn.args[1:])), i64))
    binding.initialize_native_target()
    binding.initialize_native_asmprinter()
    machine = binding.Target.from_default_triple().create_target_machine()
    engine = binding.create_mcjit_compiler(binding.parse_assembly(str(module)), machine)
    engine.finalize_object()
    test = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
        engine.get_function_address("apart"))
    base = 1 << 30
    x, c = base + 5 * PAGE_BYTES + 16, base + 9 * PAGE_BYTES + 64
    answers = []
    for offset in range(0, PAGE_BYTES, 16):
        out = base + offset
        want = apart(out, x) and apart(out, c)
        assert bool(test(out, x, c)) == want, offset
        answers.append(want)
    near = [o for o, a in zip(range(0, PAGE_BYTES, 16), answers) if not a]
    assert near == [*range(0, 16 + 48 + ALIAS_AFTER, 16), PAGE_BYTES + 16 - ALIAS_BEFORE]  # 4080, 0 ... 304
    assert not apart(base + 16 - ALIAS_BEFORE, x) and apart(base + 16 - ALIAS_BEFORE - 16, x)
    assert not apart(base + 16 + ALIAS_AFTER - 16, x) and apart(base + 16 + ALIAS_AFTER, x)
    assert apart(base + 2048, x) and apart(base + 2048, c)  # an output where mlc puts it


@pytest.mark.parametrize("n", [2, 7, 1000])  # (n = 1 lowers to no loop)
@pytest.mark.parametrize("hinted", [False, True])
@pytest.mark.parametrize("vector", [False, True])
def test_stream_sites_enter_expressions_only_where_the_loop_has_a_write_hint(n, hinted, vector, monkeypatch):
    """A loop's stream sites are its vector stores to streaming outputs (a scalar store is
    the same in both versions) and its write hints of them: the same whether its expressions
    are walked (a loop with a hint) or its statements alone (one without, whose expressions
    are not entered)."""
    from mlc.backends.llvm import streaming
    from mlc.ir.extern import PREFETCH_FOR_WRITE, address_of, call_extern
    from mlc.ir.expr import Broadcast, BufferLoad, Ramp
    from mlc.ir.functor import pre_order_nodes
    from mlc.ir.tir import BufferStore, Evaluate, For, SeqStmt
    func = lower(_add(n)["main"])
    loop = next(s for s in pre_order_nodes(func.body) if isinstance(s, For))
    out = func.params[2]
    store = next(s for s in pre_order_nodes(loop.body) if isinstance(s, BufferStore))
    body = loop.body
    if vector:  # the store as vectorize_loops leaves it: 8 lanes at a stride-1 Ramp
        store = BufferStore(out, Broadcast(store.value, 8), (Ramp(store.indices[0], 1, 8),))
        body = store
    if hinted:
        element = BufferLoad(out, (loop.loop_var,), out.dtype)
        body = SeqStmt((Evaluate(call_extern("int32", PREFETCH_FOR_WRITE, address_of(element))), body))
    loop = For(loop.loop_var, loop.min, loop.extent, loop.kind, body)
    want = frozenset(id(s) for s in pre_order_nodes(loop.body)
                     if isinstance(s, BufferStore) and s.buffer is out and vector
                     or getattr(s, "name", None) == PREFETCH_FOR_WRITE)
    assert len(want) == vector + hinted
    if not hinted:
        monkeypatch.setattr(streaming, "pre_order_nodes", lambda root: pytest.fail("expressions were walked"))
    assert streaming.stream_sites(loop, frozenset({out})) == want


@each_pinned_target
def test_a_loop_of_scalar_streamed_stores_is_emitted_once(isa, target):
    """A streamed output stored by scalar stores (a loop LLVM's vectorizer widens: a select
    the TIR leaves scalar) would be the same code in the loop's streamed and cached
    versions: the loop is emitted once, with no test of page offsets; a loop whose stores
    the TIR vectorized still has both versions."""
    from mlc.backends.llvm.streaming import PAGE_BYTES

    def kernel(n, f):
        A = te.placeholder((n,), "float64", name="A")
        C = te.compute((n,), lambda i: f(A[i]), name="C")
        return mlc.IRModule({"main": te.create_prim_func([A, C])})

    def unoptimized(mod):
        with pinned_threads():
            return compile_sources(schedule_module(mod, target), target)["ll-unoptimized"]

    page_test = f", {PAGE_BYTES - 1}"
    selects = unoptimized(kernel(1 << 22, lambda a: te.if_then_else(a < 0, -a, a * 2)))  # 32 MiB written
    assert page_test not in selects
    assert selects.count("fcmp") == 1  # one copy of the loop's body
    vectors = unoptimized(kernel(1 << 22, lambda a: te.sqrt(a) * a))
    assert vectors.count(page_test) == 1
