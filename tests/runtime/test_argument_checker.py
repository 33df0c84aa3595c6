"""The one argument check (mlc.runtime.arguments) serves any kind of array: NumPy's for host
backends, and a device backend's own (here a stand-in device array, as a new GPU backend
would declare it), with the same rules and messages, the kind naming its library."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlc import te
from mlc.errors import DeviceError, DTypeError, ShapeError
from mlc.runtime.arguments import HOST, ArgumentChecker, ArrayKind, check_arguments, written_params


class _DeviceArray:
    """A device array: NumPy memory behind an array's attributes, on device ``device``."""

    def __init__(self, data, device=0):
        self.data, self.device = data, device

    dtype = property(lambda self: self.data.dtype)
    shape = property(lambda self: self.data.shape)
    flags = property(lambda self: self.data.flags)


def _refusal(name, pname, pdtype, arg):
    if not isinstance(arg, _DeviceArray):
        return DTypeError(f"{name}(): argument {pname} must be a device array of {pdtype}")
    return None


def _device_error(name, pname, arg):
    return None if arg.device == 0 else DeviceError(f"{name}(): argument {pname} is on device {arg.device}")


DEVICE = ArrayKind(_DeviceArray, _refusal, "dev", host=False, device_error=_device_error)


def _scale(shape):
    X = te.placeholder(shape, "float32", "X")
    return te.create_prim_func([X, te.compute(shape, lambda *i: X[i] * 2, "Y")])


_shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@settings(max_examples=20, deadline=None)
@given(shape=_shapes, kind=st.sampled_from(["host", "device"]))
def test_both_kinds_take_a_right_call_and_refuse_a_wrong_one_alike(shape, kind):
    f = _scale(shape)
    wrap, array_kind = (lambda a: a, HOST) if kind == "host" else (_DeviceArray, DEVICE)
    check = ArgumentChecker("f", f.params, written_params(f), kind=array_kind)
    x, y = np.ones(shape, "float32"), np.zeros(shape, "float32")
    assert check((wrap(x), wrap(y))) is None
    with pytest.raises(DTypeError, match="argument Y must have dtype float32, got float64"):
        check((wrap(x), wrap(y.astype("float64"))))
    bigger = shape[:-1] + (shape[-1] + 1,)
    with pytest.raises(ShapeError, match=rf"argument X must have shape {shape!r}".replace("(", r"\(").replace(")", r"\)")):
        check((wrap(np.ones(bigger, "float32")), wrap(y)))
    with pytest.raises(ShapeError, match=r"takes 2 arrays \(X, Y\), got 1"):
        check((wrap(x),))
    strided = np.ones(shape[:-1] + (2 * shape[-1],), "float32")[..., ::2]
    if not strided.flags.c_contiguous:
        library = "np" if kind == "host" else "dev"
        with pytest.raises(ShapeError, match=f"must be C-contiguous; pass {library}.ascontiguousarray"):
            check((wrap(strided), wrap(y)))


def test_each_kind_refuses_what_is_not_its_array_and_what_is_elsewhere():
    f = _scale((3,))
    x = np.ones(3, "float32")
    with pytest.raises(DTypeError, match="must be a numpy.ndarray of float32, got list"):
        check_arguments("f", f.params, [[1.0, 2.0, 3.0], x])
    with pytest.raises(DTypeError, match="must be a device array of float32"):
        check_arguments("f", f.params, [x, _DeviceArray(x)], kind=DEVICE)
    with pytest.raises(DeviceError, match="argument Y is on device 1"):
        check_arguments("f", f.params, [_DeviceArray(x), _DeviceArray(x.copy(), device=1)], kind=DEVICE)


def test_only_host_arrays_are_checked_for_aliasing_and_read_only_outputs():
    f = _scale((4,))
    check = ArgumentChecker("f", f.params, written_params(f))
    x = np.ones(4, "float32")
    with pytest.raises(Exception, match="share memory"):
        check((x, x))
    frozen = np.zeros(4, "float32")
    frozen.flags.writeable = False
    with pytest.raises(Exception, match="is written but the array is read-only"):
        check((x, frozen))
    device = ArgumentChecker("f", f.params, written_params(f), kind=DEVICE)
    assert device((_DeviceArray(x), _DeviceArray(x))) is None  # a device's memory is the device's business


def test_checked_takes_another_librarys_array_as_the_kinds_view():
    class Foreign:  # another library's device array: converted, then checked
        def __init__(self, data):
            self.data = data

    kind = ArrayKind(_DeviceArray, _refusal, "dev", host=False, device_error=_device_error,
                     convert=lambda a: _DeviceArray(a.data) if isinstance(a, Foreign) else a)
    f = _scale((3,))
    check = ArgumentChecker("f", f.params, written_params(f), kind=kind)
    x, y = np.ones(3, "float32"), np.zeros(3, "float32")
    out = check.checked((Foreign(x), _DeviceArray(y)))
    assert type(out[0]) is _DeviceArray and out[0].data is x
    with pytest.raises(DTypeError, match="argument X must have dtype float32, got float64"):
        check.checked((Foreign(x.astype("float64")), _DeviceArray(y)))


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 9), k=st.integers(1, 3))
def test_written_params_are_the_stored_ones_found_without_entering_expressions(n, k):
    """The parameters a function stores to, read off its statements (no expression holds a
    store): the same as a walk of every node finds, without entering one expression."""
    from unittest import mock

    from mlc.ir.expr import PrimExpr
    from mlc.ir.functor import pre_order_nodes
    from mlc.ir.tir import BufferStore
    from mlc.passes.tir import lower
    import mlc.runtime.arguments as arguments
    A = te.placeholder((n, k), "float32", "A")
    B = te.compute((n, k), lambda i, j: A[i, j] * 2, "B")
    C = te.compute((n,), lambda i: B[i, 0] + A[i, k - 1], "C")
    f = lower(te.create_prim_func([A, B, C]))
    want = frozenset(m for m, p in enumerate(f.params)
                     if any(isinstance(s, BufferStore) and s.buffer is p for s in pre_order_nodes(f.body)))
    seen = []
    real = arguments.pre_order_statements
    with mock.patch.object(arguments, "pre_order_statements", lambda root: (seen.append(s) or s for s in real(root))):
        got = written_params(f)
    assert got == want == frozenset({1, 2})
    assert seen and not any(isinstance(s, PrimExpr) for s in seen)
