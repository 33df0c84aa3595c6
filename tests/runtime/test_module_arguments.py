"""Every call checks its arguments; each error names the parameter, what was expected and what came."""
import numpy as np
import pytest

import mlc
from mlc import te


@pytest.fixture(scope="module", params=["llvm", "reference"])
def lib(request):
    A = te.placeholder((2, 3), "float32", "A")
    B = te.compute((2, 3), lambda i, j: A[i, j] * 2, "B")
    return mlc.build(mlc.IRModule({"double": te.create_prim_func([A, B])}), request.param)


def test_a_good_call_runs(lib):
    a, b = np.ones((2, 3), "float32"), np.empty((2, 3), "float32")
    lib["double"](a, b)
    np.testing.assert_array_equal(b, 2 * a)


@pytest.mark.parametrize("args, error, message", [
    (lambda: (np.ones((2, 3), "float32"),), mlc.ShapeError, r"double\(\) takes 2 arrays \(A, B\), got 1"),
    (lambda: ([[1.0] * 3] * 2, np.empty((2, 3), "float32")), mlc.DTypeError,
     "argument A must be a numpy.ndarray of float32, got list; wrap it with np.asarray"),
    (lambda: (np.ones((2, 3), "float64"), np.empty((2, 3), "float32")), mlc.DTypeError,
     r"argument A must have dtype float32, got float64; convert it with .astype\('float32'\)"),
    (lambda: (np.ones((2, 3), "float32"), np.empty((3, 2), "float32")), mlc.ShapeError,
     r"argument B must have shape \(2, 3\), got \(3, 2\)"),
    (lambda: (np.ones((3, 2), "float32").T, np.empty((2, 3), "float32")), mlc.ShapeError,
     "argument A must be C-contiguous; pass np.ascontiguousarray"),
])
def test_bad_arguments_raise_typed_errors_naming_the_parameter(lib, args, error, message):
    with pytest.raises(error, match=message):
        lib["double"](*args())


def test_a_read_only_output_is_refused(lib):
    out = np.empty((2, 3), "float32")
    out.flags.writeable = False
    with pytest.raises(mlc.MLCError, match="argument B is written but the array is read-only"):
        lib["double"](np.ones((2, 3), "float32"), out)
    readonly_input = np.ones((2, 3), "float32")
    readonly_input.flags.writeable = False
    lib["double"](readonly_input, np.empty((2, 3), "float32"))  # inputs may be read-only


def test_unknown_function_and_source_format(lib):
    with pytest.raises(KeyError, match=r"module has no function 'triple'; it has \['double'\]"):
        lib["triple"]
    with pytest.raises(mlc.MLCError, match="has no 'cuda' source"):
        lib.get_source("cuda")


def test_time_evaluator_checks_once_and_times(lib):
    a, b = np.ones((2, 3), "float32"), np.empty((2, 3), "float32")
    result = lib.time_evaluator("double", number=3, repeat=2)(a, b)
    assert len(result.results) == 2 and result.mean > 0 and result.median > 0
    with pytest.raises(mlc.DTypeError):
        lib.time_evaluator("double")(a.astype("float64"), b)


def test_non_native_byte_order_is_refused(lib):
    """``'>f4'`` has ``dtype.name == 'float32'`` too; the kernel would read swapped bytes."""
    swapped = np.ones((2, 3), "float32").astype(np.dtype("float32").newbyteorder())
    assert swapped.dtype.name == "float32" and not swapped.dtype.isnative
    with pytest.raises(mlc.DTypeError, match=r"argument A has non-native byte order \([<>]f4\).*"
                                             r"astype\('float32'\)"):
        lib["double"](swapped, np.empty((2, 3), "float32"))
    with pytest.raises(mlc.DTypeError, match="argument B has non-native byte order"):
        lib["double"](np.ones((2, 3), "float32"), np.empty((2, 3), swapped.dtype))


def test_masked_arrays_are_refused(lib):
    masked = np.ma.array(np.ones((2, 3), "float32"), mask=[[0, 1, 0], [0, 0, 0]])
    with pytest.raises(mlc.DTypeError, match="argument A is a masked array; its mask would be ignored"):
        lib["double"](masked, np.empty((2, 3), "float32"))
    with pytest.raises(mlc.DTypeError, match="argument B is a masked array"):
        lib["double"](np.ones((2, 3), "float32"), np.ma.zeros((2, 3), "float32"))
    with pytest.raises(mlc.DTypeError, match="masked array"):
        lib.time_evaluator("double")(masked, np.empty((2, 3), "float32"))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (np.matrix's own)
def test_matrix_arguments_are_refused_and_memmaps_taken(lib, tmp_path):
    """np.matrix redefines * and **: a kernel computing on its data would not be what the
    caller's NumPy code means, so it is refused like a masked array; np.memmap keeps NumPy's
    operators and passes as plain data."""
    with pytest.raises(mlc.DTypeError, match=r"argument A is a numpy.matrix.*np.asarray\(x\)"):
        lib["double"](np.asmatrix(np.ones((2, 3), "float32")), np.empty((2, 3), "float32"))
    mapped = np.memmap(tmp_path / "a.bin", dtype="float32", mode="w+", shape=(2, 3))
    mapped[:] = 1.5
    out = np.empty((2, 3), "float32")
    lib["double"](mapped, out)
    np.testing.assert_array_equal(out, np.full((2, 3), 3.0, "float32"))


def _matmul(n: int, noalias: bool = True):
    X = te.placeholder((n, n), "float32", "X")
    Y = te.placeholder((n, n), "float32", "Y")
    k = te.reduce_axis((0, n), "k")
    Z = te.compute((n, n), lambda i, j: te.sum(X[i, k] * Y[k, j], axis=k), "Z")
    func = te.create_prim_func([X, Y, Z])
    return mlc.IRModule({"mm": func if noalias else func.with_attr("tir.noalias", False)})


@pytest.fixture(scope="module", params=["llvm", "reference"])
def mm(request):
    return mlc.build(_matmul(64), request.param)["mm"]


def test_an_output_sharing_memory_with_another_argument_is_refused(mm):
    """Kernels are compiled ``noalias``: ``mm(a, a, a)`` would compute garbage, so it raises."""
    a = np.random.default_rng(0).random((64, 64), dtype="float32")
    flat = np.zeros(2 * 64 * 64, "float32")
    cases = [
        ((a, a, a), "X and Z"),
        ((a, np.ones_like(a), a), "X and Z"),
        ((np.ones_like(a), a, a), "Y and Z"),
        ((flat[:4096].reshape(64, 64), a, flat[2048:6144].reshape(64, 64)), "X and Z"),  # partial
    ]
    for args, names in cases:
        with pytest.raises(mlc.MLCError, match=f"arguments {names} share memory, and Z is written"):
            mm(*args)
    out = np.empty_like(a)
    mm(a, a, out)  # inputs may alias each other: they are only read
    np.testing.assert_allclose(out, a @ a, rtol=1e-5)
    mm(flat[:4096].reshape(64, 64), a, flat[4096:].reshape(64, 64))  # adjacent, not overlapping
    np.testing.assert_allclose(flat[4096:].reshape(64, 64), flat[:4096].reshape(64, 64) @ a, rtol=1e-5)


def test_empty_arrays_alias_nothing():
    A = te.placeholder((0,), "float32", "A")
    B = te.compute((0,), lambda i: A[i] + 1, "B")
    f = mlc.build(mlc.IRModule({"f": te.create_prim_func([A, B])}), "llvm")["f"]
    empty = np.empty(0, "float32")
    f(empty, empty)


def test_a_function_declared_aliasing_accepts_aliased_arguments_and_drops_noalias():
    """``tir.noalias=False``: no refusal, and the LLVM function's pointers are not ``noalias``."""
    aliasing = mlc.build(_matmul(8, noalias=False), "llvm")
    a = np.full((8, 8), 1.0, "float32")
    aliasing["mm"](np.ones_like(a), a, a)  # accepted (what it computes is another matter)
    strict = mlc.build(_matmul(8), "llvm")
    defines = [line for line in aliasing.get_source("ll").splitlines() if line.startswith("define")]
    assert defines and not any("noalias" in line for line in defines), defines
    assert any("noalias" in line for line in strict.get_source("ll").splitlines()
               if line.startswith("define"))


def test_overlapping_pair_compares_byte_ranges():
    from mlc.runtime.pointers import overlapping_pair
    base = np.zeros(16, "int32")
    assert overlapping_pair([base[:8], base[8:]]) is None
    assert overlapping_pair([base[:8], base[7:9]]) == (0, 1)
    assert overlapping_pair([base[:8], base[8:], base[7:9]], among=[1]) == (1, 2)
    assert overlapping_pair([base[:8], base[4:12]], among=[]) is None
    assert overlapping_pair([base[:0], base]) is None and overlapping_pair([base[3:3], base]) is None
    assert overlapping_pair([base.view("uint8")[1:5], base[:1]]) == (0, 1)


class _NoCtypes(np.ndarray):
    """An array whose ``.ctypes`` (about 1 us an access, a large share of a small
    kernel's call) may not be used to find its data."""

    @property
    def ctypes(self):
        raise AssertionError("the call read ndarray.ctypes")


def test_llvm_calls_pass_data_pointers_without_ndarray_ctypes():
    A = te.placeholder((2, 3), "float32", "A")
    B = te.compute((2, 3), lambda i, j: A[i, j] * 2, "B")
    lib = mlc.build(mlc.IRModule({"double": te.create_prim_func([A, B])}), "llvm")
    a = np.arange(6, dtype="float32").reshape(2, 3).view(_NoCtypes)
    b = np.empty((2, 3), "float32").view(_NoCtypes)
    lib["double"](a, b)
    np.testing.assert_array_equal(np.asarray(b), 2 * np.asarray(a))


def test_a_checked_call_hands_the_alias_checks_pointers_to_the_pointer_kernel():
    """Plain arrays (exact dtype and shape, contiguous, each with an owner of its memory of
    its own: itself, or an array down its chain of bases) go to the arrays' kernel at a
    glance; otherwise (two views of one owner) the alias check reads every array's data
    pointer, and a backend that takes pointers gets those (an llvm call reads each
    pointer once)."""
    from mlc.runtime.module import Function
    from mlc.runtime.pointers import data_pointer
    A = te.placeholder((2, 3), "float32", "A")
    B = te.compute((2, 3), lambda i, j: A[i, j] * 2, "B")
    func = te.create_prim_func([A, B])
    calls = []
    fn = Function("double", func, lambda arrays: calls.append(("arrays", len(arrays))), None,
                  lambda pointers: calls.append(("pointers", list(pointers))))
    a, b = np.ones((2, 3), "float32"), np.empty((2, 3), "float32")
    fn(a, b)
    assert calls == [("arrays", 2)]
    view = np.ones((4, 3), "float32")[1:3]  # contiguous, a view of an owner of its own
    fn(view, b)
    assert calls[-1] == ("arrays", 2)
    nd_a, nd_b = mlc.nd.array(a), mlc.nd.empty((2, 3), "float32")  # views of aligned buffers
    fn(nd_a, nd_b)
    assert calls[-1] == ("arrays", 2)
    whole = np.ones((4, 3), "float32")  # two views of one owner: the byte ranges are compared
    fn(whole[:2], whole[2:])
    assert calls[-1] == ("pointers", [data_pointer(whole[:2]), data_pointer(whole[2:])])
    with pytest.raises(mlc.MLCError, match="share memory"):
        fn(b, b)
    with pytest.raises(mlc.MLCError, match="share memory"):
        fn(b[:], b)
    aliasing = Function("double", func.with_attr("tir.noalias", False),
                        lambda arrays: calls.append(("arrays", len(arrays))), None,
                        lambda pointers: calls.append(("pointers", list(pointers))))
    aliasing(b, b)  # no alias check, no pointers read: the arrays' kernel
    assert calls[-1] == ("arrays", 2)


@pytest.mark.parametrize("make", [
    lambda a, b: (a, b),                                   # plain: the glance
    lambda a, b: (np.ones((4, 3), "float32")[1:3] * 1 + a - 1, b),  # a fresh array: plain too
    lambda a, b: (np.vstack([a, a])[:2], b),               # a view: the full check
    lambda a, b: (a, np.empty((4, 3), "float32")[2:]),     # a written view: the full check
], ids=["plain", "fresh", "view-in", "view-out"])
def test_built_functions_compute_the_same_through_either_check(make):
    """``lib[name](...)`` through the glance at plain arrays (the object entry reads their data
    pointers) and through the full check (data pointers read in Python) alike."""
    A = te.placeholder((2, 3), "float32", "A")
    B = te.compute((2, 3), lambda i, j: A[i, j] * 2 + 1, "B")
    lib = mlc.build(te.create_prim_func([A, B]), "llvm")
    a = np.arange(6, dtype="float32").reshape(2, 3)
    x, out = make(a, np.empty((2, 3), "float32"))
    lib["main"](x, out)
    np.testing.assert_array_equal(out, a * 2 + 1)


def test_the_glance_refuses_what_the_full_check_refuses():
    """Arrays the glance does not pass take the full check, which explains what is wrong."""
    A = te.placeholder((2, 3), "float32", "A")
    lib = mlc.build(te.create_prim_func([A, te.compute((2, 3), lambda i, j: A[i, j] * 2, "B")]), "llvm")
    a, b = np.ones((2, 3), "float32"), np.empty((2, 3), "float32")
    frozen = np.empty((2, 3), "float32")
    frozen.flags.writeable = False
    for args, error in [((a, frozen), "read-only"), ((a.astype("float64"), b), "dtype float32"),
                        ((a.astype(">f4"), b), "byte order"), ((np.ones((3, 2), "float32"), b), "shape"),
                        ((np.ones((2, 6), "float32")[:, ::2], b), "C-contiguous"),
                        ((a, b, b), "takes 2 arrays"), ((b, b), "share memory")]:
        with pytest.raises(mlc.MLCError, match=error):
            lib["main"](*args)
