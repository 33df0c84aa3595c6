"""Calling a graph's ``main`` with its inputs: constants bound once, outputs allocated per call.

A graph's ``main`` (:mod:`mlc.ir.calls`) takes the graph inputs, then its
constants, then one buffer per result. :class:`MainEntry` is the caller's
side: ``entry(inputs)`` copies non-contiguous inputs in, allocates fresh
outputs on the host (:func:`~mlc.runtime.ndarray.allocator`), runs ``main``
(one native call on the llvm backend; ``main`` allocates its own
workspace, so concurrent calls share nothing) and returns the outputs.

A ``main`` with symbolic shapes (``@mlc.jit(dynamic=...)``) binds its sizes from
the inputs at each call (:class:`~mlc.runtime.sizes.SizeBinder`: a ShapeError
where the inputs disagree, or a size that must not be 0 is) and allocates each
output at them.

``single=True``: ``entry(inputs)`` returns the one output itself, not a list.
``checked=True`` (``MLC_DEBUG``) calls ``main`` as ``lib[name](...)`` does,
checking every array against its parameter; otherwise the backend's C
entry point gets data pointers directly when it has one.

On a CUDA device (``device=mlc.cuda()``, the device of a ``cuda`` module) the
outputs are CuPy arrays from CuPy's memory pool, and every input becomes a
contiguous CuPy array first (:func:`~mlc.runtime.ndarray.to_device`): NumPy
inputs are copied to the device, DLPack and ``__cuda_array_interface__``
objects are taken without a copy. The constants move to the device on the
first call; without a CUDA device that call raises DeviceError.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import MLCError
from .module import Function
from .ndarray import allocator, c_contiguous, cpu, device_array_type, empty_maker, numpy_allocates, to_device
from .pointers import data_pointer
from .sizes import SizeBinder, is_symbolic

__all__ = ["MainEntry"]


class MainEntry:
    """``entry(inputs) -> [output arrays]`` for graph main ``function``, whose first
    ``n_inputs`` parameters are inputs, the next ``len(constants)`` the ``constants``.
    ``nonempty``: (size, message) of each size of a main with symbolic shapes that a call
    must not make 0 (:class:`~mlc.runtime.sizes.SizeBinder`)."""

    __slots__ = ("function", "n_inputs", "constants", "outputs", "single", "run", "fast_maker", "sizes")

    def __init__(self, function: Function, n_inputs: int, constants: Sequence[np.ndarray] = (),
                 checked: bool = False, device=None, single: bool = False, nonempty=()):
        n_params = len(function.specs)
        if not 0 <= n_inputs <= n_params - len(constants):
            raise MLCError(f"{function.name} takes {n_params} arrays; {n_inputs} inputs and "
                           f"{len(constants)} constants do not fit")
        self.function, self.n_inputs = function, n_inputs
        if single and len(function.specs) - n_inputs - len(constants) != 1:
            raise MLCError(f"{function.name}: single=True needs exactly one output")
        self.single = single
        self.constants = tuple(np.ascontiguousarray(c).reshape(np.shape(c)) for c in constants)  # 0-d stays 0-d
        #: (shape, dtype) of each output
        self.outputs = tuple((shape, np.dtype(dtype)) for _, dtype, _, shape in
                             function.specs[n_inputs + len(constants):])
        #: (main's fast entry, the Python function making its output or None where NumPy's
        #: C API makes it) where main has one (:mod:`.fast_calls`), takes no constants and
        #: returns one array (:meth:`make_fast`); None otherwise
        self.fast_maker = None
        params = function.func.params
        #: the binder of a call's sizes where main has symbolic shapes (:meth:`sizes.bind`), else None
        self.sizes = (SizeBinder(function.name, params[:n_inputs], nonempty) if is_symbolic(params)
                      else None)
        device = device or cpu()
        if self.sizes is not None and device.kind == "cpu":
            self.run = self._sized(allocator(device), checked)
            return
        if device.kind != "cpu":
            self.run = self._on_device(device, checked)
            return
        empty = allocator(device)
        # the object entry takes id(array) and reads the data pointer itself: cheaper than
        # reading it here (data_pointer), which the plain C entry needs
        native, ptr = ((function.object_entry, id) if function.object_entry is not None else
                       (function.native, data_pointer))
        self.run = (self._checked(empty) if checked else
                    self._native(native, ptr, empty) if native is not None else self._arrays(empty))
        fast = function.fast_entry
        if fast is not None and not checked and not self.constants and len(self.outputs) == 1 and single:
            shape, dtype = self.outputs[0]
            self.fast_maker = (fast, None if numpy_allocates(empty, shape, dtype) else
                               empty_maker(empty, shape, dtype))

    def make_fast(self, scalars=(), keywords=()):
        """(builtin, declined): ``builtin(*inputs)`` is the output (what ``run`` returns,
        single) where it ran, ``declined`` where it did not; made now if not before; None
        where main has none. ``scalars``: for each input, the type of the Python number
        the builtin takes in its place by value, or None for an array; ``keywords``: the
        names by which the last inputs may come (``builtin(x, y=y)``)."""
        if self.fast_maker is None:
            return None
        entry, new_output = self.fast_maker
        made = entry(new_output, scalars, keywords)
        return None if made is None else made[:2]

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.run(inputs)

    def _native(self, cfunc, ptr, empty):
        """``ptr(array)`` of each array straight to the C entry ``cfunc``; the constants'
        computed once."""
        consts, types, keep = tuple(map(ptr, self.constants)), self.outputs, self.constants
        contiguous = np.ascontiguousarray
        if len(types) == 1 and not consts and self.n_inputs in _UNPACKED:  # the common case
            return _UNPACKED[self.n_inputs](cfunc, ptr, empty_maker(empty, *types[0]), self.single)
        single, makers = self.single, [empty_maker(empty, shape, dtype) for shape, dtype in types]

        def run(inputs, _keep=keep):  # _keep: the constants live as long as the function
            inputs = [a if a.flags.c_contiguous else contiguous(a) for a in inputs]  # kept alive
            outs = [new() for new in makers]
            cfunc(*map(ptr, inputs), *consts, *map(ptr, outs))
            return outs[0] if single else outs
        return run

    def _arrays(self, empty):
        kernel, consts, types, single = self.function.kernel, list(self.constants), self.outputs, self.single

        def run(inputs):
            outs = [empty(shape, dtype) for shape, dtype in types]
            kernel([a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in inputs] + consts + outs)
            return outs[0] if single else outs
        return run

    def _sized(self, empty, checked: bool):
        """The sizes bound from the inputs (and checked) first, each output allocated at them."""
        function, consts, single, bind = self.function, list(self.constants), self.single, self.sizes.bind
        kernel = function if checked else (lambda *arrays, _k=function.kernel: _k(arrays))
        shape = SizeBinder.shape
        types = [(p.shape, np.dtype(p.dtype)) for p in function.func.params[self.n_inputs + len(consts):]]

        def run(inputs):
            sizes = bind(inputs)
            outs = [empty(shape(extents, sizes), dtype) for extents, dtype in types]
            kernel(*[c_contiguous(a) for a in inputs], *consts, *outs)
            return outs[0] if single else outs
        return run

    def _checked(self, empty):
        fn, consts, types, single = self.function, list(self.constants), self.outputs, self.single

        def run(inputs):
            outs = [empty(shape, dtype) for shape, dtype in types]
            fn(*[c_contiguous(a) for a in inputs], *consts, *outs)
            return outs[0] if single else outs
        return run

    def _on_device(self, device, checked: bool):
        """CuPy arrays in and out; the allocator and the constants' device copies are made
        on the first call (a build needs no device, a call does)."""
        call = self.function if checked else (lambda *arrays, _k=self.function.kernel: _k(arrays))
        host_constants, types, single = self.constants, self.outputs, self.single
        ready: list = []  # [(empty, device constants, the CuPy array type)] after the first call
        index = device.index

        def run(inputs):
            if not ready:
                ready.append((allocator(device), [to_device(c, device) for c in host_constants],
                              device_array_type(device)))
            empty, consts, ndarray = ready[0]
            arrays = [a if type(a) is ndarray and a.flags.c_contiguous and a.device.id == index
                      else to_device(a, device) for a in inputs]
            outs = [empty(shape, dtype) for shape, dtype in types]
            call(*arrays, *consts, *outs)
            return outs[0] if single else outs
        return run

    def __repr__(self) -> str:
        return f"<MainEntry {self.function.name}: {self.n_inputs} input(s), {len(self.outputs)} output(s)>"


# One output, no constants, 1 to 3 inputs: the inputs unpacked by name, which saves a
# list and an iterator per call (the jit's cache-hit cost is mostly this function).

def _one_input(cfunc, ptr, new_output, single):
    contiguous = np.ascontiguousarray

    def run(inputs):
        (x0,) = inputs
        if not x0.flags.c_contiguous:
            x0 = contiguous(x0)
        out = new_output()
        cfunc(ptr(x0), ptr(out))
        return out if single else [out]
    return run


def _two_inputs(cfunc, ptr, new_output, single):
    contiguous = np.ascontiguousarray

    def run(inputs):
        x0, x1 = inputs
        if not x0.flags.c_contiguous:
            x0 = contiguous(x0)
        if not x1.flags.c_contiguous:
            x1 = contiguous(x1)
        out = new_output()
        cfunc(ptr(x0), ptr(x1), ptr(out))
        return out if single else [out]
    return run


def _three_inputs(cfunc, ptr, new_output, single):
    contiguous = np.ascontiguousarray

    def run(inputs):
        x0, x1, x2 = inputs
        if not x0.flags.c_contiguous:
            x0 = contiguous(x0)
        if not x1.flags.c_contiguous:
            x1 = contiguous(x1)
        if not x2.flags.c_contiguous:
            x2 = contiguous(x2)
        out = new_output()
        cfunc(ptr(x0), ptr(x1), ptr(x2), ptr(out))
        return out if single else [out]
    return run


_UNPACKED = {1: _one_input, 2: _two_inputs, 3: _three_inputs}
