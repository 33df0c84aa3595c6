"""Random te programs: LLVM equals the reference interpreter, and both equal NumPy.

Hypothesis draws a program as data — a few inputs of one shape, then stages
that are elementwise trees, reductions over the last axis, padded shifts or
flips — and turns the same data into a te program and a NumPy function.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.ir import dtype as dt

from tests.targets import RUNNABLE

DTYPES = ["float32", "float64", "float16", "int32", "int64", "int8", "uint8"]
DIMS = [1, 2, 3, 5, 7, 8, 16]
FLOAT_UNARY = ["neg", "abs", "tanh", "sigmoid", "exp_tanh", "sqrt_abs", "floor", "round", "sin", "cos", "cube"]
INT_UNARY = ["neg", "abs"]
COMMON_BINARY = ["add", "sub", "mul", "max", "min"]
INT_BINARY = ["floordiv", "floormod", "bitand", "bitxor"]
COMPARE = ["lt", "le", "eq", "ne", "gt", "ge"]


# ------------------------------------------------------------- program data

def exprs(dtype: str, n_tensors: int, reduce_mode: bool, depth: int = 3):
    """An expression tree as nested tuples."""
    modes = ["s", "k"] if reduce_mode else ["s"]
    if dt.is_float(dtype):
        consts = st.sampled_from([0.0, 0.5, -1.5, 2.0])
    elif dt.is_unsigned(dtype):
        consts = st.sampled_from([0, 1, 3, 7])
    else:
        consts = st.sampled_from([0, 1, -2, 3])
    leaf = st.one_of(
        st.tuples(st.just("load"), st.integers(0, n_tensors - 1), st.sampled_from(modes)),
        st.tuples(st.just("const"), consts),
    )
    unary = FLOAT_UNARY if dt.is_float(dtype) else INT_UNARY
    binary = COMMON_BINARY + ([] if dt.is_float(dtype) else INT_BINARY)

    def extend(children):
        return st.one_of(
            st.tuples(st.just("un"), st.sampled_from(unary), children),
            st.tuples(st.just("bin"), st.sampled_from(binary), children, children),
            st.tuples(st.just("select"), st.sampled_from(COMPARE), children, children, children, children),
        )
    return st.recursive(leaf, extend, max_leaves=6)


@st.composite
def programs(draw):
    dtype = draw(st.sampled_from(DTYPES))
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.sampled_from(DIMS)) for _ in range(rank))
    n_inputs = draw(st.integers(1, 3))
    stages = []
    for s in range(draw(st.integers(1, 4))):
        n_avail = n_inputs + s
        kind = draw(st.sampled_from(["ew", "ew", "reduce", "shift", "flip"]))
        if kind == "ew":
            stages.append(("ew", draw(exprs(dtype, n_avail, False))))
        elif kind == "reduce":
            reducer = draw(st.sampled_from(["sum", "max", "min"]))
            stages.append(("reduce", reducer, draw(exprs(dtype, n_avail, True))))
        else:
            src = draw(st.integers(0, n_avail - 1))
            stages.append((kind, src, draw(st.integers(1, 2))))
    n_stages = len(stages)
    extra_outputs = draw(st.lists(st.integers(0, n_stages - 2), unique=True, max_size=1)) if n_stages > 1 else []
    return dtype, shape, n_inputs, stages, sorted(extra_outputs) + [n_stages - 1]


# ------------------------------------------------------- te interpretation

def te_expr(node, loads, dtype):
    tag = node[0]
    if tag == "load":
        return loads(node[1], node[2])
    if tag == "const":
        return te.const(node[1], dtype)
    if tag == "un":
        x = te_expr(node[2], loads, dtype)
        return {
            "neg": lambda: -x, "abs": lambda: te.abs(x), "tanh": lambda: te.tanh(x),
            "sigmoid": lambda: te.sigmoid(x), "exp_tanh": lambda: te.exp(te.tanh(x)),
            "sqrt_abs": lambda: te.sqrt(te.abs(x)), "floor": lambda: te.floor(x),
            "round": lambda: te.round(x), "sin": lambda: te.sin(x), "cos": lambda: te.cos(x),
            "cube": lambda: te.pow(x, te.const(3, dtype)),
        }[node[1]]()
    if tag == "bin":
        a, b = te_expr(node[2], loads, dtype), te_expr(node[3], loads, dtype)
        return {
            "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "max": lambda: te.max(a, b), "min": lambda: te.min(a, b),
            "floordiv": lambda: a // b, "floormod": lambda: a % b,
            "bitand": lambda: a & b, "bitxor": lambda: a ^ b,
        }[node[1]]()
    a, b, c, d = (te_expr(x, loads, dtype) for x in node[2:])
    cond = {"lt": a < b, "le": a <= b, "eq": a == b, "ne": a != b, "gt": a > b, "ge": a >= b}[node[1]]
    return te.if_then_else(cond, c, d)


def build_te(dtype, shape, n_inputs, stages, outputs):
    tensors = [te.placeholder(shape, dtype, f"X{n}") for n in range(n_inputs)]
    n = shape[-1]
    for s, stage in enumerate(stages):
        name = f"S{s}"
        if stage[0] == "ew":
            out = te.compute(shape, lambda *idx: te_expr(stage[1], lambda t, m: tensors[t][idx], dtype), name)
        elif stage[0] == "reduce":
            k = te.reduce_axis((0, n), "k")
            reducer = {"sum": te.sum, "max": te.max, "min": te.min}[stage[1]]

            def body(*idx, stage=stage, k=k, reducer=reducer):
                def load(t, mode):
                    return tensors[t][idx] if mode == "s" else tensors[t][idx[:-1] + (k,)]
                return reducer(te_expr(stage[2], load, dtype), axis=k)
            out = te.compute(shape, body, name)
        elif stage[0] == "shift":
            src, by = tensors[stage[1]], stage[2]
            out = te.compute(shape, lambda *idx: te.if_then_else(
                idx[-1] >= by, src[idx[:-1] + (idx[-1] - by,)], te.const(1, dtype)), name)
        else:
            src = tensors[stage[1]]
            out = te.compute(shape, lambda *idx: src[idx[:-1] + (n - 1 - idx[-1],)], name)
        tensors.append(out)
    args = tensors[:n_inputs] + [tensors[n_inputs + o] for o in outputs]
    return te.create_prim_func(args)


# ---------------------------------------------------- NumPy interpretation

def np_expr(node, loads, dtype):
    tag = node[0]
    if tag == "load":
        return loads(node[1], node[2])
    if tag == "const":
        return np.array(node[1]).astype(dtype)[()]
    if tag == "un":
        x = np_expr(node[2], loads, dtype)
        return {
            "neg": lambda: -x, "abs": lambda: np.abs(x), "tanh": lambda: np.tanh(x),
            "sigmoid": lambda: (1 / (1 + np.exp(-x))).astype(dtype),
            "exp_tanh": lambda: np.exp(np.tanh(x)), "sqrt_abs": lambda: np.sqrt(np.abs(x)),
            "floor": lambda: np.floor(x), "round": lambda: np.round(x),
            "sin": lambda: np.sin(x), "cos": lambda: np.cos(x),
            "cube": lambda: np.power(x, np.array(3, dtype)),
        }[node[1]]()
    if tag == "bin":
        a, b = np_expr(node[2], loads, dtype), np_expr(node[3], loads, dtype)
        return {
            "add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum,
            "min": np.minimum, "floordiv": np.floor_divide, "floormod": np.mod,
            "bitand": np.bitwise_and, "bitxor": np.bitwise_xor,
        }[node[1]](a, b)
    a, b, c, d = (np_expr(x, loads, dtype) for x in node[2:])
    cond = {"lt": np.less, "le": np.less_equal, "eq": np.equal, "ne": np.not_equal,
            "gt": np.greater, "ge": np.greater_equal}[node[1]](a, b)
    return np.where(cond, c, d)


def run_numpy(dtype, shape, inputs, stages):
    arrays = list(inputs)
    with np.errstate(all="ignore"):
        for stage in stages:
            if stage[0] == "ew":
                out = np_expr(stage[1], lambda t, m: arrays[t], dtype)
            elif stage[0] == "reduce":
                def load(t, mode):
                    return arrays[t][..., :, None] if mode == "s" else arrays[t][..., None, :]
                full = np.broadcast_to(np_expr(stage[2], load, dtype), shape + (shape[-1],))
                if stage[1] == "sum":
                    # accumulate in order, in the dtype, as the loop does
                    out = np.zeros(shape, dtype)
                    for k in range(shape[-1]):
                        out = (out + full[..., k]).astype(dtype)
                else:
                    out = getattr(np, stage[1])(full, axis=-1)
            elif stage[0] == "shift":
                src, by = arrays[stage[1]], stage[2]
                out = np.ones(shape, dtype)
                if by < shape[-1]:
                    out[..., by:] = src[..., :-by]
            else:
                out = arrays[stage[1]][..., ::-1]
            arrays.append(np.broadcast_to(np.asarray(out).astype(dtype), shape).copy())
    return arrays


def random_inputs(rng, dtype, shape, n):
    if dt.is_float(dtype):
        return [rng.uniform(-2, 2, shape).astype(dtype) for _ in range(n)]
    lo = 0 if dt.is_unsigned(dtype) else -8
    return [rng.integers(lo, 9, shape).astype(dtype) for _ in range(n)]


def assert_close(actual, expected, dtype, what, slack=1.0):
    """Exact for integers; for floats within a few ulps of the largest magnitude.

    ``slack`` widens float tolerance when summation order may differ (e.g. a
    schedule reordered a reduction of ``slack`` terms).
    """
    if not dt.is_float(dtype):
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    eps = {"float16": 4e-3, "float32": 2e-5, "float64": 1e-12}[dtype]
    scale = float(np.nanmax(np.abs(expected.astype("float64")), initial=1.0))
    if not np.isfinite(scale):
        scale = 1.0
    np.testing.assert_allclose(actual.astype("float64"), expected.astype("float64"),
                               rtol=eps * 8 * slack, atol=eps * 8 * scale * slack, err_msg=what)


@settings(max_examples=250)
@given(programs(), st.integers(0, 2**32 - 1), st.sampled_from(sorted(RUNNABLE)))
def test_random_programs_llvm_equals_reference_equals_numpy(program, seed, vectors):
    """Built for the reference interpreter and for LLVM (``vectors``: the host's CPU, or on
    an AVX-512 machine also the AVX2 one, whose default schedules use 256-bit vectors)."""
    dtype, shape, n_inputs, stages, outputs = program
    func = build_te(dtype, shape, n_inputs, stages, outputs)
    mod = mlc.IRModule({"prog": func})
    rng = np.random.default_rng(seed)
    inputs = random_inputs(rng, dtype, shape, n_inputs)
    expected = run_numpy(dtype, shape, inputs, stages)

    results = {}
    for name, target in (("reference", "reference"), ("llvm", RUNNABLE[vectors])):
        outs = [np.zeros(shape, dtype) for _ in outputs]
        with np.errstate(all="ignore"):
            mlc.build(mod, target)["prog"](*inputs, *outs)
        results[name] = outs
    for n, o in enumerate(outputs):
        want = expected[n_inputs + o]
        assert_close(results["reference"][n], want, dtype, f"reference vs numpy, stage {o}\n{mod.script()}")
        assert_close(results["llvm"][n], results["reference"][n], dtype, f"llvm vs reference, stage {o}\n{mod.script()}")


@pytest.mark.parametrize("vectors", sorted(RUNNABLE))
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_fixed_program_of_every_dtype(dtype, vectors):
    """A deterministic smoke version of the property above, one per dtype."""
    program = (dtype, (3, 5), 2,
               [("ew", ("bin", "add", ("load", 0, "s"), ("load", 1, "s"))),
                ("reduce", "max", ("bin", "mul", ("load", 2, "k"), ("load", 0, "s"))),
                ("shift", 3, 1), ("flip", 4, 1)],
               [0, 3])
    test_random_programs_llvm_equals_reference_equals_numpy.hypothesis.inner_test(program, 7, vectors)
