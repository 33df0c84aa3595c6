"""The optional peers (Numba, JAX, Apache TVM) and how each contender is built.

A peer is imported only when it is installed; otherwise its contender is
unavailable and the table says how to install the ``bench`` extra.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from .harness import Contender, unavailable

__all__ = ["INSTALL_HINT", "installed", "numpy_contender", "mlc_jit", "mlc_built", "numba_contender",
           "jax_contender", "tvm_contender", "versions"]

INSTALL_HINT = 'not installed; pip install -e ".[bench]" adds numba, jax[cpu], apache-tvm and threadpoolctl'

_MODULES = {"numba": "numba", "jax": "jax", "tvm": "tvm"}


def installed(peer: str) -> bool:
    return importlib.util.find_spec(_MODULES[peer]) is not None


def versions() -> dict[str, str | None]:
    import mlc
    found = {"numpy": np.__version__, "mlc": getattr(mlc, "__version__", "?")}
    for peer, module in _MODULES.items():
        if installed(peer):
            found[peer] = getattr(importlib.import_module(module), "__version__", "?")
            if peer == "numba":  # without Intel's SVML (pip install icc_rt) its math calls stay scalar
                from numba.core import config as numba_config
                found[peer] += f" (SVML {'on' if numba_config.USING_SVML else 'off'})"
        else:
            found[peer] = None
    return found


def _missing(peer: str, label: str) -> Contender:
    return unavailable(peer, f"peer {INSTALL_HINT}", label)


def numpy_contender(label: str, fn: Callable, args: tuple, peak: str | None = None) -> Contender:
    """NumPy computing ``fn(*args)``; ``peak``: its rate's peak where not the workload's."""
    return Contender("numpy", label, lambda: lambda: fn(*args), peak=peak)


@contextmanager
def mlc_cold() -> Iterator[None]:
    """mlc compiles from nothing: an object cache of its own, empty, for the block (the
    run's cache holds every earlier build's objects); removed afterwards."""
    from mlc.config import override
    cache = tempfile.mkdtemp(prefix="mlc-first-call-")
    try:
        with override(cache_dir=cache):
            yield
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def mlc_jit(fn: Callable, args: tuple, label: str = "jit", fast_math: bool = False) -> Contender:
    def build():
        import mlc
        jitted = mlc.jit(fn, fast_math=fast_math)
        return lambda: jitted(*args)
    return Contender("mlc", label, build, cold=mlc_cold, program=("jit", fn, args, fast_math))


def mlc_built(mod_fn: Callable, schedule, args: tuple, out: np.ndarray, label: str,
              entry: str = "main", target=None) -> Contender:
    """A te program built ahead of time with ``mlc.build`` for ``target`` (a string or an
    ``mlc.Target``; None: ``MLC_TARGET``, this machine unless ``--isa`` says otherwise; the
    first call times the build), called as the course calls a built
    module: on mlc arrays (``mlc.nd.array`` copies of ``args``, an ``mlc.nd.empty`` like
    ``out``), which are 64-byte aligned, as TVM's contender calls its module on TVM's
    tensors."""
    def build():
        import mlc
        kwargs = {} if schedule is None else {"schedule": schedule}
        lib = mlc.build(mod_fn(), target, **kwargs)
        f = lib[entry]
        inputs = [mlc.nd.array(a) for a in args]
        result = mlc.nd.empty(out.shape, out.dtype)

        def run():
            f(*inputs, result)
            return result
        return run
    return Contender("mlc", label, build, cold=mlc_cold, program=("built", mod_fn, schedule, args, out, entry))


def numba_contender(kernel: str, args: tuple, label: str = "njit(parallel, fastmath)") -> Contender:
    if not installed("numba"):
        return _missing("numba", label)

    def build():  # a new dispatcher of the kernel, which compiles on its first call
        from numba import njit

        from . import numba_kernels
        kernel_fn = getattr(numba_kernels, kernel)
        options = {k: v for k, v in kernel_fn.targetoptions.items() if k != "nopython"}  # (njit's own)
        f = njit(**options)(kernel_fn.py_func)
        return lambda: f(*args)
    return Contender("numba", label, build)


def jax_contender(make: Callable, args: tuple, label: str = "jit") -> Contender:
    """``make(jnp)`` returns the function to ``jax.jit``; arguments are put on the device
    first and every call waits for its result (``block_until_ready``)."""
    if not installed("jax"):
        return _missing("jax", label)

    def build():
        jax = _jax()
        f = jax.jit(make(jax.numpy))
        on_device = [jax.device_put(a) if isinstance(a, np.ndarray) else a for a in args]
        return lambda: jax.block_until_ready(f(*on_device))
    return Contender("jax", label, build, cold=_jax_cold)


@contextmanager
def _jax_cold() -> Iterator[None]:
    """JAX compiles from nothing: its tracing and compilation caches cleared first."""
    _jax().clear_caches()
    yield


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)  # float64 workloads stay float64; float32 ones are unaffected
    return jax


def tvm_contender(kernel: str, args: tuple, label: str = "te + hand schedule", **kwargs) -> Contender:
    if not installed("tvm"):
        return _missing("tvm", label)

    def build():
        from . import tvm_kernels
        return getattr(tvm_kernels, kernel)(*args, **kwargs)
    return Contender("tvm", label, build)


def tvm_impractical(label: str, why: str) -> Contender:
    if not installed("tvm"):
        return _missing("tvm", label)
    return unavailable("tvm", why, label)


def cores() -> int:
    return os.cpu_count() or 1
