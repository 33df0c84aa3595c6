"""lower_threefry writes the ``threefry2x32`` call out as integer TIR (mlc.passes.tir.lower_threefry):
no backend has it natively, so every one runs this one algorithm.

The reference interpreter runs an unlowered call by the op table's NumPy column
(mlc.ir.threefry), so the pass's TIR is checked against it bit for bit, in a store and in an
``if`` condition, on Hypothesis keys and counters at sizes 1 and odd; every backend's pipeline
ends with the pass, and the llvm and CUDA backends keep no lowering of their own.
"""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import te
from mlc.backends.cuda.intrinsics import BACKEND as CUDA
from mlc.backends.intrinsics import has_intrinsic_lowering
from mlc.backends.llvm.intrinsics import BACKEND as LLVM
from mlc.backends.reference import run
from mlc.backends.registry import BuildOptions, get_backend
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import Call, Let, Var, call, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For, IfThenElse, PrimFunc
from mlc.passes.tir import lower
from mlc.passes.tir.lower_threefry import lower_threefry


def _words(n):
    return hnp.arrays("uint32", (n,), elements=st.integers(0, 2**32 - 1))


def _stored(n):
    K, C0, C1 = (te.placeholder((n,), "uint32", name) for name in ("K", "C0", "C1"))
    Y = te.compute((n,), lambda i: te.threefry2x32(K[0], K[i], C0[i], C1[i] + te.const(3, "uint32")), "Y")
    return lower(te.create_prim_func([K, C0, C1, Y]))


def _tested(n):
    """An ``if`` on a word of the generator: the call in a condition, not a stored value."""
    K, C0, C1, Y = (decl_buffer((n,), "uint32", name) for name in ("K", "C0", "C1", "Y"))
    i = Var("i", "int32")
    word = call("threefry2x32", K[0], K[i], C0[i], C1[i]) >> const(40, "uint64")
    body = IfThenElse(word < const(1 << 23, "uint64"), BufferStore(Y, C0[i], (i,)), BufferStore(Y, C1[i], (i,)))
    return PrimFunc((K, C0, C1, Y), For(i, const(0, "int32"), const(n, "int32"), "serial", body))


def _calls(func):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, Call) and n.op == "threefry2x32"]


@settings(max_examples=6, deadline=None)
@given(data=st.data(), n=st.sampled_from([1, 3, 17]), make=st.sampled_from([_stored, _tested]))
def test_the_written_out_generator_equals_the_op_tables(data, n, make):
    func = make(n)
    written = lower_threefry(func)
    assert _calls(func) and not _calls(written)
    args = [data.draw(_words(n), label=name) for name in ("k", "c0", "c1")]
    want, got = np.zeros(n, func.params[-1].dtype), np.zeros(n, func.params[-1].dtype)
    run(func, [*args, want])
    run(written, [*args, got])
    np.testing.assert_array_equal(got, want)


def test_each_word_is_bound_once():
    written = lower_threefry(_tested(5))
    lets = [n for n in pre_order_nodes(written.body) if isinstance(n, Let)]
    assert len(lets) == 1 + 2 + 2 * 20 + 2 * 5  # the schedule's word, the first two, two a round, two an injection
    assert sum(1 for _ in pre_order_nodes(written.body)) < 600  # (a tree would double each round)


def test_every_backend_runs_the_pass_and_none_keeps_a_lowering_of_its_own():
    for backend in (LLVM, CUDA):
        assert not has_intrinsic_lowering(backend, "threefry2x32", "uint32"), backend
    for target in ("llvm", "cuda-emulator", "reference"):
        target = mlc.Target.from_str(target)
        assert lower_threefry in get_backend(target.kind).tir_passes(target, BuildOptions()), target
