"""The Schedule's state: the module being edited, handles, and trace recording.

A primitive is a method decorated with :func:`instruction`. It resolves its
handles, checks legality (raising :class:`ScheduleError` before changing
anything), computes the new PrimFunc with pure functions, and commits it.
Every successful top-level call is appended to ``sch.trace``.
"""
from __future__ import annotations

import functools
import inspect
import random

from ..errors import ScheduleError
from ..ir.analysis import block_problem
from ..ir.expr import Var
from ..ir.printer import func_to_str
from ..ir.tir import IRModule, PrimFunc
from .handles import BlockRV, ExprRV, LoopRV
from .state import Location, find_block, find_loop
from .trace import Instruction, Trace

__all__ = ["ScheduleBase", "BlockRV", "LoopRV", "ExprRV", "instruction", "schedule_error"]


def instruction(fn):
    """Record successful top-level calls of a primitive in the trace.

    Inputs are recorded by parameter name. A parameter named ``decision``
    (sampling primitives) is recorded with the decision actually taken, which
    the primitive reports by returning it through ``self._last_decision``.
    """
    inputs_of = _binder(inspect.signature(fn))

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        inputs = inputs_of(self, args, kwargs)
        self._depth += 1
        try:
            result = fn(self, *args, **kwargs)
        finally:
            self._depth -= 1
        if self._depth == 0:
            if "decision" in inputs:
                inputs["decision"] = self._last_decision
            self.trace.append(Instruction(fn.__name__, inputs, result))
        return result

    wrapper.is_instruction = True
    return wrapper


def _binder(sig: inspect.Signature):
    """``inputs(self, args, kwargs)``: {parameter name: value} of a call of a primitive with
    signature ``sig`` (``self`` left out, defaults filled in, in the signature's order), as
    ``sig.bind`` and ``apply_defaults`` give it; a call whose parameters are all positional-
    or-keyword is matched directly, any other call (or a call ``bind`` refuses, which then
    raises its TypeError) goes through ``bind``."""
    params = list(sig.parameters.values())[1:]
    names = [p.name for p in params]

    def bound(self, args, kwargs) -> dict:
        b = sig.bind(self, *args, **kwargs)
        b.apply_defaults()
        return {name: b.arguments[name] for name in names}

    if not all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return bound
    empty = inspect.Parameter.empty
    defaults = [p.default for p in params]
    known = frozenset(names)

    def inputs(self, args, kwargs) -> dict:
        n = len(args)
        if n > len(names) or not known.issuperset(kwargs):
            return bound(self, args, kwargs)
        out = dict(zip(names, args))
        if kwargs and any(name in out for name in kwargs):
            return bound(self, args, kwargs)  # (a parameter given both ways)
        for name, default in zip(names[n:], defaults[n:]):
            value = kwargs.get(name, default)
            if value is empty:
                return bound(self, args, kwargs)  # (a required parameter missing)
            out[name] = value
        return out

    return inputs


def schedule_error(primitive: str, why: str, func: PrimFunc | None = None, node=None,
                   note: str = "here") -> ScheduleError:
    """A ScheduleError naming the primitive, saying why, and showing the IR with ``node`` marked."""
    text = f"{primitive}: {why}"
    if func is not None:
        marks = {id(node): note} if node is not None else None
        text += "\n\n" + func_to_str(func, func.attr("global_symbol", "main"), marks)
    return ScheduleError(text)


def _check_well_formed(mod: IRModule) -> None:
    """Refuse a module whose blocks a schedule cannot name or reason about: two blocks of
    one name in a function, or a block iterator bound outside its domain (the IR is shown
    with the block marked)."""
    for name, func in mod.items():
        problem = block_problem(func) if isinstance(func, PrimFunc) else None
        if problem is not None:
            realize, why = problem
            raise schedule_error("Schedule", f"function {name!r}: {why}", func, realize)


class ScheduleBase:
    """State shared by every primitive. See :class:`mlc.schedules.Schedule`."""

    def __init__(self, mod, seed: int | None = None):
        if isinstance(mod, PrimFunc):
            mod = IRModule({mod.attr("global_symbol", "main"): mod})
        if not isinstance(mod, IRModule):
            raise ScheduleError(f"Schedule takes an IRModule or PrimFunc, got {type(mod).__name__}")
        _check_well_formed(mod)
        self._mod = mod
        self.trace = Trace()
        self._blocks: dict[BlockRV, tuple[str, str]] = {}
        self._loops: dict[LoopRV, tuple[str, Var]] = {}
        self._rng = random.Random(seed)
        self._rng_owned = True  # False while copies share the generator (see copy)
        self._depth = 0
        self._last_decision = None

    @property
    def mod(self) -> IRModule:
        """The scheduled module."""
        return self._mod

    # ------------------------------------------------------------ functions
    def _func_name(self, func_name: str | None, primitive: str) -> str:
        if func_name is None:
            if len(self._mod) == 1:
                return next(iter(self._mod))
            if "main" in self._mod:
                return "main"
            raise ScheduleError(f"{primitive}: the module has several functions "
                                f"{sorted(self._mod)}; pass func_name=")
        if func_name not in self._mod:
            raise ScheduleError(f"{primitive}: no function {func_name!r}; the module has {sorted(self._mod)}")
        return func_name

    def _commit(self, func_name: str, func: PrimFunc) -> None:
        self._mod = self._mod.with_function(func_name, func)

    # -------------------------------------------------------------- handles
    def _block_rv(self, func_name: str, block_name: str) -> BlockRV:
        rv = BlockRV()
        self._blocks[rv] = (func_name, block_name)
        return rv

    def _loop_rv(self, func_name: str, loop_var: Var) -> LoopRV:
        rv = LoopRV()
        self._loops[rv] = (func_name, loop_var)
        return rv

    def _block(self, rv, primitive: str) -> tuple[str, PrimFunc, Location]:
        """Resolve a block handle (or a block's name, as TVM takes it) to (function name,
        function, location)."""
        if isinstance(rv, str):
            rv = self.get_block(rv)
        if not isinstance(rv, BlockRV) or rv not in self._blocks:
            raise ScheduleError(f"{primitive}: expected a BlockRV from this schedule, got {rv!r}")
        func_name, block_name = self._blocks[rv]
        func = self._mod[func_name]
        return func_name, func, find_block(func, block_name, primitive)

    def _loop(self, rv, primitive: str) -> tuple[str, PrimFunc, Location]:
        """Resolve a loop handle to (function name, function, location)."""
        if not isinstance(rv, LoopRV) or rv not in self._loops:
            raise ScheduleError(f"{primitive}: expected a LoopRV from this schedule, got {rv!r}")
        func_name, loop_var = self._loops[rv]
        func = self._mod[func_name]
        return func_name, func, find_loop(func, loop_var, primitive)

    def _rename_block(self, func_name: str, old: str, new: str) -> None:
        """Point every handle of block ``old`` at its new name."""
        for rv, (fn, name) in self._blocks.items():
            if fn == func_name and name == old:
                self._blocks[rv] = (fn, new)

    def _sample(self):
        """The schedule's random generator (deterministic under ``seed``), its own: a copy
        shares its original's generator until either draws from it (see :meth:`copy`)."""
        if not self._rng_owned:
            # (seeded with a constant, not from the system's entropy, before taking the state)
            rng = random.Random.__new__(random.Random, 0)
            rng.setstate(self._rng.getstate())
            self._rng, self._rng_owned = rng, True
        return self._rng

    def copy(self):
        """An independent schedule with the same module and trace (handles are shared)."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.trace = Trace(list(self.trace.insts))
        other._blocks, other._loops = dict(self._blocks), dict(self._loops)
        # the generator is shared and left as it is until one of the two draws: that one
        # takes a copy of it first (:meth:`_sample`); a search copies far more often than it draws
        self._rng_owned = other._rng_owned = False
        return other
