"""``mlc.numpy``: NumPy's API and the Python Array API (2024.12), traced inside ``@mlc.jit``
and compiled when called eagerly.

Inside a jitted function these functions (and NumPy's own, which dispatch
here through ``__array_ufunc__`` / ``__array_function__``) record registry
ops; loading this package gives :class:`mlc.tracer.Tracer` its operators and
methods (:mod:`.methods`). The functions that are plain functions of arrays
are generated from the op registry (:mod:`.generated`). Outside, on concrete arrays, each call compiles its op once per shape,
dtype and attributes, then runs the compiled kernel, as ``jax.numpy`` does.

>>> import numpy as np
>>> import mlc.numpy as mnp
>>> mnp.exp(np.zeros(2, "float32"))
array([1., 1.], dtype=float32)
"""
import numpy as np

from .creation import (arange, array, asarray, copy, empty, empty_like, eye, from_dlpack, full,  # noqa: F401
                       full_like, linspace, meshgrid, ones, ones_like, tril, triu, zeros, zeros_like)
from .elementwise import *  # noqa: F401,F403
from .elementwise import UFUNCS, __all__ as _elementwise_all
from .contractions import dot, einsum, einsum_path, inner, matmul, matvec, tensordot, vdot, vecdot, vecmat  # noqa: F401
from .cumulative import cumprod, cumsum, cumulative_prod, cumulative_sum, diff  # noqa: F401
from . import linalg  # noqa: F401 - the linalg extension (in part)
from .datatypes import *  # noqa: F401,F403
from .datatypes import __all__ as _datatypes_all
from .datatypes import __array_api_version__, __array_namespace_info__  # noqa: F401
from .generated import GENERATED as _GENERATED
from .indexing import take, take_along_axis  # noqa: F401
from .manipulation import (broadcast_arrays, concat, matrix_transpose, permute_dims, repeat,  # noqa: F401
                           roll, tile, unstack)
from .diagonals import diagonal, trace  # noqa: F401
from .reductions import (all, amax, amin, any, argmax, argmin, count_nonzero, max, mean, min, prod,  # noqa: F401
                         std, sum, var)
from .searching import nonzero, where  # noqa: F401,F811
from .sorting import argsort, searchsorted, sort  # noqa: F401
from .updates import copyto, fill_diagonal, put  # noqa: F401
from .sets import isin, unique_all, unique_counts, unique_inverse, unique_values  # noqa: F401
from . import dispatch as _dispatch, methods as _methods, numpy_linalg as _numpy_linalg, refusals as _refusals
from ..tracer import autograph_runtime as _autograph_runtime, numpy_creation as _numpy_creation
from .shapes import (broadcast_to, concatenate, expand_dims, flip, getitem, moveaxis, pad,  # noqa: F401
                     ravel, reshape, split, squeeze, stack, swapaxes, transpose)
from .calculus import gradient, polyval, ravel_multi_index, trapezoid, unravel_index  # noqa: F401
from . import fourier as _fourier
from .rearranging import cross, fliplr, flipud, rot90, sliding_window_view  # noqa: F401
from .closeness import allclose, array_equal, array_equiv, isclose  # noqa: F401
from .histograms import bincount, digitize, histogram, histogram2d, histogram_bin_edges, histogramdd  # noqa: F401
from .matrices import diag, diagflat, kron, outer, vander  # noqa: F401
from .nan_functions import (nan_to_num, nancumprod, nancumsum, nanmax, nanmean, nanmin, nanprod,  # noqa: F401
                            nanstd, nansum, nanvar)
from .refusals import compress, extract  # noqa: F401
from .selection import piecewise, place, put_along_axis, putmask, select  # noqa: F401
from .signal import convolve, correlate, interp, unwrap  # noqa: F401
from .stacking import atleast_1d, atleast_2d, atleast_3d, block, column_stack, dstack, hstack, vstack  # noqa: F401
from .kinds import (asanyarray, asarray_chkfinite, ascontiguousarray, asfortranarray, iscomplex, iscomplexobj, isfortran,  # noqa: F401
                    isreal, isrealobj, isscalar, iterable, real_if_close, require)
from .arithmetic import (bitwise_count, divmod, fix, frexp, gcd, i0, isneginf, isposinf, lcm, modf,  # noqa: F401
                         sinc)
from .editing import (append, apply_over_axes, array_split, choose, delete, diag_indices_from, dsplit,  # noqa: F401
                      ediff1d, hsplit, insert, resize, rollaxis, row_stack, tril_indices_from,
                      triu_indices_from, vsplit)
from .bits import packbits, unpackbits  # noqa: F401
from .ordering import (argpartition, lexsort, sort_complex, nanargmax, nanargmin, nanmedian, nanpercentile,  # noqa: F401
                       nanquantile, partition)
from .polynomials import poly, polyadd, polyder, polyfit, polyint, polymul, polysub  # noqa: F401
from .statistics import average, corrcoef, cov, median, percentile, ptp, quantile  # noqa: F401

globals().update(_GENERATED)  # every op declaring a NumpyAPI, new ones included

_PUBLIC = [n for n in _elementwise_all if n != "UFUNCS"] + [
    # creation
    "arange", "array", "asarray", "copy", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
    "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
    # contractions
    "dot", "einsum", "einsum_path", "inner", "matmul", "matvec", "tensordot", "vdot", "vecdot", "vecmat",
    # reductions and scans
    "all", "amax", "amin", "any", "argmax", "argmin", "count_nonzero", "max", "mean", "min", "prod",
    "std", "sum", "var", "cumprod", "cumsum", "cumulative_prod", "cumulative_sum", "diff",
    # shapes and manipulation
    "broadcast_arrays", "broadcast_to", "concat", "concatenate", "diagonal", "expand_dims", "flip", "getitem",
    "matrix_transpose", "moveaxis", "pad", "permute_dims", "ravel", "repeat", "reshape", "roll",
    "split", "squeeze", "stack", "swapaxes", "tile", "trace", "transpose", "unstack",
    # sorting, searching, indexing, sets
    "argsort", "searchsorted", "sort", "nonzero", "take", "take_along_axis", "unique_all",
    # writes
    "copyto", "fill_diagonal", "put",
    "unique_counts", "unique_inverse", "unique_values",
    # NumPy's functions beyond the Array API
    "allclose", "array_equal", "array_equiv", "isclose", "bincount", "digitize", "histogram",
    "histogram_bin_edges", "copy", "diag", "diagflat", "kron", "outer", "vander", "nan_to_num", "nancumprod",
    "nancumsum", "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "piecewise", "place", "putmask",
    "put_along_axis", "select", "convolve", "correlate", "interp", "atleast_1d", "atleast_2d",
    "atleast_3d", "block", "column_stack", "dstack", "hstack", "vstack", "average", "corrcoef", "cov", "median",
    "percentile", "ptp", "quantile", "compress", "extract", "gradient", "polyval", "ravel_multi_index",
    "trapezoid", "unravel_index", "cross", "fliplr", "flipud", "rot90",
    # kinds and conversions
    "asanyarray", "asarray_chkfinite", "ascontiguousarray", "asfortranarray", "iscomplex", "iscomplexobj", "isfortran", "isreal",
    "isrealobj", "isscalar", "iterable", "real_if_close", "require",
    # arithmetic beyond the registry's ufuncs
    "bitwise_count", "divmod", "fix", "frexp", "gcd", "i0", "isneginf", "isposinf", "lcm", "modf", "sinc",
    # editing at static positions
    "append", "apply_over_axes", "array_split", "choose", "delete", "diag_indices_from", "dsplit", "ediff1d",
    "hsplit", "insert", "resize", "rollaxis", "row_stack", "tril_indices_from", "triu_indices_from", "vsplit",
    # orders
    "argpartition", "lexsort", "nanargmax", "nanargmin", "nanmedian", "nanpercentile", "nanquantile", "partition",
    # polynomials, signals
    "poly", "polyadd", "polyder", "polyfit", "polyint", "polymul", "polysub", "unwrap",
    "histogram2d", "histogramdd", "isin", "packbits", "sort_complex", "unpackbits",
]

_PUBLIC += sorted(set(_GENERATED) - set(_PUBLIC))

#: NumPy function name -> the function implementing it here (``__array_function__``).
FUNCTIONS = {name: globals()[name] for name in _PUBLIC}

#: NumPy's function objects (``np.sum``, ``np.linalg.trace``) -> the functions tracing them.
def _size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


#: NumPy's questions about an array's shape, answered while tracing (the shape is static).
_SHAPE_QUERIES = {np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim, np.size: _size}

NUMPY_FUNCTIONS = _dispatch.numpy_table(FUNCTIONS, _numpy_linalg.FUNCTIONS, {np.around: round}, _SHAPE_QUERIES,
                                        {np.lib.stride_tricks.sliding_window_view: sliding_window_view,
                                         np.apply_along_axis: _autograph_runtime.apply_along_axis},
                                        _fourier.FUNCTIONS)

#: NumPy's function objects refused by design inside ``@mlc.jit`` -> why, and what to write instead.
REFUSED = {getattr(np.linalg, name): why for name, why in _numpy_linalg.REFUSED.items()}
REFUSED.update((getattr(np, name), why) for name, why in _refusals.REFUSED.items()
               if callable(getattr(np, name, None)) and getattr(np, name) not in NUMPY_FUNCTIONS)

__all__ = _PUBLIC + _datatypes_all + ["UFUNCS", "FUNCTIONS", "NUMPY_FUNCTIONS", "REFUSED"]

_methods.attach(UFUNCS, FUNCTIONS, NUMPY_FUNCTIONS, REFUSED)  # Tracer's operators, methods and NumPy hooks are these functions
_numpy_creation.register(FUNCTIONS)  # NumPy's own creation functions, traced in a traced function
