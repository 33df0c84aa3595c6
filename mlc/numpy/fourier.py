"""Discrete Fourier transforms inside ``@mlc.jit``: ``np.fft.fft``, ``ifft``, ``rfft``, ``irfft``,
``fft2``, ``ifft2``, ``fftn``, ``ifftn``, ``rfft2``, ``irfft2``, ``rfftn``, ``irfftn``, ``hfft``,
``ihfft``, ``fftshift``, ``ifftshift``.

Each 1-D transform is a product with the DFT matrix ``W[k, j] = exp(-2 pi i k j / n)`` of its
static length (a constant made while tracing, its phases reduced mod ``n`` so that they are
exact), along the transformed axis; the multi-dimensional ones apply it axis by axis. That is
``O(n^2)`` work where NumPy's pocketfft does ``O(n log n)``: the same values up to rounding,
meant for the moderate lengths of the programs that call it inside a jitted function.

>>> import numpy as np, mlc
>>> np.round(mlc.numpy.fourier.fft(np.array([1.0, 0.0, 0.0, 0.0])), 12)
array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from .contractions import matmul
from .elementwise import conj, multiply, real
from .manipulation import roll
from .shapes import concatenate, getitem, moveaxis, pad

__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "fftshift", "ifftshift"]


def _where() -> str:
    return describe_location(user_location())


def _complex(t):
    kind = np.dtype(t.dtype)
    want = "complex64" if kind in (np.float32, np.complex64, np.float16) else "complex128"
    return t.astype(want) if t.dtype != want else t


def _dft(n: int, inverse: bool, dtype) -> np.ndarray:
    k = np.arange(n)
    phase = (np.outer(k, k) % n) * (2.0 * np.pi / n)
    return np.exp((1j if inverse else -1j) * phase).astype(dtype)


def _scale(norm, n: int, inverse: bool) -> float:
    if norm in (None, "backward"):
        return 1.0 / n if inverse else 1.0
    if norm == "ortho":
        return 1.0 / np.sqrt(n)
    if norm == "forward":
        return 1.0 if inverse else 1.0 / n
    raise TraceError(f"np.fft: norm must be 'backward', 'ortho' or 'forward', got {norm!r}{_where()}")


def _resized(t, n, axis: int):
    """``t`` cut or zero-padded to ``n`` elements along ``axis`` (NumPy's ``n=``)."""
    size = t.shape[axis]
    if n is None or n == size:
        return t
    if n < 1:
        raise ShapeError(f"np.fft: invalid number of data points ({n}) specified{_where()}")
    if n < size:
        key = [slice(None)] * t.ndim
        key[axis] = slice(0, n)
        return getitem(t, tuple(key))
    widths = [(0, 0)] * t.ndim
    widths[axis] = (0, n - size)
    return pad(t, tuple(widths))


def _transform(x, n, axis, norm, inverse: bool):
    t = _complex(as_tracer(x))
    axis = normalize_axis("np.fft", axis, t.ndim)
    t = _resized(t, n, axis)
    size = t.shape[axis]
    if size < 1:
        raise ShapeError(f"np.fft: invalid number of data points ({size}) specified{_where()}")
    w = _dft(size, inverse, t.dtype)
    scale = _scale(norm, size, inverse)
    if scale != 1.0:
        w = (w * scale).astype(t.dtype)
    out = matmul(moveaxis(t, axis, -1), as_tracer(np.ascontiguousarray(w.T), t._ctx))
    return moveaxis(out, -1, axis)


@numpy_function("a")
def fft(a, n=None, axis=-1, norm=None, out=None):
    """NumPy's ``np.fft.fft``: the DFT along ``axis`` (complex128, or complex64 for float32)."""
    return _transform(a, n, axis, norm, inverse=False)


@numpy_function("a")
def ifft(a, n=None, axis=-1, norm=None, out=None):
    """NumPy's ``np.fft.ifft``: the inverse DFT along ``axis``."""
    return _transform(a, n, axis, norm, inverse=True)


@numpy_function("a")
def rfft(a, n=None, axis=-1, norm=None, out=None):
    """NumPy's ``np.fft.rfft``: the DFT of real input, its ``n // 2 + 1`` non-negative frequencies."""
    t = as_tracer(a)
    if np.dtype(t.dtype).kind == "c":
        raise TraceError(f"np.fft.rfft of complex input: NumPy discards the imaginary part; take "
                         f"a.real first{_where()}")
    axis = normalize_axis("np.fft.rfft", axis, t.ndim)
    full = _transform(t, n, axis, norm, inverse=False)
    key = [slice(None)] * full.ndim
    key[axis] = slice(0, full.shape[axis] // 2 + 1)
    return getitem(full, tuple(key))


@numpy_function("a")
def irfft(a, n=None, axis=-1, norm=None, out=None):
    """NumPy's ``np.fft.irfft``: the real signal of ``n`` points (``2 * (m - 1)`` by default) whose
    non-negative frequencies are ``a``'s, the others their conjugates."""
    t = _complex(as_tracer(a))
    axis = normalize_axis("np.fft.irfft", axis, t.ndim)
    m = t.shape[axis]
    n = 2 * (m - 1) if n is None else n
    if n < 1:
        raise ShapeError(f"np.fft.irfft: invalid number of data points ({n}) specified{_where()}")
    half = _resized(t, n // 2 + 1, axis)
    key = [slice(None)] * t.ndim
    key[axis] = slice(1, (n + 1) // 2)
    mirrored = conj(getitem(half, tuple(key)))
    key[axis] = slice(None, None, -1)
    full = concatenate([half, getitem(mirrored, tuple(key))], axis=axis)
    return real(_transform(full, None, axis, norm, inverse=True))


def _axes(t, s, axes):
    if axes is None:
        axes = tuple(range(t.ndim)) if s is None else tuple(range(t.ndim - len(s), t.ndim))
    sizes = [None] * len(axes) if s is None else list(s)
    return axes, sizes


def _transform_axes(a, s, axes, norm, inverse: bool):
    """The (inverse) DFT along each of ``axes``, one axis after another."""
    t = as_tracer(a)
    axes, sizes = _axes(t, s, axes)
    for ax, n in zip(axes, sizes):
        t = _transform(t, n, ax, norm, inverse)
    return t


@numpy_function("a")
def fftn(a, s=None, axes=None, norm=None, out=None):
    """NumPy's ``np.fft.fftn``: the DFT along each of ``axes`` (all by default)."""
    return _transform_axes(a, s, axes, norm, inverse=False)


@numpy_function("a")
def ifftn(a, s=None, axes=None, norm=None, out=None):
    """NumPy's ``np.fft.ifftn``: the inverse DFT along each of ``axes`` (all by default)."""
    return _transform_axes(a, s, axes, norm, inverse=True)


@numpy_function("a")
def rfftn(a, s=None, axes=None, norm=None, out=None):
    """``np.fft.rfftn``: :func:`rfft` along the last of ``axes``, then :func:`fft` along the
    others."""
    t = as_tracer(a)
    axes, sizes = _axes(t, s, axes)
    t = rfft(t, sizes[-1], axes[-1], norm)
    for ax, n in zip(axes[:-1], sizes[:-1]):
        t = _transform(t, n, ax, norm, inverse=False)
    return t


@numpy_function("a")
def irfftn(a, s=None, axes=None, norm=None, out=None):
    """``np.fft.irfftn``: :func:`ifft` along all of ``axes`` but the last, then :func:`irfft`
    along it (``2 * (m - 1)`` points by default)."""
    t = as_tracer(a)
    axes, sizes = _axes(t, s, axes)
    for ax, n in zip(axes[:-1], sizes[:-1]):
        t = _transform(t, n, ax, norm, inverse=True)
    return irfft(t, sizes[-1], axes[-1], norm)


def _over_two_axes(transform, name: str):
    """NumPy's ``np.fft.<name>``: the n-dimensional ``transform`` over the last two axes by default."""
    def impl(a, s=None, axes=(-2, -1), norm=None, out=None):
        return transform(a, s, axes, norm)
    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = f"``np.fft.{name}``: :func:`{transform.__name__}` over the last two axes."
    return numpy_function("a")(impl)


fft2, ifft2 = _over_two_axes(fftn, "fft2"), _over_two_axes(ifftn, "ifft2")
rfft2, irfft2 = _over_two_axes(rfftn, "rfft2"), _over_two_axes(irfftn, "irfft2")


def _swapped(norm):
    """The normalisation of the opposite direction (``hfft`` is an ``irfft``)."""
    _scale(norm, 1, False)  # (refuses an unknown norm)
    return {None: "forward", "backward": "forward", "forward": "backward"}.get(norm, norm)


@numpy_function("a")
def hfft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.hfft``: the real spectrum of a signal with Hermitian symmetry, ``irfft`` of the
    conjugate with the opposite normalisation (``2 * (m - 1)`` points by default)."""
    return irfft(conj(_complex(as_tracer(a))), n, axis, _swapped(norm))


@numpy_function("a")
def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """``np.fft.ihfft``: the inverse of :func:`hfft`, the conjugate of ``rfft`` with the opposite
    normalisation."""
    return conj(rfft(a, n, axis, _swapped(norm)))


@numpy_function("x")
def fftshift(x, axes=None):
    """NumPy's ``np.fft.fftshift``: the zero frequency moved to the middle (a roll by ``n // 2``)."""
    t = as_tracer(x)
    axes = tuple(range(t.ndim)) if axes is None else ((axes,) if isinstance(axes, int) else tuple(axes))
    return roll(t, tuple(t.shape[a] // 2 for a in axes), axes)


@numpy_function("x")
def ifftshift(x, axes=None):
    """NumPy's ``np.fft.ifftshift``: :func:`fftshift` undone (a roll by ``-(n // 2)``)."""
    t = as_tracer(x)
    axes = tuple(range(t.ndim)) if axes is None else ((axes,) if isinstance(axes, int) else tuple(axes))
    return roll(t, tuple(-(t.shape[a] // 2) for a in axes), axes)


#: NumPy's function objects -> these (``np.fft.fft`` is not ``np.<name>``)
FUNCTIONS = {getattr(np.fft, name): globals()[name] for name in __all__}
