"""Runtime: compiled modules and their callable functions; ``load`` opens exported libraries.

Its names load on first use (PEP 562): ``import mlc`` registers the backends' device
memories (:mod:`.memory`) without loading modules, timing and the loader."""
from importlib import import_module as _import_module

__all__ = ["Module", "Function", "TimeResult", "time_function", "load"]

_LAZY = {"load": ".loader", "Module": ".module", "Function": ".module",
         "TimeResult": ".timing", "time_function": ".timing"}


def __getattr__(name: str):
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mlc.runtime' has no attribute {name!r}") from None
    value = getattr(_import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
