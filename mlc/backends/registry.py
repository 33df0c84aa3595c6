"""The backend registry: how the compile driver finds what compiles a target.

A backend is one package under ``mlc/backends/`` that registers one object
following the :class:`Backend` protocol (and, when its target strings take
options, a :class:`~mlc.target.TargetKind`). The driver (:mod:`mlc.driver`)
asks the registry for the backend of ``target.kind`` and then runs, in order:

1. scheduling: the user's schedule, a tuning database's trace, or else the
   default rules of the target's keys (``"cpu"``, ``"gpu"``: the driver's
   :func:`~mlc.driver.schedule.default_rules`) on every function nobody scheduled;
2. ``backend.tir_passes(target, options)``: the TIR pass pipeline this backend
   needs (lowering to loops, flattening, vectorization, ...), each a pure
   function ``PrimFunc -> PrimFunc``, run on every function of the module;
3. ``backend.codegen(mod, target, options)``: an artefact (LLVM IR, source);
4. ``backend.load(artifact, mod, target, options)``: a runtime Module whose
   functions take ``backend.array_types`` (``mod``: the module as scheduled).

A backend whose modules run on a device (``TargetKind.device`` other than ``"cpu"``)
has ``device_unavailable_reason()``: None when one is usable here, else why not
(tuning then checks candidates on the kind's ``emulator`` instead of timing them).

A backend may also have ``begin(mod, target, options)``, returning a build with
``add(lowered)``, ``finish(mod)`` and ``abandon()`` (:class:`IncrementalBuild`), or
None where it would gain nothing (the steps above then run as they are). With a
build, the driver runs steps 1 and 2 one kernel at a time and hands each kernel
to ``add`` as soon as it is lowered, a graph's main last, and ``finish`` gives
the runtime Module: the backend compiles one kernel while the driver prepares
the next (the llvm backend's LLVM work runs on another thread beside the
driver's Python). ``abandon`` is called instead of ``finish`` when the driver
fails on the way.

A backend never schedules, imports no schedules and never imports the driver:
the driver hands it the scheduled module and the parsed :class:`~mlc.target.Target`.
Adding one is a new package (or a test file) and one :func:`register_backend`
call (mlc's own backends are listed in :mod:`mlc.backends` so that they register
on first use); a GPU backend reuses :mod:`mlc.backends.gpu` (pipeline, launches,
emulator) and registers a kind with the ``"gpu"`` key and its limits. A backend
outside mlc may add ``schedule_rules(target)`` to give rules of its own.

>>> get_backend("llvm").name, get_backend("reference").target_kinds
('llvm', ('reference',))
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import MLCError
from ..frozen import frozen
from ..target import (TargetKind, known_target_kinds, load_kind, register_target_kind, registered_target_kinds,
                      target_kind, unregister_target_kind)

__all__ = ["Backend", "HostBackend", "BuildOptions", "IncrementalBuild", "register_backend", "get_backend", "registered_backends",
           "unregister_backend", "describe_targets"]


@frozen
class BuildOptions:
    """What a build asks of every backend, beside the target.

    ``check_bounds``: check every buffer access when the code runs (an index
    outside its buffer raises :class:`~mlc.errors.BoundsError`); ``fast_math``:
    cheaper math functions within documented error bounds. A backend ignores an
    option it has no use for.
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

    def codegen(self, mod, target, options: BuildOptions) -> Any:
        """Compile ``mod``, the IRModule after :meth:`tir_passes`; returns an artefact for
        :meth:`load` (LLVM IR, source text, ...)."""

    def load(self, artifact, mod, target, options: BuildOptions):
        """A runtime Module running ``artifact``; ``mod`` is the module as scheduled (before
        the TIR passes), whose functions' parameters are what callers pass (the runtime
        checks arrays against them: ``Function(name, mod[name], kernel)``)."""


class HostBackend:
    """What a backend whose functions take NumPy arrays and which runs wherever mlc does
    (llvm, reference, an emulator) need not say again: it sets ``name`` and
    ``target_kinds`` and gives the steps (:class:`Backend`)."""

    name: str
    array_types = (np.ndarray,)

    def unavailable_reason(self) -> str | None:
        return None

    def __repr__(self) -> str:
        return f"<mlc backend {self.name}>"


class IncrementalBuild(Protocol):
    """What a backend's optional ``begin(mod, target, options)`` returns: a build of ``mod``
    (the module to build, scheduled or not: its function names and whether it has a
    graph's main are final) taking its functions part by part (see the module docstring)."""

    def add(self, lowered) -> None:
        """Compile ``lowered``, an IRModule of some of the functions, after :meth:`tir_passes`
        (a graph's main comes after every kernel it calls)."""

    def finish(self, mod):
        """The runtime Module, as ``load`` would give it; ``mod``: the module as scheduled."""

    def abandon(self) -> None:
        """Stop; the build is not finished (the driver raises)."""


_BACKENDS: dict[str, Backend] = {}
_OWN_KINDS: dict[str, TargetKind] = {}  # kinds register_backend registered for a backend


def register_backend(backend: Backend, *, override: bool = False) -> Backend:
    """Register ``backend`` for each of its ``target_kinds``; returns it.

    A kind already compiled by another backend is refused unless ``override=True``.
    A kind nobody registered as a :class:`~mlc.target.TargetKind` becomes one that
    takes no options (``Target("dummy")``); a backend whose targets take options
    registers its TargetKind first (:func:`mlc.target.register_target_kind`).
    """
    if not isinstance(backend, Backend):
        missing = [m for m in ("name", "target_kinds", "array_types", "unavailable_reason", "tir_passes",
                               "codegen", "load") if not hasattr(backend, m)]
        raise MLCError(f"register_backend: {backend!r} is not a Backend; it lacks {', '.join(missing)} "
                       "(see mlc.backends.registry.Backend)")
    kinds = backend.target_kinds
    if isinstance(kinds, str) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise MLCError(f"register_backend: {backend.name!r}.target_kinds must be a tuple of kind names "
                       f"like ('llvm',), got {kinds!r}")
    for kind in kinds:
        load_kind(kind)  # a builtin kind registers its own backend first
        taken = _BACKENDS.get(kind)
        if taken is not None and taken is not backend and not override:
            raise MLCError(f"register_backend: target kind {kind!r} is already compiled by backend "
                           f"{taken.name!r}; pass override=True to replace it")
    for kind in kinds:
        if kind not in registered_target_kinds():
            _OWN_KINDS[kind] = register_target_kind(TargetKind(kind))
        _BACKENDS[kind] = backend
    return backend


def unregister_backend(kind: str) -> None:
    """Forget the backend of target kind ``kind`` (tests that register their own), and the
    kind itself when :func:`register_backend` registered it."""
    _BACKENDS.pop(kind, None)
    own = _OWN_KINDS.pop(kind, None)
    if own is not None and registered_target_kinds().get(kind) is own:
        unregister_target_kind(kind)


def registered_backends() -> dict[str, Backend]:
    """Target kind -> backend, for every registered kind."""
    return dict(_BACKENDS)


def get_backend(kind: str) -> Backend:
    """The backend compiling target kind ``kind`` (mlc's own register on first use); an
    MLCError lists the known kinds, and why each unusable one is unusable, when there
    is none or it cannot run here."""
    if kind not in _BACKENDS:
        target_kind(kind)  # registers a builtin kind and its backend; lists the known kinds if none
    backend = _BACKENDS.get(kind)
    reason = ("no backend compiles it (register one with mlc.backends.registry.register_backend)"
              if backend is None else backend.unavailable_reason())
    if reason is None:
        return backend
    raise MLCError(f"target {kind!r} is unavailable: {reason}; the known target kinds are: "
                   f"{describe_targets()}")


def describe_targets() -> str:
    """Every known target kind, each unusable one with why: ``llvm, reference, cuda
    (unavailable: ...)`` (for error messages)."""
    items = []
    for kind, why in known_target_kinds().items():
        backend = _BACKENDS.get(kind)
        if why is None and kind in registered_target_kinds():
            why = ("no backend compiles it" if backend is None else backend.unavailable_reason())
        items.append(kind if why is None else f"{kind} (unavailable: {why})")
    return ", ".join(items) or "none"
