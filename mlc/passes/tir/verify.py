"""Checks that a PrimFunc is well formed, and that a lowered one is fully lowered.

``verify_well_formed`` holds between any two passes: every variable is bound
by an enclosing loop or block (or is a symbolic size of a parameter buffer,
which the call's arrays define), every buffer accessed is a parameter or
allocated around the access, indices match the buffer's rank, and dtypes
agree. ``verify_lowered`` adds what the backends rely on: only For,
IfThenElse, SeqStmt, Allocate, BufferStore, Evaluate and LetStmt statements remain
and every buffer is one-dimensional.

Both raise :class:`mlc.IRError` describing the first problem found.
"""
from __future__ import annotations

from ...errors import IRError
from ...ir.arith import free_vars
from ...ir import dtype as dt
from ...ir.buffer import Buffer
from ...ir.expr import Binary, BufferLoad, Let, PrimExpr, Reduce, Var
from ...ir.functor import node_fields
from ...ir.tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse, LetStmt,
                       PrimFunc, SeqStmt, Stmt)

__all__ = ["verify_well_formed", "verify_lowered", "LOWERED_STMTS"]

LOWERED_STMTS = (For, IfThenElse, SeqStmt, Allocate, BufferStore, Evaluate, LetStmt)


def verify_well_formed(func: PrimFunc) -> None:
    """Raise IRError unless every variable and buffer used in ``func`` is in scope."""
    _Checker(func, lowered=False).run()


def verify_lowered(func: PrimFunc) -> None:
    """Raise IRError unless ``func`` is well formed and fully lowered (see module docstring)."""
    _Checker(func, lowered=True).run()


class _Checker:
    """Walks statements with an explicit stack, tracking variables and buffers in scope."""

    def __init__(self, func: PrimFunc, lowered: bool):
        self.func, self.lowered = func, lowered
        self.vars: dict[Var, int] = {}
        self.buffers: dict[Buffer, int] = {}

    def fail(self, msg: str):
        raise IRError(msg)

    def run(self) -> None:
        for p in self.func.params:  # a parameter's symbolic sizes (a_dim0) are the call's
            for e in p.shape + p.strides:
                for v in free_vars(e):
                    self._bind_var(v)
        for p in self.func.params:
            self._bind_buffer(p)
        stack: list = [("stmt", self.func.body)]
        while stack:
            action, item = stack.pop()
            if action == "unbind_var":
                self._release(self.vars, item)
            elif action == "unbind_buffer":
                self._release(self.buffers, item)
            else:
                stack.extend(reversed(self._visit(item)))

    def _bind_var(self, v: Var):
        self.vars[v] = self.vars.get(v, 0) + 1

    def _bind_buffer(self, b: Buffer):
        self._check_buffer(b)
        self.buffers[b] = self.buffers.get(b, 0) + 1

    @staticmethod
    def _release(scope: dict, key) -> None:
        scope[key] -= 1
        if not scope[key]:
            del scope[key]

    def _check_buffer(self, b: Buffer):
        if self.lowered and (b.ndim != 1 or b.strides):
            self.fail(f"buffer {b.name} has shape {tuple(b.shape)!r} after lowering; "
                      "every buffer must be one-dimensional (run flatten_buffers)")
        for e in b.shape + b.strides:
            self._expr(e, what=f"the shape of buffer {b.name}")

    def _visit(self, stmt: Stmt) -> list:
        """Check ``stmt`` itself; return the work items for its children."""
        if not isinstance(stmt, Stmt):
            self.fail(f"expected a statement, found {type(stmt).__name__}")
        if self.lowered and not isinstance(stmt, LOWERED_STMTS):
            self.fail(f"{type(stmt).__name__} remains after lowering; only "
                      f"{', '.join(t.__name__ for t in LOWERED_STMTS)} may remain")
        if isinstance(stmt, For):
            self._expr(stmt.min, "a loop minimum")
            self._expr(stmt.extent, "a loop extent")
            self._bind_var(stmt.loop_var)
            return [("stmt", stmt.body), ("unbind_var", stmt.loop_var)]
        if isinstance(stmt, LetStmt):
            self._expr(stmt.value, f"the value of {stmt.var.name}")
            self._bind_var(stmt.var)
            return [("stmt", stmt.body), ("unbind_var", stmt.var)]
        if isinstance(stmt, Allocate):
            self._bind_buffer(stmt.buffer)
            return [("stmt", stmt.body), ("unbind_buffer", stmt.buffer)]
        if isinstance(stmt, BufferStore):
            self._access(stmt.buffer, stmt.indices, "store to")
            self._expr(stmt.value, f"the value stored to {stmt.buffer.name}")
            if dt.element(stmt.value.dtype) != stmt.buffer.dtype:
                self.fail(f"a {stmt.value.dtype} value is stored to {stmt.buffer.dtype} buffer "
                          f"{stmt.buffer.name}; insert a cast")
            if dt.lanes(stmt.value.dtype) != (dt.lanes(stmt.indices[-1].dtype) if stmt.indices else 1):
                self.fail(f"a {stmt.value.dtype} value is stored to {stmt.buffer.name} at an index of "
                          f"dtype {stmt.indices[-1].dtype if stmt.indices else 'none'}; the lanes differ")
            return []
        if isinstance(stmt, IfThenElse):
            self._expr(stmt.condition, "an if condition")
            kids = [("stmt", stmt.then_case)]
            return kids + ([("stmt", stmt.else_case)] if stmt.else_case is not None else [])
        if isinstance(stmt, SeqStmt):
            return [("stmt", s) for s in stmt.seq]
        if isinstance(stmt, Evaluate):
            self._expr(stmt.value, "an Evaluate")
            return []
        if isinstance(stmt, BlockRealize):
            for v in stmt.iter_values:
                self._expr(v, f"the bindings of block {stmt.block.name_hint}")
            self._expr(stmt.predicate, f"the predicate of block {stmt.block.name_hint}")
            return [("stmt", stmt.block)]
        if isinstance(stmt, Block):
            return self._visit_block(stmt)
        self.fail(f"unknown statement {type(stmt).__name__}")

    def _visit_block(self, block: Block) -> list:
        for iv in block.iter_vars:
            self._expr(iv.dom.min, f"the domain of block {block.name_hint}")
            self._expr(iv.dom.extent, f"the domain of block {block.name_hint}")
            self._bind_var(iv.var)
        for b in block.alloc_buffers:
            self._bind_buffer(b)
        items = [("stmt", s) for s in (block.init, block.body) if s is not None]
        items += [("unbind_buffer", b) for b in block.alloc_buffers]
        items += [("unbind_var", iv.var) for iv in block.iter_vars]
        return items

    def _access(self, buffer: Buffer, indices, verb: str) -> None:
        if buffer not in self.buffers:
            self.fail(f"{verb} buffer {buffer.name}, which is neither a parameter nor allocated "
                      "around the access")
        if len(indices) != buffer.ndim:
            self.fail(f"buffer {buffer.name} has {buffer.ndim} dimension(s) but an access uses "
                      f"{len(indices)} index(es)")
        for i in indices:
            self._expr(i, f"an index of {buffer.name}")
            if not dt.is_int(dt.element(i.dtype)):
                self.fail(f"an index of {buffer.name} has dtype {i.dtype}; indices are integers")

    def _expr(self, root, what: str) -> None:
        stack = [root]
        while stack:
            e = stack.pop()
            if type(e) is tuple:  # ("bind" or "unbind", the variable of a Let)
                self._bind_var(e[1]) if e[0] == "bind" else self._release(self.vars, e[1])
                continue
            if isinstance(e, Let):  # its value, then its body with its variable bound
                if e.var.dtype != e.value.dtype:
                    self.fail(f"a let in {what} binds {e.var.name} of dtype {e.var.dtype} to a "
                              f"{e.value.dtype} value")
                stack.extend((("unbind", e.var), e.body, ("bind", e.var), e.value))
                continue
            if isinstance(e, Var):
                if e not in self.vars:
                    self.fail(f"variable {e.name} used in {what} is not bound by an enclosing "
                              "loop or block")
                continue
            if isinstance(e, BufferLoad):
                self._access(e.buffer, e.indices, "load from")
                if dt.element(e.dtype) != e.buffer.dtype or \
                        dt.lanes(e.dtype) != (dt.lanes(e.indices[-1].dtype) if e.indices else 1):
                    self.fail(f"a load of {e.buffer.name} has dtype {e.dtype}, the buffer {e.buffer.dtype}")
                continue
            if isinstance(e, Reduce):
                self.fail(f"a te Reduce remains in {what}; reductions must be blocks")
            if isinstance(e, Binary) and e.a.dtype != e.b.dtype:
                self.fail(f"operands of {e.op} in {what} have dtypes {e.a.dtype} and {e.b.dtype}")
            for _, value in node_fields(e):
                if isinstance(value, PrimExpr):
                    stack.append(value)
                elif isinstance(value, tuple):
                    stack.extend(x for x in value if isinstance(x, PrimExpr))
