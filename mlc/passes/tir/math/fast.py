"""Coefficients of the ``fast_math`` variants of the vector math routines.

``mlc.build(..., fast_math=True)`` (and ``@mlc.jit(fast_math=True)``) emit the
same algorithms as :mod:`.exp_log` with these lower-degree polynomials; a
polynomial not listed here keeps its accurate coefficients. The float32 ones
are weighted least-squares fits of relative error (done in float64 with
NumPy, coefficients rounded to float32; the comment gives the max relative
error of the rounded polynomial on its interval); the float64 exp one is the
Taylor series cut at degree 9 (remainder <= |r|^12 / 12! < 7e-15).

Some float32 routines take another algorithm:

* tanh: ``x P(x^2) / Q(x^2)`` with x clamped to [-9, 9], a rational fit (8 FMAs
  and a division instead of an exponential and a division);
* log (and log2, log10, log1p built on it): ``x = 2^k (1 + f)`` with ``1 + f``
  in [2/3, 4/3) and ``log(1 + f) = f + f^2 P(f)``, P of degree 7, where the
  accurate routine divides (``s = f / (2 + f)``);
* atan, asin, acos, atan2 (:mod:`mlc.passes.tir.math.inverse_trig`, written out as TIR
  by lower_math): the accurate steps in float, not double;
* float32 sin, cos, tan (:mod:`mlc.passes.tir.math.trig`): the reduction in double, the
  polynomials in float;
* cbrt (:mod:`mlc.passes.tir.math.power`): the accurate Newton steps without the last, exact one;
* pow (the same module): its double logarithm and exponential shortened to 2^-29
  and degree 7.

Error bounds, relative to the exact result, for finite inputs whose result is
a normal number (tests/backends/test_fast_math.py checks them against
NumPy/SciPy): all within 1e-6 for float32 and 1e-13 for float64. NaN,
infinities, overflow to inf and underflow to 0 are handled exactly as by the
default routines.
"""
from __future__ import annotations

#: Relative error bounds of the fast routines (documented above; tested).
FAST_BOUNDS = {"float32": 1e-6, "float64": 1e-13}

FAST_COEFFICIENTS = {
    # exp_q float32: degree 4 (accurate: 5), max relative error 1.4e-7
    ("exp_q", "float32"): (0.5, 0.16666577756404877, 0.041666943579912186,
                           0.00836312584578991, 0.0013893831055611372),
    # exp_q float64: Taylor series to degree 9 (accurate: 11), remainder < 7e-15
    ("exp_q", "float64"): (1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320,
                           1 / 362880, 1 / 3628800, 1 / 39916800),
    # tanh_rational float32: P, Q of degrees (4, 4) in x^2 on [0, 9.0], max relative error 2.2e-08
    # before rounding (python tools/fit_vecmath.py --fast-tanh); 3.5e-7 as evaluated
    ("tanh_rational_p", "float32"): (1.0, 0.13383789360523224, 0.0034987609833478928,
                                     2.0656905689975247e-05, 1.3412611465923874e-08),
    ("tanh_rational_q", "float32"): (1.0, 0.4671711027622223, 0.025889335200190544,
                                     0.00032906344858929515, 7.802038908266695e-07),
    # erf_small float32: degree 5 (accurate: 7 with a split constant), max relative error 8.8e-8;
    # the constant term is (hi, lo) as the routine reads it, lo = 0
    ("erf_small", "float32"): (1.1283791065216064, 0.0, -0.37612390518188477, 0.1128057911992073,
                               -0.026720894500613213, 0.004927420057356358,
                               -0.0005667994846589863),
    # erfc_large float32: degree 6 (accurate: 9), max relative error 5.6e-8
    ("erfc_large", "float32"): (0.17900115251541138, -0.3262336850166321, 0.24560479819774628,
                                -0.15009935200214386, 0.07164666801691055, -0.0249199066311121,
                                0.0029002700466662645),
    # log_p float32: log(1 + f) = f + f^2 P(f) on [-1/3, 1/3] (x reduced to 2^k (1 + f) with
    # 1 + f in [2/3, 4/3): no division), P of degree 7 (accurate: s = f / (2 + f) and a
    # degree-3 series in s^2), max relative error 3.2e-8 before evaluation (a least-squares
    # fit of relative error reweighted toward minimax, in float64 with NumPy)
    ("log_p", "float32"): (-0.49999934434890747, 0.33333277702331543, -0.25007927417755127,
                           0.20006991922855377, -0.16414599120616913, 0.14059627056121826,
                           -0.15393847227096558, 0.13730260729789734),
}

#: fast_math's float32 log reduces x to 2^k (1 + f) with 1 + f in [FAST_LOG_LOW, 2 FAST_LOG_LOW).
FAST_LOG_LOW = 2.0 / 3.0

#: fast_math's float32 tanh is x P(x^2) / Q(x^2) with x clamped to [-END, END], where tanh
#: rounds to +-1 in float32 (the coefficients above are fitted on [0, END]).
TANH_RATIONAL_END = 9.0
