"""The one check of a call's arguments against a function's parameters, for every backend.

Each array must be what the function was compiled for: the backend's kind of array
(:class:`ArrayKind`: NumPy's for host backends, :data:`HOST`; a GPU backend's device
arrays), the parameter's dtype in native byte order, its shape (symbolic extents
bound consistently), C-contiguous; host arrays written must be writeable and, under
the function's ``tir.noalias`` promise, share no memory with another argument;
device arrays must live on the current device. :func:`check_arguments` says what is
wrong in a typed error; :class:`ArgumentChecker` takes a call its kind checks in a
glance (:func:`plain_arguments` for NumPy arrays) without it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DTypeError, MLCError, ShapeError
from ..ir.buffer import Buffer
from ..ir.expr import IntImm
from ..ir.functor import pre_order_statements
from ..ir.shape_vars import bind_shapes, shape_to_str
from ..ir.tir import BufferStore, PrimFunc
from .ndarray import NDArray, is_masked_array, subclass_refusal
from .pointers import data_pointer, overlapping_pair

__all__ = ["ArrayKind", "HOST", "ArgumentChecker", "check_arguments", "param_specs", "written_params",
           "plain_arguments", "C_CONTIGUOUS", "OWNDATA", "WRITEABLE", "OWNER_DEPTH"]

_ndarray = np.ndarray


@dataclass(frozen=True)
class ArrayKind:
    """The arrays a backend's functions take, as far as checking a call needs to know them.

    ``exact``: the array type whose instances skip ``refusal`` (the common case);
    ``refusal(name, param, dtype, arg)``: the error for an argument of another type that
    is not such an array (or None: it is one, a subclass say); ``library``: the module a
    fix is spelled with (``np.ascontiguousarray(x)``); ``host``: arrays in host memory
    (then written ones must be writeable and do not alias where the function promises
    it); ``device_error(name, param, arg)``: the error for an array on another device
    than the current one, or None; ``plain(specs, written, noalias)``: ``ok(args)``, the
    common call recognised in a few attribute reads an array, or None (every call takes
    :func:`check_arguments`); ``convert(arg)``: another library's array as this kind's
    (a view, no copy), anything else as it is (:meth:`ArgumentChecker.checked`).
    """
    exact: type
    refusal: Callable[[str, str, str, object], MLCError | None]
    library: str
    host: bool = True
    device_error: Callable[[str, str, object], MLCError | None] | None = None
    plain: Callable | None = None
    convert: Callable[[object], object] | None = None


def _host_refusal(name: str, pname: str, pdtype: str, arg) -> MLCError | None:
    if not isinstance(arg, np.ndarray):
        return DTypeError(f"{name}(): argument {pname} must be a numpy.ndarray of "
                          f"{pdtype}, got {type(arg).__name__}; wrap it with np.asarray")
    if is_masked_array(arg):
        return DTypeError(f"{name}(): argument {pname} is a masked array; its mask would be "
                          "ignored. Pass plain data: np.ma.getdata(x), or x.filled(value)")
    refusal = subclass_refusal(arg)
    return None if refusal is None else DTypeError(f"{name}(): argument {pname} is {refusal}")


def param_specs(params: Sequence[Buffer]) -> tuple[tuple[str, str, np.dtype, tuple[int | None, ...]], ...]:
    """(name, dtype name, NumPy dtype, shape) of each parameter: what a call is checked against.
    A symbolic extent is None in the shape (checked by :func:`~mlc.ir.shape_vars.bind_shapes`)."""
    return tuple((p.name, p.dtype, np.dtype(p.dtype),
                  tuple(e.value if isinstance(e, IntImm) else None for e in p.shape))
                 for p in params)


def check_arguments(name: str, params: Sequence[Buffer], args: Sequence, written: frozenset[int] = frozenset(),
                    noalias: bool = True, specs=None, kind: ArrayKind | None = None) -> list[int] | None:
    """Raise ShapeError/DTypeError (DeviceError, MLCError) naming the parameter whose argument is wrong.

    ``params`` are the function's parameters, ``kind`` the arrays it takes (:data:`HOST`,
    NumPy's, unless given). ``written`` holds the positions of parameters the function
    stores to; host arrays written must be writeable and, when ``noalias``, share no
    memory with another argument. ``specs`` is ``param_specs(params)``, precomputed.
    Returns the arrays' data pointers where the alias check read them (else None).

    >>> from mlc import te
    >>> X = te.placeholder((4,), "float32", "X")
    >>> f = te.create_prim_func([X, te.compute((4,), lambda i: X[i] * 2, "Y")])
    >>> check_arguments("f", f.params, [np.ones(4, "float32"), np.ones(3, "float32")])
    Traceback (most recent call last):
    mlc.errors.ShapeError: f(): argument Y must have shape (4,), got (3,)
    """
    kind = kind or HOST
    specs = specs or param_specs(params)
    if len(args) != len(specs):
        names = ", ".join(s[0] for s in specs)
        raise ShapeError(f"{name}() takes {len(specs)} arrays ({names}), got {len(args)}")
    symbolic = False
    exact, host, on_device = kind.exact, kind.host, kind.device_error
    for n, ((pname, pdtype, expected, shape), arg) in enumerate(zip(specs, args)):
        if type(arg) is not exact:  # (a subclass, or no array: the slow checks)
            error = kind.refusal(name, pname, pdtype, arg)
            if error is not None:
                raise error
        dtype = arg.dtype
        if dtype is not expected and dtype != expected:  # (dtype.name is slow: only on error)
            if dtype.name == pdtype:
                raise DTypeError(f"{name}(): argument {pname} has non-native byte order "
                                 f"({dtype.str}); the kernel reads native {pdtype}. Convert it "
                                 f"with .astype('{pdtype}')")
            raise DTypeError(f"{name}(): argument {pname} must have dtype {pdtype}, "
                             f"got {dtype.name}; convert it with .astype('{pdtype}')")
        if arg.shape != shape:
            if None not in shape:
                raise ShapeError(f"{name}(): argument {pname} must have shape {shape}, got {arg.shape}")
            if len(arg.shape) != len(shape):
                raise ShapeError(f"{name}(): argument {pname} must have {len(shape)} dimension(s), "
                                 f"shape {shape_to_str(params[n].shape)}, got {arg.shape}")
            symbolic = True  # checked below, once every argument has been seen
        flags = arg.flags
        if not flags.c_contiguous:
            raise ShapeError(f"{name}(): argument {pname} must be C-contiguous; pass "
                             f"{kind.library}.ascontiguousarray(x)")
        if host and not flags.writeable and n in written:
            raise MLCError(f"{name}(): argument {pname} is written but the array is read-only")
        if on_device is not None:
            error = on_device(name, pname, arg)
            if error is not None:
                raise error
    if symbolic:  # symbolic extents: bind and cross-check them
        bind_shapes(name, params, [a.shape for a in args])
    if host and noalias and written and len(args) > 1:
        pointers = [data_pointer(a) for a in args]
        pair = overlapping_pair(args, written, pointers)
        if pair is not None:
            m, n = pair
            raise MLCError(f"{name}(): arguments {specs[m][0]} and {specs[n][0]} share memory, "
                           f"and {specs[n if n in written else m][0]} is written; the kernel is "
                           "compiled assuming its arrays do not alias (tir.noalias). Pass a copy "
                           "(x.copy()) or a separate output array")
        return pointers
    return None


def written_params(func: PrimFunc) -> frozenset[int]:
    """Positions of the parameters ``func`` stores to (its statements walked, not their
    expressions: no expression holds a store)."""
    stored = {id(n.buffer) for n in pre_order_statements(func.body) if isinstance(n, BufferStore)}
    return frozenset(n for n, p in enumerate(func.params) if id(p) in stored)


#: NumPy's array flag bits (``ndarray.flags.num``; NPY_ARRAY_C_CONTIGUOUS, _OWNDATA, _WRITEABLE).
C_CONTIGUOUS, OWNDATA, WRITEABLE = 0x1, 0x4, 0x400


#: How far down its chain of ``base`` arrays the quick check looks for an array's owner
#: (an ``mlc.nd`` array: itself, its typed view, the aligned buffer).
OWNER_DEPTH = 3


def plain_arguments(specs, written: frozenset[int], noalias: bool):
    """``ok(args)``: whether ``args`` pass :func:`check_arguments` trivially, decided in a
    few attribute reads an array (None for a function with symbolic shapes): each is a
    plain ``numpy.ndarray`` or an ``mlc.nd`` array of exactly its parameter's (native,
    canonical) dtype and shape, C-contiguous, writeable where written, and, where aliasing
    matters, each written array has an owner no other argument has: the array itself if it
    owns its memory, else the first array down its chain of ``base`` arrays that does (an
    ``mlc.nd`` array is a view of an aligned buffer of its own); arrays of different
    owners never share memory, and arrays only read may be one array (``f(x, x, out)``).
    Any other call takes the full check (which reads data pointers to compare byte
    ranges, and explains).

    >>> from mlc import te
    >>> X = te.placeholder((4,), "float32", "X")
    >>> f = te.create_prim_func([X, te.compute((4,), lambda i: X[i] * 2, "Y")])
    >>> ok = plain_arguments(param_specs(f.params), written_params(f), noalias=True)
    >>> x, y = np.ones(4, "float32"), np.empty(4, "float32")
    >>> ok((x, y)), ok((y, y)), ok((np.ones(8, "float32")[::2], y)), ok((x, y[:3]))
    (True, False, False, False)
    >>> from mlc.runtime.ndarray import aligned_empty
    >>> z = aligned_empty((8,), "float32")
    >>> ok((x, z[:4])), ok((z[:4], z[4:]))  # a view of one buffer, two views of one
    (True, False)
    >>> g = te.create_prim_func([X, X2 := te.placeholder((4,), "float32", "X2"),
    ...                          te.compute((4,), lambda i: X[i] + X2[i], "Z")])
    >>> ok2 = plain_arguments(param_specs(g.params), written_params(g), noalias=True)
    >>> ok2((x, x, y)), ok2((x, y, y))  # an array read twice; an array read and written
    (True, False)
    """
    if any(None in shape for _, _, _, shape in specs):
        return None
    aliasing = noalias and bool(written) and len(specs) > 1
    expected = tuple((dtype, shape, C_CONTIGUOUS | (WRITEABLE if n in written else 0))
                     for n, (_, _, dtype, shape) in enumerate(specs))
    count = len(expected)

    def ok(args) -> bool:
        if len(args) != count:
            return False
        owners: dict[int, int] = {}  # id(owner) -> whether an argument of it is written
        n = 0
        for arg in args:
            dtype, shape, flags = expected[n]
            kind = type(arg)
            if (kind is not _ndarray and kind is not NDArray) or arg.dtype is not dtype or arg.shape != shape:
                return False
            num = arg.flags.num
            if num & flags != flags:
                return False
            if aliasing:
                depth = 0
                while not num & OWNDATA:  # the owner: down the chain of bases
                    arg = arg.base
                    depth += 1
                    if depth > OWNER_DEPTH or not isinstance(arg, _ndarray):
                        return False
                    num = arg.flags.num
                writes = flags & WRITEABLE
                seen = owners.get(id(arg))
                if seen is not None and (seen or writes):
                    return False
                owners[id(arg)] = writes
            n += 1
        return True
    return ok


#: NumPy arrays in host memory: what the CPU backends, the reference and the emulator take.
HOST = ArrayKind(_ndarray, _host_refusal, "np", plain=plain_arguments)


class ArgumentChecker:
    """``check(args)``: the arguments of one function checked (:func:`check_arguments`), a
    call :attr:`ArrayKind.plain` recognises in a glance without it. Returns the arrays'
    data pointers where the full check read them, else None.

    >>> from mlc import te
    >>> X = te.placeholder((4,), "float32", "X")
    >>> f = te.create_prim_func([X, te.compute((4,), lambda i: X[i] * 2, "Y")])
    >>> check = ArgumentChecker("f", f.params, written_params(f))
    >>> check((np.ones(4, "float32"), np.ones(4, "float32"))) is None
    True
    >>> check((np.ones(4, "float32"), np.ones(4, "int32")))
    Traceback (most recent call last):
    mlc.errors.DTypeError: f(): argument Y must have dtype float32, got int32; convert it with .astype('float32')
    """

    __slots__ = ("name", "params", "written", "noalias", "specs", "kind", "plain")

    def __init__(self, name: str, params: Sequence[Buffer], written: frozenset[int] = frozenset(),
                 noalias: bool = True, kind: ArrayKind | None = None):
        self.name, self.params, self.written, self.noalias = name, tuple(params), written, noalias
        self.kind = kind or HOST
        self.specs = param_specs(self.params)
        self.plain = None if self.kind.plain is None else self.kind.plain(self.specs, written, noalias)

    def __call__(self, args) -> list[int] | None:
        plain = self.plain
        if plain is not None and plain(args):
            return None
        return self.full(args)

    def checked(self, args):
        """``args`` checked, each converted by the kind first (:attr:`ArrayKind.convert`)
        unless the call is plain: the arrays to run on."""
        plain = self.plain
        if plain is not None and plain(args):
            return args
        convert = self.kind.convert
        if convert is not None:
            args = tuple(map(convert, args))
        self.full(args)
        return args

    def full(self, args) -> list[int] | None:
        """The whole check, which explains what is wrong."""
        return check_arguments(self.name, self.params, args, self.written, self.noalias, self.specs, self.kind)
