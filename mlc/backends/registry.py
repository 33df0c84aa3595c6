"""The backend registry: how the compile driver finds what compiles a target.

A backend is one package under ``mlc/backends/`` that registers one object
following the :class:`Backend` protocol. The driver (``mlc.build``) asks the
registry for the backend of ``target.kind`` and then runs, in this order:

1. scheduling: the user's schedule, or ``backend.schedule_rules(target)``
   applied to every function nobody scheduled;
2. ``backend.tir_passes(target, options)``: the TIR pass pipeline this backend
   needs (lowering to loops, flattening, vectorization, ...), each a pure
   function ``PrimFunc -> PrimFunc``;
3. ``backend.codegen(mod, target, options)``: an artefact (object code, source);
4. ``backend.load(artifact, target, options)``: a runtime Module.

Nothing else in mlc names a backend: adding one is a new package and one
:func:`register_backend` call.

>>> sorted(k for k in registered_backends() if k in ("llvm", "reference"))  # doctest: +SKIP
['llvm', 'reference']
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import MLCError

__all__ = ["Backend", "BuildOptions", "register_backend", "get_backend", "registered_backends",
           "unregister_backend"]


@dataclass(frozen=True)
class BuildOptions:
    """What a build asks of every backend, beside the target.

    ``check_bounds``: check every buffer access when the code runs (an index
    outside its buffer raises :class:`~mlc.errors.BoundsError`); ``fast_math``:
    cheaper math functions within documented error bounds. A backend ignores
    an option it has no use for.
    """
    check_bounds: bool = False
    fast_math: bool = False


@runtime_checkable
class Backend(Protocol):
    """What a backend gives the driver; see the module docstring for the order of calls."""

    #: The backend's name, as users write it in error messages and docs ("llvm").
    name: str
    #: The target kinds it compiles (``Target.kind``), usually just ``(name,)``.
    target_kinds: tuple[str, ...]
    #: The array types its built functions accept (``numpy.ndarray``, ``cupy.ndarray``).
    array_types: tuple[type, ...]

    def unavailable_reason(self) -> str | None:
        """None when this backend can build and run here; else why not (a missing
        package, no device), said so that the user knows what to install."""

    def tir_passes(self, target, options: BuildOptions) -> Sequence[Callable]:
        """The TIR passes, in order, that turn a scheduled PrimFunc into what ``codegen`` takes."""

    def schedule_rules(self, target) -> Callable | None:
        """``f(sch, func_name, target)`` scheduling one unscheduled function in place, or
        None to compile functions as written."""

    def codegen(self, mod, target, options: BuildOptions) -> Any:
        """Compile the lowered IRModule ``mod``; returns an artefact for :meth:`load`."""

    def load(self, artifact, target, options: BuildOptions):
        """A runtime Module running ``artifact``."""


_BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend, *, override: bool = False) -> Backend:
    """Register ``backend`` for each of its ``target_kinds``; returns it.

    A kind already taken is refused unless ``override=True``.
    """
    if not isinstance(backend, Backend):
        missing = [m for m in ("name", "target_kinds", "array_types", "unavailable_reason", "tir_passes",
                               "schedule_rules", "codegen", "load") if not hasattr(backend, m)]
        raise MLCError(f"register_backend: {backend!r} is not a Backend; it lacks {', '.join(missing)} "
                       "(see mlc.backends.registry.Backend)")
    for kind in backend.target_kinds:
        taken = _BACKENDS.get(kind)
        if taken is not None and taken is not backend and not override:
            raise MLCError(f"register_backend: target kind {kind!r} is already compiled by backend "
                           f"{taken.name!r}; pass override=True to replace it")
    for kind in backend.target_kinds:
        _BACKENDS[kind] = backend
    return backend


def unregister_backend(kind: str) -> None:
    """Forget the backend of target kind ``kind`` (tests that register their own)."""
    _BACKENDS.pop(kind, None)


def registered_backends() -> dict[str, Backend]:
    """Target kind -> backend, for every registered kind."""
    return dict(_BACKENDS)


def get_backend(kind: str) -> Backend:
    """The backend compiling target kind ``kind``; an MLCError lists the registered
    kinds, and why each unusable one is unusable, when there is none or it cannot run."""
    backend = _BACKENDS.get(kind)
    reason = None if backend is None else backend.unavailable_reason()
    if backend is not None and reason is None:
        return backend
    listing = []
    for k, b in sorted(_BACKENDS.items()):
        why = b.unavailable_reason()
        listing.append(f"{k} ({'available' if why is None else 'unavailable: ' + why})")
    head = (f"target {kind!r} is not registered" if backend is None
            else f"target {kind!r} is unavailable: {reason}")
    raise MLCError(f"{head}; registered targets: {', '.join(listing) or 'none'}")
