"""Compare arrays the way mlc's tests do: exact for integers and bools, ulp- and
tolerance-aware for floats, NaN positions equal, infinities equal.

>>> import numpy as np
>>> from mlc.testing import assert_close, ulp_distance
>>> one = np.float32(1)
>>> int(ulp_distance(np.nextafter(one, np.float32(2)), one))
1
>>> assert_close(np.float32([1, np.nan]), np.float32([1, np.nan]))
>>> assert_close(np.float32([1.0]), np.float32([1.001]))
Traceback (most recent call last):
    ...
AssertionError: float32 (1,): 1 of 1 elements differ (tolerance: |a - e| <= 0 + 2e-06 * |e|)
  worst at index (0,): actual 1.0, expected 1.001; abs error 0.001, rel error 0.000999, 8389 ulps
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_RTOL", "ulp_distance", "compare", "Comparison", "assert_close"]

#: The relative tolerance of one float operation per dtype when nothing else is said
#: (a few ulps: math libraries round differently).
DEFAULT_RTOL = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-12, "complex64": 2e-6,
                "complex128": 1e-12}

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _ordered(x: np.ndarray) -> np.ndarray:
    """Float bit patterns as int64 that order like the floats (-0 and +0 both 0)."""
    bits = x.view(_UINT[x.dtype.itemsize]).astype(np.uint64)
    sign = np.uint64(1) << np.uint64(8 * x.dtype.itemsize - 1)
    magnitude = (bits & ~sign).astype(np.int64)
    return np.where(bits & sign, -magnitude, magnitude)


def ulp_distance(a, b) -> np.ndarray:
    """How many representable floats lie between ``a`` and ``b`` (same float dtype), as float64.

    Infinities count as one step past the largest finite value; NaN gives NaN.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.dtype.kind != "f":
        raise TypeError(f"ulp_distance needs two arrays of one float dtype, got {a.dtype} and {b.dtype}")
    oa, ob = _ordered(a), _ordered(b)
    with np.errstate(over="ignore"):
        distance = np.where(oa >= ob, (oa - ob).view(np.uint64), (ob - oa).view(np.uint64))
    distance = distance.astype(np.float64)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, distance)


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`: ``ok``, and where and by how much the arrays differ."""
    ok: bool
    summary: str = ""
    max_ulps: float = 0.0
    max_rel: float = 0.0
    max_abs: float = 0.0

    def __bool__(self) -> bool:
        return self.ok


def _index(flat: int, shape) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _describe(a: np.ndarray) -> str:
    return f"{a.dtype.name} {a.shape}"


def compare(actual, expected, *, ulps=None, rtol=None, atol=None, overflow_order: bool = False) -> Comparison:
    """Compare ``actual`` with ``expected`` (see :func:`assert_close` for the rules).

    ``overflow_order``: the results come from float reductions that may overflow in one
    order of their operations and not in another (inputs near the dtype's largest values:
    ``[0, 2**64, 2**64]`` multiplies to 0 in order and to NaN as ``0 * (2**64 * 2**64)``),
    so positions where either result is infinite or NaN and the other is not the same are
    not compared; the other positions are, as usual."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return Comparison(False, f"shape {actual.shape} != expected {expected.shape} "
                                 f"(dtypes {actual.dtype.name}, {expected.dtype.name})")
    if actual.dtype != expected.dtype:
        return Comparison(False, f"dtype {actual.dtype.name} != expected {expected.dtype.name} "
                                 f"(shape {actual.shape})")
    if actual.dtype.kind == "c":
        return _compare_complex(actual, expected, ulps, rtol, atol, overflow_order)
    if actual.dtype.kind != "f":
        wrong = actual != expected
        if not wrong.any():
            return Comparison(True)
        first = _index(int(np.flatnonzero(wrong)[0]), actual.shape)
        return Comparison(False, f"{_describe(actual)}: {int(wrong.sum())} of {actual.size} elements "
                                 f"differ (integers and bools compare exactly)\n  first at index "
                                 f"{first}: actual {str(actual[first])}, expected {str(expected[first])}")
    return _compare_floats(actual, expected, ulps, rtol, atol, overflow_order=overflow_order)


def _compare_complex(actual, expected, ulps, rtol, atol, overflow_order: bool = False) -> Comparison:
    """Each part as a float (NaNs and infinities where NumPy has them), its error measured
    against the modulus of the expected value (the normwise bound of complex arithmetic);
    where that modulus is infinite or NaN (the other part overflowed, ``cosh(90+1j)`` in
    complex64 has a finite real part and an infinite imaginary one, or is NaN), against the
    part's own value."""
    if ulps is None and rtol is None and atol is None:
        rtol = DEFAULT_RTOL[actual.dtype.name]
    with np.errstate(all="ignore"):
        scale = np.abs(expected.astype("complex128"))
    for name, part in (("real", np.real), ("imag", np.imag)):
        result = _compare_floats(part(actual), part(expected), ulps, rtol, atol, scale, overflow_order)
        if not result.ok:
            return Comparison(False, f"{name} parts: {result.summary}", result.max_ulps, result.max_rel,
                              result.max_abs)
    return Comparison(True)


def _compare_floats(actual, expected, ulps, rtol, atol, scale=None, overflow_order: bool = False) -> Comparison:
    """``scale``: what ``rtol`` is relative to (``|expected|`` when None); ``overflow_order``:
    see :func:`compare`."""
    if ulps is None and rtol is None and atol is None:
        rtol = DEFAULT_RTOL[actual.dtype.name]
    rtol, atol = rtol or 0.0, atol or 0.0
    if overflow_order:  # the positions an order of operations decides are left out (as zeros)
        decided = (np.isfinite(actual) & np.isfinite(expected)) | (actual == expected) | \
            (np.isnan(actual) & np.isnan(expected))
        actual, expected = np.where(decided, actual, 0), np.where(decided, expected, 0)
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if (nan_a != nan_e).any():
        where = [_index(int(i), a.shape) for i in np.flatnonzero(nan_a != nan_e)[:5]]
        return Comparison(False, f"{_describe(actual)}: NaN positions differ at {where}"
                                 f"{' ...' if (nan_a != nan_e).sum() > 5 else ''}; actual "
                                 f"{[float(a[i]) for i in where]}, expected {[float(e[i]) for i in where]}",
                          np.inf, np.inf, np.inf)
    finite = np.isfinite(a) & np.isfinite(e)
    infinite = ~finite & ~nan_e
    if (a[infinite] != e[infinite]).any():
        where = [_index(int(i), a.shape) for i in np.flatnonzero(infinite & (a != e))[:5]]
        return Comparison(False, f"{_describe(actual)}: infinities differ at {where}; actual "
                                 f"{[float(a[i]) for i in where]}, expected {[float(e[i]) for i in where]}",
                          np.inf, np.inf, np.inf)
    tiny = float(np.finfo(actual.dtype).tiny) * 4  # flush-to-zero / subnormal slack
    with np.errstate(all="ignore"):
        error = np.where(finite, np.abs(a - e), 0.0)
        allowed = atol + tiny + rtol * (np.abs(e) if scale is None else np.where(np.isfinite(scale), scale, np.abs(e)))
        distance = np.where(finite, ulp_distance(actual, expected), 0.0)
        relative = np.where(finite & (e != 0), error / np.abs(e), np.where(error > 0, np.inf, 0.0))
    good = error <= allowed
    if ulps is not None:
        good |= distance <= ulps
    stats = dict(max_ulps=float(distance.max(initial=0)), max_rel=float(relative.max(initial=0)),
                 max_abs=float(error.max(initial=0)))
    bad = ~good & finite
    if not bad.any():
        return Comparison(True, **stats)
    worst = _index(int(np.argmax(np.where(bad, distance, -1))), a.shape)
    rules = []
    if ulps is not None:
        rules.append(f"{ulps:g} ulps")
    if rtol or atol or ulps is None:
        rules.append(f"|a - e| <= {atol:.3g} + {rtol:.3g} * |e|")
    summary = (f"{_describe(actual)}: {int(bad.sum())} of {a.size} elements differ (tolerance: "
               f"{' or '.join(rules)})\n  worst at index {worst}: actual {str(actual[worst])}, "
               f"expected {str(expected[worst])}; abs error {error[worst]:.3g}, rel error "
               f"{relative[worst]:.3g}, {distance[worst]:.0f} ulps")
    return Comparison(False, summary, **stats)


def assert_close(actual, expected, *, ulps=None, rtol=None, atol=None, what: str = "") -> None:
    """Assert that ``actual`` matches ``expected``: same shape and dtype; integers and bools
    exactly; floats with NaN in the same places, equal infinities, and each finite element
    within ``ulps`` units in the last place or ``atol + rtol * |expected|`` (either suffices;
    complex numbers: each part so, ``rtol`` relative to the modulus of the expected value;
    subnormal results may flush to zero). Without any tolerance, ``rtol`` is
    :data:`DEFAULT_RTOL` of the dtype. The message names the worst element, its error in
    ulps and relative terms.
    """
    result = compare(actual, expected, ulps=ulps, rtol=rtol, atol=atol)
    if not result.ok:
        raise AssertionError(f"{what}: {result.summary}" if what else result.summary)
