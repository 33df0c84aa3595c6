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
from .creation import (arange, array, asarray, copy, empty, empty_like, eye, from_dlpack, full,  # noqa: F401
                       full_like, linspace, meshgrid, ones, ones_like, tril, triu, zeros, zeros_like)
from .elementwise import *  # noqa: F401,F403
from .elementwise import UFUNCS, __all__ as _elementwise_all
from .contractions import dot, einsum, matmul, tensordot, vecdot  # noqa: F401
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
from .sets import unique_all, unique_counts, unique_inverse, unique_values  # noqa: F401
from . import methods as _methods
from ..tracer import numpy_creation as _numpy_creation
from .shapes import (broadcast_to, concatenate, expand_dims, flip, getitem, moveaxis, pad,  # noqa: F401
                     ravel, reshape, split, squeeze, stack, swapaxes, transpose)

globals().update(_GENERATED)  # every op declaring a NumpyAPI, new ones included

_PUBLIC = [n for n in _elementwise_all if n != "UFUNCS"] + [
    # creation
    "arange", "array", "asarray", "copy", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
    "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
    # contractions
    "dot", "einsum", "matmul", "tensordot", "vecdot",
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
]

_PUBLIC += sorted(set(_GENERATED) - set(_PUBLIC))

#: NumPy function name -> the function implementing it here (``__array_function__``).
FUNCTIONS = {name: globals()[name] for name in _PUBLIC}

__all__ = _PUBLIC + _datatypes_all + ["UFUNCS", "FUNCTIONS"]

_methods.attach(UFUNCS, FUNCTIONS)
_numpy_creation.register(FUNCTIONS)  # NumPy's own creation functions, traced in a traced function  # Tracer's operators, methods and NumPy hooks are these functions
