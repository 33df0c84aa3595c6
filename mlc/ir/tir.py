"""TensorIR: loop nests of blocks over buffers, as in TVM's TensorIR.

A PrimFunc's body is a root :class:`BlockRealize` whose block allocates the
intermediate buffers. Inside, :class:`For` loops nest :class:`BlockRealize`
nodes; each binds its block's iterators (spatial ``S`` or reduce ``R``) to
loop expressions. A block declares what it reads and writes, and an optional
``init`` that runs before the first reduction step.

After lowering (``mlc.passes.tir``) blocks are gone and buffers are flat:
only For, While, IfThenElse, SeqStmt, Allocate and BufferStore/BufferLoad remain (and, on the
CPU, the LetStmts of :mod:`mlc.passes.tir.block_values`).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from ..errors import IRError
from ..frozen import frozen
from . import dtype as dt
from .buffer import Buffer, BufferRegion
from .expr import IntImm, IterVar, PrimExpr, Var, const
from .node import node

_NO_VALUE = object()  # with_attr's value when a dict is given

__all__ = [
    "Stmt", "BufferStore", "SeqStmt", "LetStmt", "For", "While", "IfThenElse", "Allocate", "Evaluate",
    "Block", "BlockRealize", "PrimFunc", "IRModule", "GlobalVar", "FOR_KINDS", "OVERLAPPING", "seq",
]


class Stmt:
    """Base of statements."""

    # the node's census, counted on first asking (mlc.ir.analysis.census); not a field
    __slots__ = ("_census",)

    def __repr__(self) -> str:
        from .printer import stmt_to_str
        return stmt_to_str(self)


@node
class BufferStore(Stmt):
    """``buffer[indices] = value``."""
    buffer: Buffer
    value: PrimExpr
    indices: tuple[PrimExpr, ...]

    def __post_init__(self):
        if self.value.dtype != self.buffer.dtype and dt.element(self.value.dtype) != self.buffer.dtype:
            raise IRError(f"storing a {self.value.dtype} value into {self.buffer.dtype} buffer "
                          f"{self.buffer.name}; cast the value first")


@node
class Evaluate(Stmt):
    """Evaluate an expression for its effect (a no-op for pure expressions)."""
    value: PrimExpr


@node
class SeqStmt(Stmt):
    """Statements run one after the other."""
    seq: tuple[Stmt, ...]


def seq(*stmts: Stmt) -> Stmt:
    """A SeqStmt of ``stmts``, flattening nested sequences; one statement stays itself."""
    flat: list[Stmt] = []
    for s in stmts:
        if s is None:
            continue
        flat.extend(s.seq if isinstance(s, SeqStmt) else (s,))
    if not flat:
        return Evaluate(const(0))
    return flat[0] if len(flat) == 1 else SeqStmt(tuple(flat))


@node
class LetStmt(Stmt):
    """``var = value``, then ``body``, which reads the value wherever it names ``var``
    (:mod:`mlc.passes.tir.block_values` binds the values a run of stores shares)."""
    var: Var
    value: PrimExpr
    body: Stmt

    def __post_init__(self):
        if self.var.dtype != self.value.dtype:
            raise IRError(f"a LetStmt binds {self.var.name} of dtype {self.var.dtype} to a "
                          f"{self.value.dtype} value")


FOR_KINDS = ("serial", "parallel", "vectorized", "unrolled", "thread_binding")


@node
class For(Stmt):
    """``for loop_var in range(min, min + extent)``, run as ``kind`` says.

    ``thread_binding`` names the thread axis ("blockIdx.x", "threadIdx.x", ...)
    when kind is "thread_binding". ``annotations`` is a tuple of (key, value).
    """
    loop_var: Var
    min: PrimExpr
    extent: PrimExpr
    kind: str
    body: Stmt
    thread_binding: str | None = None
    annotations: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if self.kind not in FOR_KINDS:
            raise IRError(f"loop kind must be one of {FOR_KINDS}, got {self.kind!r}")


@node
class IfThenElse(Stmt):
    """``if condition: then_case else: else_case``."""
    condition: PrimExpr
    then_case: Stmt
    else_case: Stmt | None = None


@node
class While(Stmt):
    """``while condition: body``: the condition is evaluated before each iteration.

    A graph's ``main`` runs a ``mlc.while_loop`` as one (the condition loads
    the flag its condition kernels wrote); backends lower it to a native loop.
    """
    condition: PrimExpr
    body: Stmt

    def __post_init__(self):
        if self.condition.dtype != "bool":
            raise IRError(f"a While's condition must be bool, got {self.condition.dtype}")


@node
class Allocate(Stmt):
    """Allocate ``buffer`` (in its scope) for the duration of ``body``."""
    buffer: Buffer
    body: Stmt


@node
class Block(Stmt):
    """A unit of computation with declared iterators, reads and writes.

    ``iter_vars`` are the block's own iterators; ``init`` (reductions only)
    runs when every reduce iterator is at its minimum.
    """
    name_hint: str
    iter_vars: tuple[IterVar, ...]
    reads: tuple[BufferRegion, ...]
    writes: tuple[BufferRegion, ...]
    body: Stmt
    init: Stmt | None = None
    alloc_buffers: tuple[Buffer, ...] = ()
    annotations: tuple[tuple[str, Any], ...] = ()

    @property
    def is_reduction(self) -> bool:
        return any(iv.iter_type == "reduce" for iv in self.iter_vars)


@node
class BlockRealize(Stmt):
    """Run ``block`` with its iterators bound to ``iter_values`` where ``predicate`` holds."""
    iter_values: tuple[PrimExpr, ...]
    predicate: PrimExpr
    block: Block

    def __post_init__(self):
        if len(self.iter_values) != len(self.block.iter_vars):
            raise IRError(f"block {self.block.name_hint} has {len(self.block.iter_vars)} "
                          f"iterators but {len(self.iter_values)} bindings")


#: The attribute naming the parameters of a ``"tir.noalias": False`` function that may share
#: memory (:meth:`PrimFunc.may_overlap`); without it, every parameter may.
OVERLAPPING = "mlc.overlapping"


@node
class PrimFunc:
    """A tensor program: buffer parameters (destination passing) and a body.

    ``attrs`` is a tuple of (key, value) pairs; see :meth:`attr`.
    """
    params: tuple[Buffer, ...]
    body: Stmt
    attrs: tuple[tuple[str, Any], ...] = ()

    def attr(self, key: str, default=None):
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    def with_attr(self, key, value=_NO_VALUE) -> PrimFunc:
        """A copy with attribute ``key`` set to ``value``, or with every ``key: value`` of a
        dict (TVM's two spellings).

        >>> from mlc import te
        >>> A = te.placeholder((2,), "float32", "A")
        >>> f = te.create_prim_func([A, te.compute((2,), lambda i: A[i] + 1, "B")])
        >>> f.with_attr({"global_symbol": "add_one"}).attrs == f.with_attr("global_symbol", "add_one").attrs
        True
        """
        if isinstance(key, Mapping) and value is _NO_VALUE:
            changes = dict(key)
        elif isinstance(key, str) and value is not _NO_VALUE:
            changes = {key: value}
        else:
            raise IRError(f"PrimFunc.with_attr takes a key and a value, or a dict of them, got "
                          f"{key!r}" + ("" if value is _NO_VALUE else f", {value!r}") +
                          "; e.g. f.with_attr('global_symbol', 'main') or f.with_attr({'global_symbol': 'main'})")
        if not all(isinstance(k, str) for k in changes):
            raise IRError(f"PrimFunc.with_attr: attribute names are strings, got {list(changes)!r}")
        attrs = tuple((k, v) for k, v in self.attrs if k not in changes) + tuple(changes.items())
        return replace(self, attrs=tuple(sorted(attrs, key=lambda kv: kv[0])))

    def with_body(self, body: Stmt) -> PrimFunc:
        return replace(self, body=body)

    def may_overlap(self, buffer: Buffer) -> bool:
        """Whether ``buffer``, a parameter, may share memory with another buffer of the function.
        ``"tir.noalias"`` true (the default): none may. False: every parameter may, unless the
        function names the ones that may (:data:`OVERLAPPING`); the others are then distinct
        from every buffer, as an in-place kernel's operands are from the array it updates.

        >>> from mlc.ir.buffer import decl_buffer
        >>> x, v, out = (decl_buffer((4,), "float32", n) for n in ("x", "v", "out"))
        >>> f = PrimFunc((x, v, out), SeqStmt(()), (("tir.noalias", False), (OVERLAPPING, ("x", "out"))))
        >>> [f.may_overlap(b) for b in (x, v, out)]
        [True, False, True]
        """
        if self.attr("tir.noalias", True):
            return False
        names = self.attr(OVERLAPPING)
        return names is None or buffer.name in names

    @property
    def root_block(self) -> Block | None:
        body = self.body
        if isinstance(body, BlockRealize) and body.block.name_hint == "root":
            return body.block
        return None

    def script(self, name: str | None = None) -> str:
        from .printer import func_to_str
        return func_to_str(self, name or self.attr("global_symbol", "main"))

    def show(self, name: str | None = None) -> None:
        """Print :meth:`script` (the course's ``func.show()``)."""
        print(self.script(name))

    def __repr__(self) -> str:
        return self.script()


class NamedFunctions(Mapping):
    """A read-only mapping of names to functions, held in ``_functions``; a missing name is
    a KeyError that lists the names there are (:meth:`_listed`)."""

    __slots__ = ()

    def __getitem__(self, name: str):
        try:
            return self._functions[name]
        except KeyError:
            raise KeyError(f"{type(self).__name__} has no function {name!r}; "
                           f"it has {self._listed()}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)

    def _listed(self) -> list[str]:
        return list(self._functions)


class IRModule(NamedFunctions):
    """A dict-like collection of named functions: ``mod["mm_relu"]``.

    Immutable: :meth:`with_function` returns a new module. Each function's
    ``global_symbol`` attribute is set to its name.
    """

    __slots__ = ("_functions",)

    def __init__(self, functions: Mapping[str, PrimFunc] | None = None):
        funcs: dict[str, PrimFunc] = {}
        for name, func in (functions or {}).items():
            if not isinstance(name, str) or not name.isidentifier():
                raise IRError(f"function names must be identifiers, got {name!r}")
            if not isinstance(func, PrimFunc):
                raise IRError(f"IRModule values must be PrimFuncs (te.create_prim_func), "
                              f"got {type(func).__name__} for {name!r}")
            if func.attr("global_symbol") != name:
                func = func.with_attr("global_symbol", name)
            funcs[name] = func
        self._functions = funcs

    def __getitem__(self, name: str) -> PrimFunc:
        return super().__getitem__(name)

    def _listed(self) -> list[str]:
        return sorted(self._functions)

    def with_function(self, name: str, func: PrimFunc) -> IRModule:
        return IRModule({**self._functions, name: func})

    def get_global_var(self, name: str) -> GlobalVar:
        """The handle of function ``name``, for :meth:`update_func` (TVM's spelling)."""
        self[name]  # raises KeyError naming the functions there are
        return GlobalVar(name)

    def update_func(self, name: str | GlobalVar, func: PrimFunc) -> None:
        """Replace function ``name`` (a str or :meth:`get_global_var`) by ``func``, in place.

        TVM's ``mod.update_func(gv, func)``: this module now maps ``name`` to
        ``func``. The functions themselves stay immutable, and modules made
        from this one before (``with_function``, schedules) are unaffected;
        prefer :meth:`with_function` in new code.
        """
        key = name.name_hint if isinstance(name, GlobalVar) else name
        if not isinstance(key, str) or key not in self._functions:
            raise KeyError(f"IRModule has no function {key!r} to update; it has {sorted(self._functions)}; "
                           "use with_function to add one")
        self._functions = IRModule({**self._functions, key: func})._functions

    def script(self) -> str:
        from .printer import module_to_str
        return module_to_str(self)

    def show(self) -> None:
        """Print :meth:`script` (the course's ``mod.show()``)."""
        print(self.script())

    def __repr__(self) -> str:
        return self.script()

    def __eq__(self, other):  # structural, like every IR comparison in tests
        from .structural import structural_equal
        return isinstance(other, IRModule) and structural_equal(self, other)

    __hash__ = None  # type: ignore[assignment]


@frozen
class GlobalVar:
    """The name of a function in an IRModule, as ``mod.get_global_var(name)`` returns it."""
    name_hint: str


def is_one(e: PrimExpr) -> bool:
    return isinstance(e, IntImm) and e.value == 1
