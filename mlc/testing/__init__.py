"""Property testing for code compiled with mlc: compare it with NumPy.

- strategies: :func:`shapes`, :func:`dtypes`, :func:`arrays`, :func:`broadcastable`,
  :func:`elements` (Hypothesis strategies; Hypothesis is needed for these);
- :func:`check_against_numpy`: draw inputs, run a jitted function, an ``@mlc.op``
  operator or a built module's function on each target, compare with a
  NumPy reference, and fail with the shrunk counterexample, its error in ulps
  and the IR that computed it;
- :func:`check_grads`: a function's derivatives (``mlc.jvp``, ``mlc.vjp``, to second order)
  against central finite differences;
- :func:`assert_close` (no Hypothesis needed): exact for integers and bools,
  ulp/tolerance-aware for floats, NaN positions equal;
- ``mlc.testing.pytest_plugin``: Hypothesis profiles and ``--mlc-target``.

Names load on first use (PEP 562): ``import mlc.testing`` imports neither
Hypothesis nor the tracer.
"""
from importlib import import_module

#: public name -> (module, attribute)
_LAZY = {
    **{name: ("mlc.testing.assertions", name) for name in (
        "assert_close", "compare", "Comparison", "ulp_distance", "DEFAULT_RTOL")},
    **{name: ("mlc.testing.tolerance", name) for name in ("Budget", "error_budget")},
    **{name: ("mlc.testing.strategies", name) for name in (
        "shapes", "dtypes", "arrays", "broadcastable", "elements", "FLOATS", "COMPLEX", "SIGNED", "UNSIGNED",
        "INTS", "NUMERIC", "ALL", "SPECIAL_KINDS")},
    "check_grads": ("mlc.testing.gradients", "check_grads"),
    **{name: ("mlc.testing.check", name) for name in (
        "check_against_numpy", "check_custom_op", "Counterexample", "numpy_call",
        "default_targets", "set_default_targets")},
}


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mlc.testing' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
