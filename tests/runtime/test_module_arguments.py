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
