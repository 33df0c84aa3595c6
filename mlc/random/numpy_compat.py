"""NumPy's random functions inside ``@mlc.jit``: fresh numbers at every call, never a frozen draw.

``np.random.rand(3)`` in a jitted function has no traced argument, so NumPy
would draw it while tracing and the compiled function would return the same
numbers at every call; the jit refuses such a trace (a TraceError naming the
line, :mod:`mlc.tracer.numpy_random`). The functions here are the traced
forms: each draws with :mod:`mlc.random` from *the call's key*, a hidden
input of the compiled function that the jit draws at every call from NumPy's
global generator (for a ``Generator`` or ``RandomState`` made outside the
function, from that object). So:

- every call gives new numbers, and advances NumPy's global generator (by two
  32-bit words per call, whatever the function draws);
- ``np.random.seed(0); f(x)`` gives the same numbers every time it is run;
- the numbers have NumPy's distributions, shapes and dtypes (float64, int64 by
  default), but are not NumPy's numbers: they come from Threefry, not from the
  Mersenne Twister (or PCG64) stream, so ``np.random.seed(0); np.random.rand(3)``
  and ``np.random.seed(0); f()`` with ``f`` returning ``np.random.rand(3)``
  differ. Two draws in one function are independent (each folds its position
  in the function into the key).

:func:`replacement` finds the traced form of a NumPy function or of a
generator's bound method (for a source transformation of the jitted function,
which sees ``np.random.rand`` called); they can also be called directly, and
outside a trace each is NumPy's own function:

>>> import numpy as np, mlc
>>> from mlc.random import numpy_compat as npr
>>> @mlc.jit
... def noisy(x):
...     return x + npr.normal(0.0, 0.1, x.shape)
>>> x = np.zeros(3)
>>> bool((noisy(x) != noisy(x)).all())          # fresh numbers at every call
True
>>> np.random.seed(0); a = noisy(x)
>>> np.random.seed(0); b = noisy(x)
>>> bool((a == b).all())                        # reproducible under np.random.seed
True

:data:`TRACED` maps NumPy's functions to their traced forms; ``seed`` is refused
inside a trace (seed before calling instead), ``default_rng()`` without a seed
too; a ``Generator`` made inside the function with a seed is NumPy's own (its
numbers are the same at every call, in NumPy as in the compiled function).
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import TraceError
from ..ir import dtype as dt
from ..tracer.numpy_random import GLOBAL
from ..tracer.source import describe_location, user_location
from ..tracer.trace import current_trace, is_tracing
from ..tracer.tracer import Tracer
from . import continuous, discrete, gamma as gammas, multivariate
from .keys import fold_in

__all__ = ["TRACED", "GENERATOR_METHODS", "replacement", "rand", "randn", "random_sample", "uniform", "normal",
           "standard_normal", "randint", "choice", "permutation", "shuffle", "seed", "default_rng"]

_F64 = "float64"

#: NumPy's function -> its traced form (``np.random.rand`` -> :func:`rand`, ...).
TRACED: dict = {}
#: A Generator's method name -> its traced form, taking the generator first.
GENERATOR_METHODS: dict = {}
#: The RandomState methods (besides the global one's, in TRACED) -> their traced forms,
#: taking the RandomState first.
_RANDOM_STATE_METHODS: dict = {}


def _key(source=GLOBAL) -> Tracer:
    """This draw's key: the call's key from ``source``, this draw's position folded in."""
    key, n = current_trace().random_key(source)
    return fold_in(key, n)


def _shape(size, *params) -> tuple[int, ...]:
    """NumPy's ``size``: None is the parameters' broadcast shape (() for none), an int one axis."""
    if size is None:
        return np.broadcast_shapes(*(np.shape(p) if not isinstance(p, Tracer) else tuple(p.shape) for p in params))
    return (size,) if isinstance(size, (int, np.integer)) else tuple(size)


def _numpy_form(numpy_fn):
    """Register the decorated ``impl(source, *args)`` as the traced form of ``numpy_fn`` (one
    of ``np.random``'s, drawing from the global generator); outside a trace it is
    ``numpy_fn`` itself. Also the traced form of the method of that name of any RandomState."""
    def decorate(impl):
        @functools.wraps(numpy_fn)
        def traced(*args, **kwargs):
            if not is_tracing():
                return numpy_fn(*args, **kwargs)
            return impl(GLOBAL, *args, **kwargs)
        traced.__doc__ = f"``np.random.{numpy_fn.__name__}``, traced: {impl.__doc__}"
        TRACED[numpy_fn] = traced
        _RANDOM_STATE_METHODS[numpy_fn.__name__] = impl
        return traced
    return decorate


def _generator_form(name: str):
    """Register the decorated ``impl(generator, *args)`` as the traced form of the Generator
    method ``name`` (outside a trace: the method itself)."""
    def decorate(impl):
        GENERATOR_METHODS[name] = impl
        return impl
    return decorate


# ---------------------------------------------------------------- np.random (RandomState)

@_numpy_form(np.random.rand)
def _rand(source, *dims):
    """uniform float64 numbers in [0, 1) of shape ``dims``."""
    return continuous.uniform(_key(source), dims, _F64)


@_numpy_form(np.random.randn)
def _randn(source, *dims):
    """standard normal float64 numbers of shape ``dims``."""
    return continuous.normal(_key(source), dims, _F64)


def _sample(source, size=None):
    """uniform float64 numbers in [0, 1)."""
    return continuous.uniform(_key(source), _shape(size), _F64)


for _fn in (np.random.random_sample, np.random.random, np.random.ranf, np.random.sample):
    _numpy_form(_fn)(_sample)


@_numpy_form(np.random.uniform)
def _uniform(source, low=0.0, high=1.0, size=None):
    """uniform float64 numbers in [low, high)."""
    return continuous.uniform(_key(source), _shape(size, low, high), _F64, low, high)


@_numpy_form(np.random.normal)
def _normal(source, loc=0.0, scale=1.0, size=None):
    """normal float64 numbers of mean ``loc`` and standard deviation ``scale``."""
    return loc + scale * continuous.normal(_key(source), _shape(size, loc, scale), _F64)


@_numpy_form(np.random.standard_normal)
def _standard_normal(source, size=None):
    """standard normal float64 numbers."""
    return continuous.normal(_key(source), _shape(size), _F64)


def _int_bounds(function: str, low, high):
    if high is None:
        low, high = 0, low
    if isinstance(low, int) and isinstance(high, int) and low >= high:
        raise TraceError(f"{function}: low >= high ({low} >= {high}), as NumPy's ValueError says"
                         + describe_location(user_location()))
    return low, high


@_numpy_form(np.random.randint)
def _randint(source, low, high=None, size=None, dtype=int):
    """integers in [low, high) ([0, low) without ``high``), int64 by default."""
    low, high = _int_bounds("np.random.randint", low, high)
    return discrete.randint(_key(source), _shape(size, low, high), low, high, dt.canonical(dtype))


@_numpy_form(np.random.choice)
def _choice(source, a, size=None, replace=True, p=None):
    """entries of ``a`` (of ``arange(a)``), with or without replacement, weighted by ``p``."""
    return discrete.choice(_key(source), a, _shape(size), replace, p)


@_numpy_form(np.random.permutation)
def _permutation(source, x):
    """a permuted ``arange(x)``, or a permuted copy of ``x`` along its first axis."""
    return discrete.permutation(_key(source), x)


@_numpy_form(np.random.shuffle)
def _shuffle(source, x):
    """``x`` permuted along its first axis, in place."""
    return _shuffled(source, x, 0)


def _shuffled(source, x, axis):
    if not isinstance(x, Tracer):
        raise TraceError("np.random.shuffle inside a jitted function shuffles traced arrays; got a "
                         f"{type(x).__name__}, which would be shuffled once, while tracing"
                         + describe_location(user_location(3)))
    permuted = discrete.permutation(_key(source), x, axis)
    try:
        x[...] = permuted
    except TraceError:
        raise TraceError("np.random.shuffle(x) changes x in place, and this traced x cannot be written; "
                         "write x = np.random.permutation(x) instead" + describe_location(user_location(3))) from None


@_numpy_form(np.random.exponential)
def _exponential(source, scale=1.0, size=None):
    """exponential float64 numbers of mean ``scale``."""
    return scale * continuous.exponential(_key(source), _shape(size, scale), _F64)


@_numpy_form(np.random.standard_exponential)
def _standard_exponential(source, size=None):
    """exponential float64 numbers of mean 1."""
    return continuous.exponential(_key(source), _shape(size), _F64)


def _located(sampler):
    def impl(source, loc=0.0, scale=1.0, size=None):
        return loc + scale * sampler(_key(source), _shape(size, loc, scale), _F64)
    impl.__doc__ = f"{sampler.__name__} float64 numbers of location ``loc`` and scale ``scale``."
    return impl


_numpy_form(np.random.gumbel)(_located(continuous.gumbel))
_numpy_form(np.random.laplace)(_located(continuous.laplace))
_numpy_form(np.random.logistic)(_located(continuous.logistic))


@_numpy_form(np.random.standard_cauchy)
def _standard_cauchy(source, size=None):
    """standard Cauchy float64 numbers."""
    return continuous.cauchy(_key(source), _shape(size), _F64)


@_numpy_form(np.random.standard_gamma)
def _standard_gamma(source, shape, size=None):
    """gamma float64 numbers of shape ``shape`` and scale 1."""
    return gammas.gamma(_key(source), shape, _shape(size, shape), _F64)


@_numpy_form(np.random.gamma)
def _gamma(source, shape, scale=1.0, size=None):
    """gamma float64 numbers of shape ``shape`` and scale ``scale``."""
    return scale * gammas.gamma(_key(source), shape, _shape(size, shape, scale), _F64)


@_numpy_form(np.random.beta)
def _beta(source, a, b, size=None):
    """beta float64 numbers."""
    return gammas.beta(_key(source), a, b, _shape(size, a, b), _F64)


@_numpy_form(np.random.dirichlet)
def _dirichlet(source, alpha, size=None):
    """Dirichlet float64 vectors (``size`` vectors of ``len(alpha)``)."""
    return gammas.dirichlet(_key(source), alpha, () if size is None else _shape(size), _F64)


@_numpy_form(np.random.multivariate_normal)
def _multivariate_normal(source, mean, cov, size=None, check_valid="warn", tol=1e-8):
    """normal float64 vectors of mean ``mean`` and covariance ``cov`` (by its Cholesky factor:
    not checked to be positive semi-definite; NaN where it is not positive definite)."""
    return multivariate.multivariate_normal(_key(source), mean, cov, None if size is None else _shape(size), _F64)


@_numpy_form(np.random.seed)
def _seed(source, seed=None):
    """refused: it would reseed once, while tracing."""
    raise TraceError("np.random.seed inside a jitted function would run once, while tracing, not at every "
                     "call; call np.random.seed(...) before calling the function: each call draws its key "
                     "from NumPy's global generator, so the calls after a seed are reproducible"
                     + describe_location(user_location(3)))


rand, randn, random_sample = TRACED[np.random.rand], TRACED[np.random.randn], TRACED[np.random.random_sample]
uniform, normal, standard_normal = TRACED[np.random.uniform], TRACED[np.random.normal], TRACED[np.random.standard_normal]
randint, choice, permutation = TRACED[np.random.randint], TRACED[np.random.choice], TRACED[np.random.permutation]
shuffle, seed = TRACED[np.random.shuffle], TRACED[np.random.seed]


# ---------------------------------------------------------------- Generators

def default_rng(seed=None):
    """``np.random.default_rng`` inside a trace: with a seed, NumPy's Generator, whose numbers
    are the same at every call (in NumPy too: it is made anew at each call) and so a constant
    of the compiled function; without one, refused (NumPy's would draw OS entropy at every
    call)."""
    if not is_tracing():
        return np.random.default_rng(seed)
    if seed is None:
        raise TraceError("np.random.default_rng() without a seed inside a jitted function would draw its "
                         "entropy once, while tracing; make the Generator outside the function (each call "
                         "then draws from it), give it a seed, or draw with mlc.random from a key argument"
                         + describe_location(user_location()))
    generator = np.random.default_rng(seed)
    current_trace().generators_made.append(generator)
    return generator


TRACED[np.random.default_rng] = default_rng


@_generator_form("integers")
def _integers(generator, low, high=None, size=None, dtype=np.int64, endpoint=False):
    low, high = _int_bounds("Generator.integers", low, high)
    if endpoint:
        high = high + 1
    return discrete.randint(_key(generator), _shape(size, low, high), low, high, dt.canonical(dtype))


@_generator_form("random")
def _generator_random(generator, size=None, dtype=np.float64, out=None):
    _no_out("Generator.random", out)
    return continuous.uniform(_key(generator), _shape(size), dt.canonical(dtype))


@_generator_form("standard_normal")
def _generator_standard_normal(generator, size=None, dtype=np.float64, out=None):
    _no_out("Generator.standard_normal", out)
    return continuous.normal(_key(generator), _shape(size), dt.canonical(dtype))


@_generator_form("choice")
def _generator_choice(generator, a, size=None, replace=True, p=None, axis=0, shuffle=True):
    return discrete.choice(_key(generator), a, _shape(size), replace, p, axis)


@_generator_form("permutation")
def _generator_permutation(generator, x, axis=0):
    return discrete.permutation(_key(generator), x, axis)


@_generator_form("shuffle")
def _generator_shuffle(generator, x, axis=0):
    return _shuffled(generator, x, axis)


for _name in ("uniform", "normal", "exponential", "standard_exponential", "gumbel", "laplace", "logistic",
              "standard_cauchy", "standard_gamma", "gamma", "beta", "dirichlet", "multivariate_normal"):
    GENERATOR_METHODS[_name] = _RANDOM_STATE_METHODS[_name]


def _no_out(function: str, out) -> None:
    if out is not None:
        raise TraceError(f"{function}: out= is not supported inside a jitted function; use the result"
                         + describe_location(user_location(3)))


# ---------------------------------------------------------------- lookup

def replacement(function):
    """The traced form of ``function`` (NumPy's ``np.random.rand``, a Generator's bound
    ``rng.normal``, a RandomState's ``rs.randint``), bound to its generator; None for anything
    else, and for the methods of a Generator made inside the trace (NumPy's own)."""
    try:
        found = TRACED.get(function)
    except TypeError:  # unhashable
        return None
    if found is not None:
        return found
    owner, name = getattr(function, "__self__", None), getattr(function, "__name__", None)
    if isinstance(owner, np.random.Generator) and name in GENERATOR_METHODS and not _made_in_trace(owner):
        return _bound(function, GENERATOR_METHODS[name], owner)
    if isinstance(owner, np.random.RandomState) and name in _RANDOM_STATE_METHODS:
        return _bound(function, _RANDOM_STATE_METHODS[name], owner)
    return None


def _made_in_trace(generator) -> bool:
    trace = current_trace()
    return trace is not None and any(g is generator for g in trace.generators_made)


def _bound(method, impl, generator):
    @functools.wraps(method)
    def traced(*args, **kwargs):
        if not is_tracing():
            return method(*args, **kwargs)
        return impl(generator, *args, **kwargs)
    return traced
