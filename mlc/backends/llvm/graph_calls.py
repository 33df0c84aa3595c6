"""A graph's ``main`` in the llvm codegen (mixed into it as :class:`CallCodegen`): the calls
of :mod:`mlc.ir.calls`. A call of a module function stays a call (``call void @kernel(ptr,
...)``); a library call goes through ``mlc_graph_callback`` (:mod:`mlc.runtime.callbacks`);
a declared buffer names another's memory.

>>> CALLBACK_TABLE_SYMBOL
'__mlc_callback_table'
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from llvmlite import ir

from ...errors import CompileError
from ...ir.buffer import Buffer
from ...ir.calls import CallPacked, CallPrimFunc, DeclBuffer
from ...ir.expr import IntImm
from ...runtime.callbacks import CALLBACK_SYMBOL
from .intrinsics import declare
from .types import I64, PTR

__all__ = ["CallCodegen", "FunctionCalls", "CALLBACK_TABLE_SYMBOL"]

#: The module global holding the callback table token of a module's library calls.
CALLBACK_TABLE_SYMBOL = "__mlc_callback_table"


@dataclass
class FunctionCalls:
    """What a graph's ``main`` calls: the LLVM function of each module function (by name),
    and the module's library calls (:class:`~mlc.ir.calls.CallPacked`), in callback-index order;
    ``sizes``: for a function with symbolic shapes, the (argument, dimension) whose extent
    it takes as each size (:func:`~mlc.ir.shape_vars.size_sources`)."""
    functions: Mapping[str, ir.Function]
    library: list = field(default_factory=list)
    sizes: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)


class CallCodegen:
    """The graph-main part of the function codegen (mixed into it): ``builder``, ``module``,
    ``entry``, ``buffers``, ``calls`` and ``checks`` are the codegen's."""

    def _decl_buffer(self, s: DeclBuffer) -> None:
        self.buffers[s.buffer] = self._buffer_pointer(s.data, "decl_buffer")

    def _buffer_pointer(self, buffer: Buffer, where: str) -> ir.Value:
        ptr = self.buffers.get(buffer)
        if ptr is None:
            raise CompileError(f"{where}: buffer {buffer.name} is neither a parameter, allocated, "
                               "nor declared before this statement")
        return ptr

    def _call_prim_func(self, s: CallPrimFunc) -> None:
        """``call void @kernel(ptr, ...)``; a call stays a call (``noinline``): each kernel
        is compiled once. A kernel with symbolic shapes gets after the pointers the extents
        of its arguments that it takes as sizes (``i64 %n``); a bounds-checked kernel also
        gets this function's record."""
        callee = self.calls.functions.get(s.name) if self.calls is not None else None
        if callee is None:
            raise CompileError(f"call_prim_func: the module has no function {s.name!r} to call")
        args = [self._buffer_pointer(b, f"call_prim_func({s.name!r})") for b in s.args]
        for n, d in self.calls.sizes.get(s.name, ()):
            size = self._index(s.args[n].shape[d])
            kind = callee.args[len(args)].type
            args.append(size if kind == size.type else self.builder.trunc(size, kind))
        if self.checks is not None:
            args.append(self.checks.record)
        if len(args) != len(callee.args):
            raise CompileError(f"call_prim_func: {s.name!r} takes {len(callee.args)} pointers, "
                               f"got {len(args)}")
        self.builder.call(callee, args, attrs=("noinline",))

    def _call_packed(self, s: CallPacked) -> None:
        """``mlc_graph_callback(table, index, {data pointers, dynamic extents})``: the runtime calls the
        library function back (:mod:`mlc.runtime.callbacks`); ``table`` is the module's
        global :data:`CALLBACK_TABLE_SYMBOL`, set when the module is loaded."""
        if self.calls is None:
            raise CompileError(f"call_packed({s.name!r}) outside a function that may call")
        b, module = self.builder, self.module
        pointers = [self._buffer_pointer(x, f"call_packed({s.name!r})") for x in s.args]
        # the dynamic extents after the pointers (the table's specs have None there)
        pointers += [b.inttoptr(self._index(e), PTR) for x in s.args for e in x.shape if not isinstance(e, IntImm)]
        index = len(self.calls.library)
        self.calls.library.append(s)
        callback = declare(module, CALLBACK_SYMBOL, ir.FunctionType(ir.VoidType(), [PTR, I64, PTR]))
        table = module.globals.get(CALLBACK_TABLE_SYMBOL)
        if table is None:
            table = ir.GlobalVariable(module, PTR, name=CALLBACK_TABLE_SYMBOL)
            table.initializer = ir.Constant(PTR, None)
        array = ir.IRBuilder(self.entry).alloca(ir.ArrayType(PTR, max(len(pointers), 1)))
        for k, p in enumerate(pointers):
            b.store(p, b.gep(array, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), k)]))
        b.call(callback, [b.load(table, typ=PTR), ir.Constant(I64, index), array])
