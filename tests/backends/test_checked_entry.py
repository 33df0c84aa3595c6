"""The llvm build's checked entries (``mlc.backends.llvm.entries``): ``lib[name](...)``'s
arguments checked in native code run the kernel exactly where the Python checks would have
let it run at a glance, and decline (running nothing) everywhere else, where the Python
checks then accept or explain."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import mlc
from mlc import te
from mlc.runtime import fast_calls
from mlc.runtime.pointers import ARRAY_LAYOUT

pytestmark = pytest.mark.skipif(ARRAY_LAYOUT is None, reason="this interpreter's ndarray layout was not recognised")


@pytest.fixture(scope="module")
def fn():
    # a float32 matrix, an int16 vector, a float64 scalar in; a float32 matrix out
    A = te.placeholder((2, 3), "float32", "A")
    C = te.placeholder((3,), "int16", "C")
    S = te.placeholder((), "float64", "S")
    B = te.compute((2, 3), lambda i, j: A[i, j] * 2 + C[j].astype("float32") + S[()].astype("float32"), "B")
    return mlc.build(mlc.IRModule({"f": te.create_prim_func([A, C, S, B])}), "llvm")["f"]


class _Sub(np.ndarray):
    """A subclass the native check does not know: the Python checks decide."""


_SHAPES = {0: (2, 3), 1: (3,), 2: (), 3: (2, 3)}
_DTYPES = {0: "float32", 1: "int16", 2: "float64", 3: "float32"}


def _make(kind: str, p: int, others: list):
    shape, dtype = _SHAPES[p], _DTYPES[p]
    fresh = np.array(np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape) + 1)  # (0-d: an array)
    if kind == "plain":
        return fresh
    if kind == "nd":
        return mlc.nd.array(fresh)
    if kind == "view":  # contiguous, a view of an owner of its own
        return np.concatenate([fresh.reshape(-1), fresh.reshape(-1)])[:fresh.size].reshape(shape)
    if kind == "dtype":
        return fresh.astype("float64" if dtype != "float64" else "float32")
    if kind == "shape":
        return np.zeros((7,) + shape, dtype)
    if kind == "extent":  # the rank expected, one extent not (the first or the last)
        return np.zeros(shape[:-1] + (shape[-1] + 1,), dtype) if len(shape) % 2 else \
            np.zeros((shape[0] + 1,) + shape[1:], dtype) if shape else fresh
    if kind == "strided":
        return np.repeat(fresh[..., None], 2, axis=-1)[..., 0] if shape else fresh
    if kind == "readonly":
        fresh.flags.writeable = False
        return fresh
    if kind == "subclass":
        return fresh.view(_Sub)
    if kind == "swapped":
        return fresh.astype(np.dtype(dtype).newbyteorder())
    if kind == "list":
        return fresh.tolist()
    if kind == "same" and others:  # another argument itself
        return others[-1]
    if kind == "sibling" and others and isinstance(others[-1], np.ndarray) and others[-1].dtype == dtype \
            and others[-1].shape == shape:  # a view of another argument's owner
        return others[-1][...]
    return fresh


_KINDS = ["plain", "nd", "view", "dtype", "shape", "extent", "strided", "readonly", "subclass", "swapped", "list",
          "same", "sibling"]


@settings(max_examples=300, deadline=None)
@given(kinds=st.lists(st.sampled_from(_KINDS), min_size=4, max_size=4), common=st.booleans())
def test_the_native_checks_run_the_kernel_exactly_where_the_python_checks_would(fn, kinds, common):
    if common:  # mostly the arrays people pass, one argument at most otherwise
        kinds = [k if n == kinds.count(k) % 4 else "plain" for n, k in enumerate(kinds)]
    args = []
    for p, kind in enumerate(kinds):
        args.append(_make(kind, p, args))
    out = args[3]
    before = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
    python_says = fn._plain(tuple(args))
    exotic = any(isinstance(a, np.ndarray) and type(a) not in (np.ndarray, mlc.nd.NDArray) for a in args)
    ran = fn.checked_kernel(tuple(args))
    if exotic:
        assert not ran  # an unknown subclass: the Python checks decide
    else:
        assert ran == python_says, (kinds, ran, python_says)
    if ran:
        a, c, s = (np.asarray(x) for x in args[:3])
        np.testing.assert_array_equal(np.asarray(out), a * 2 + c.astype("float32") + np.float32(s))
    elif before is not None:
        np.testing.assert_array_equal(np.asarray(out), before)  # nothing ran


def test_a_plain_call_takes_the_native_checks_alone(fn, monkeypatch):
    args = [_make("plain", p, []) for p in range(4)]
    assert fn.checked_kernel is not None

    def python_checks(*_):
        raise AssertionError("the Python checks ran")
    monkeypatch.setattr(fn, "_plain", python_checks)
    fn(*args)
    np.testing.assert_array_equal(args[3], args[0] * 2 + args[1] + np.float32(args[2]))
    fn(*[_make("nd", p, []) for p in range(4)])
    with pytest.raises(AssertionError, match="Python checks ran"):  # a declined call goes on to them
        fn(args[0], args[1], args[2], args[0])


def test_declined_calls_get_the_python_checks_errors(fn):
    good = [_make("plain", p, []) for p in range(4)]
    with pytest.raises(mlc.DTypeError, match="argument C must have dtype int16"):
        fn(good[0], good[1].astype("int32"), good[2], good[3])
    with pytest.raises(mlc.ShapeError, match=r"argument S must have shape \(\)"):
        fn(good[0], good[1], np.zeros(1), good[3])
    with pytest.raises(mlc.MLCError, match="share memory"):
        fn(good[3], good[1], good[2], good[3])
    with pytest.raises(mlc.ShapeError, match=r"takes 4 arrays"):
        fn(*good[:3])
    sub = [a.view(_Sub) for a in good]  # a subclass the native check declines, Python accepts
    fn(*sub)
    np.testing.assert_array_equal(np.asarray(sub[3]), good[0] * 2 + good[1] + np.float32(good[2]))


def test_a_symbolic_shape_has_no_checked_entry():
    n = te.var("n")
    A = te.placeholder((n,), "float32", "A")
    lib = mlc.build(mlc.IRModule({"f": te.create_prim_func([A, te.compute((n,), lambda i: A[i] + 1, "B")])}), "llvm")
    assert lib["f"].checked_kernel is None
    b = np.empty(5, "float32")
    lib["f"](np.ones(5, "float32"), b)
    assert (b == 2).all()


@pytest.fixture(scope="module")
def add():
    A = te.placeholder((2, 3), "float32", "A")
    A2 = te.placeholder((2, 3), "float32", "A2")
    B = te.compute((2, 3), lambda i, j: A[i, j] + A2[i, j] * 2, "B")
    return mlc.build(mlc.IRModule({"f": te.create_prim_func([A, A2, B])}), "llvm")["f"]


def test_an_array_read_twice_passes_both_checks_and_one_also_written_neither(add, monkeypatch):
    """``f(x, x, out)``: arguments only read may be one array (no written one aliases them),
    in the native checks and the Python ones alike; an array also written may not."""
    x = np.arange(6, dtype="float32").reshape(2, 3)
    out = np.empty_like(x)
    for a, b in [(x, x), (x, x[...]), (mlc.nd.array(x),) * 2]:
        assert add.checked_kernel((a, b, out)) and add._plain((a, b, out))
        np.testing.assert_array_equal(out, x * 3)
        out[...] = 0
    for args in [(x, out, out), (out, x, out), (out[...], x, out), (x, out[...], out)]:
        assert not add.checked_kernel(args) and not add._plain(args)
        with pytest.raises(mlc.MLCError, match="share memory"):
            add(*args)

    def python_checks(*_):
        raise AssertionError("the Python checks ran")
    monkeypatch.setattr(add, "_plain", python_checks)
    add(x, x, out)  # the native checks alone
    np.testing.assert_array_equal(out, x * 3)


def _variants(x, d: int) -> dict:
    """Arrays an entry made for ``x``'s dtype and shape takes or declines: the same, and each
    way of differing (extent ``d`` where ``x`` has one)."""
    shape = x.shape
    out = {"same": x.copy(), "nd": mlc.nd.array(x), "dtype": x.astype("float64"), "subclass": x.view(_Sub),
           "swapped": x.astype(x.dtype.newbyteorder()), "more": x[None], "list": x.tolist()}
    out["readonly"] = x.copy()
    out["readonly"].flags.writeable = False
    if shape:
        out["fewer"] = np.zeros(shape[1:], x.dtype)
        out["extent"] = np.zeros(shape[:d] + (shape[d] + 1,) + shape[d + 1:], x.dtype)
        out["strided"] = np.repeat(x[..., None], 2, axis=-1)[..., 0]  # (C-contiguous all the same at extents 1)
        out["reversed"] = x[::-1]
    return out


@settings(max_examples=2, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=8).map(tuple), d=st.integers(0, 7))
@example(shape=(), d=0)
@example(shape=(2, 1, 3, 1, 2, 1, 2, 3), d=7)
def test_both_native_entries_take_exactly_the_arrays_they_were_made_for(shape, d):
    """The checked entry of ``lib["f"]`` and the fast entry of a jitted call's hit emit one
    check (``emit_array_check``): at every rank up to its MAX_DIMS, each runs on an array of
    its parameter's type, dtype object, shape and layout, and declines every other."""
    x = np.asarray(np.arange(int(np.prod(shape)), dtype="float32").reshape(shape) - 3)  # (0-d: an array)
    A = te.placeholder(shape, "float32", "A")
    lib = mlc.build(mlc.IRModule({"f": te.create_prim_func([A, te.compute(shape, lambda *i: A[i] + 1, "B")])}),
                    "llvm")["f"]
    jitted = mlc.jit(lambda a: a + 1, tiered=False)
    jitted(x), jitted(x)
    fast = jitted._specs.hot.fast if fast_calls._SUPPORTED else None
    for kind, a in _variants(x, d % max(len(shape), 1)).items():
        takes = type(a) in (np.ndarray, mlc.nd.NDArray) and a.dtype is x.dtype and a.shape == shape \
            and a.flags.c_contiguous
        out = np.full(shape, -7, "float32")
        assert lib.checked_kernel((a, out)) == takes, (kind, shape)
        np.testing.assert_array_equal(out, np.asarray(a) + 1 if takes else np.full(shape, -7, "float32"))
        if fast is not None:
            got = fast[0](a)
            assert (got is not fast[1]) == takes, (kind, shape)
            if takes:
                np.testing.assert_array_equal(got, np.asarray(a) + 1)
