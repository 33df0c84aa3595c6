"""Complex numbers in CUDA C: ``mlc_complex64``/``mlc_complex128`` values with NumPy's semantics.

A complex64 (complex128) value is the struct ``mlc_complex<float>``
(``mlc_complex<double>``) of its real and imaginary parts, aligned as CUDA's
``float2`` (``double2``) and CuPy's complex arrays; a buffer holds interleaved
pairs, as NumPy stores them, so complex buffers are loaded and stored element
by element (no ``float4`` access). :data:`PRELUDE` holds the type and its
``__device__ __forceinline__`` helpers; the codegen puts it into a kernel
source only when a function computes with complex values. For::

    B[i] = T.exp(A[i]) * A[i] / T.complex(T.float32(2), T.float32(0))

the kernel body reads::

    B[i] = mlc_cdiv(mlc_cmul(mlc_cexp(A[i]), A[i]), mlc_complex64{2.0f, 0.0f});

The helpers mirror the LLVM backend's algorithms (:mod:`mlc.backends.llvm.complex`),
so both backends compute the same values, special ones included:

* ``+``, ``-``; ``*`` as NumPy's array loop, one fused multiply-add per part;
  ``/`` by Smith's algorithm step by step as NumPy's (its products rounded before
  the sums they feed: NVRTC would fuse them); ``==`` and ``!=``;
* ``abs`` (``hypot``), ``exp``, ``log``, ``sqrt``, ``sinh``, ``cosh`` and ``tanh``
  with C99 Annex G's special values, complex64's computed in double and rounded
  once (``sinh`` and ``cosh`` also scale ``e^|x| / 2`` as ``exp`` scales ``e^x``
  where it alone overflows, as glibc's do: the LLVM backend's give inf there);
  ``expm1``, ``log1p``, ``log2`` and ``log10`` as NumPy's formulas;
* ``sin``, ``cos`` and ``tan`` by Annex G's definitions (``csin(z) = -j csinh(jz)``,
  ``ccos(z) = ccosh(jz)``, ``ctan(z) = -j ctanh(jz)``; glibc's sign where Annex G
  leaves one open), where the CPU calls libm;
* ``asin``, ``acos``, ``atan`` and their hyperbolic forms, which the CPU takes from
  libm too: Hull, Fairgrieve and Tang's arcsine and arccosine (sums of the
  distances to -1 and 1, with ``log1p`` where they are near 2), Kahan's
  ``atanh``, Annex G's special values (computed in double, complex64's too);
* casts between complex widths and from and to real dtypes (NumPy's ``astype``:
  a real value becomes the real part; a complex one keeps its real part, or as a
  bool, whether either part is nonzero), and shuffles of both parts across a warp.

The math calls register as the cuda lowerings of :mod:`mlc.backends.intrinsics`
for the complex dtypes (``complex(re, im)`` for float32 and float64 parts).

>>> from mlc.backends.intrinsics import intrinsic_lowering
>>> intrinsic_lowering("cuda", "exp", "complex64")(["z"], "complex64", False)
'mlc_cexp(z)'
>>> binary("mul", "a", "b", "complex128"), cast("x", "float32", "complex64")
('mlc_cmul(a, b)', 'mlc_complex64{(float)(x), 0.0f}')
"""
from __future__ import annotations

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.functor import pre_order_nodes
from ...ir.tir import Allocate, BufferStore
from ..intrinsics import register_intrinsic_lowering
from .intrinsics import BACKEND, FLOAT_COMPUTE

__all__ = ["C_TYPES", "PRELUDE", "uses_complex", "binary", "cast", "shfl_down", "COMPLEX_CALLS"]

#: The CUDA C type of each complex dtype.
C_TYPES = {"complex64": "mlc_complex64", "complex128": "mlc_complex128"}

#: The complex type and its helpers (see the module docstring).
PRELUDE = r"""
// complex64 and complex128: (real, imaginary) pairs, interleaved as NumPy stores them
template <typename T> struct alignas(2 * sizeof(T)) mlc_complex { T re, im; };
typedef mlc_complex<float> mlc_complex64;
typedef mlc_complex<double> mlc_complex128;

// a product rounded before the sum it feeds (NVRTC would fuse a * b + c)
__device__ __forceinline__ float mlc_mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mlc_mul_rn(double a, double b) { return __dmul_rn(a, b); }
template <typename T> __device__ __forceinline__ T mlc_inf() { return (T)__int_as_float(0x7f800000); }
template <typename T> __device__ __forceinline__ T mlc_nan() { return (T)__int_as_float(0x7fc00000); }
// -x with the sign bit flipped, a NaN's too: the GPU's negation of a NaN may keep its sign,
// and where Annex G takes an infinity's sign from a NaN's (acos, asin of inf + NaN j),
// NumPy's sign needs the flip
__device__ __forceinline__ float mlc_neg(float x) {
  unsigned u; memcpy(&u, &x, sizeof u); u ^= 0x80000000u; memcpy(&x, &u, sizeof x); return x;
}
__device__ __forceinline__ double mlc_neg(double x) {
  unsigned long long u; memcpy(&u, &x, sizeof u); u ^= 0x8000000000000000ull; memcpy(&x, &u, sizeof x); return x;
}

template <typename To, typename From> __device__ __forceinline__ mlc_complex<To> mlc_ccast(mlc_complex<From> z) {
  return {(To)z.re, (To)z.im};
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_conj(mlc_complex<T> z) { return {z.re, -z.im}; }
template <typename T> __device__ __forceinline__ bool mlc_ctobool(mlc_complex<T> z) {
  return z.re != (T)0 || z.im != (T)0;
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_shfl_down(unsigned mask, mlc_complex<T> z,
                                                                             int offset, int width) {
  return {__shfl_down_sync(mask, z.re, offset, width), __shfl_down_sync(mask, z.im, offset, width)};
}

// ---- arithmetic, as NumPy's array loops
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_cadd(mlc_complex<T> a, mlc_complex<T> b) {
  return {a.re + b.re, a.im + b.im};
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_csub(mlc_complex<T> a, mlc_complex<T> b) {
  return {a.re - b.re, a.im - b.im};
}
// fma(ar, br, -ai bi) + fma(ar, bi, ai br) j, no infinity recovery
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_cmul(mlc_complex<T> a, mlc_complex<T> b) {
  return {fma(a.re, b.re, -mlc_mul_rn(a.im, b.im)), fma(a.re, b.im, mlc_mul_rn(a.im, b.re))};
}
// Smith's algorithm: scale by the larger part of the divisor; a zero divisor divides each part by |br|
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_cdiv(mlc_complex<T> a, mlc_complex<T> b) {
  T abs_br = fabs(b.re), abs_bi = fabs(b.im);
  if (abs_br >= abs_bi) {
    if (abs_br == (T)0 && abs_bi == (T)0) return {a.re / abs_br, a.im / abs_br};
    T rat = b.im / b.re, scl = (T)1 / (b.re + mlc_mul_rn(b.im, rat));
    return {(a.re + mlc_mul_rn(a.im, rat)) * scl, (a.im - mlc_mul_rn(a.re, rat)) * scl};
  }
  T rat = b.re / b.im, scl = (T)1 / (b.im + mlc_mul_rn(b.re, rat));
  return {(mlc_mul_rn(a.re, rat) + a.im) * scl, (mlc_mul_rn(a.im, rat) - a.re) * scl};
}
template <typename T> __device__ __forceinline__ bool mlc_ceq(mlc_complex<T> a, mlc_complex<T> b) {
  return a.re == b.re && a.im == b.im;
}
template <typename T> __device__ __forceinline__ bool mlc_cne(mlc_complex<T> a, mlc_complex<T> b) {
  return a.re != b.re || a.im != b.im;
}
template <typename T> __device__ __forceinline__ bool mlc_cisnan(mlc_complex<T> z) { return isnan(z.re) || isnan(z.im); }
template <typename T> __device__ __forceinline__ bool mlc_cisinf(mlc_complex<T> z) { return isinf(z.re) || isinf(z.im); }
template <typename T> __device__ __forceinline__ bool mlc_cisfinite(mlc_complex<T> z) {
  return isfinite(z.re) && isfinite(z.im);
}

// ---- functions with C99 Annex G's special values, in double (complex64's rounded once)
__device__ __forceinline__ mlc_complex128 mlc_cwiden(mlc_complex64 z) { return mlc_ccast<double>(z); }
__device__ __forceinline__ mlc_complex64 mlc_cround(mlc_complex128 z) { return mlc_ccast<float>(z); }
__device__ __forceinline__ double mlc_cabs(mlc_complex128 z) { return hypot(z.re, z.im); }
__device__ __forceinline__ float mlc_cabs(mlc_complex64 z) { return (float)mlc_cabs(mlc_cwiden(z)); }

// exp(x) (c + s j), halved with `half`, where exp(x) alone may overflow but the product not: above
// t = 1023 ln 2, c and s are scaled by exp(t) (twice at most; halved the first time) before exp
// takes the rest of x, as glibc's cexp does
__device__ __forceinline__ mlc_complex128 mlc_cexp_times(double x, double c, double s, bool half) {
  const double t = 1023.0 * 0.6931471805599453;
  double h = half ? 0.5 : 1.0;
  for (int k = 0; k < 2; ++k) {
    if (x > t) {
      double factor = exp(t) * h;
      c *= factor; s *= factor; x -= t; h = 1.0;
    }
  }
  double r = exp(x) * h;
  return {r * c, r * s};
}

// exp(x) (cos y + j sin y); y == 0 gives exp(x) + y j; an infinite x with a non-finite y gives
// (inf, NaN) for +inf, (0, +-0) for -inf
__device__ __forceinline__ mlc_complex128 mlc_cexp(mlc_complex128 z) {
  double x = z.re, y = z.im;
  if (y == 0.0) return {exp(x), y};
  if (isinf(x) && !isfinite(y)) return {x > 0.0 ? x : 0.0, x > 0.0 ? mlc_nan<double>() : copysign(0.0, y)};
  return mlc_cexp_times(x, cos(y), sin(y), false);
}

// parts beyond 2**+-1000 scaled by 2**-+600 in place (exactly), so that hypot and sqrt neither
// overflow nor lose a subnormal's digits; returns the exponent of the scaling
__device__ __forceinline__ double mlc_cscale(double& x, double& y) {
  double big = fabs(x) >= fabs(y) ? fabs(x) : fabs(y);
  double k = big > 0x1p1000 ? -600.0 : big < 0x1p-1000 ? 600.0 : 0.0;
  double factor = big > 0x1p1000 ? 0x1p-600 : big < 0x1p-1000 ? 0x1p600 : 1.0;
  x *= factor; y *= factor;
  return k;
}

// log|z| + j atan2(y, x); where the larger part a is in [0.5, 2], log|z| is
// log1p((a - 1)(a + 1) + c^2) / 2 with c the smaller part (a - 1 is exact there)
__device__ __forceinline__ mlc_complex128 mlc_clog(mlc_complex128 z) {
  double x = z.re, y = z.im, ax = fabs(x), ay = fabs(y);
  double a = ax >= ay ? ax : ay, c = ax >= ay ? ay : ax, re;
  if (a >= 0.5 && a <= 2.0) {
    re = log1p((a - 1.0) * (a + 1.0) + c * c) * 0.5;
  } else {
    double sx = x, sy = y, k = mlc_cscale(sx, sy);  // log|z| = log|z 2**k| - k log 2
    re = log(hypot(sx, sy)) - k * 0.6931471805599453;
  }
  return {re, atan2(y, x)};
}

// the principal root: t = sqrt((|x| + |z|) / 2); x >= 0 gives t + j y / 2t, x < 0 gives
// |y| / 2t + j copysign(t, y); a zero z gives +0 + y j, an infinite y +inf + y j
__device__ __forceinline__ mlc_complex128 mlc_csqrt(mlc_complex128 z) {
  double x = z.re, y = z.im, sx = x, sy = y, k = mlc_cscale(sx, sy);  // sqrt(z) = sqrt(z 2**k) 2**(-k/2)
  double h = hypot(sx, sy);
  bool nonneg = sx >= 0.0;
  double t = sqrt(((nonneg ? sx : -sx) + h) * 0.5);
  double over = (nonneg ? sy : fabs(sy)) / (2.0 * t);
  double unscale = k > 0.0 ? 0x1p-300 : k < 0.0 ? 0x1p300 : 1.0;
  if (x == 0.0 && y == 0.0) return {0.0, y};
  if (isinf(y)) return {mlc_inf<double>(), y};
  return {(nonneg ? t : over) * unscale, (nonneg ? over : copysign(t, sy)) * unscale};
}

// sinh x cos y + j cosh x sin y; y == 0 gives sinh x + y j; a zero or infinite x with a
// non-finite y gives (x, NaN) or (+inf, NaN). Beyond |x| = 1023 ln 2, where cosh x overflows
// before cos y or sin y scales it, e^|x| / 2 (cos y + j sin y) by mlc_cexp_times.
__device__ __forceinline__ mlc_complex128 mlc_csinh(mlc_complex128 z) {
  double x = z.re, y = z.im;
  if (y == 0.0) return {sinh(x), y};
  if ((x == 0.0 || isinf(x)) && !isfinite(y)) return {isinf(x) ? fabs(x) : x, y - y};
  if (fabs(x) > 1023.0 * 0.6931471805599453) {
    mlc_complex128 w = mlc_cexp_times(fabs(x), cos(y), sin(y), true);
    return {copysign(1.0, x) * w.re, w.im};
  }
  return {sinh(x) * cos(y), cosh(x) * sin(y)};
}

// cosh x cos y + j sinh x sin y; y == 0 gives cosh x + (y sign x) j (y j for a NaN x); a zero
// x with a non-finite y gives (NaN, 0), an infinite one (+inf, NaN); a large |x| as in mlc_csinh
__device__ __forceinline__ mlc_complex128 mlc_ccosh(mlc_complex128 z) {
  double x = z.re, y = z.im;
  if (y == 0.0) return {cosh(x), isnan(x) ? y : y * copysign(1.0, x)};
  if (x == 0.0 && !isfinite(y)) return {y - y, 0.0};
  if (isinf(x) && !isfinite(y)) return {x * x, y - y};
  if (fabs(x) > 1023.0 * 0.6931471805599453) {
    mlc_complex128 w = mlc_cexp_times(fabs(x), cos(y), sin(y), true);
    return {w.re, copysign(1.0, x) * w.im};
  }
  return {cosh(x) * cos(y), sinh(x) * sin(y)};
}

// Kahan's formula: t = tan y, s = sinh x, rho = sqrt(1 + s^2), beta = 1 + t^2 give
// (beta rho s + t j) / (1 + beta s^2); beyond |x| = 22 (or an infinite x) sign(x) + 4 sin y cos y
// e^(-2|x|) j (a zero of y's sign for a non-finite y); y == 0 gives tanh x + y j; a zero x with a
// non-finite y gives (x, NaN)
__device__ __forceinline__ mlc_complex128 mlc_ctanh(mlc_complex128 z) {
  double x = z.re, y = z.im;
  if (y == 0.0) return {tanh(x), y};
  if (x == 0.0 && !isfinite(y)) return {x, y - y};
  if (fabs(x) > 22.0 && (isfinite(y) || isinf(x))) {
    double tail = isfinite(y) ? 4.0 * (sin(y) * cos(y)) * exp(-2.0 * fabs(x)) : copysign(0.0, y);
    return {copysign(1.0, x), tail};
  }
  double t = tan(y), s = sinh(x);
  double beta = 1.0 + t * t, rho = sqrt(1.0 + s * s), den = 1.0 + beta * (s * s);
  return {beta * rho * s / den, t / den};
}

// asin(a + b j) for finite a, b >= 0 (Hull, Fairgrieve and Tang): {its real part (acos's with
// `cosine`), its imaginary part acosh(A)}, A = (|z + 1| + |z - 1|) / 2 and B = a / A the sine
__device__ __forceinline__ mlc_complex128 mlc_casin_first(double a, double b, bool cosine) {
  const double ln2 = 0.6931471805599453;
  if (a > 0x1p28 || b > 0x1p28) {  // -j log(2jz): the rest is below double's precision
    double sa = a, sb = b, k = mlc_cscale(sa, sb);
    return {cosine ? atan2(b, a) : atan2(a, b), log(hypot(sa, sb)) - k * ln2 + ln2};
  }
  double r = hypot(a + 1.0, b), s = hypot(a - 1.0, b), A = 0.5 * (r + s), B = a / A, angle, im;
  if (B <= 0.6417) {
    angle = cosine ? acos(B) : asin(B);
  } else {  // near 1, sqrt(1 - B^2) A without the cancellation
    double d = a <= 1.0 ? sqrt(0.5 * (A + a) * (b * b / (r + (a + 1.0)) + (s + (1.0 - a))))
                        : b * sqrt(0.5 * ((A + a) / (r + (a + 1.0)) + (A + a) / (s + (a - 1.0))));
    angle = cosine ? atan2(d, a) : atan2(a, d);
  }
  if (A > 1.5) {
    im = log(A + sqrt((A - 1.0) * (A + 1.0)));
  } else if (a < 1.0 && b < 0x1p-500) {  // b * b underflows: acosh(A) is b / sqrt(1 - a^2)
    im = b / sqrt((1.0 - a) * (1.0 + a));
  } else {  // 2 (A - 1) without the cancellation (halved only beside A + 1: no subnormal digit is lost)
    double twice_am1 = a < 1.0 ? b * b / (r + (a + 1.0)) + b * b / (s + (1.0 - a))
                               : b * b / (r + (a + 1.0)) + (s + (a - 1.0));
    im = log1p(0.5 * twice_am1 + sqrt(twice_am1 * (0.5 * (A + 1.0))));
  }
  return {angle, im};
}

__device__ __forceinline__ mlc_complex128 mlc_casinh(mlc_complex128 z) {
  double x = z.re, y = z.im;
  if (isinf(x) || isinf(y)) {
    if (isnan(x)) return {copysign(mlc_inf<double>(), x), x};
    if (isinf(x)) return {x, isnan(y) ? y : copysign(isinf(y) ? 0.7853981633974483 : 0.0, y)};
    return {copysign(mlc_inf<double>(), x), copysign(1.5707963267948966, y)};
  }
  if (isnan(x) || isnan(y)) return {x + y, isnan(x) && y == 0.0 ? y : x + y};
  mlc_complex128 w = mlc_casin_first(fabs(y), fabs(x), false);
  return {copysign(w.im, x), copysign(w.re, y)};
}

__device__ __forceinline__ mlc_complex128 mlc_cacos(mlc_complex128 z) {
  double x = z.re, y = z.im;
  const double pi = 3.141592653589793;
  if (isinf(y)) {
    double re = isnan(x) ? x : isinf(x) ? (x > 0.0 ? 0.7853981633974483 : 2.356194490192345) : 1.5707963267948966;
    return {re, -y};
  }
  if (isinf(x)) return {isnan(y) ? y : x > 0.0 ? 0.0 : pi, copysign(mlc_inf<double>(), mlc_neg(y))};
  if (isnan(x) || isnan(y)) return {x == 0.0 ? 1.5707963267948966 : x + y, x + y};
  mlc_complex128 w = mlc_casin_first(fabs(x), fabs(y), true);
  return {signbit(x) ? pi - w.re : w.re, copysign(w.im, -y)};
}

// acosh z = |Im acos z| + j copysign(Re acos z, y) (C99 Annex G's values follow; a NaN y
// gives the positive angle, as glibc's cacosh)
__device__ __forceinline__ mlc_complex128 mlc_cacosh(mlc_complex128 z) {
  mlc_complex128 w = mlc_cacos(z);
  return {fabs(w.im), isnan(z.im) ? w.re : copysign(w.re, z.im)};
}

// Kahan's atanh: log1p(4a / ((1 - a)^2 + b^2)) / 4 + j atan2(2b, (1 - a)(1 + a) - b^2) / 2 for
// a, b >= 0; beyond 2**500, Re(1 / z) + j pi/2
__device__ __forceinline__ mlc_complex128 mlc_catanh(mlc_complex128 z) {
  double x = z.re, y = z.im, a = fabs(x), b = fabs(y), re, im;
  const double half_pi = 1.5707963267948966;
  if (isinf(y)) return {copysign(0.0, x), copysign(half_pi, y)};
  if (isinf(x)) return {copysign(0.0, x), isnan(y) ? y : copysign(half_pi, y)};
  if (isnan(x) || isnan(y)) return {x == 0.0 ? x : x + y, x + y};
  if (a > 0x1p500 || b > 0x1p500) {
    double h = hypot(a, b);
    re = a / h / h; im = half_pi;
  } else {
    double d = (1.0 - a) * (1.0 - a) + b * b;
    re = d > 0x1p-1000 ? 0.25 * log1p(4.0 * a / d)
                       : 0.5 * (log(hypot(1.0 + a, b)) - log(hypot(1.0 - a, b)));  // |1 - z| tiny
    im = 0.5 * atan2(2.0 * b, (1.0 - a) * (1.0 + a) - b * b);
  }
  return {copysign(re, x), copysign(im, y)};
}

#define MLC_COMPLEX64_IN_DOUBLE(f) \
  __device__ __forceinline__ mlc_complex64 f(mlc_complex64 z) { return mlc_cround(f(mlc_cwiden(z))); }
MLC_COMPLEX64_IN_DOUBLE(mlc_cexp)
MLC_COMPLEX64_IN_DOUBLE(mlc_clog)
MLC_COMPLEX64_IN_DOUBLE(mlc_csqrt)
MLC_COMPLEX64_IN_DOUBLE(mlc_csinh)
MLC_COMPLEX64_IN_DOUBLE(mlc_ccosh)
MLC_COMPLEX64_IN_DOUBLE(mlc_ctanh)
MLC_COMPLEX64_IN_DOUBLE(mlc_casinh)
MLC_COMPLEX64_IN_DOUBLE(mlc_cacos)
MLC_COMPLEX64_IN_DOUBLE(mlc_cacosh)
MLC_COMPLEX64_IN_DOUBLE(mlc_catanh)
#undef MLC_COMPLEX64_IN_DOUBLE

// ---- by Annex G's definitions: f(z) = -j g(jz) or g(jz), jz = -y + x j
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_ctimes_j(mlc_complex<T> z) {
  return {mlc_neg(z.im), z.re};
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_ctimes_minus_j(mlc_complex<T> z) {
  return {z.im, mlc_neg(z.re)};
}
// (where Annex G leaves the sign of an infinite imaginary part open, a non-finite x with an
// infinite y, it is +inf: glibc's csin, which NumPy calls)
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_csin(mlc_complex<T> z) {
  mlc_complex<T> w = mlc_ctimes_minus_j(mlc_csinh(mlc_ctimes_j(z)));
  if (isinf(z.im) && !isfinite(z.re)) w.im = mlc_inf<T>();
  return w;
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_ccos(mlc_complex<T> z) {
  return mlc_ccosh(mlc_ctimes_j(z));
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_ctan(mlc_complex<T> z) {
  return mlc_ctimes_minus_j(mlc_ctanh(mlc_ctimes_j(z)));
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_casin(mlc_complex<T> z) {
  return mlc_ctimes_minus_j(mlc_casinh(mlc_ctimes_j(z)));
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_catan(mlc_complex<T> z) {
  return mlc_ctimes_minus_j(mlc_catanh(mlc_ctimes_j(z)));
}

// ---- NumPy's own formulas, in the parts' dtype
// expm1(x) cos y - 2 sin^2(y / 2) + j exp(x) sin y
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_cexpm1(mlc_complex<T> z) {
  T h = sin(z.im * (T)0.5);
  return {mlc_mul_rn(expm1(z.re), cos(z.im)) - (T)2 * (h * h), exp(z.re) * sin(z.im)};
}
// log(hypot(1 + x, y)) + j atan2(y, 1 + x)
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_clog1p(mlc_complex<T> z) {
  T u = z.re + (T)1;
  return {log(hypot(u, z.im)), atan2(z.im, u)};
}
// the parts of log z times log2(e) (log10(e)), multiplied in the parts' dtype
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_clog2(mlc_complex<T> z) {
  mlc_complex<T> w = mlc_clog(z);
  return {w.re * (T)1.4426950408889634, w.im * (T)1.4426950408889634};
}
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_clog10(mlc_complex<T> z) {
  mlc_complex<T> w = mlc_clog(z);
  return {w.re * (T)0.43429448190325176, w.im * (T)0.43429448190325176};
}
"""

_BINARY = {"add": "mlc_cadd", "sub": "mlc_csub", "mul": "mlc_cmul", "div": "mlc_cdiv", "eq": "mlc_ceq",
           "ne": "mlc_cne"}

#: Math calls on a complex operand: op -> the helper of :data:`PRELUDE` that computes it.
COMPLEX_CALLS = {"abs": "mlc_cabs", "exp": "mlc_cexp", "log": "mlc_clog", "sqrt": "mlc_csqrt",
                 "conj": "mlc_conj", "sinh": "mlc_csinh", "cosh": "mlc_ccosh", "tanh": "mlc_ctanh",
                 "expm1": "mlc_cexpm1", "log1p": "mlc_clog1p", "log2": "mlc_clog2", "log10": "mlc_clog10",
                 "sin": "mlc_csin", "cos": "mlc_ccos", "tan": "mlc_ctan", "asin": "mlc_casin",
                 "acos": "mlc_cacos", "atan": "mlc_catan", "asinh": "mlc_casinh", "acosh": "mlc_cacosh",
                 "atanh": "mlc_catanh", "isnan": "mlc_cisnan", "isinf": "mlc_cisinf",
                 "isfinite": "mlc_cisfinite"}


def uses_complex(buffers, body) -> bool:
    """Whether a function with parameters and workspace ``buffers`` and ``body`` has a complex
    buffer or computes a complex value (and so needs :data:`PRELUDE`)."""
    if any(dt.is_complex(b.dtype) for b in buffers):
        return True
    for n in pre_order_nodes(body):
        dtype = n.buffer.dtype if isinstance(n, (BufferStore, Allocate)) else getattr(n, "dtype", None)
        if isinstance(dtype, str) and dt.is_complex(dt.element(dtype)):
            return True
    return False


def binary(op: str, a: str, b: str, dtype: str) -> str:
    """``a <op> b`` for two complex operands of ``dtype``: add, sub, mul, div, eq or ne."""
    helper = _BINARY.get(op)
    if helper is None:
        raise CompileError(f"cuda codegen: {op} is not defined for {dtype} operands (complex numbers "
                           "are not ordered and have no floor or truncating division)")
    return f"{helper}({a}, {b})"


def cast(x: str, src: str, dst: str, real_type: str | None = None) -> str:
    """``x.astype(dst)`` where ``src`` or ``dst`` is complex (NumPy semantics, see the module
    docstring); ``real_type`` is the C type of a real ``dst``."""
    if dt.is_complex(src) and dt.is_complex(dst):
        return x if src == dst else f"mlc_ccast<{_part(dst)}>({x})"
    if dt.is_complex(dst):
        return f"{C_TYPES[dst]}{{({_part(dst)})({x}), {_zero(dst)}}}"
    if dst == "bool":
        return f"mlc_ctobool({x})"
    return f"(({real_type})(({x}).re))"


def shfl_down(value: str, offset: int, width: int) -> str:
    """The warp shuffle of a complex ``value``: both parts from the lane ``offset`` above."""
    return f"mlc_shfl_down(__activemask(), {value}, {offset}, {width})"


def _part(dtype: str) -> str:
    return "float" if dt.component(dtype) == "float32" else "double"


def _zero(dtype: str) -> str:
    return "0.0f" if dt.component(dtype) == "float32" else "0.0"


def _register() -> None:
    for op, helper in COMPLEX_CALLS.items():
        register_intrinsic_lowering(BACKEND, op, lambda args, dtype, fast, helper=helper: f"{helper}({args[0]})",
                                    dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "real", lambda args, dtype, fast: f"({args[0]}).re", dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "imag", lambda args, dtype, fast: f"({args[0]}).im", dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "complex", lambda args, dtype, fast:
                                f"{C_TYPES[dt.complex_of(dtype)]}{{{args[0]}, {args[1]}}}", dtypes=FLOAT_COMPUTE)


_register()
