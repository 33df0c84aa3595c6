"""mlc.numpy's functions generated from the op registry (ops declaring a NumpyAPI), and the
Tracer methods mlc.numpy attaches."""
import inspect
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.numpy as mnp
from mlc import MLCError, TraceError
from mlc.numpy.generated import GENERATED, _generate
from mlc.ops.registry import NumpyAPI, OpDef, get_op, list_ops

DECLARED = [name for name in list_ops() if get_op(name).numpy is not None]


def _has_signature(fn) -> bool:
    try:
        inspect.signature(fn)
    except ValueError:  # a ufunc (np.matmul)
        return False
    return True


def test_the_plain_functions_of_arrays_are_generated():
    assert {"sum", "prod", "mean", "max", "min", "argmax", "argmin", "all", "any", "matmul", "dot",
            "moveaxis", "expand_dims", "squeeze", "flip"} <= set(DECLARED)
    assert set(GENERATED) == set(DECLARED)


@pytest.mark.parametrize("name", DECLARED)
def test_a_generated_function_is_the_public_one_with_the_declared_signature_and_doc(name):
    fn, api = getattr(mnp, name), get_op(name).numpy
    assert fn is GENERATED[name] is mnp.FUNCTIONS[name] and name in mnp.__all__
    assert fn.__name__ == name and fn.__doc__ == api.doc
    assert str(inspect.signature(fn)) == api.signature


@pytest.mark.parametrize("name", [n for n in DECLARED if _has_signature(getattr(np, n))])
def test_a_declared_signature_is_numpys_own(name):
    """NumPy's parameters, in NumPy's order (NumPy may have more after them)."""
    ours, theirs = inspect.signature(getattr(mnp, name)), inspect.signature(getattr(np, name))
    assert list(ours.parameters) == list(theirs.parameters)[:len(ours.parameters)]


@settings(max_examples=25, deadline=None)
@given(axis=st.sampled_from([None, 0, 1, -1, (0, 1)]), keepdims=st.booleans(),
       name=st.sampled_from(["sum", "prod", "max", "min", "all", "any", "mean"]))
def test_generated_reductions_take_numpys_arguments_positionally_too(axis, keepdims, name):
    x = np.arange(1, 7, dtype="int32").reshape(2, 3)
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    no_dtype = name in ("max", "min", "all", "any")
    args = (axis, None, keepdims) if no_dtype else (axis, None, None, keepdims)  # out=None passed
    np.testing.assert_array_equal(getattr(mnp, name)(x, *args), expected)
    traced = mlc.jit(lambda v: getattr(mnp, name)(v, *args))(x)
    np.testing.assert_array_equal(traced, expected)
    assert traced.dtype == expected.dtype


def test_generated_functions_promote_their_array_operands_and_refuse_out():
    a, b = np.ones((2, 3), "float32"), np.ones((3,), "int16")
    assert mnp.matmul(a, b).dtype == np.matmul(a, b).dtype
    with pytest.raises(TraceError, match=r"sum\(out=...\) is not supported when tracing"):
        mlc.jit(lambda v: mnp.sum(v, out=v))(a)
    with pytest.raises(TypeError, match=r"^sum\(\) got an unexpected keyword argument 'keepdim'"):
        mnp.sum(a, keepdim=True)
    with pytest.raises(TypeError, match=r"^expand_dims\(\) missing a required argument: 'axis'"):
        mnp.expand_dims(a)


def _op(signature: str) -> OpDef:
    def infer(x, *, axis=None):
        return x
    return OpDef("test.generated", "reduction", infer, None, None, numpy=NumpyAPI(signature, "doc"))


def test_a_bad_numpy_declaration_is_refused_naming_the_op():
    with pytest.raises(MLCError, match=r"op test.generated: NumpyAPI parameters \['keepdims'\] are not attributes"):
        _generate(_op("(a, axis=None, keepdims=False)"))
    with pytest.raises(MLCError, match="op test.generated: NumpyAPI signature .* is not a Python parameter list"):
        _generate(_op("(a, axis=None"))
    with pytest.raises(MLCError, match="named parameters only"):
        _generate(_op("(a, *axes)"))
    variadic = OpDef("test.generated", "injective", lambda *xs, axis=0: xs[0], None, None,
                     numpy=NumpyAPI("(arrays, axis=0)", "doc"))
    with pytest.raises(MLCError, match="op test.generated: a NumpyAPI needs an op with a fixed number of inputs"):
        _generate(variadic)
    assert str(inspect.signature(_generate(_op("(a, /, *, axis=-1)")))) == "(a, /, *, axis=-1)"


def test_the_tracer_has_no_numpy_methods_until_mlc_numpy_attaches_them():
    code = ("import mlc.tracer.tracer as t, sys; "
            "assert 'mlc.numpy' not in sys.modules, 'the tracer imported mlc.numpy'; "
            "assert not hasattr(t.Tracer, 'sum') and not hasattr(t.Tracer, '__add__'); "
            "assert not hasattr(t.Tracer, '__array_ufunc__'); "
            "import mlc.numpy; "
            "assert t.Tracer.sum and t.Tracer.__add__ and t.Tracer.__array_ufunc__ and t.Tracer.T")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mlc_jit_loads_mlc_numpy_first():
    code = ("import sys, mlc; assert 'mlc.numpy' not in sys.modules; mlc.jit; "
            "assert 'mlc.numpy' in sys.modules, 'mlc.jit traces Tracers without their methods'")
    subprocess.run([sys.executable, "-c", code], check=True)
