"""A serial loop folding consecutive elements into one (the lanes of a row reduction's
accumulator) is emitted as one vector load and a tree of operations
(mlc.backends.llvm.horizontal), and computes what the loop computes.

Each program is ``for i in range(rows): for k in range(first, first + lanes): [if k ==
first: Y[i] = init]; Y[i] = Y[i] op X[i * stride + k]``, built for the llvm target and
checked against the reference interpreter, which runs the loop one iteration at a time.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import mlc
from mlc.passes.tir import horizontal
from mlc.backends.llvm.module import generate_ir
from mlc.ir.buffer import Buffer
from mlc.ir.calls import DeclBuffer
from mlc.ir.expr import BufferLoad, Var, const, make_binary
from mlc.ir.tir import BufferStore, For, IfThenElse, PrimFunc, seq
from mlc.passes.tir import lower
from mlc.schedules.apply import as_written
from tests.targets import AVX2, AVX512

from .test_llvm_vector_code import run_both as run_programs

FLOAT_OPS = ("add", "mul", "min", "max")
INT_OPS = FLOAT_OPS + ("bitand", "bitor", "bitxor")
LANES = st.sampled_from([2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 64])


def fold_program(rows, lanes, dtype, op, init=None, first=0, stride=None, target_index=None,
                 source_step=1, noalias=True):
    """The fold program (see the module docstring); ``target_index(i, k)`` replaces ``i``
    as the index of Y, ``source_step`` the step of X's index per iteration."""
    stride = stride if stride is not None else (first + lanes) * source_step
    X = Buffer("X", (const(rows * stride),), dtype)
    Y = Buffer("Y", (const(rows),), dtype)
    i, k = Var("i", "int32"), Var("k", "int32")
    at = target_index(i, k) if target_index else i
    y = BufferLoad(Y, (at,), dtype)
    x = BufferLoad(X, (i * stride + k * source_step,), dtype)
    update = BufferStore(Y, make_binary(op, y, x), (at,))
    body = update if init is None else seq(
        IfThenElse(make_binary("eq", k, const(first, "int32")), BufferStore(Y, const(init, dtype), (at,))), update)
    loop = For(k, const(first, "int32"), const(lanes, "int32"), "serial", body)
    func = PrimFunc((X, Y), For(i, const(0, "int32"), const(rows, "int32"), "serial", loop))
    return func.with_attr("tir.noalias", noalias)


def ir_text(func, target=AVX2) -> str:
    return generate_ir({"f": lower(func)}, target)


def folded(func, target=AVX2) -> bool:
    """Whether the fold loop became one vector load and a tree (no loop named k is left)."""
    text = ir_text(func, target)
    return "k.header" not in text and f"load <{func.body.body.extent.value} x" in text


def run_both(func, arrays):
    """Y after ``func`` ran on copies of ``arrays``: llvm build, then reference."""
    return [outputs[1] for outputs in run_programs(func, arrays)]


def values(rng, n, dtype, op, special):
    if dtype.startswith("int"):
        return rng.integers(-1000, 1000, n).astype(dtype)
    if op == "mul":  # products of 64 factors stay finite and normal
        return rng.uniform(0.5, 1.5, n).astype(dtype)
    x = (rng.standard_normal(n) * 10).astype(dtype)
    if special and op in ("min", "max"):  # NaN propagates, signed zeros meet
        picks = rng.integers(0, n, max(1, n // 8))
        x[picks] = rng.choice(np.array([np.nan, 0.0, -0.0, np.inf, -np.inf], dtype), len(picks))
    return x


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 4), lanes=LANES, dtype=st.sampled_from(["float32", "float64", "int32", "int64"]),
       op_index=st.integers(0, len(INT_OPS) - 1), init=st.booleans(), first=st.sampled_from([0, 3]),
       special=st.booleans(), seed=st.integers(0, 99))
@example(rows=2, lanes=16, dtype="float32", op_index=3, init=True, first=0, special=True, seed=1)
@example(rows=1, lanes=7, dtype="float64", op_index=0, init=False, first=3, special=False, seed=2)
def test_a_fold_computes_what_the_loop_computes(rows, lanes, dtype, op_index, init, first, special, seed):
    ops = INT_OPS if dtype.startswith("int") else FLOAT_OPS
    op = ops[op_index % len(ops)]
    start = {"mul": 1, "min": 10 ** 6, "max": -10 ** 6, "bitand": -1}.get(op, 0)
    func = fold_program(rows, lanes, dtype, op, init=start if init else None, first=first)
    assert folded(func)
    rng = np.random.default_rng(seed)
    n = rows * (first + lanes)
    arrays = [values(rng, n, dtype, op, special), values(rng, rows, dtype, op, special)]
    got, want = run_both(func, arrays)
    if op in ("add", "mul") and dtype.startswith("float"):  # the tree adds in another order
        scale = np.abs(arrays[0]).sum() + np.abs(arrays[1]).sum()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)
    else:  # exact (assert_array_equal: NaN where NaN, and +0.0 equal to -0.0)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target", [AVX2, AVX512], ids=["avx2", "avx512"])
def test_sixteen_lanes_are_four_halvings_and_no_loop(target):
    text = ir_text(fold_program(3, 16, "float32", "add", init=0.0), target)
    assert "k.header" not in text
    assert text.count("load <16 x float>") == 1
    halves = [line for line in text.splitlines() if "shufflevector" in line]
    assert len(halves) == 2 * 3  # 16 -> 8 -> 4 -> 2, then the last two lanes extracted
    assert "fadd reassoc contract <8 x float>" in text


def test_an_odd_lane_is_combined_at_the_end():
    text = ir_text(fold_program(1, 5, "int32", "max"))
    assert text.count("load <5 x i32>") == 1 and text.count("extractelement") == 3  # lane 4, lanes 0, 1


@pytest.mark.parametrize("change", ["target moves with k", "source steps by 2", "buffers may alias",
                                    "loop too long", "a subtraction"])
def test_what_is_not_a_fold_stays_a_loop(change):
    if change == "target moves with k":
        func = fold_program(2, 8, "float32", "add", target_index=lambda i, k: (i + k) % 2)
    elif change == "source steps by 2":
        func = fold_program(2, 8, "float32", "add", source_step=2)
    elif change == "buffers may alias":
        func = fold_program(2, 8, "float32", "add", noalias=False)
    elif change == "loop too long":
        func = fold_program(1, horizontal.MAX_LANES + 1, "float32", "add")
    else:
        func = fold_program(2, 8, "float32", "sub")
    assert not folded(func)
    assert horizontal.match(func.body.body, noalias=bool(func.attr("tir.noalias"))) is None
    X, Y = func.params
    got, want = run_both(func, [np.arange(X.shape[0].value, dtype="float32") % 7, np.ones(Y.shape[0].value, "float32")])
    np.testing.assert_array_equal(got, want)


def test_a_bounds_checked_build_folds_the_same_values():
    """With run-time bounds checks every lane is loaded on its own, checked; the tree is the same."""
    func = fold_program(3, 17, "float32", "max", init=-1e6)
    rng = np.random.default_rng(0)
    arrays = [values(rng, 3 * 17, "float32", "max", True), np.zeros(3, "float32")]
    lib = mlc.build(mlc.IRModule({"f": func}), "llvm", schedule=as_written, check_bounds=True)
    got = [a.copy() for a in arrays]
    lib["f"](*got)
    np.testing.assert_array_equal(got[1], run_both(func, arrays)[1])


def test_a_fold_into_a_buffer_declared_over_the_source_stays_a_loop():
    """``Y`` names ``X``'s memory (``T.decl_buffer``), at X[3]: the loop's later iterations
    read what its earlier ones stored there, which one vector load made up front would not."""
    X = Buffer("X", (const(8),), "float32")
    Y = Buffer("Y", (const(5),), "float32")
    k = Var("k", "int32")
    y = BufferLoad(Y, (const(3, "int32"),), "float32")
    update = BufferStore(Y, make_binary("add", y, BufferLoad(X, (k,), "float32")), (const(3, "int32"),))
    body = DeclBuffer(Y, X), For(k, const(0, "int32"), const(8, "int32"), "serial", update)
    func = PrimFunc((X,), seq(*body)).with_attr("tir.noalias", True)
    assert not folded_loop(func)
    x = np.arange(1, 9, dtype="float32")
    want = x.copy()
    for i in range(8):  # the loop's meaning, one iteration at a time
        want[3] += want[i]
    mlc.build(mlc.IRModule({"f": func}), "llvm", schedule=as_written)["f"](x)
    np.testing.assert_array_equal(x, want)  # X[3] = (4 + 1 + 2 + 3) * 2 + 5 + 6 + 7 + 8 = 46


def folded_loop(func) -> bool:
    text = ir_text(func)
    return "k.header" not in text
