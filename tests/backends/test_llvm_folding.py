"""What the llvm codegen gets folded (integer operations of constants: an unrolled copy's
offsets, a tile's predicate once the unrolled loops give their variables constant values, and
the branches such a constant condition decides, by mlc.passes.tir.fold_constants), what it
computes while it writes the IR instead of emitting it (constant splats and ramps), and the
values it computes once because the TIR pipeline bound them (an unrolled register tile's
index arithmetic, by mlc.passes.tir.block_values; an inlined expression's subtrees, by
mlc.passes.tir.cse). The folded values are checked against
NumPy's and Python's arithmetic, the IR for what is no longer in it, and the programs
against the reference interpreter.
"""
import re

import numpy as np
from hypothesis import given, settings, strategies as st
from llvmlite import ir

import mlc
from mlc.backends.llvm.module import generate_ir
from mlc.backends.llvm.vectorize import ramp
from mlc.ir.buffer import Buffer
from mlc.ir.expr import Binary, BufferLoad, IntImm, Select, Var, const, sqrt
from mlc.ir.tir import BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt
from mlc.passes.tir.fold_constants import fold_constants_stmt
from mlc.passes.tir import lower, share_block_values
from mlc.schedules.apply import as_written
from tests.targets import AVX2

INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
NUMPY_OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "bitand": np.bitwise_and,
             "bitor": np.bitwise_or, "bitxor": np.bitwise_xor, "min": np.minimum, "max": np.maximum,
             "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
             "gt": np.greater, "ge": np.greater_equal}


@settings(max_examples=200, deadline=None)
@given(dtype=st.sampled_from(INTS), op=st.sampled_from(sorted(NUMPY_OPS)), data=st.data())
def test_folded_integer_operations_wrap_as_numpy_does(dtype, op, data):
    """The codegen writes no operation of two constants because fold_constants left none:
    its folds wrap as NumPy's arithmetic does."""
    info = np.iinfo(dtype)
    x, y = (data.draw(st.integers(int(info.min), int(info.max))) for _ in range(2))
    out = "bool" if op in ("eq", "ne", "lt", "le", "gt", "ge") else dtype
    folded = fold_constants_stmt(Evaluate(Binary(op, IntImm(x, dtype), IntImm(y, dtype), out))).value
    with np.errstate(over="ignore"):
        want = NUMPY_OPS[op](np.array(x, dtype), np.array(y, dtype))
    assert isinstance(folded, IntImm) and folded.value == int(want), (op, x, y)


# ---------------------------------------------------------------- programs

def buf(name, n, dtype="float32"):
    return Buffer(name, (const(n),), dtype)


def load(b, index):
    return BufferLoad(b, (index,), b.dtype)


def tile_program(tile: int, m: int, width: int):
    """The last row tile of an unrolled register tile over a serial reduction, its rows
    guarded (those below ``m`` run), written as the default matmul schedule writes one::

        for k in range(K):
            for i in T.unroll(tile):
                for j in T.vectorized(width):
                    if t * tile + i < m:
                        C[(t * tile + i) * width + j] += A[k * m + t * tile + i] * B[k * width + j]

    with ``t`` the last row tile (a constant), so every guard is a constant. Returns the
    function and ``K``."""
    K = 5
    k, i, j = Var("k", "int32"), Var("i", "int32"), Var("j", "int32")
    A, B, C = buf("A", K * m), buf("B", K * width), buf("C", m * width)
    t = (m - 1) // tile
    row = const(t * tile, "int32") + i
    c = (row * width + j,)
    update = BufferStore(C, load(C, c[0]) + load(A, k * m + row) * load(B, k * width + j), c)
    body = For(j, const(0), const(width), "vectorized", IfThenElse(row < const(m, "int32"), update))
    loops = For(k, const(0), const(K), "serial", For(i, const(0), const(tile), "unrolled", body))
    return PrimFunc((A, B, C), loops), K


def test_an_unrolled_tile_computes_each_address_once_and_its_constant_guards_vanish():
    func, _ = tile_program(tile=4, m=10, width=8)  # the last tile: rows 8, 9 of 8..11
    text = generate_ir({"f": share_block_values(lower(func))}, AVX2)
    body = text[text.index("define"):]
    two_constants = re.compile(r"= (add|sub|mul)( nsw)? i(32|64) -?\d+, -?\d+")
    assert not two_constants.search(body), "an operation of two constants was emitted"
    assert "bitcast" not in body
    assert len(re.findall(r"mul nsw i64 %\"k\", 8\b", body)) == 1  # B's row offset, once for the copies
    assert ".if" not in body and ".else" not in body  # no branch on a guard
    assert body.count("load <8 x float>") == 2 * 2  # C and B in each of the two rows left


@settings(max_examples=25, deadline=None)
@given(tile=st.integers(1, 6), m=st.integers(1, 13), width=st.sampled_from([1, 3, 4, 8, 16]),
       seed=st.integers(0, 99))
def test_unrolled_tiles_with_folded_guards_run_as_the_reference(tile, m, width, seed):
    func, K = tile_program(tile=tile, m=m, width=width)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(K * m).astype("float32"), rng.standard_normal(K * width).astype("float32"),
              rng.standard_normal(m * width).astype("float32")]
    outs = []
    for target in ("llvm", "reference"):
        copies = [a.copy() for a in arrays]
        mlc.build(mlc.IRModule({"f": func}), target, schedule=as_written)["f"](*copies)
        outs.append(copies[2])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6, atol=1e-6)


def test_a_constant_select_is_its_side_and_a_constant_splat_a_constant():
    """``B[i * 4 + j] = A[i * 4 + j] + select(i < 1, 1.5, 2.5)`` with ``i`` unrolled: each
    copy adds a constant splat (no select, no shuffle)."""
    i, j = Var("i", "int32"), Var("j", "int32")
    A, B = buf("A", 8), buf("B", 8)
    index = i * 4 + j
    step = Select(i < const(1, "int32"), const(1.5, "float32"), const(2.5, "float32"), "float32")
    func = PrimFunc((A, B), For(i, const(0), const(2), "unrolled",
                                For(j, const(0), const(4), "vectorized",
                                    BufferStore(B, load(A, index) + step, (index,)))))
    text = generate_ir({"f": lower(func)}, AVX2)
    body = text[text.index("define"):]
    assert "fadd <4 x float>" in body and "splat (float 0x3ff8000000000000)" in body
    assert "splat (float 0x4004000000000000)" in body
    assert "shufflevector" not in body and "select" not in body
    a = np.arange(8, dtype="float32")
    b = np.zeros(8, "float32")
    mlc.build(mlc.IRModule({"f": func}), "llvm", schedule=as_written)["f"](a, b)
    np.testing.assert_array_equal(b, a + np.repeat([1.5, 2.5], 4))


def test_the_ramp_of_a_constant_is_a_constant():
    builder = ir.IRBuilder(ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), []), "f").append_basic_block())
    assert [c.constant for c in ramp(builder, ir.Constant(ir.IntType(32), 6), 3, 4).constant] == [6, 9, 12, 15]
    top = ramp(builder, ir.Constant(ir.IntType(8), 126), 1, 3).constant  # wraps as the add would
    assert [c.constant for c in top] == [126, 127, -128]
    assert not builder.block.instructions


def _repeated(x):
    """``sqrt(x) * sqrt(x) + sqrt(x) * 0.5`` with every subtree a separate node, as inlining
    leaves a producer's expression in each use (sqrt: a call LLVM computes natively)."""
    return sqrt(x()) * sqrt(x()) + sqrt(x()) * const(0.5, "float32")


def test_a_repeated_subexpression_is_emitted_once_per_block():
    """An element loaded again in the same stored value is the first load, and so the
    operations on it are emitted once (:mod:`mlc.passes.tir.cse` binds them): one load of A,
    one sqrt, in the scalar and in the vector loop alike; the results are the reference
    interpreter's."""
    i = Var("i", "int32")
    A, B = buf("A", 16), buf("B", 16)
    for kind, lanes in (("serial", None), ("vectorized", 4)):
        func = PrimFunc((A, B), For(i, const(0), const(16 if lanes is None else 4), kind,
                                    BufferStore(B, _repeated(lambda: load(A, i)), (i,))))
        text = generate_ir({"f": lower(func)}, AVX2)
        body = text[text.index("define"):text.index("\n}\n")]
        assert body.count("load float") + body.count("load <4 x float>") == 1, body
        assert len(re.findall(r"call .*sqrt", body)) == 1, body
        assert body.count("fmul") == 2, body  # sqrt(x) * sqrt(x) and sqrt(x) * 0.5
    a = np.linspace(0, 3, 16, dtype="float32")
    b, want = np.zeros(16, "float32"), np.zeros(16, "float32")
    mod = mlc.IRModule({"f": func})
    mlc.build(mod, "llvm", schedule=as_written)["f"](a, b)
    mlc.build(mod, "reference", schedule=as_written)["f"](a, want)
    np.testing.assert_allclose(b, want, rtol=2e-7)


def test_a_load_after_a_store_is_not_the_load_before_it():
    """Loads are shared within one stored value only: ``A[0] = A[0] * 2`` then
    ``B[0] = A[0] + A[0]`` reads the doubled value."""
    A, B = buf("A", 1), buf("B", 1)
    zero = const(0, "int32")
    func = PrimFunc((A, B), SeqStmt((BufferStore(A, load(A, zero) * const(2.0, "float32"), (zero,)),
                                     BufferStore(B, load(A, zero) + load(A, zero), (zero,)))))
    text = generate_ir({"f": lower(func)}, AVX2)
    assert text[text.index("define"):].count("load float") == 2
    a, b = np.array([1.5], "float32"), np.zeros(1, "float32")
    mlc.build(mlc.IRModule({"f": func}), "llvm", schedule=as_written)["f"](a, b)
    assert a[0] == 3.0 and b[0] == 6.0
