"""mlc: a machine-learning compiler for NumPy-like Python.

Write tensor programs with :mod:`mlc.te`, schedule them, and build them for
the host CPU (LLVM) or run them on the NumPy reference interpreter; or let
``@mlc.jit`` trace NumPy code into them.

The IR, errors, ``Target`` and the backend registry load with the package; the
driver (``build``), the tracer, schedules, the backends' code generators,
``mlc.numpy`` and ``mlc.nn`` load on first use (PEP 562), which keeps
``import mlc`` cheap.
"""
from importlib import import_module as _import_module

from .dependencies import check_numpy as _check_numpy

_check_numpy()  # first: an old NumPy is named, not crashed on

from . import backends, ir  # backends: the registry, which registers mlc's own targets on first use
from .errors import (AxisError, BoundsError, IndexBoundsError, CompileError, ConfigError, DeviceError, DTypeError,
                     GlobalChangedWarning, IRError, LoadError, MLCError, MLCWarning, ParseError, ScheduleError,
                     ShapeError, ToolchainError, TraceError)
from .ir import te, tir
from .ir.structural import assert_structural_equal, structural_equal, structural_hash
from .ir.tir import IRModule, PrimFunc
from .target import Target
from .version import __version__


#: public name -> (module, attribute or None for the module itself), loaded on first use
_LAZY = {
    "build": ("mlc.driver", "build"), "driver": ("mlc.driver", None),
    "Schedule": ("mlc.schedules", "Schedule"), "Trace": ("mlc.schedules", "Trace"),
    "BlockRV": ("mlc.schedules", "BlockRV"), "LoopRV": ("mlc.schedules", "LoopRV"),
    "ExprRV": ("mlc.schedules", "ExprRV"), "TensorIntrin": ("mlc.schedules", "TensorIntrin"),
    "jit": ("mlc.tracer", "jit"), "export": ("mlc.tracer.export", "export"),
    "load_portable": ("mlc.script.portable", "load_portable"), "op": ("mlc.custom_op", "op"),
    "numpy": ("mlc.numpy", None), "nn": ("mlc.nn", None), "random": ("mlc.random", None),
    "optim": ("mlc.optim", None),
    "schedules": ("mlc.schedules", None),
    "ops": ("mlc.ops", None), "runtime": ("mlc.runtime", None), "passes": ("mlc.passes", None),
    "testing": ("mlc.testing", None), "graph": ("mlc.graph", None),
    "frontend": ("mlc.frontend", None),
    "register_func": ("mlc.runtime.packed", "register_func"),
    "parse": ("mlc.script", "parse"), "script": ("mlc.script", None),
    "relax": ("mlc.script.relax", None),
    "from_dlpack": ("mlc.runtime.dlpack", "from_dlpack"), "to_dlpack": ("mlc.runtime.dlpack", "to_dlpack"),
    "nd": ("mlc.runtime.ndarray", None), "cpu": ("mlc.runtime.ndarray", "cpu"),
    "cuda": ("mlc.backends", "cuda_device"), "device": ("mlc.runtime.ndarray", "device"),
    "tune": ("mlc.tune", None), "TuneConfig": ("mlc.tune", "TuneConfig"), "cache": ("mlc.cache", None),
    "tiering": ("mlc.tracer.tiering", None),
    "transforms": ("mlc.transforms", None),
    **{name: ("mlc.transforms", name) for name in (
        "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacfwd", "jacrev", "hessian", "vmap",
        "stop_gradient", "custom_vjp", "custom_jvp")},
    **{name: ("mlc.tracer.control_flow", name) for name in (
        "fori_loop", "while_loop", "cond", "switch", "scan")},
    "set_num_threads": ("mlc.runtime.threads", "set_num_threads"),
    "get_num_threads": ("mlc.runtime.threads", "get_num_threads"),
}

#: a lazy module -> the module to load before it: a traced array's operators and methods are
#: mlc.numpy's functions, which mlc.numpy attaches to Tracer when it loads
_LOAD_FIRST = {"mlc.tracer": "mlc.numpy", "mlc.tracer.export": "mlc.numpy", "mlc.tracer.control_flow": "mlc.numpy"}


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mlc' has no attribute {name!r}") from None
    if module in _LOAD_FIRST:
        _import_module(_LOAD_FIRST[module])
    value = _import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ir", "te", "tir", "build", "Target", "IRModule", "PrimFunc", "MLCError", "TraceError",
    "ShapeError", "AxisError", "IndexBoundsError", "DTypeError", "DeviceError", "ScheduleError", "CompileError", "IRError", "BoundsError",
    "ConfigError", "LoadError", "ToolchainError", "export", "load_portable", "MLCWarning", "GlobalChangedWarning",
    "structural_equal", "structural_hash", "assert_structural_equal", "Schedule", "Trace", "BlockRV", "LoopRV",
    "ExprRV", "TensorIntrin", "jit", "numpy", "nn", "optim", "random", "op", "testing", "graph", "register_func",
    "parse", "ParseError", "nd", "cpu", "cuda", "device", "tune", "TuneConfig",
    "set_num_threads", "get_num_threads", "transforms", "grad", "value_and_grad", "vjp", "jvp", "linearize",
    "jacfwd", "jacrev", "hessian", "vmap", "stop_gradient", "custom_vjp", "custom_jvp", "cache",
    "fori_loop", "while_loop", "cond", "switch", "scan",
    "relax", "from_dlpack", "to_dlpack", "tiering",
]
