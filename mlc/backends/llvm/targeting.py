"""The target an LLVM module is generated for, recorded on the module itself.

Code emitted into a module on demand, where a call first needs it (the
micro-kernels of :mod:`.extern`), reaches
the module but not the build's target; :func:`generate_units
<.module.generate_units>` records the target on each module it creates, and
that code asks it what the CPU can do.
"""
from __future__ import annotations

from llvmlite import ir

from ...target import Target
from .cpus import converts_int64_vectors

__all__ = ["set_module_target", "module_target", "converts_int64", "lacks_features"]

_ATTRIBUTE = "mlc_target"

#: CPU features code may ask for (an extern kernel's ``features``, LLVM's names) -> the llvm
#: target kind's property that answers for a target (:mod:`.target_kind`).
_FEATURES = {"avx512vnni": "avx512_vnni", "avx512f": "avx512f"}


def set_module_target(module: ir.Module, target: Target) -> None:
    """Record that ``module`` is generated for ``target``."""
    setattr(module, _ATTRIBUTE, target)


def module_target(module: ir.Module) -> Target | None:
    """The target recorded on ``module`` (None for a module no build made)."""
    return getattr(module, _ATTRIBUTE, None)


def converts_int64(module: ir.Module) -> bool:
    """Whether ``module``'s target converts vectors of doubles to and from int64 with vector
    instructions (:func:`~mlc.backends.llvm.cpus.converts_int64_vectors`: AVX-512DQ on
    x86); True for a module without a target (LLVM's conversions are right everywhere)."""
    target = module_target(module)
    return target is None or converts_int64_vectors(target.cpu, target.features, target.triple)


def lacks_features(module: ir.Module, features) -> list[str]:
    """Those of ``features`` (LLVM names, from :data:`_FEATURES`) that ``module``'s target
    lacks; none for a module without a target."""
    target = module_target(module)
    if target is None:
        return []
    return [f for f in features if not target.get(_FEATURES[f])]
