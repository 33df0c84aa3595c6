"""``check_against_numpy``: property-test compiled code against a NumPy reference.

Hypothesis draws the inputs; the function runs on each target; every output
is compared with the reference's (:mod:`mlc.testing.assertions`) under the error
budget of the kernels that computed it (:mod:`mlc.testing.tolerance`). A
disagreement is shrunk to a small counterexample and reported with its
inputs, its error in ulps and relative terms, the traced graph and the IR
that produced it.

Subjects: a ``@mlc.jit`` function (compiled once per target), an ``@mlc.op``
operator (its te body on the reference interpreter is the default oracle), a
built module's function ``lib["f"]`` (destination passing: the drawn arrays
are its inputs, its outputs are allocated), or any function ``mlc.jit`` can
trace.
"""
from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..target import Target
from ..config import config, override
from ..custom_op import CustomOp
from ..errors import MLCError
from ..ir import te
from ..runtime.module import Function
from ..runtime.ndarray import c_contiguous
from .. import numpy as _numpy  # noqa: F401 - gives traced arrays their methods before jit traces
from ..tracer import tiering
from ..tracer.jit import JitFunction, jit
from . import strategies as mts
from ._hypothesis import hypothesis, st
from .assertions import compare
from .tolerance import Budget, error_budget

__all__ = ["check_against_numpy", "check_custom_op", "Counterexample", "numpy_call",
           "default_targets", "set_default_targets"]

_DEFAULT_TARGETS = ("llvm", "reference")


def default_targets() -> tuple[str, ...]:
    """The targets ``check_against_numpy`` runs on when given none (``--mlc-target`` sets them)."""
    return _DEFAULT_TARGETS


def set_default_targets(targets) -> None:
    """Make ``targets`` the default of :func:`check_against_numpy` (the pytest plugin's
    ``--mlc-target``); each is checked to be a target mlc knows."""
    global _DEFAULT_TARGETS
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    for t in targets:
        Target.from_str(t)
    _DEFAULT_TARGETS = targets


class Counterexample(AssertionError):
    """A compiled function disagrees with its reference; the message is the full report."""


class _Mismatch(Exception):
    """Raised inside the Hypothesis search (cheap); turned into a :class:`Counterexample`."""

    def __init__(self, target, args, results, expected, comparisons, budget):
        super().__init__(target)
        self.target, self.args, self.results, self.expected = target, args, results, expected
        self.comparisons, self.budget = comparisons, budget


def numpy_call(fn, *args, **kwargs):
    """Call a NumPy function with floating-point warnings silenced; arrays (or a tuple) out."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = fn(*args, **kwargs)
    if isinstance(result, (tuple, list)):
        return tuple(np.asarray(r) for r in result)
    return np.asarray(result)


def _outputs(result) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(r) for r in result) if isinstance(result, (tuple, list)) else (np.asarray(result),)


def _signature(args, kwargs) -> tuple:
    return tuple((a.shape, a.dtype.name) if isinstance(a, np.ndarray) else (type(a), a) for a in args) \
        + tuple(sorted(kwargs.items()))


# ------------------------------------------------------------------ subjects

def _positional_names(fn) -> list[str]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


@dataclass
class _Jitted:
    """A traceable function, compiled once per target."""
    name: str
    fn: object
    kwargs: dict
    variants: dict
    budgets: dict = field(default_factory=dict)

    @staticmethod
    def of(fn, targets, kwargs):
        if isinstance(fn, JitFunction):
            spec = fn._spec
            own = fn._target or config().target
            variants = {t: fn if Target.from_str(t) == Target.from_str(own) else
                        jit(fn.fn, static_argnums=tuple(spec.static_nums),
                            static_argnames=tuple(spec.static_names), target=t, schedule=fn._schedule,
                            tiered=False)
                        for t in targets}
            return _Jitted(fn.__name__, fn, kwargs, variants)
        name = getattr(fn, "__name__", "fn")

        def call(*args):  # keyword arguments (an op's attributes) are fixed for the whole check
            return fn(*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        return _Jitted(name, fn, {}, {t: jit(call, target=t, tiered=False) for t in targets})

    def run(self, target, args):
        # the compiled program, never a first tier that runs the graph through NumPy: a new
        # signature is built untiered, one the caller ran already is swapped in first (.tiering)
        tiering.wait(timeout=300)
        with override(tiered=False):
            return _outputs(self.variants[target](*args, **self.kwargs))

    def arg_names(self, n: int) -> list[str]:
        fn = self.fn.fn if isinstance(self.fn, JitFunction) else self.fn
        names = list(fn.tensor_params) if isinstance(fn, CustomOp) else _positional_names(fn)
        return (names + [f"arg {k}" for k in range(len(names), n)])[:n]

    def budget(self, args) -> Budget:
        key = _signature(args, self.kwargs)
        if key not in self.budgets:
            lowered = next(iter(self.variants.values())).lower(*args, **self.kwargs)
            self.budgets[key] = error_budget(lowered.mod.values())
        return self.budgets[key]

    def describe(self, target, args) -> str:
        lowered = self.variants[target].lower(*args, **self.kwargs)
        return (f"--- traced graph ---\n{lowered.traced.script()}\n\n--- kernels as scheduled for "
                f"{target} ---\n{lowered.scheduled().script()}")


@dataclass
class _Built:
    """A built module's function: destination passing, outputs allocated per call."""
    name: str
    function: Function

    def run(self, target, args):
        params = self.function.func.params
        written = self.function.written
        outs = [np.zeros(p.static_shape(), p.dtype) for n, p in enumerate(params) if n in written]
        arrays, it_in, it_out = [], iter(args), iter(outs)
        for n in range(len(params)):
            arrays.append(next(it_out) if n in written else c_contiguous(next(it_in)))
        self.function(*arrays)
        return tuple(outs)

    def arg_names(self, n: int) -> list[str]:
        params = self.function.func.params
        return [p.name for k, p in enumerate(params) if k not in self.function.written][:n]

    def budget(self, args) -> Budget:
        return error_budget([self.function.func])

    def describe(self, target, args) -> str:
        return f"--- the built function ---\n{self.function.func.script()}"


def _subject(fn, targets, kwargs):
    if isinstance(fn, Function):
        if kwargs:
            raise MLCError(f"check_against_numpy: built function {fn.name} takes arrays only; "
                           f"got keyword arguments {sorted(kwargs)}")
        return _Built(fn.name, fn), ("built",)
    if not callable(fn):
        raise MLCError(f"check_against_numpy: fn must be an @mlc.jit function, an @mlc.op "
                       f"operator or a built module's function (lib['name']), got {fn!r}")
    return _Jitted.of(fn, targets, kwargs), targets


def _default_reference(fn):
    if isinstance(fn, CustomOp):
        return lambda *arrays, **attrs: fn.op.reference(*arrays, **attrs)
    raise MLCError(f"check_against_numpy: {getattr(fn, '__name__', fn)} has no reference of its own; "
                   "pass the NumPy function to compare with as the second argument")


# ------------------------------------------------------------------ the check

def _check_one(subject, reference, args, kwargs, targets, ulps, rtol, atol):
    expected = None
    for target in targets:
        results = subject.run(target, args)
        if expected is None:  # after the first run: an @mlc.op's own reference exists by then
            copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            expected = _outputs(numpy_call(reference, *copies, **kwargs))
        budget = subject.budget(args)
        overflow_order = budget.reduction > 1 and _reaches_overflow(args, budget.products)
        comparisons = []
        for got, want in zip(results, expected):
            if ulps is None and rtol is None and atol is None:
                tol = dict(ulps=budget.ulps, atol=budget.atol(want.dtype.name, list(args) + [want]))
            else:
                tol = dict(ulps=ulps, rtol=rtol, atol=atol)
            comparisons.append(compare(got, want, overflow_order=overflow_order, **tol))
        if len(results) != len(expected) or not all(comparisons):
            raise _Mismatch(target, args, results, expected, comparisons, budget)


def _reaches_overflow(args, products: bool = False) -> bool:
    """Whether a float (or complex) array among ``args`` could make a reduction overflow in
    one order of its operations and not in another: it holds a finite value of magnitude at
    least the square root of its dtype's largest (two such values multiplied, or a few
    added, before the rest overflow), or, where a reduction multiplies (``products``), its
    finite magnitudes above 1 multiply past the largest. mlc reorders float reductions (its
    kernels vectorize them, as NumPy's own pairwise sums and unrolled products do), so there
    a result that is finite in one order may be infinite or NaN in the other
    (:func:`compare`'s ``overflow_order``).

    >>> big = np.float64([2.0 ** 256] * 5 + [0.0])
    >>> _reaches_overflow([np.float32([0, 2.0 ** 64]), 3]), _reaches_overflow([np.float32([1e19])])
    (True, False)
    >>> _reaches_overflow([big]), _reaches_overflow([big], products=True)
    (False, True)
    """
    for a in args:
        a = np.asarray(a) if isinstance(a, (np.ndarray, np.generic)) else None
        if a is None or a.dtype.kind not in "fc" or not a.size:
            continue
        largest = float(np.finfo(a.real.dtype).max)
        with np.errstate(all="ignore"):
            part = np.abs(a.real if a.dtype.kind == "c" else a).astype(np.float64)
            finite = part[np.isfinite(part)]
            if finite.size and finite.max() >= np.sqrt(largest):
                return True
            if products and np.log2(finite[finite > 1]).sum() >= np.log2(largest):
                return True
    return False


def _format_value(a) -> str:
    if isinstance(a, np.ndarray):
        body = np.array2string(a, threshold=64, max_line_width=100, precision=9)
        return f"{a.dtype.name} {a.shape} = {body}".replace("\n", "\n      ")
    return repr(a)


def _report(subject, reference, mismatch: _Mismatch, kwargs) -> str:
    ref_name = getattr(reference, "__name__", "the reference")
    lines = [f"{subject.name} on {mismatch.target} disagrees with {ref_name} (shrunk counterexample)",
             "  inputs:"]
    names = subject.arg_names(len(mismatch.args))
    lines += [f"    {name}: {_format_value(a)}" for name, a in zip(names, mismatch.args)]
    if kwargs:
        lines.append(f"    keyword arguments: {kwargs}")
    if len(mismatch.results) != len(mismatch.expected):
        lines.append(f"  {len(mismatch.results)} outputs, the reference gives {len(mismatch.expected)}")
    for n, c in enumerate(mismatch.comparisons):
        if not c.ok:
            lines.append(f"  output {n}: {c.summary}")
            if c.max_ulps or c.max_rel or c.max_abs:
                lines.append(f"    max error: {c.max_ulps:.0f} ulps, relative {c.max_rel:.3g}, "
                             f"absolute {c.max_abs:.3g}")
            lines.append(f"    got:      {_format_value(mismatch.results[n])}")
            lines.append(f"    expected: {_format_value(mismatch.expected[n])}")
    lines.append(f"  error budget: {mismatch.budget.ulps} ulps = {mismatch.budget.describe()}")
    try:
        lines.append(subject.describe(mismatch.target, mismatch.args))
    except MLCError as err:  # the report must not hide the mismatch
        lines.append(f"(the IR could not be printed: {err})")
    return "\n".join(lines)


def check_against_numpy(fn, reference=None, *strategies, targets=None, kwargs=None, ulps=None,
                        rtol=None, atol=None, max_examples: int | None = None, settings=None) -> None:
    """Property-test ``fn`` against ``reference`` on inputs drawn from ``strategies``.

    - ``fn``: an ``@mlc.jit`` function, an ``@mlc.op`` operator, a built module's
      function (``lib["f"]``: the drawn arrays are its inputs, its outputs are
      allocated), or any function ``mlc.jit`` can trace.
    - ``reference``: the NumPy function to agree with (None: an ``@mlc.op``'s own
      reference, its te body on the reference interpreter).
    - ``strategies``: one Hypothesis strategy per positional argument
      (:func:`mlc.testing.arrays`, ...); ``kwargs``: static keyword arguments
      given to both (an op's attributes).
    - ``targets``: where ``fn`` runs (default :func:`default_targets`: "llvm" and
      "reference"); a built function runs as built.
    - tolerance: without ``ulps``/``rtol``/``atol``, integers and bools compare
      exactly and floats within the error budget of the kernels
      (:mod:`mlc.testing.tolerance`); otherwise as :func:`assert_close` says.
    - ``max_examples`` / ``settings``: Hypothesis settings (default: the loaded profile).

    Raises :class:`Counterexample` (an AssertionError) with the shrunk
    counterexample, its error in ulps and relative terms, and the IR.
    """
    if not strategies:
        raise MLCError("check_against_numpy: give one strategy per argument of "
                       f"{getattr(fn, '__name__', fn)}, e.g. mlc.testing.arrays('float32')")
    for n, s in enumerate(strategies):
        if not isinstance(s, st.SearchStrategy):
            raise MLCError(f"check_against_numpy: argument strategy {n} must be a Hypothesis "
                           f"strategy (mlc.testing.arrays(...)), got {s!r}")
    kwargs = dict(kwargs or {})
    subject, targets = _subject(fn, default_targets() if targets is None else tuple(targets), kwargs)
    reference = _default_reference(fn) if reference is None else reference
    options = dict(deadline=None, database=None, report_multiple_bugs=False,
                   suppress_health_check=[hypothesis.HealthCheck.too_slow,
                                          hypothesis.HealthCheck.data_too_large])
    if max_examples is not None:
        options["max_examples"] = max_examples
    chosen = hypothesis.settings(settings or hypothesis.settings(), **options)

    @chosen
    @hypothesis.given(st.tuples(*strategies))
    def property_holds(args):
        _check_one(subject, reference, args, kwargs, targets, ulps, rtol, atol)

    try:
        property_holds()
    except _Mismatch as mismatch:
        raise Counterexample(_report(subject, reference, mismatch, kwargs)) from None


def check_custom_op(op: CustomOp, reference=None, *, dtypes=("float32", "float64"), shapes=None,
                    special=False, bound: float | None = None, attrs=None, **options) -> None:
    """``op.check()``: property-test an ``@mlc.op`` operator over generated shapes and dtypes.

    Each example draws one dtype from ``dtypes`` and one shape from ``shapes``
    (default: 1-3 dimensions of 1-9) for all tensor inputs, or, when ``shapes``
    draws tuples of shapes, one shape per input. Shapes the te body rejects
    are skipped when the shapes are the default ones. ``reference`` defaults to
    the op's te body on the reference interpreter; ``attrs`` are the op's
    attributes; other options go to :func:`check_against_numpy`.
    """
    n_inputs = len(op.tensor_params)
    own_shapes = shapes is None
    shape_strategy = mts.shapes(min_dims=1, max_dims=3, min_side=1, max_side=9) if own_shapes else shapes
    attrs = dict(attrs or {})
    key = f"mlc.testing.check_custom_op.{id(op)}"
    dtype = st.shared(mts.dtypes(dtypes), key=key + ".dtype")
    drawn = st.shared(shape_strategy, key=key + ".shape")

    def shape_of(n, drawn_shape):
        return drawn_shape[n] if drawn_shape and isinstance(drawn_shape[0], tuple) else drawn_shape

    signature = st.tuples(dtype, drawn)
    if own_shapes:  # the default shapes may not fit the op (a matrix op given 1-D inputs)
        signature = signature.filter(lambda ds: _accepts(op, [shape_of(n, ds[1]) for n in range(n_inputs)],
                                                         ds[0], attrs))
    strategies = [signature.flatmap(lambda ds, n=n: mts.arrays(ds[0], shape_of(n, ds[1]),
                                                                 special=special, bound=bound))
                  for n in range(n_inputs)]
    check_against_numpy(op, reference, *strategies, kwargs=attrs, **options)


def _accepts(op: CustomOp, shapes, dtype, attrs) -> bool:
    """Whether the op's te body builds for these input shapes (default shapes may not fit it)."""
    placeholders = [te.placeholder(s, dtype, name) for s, name in zip(shapes, op.tensor_params)]
    try:
        op.fn(*placeholders, **attrs)
    except (MLCError, IndexError, ValueError, TypeError):
        return False
    return True
