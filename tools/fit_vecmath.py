"""Regenerate :mod:`mlc.passes.tir.math.coefficients`:
``python tools/fit_vecmath.py > mlc/passes/tir/math/coefficients.py``
(and, with ``--fast-tanh``, print the rational tanh of :mod:`mlc.passes.tir.math.fast`).

A development tool, not used at run time (it needs mpmath). Each polynomial
is a weighted least-squares fit, in 200-bit arithmetic, on Chebyshev nodes of
its interval, minimising the *relative* error; that is within a small factor
of the minimax polynomial, and the printed bound (measured on a dense grid,
with the coefficients rounded to the format) is what the degree was chosen
by. The approximated functions (see :mod:`.functions` for how they are used):

* ``exp_q``:   (e^r - 1 - r) / r^2 in r, r in [-ln2/2, ln2/2]
* ``exp_q_step``: the same, of a lower degree, for ``exp_log.tanh_step_denominator``
* ``log_q``:   (2 atanh(s) / s - 2) / z in z = s^2, s in [-(3 - 2 sqrt 2), 3 - 2 sqrt 2]
* ``tanh_small``: (tanh(x) - x) / x^3 in x^2, x in [0, 1/2] (float64 only)
* ``erf_small``: erf(x) / x in x^2, x in [0, 1]; its constant term is a pair
  (hi, lo) of the format, so the result near 0 is not off by hi's rounding
* ``erfc_large``: erfc(x) exp(x^2) in u = (x - 3) / (x + 3), x in [1, T] (T: 4 float, 6 double)
"""
from __future__ import annotations

import numpy as np

from mlc.passes.tir.math.fast import TANH_RATIONAL_END

#: (name, float dtype) -> degree
DEGREES = {
    ("exp_q", "float32"): 5, ("exp_q", "float64"): 11,
    ("exp_q_step", "float32"): 4,  # (the tanh step's denominator: exp_q, one degree less)
    ("log_q", "float32"): 3, ("log_q", "float64"): 7,
    ("tanh_small", "float64"): 10,  # float32 tanh needs none (functions.tanh)
    ("erf_small", "float32"): 7, ("erf_small", "float64"): 12,
    ("erfc_large", "float32"): 9, ("erfc_large", "float64"): 17,
}
ERF_LARGE_END = {"float32": 4, "float64": 6}
TANH_SMALL_END = 0.5


def _problems(mp):
    s_max = 3 - 2 * mp.sqrt(2)

    def exp_q(r):
        with mp.workprec(1000):  # the numerator cancels to r^2 / 2
            return +((mp.exp(r) - 1 - r) / r**2) if abs(r) > 1e-40 else mp.mpf(0.5)

    def log_q(z):
        with mp.workprec(1000):
            return +((2 * mp.atanh(mp.sqrt(z)) / mp.sqrt(z) - 2) / z) if z > 1e-40 else mp.mpf(2) / 3

    def tanh_small(x):
        with mp.workprec(1000):
            return +((mp.tanh(x) - x) / x**3) if x > 1e-40 else mp.mpf(-1) / 3

    return {
        "tanh_small": (tanh_small, lambda x: x * x, lambda d: (0, TANH_SMALL_END)),
        "exp_q": (exp_q, lambda r: r, lambda d: (-mp.log(2) / 2, mp.log(2) / 2)),
        "exp_q_step": (exp_q, lambda r: r, lambda d: (-mp.log(2) / 2, mp.log(2) / 2)),
        "log_q": (log_q, lambda z: z, lambda d: (0, s_max**2)),
        "erf_small": (lambda x: mp.erf(x) / x if x else 2 / mp.sqrt(mp.pi), lambda x: x * x,
                      lambda d: (0, 1)),
        "erfc_large": (lambda x: mp.erfc(x) * mp.exp(x * x), lambda x: (x - 3) / (x + 3),
                       lambda d: (1, ERF_LARGE_END[d])),
    }


#: Fits whose constant term is stored as two numbers, hi + lo.
SPLIT_CONSTANT = {"erf_small"}


def fit(mp, f, var, a, b, degree, dtype, split_constant=False):
    """Coefficients (lowest first, rounded to ``dtype``) and the max relative error.

    Coefficients are rounded one at a time, lowest first, each time refitting
    the higher ones to the error the rounding left (rounding them all at once
    would cost several bits).
    """
    n = 4 * degree + 60
    a, b = mp.mpf(a), mp.mpf(b)
    nodes = [a + (b - a) * (1 - mp.cos(mp.pi * (i + mp.mpf(0.5)) / n)) / 2 for i in range(n)]
    values = [(f(x), var(x)) for x in nodes]
    coeffs: list[float] = []
    for first in range(degree + 1):
        A, y = mp.matrix(n, degree + 1 - first), mp.matrix(n, 1)
        for i, (fx, t) in enumerate(values):
            fixed = sum(mp.mpf(c) * t**k for k, c in enumerate(coeffs))
            for k in range(first, degree + 1):
                A[i, k - first] = t**k / abs(fx)
            y[i] = (fx - fixed) / abs(fx)
        solution = mp.qr_solve(A, y)[0]
        if first == 0 and split_constant:
            hi = float(np.array(float(solution[0])).astype(dtype))
            lo = float(np.array(float(solution[0] - mp.mpf(hi))).astype(dtype))
            coeffs.append(mp.mpf(hi) + mp.mpf(lo))
            continue
        coeffs.append(float(np.array(float(solution[0])).astype(dtype)))
    worst = 0
    for i in range(3001):
        x = a + (b - a) * i / 3000
        fx, t = f(x), var(x)
        worst = max(worst, abs(sum(mp.mpf(c) * t**k for k, c in enumerate(coeffs)) - fx) / abs(fx))
    if split_constant:
        hi = float(np.array(float(coeffs[0])).astype(dtype))
        coeffs = [hi, float(np.array(float(coeffs[0] - mp.mpf(hi))).astype(dtype))] + coeffs[1:]
    return coeffs, float(worst)


def fit_tanh_rational(m: int = 4, n: int = 4, end: float = TANH_RATIONAL_END, iterations: int = 90):
    """P and Q (lowest degree first, P(0) = Q(0) = 1) with tanh(x) ~ x P(x^2) / Q(x^2) on
    [0, end], minimising the max relative error; and that error (in float64, before the
    coefficients are rounded). NumPy only.

    A linearised least-squares fit of P - g Q (g = tanh(x) / x) weighted by 1 / (g Q) of
    the previous iteration (Sanathanan-Koerner), whose weights are then grown where the
    error is largest (Lawson) to approach the minimax fit. The fit runs in u = x^2 /
    end^2, in [0, 1], and is scaled back.
    """
    count = 4000
    x = end * (1 - np.cos(np.pi * (np.arange(count) + 0.5) / count)) / 2
    x = np.concatenate([x, np.linspace(1e-4, end, count)])
    u = (x / end) ** 2
    g = np.tanh(x) / x
    previous_q, lawson = np.ones_like(u), np.ones_like(u)
    for step in range(iterations):
        w = lawson / (g * previous_q)
        A = np.concatenate([u[:, None] ** np.arange(1, m + 1),
                            -g[:, None] * u[:, None] ** np.arange(1, n + 1)], axis=1)
        solution = np.linalg.lstsq(A * w[:, None], (g - 1) * w, rcond=None)[0]
        p = np.concatenate([[1.0], solution[:m]])
        q = np.concatenate([[1.0], solution[m:]])
        previous_q = np.polyval(q[::-1], u)
        err = np.abs(np.polyval(p[::-1], u) / previous_q - g) / g
        if step >= iterations // 3:
            lawson = lawson * err / err.max()
            lawson /= lawson.mean()
    return p / end ** (2 * np.arange(m + 1)), q / end ** (2 * np.arange(n + 1)), float(err.max())


def main_fast() -> None:
    """Print fast_math's float32 tanh coefficients (the entries of :mod:`.fast`)."""
    p, q, err = fit_tanh_rational()
    print(f"    # tanh_rational float32: P, Q of degrees ({len(p) - 1}, {len(q) - 1}) in x^2 on "
          f"[0, {TANH_RATIONAL_END}], max relative error {err:.1e} before rounding")
    for name, c in (("tanh_rational_p", p), ("tanh_rational_q", q)):
        print(f"    ({name!r}, 'float32'): {tuple(float(np.float32(v)) for v in c)!r},")


def main() -> None:
    import mpmath as mp
    mp.mp.prec = 200
    problems = _problems(mp)
    print('"""Polynomial coefficients of the vector math functions (lowest degree first).\n\n'
          'Generated by ``python tools/fit_vecmath.py``; do not edit. Each entry\'s\n'
          'comment is its max relative approximation error, before rounding in evaluation.\n"""')
    print("COEFFICIENTS = {")
    for (name, dtype), degree in DEGREES.items():
        f, var, interval = problems[name]
        coeffs, err = fit(mp, f, var, *interval(dtype), degree, dtype, name in SPLIT_CONSTANT)
        print(f"    # {name} {dtype}: degree {degree}, max relative error 2^{np.log2(err):.1f}")
        print(f"    ({name!r}, {dtype!r}): (")
        for c in coeffs:
            print(f"        {c!r},")
        print("    ),")
    print("}")
    print(f"ERF_LARGE_END = {ERF_LARGE_END!r}")
    print(f"TANH_SMALL_END = {TANH_SMALL_END!r}")


if __name__ == "__main__":
    import sys
    main_fast() if sys.argv[1:] == ["--fast-tanh"] else main()
