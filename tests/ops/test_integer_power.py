"""Integer ``power``: NumPy's values (wrapping on overflow), from one stage whose ``pow`` call
every TIR pipeline computes in a loop of squarings (:mod:`mlc.passes.tir.integer_power`).

The lowering used to spell that loop as one te stage per exponent bit: an int64 ``x ** x``
was a kernel of 65 blocks and 126 buffers, which took seconds to compile. The tests below
check the structure (one block, a lowered function whose size does not grow with the
integer's width), not the time.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.ir.calls import is_graph_main
from mlc.ir.expr import pow as ipow
from mlc.ir.functor import pre_order_nodes
from mlc.ir.ops import SCALAR_OPS
from mlc.ir.tir import Block, For
from mlc.passes.tir import lower

INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def power_kernel(dtype: str, exponent=None):
    """The PrimFunc of ``A ** B`` (or ``A ** exponent``, a constant) on 16 elements."""
    A = te.placeholder((16,), dtype, "A")
    B = te.placeholder((16,), dtype, "B")
    C = te.compute((16,), lambda i: ipow(A[i], B[i] if exponent is None else te.const(exponent, dtype)), "C")
    return te.create_prim_func([A, B, C])


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint64"])
def test_a_jitted_integer_power_is_one_block(dtype):
    lowered = mlc.jit(lambda x, y: np.power(x, y) + x).lower(np.ones(5, dtype), np.ones(5, dtype))
    kernels = [f for f in lowered.mod.values() if not is_graph_main(f)]
    assert len(kernels) == 1  # the power and the add fused
    blocks = [n for n in pre_order_nodes(kernels[0].body) if isinstance(n, Block)]
    assert len(blocks) == 2  # the root and one stage (int64 had 65 stages, one per exponent bit)


def test_the_lowered_power_has_one_loop_of_squarings_whatever_the_width():
    """int8 and int64 lower to the same statements (one loop over the exponent's bits, of 7
    and 63 steps), so the code does not grow with the width."""
    sizes, steps = {}, {}
    for dtype in ("int8", "int64", "uint8"):
        func = lower(power_kernel(dtype))
        nodes = list(pre_order_nodes(func.body))
        sizes[dtype] = len(nodes)
        loops = [n for n in nodes if isinstance(n, For) and n.loop_var.name.startswith("pow_bit")]
        assert len(loops) == 1
        steps[dtype] = loops[0].extent.value
    assert steps == {"int8": 7, "int64": 63, "uint8": 8}
    assert sizes["int8"] == sizes["int64"] < 150


@pytest.mark.parametrize("n", [0, 1, 2, 3, 8])
def test_a_small_constant_exponent_is_multiplications(n):
    script = lower(power_kernel("int32", exponent=n)).script()
    assert "pow_bit" not in script and "T.pow" not in script
    assert script.count(" * ") == max(n - 1, 0)


_BASES = st.one_of(st.sampled_from([0, 1, -1, 2, -2, 3, -3, 7]), st.integers(-2**63, 2**64 - 1))


@settings(max_examples=15, deadline=None)
@given(dtype=st.sampled_from(INTS), data=st.data())
def test_integer_power_is_numpys_on_every_target(dtype, data):
    info = np.iinfo(dtype)
    n = data.draw(st.integers(1, 9), label="n")
    bases = np.array([data.draw(_BASES, label="base") % (int(info.max) - int(info.min) + 1) + int(info.min)
                      for _ in range(n)], dtype) if data.draw(st.booleans(), label="wide") else \
        np.array(data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 5]), min_size=n, max_size=n)), dtype)
    exponents = np.array(data.draw(st.lists(st.one_of(st.integers(0, 70), st.integers(0, int(info.max))),
                                            min_size=n, max_size=n), label="exponents"), dtype)
    with np.errstate(over="ignore"):
        want = np.power(bases, exponents)
    for target in ("llvm", "reference", "cuda-emulator"):
        got = mlc.jit(lambda x, y: x ** y, target=target)(bases, exponents)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=f"{target}: {bases} ** {exponents}")


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_a_negative_traced_exponent_gives_one_over_the_power_truncated(dtype, target):
    """NumPy refuses negative integer exponents (so does mlc where it knows them when
    tracing); a traced one gives 1 // x ** -e: 1 for x == 1, (-1) ** e for x == -1, else 0."""
    info = np.iinfo(dtype)
    x = np.array([1, 1, -1, -1, 0, 2, -2, 5, info.min, info.max], dtype)
    e = np.array([-1, -4, -1, -2, -1, -1, -3, info.min, info.min, -7], dtype)
    want = np.array([1, 1, -1, 1, 0, 0, 0, 0, 0, 0], dtype)
    np.testing.assert_array_equal(mlc.jit(lambda a, b: a ** b, target=target)(x, e), want)
    np.testing.assert_array_equal(SCALAR_OPS["pow"].numpy(x, e), want)  # (the reference's own)


def test_a_python_int_exponent_and_broadcasting():
    x = np.arange(-3, 4, dtype="int64").reshape(7, 1)
    f = mlc.jit(lambda a, n: a ** n)
    for n in (0, 5, 62, 63, 100):
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(f(x, n), x ** n)
    y = np.array([0, 1, 2, 3], "int16")
    np.testing.assert_array_equal(mlc.jit(lambda a, b: np.power(a, b))(x.astype("int16"), y), x.astype("int16") ** y)
    b = np.array([True, False])
    np.testing.assert_array_equal(mlc.jit(lambda a, c: a ** c)(b, b[::-1]), b ** b[::-1])  # (int8)


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "int64", "uint32"])
def test_a_power_of_0d_arrays_is_one_kernel(dtype, target):
    """A 0-d result has no loop to bind on the GPU: its statement runs in a kernel of one
    thread, and the power's local scalars and loop belong to that kernel (they were split
    into kernels of their own, and CUDA refused the local buffer shared between them)."""
    for a, b in ((2, 3), (0, 0), (1, 5), (3, 1)):
        x, y = np.array(a).astype(dtype), np.array(b).astype(dtype)
        got = mlc.jit(lambda p, q: p ** q, target=target)(x, y)
        assert got.dtype == (x ** y).dtype and got.shape == ()
        np.testing.assert_array_equal(got, x ** y)
