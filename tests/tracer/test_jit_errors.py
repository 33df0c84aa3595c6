"""Errors name the user's source line, say why, and say what to do instead."""
import numpy as np
import pytest

import mlc

X = np.ones((2, 3), "float32")


def source_line(fn, marker: str) -> str:
    """The text of the line of ``fn``'s source file that contains ``marker``."""
    import inspect
    lines, _ = inspect.getsourcelines(fn)
    return next(line.strip() for line in lines if marker in line)


def test_bool_of_traced_value_in_an_if():
    """An ``if`` on a traced value compiles (tests/tracer/test_autograph.py), and so does asking
    for its truth explicitly; the truth of an array of several elements is refused, as NumPy
    refuses it, at the user's line."""
    def f(x):
        if bool(x.sum() > 0):
            return x
        return -x

    np.testing.assert_array_equal(mlc.jit(f)(X), f(X))
    np.testing.assert_array_equal(mlc.jit(f)(-X), f(-X))

    def g(x):
        if bool(x > 0):  # marker-if
            return x
        return -x

    with pytest.raises(mlc.TraceError) as info:
        mlc.jit(g)(X)
    message = str(info.value)
    assert __file__ in message and source_line(g, "marker-if") in message
    assert "only an array of one element" in message


def test_while_else_on_traced_value():
    def f(x):
        while x.max() > 1:  # marker-while
            x = x / 2
        else:
            x = x + 1
        return x

    with pytest.raises(mlc.TraceError, match="(?s)else clause.*marker-while"):
        mlc.jit(f)(X * 4)


@pytest.mark.parametrize("convert", [bool, float, int])
def test_scalar_conversions(convert):
    def f(x):
        return x * convert(x[0, 0])  # marker-convert

    with pytest.raises(mlc.TraceError) as info:
        mlc.jit(f)(X)
    assert "marker-convert" in str(info.value) and "line" in str(info.value)


def test_np_asarray_of_traced_value_is_that_value():
    """NumPy programs begin with ``x = np.asarray(x)``: inside the jit it is the traced array
    (as NumPy returns an array itself), with a dtype converted as NumPy converts it."""
    def f(x):
        return np.asarray(x) + 1, np.asarray(x, dtype="float32").dtype == np.float32

    got, same = mlc.jit(f)(X)
    np.testing.assert_array_equal(got, X + 1)
    assert bool(same)


def test_a_traced_index_gathers_and_a_boolean_mask_names_its_line():
    np.testing.assert_array_equal(mlc.jit(lambda x: x[x.argmax()])(X), X[X.argmax()])

    def f(x):
        return x[x > 0]  # marker-index

    with pytest.raises(mlc.TraceError, match="(?s)boolean mask.*marker-index"):
        mlc.jit(f)(X)


def test_shape_mismatch_names_op_and_line():
    def f(x, y):
        return x + y  # marker-shape

    with pytest.raises(mlc.ShapeError) as info:
        mlc.jit(f)(X, np.ones((4,), "float32"))
    message = str(info.value)
    assert message.startswith("add:") and "marker-shape" in message and __file__ in message


def test_matmul_mismatch_names_op_and_line():
    def f(x):
        return x @ x  # marker-matmul

    with pytest.raises(mlc.ShapeError, match=r"(?s)matmul.*marker-matmul"):
        mlc.jit(f)(X)


def test_dtype_error_names_op_and_line():
    def f(x):
        return x << 1  # marker-shift

    with pytest.raises(mlc.DTypeError, match=r"(?s)left_shift.*marker-shift"):
        mlc.jit(f)(X)


def test_out_of_range_python_int_raises_like_numpy():
    with pytest.raises(mlc.DTypeError, match="out of bounds for int8"):
        mlc.jit(lambda x: x + 1000)(np.ones(2, "int8"))


def test_out_of_bounds_static_index():
    def f(x):
        return x[5]  # marker-oob

    with pytest.raises(mlc.ShapeError, match=r"(?s)out of bounds.*marker-oob"):
        mlc.jit(f)(X)


def test_string_argument_is_rejected_before_compiling():
    calls = []

    @mlc.jit
    def f(x, mode):
        calls.append(mode)
        return x

    with pytest.raises(mlc.DTypeError) as info:
        f(X, "relu")
    assert "'mode'" in str(info.value) and "static_argnums" in str(info.value)
    assert calls == [] and f.trace_count == 0


def test_static_arguments_must_be_hashable_values():
    f = mlc.jit(lambda x, shape: x.reshape(tuple(shape)), static_argnums=1)
    with pytest.raises(mlc.TraceError, match="not hashable"):
        f(X, {3, 2})
    with pytest.raises(mlc.TraceError, match="NumPy array"):
        f(X, np.array([3, 2]))
    np.testing.assert_array_equal(f(X, [3, 2]), X.reshape(3, 2))  # lists are keyed by value
    np.testing.assert_array_equal(f(X, [3, 2]), X.reshape(3, 2))
    assert f.trace_count == 1


def test_unknown_static_argname():
    with pytest.raises(mlc.TraceError, match="not a parameter"):
        mlc.jit(lambda x: x, static_argnames="y")


def test_unsupported_numpy_function():
    def f(x):
        return np.emath.sqrt(x)  # marker-emath (its dtype depends on the values; np.sqrt traces)

    with pytest.raises(mlc.TraceError, match=r"(?s)np.emath.sqrt is not supported.*marker-emath"):
        mlc.jit(f)(X)


def test_escaped_tracer():
    leaked = []

    @mlc.jit
    def f(x):
        leaked.append(x)
        return x * 2

    f(X)
    g = mlc.jit(lambda x: x + leaked[0])
    with pytest.raises(mlc.TraceError, match="escaped"):
        g(X)


def test_unsupported_dtype_argument():
    with pytest.raises(mlc.DTypeError, match="datetime64"):
        mlc.jit(lambda x: x)(np.array(["2020-01-01"], "datetime64[D]"))


def test_wrong_rank_is_just_a_retrace():
    f = mlc.jit(lambda x: x.sum(axis=-1))
    assert f(X).shape == (2,)
    assert f(np.ones((2, 3, 4), "float32")).shape == (2, 3)
    assert f.trace_count == 2


def test_non_array_output():
    with pytest.raises(mlc.TraceError, match="output 0"):
        mlc.jit(lambda x: "done")(X)


def test_masked_arrays_are_refused_not_silently_unmasked():
    """Compiled code reads the data only: a masked array would lose its mask."""
    masked = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0], dtype="float32")
    add_one = mlc.jit(lambda x: x + 1)
    with pytest.raises(mlc.DTypeError, match="argument 'x' of <lambda>\\(\\) is a masked array"):
        add_one(masked)
    with pytest.raises(mlc.DTypeError, match="argument 'xs_1' .* is a masked array"):
        mlc.jit(lambda xs: xs[0] + xs[1])((X, np.ma.zeros((2, 3), "float32")))
    with pytest.raises(mlc.DTypeError, match="masked array"):
        mlc.numpy.add(masked, 1)
    with pytest.raises(mlc.DTypeError, match="masked array"):
        mlc.numpy.sum(masked)
    with pytest.raises(mlc.DTypeError, match="cannot use a masked array in a traced function"):
        mlc.jit(lambda x: x + masked)(np.ones(3, "float32"))
    with pytest.raises(mlc.MLCError):  # np.ma's operator asks for the traced data: refused too
        mlc.jit(lambda x: np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]) * x)(np.ones(3))
    np.testing.assert_array_equal(add_one(np.ma.getdata(masked)), [2.0, 3.0, 4.0])


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (np.matrix's own)
def test_matrix_arguments_are_refused_not_computed_as_plain_arrays():
    """``x * y`` of two np.matrix is a matrix product in NumPy; compiled code would compute
    the elementwise product of their data. Refused everywhere an array enters: an argument
    of a jitted function or of eager mlc.numpy, an array a traced function uses, mlc.nd."""
    m = np.asmatrix(np.arange(4.0).reshape(2, 2))
    with pytest.raises(mlc.DTypeError, match=r"argument 'x' of <lambda>\(\) is a numpy.matrix.*matrix products"):
        mlc.jit(lambda x, y: x * y)(m, m)
    with pytest.raises(mlc.DTypeError, match="argument 'xs_1' .* is a numpy.matrix"):
        mlc.jit(lambda xs: xs[0] + xs[1] ** 2)((np.ones((2, 2)), m))
    for eager in (lambda: mlc.numpy.multiply(m, m), lambda: mlc.numpy.power(m, 2), lambda: mlc.numpy.sum(m)):
        with pytest.raises(mlc.DTypeError, match="numpy.matrix"):
            eager()
    for inside in (lambda x: x * m, lambda x: m * x, lambda x: np.multiply(x, m)):
        with pytest.raises(mlc.DTypeError, match="cannot use an array in a traced function that is a numpy.matrix"):
            mlc.jit(inside)(np.ones((2, 2)))
    with pytest.raises(mlc.DTypeError, match="mlc.nd.array: the data is a numpy.matrix"):
        mlc.nd.array(m)
    np.testing.assert_array_equal(mlc.jit(lambda x, y: x @ y)(np.asarray(m), np.asarray(m)), np.asarray(m * m))


def test_subclasses_that_redefine_an_operator_are_refused_and_others_taken():
    class Doubled(np.ndarray):
        def __add__(self, other):
            return 2 * np.asarray(self) + other

    class Tagged(np.ndarray):  # keeps every operator: plain data with a label
        pass

    x = np.ones(3)
    with pytest.raises(mlc.DTypeError, match=r"Doubled, an ndarray subclass that redefines NumPy's operators \(__add__\)"):
        mlc.jit(lambda a: a + 1)(x.view(Doubled))
    np.testing.assert_array_equal(mlc.jit(lambda a: a + 1)(x.view(Tagged)), x + 1)
    np.testing.assert_array_equal(mlc.numpy.add(x.view(Tagged), 1), x + 1)


LIMIT = 2**31 - 1  # elements per array: indices and flattened offsets are int32


@pytest.mark.parametrize("shape", [(LIMIT + 1,), (2, 2**30), (2**16, 2**15 + 1)])
def test_arrays_past_the_32_bit_index_space_are_refused_with_the_limit(shape):
    """Broadcast views: no memory is allocated, only shapes are traced."""
    huge = np.broadcast_to(np.float32(1), shape)
    for run in (lambda: mlc.jit(lambda x: x.reshape(-1)).lower(huge),
                lambda: mlc.jit(lambda x: np.argmax(x)).lower(huge),
                lambda: mlc.numpy.argmax(huge)):
        with pytest.raises(mlc.ShapeError, match=r"argument '\w+': shape .* has \d+ elements, more than "
                                                 r"mlc's limit of 2147483647 \(2\*\*31 - 1\) elements"):
            run()


def test_a_result_past_the_index_space_names_the_op_and_line():
    x = np.broadcast_to(np.float32(1), (2**16, 1))
    with pytest.raises(mlc.ShapeError, match=r"(?s)the result of add: shape \(65536, 65536\) has 4294967296 "
                                             r"elements, more than mlc's limit.*marker-huge"):
        mlc.jit(lambda a: a + a.reshape(1, -1)).lower(x)  # marker-huge
    from mlc import te
    with pytest.raises(mlc.ShapeError, match=r"buffer A: extent 2147483648 in shape \(2147483648,\) does "
                                             r"not fit the int32 index type; each dimension must be below 2\*\*31"):
        te.placeholder((2**31,), "float32", "A")


def test_the_largest_indexable_array_traces():
    lowered = mlc.jit(lambda x: x * 2).lower(np.broadcast_to(np.float32(1), (LIMIT,)))
    assert lowered.graph.outputs[0].type.shape == (LIMIT,)


def test_tracing_resolves_each_source_file_once(monkeypatch):
    """Every op traced looks up the user's line through the stack; each file's place (inside
    mlc or NumPy, or the user's) is resolved once, not at every op and frame."""
    import numpy as np
    import mlc
    from mlc.tracer import source

    def chain(x):
        y = x * 1.5 - 0.25
        y = y * 1.5 - 0.25
        y = y * 1.5 - 0.25
        y = y * 1.5 - 0.25
        y = y * 1.5 - 0.25
        return y

    mlc.jit(chain, tiered=False).trace(np.ones(3))  # (every file of the stack seen once)
    resolved = []
    real = source._inside_file
    monkeypatch.setattr(source, "_inside_file", lambda name: resolved.append(name) or real(name))
    traced = mlc.jit(chain, tiered=False).trace(np.ones(3))
    assert len(traced.graph.bindings) >= 5 and len(resolved) == 0
    np.testing.assert_allclose(mlc.jit(chain, tiered=False)(np.ones(3)), chain(np.ones(3)))
