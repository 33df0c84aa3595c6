"""The work of the passes that reason about indices grows with the distinct indices, not with
how often an index repeats: ``simplify`` puts an index in canonical form once per scope of
loop ranges, ``verify_bounds`` checks it once under the same ranges, and
``compact_gpu_buffers`` walks each statement once however deeply allocations nest. Each
against the same pass on the statements one at a time (or the plain walk)."""
import importlib

import pytest
from hypothesis import given, settings, strategies as st

from mlc.errors import CompileError
from mlc.ir.arith import Analyzer
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Allocate, BufferStore, For, PrimFunc, seq
from mlc.passes.tir import simplify, verify_bounds

compact_buffers = importlib.import_module("mlc.passes.tir.compact_buffers")
gpu_buffers = importlib.import_module("mlc.passes.tir.gpu_buffers")
bounds = importlib.import_module("mlc.passes.tir.verify_bounds")

_offsets = st.lists(st.integers(-2, 3), min_size=1, max_size=12)


def _stores(offsets, size):
    """``B[(i * 2 + j) // 2 + offset] = A[i]`` for each offset, each index built anew,
    in loops ``i`` (3) and ``j`` (2)."""
    A, B = decl_buffer((3,), "float32", "A"), decl_buffer((size,), "float32", "B")
    i, j = Var("i", "int32"), Var("j", "int32")

    def body(offs):
        stores = [BufferStore(B, BufferLoad(A, (i,), "float32"), ((i * 2 + j) // 2 + o,)) for o in offs]
        inner = For(j, const(0, "int32"), const(2, "int32"), "serial", seq(*stores))
        return PrimFunc((A, B), For(i, const(0, "int32"), const(3, "int32"), "serial", inner))
    return body(offsets), [body([o]) for o in offsets]


def _counting(monkeypatch, owner, name):
    calls = []
    real = getattr(owner, name)

    def counted(*args):
        calls.append(args)
        return real(*args)
    monkeypatch.setattr(owner, name, counted)
    return calls


@settings(max_examples=25, deadline=None)
@given(offsets=_offsets)
def test_simplify_puts_each_distinct_index_in_canonical_form_once(offsets):
    func, alone = _stores(offsets, 8)
    with pytest.MonkeyPatch.context() as mp:
        calls = _counting(mp, Analyzer, "simplify")
        got = simplify(func)
    stores = got.body.body.body.seq if len(offsets) > 1 else (got.body.body.body,)
    singles = [simplify(f).body.body.body for f in alone]
    assert [str(s) for s in stores] == [str(s) for s in singles]
    # two loop bounds per loop, the load's index and each distinct store index
    assert len(calls) <= 4 + 1 + len(set(offsets))


@settings(max_examples=25, deadline=None)
@given(offsets=_offsets, size=st.integers(3, 6))
def test_verify_bounds_checks_each_distinct_index_once(offsets, size):
    func, _ = _stores(offsets, size)
    # what the loops reach: (i * 2 + j) // 2 + o is i + o, i in [0, 3)
    bad = [o for o in offsets if o < 0 or 2 + o >= size]
    with pytest.MonkeyPatch.context() as mp:
        calls = _counting(mp, bounds, "_surely_inside")
        if bad:
            with pytest.raises(CompileError, match=f"takes the values {bad[0]} to {2 + bad[0]}"):
                verify_bounds(func)
        else:
            assert verify_bounds(func) is func
    assert len(calls) <= 1 + len(set(offsets))  # the load A[i] and each distinct store index


def _nested(depth: int, width: int):
    """``depth`` shared allocations, each inside the last, each written and read in a
    thread loop of its own beside the next allocation."""
    out = decl_buffer((width,), "float32", "out")
    body = BufferStore(out, const(0.0, "float32"), (const(0, "int32"),))
    for d in reversed(range(depth)):
        buf = decl_buffer((64,), "float32", f"S{d}", "shared")
        t = Var(f"t{d}", "int32")
        use = For(t, const(0, "int32"), const(width, "int32"), "thread_binding",
                  seq(BufferStore(buf, const(1.0, "float32"), (t + d,)),
                      BufferStore(out, BufferLoad(buf, (t + d,), "float32"), (t,))), "threadIdx.x")
        body = Allocate(buf, seq(use, body))
    block = Var("b", "int32")
    return PrimFunc((out,), For(block, const(0, "int32"), const(1, "int32"), "thread_binding", body, "blockIdx.x"))


@settings(max_examples=10, deadline=None)
@given(depth=st.integers(3, 12), width=st.sampled_from([1, 5, 32]))
def test_nested_gpu_allocations_walk_each_statement_once(depth, width):
    func = _nested(depth, width)
    index = compact_buffers.AccessIndex()
    node = func.body.body
    while isinstance(node, Allocate):  # the index's accesses are the plain walk's
        assert index.accesses(node.buffer, node.body) == compact_buffers.buffer_accesses(node.buffer, node.body)
        node = node.body.seq[1]
    with pytest.MonkeyPatch.context() as mp:
        walks = _counting(mp, compact_buffers, "pre_order_nodes")
        got = gpu_buffers.compact_gpu_buffers(func)
    # each allocation's box is its thread loop's [d, d + width)
    shapes = [n.buffer.shape[0].value for n in _allocations(got)]
    assert shapes == [width] * depth
    # seven expressions a level (a loop's bounds, two stores' values and indices, the
    # read's index), a level's once and once more where its buffer is re-indexed, the
    # expressions under it not again: linear in the depth
    assert len(walks) <= 8 * depth


def _allocations(func):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, Allocate)]
