"""Out-of-bounds accesses: refused at build time when provable, caught at run time with
``check_bounds`` (llvm) and always by the reference interpreter; never a crash."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.config import override
from mlc.errors import BoundsError, CompileError, MLCError
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.tir import BufferStore, For, PrimFunc
from mlc.passes.tir import verify_bounds

TARGETS = ["llvm", "reference"]


def module(func, name="main"):
    return mlc.IRModule({name: func})


def shifted(offset, n=4, size=4):
    A = te.placeholder((size,), "float32", "A")
    B = te.compute((n,), lambda i: A[i + offset], "B")
    return module(te.create_prim_func([A, B]))


# -------------------------------------------------------------- at build time

@pytest.mark.parametrize("target", TARGETS)
def test_a_provably_out_of_bounds_read_is_a_compile_error(target):
    with pytest.raises(CompileError, match=r"reads buffer A out of bounds: index i \+ 1000000000 "
                                           r"\(dimension 0\) takes the values 1000000000 to 1000000003"):
        mlc.build(shifted(10**9), target)


@pytest.mark.parametrize("offset, values", [(1, "1 to 4"), (-1, "-1 to 2")])
def test_one_bad_iteration_is_enough(offset, values):
    with pytest.raises(CompileError, match=f"takes the values {values} for i in \\[0, 4\\), but A has extent 4"):
        mlc.build(shifted(offset), "llvm")


def test_a_provably_out_of_bounds_write_is_a_compile_error():
    A, B = decl_buffer((4,), "float32", "A"), decl_buffer((4,), "float32", "B")
    i = Var("i")
    func = PrimFunc((A, B), For(i, const(0), const(4), "serial",
                                BufferStore(B, BufferLoad(A, (i,), "float32"), (i * 2,))))
    with pytest.raises(CompileError, match=r"writes buffer B out of bounds: index i \* 2"):
        verify_bounds(func)


def test_a_non_affine_index_is_bounded_exactly():
    A = te.placeholder((4, 4), "float32", "A")
    ok = te.compute((16,), lambda i: A[i // 4, i % 4], "B")
    bad = te.compute((17,), lambda i: A[i // 4, i % 4], "C")
    verify_bounds(te.create_prim_func([A, ok]))
    with pytest.raises(CompileError, match=r"index i // 4 \(dimension 0\) takes the values 0 to 4"):
        verify_bounds(te.create_prim_func([A, bad]))


def test_guarded_and_padded_accesses_are_legal():
    """A padded stage reads outside its input only where the guard is false."""
    A = te.placeholder((8,), "float32", "A")
    P = te.compute((10,), lambda i: te.if_then_else(te.all(i >= 1, i <= 8), A[i - 1], 0.0), "P")
    lib = mlc.build(module(te.create_prim_func([A, P])), "llvm")
    a = np.arange(8, dtype="float32") + 1
    p = np.empty(10, "float32")
    lib["main"](a, p)
    np.testing.assert_array_equal(p, np.pad(a, 1))


def test_a_split_that_does_not_divide_keeps_its_guard_legal():
    A = te.placeholder((10,), "float32", "A")
    B = te.compute((10,), lambda i: A[i] * 2, "B")

    def schedule(sch):
        sch.split(sch.get_loops(sch.get_block("B"))[0], factors=[None, 4])
    lib = mlc.build(module(te.create_prim_func([A, B])), "llvm", schedule)
    a = np.arange(10, dtype="float32")
    b = np.empty_like(a)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a * 2)


@settings(max_examples=40)
@given(offset=st.integers(-6, 6), n=st.integers(1, 6), size=st.integers(1, 8))
def test_refused_exactly_when_some_iteration_is_out_of_bounds(offset, n, size):
    """Differential: the reference interpreter runs every program the check accepts,
    and every refused one has an out-of-bounds iteration."""
    legal = 0 <= offset and n - 1 + offset < size
    mod = shifted(offset, n, size)
    if not legal:
        with pytest.raises(CompileError):
            mlc.build(mod, "reference")
        return
    a = np.arange(size, dtype="float32")
    b = np.empty(n, "float32")
    mlc.build(mod, "reference")["main"](a, b)
    np.testing.assert_array_equal(b, a[offset:offset + n])


# ---------------------------------------------------------------- at run time

def gather(n=8, m=16):
    X = te.placeholder((m,), "float32", "X")
    I = te.placeholder((n,), "int32", "I")
    Y = te.compute((n,), lambda i: X[I[i]] * 2, "Y")
    return module(te.create_prim_func([X, I, Y]), "gather")


def parallel_gather(sch):
    sch.parallel(sch.get_loops(sch.get_block("Y"))[0])


def run_gather(lib, index, m=16):
    x = np.arange(m, dtype="float32")
    y = np.zeros(len(index), "float32")
    lib["gather"](x, np.asarray(index, "int32"), y)
    return x, y


@pytest.mark.parametrize("bad", [16, 10**6, -1, -(2**31)])
def test_check_bounds_catches_a_data_dependent_index(bad):
    lib = mlc.build(gather(), "llvm", check_bounds=True)
    x, y = run_gather(lib, range(8))
    np.testing.assert_array_equal(y, x[:8] * 2)
    index = list(range(8))
    index[5] = bad
    # a scalar loop names the index expression (I[i]); a vector IR loop (8 float32 lanes fill
    # one AVX2 register) names the lane's (I[5])
    with pytest.raises(BoundsError, match=rf"gather\(\): load from buffer X at element {bad} "
                                          r"\(index I\[(i|5)\]\) is outside \[0, 16\)") as err:
        run_gather(lib, index)
    assert isinstance(err.value, MLCError)


@settings(max_examples=12, deadline=None)
@given(size=st.integers(1, 9), bad=st.sampled_from([-1, 9, 10**8, -(2**31)]), parallel=st.booleans())
def test_check_bounds_checks_buffers_of_symbolic_size_against_their_size_at_the_call(size, bad, parallel):
    n = te.var("n")
    X = te.placeholder((n, 4), "float32", "X")
    J = te.placeholder((3,), "int32", "J")
    Y = te.compute((3, 4), lambda i, j: X[J[i], j] * 2, "Y")
    sch = mlc.Schedule(mlc.IRModule({"rows": te.create_prim_func([X, J, Y])}))
    if parallel:
        sch.parallel(sch.get_loops(sch.get_block("Y"))[0])
    lib = mlc.build(sch.mod, "llvm", check_bounds=True)
    x, y = np.arange(size * 4, dtype="float32").reshape(size, 4), np.zeros((3, 4), "float32")
    good = np.array([0, size - 1, size // 2], "int32")
    lib["rows"](x, good, y)
    np.testing.assert_array_equal(y, x[good] * 2)
    row = bad if bad < 0 else size + bad
    with pytest.raises(BoundsError, match=rf"rows\(\): load from buffer X at element .* is outside "
                                          rf"\[0, {size * 4}\)"):
        lib["rows"](x, np.array([0, row, 0], "int32"), y)


def test_the_reference_backend_raises_the_same_error_class():
    lib = mlc.build(gather(), "reference")
    with pytest.raises(BoundsError, match=r"gather\(\): buffer X: index \(99,\) is out of bounds"):
        run_gather(lib, [0, 1, 2, 99, 4, 5, 6, 7])


@pytest.mark.parametrize("where", [0, 4095])  # the first chunk, and the last (another thread)
def test_a_violation_in_a_parallel_loop_propagates_from_its_worker_thread(where):
    n = 4096
    with override(num_threads=4):
        lib = mlc.build(gather(n), "llvm", parallel_gather, check_bounds=True)
        index = np.arange(n) % 16
        x, y = run_gather(lib, index)
        np.testing.assert_array_equal(y, x[index] * 2)
        index[where] = 1 << 20
        with pytest.raises(BoundsError, match=f"at element {1 << 20}"):
            run_gather(lib, index)


def test_a_violating_store_is_skipped_and_reported():
    A, I, B = decl_buffer((8,), "float32", "A"), decl_buffer((8,), "int32", "I"), decl_buffer((8,), "float32", "B")
    i = Var("i")
    scatter = PrimFunc((A, I, B), For(i, const(0), const(8), "serial",
                                      BufferStore(B, BufferLoad(A, (i,), "float32"), (BufferLoad(I, (i,), "int32"),))))
    lib = mlc.build(module(scatter, "scatter"), "llvm", check_bounds=True)
    a = np.arange(8, dtype="float32")
    b = np.full(8, -1, "float32")
    lib["scatter"](a, np.array([7, 6, 5, 4, 3, 2, 1, 0], "int32"), b)
    np.testing.assert_array_equal(b, a[::-1])
    with pytest.raises(BoundsError, match=r"scatter\(\): store to buffer B at element 8 \(index I\[i\]\)"):
        lib["scatter"](a, np.array([0, 1, 2, 3, 4, 5, 6, 8], "int32"), b)
    np.testing.assert_array_equal(b[:7], a[:7])  # the other stores happened


def test_mlc_debug_turns_the_checks_on():
    with override(debug=True):
        lib = mlc.build(gather(), "llvm")
    with pytest.raises(BoundsError):
        run_gather(lib, [0, 1, 2, 3, 4, 5, 6, 16])


def test_checked_functions_offer_no_unchecked_entry():
    checked = mlc.build(gather(), "llvm", check_bounds=True)
    plain = mlc.build(gather(), "llvm", check_bounds=False)
    assert checked["gather"].native is None and plain["gather"].native is not None
    assert "__mlc_bounds_fail" in checked.get_source("ll")
    assert "__mlc_bounds_fail" not in plain.get_source("ll")
