"""``mlc.optim``: optimizers as pure update functions on pytrees of arrays, as optax's.

An optimizer is a pair of functions: ``init(params) -> state`` and
``update(grads, state, params) -> (params, state)``. Both are NumPy code
on arrays, so they run eagerly and trace inside ``@mlc.jit``, where the
update fuses with the forward and backward passes into one program:

>>> import numpy as np, mlc
>>> opt = mlc.optim.adam(0.1)
>>> params = {"w": np.ones(3, "float32")}
>>> state = opt.init(params)
>>> @mlc.jit
... def step(params, state):
...     g = mlc.grad(lambda p: np.sum(p["w"] ** 2))(params)
...     return opt.update(g, state, params)
>>> params, state = step(params, state)
>>> params["w"]
array([0.9, 0.9, 0.9], dtype=float32)

The state is a pytree of arrays (a step count, moment estimates shaped like
the parameters), to be passed in and out of the jitted step. Each update keeps
every parameter's dtype.
"""
from .optimizers import Optimizer, adam, adamw, sgd

__all__ = ["Optimizer", "sgd", "adam", "adamw"]
