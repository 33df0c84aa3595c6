"""JAX's functional index updates on traced arrays: ``x.at[idx].set(v)``, ``.add``,
``.subtract``, ``.multiply``, ``.divide``, ``.power``, ``.min``, ``.max``, ``.apply`` and
``.get``.

Each returns a new array and leaves ``x`` as it was (an update of a copy, which fusion
makes a write in place where ``x`` is not read again). The index is anything ``x[idx]``
takes. Repeated integer indices accumulate for ``add``, ``subtract``, ``multiply``, ``min``
and ``max`` (NumPy's ``np.add.at``), as JAX's scatters do; for ``set`` the last write wins,
for ``divide``, ``power`` and ``apply`` each position is updated once. The update is cast
to ``x``'s dtype. Out-of-bounds indices are errors, as in NumPy (JAX drops such updates):
the ``mode`` argument takes only ``None`` and ``"promise_in_bounds"``.

>>> import numpy as np, mlc
>>> @mlc.jit
... def bump(x, i):
...     return x.at[i].add(10.0), x.at[np.array([0, 0, 2])].add(1.0), x
>>> bump(np.zeros(4), 1)
(array([ 0., 10.,  0.,  0.]), array([2., 0., 1., 0.]), array([0., 0., 0., 0.]))
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from .updates import assigned

__all__ = ["IndexUpdates"]

#: method -> the NumPy ufunc whose ``at`` accumulates repeated indices
_ACCUMULATING = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "min": np.minimum,
                 "max": np.maximum}
#: method -> the ufunc applied once per position
_ONCE = {"divide": np.divide, "power": np.power}
_MODES = (None, "promise_in_bounds")


class IndexUpdates:
    """``x.at``: indexed by ``[idx]``, the updates of ``x`` at ``idx``."""

    __slots__ = ("_array",)

    def __init__(self, array: Tracer):
        self._array = array

    def __getitem__(self, index) -> IndexUpdate:
        return IndexUpdate(self._array, index)

    def __repr__(self) -> str:
        return f"IndexUpdates({self._array!r})"


class IndexUpdate:
    """``x.at[idx]``: a new array with ``x``'s values, updated at ``idx`` by one of the methods."""

    __slots__ = ("_array", "_index")

    def __init__(self, array: Tracer, index):
        self._array, self._index = array, index

    def get(self, *, mode=None, indices_are_sorted=False, unique_indices=False, fill_value=None):
        """``x[idx]``."""
        self._check(mode, "get")
        if fill_value is not None:
            raise TraceError("x.at[idx].get(fill_value=...) fills out-of-bounds reads, which are errors here "
                             "(as in NumPy); index within bounds" + _where())
        return self._array[self._index]

    def set(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] = values`` (the last write wins at a repeated index)."""
        self._check(mode, "set")
        return assigned(self._array, self._index, self._cast(values))

    def add(self, values, **options):
        """``x`` with ``values`` added at ``idx`` (repeated indices add up)."""
        return self._accumulate("add", values, options)

    def subtract(self, values, **options):
        """``x`` with ``values`` subtracted at ``idx`` (repeated indices subtract each)."""
        return self._accumulate("subtract", values, options)

    def multiply(self, values, **options):
        """``x`` multiplied by ``values`` at ``idx`` (repeated indices multiply each)."""
        return self._accumulate("multiply", values, options)

    mul = multiply

    def min(self, values, **options):
        """``x`` with ``np.minimum(x, values)`` at ``idx``."""
        return self._accumulate("min", values, options)

    def max(self, values, **options):
        """``x`` with ``np.maximum(x, values)`` at ``idx``."""
        return self._accumulate("max", values, options)

    def divide(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` divided by ``values`` at ``idx`` (each position once)."""
        self._check(mode, "divide")
        return self._once(lambda old: _ONCE["divide"](old, values))

    def power(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` raised to ``values`` at ``idx`` (each position once)."""
        self._check(mode, "power")
        return self._once(lambda old: _ONCE["power"](old, values))

    def apply(self, func, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with the elementwise ``func`` applied at ``idx`` (each position once)."""
        self._check(mode, "apply")
        return self._once(func)

    # ----------------------------------------------------------------- helpers

    def _once(self, update):
        x = self._array
        return assigned(x, self._index, self._cast(update(x[self._index])))

    def _accumulate(self, name: str, values, options: dict):
        unknown = set(options) - {"mode", "indices_are_sorted", "unique_indices"}
        if unknown:
            raise TraceError(f"x.at[idx].{name}() got unexpected keyword arguments {sorted(unknown)}" + _where())
        self._check(options.get("mode"), name)
        x, ufunc = self._array, _ACCUMULATING[name]
        if not _has_index_arrays(self._index) or options.get("unique_indices"):
            return assigned(x, self._index, self._cast(ufunc(x[self._index], values)))
        out = x.fresh()
        ufunc.at(out, self._index, self._cast(values))  # repeated indices accumulate
        return out

    def _cast(self, values):
        x = self._array
        v = as_tracer(values, x._ctx)
        return v if v.dtype == x.dtype else v.astype(x.dtype)

    def _check(self, mode, method: str) -> None:
        if mode not in _MODES:
            raise TraceError(f"x.at[idx].{method}(mode={mode!r}): out-of-bounds indices are errors here, as in "
                             f"NumPy; the mode may be None or 'promise_in_bounds'" + _where())


def _has_index_arrays(index) -> bool:
    """Whether ``index`` holds an integer array (which may repeat a position)."""
    items = index if isinstance(index, tuple) else (index,)
    for k in items:
        if isinstance(k, Tracer):
            if k.ndim and k.dtype.kind in "iu":
                return True
        elif isinstance(k, (list, np.ndarray)) and np.ndim(k) and np.asarray(k).dtype.kind in "iu":
            return True
    return False


def _where() -> str:
    return describe_location(user_location())
