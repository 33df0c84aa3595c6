"""Random differentiable programs under ``mlc.grad``, ``vjp``, ``jvp``, ``vmap`` and their
compositions, checked against central finite differences in float64 and against JAX.

A program is a function ``f(x, y, k)`` of two float vectors and an integer (a loop's trip
count, an index) ending in a scalar, its body drawn from a seeded :class:`random.Random`:
elementwise math, ``np.where``/``maximum``/``sort``/``cumsum``, gathers with repeated
indices, in-place updates of a copy and of a view, ``for`` loops over a constant or the
traced ``k``, a ``while`` on a traced value, an ``if`` on a traced value. Each program runs
under one transformation (:data:`TRANSFORMS`): ``grad``, ``value_and_grad``, ``vjp``,
``jvp``, ``vmap`` of ``grad``, ``grad`` of a ``vmap``-ped sum, ``jvp`` of ``grad``, and
``grad`` in float32. The answer is compared with the one from finite differences (a step
each side; a program whose differences move with the step sits on a kink and is skipped)
and, where JAX is installed and the program has no in-place writes, with ``jax.grad``.

A transformation mlc refuses with a typed error naming the user's line (reverse mode
through a ``while``) counts as refused; any other exception from inside mlc, and a
different answer, are a :class:`~.fuzz.Mismatch`. ``tools/fuzz.py --transforms`` runs many;
``tests/test_fuzz_transform_programs.py`` a few, seeded.

>>> import random
>>> p = program(random.Random(0))
>>> p.source.startswith("def f(x, y, k):")
True
"""
from __future__ import annotations

import random
import warnings
from dataclasses import dataclass

import numpy as np

from .. import numpy as _numpy  # noqa: F401 - gives traced arrays their methods before jit traces
from ..errors import MLCError
from ..transforms import grad, jvp, value_and_grad, vjp, vmap
from .fuzz import SKIPPED, Mismatch, defined, host_array

__all__ = ["TransformProgram", "program", "run_program", "TRANSFORMS", "REFUSED", "SKIPPED"]

#: What :func:`run_program` returns for a transformation mlc refuses with a typed error.
REFUSED = "refused"
#: The transformations a program is run under.
TRANSFORMS = ("grad", "value_and_grad", "vjp", "jvp", "vmap_grad", "grad_vmap", "jvp_grad", "grad32")
LENGTHS = (0, 1, 2, 3, 5, 8)
#: Statements that write in place: a program with one is not given to JAX.
_INPLACE = ("] =", "] +=", "] *=", "] -=", "+= ", "*= ")


@dataclass(frozen=True)
class TransformProgram:
    """``f(x, y, k)`` (source): float vectors of length ``n``, an integer ``k``; ``transform``
    says how it is run."""

    source: str
    n: int
    k: int
    transform: str

    @property
    def functional(self) -> bool:
        """Whether the body has no in-place writes and no Python control flow (JAX takes it as written)."""
        body = self.source.split("\n", 1)[1]
        return not any(s in body for s in _INPLACE) and not any(
            w in body for w in ("for ", "while ", "if ", ".sort()"))

    def function(self, namespace=np):
        return defined(self.source, "f", "mlc-fuzz-transforms", namespace)

    def arrays(self, rng: random.Random) -> dict:
        """Distinct values in (-2, 2), away from each other (no ties for sort, maximum, where)."""
        gen = np.random.default_rng(rng.getrandbits(32))
        values = np.round(gen.permutation(np.linspace(-1.9, 1.9, 2 * self.n + 1)) + gen.uniform(-0.02, 0.02,
                                                                                                 2 * self.n + 1), 6)
        return {"x": values[:self.n], "y": values[self.n:2 * self.n]}


class _Gen:
    def __init__(self, rng: random.Random, n: int):
        self.rng, self.n = rng, n
        self.vectors = ["x", "y"]
        self.lines: list[str] = []

    def vec(self) -> str:
        return self.rng.choice(self.vectors)

    def fresh(self) -> str:
        name = f"t{len(self.vectors) - 2}"
        self.vectors.append(name)
        return name

    def statement(self, depth: int) -> list[str]:
        rng, n = self.rng, self.n
        a, b = self.vec(), self.vec()
        kinds = ["unary", "binary", "where", "maximum", "sort", "cumsum", "gather", "reverse", "reduce", "int_scale",
                 "bool_mask"]
        if n:
            kinds += ["copy_update", "view_update", "element", "traced_index", "fancy_update", "masked_write"]
        if depth == 0:
            kinds += ["for_const", "for_traced", "while", "if", "if"]
        kind = rng.choice(kinds)
        t = self.fresh()
        if kind == "unary":
            fn = rng.choice(("np.sin({})", "np.tanh({})", "np.exp({} * 0.5)", "{} ** 2", "np.abs({})",
                             "np.sqrt({} ** 2 + 1.0)", "np.log1p({} ** 2)", "-{}"))
            return [f"{t} = {fn.format(a)}"]
        if kind == "binary":
            op = rng.choice(("+", "-", "*"))
            return [f"{t} = {a} {op} {b}"]
        if kind == "where":
            return [f"{t} = np.where({a} > {b}, {a} * {b}, {rng.choice(('1.5', b, '-' + a))})"]
        if kind == "maximum":
            return [f"{t} = np.{rng.choice(('maximum', 'minimum'))}({a}, {rng.choice((b, '0.25'))})"]
        if kind == "sort":
            return [f"{t} = np.sort({a} * {b})" if rng.random() < 0.5 else f"{t} = np.sort({a})[::-1] + {b}"]
        if kind == "cumsum":
            return [f"{t} = np.{rng.choice(('cumsum', 'cumsum', 'cumprod'))}({a})"]
        if kind == "gather":
            if n == 0:
                return [f"{t} = {a}[np.zeros(0, dtype=np.int64)] + {b}"]
            idx = [rng.randrange(n) for _ in range(n)]
            idx[0] = idx[-1]  # a repeated index: its cotangents add
            return [f"{t} = {a}[np.array({idx})] * {b}"]
        if kind == "reverse":
            return [f"{t} = {a}[::-1] * {b}"]
        if kind == "reduce":
            red = rng.choice(("np.sum({})", "np.max({})", "np.mean({})", "np.prod({})"))
            if n == 0 and "max" in red:
                red = "np.sum({})"
            return [f"{t} = {a} + {red.format(b + ' * ' + a)}"]
        if kind == "copy_update":
            lo = rng.randrange(n)
            op = rng.choice(("=", "+=", "*="))
            return [f"{t} = {a}.copy()", f"{t}[{lo}:] {op} {b}[:{n - lo}] * 2.0"]
        if kind == "view_update":
            lo = rng.randrange(n)
            return [f"{t} = {a} * 1.0", f"v = {t}[{lo}:]", f"v *= {b}[{lo}:]"]
        if kind == "element":
            i, j = rng.randrange(n), rng.randrange(n)
            return [f"{t} = {a} + 0.0", f"{t}[{i}] = {t}[{j}] * {b}[{i}]"]
        if kind == "int_scale":  # the integer argument (traced) in float arithmetic
            return [f"{t} = {a} * k + {b} / (k + 1)"]
        if kind == "bool_mask":  # a bool array in arithmetic
            return [f"{t} = {a} * ({b} > 0.1) - ({a} < {b})"]
        if kind == "traced_index":
            return [f"{t} = {b} * {a}[k % {n}]"]
        if kind == "fancy_update":  # repeated indices: NumPy's x[i] += v adds once per index, the last value
            m = rng.randint(1, 3)
            idx = [rng.randrange(n) for _ in range(m)]
            idx[-1] = idx[0]
            return [f"{t} = {a} * 1.0", f"{t}[np.array({idx})] {rng.choice(('+=', '=', '*='))} {b}[:{m}]"
                    if n >= m else f"{t}[np.array({idx[:1]})] += {b}[:1]"]
        if kind == "masked_write":
            return [f"{t} = {a} * 1.0", f"{t}[{b} > {rng.choice(('0.3', '-0.2'))}] {rng.choice(('=', '*='))} "
                                        f"{rng.choice(('0.5', b + '[0]'))}"]
        if kind == "for_const":
            return [f"{t} = {a} * 1.0", f"for i in range({rng.randint(0, 3)}):",
                    f"    {t} = np.sin({t}) * {b} + 0.5 * {t}"]
        if kind == "for_traced":
            return [f"{t} = {a} * 1.0", "for i in range(k):", f"    {t} = {t} * 0.5 + np.tanh({b}) * {t}"]
        if kind == "while":
            return [f"{t} = {a} * 1.0", "j = 0", f"while j < k and np.sum({t} ** 2) < 50.0:",
                    f"    {t} = {t} * 1.5 + {b}", "    j += 1"]
        # if on a traced value
        self.vectors.pop()
        body = self.statement(1)
        made = self.vectors[-1]
        test = rng.choice((f"np.sum({a}) > 0.0", f"np.max({a} * 1.0, initial=-5.0) < 0.5", "k > 1"))
        return [f"{made} = {a} * 1.0", f"if {test}:"] + ["    " + s for s in body]


def program(rng: random.Random, statements: int = 4) -> TransformProgram:
    """One random program of ``statements`` statements and the transformation to run it under."""
    n = rng.choice(LENGTHS)
    gen = _Gen(rng, n)
    body: list[str] = []
    for _ in range(statements):
        body += gen.statement(0)
    last = gen.vectors[-1]
    body.append(f"return np.sum(np.sin({last}) * {gen.vec()})")
    source = "def f(x, y, k):\n" + "".join(f"    {line}\n" for line in body)
    return TransformProgram(source, n, rng.randint(0, 3), rng.choice(TRANSFORMS))


def _fd_grad(fn, x, y, k, eps):
    """Central differences of ``fn`` in ``x``."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(fn(x + e, y, k)) - float(fn(x - e, y, k))) / (2 * eps)
    return g


def _reference(prog: TransformProgram, fn, x, y, k):
    """(the gradient of ``fn`` in ``x``, where it is smooth) or None on a kink, from finite
    differences checked at two steps, or from JAX for a functional program."""
    if prog.functional:
        try:  # deferred: JAX is optional, and slow to import
            import jax
            jax.config.update("jax_enable_x64", True)
            import jax.numpy as jnp
        except ImportError:
            jax = None
        if jax is not None:
            return np.asarray(jax.grad(prog.function(jnp))(jnp.asarray(x), jnp.asarray(y), k))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        g1, g2 = _fd_grad(fn, x, y, k, 1e-6), _fd_grad(fn, x, y, k, 1e-5)
    if not np.allclose(g1, g2, rtol=1e-4, atol=1e-6):
        return None
    return g1


def _close(got, want, dtype="float64") -> bool:
    got, want = np.asarray(host_array(got), "float64"), np.asarray(want, "float64")
    rtol, atol = (1e-5, 1e-6) if dtype == "float64" else (2e-3, 2e-3)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol * scale))


def _run(prog: TransformProgram, fn, x, y, k, u):
    """What mlc computes under ``prog.transform``, and what it must equal (given ``g``, the gradient)."""
    t = prog.transform
    if t == "grad":
        return grad(fn)(x, y, k), lambda g: g
    if t == "grad32":
        got = grad(fn)(x.astype("float32"), y.astype("float32"), k)
        if host_array(got).dtype != np.float32:
            raise AssertionError(f"grad of float32 arguments is {host_array(got).dtype}")
        return got, lambda g: g
    if t == "value_and_grad":
        v, g = value_and_grad(fn)(x, y, k)
        return np.append(np.asarray(host_array(v), "float64"), host_array(g)), lambda g: np.append(fn(x, y, k), g)
    if t == "vjp":
        out, pull = vjp(fn, x, y, k)  # fn itself: its if/for/while convert as under jit
        g = pull(np.float64(1.5))[0]
        return g, lambda g: 1.5 * g
    if t == "jvp":
        _, tangent = jvp(fn, (x, y, k), (u, np.zeros_like(y), 0))
        return tangent, lambda g: np.dot(g, u)
    if t == "vmap_grad":  # the same x twice and the reversed x, batched
        xs = np.stack([x, x[::-1]])
        got = vmap(grad(fn), in_axes=(0, None, None))(xs, y, k)
        return got, None
    if t == "grad_vmap":  # d/dx of sum over a batch of (x, y) and (x, y[::-1])
        ys = np.stack([y, y[::-1]])
        got = grad(lambda a: np.sum(vmap(fn, in_axes=(None, 0, None))(a, ys, k)))(x)
        return got, None
    # jvp of grad: the Hessian-vector product, against finite differences of the gradient
    _, hvp = jvp(grad(fn), (x, y, k), (u, np.zeros_like(y), 0))
    return hvp, None


def run_program(prog: TransformProgram, rng: random.Random) -> Mismatch | str | None:
    """Run ``prog`` under its transformation (compiled for the host) and compare: None when
    they agree, :data:`SKIPPED` when the program is not smooth where it is evaluated (or NumPy
    refuses it), :data:`REFUSED` when mlc refuses it with a typed error, else the
    :class:`~.fuzz.Mismatch`."""
    arrays = prog.arrays(rng)
    x, y, k = arrays["x"], arrays["y"], prog.k
    u = np.linspace(0.3, 1.1, prog.n)
    fn = prog.function()
    inputs = {"x": x, "y": y, "k": np.array(k)}
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            value = float(fn(x, y, k))
    except (TypeError, ValueError, IndexError, ArithmeticError):
        return SKIPPED
    if not np.isfinite(value):
        return SKIPPED
    t = prog.transform
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, expect = _run(prog, fn, x, y, k, u)
    except MLCError as err:
        if "<mlc-fuzz-transforms" in str(err) or "line " in str(err):
            return REFUSED
        return Mismatch(prog, t, f"refused without naming the line: {type(err).__name__}: "
                                 f"{str(err).splitlines()[0]}", inputs)
    if t in ("vmap_grad", "grad_vmap", "jvp_grad"):
        if t == "vmap_grad":
            g1, g2 = _reference(prog, fn, x, y, k), _reference(prog, fn, x[::-1].copy(), y, k)
            want = None if g1 is None or g2 is None else np.stack([g1, g2])
        elif t == "grad_vmap":
            def summed(a, b, kk):
                return fn(a, b, kk) + fn(a, b[::-1].copy(), kk)
            want = _reference(_Opaque(), summed, x, y, k)
        else:
            gf = grad(fn)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                h1 = (host_array(gf(x + 1e-5 * u, y, k)) - host_array(gf(x - 1e-5 * u, y, k))) / 2e-5
                h2 = (host_array(gf(x + 1e-4 * u, y, k)) - host_array(gf(x - 1e-4 * u, y, k))) / 2e-4
            want = h1 if np.allclose(h1, h2, rtol=1e-3, atol=1e-5) else None
            if want is not None and not _close(got, want, "float32"):  # differences of differences: loose
                return Mismatch(prog, t, f"differs: {np.asarray(host_array(got)).tolist()!r}, "
                                         f"differences of grad give {want.tolist()!r}", inputs)
            return None if want is not None else SKIPPED
    else:
        g = _reference(prog, fn, x, y, k)
        want = None if g is None else expect(g)
    if want is None:
        return SKIPPED
    if not _close(got, want, "float32" if t == "grad32" else "float64"):
        return Mismatch(prog, t, f"differs: {np.asarray(host_array(got)).tolist()!r}, "
                                 f"expected {np.asarray(want).tolist()!r}", inputs)
    return None


class _Opaque:
    """A program seen by :func:`_reference` as not functional (finite differences only)."""

    functional = False
