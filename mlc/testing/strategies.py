"""Hypothesis strategies for tensor programs: shapes, dtypes, arrays, broadcastable shapes.

They draw what breaks compilers: size-1 and odd sides that no tile divides,
empty dimensions (when ``min_side=0``), 0-d arrays, shapes that broadcast
against each other, and, on request, NaN, infinities, signed zeros,
subnormals and the dtype's extremes.

>>> from hypothesis import find
>>> from mlc.testing import arrays, shapes
>>> strategy = arrays(["float32", "int8"], shapes=shapes(max_dims=2))
>>> x = find(strategy, lambda a: a.dtype == "int8" and a.ndim == 2 and a.size > 1)
>>> x.dtype.name, x.ndim
('int8', 2)
"""
from __future__ import annotations


import numpy as np

from ..errors import DTypeError, ShapeError
from ._hypothesis import hnp, st

__all__ = ["FLOATS", "COMPLEX", "SIGNED", "UNSIGNED", "INTS", "NUMERIC", "ALL", "SPECIAL_KINDS", "elements",
           "arrays", "shapes", "dtypes", "broadcastable"]

FLOATS = ("float16", "float32", "float64")
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
#: Complex dtypes (drawn part by part; not in NUMERIC and ALL, which most ops' tests sample).
COMPLEX = ("complex64", "complex128")
NUMERIC = INTS + FLOATS
ALL = ("bool",) + NUMERIC

#: What ``special=True`` mixes into float draws; ``special=("nan", "inf")`` picks some.
SPECIAL_KINDS = ("nan", "inf", "zero", "subnormal", "extreme")

#: Sides that catch tiling and vectorization mistakes: 1, odd, prime, one past a power of two.
_INTERESTING_SIDES = (0, 1, 2, 3, 5, 7, 13, 17, 31, 33, 63, 65, 127, 129)


def _dtype_name(dtype, argument: str) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise DTypeError(f"mlc.testing: {argument} must be a NumPy dtype name such as 'float32', "
                         f"got {dtype!r}") from None
    if name not in ALL + COMPLEX:
        raise DTypeError(f"mlc.testing: {argument} {name!r} is not a dtype mlc supports; expected "
                         f"one of {', '.join(ALL + COMPLEX)}")
    return name


def _special_kinds(special) -> tuple[str, ...]:
    if special is True:
        return SPECIAL_KINDS
    if not special:
        return ()
    kinds = (special,) if isinstance(special, str) else tuple(special)
    unknown = [k for k in kinds if k not in SPECIAL_KINDS]
    if unknown:
        raise ValueError(f"mlc.testing: special= takes True, False or some of {SPECIAL_KINDS}, "
                         f"got {unknown}")
    return kinds


def _special_floats(dtype: str, kinds, lo: float, hi: float) -> list[float]:
    finfo = np.finfo(dtype)
    values = []
    if "nan" in kinds:
        values.append(np.nan)
    if "inf" in kinds:
        values += [np.inf, -np.inf]
    finite = []
    if "zero" in kinds:
        finite += [0.0, -0.0]
    if "subnormal" in kinds:
        smallest = float(finfo.smallest_subnormal)
        finite += [smallest, -smallest, float(finfo.tiny) / 2, -float(finfo.tiny) / 2]
    if "extreme" in kinds:
        finite += [float(finfo.max), -float(finfo.max), float(finfo.tiny), -float(finfo.tiny)]
    return values + [v for v in finite if lo <= v <= hi]


def elements(dtype, *, special=False, bound: float | None = None, min_value=None):
    """Scalar values of ``dtype``: negatives, zeros, ones and large magnitudes.

    Floats are drawn from ``[-bound, bound]`` (the whole finite range without
    ``bound``); ``min_value`` raises the lower end. ``special`` mixes in the
    values of :data:`SPECIAL_KINDS` (True: all of them). Integers cover the
    dtype's range (clipped to ``bound``) with 0, 1, -1 and both ends weighted in. Complex
    values have two parts drawn so from the parts' float dtype.
    """
    dtype = _dtype_name(dtype, "dtype")
    if dtype in COMPLEX:
        part = elements("float32" if dtype == "complex64" else "float64", special=special, bound=bound,
                        min_value=min_value)
        return st.builds(complex, part, part)
    if dtype == "bool":
        return st.booleans()
    if dtype in FLOATS:
        finfo = np.finfo(dtype)
        hi = float(finfo.max) if bound is None else bound
        lo = -hi if min_value is None else min_value
        values = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=finfo.bits)
        picks = [p for p in (0.0, -0.0, 1.0, -1.0, 0.5) if lo <= p <= hi]
        options = [values, st.sampled_from(picks)] if picks else [values]
        specials = _special_floats(dtype, _special_kinds(special), lo, hi)
        if specials:
            options.append(st.sampled_from(specials))
        return st.one_of(*options)
    info = np.iinfo(dtype)
    lo = int(info.min) if bound is None else max(int(info.min), -int(bound))
    lo = lo if min_value is None else max(lo, int(min_value))
    hi = int(info.max) if bound is None else min(int(info.max), int(bound))
    return st.one_of(st.integers(lo, hi), st.sampled_from([v for v in (0, 1, -1, lo, hi) if lo <= v <= hi]))


def dtypes(*names, kinds=None):
    """One dtype name from ``names`` (default: every dtype mlc supports), or from groups:
    ``dtypes(kinds="f")`` floats, ``"i"`` signed, ``"u"`` unsigned, ``"b"`` bool."""
    if len(names) == 1 and not isinstance(names[0], str):
        names = tuple(names[0])
    if kinds is not None:
        names = names + tuple(d for d in ALL if np.dtype(d).kind in kinds)
    names = tuple(dict.fromkeys(_dtype_name(n, "dtypes()") for n in names)) or ALL
    return st.sampled_from(names)


def shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 0, max_side: int = 8):
    """Array shapes of ``min_dims..max_dims`` dimensions with sides in ``min_side..max_side``.

    Sides of size 1, odd and prime sizes, sizes one past (and one short of) a power of
    two (no tile divides them) and the range's ends are weighted in
    (:func:`interesting_sides`), and so are empty dimensions when ``min_side`` is 0.
    """
    if not 0 <= min_dims <= max_dims or not 0 <= min_side <= max_side:
        raise ShapeError(f"mlc.testing.shapes: need 0 <= min_dims <= max_dims and 0 <= min_side <= "
                         f"max_side, got dims {min_dims}..{max_dims}, sides {min_side}..{max_side}")
    plain = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)
    sides = interesting_sides(min_side, max_side)
    if min_side <= 1 <= max_side:  # broadcasting dimensions, weighted up: a third of the sides drawn
        sides += [1] * (len(sides) // 2)
    interesting = st.lists(st.sampled_from(sides), min_size=min_dims, max_size=max_dims).map(tuple)
    return st.one_of(plain, interesting)


def interesting_sides(lo: int, hi: int) -> list[int]:
    """The sides in ``lo..hi`` that break tiling and vectorization: the small ones of
    ``_INTERESTING_SIDES``, one short of and one past each power of two, the smallest
    prime, and the range's ends (never empty, for any range: one of 1000..5000 holds
    none of the small ones).

    >>> interesting_sides(1000, 5000)
    [1000, 1009, 1023, 1025, 2047, 2049, 4095, 4097, 5000]
    """
    sides = {s for s in _INTERESTING_SIDES if lo <= s <= hi} | {lo, hi}
    power = 2
    while power - 1 <= hi:
        sides.update(s for s in (power - 1, power + 1) if lo <= s <= hi)
        power *= 2
    start = max(lo, 2)
    prime = next((n for n in range(start, min(hi, start + _PRIME_SEARCH) + 1) if _is_prime(n)), None)
    if prime is not None:
        sides.add(prime)
    return sorted(sides)


#: How far past the range's start :func:`interesting_sides` looks for a prime (the gaps
#: between primes below 10^12 are under 600).
_PRIME_SEARCH = 1000


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n ** 0.5) + 1))


def broadcastable(n: int = 2, *, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                  max_side: int = 5):
    """Tuples of ``n`` shapes that broadcast together (size-1 and missing dimensions included).

    To draw arrays of these shapes as separate arguments, share one draw:
    ``pair = st.shared(broadcastable(2), key="pair")``, then
    ``arrays("float32", shape=pair.map(lambda p: p[0]))`` and ``... p[1]``.
    """
    if n < 1:
        raise ShapeError(f"mlc.testing.broadcastable: n must be at least 1, got {n}")
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(
        lambda r: r.input_shapes)


def arrays(dtypes=ALL, shape=None, *, shapes=None, special=False, bound: float | None = None,
           min_value=None):
    """NumPy arrays: dtype from ``dtypes`` (a name, a list of names or a strategy), shape
    ``shape`` (a tuple or an int) or drawn from ``shapes`` (default :func:`shapes`), values
    from :func:`elements` (``special``, ``bound`` and ``min_value`` as there)."""
    if shape is not None and shapes is not None:
        raise ShapeError("mlc.testing.arrays: give shape= or shapes=, not both")
    options = dict(special=special, bound=bound, min_value=min_value)

    def of(dtype, shape):
        return hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, **options))

    if isinstance(dtypes, st.SearchStrategy):
        dtype_strategy = dtypes.map(lambda d: _dtype_name(d, "dtype"))
    elif isinstance(dtypes, (str, np.dtype, type)):
        dtype_strategy = _dtype_name(dtypes, "dtype")
    else:
        names = tuple(_dtype_name(d, "dtype") for d in dtypes)
        if not names:
            raise DTypeError("mlc.testing.arrays: dtypes is empty; give at least one dtype name")
        dtype_strategy = st.sampled_from(names)
    if shape is not None:
        shape_strategy = (shape,) if isinstance(shape, int) else shape
    else:
        shape_strategy = _default_shapes() if shapes is None else shapes
    if isinstance(dtype_strategy, str):  # one dtype: its elements strategy is built once
        return of(dtype_strategy, shape_strategy)
    return dtype_strategy.flatmap(lambda d: of(d, shape_strategy))


def _default_shapes():
    return shapes()
