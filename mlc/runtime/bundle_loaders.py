"""Which loader opens a device bundle of each kind, as the backends register them.

A GPU backend's export writes a bundle (:mod:`.bundle`) whose metadata says its kind
(``"cuda-bundle"``); the backend registers the loader of that kind here, so that
the runtime names no backend. A loader is an object (a module) with
``load(path, metadata, files)``, or the name of such a module, imported when a
bundle of its kind is first loaded (a backend registers it without importing it,
as memory kinds name their provider, :mod:`.memory`).

>>> register_bundle_loader("toy-bundle", "toy.bundle_loader")
>>> "toy-bundle" in bundle_kinds()
True
>>> unregister_bundle_loader("toy-bundle")
>>> registered_loader("toy-bundle", LookupError)
Traceback (most recent call last):
    ...
LookupError: no loader is registered for bundles of kind 'toy-bundle' ...
"""
from __future__ import annotations

from importlib import import_module

__all__ = ["register_bundle_loader", "unregister_bundle_loader", "bundle_kinds", "registered_loader"]

#: Bundle kind -> its loader, or the name of the module that is it.
_LOADERS: dict = {}


def register_bundle_loader(kind: str, loader) -> None:
    """Load bundles whose metadata says ``"kind": kind`` with ``loader`` (an object with
    ``load(path, metadata, files)``, or the name of a module that has it); registering a
    kind again replaces its loader."""
    if not isinstance(kind, str) or not kind.endswith("-bundle"):
        raise ValueError(f"register_bundle_loader: a bundle kind ends in '-bundle', got {kind!r}")
    if not isinstance(loader, str) and not callable(getattr(loader, "load", None)):
        raise ValueError(f"register_bundle_loader({kind!r}): the loader must have load(path, metadata, files) "
                         f"or be the name of a module that has, got {type(loader).__name__}")
    _LOADERS[kind] = loader


def unregister_bundle_loader(kind: str) -> None:
    """Forget the loader of ``kind`` (a test's own kind, say)."""
    _LOADERS.pop(kind, None)


def bundle_kinds() -> list[str]:
    """The kinds of bundle this process has a loader for."""
    return sorted(_LOADERS)


def registered_loader(kind: str, error: type[Exception]):
    """The loader of bundles of ``kind`` (its module imported now if it was named); ``error``
    (the caller's LoadError) saying what to do where no backend registered one."""
    loader = _LOADERS.get(kind)
    if loader is None:
        known = ", ".join(bundle_kinds()) or "none"
        raise error(f"no loader is registered for bundles of kind {kind!r} (this process loads {known}); "
                    "import the backend that exports them, or register its loader with "
                    "mlc.runtime.bundle_loaders.register_bundle_loader(kind, loader)")
    if isinstance(loader, str):
        loader = _LOADERS[kind] = import_module(loader)
    return loader
