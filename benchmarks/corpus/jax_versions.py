"""The corpus' programs in JAX's functional style, for the benchmark's JAX column.

JAX arrays are immutable: an in-place write is ``x = x.at[idx].set(v)``, a loop whose body
needs a traced index or carries state is ``lax.fori_loop``, a branch on a traced value
``jnp.where`` or ``lax.cond``, a slice whose bound moves with the loop a masked full-size
expression. Each returns what the NumPy program returns, or, for a program that only writes
into its arguments, the arrays it wrote (one array, or a tuple in argument order). A program
that writes nothing in place and returns its result runs as its own source with ``np`` bound
to ``jax.numpy`` (:func:`as_jax`) and has no entry here.

>>> x = jnp.arange(4.0)
>>> VERSIONS["heat_1d"](x, 0.25, 1).tolist()  # u[1:-1] += r * (u[2:] - 2 u[1:-1] + u[:-2]) once
[0.0, 1.0, 2.0, 3.0]
"""
from __future__ import annotations

import types

import jax
import jax.numpy as jnp
from jax import lax

jax.config.update("jax_enable_x64", True)

__all__ = ["VERSIONS", "as_jax"]

VERSIONS = {}


def version(fn):
    VERSIONS[fn.__name__] = fn
    return fn


def as_jax(fn):
    """``fn`` with its global ``np`` bound to ``jax.numpy`` (the same source, traced by JAX)."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": jnp}, fn.__name__, fn.__defaults__,
                              fn.__closure__)


# ---------------------------------------------------------------- stencils

@version
def heat_1d(u, r, steps):
    for t in range(steps):
        u = u.at[1:-1].set(u[1:-1] + r * (u[2:] - 2 * u[1:-1] + u[:-2]))
    return u


@version
def heat_2d(u, steps):
    def step(t, u):
        return u.at[1:-1, 1:-1].add(0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                                            - 4 * u[1:-1, 1:-1]))
    return lax.fori_loop(0, steps, step, u)


def _jacobi(A):
    return 0.2 * (A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1])


@version
def jacobi_2d(A, B, steps):
    def step(t, ab):
        A, B = ab
        B = B.at[1:-1, 1:-1].set(_jacobi(A))
        return A.at[1:-1, 1:-1].set(_jacobi(B)), B
    return lax.fori_loop(0, steps, step, (A, B))


@version
def wave_1d(u0, c, steps):
    # the three buffers the NumPy program rotates, each a new value once written
    u_prev, u, u_next = u0, u0, jnp.zeros_like(u0)
    for t in range(steps):
        u_next = u_next.at[1:-1].set(2 * u[1:-1] - u_prev[1:-1] + c * c * (u[2:] - 2 * u[1:-1] + u[:-2]))
        u_prev, u, u_next = u, u_next, u_prev
    return u


@version
def game_of_life(board, generations):
    for g in range(generations):
        n = (board[:-2, :-2] + board[:-2, 1:-1] + board[:-2, 2:] + board[1:-1, :-2] + board[1:-1, 2:]
             + board[2:, :-2] + board[2:, 1:-1] + board[2:, 2:])
        neighbours = jnp.zeros_like(board).at[1:-1, 1:-1].set(n)
        board = jnp.where((neighbours == 3) | ((board == 1) & (neighbours == 2)), 1, 0)
        board = board.at[0, :].set(0).at[-1, :].set(0).at[:, 0].set(0).at[:, -1].set(0)
    return board


@version
def gauss_seidel_1d(u, f, sweeps):
    n = u.shape[0]
    h2 = 1.0 / (n - 1) ** 2

    def point(k, u):
        i = 1 + k % (n - 2)
        return u.at[i].set(0.5 * (u[i - 1] + u[i + 1] + h2 * f[i]))
    return lax.fori_loop(0, sweeps * (n - 2), point, u)


@version
def burgers_1d(u, dt, nu, steps):
    dx = 1.0 / u.shape[0]

    def step(t, un):
        u = un.at[1:-1].set(un[1:-1] - un[1:-1] * dt / dx * (un[1:-1] - un[:-2])
                            + nu * dt / dx ** 2 * (un[2:] - 2 * un[1:-1] + un[:-2]))
        return u.at[0].set(u[1]).at[-1].set(u[-2])
    return lax.fori_loop(0, steps, step, u)


@version
def heat_3d(u, steps):
    def step(t, u):
        lap = (u[2:, 1:-1, 1:-1] + u[:-2, 1:-1, 1:-1] + u[1:-1, 2:, 1:-1] + u[1:-1, :-2, 1:-1]
               + u[1:-1, 1:-1, 2:] + u[1:-1, 1:-1, :-2] - 6.0 * u[1:-1, 1:-1, 1:-1])
        return u.at[1:-1, 1:-1, 1:-1].add(0.125 * lap)
    return lax.fori_loop(0, steps, step, u)


# ---------------------------------------------------------------- linear algebra

@version
def forward_substitution(L, b):
    n = b.shape[0]

    def row(i, x):  # x[:i] as x masked past i: x is zero there still
        return x.at[i].set((b[i] - L[i] @ x) / L[i, i])
    return lax.fori_loop(0, n, row, jnp.zeros_like(b))


@version
def back_substitution(U, b):
    n = b.shape[0]

    def row(k, x):
        i = n - 1 - k
        return x.at[i].set((b[i] - U[i] @ x) / U[i, i])
    return lax.fori_loop(0, n, row, jnp.zeros_like(b))


@version
def cholesky(A):
    n = A.shape[0]
    idx = jnp.arange(n)

    def column(j, L):
        lj = jnp.where(idx < j, L[j], 0.0)
        d = jnp.sqrt(A[j, j] - lj @ lj)
        col = (A[:, j] - L @ lj) / d
        return L.at[:, j].set(jnp.where(idx > j, col, jnp.where(idx == j, d, 0.0)))
    return lax.fori_loop(0, n, column, jnp.zeros_like(A))


@version
def lu_in_place(A):
    n = A.shape[0]
    idx = jnp.arange(n)

    def step(k, A):
        below = idx > k
        col = jnp.where(below, A[:, k] / A[k, k], A[:, k])
        A = A.at[:, k].set(col)
        row = jnp.where(below, A[k], 0.0)
        return A - jnp.outer(jnp.where(below, col, 0.0), row)
    return lax.fori_loop(0, n - 1, step, A)


@version
def gram_schmidt(A):
    m, n = A.shape
    idx = jnp.arange(n)

    def column(j, s):
        Q, R, V = s
        r = jnp.linalg.norm(V[:, j])
        q = V[:, j] / r
        proj = jnp.where(idx > j, q @ V, 0.0)
        return Q.at[:, j].set(q), R.at[j].set(jnp.where(idx == j, r, proj)), V - jnp.outer(q, proj)
    Q, R, V = lax.fori_loop(0, n, column, (jnp.zeros_like(A), jnp.zeros((n, n), A.dtype), A))
    return Q, R


@version
def conjugate_gradient(A, b, iterations):
    def step(k, s):
        x, r, p, rs, done = s
        Ap = A @ p
        alpha = rs / (p @ Ap)
        x2, r2 = x + alpha * p, r - alpha * Ap
        rs_new = r2 @ r2
        stop = rs_new < 1e-20
        p2 = jnp.where(stop, p, r2 + (rs_new / rs) * p)
        return (jnp.where(done, x, x2), jnp.where(done, r, r2), jnp.where(done, p, p2),
                jnp.where(done | stop, rs, rs_new), done | stop)
    r = b - A @ jnp.zeros_like(b)
    return lax.fori_loop(0, iterations, step, (jnp.zeros_like(b), r, r, r @ r, False))[0]


@version
def thomas(a, b, c, d):
    n = d.shape[0]

    def forward(carry, i):
        cp, dp = carry
        m = b[i] - a[i] * cp
        cp, dp = c[i] / m, (d[i] - a[i] * dp) / m
        return (cp, dp), (cp, dp)
    _, (cp, dp) = lax.scan(forward, (0.0, 0.0), jnp.arange(n))

    def backward(x, i):
        x = dp[i] - cp[i] * x
        return x, x
    _, xs = lax.scan(backward, 0.0, jnp.arange(n - 1, -1, -1))
    return xs[::-1]


@version
def gemver(A, u1, v1, u2, v2, y, z, alpha, beta):
    A = A + jnp.outer(u1, v1) + jnp.outer(u2, v2)
    x = beta * A.T @ y + z
    return x, alpha * A @ x


@version
def gemm_update(A, B, C, alpha, beta):
    return beta * C + alpha * A @ B


# ---------------------------------------------------------------- dynamic programming

def _anti_diagonal_dp(s, t, cell):
    """A table D[i, j] filled row by row, each row by a scan along it."""
    m, n = s.shape[0], t.shape[0]

    def row(prev, i):
        def col(left, j):
            v = cell(prev, left, i, j)
            return v, v
        first = cell.first(i)
        _, rest = lax.scan(col, first, jnp.arange(1, n + 1))
        cur = jnp.concatenate([jnp.array([first]), rest])
        return cur, None
    last, _ = lax.scan(row, cell.row0(n), jnp.arange(1, m + 1))
    return last[n]


@version
def edit_distance(s, t):
    def cell(prev, left, i, j):
        cost = jnp.where(s[i - 1] == t[j - 1], 0, 1)
        return jnp.minimum(jnp.minimum(prev[j] + 1, left + 1), prev[j - 1] + cost)
    cell.first = lambda i: i.astype(jnp.int64)
    cell.row0 = lambda n: jnp.arange(n + 1, dtype=jnp.int64)
    return _anti_diagonal_dp(s, t, cell)


@version
def lcs_length(s, t):
    def cell(prev, left, i, j):
        return jnp.where(s[i - 1] == t[j - 1], prev[j - 1] + 1, jnp.maximum(prev[j], left))
    cell.first = lambda i: jnp.int64(0)
    cell.row0 = lambda n: jnp.zeros(n + 1, jnp.int64)
    return _anti_diagonal_dp(s, t, cell)


@version
def floyd_warshall(D):
    def step(k, D):
        return jnp.minimum(D, D[:, k, None] + D[None, k, :])
    return lax.fori_loop(0, D.shape[0], step, D)


@version
def max_subarray(x):
    def step(carry, xi):
        best, current = carry
        current = jnp.maximum(xi, current + xi)
        return (jnp.maximum(best, current), current), None
    (best, _), _ = lax.scan(step, (x[0], x[0]), x[1:])
    return best


@version
def knapsack(weights, values, capacity):
    cap = jnp.arange(capacity + 1)

    def item(i, best):  # every capacity at once: best[c - w] read before this item's writes
        w = weights[i]
        shifted = jnp.where(cap >= w, best[jnp.maximum(cap - w, 0)] + values[i], -jnp.inf)
        return jnp.maximum(best, shifted)
    return lax.fori_loop(0, weights.shape[0], item, jnp.zeros(capacity + 1))[capacity]


@version
def viterbi(log_A, log_B, log_pi, obs):
    def step(delta, o):
        delta = (delta[:, None] + log_A).max(axis=0) + log_B[:, o]
        return delta, None
    delta, _ = lax.scan(step, log_pi + log_B[:, obs[0]], obs[1:])
    return delta.max()


# ---------------------------------------------------------------- statistics

@version
def histogram_loop(labels):
    return jnp.zeros(8, jnp.int64).at[labels].add(1)


@version
def standardize(data):
    std = data.std(axis=0)
    return (data - data.mean(axis=0)) / jnp.where(std <= 0.1, 1.0, std)


@version
def covariance(X):
    X = X - X.mean(axis=0)
    return X.T @ X / (X.shape[0] - 1)


@version
def moving_average(x, window):
    c = jnp.cumsum(x)
    return jnp.concatenate([c[window - 1:window], c[window:] - c[:-window]]) / window


@version
def welford(x):
    def step(carry, i):
        mean, m2 = carry
        delta = x[i] - mean
        mean = mean + delta / (i + 1)
        return (mean, m2 + delta * (x[i] - mean)), None
    (mean, m2), _ = lax.scan(step, (0.0, 0.0), jnp.arange(x.shape[0]))
    return mean, m2 / x.shape[0]


# ---------------------------------------------------------------- physics

@version
def nbody(pos, vel, mass, steps):
    def step(t, s):
        pos, vel = s
        d = pos[None, :, :] - pos[:, None, :]
        inv_r3 = ((d ** 2).sum(-1) + 0.1 ** 2) ** -1.5
        acc = jnp.einsum("ijk,ij,j->ik", d, inv_r3, mass)
        vel = vel + acc * 0.01
        return pos + vel * 0.01, vel
    return lax.fori_loop(0, steps, step, (pos, vel))


@version
def lennard_jones(pos):
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = (diff ** 2).sum(axis=-1)
    r2 = jnp.where(jnp.eye(pos.shape[0], dtype=bool), jnp.inf, r2)
    inv6 = (1.0 / r2) ** 3
    return 2.0 * jnp.sum(inv6 * inv6 - inv6)


@version
def harmonic_chain(x, v, steps):
    dt = 0.05

    def force(x):
        return jnp.zeros_like(x).at[1:-1].set(x[2:] - 2 * x[1:-1] + x[:-2])

    def step(t, s):
        x, v, a = s
        v = v + 0.5 * dt * a
        x = x + dt * v
        a = force(x)
        return x, v + 0.5 * dt * a, a
    x, v, a = lax.fori_loop(0, steps, step, (x, v, force(x)))
    return 0.5 * jnp.sum(v ** 2)


@version
def mandelbrot(c, iterations):
    def step(i, s):
        z, counts = s
        inside = jnp.abs(z) <= 2
        return jnp.where(inside, z * z + c, z), counts + inside
    return lax.fori_loop(0, iterations, step, (jnp.zeros_like(c), jnp.zeros(c.shape, jnp.int64)))[1]


def _lorenz(s):
    return jnp.array([10.0 * (s[1] - s[0]), s[0] * (28.0 - s[2]) - s[1], s[0] * s[1] - 8.0 / 3.0 * s[2]])


@version
def lorenz_rk4(state, steps):
    dt = 0.01

    def step(s, _):
        k1 = _lorenz(s)
        k2 = _lorenz(s + 0.5 * dt * k1)
        k3 = _lorenz(s + 0.5 * dt * k2)
        k4 = _lorenz(s + dt * k3)
        s = s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return s, s
    return lax.scan(step, state, None, length=steps)[1]


@version
def newton_sqrt(a):
    return lax.while_loop(lambda x: jnp.max(jnp.abs(x * x - a)) > 1e-12, lambda x: 0.5 * (x + a / x), a)


# ---------------------------------------------------------------- signal processing

@version
def fir_filter(x, h):
    n = x.shape[0]
    y = jnp.zeros_like(x)
    for k in range(h.shape[0]):
        y = y.at[k:].add(h[k] * x[:n - k])
    return y


@version
def iir_biquad(x, b, a):
    def step(carry, i):
        y1, y2 = carry  # y[i - 1], y[i - 2] (zero before the start, as the NumPy program's y)
        x1 = jnp.where(i >= 1, x[i - 1], 0.0)
        x2 = jnp.where(i >= 2, x[i - 2], 0.0)
        y = b[0] * x[i] + b[1] * x1 - a[1] * y1 + b[2] * x2 - a[2] * y2
        return (y, y1), y
    return lax.scan(step, (0.0, 0.0), jnp.arange(x.shape[0]))[1]


@version
def exponential_smoothing(x, alpha):
    def step(s, xt):
        s = alpha * xt + (1 - alpha) * s
        return s, s
    return jnp.concatenate([x[:1], lax.scan(step, x[0], x[1:])[1]])


@version
def autocorrelation(x, lags):
    x = x - x.mean()
    n = x.shape[0]
    r = jnp.stack([x[:n - k] @ x[k:] for k in range(lags)])
    return r / r[0]


@version
def cumulative_trapezoid(t, y):
    return jnp.concatenate([jnp.zeros(1), jnp.cumsum(0.5 * (y[1:] + y[:-1]) * jnp.diff(t))])


# ---------------------------------------------------------------- images

@version
def box_blur(img):
    inner = (img[:-2, :-2] + img[:-2, 1:-1] + img[:-2, 2:] + img[1:-1, :-2] + img[1:-1, 1:-1]
             + img[1:-1, 2:] + img[2:, :-2] + img[2:, 1:-1] + img[2:, 2:]) / 9.0
    return img.at[1:-1, 1:-1].set(inner)


@version
def sobel(img):
    gx = jnp.zeros_like(img).at[1:-1, 1:-1].set(
        (img[:-2, 2:] + 2 * img[1:-1, 2:] + img[2:, 2:]) - (img[:-2, :-2] + 2 * img[1:-1, :-2] + img[2:, :-2]))
    gy = jnp.zeros_like(img).at[1:-1, 1:-1].set(
        (img[2:, :-2] + 2 * img[2:, 1:-1] + img[2:, 2:]) - (img[:-2, :-2] + 2 * img[:-2, 1:-1] + img[:-2, 2:]))
    magnitude = jnp.sqrt(gx ** 2 + gy ** 2)
    return magnitude / jnp.maximum(magnitude.max(), 1e-12)


@version
def threshold_clip(img, threshold):
    return jnp.clip(jnp.where(img < threshold, 0.0, img), 0.0, 0.9)


@version
def integral_image(img):
    return jnp.zeros((img.shape[0] + 1, img.shape[1] + 1)).at[1:, 1:].set(img.cumsum(axis=0).cumsum(axis=1))
