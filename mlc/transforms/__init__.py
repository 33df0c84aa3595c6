"""Transformations of traced functions: differentiation (``grad``, ``vjp``, ``jvp`` and what is
built on them) and batching (``vmap``).

Each is a ``Graph -> Graph`` function (:func:`.jvp.jvp_graph`, :func:`.vjp.vjp_graph`,
:func:`.batching.batch_graph`) driven by the rules every op of the registry declares
(:mod:`mlc.ops.rules`); the functions exported here trace the user's function, transform its
graph and record the result in the enclosing trace, so they compose with each other and with
``mlc.jit`` in any order, and a jitted training step is one fused program.
"""
from .. import numpy as _numpy  # noqa: F401 - traced arrays' operators and methods, which rules use
from .autodiff import grad, jvp, linearize, value_and_grad, vjp
from .batching import batch_graph
from .custom import custom_jvp, custom_vjp, stop_gradient
from .jacobians import hessian, jacfwd, jacrev
from .jvp import jvp_graph
from .partial_eval import partial_eval
from .vjp import vjp_graph
from .vmap import vmap
from . import vectorize as _vectorize  # noqa: F401 - np.vectorize(f)(x) on traced arrays

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "jacfwd", "jacrev", "hessian", "vmap",
           "stop_gradient", "custom_vjp", "custom_jvp", "jvp_graph", "vjp_graph", "batch_graph", "partial_eval"]
