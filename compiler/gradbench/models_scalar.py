"""GradBench's small evals as plain Python that adjoin compiles: hello, llsq, ode, lse, det.

Assumes: float64 NumPy arrays and Python ints, as the adapter converts them from JSON.
Guarantees: each function is the eval's definition written the way a user writes it (loops,
element writes, NumPy calls); adjoin differentiates it, nothing here is hand-derived:
  * `square(x)`: x * x (hello);
  * `llsq(x, n)`: 1/2 sum_i (sign(t_i) - sum_j x_j t_i^j)^2 with t_i = -1 + 2i/(n-1);
  * `ode_solve(x, s)`: the state after s classic RK4 steps on [0, 2] from y = 0 with
    y'_0 = x_0 and y'_i = x_i y_{i-1} (GradBench's reference right-hand side); `ode_last`
    its last element, the value whose gradient the eval asks for;
  * `lse(x)`: max(x) + log(sum(exp(x - max(x))));
  * `det_flat(a, ell)`: the determinant of the row-major ell x ell matrix `a` by recursive
    cofactor expansion along the first row (reverse mode taping the recursion).
"""
import math

import numpy as np

__adjoin_compiles__ = True  # its functions are compiled by adjoin like user code


def square(x):
    return x * x


def llsq(x, n):
    m = len(x)
    total = 0.0
    for i in range(n):
        t = -1.0 + 2.0 * i / (n - 1)
        s = 1.0 if t > 0.0 else (-1.0 if t < 0.0 else 0.0)
        acc = 0.0
        p = 1.0
        for j in range(m):
            acc += x[j] * p
            p *= t
        r = s - acc
        total += r * r
    return 0.5 * total


def ode_rhs(x, y):
    n = len(x)
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = x[i] * y[i - 1]
    return out


def ode_solve(x, s):
    h = 2.0 / s
    y = np.zeros(len(x))
    for _ in range(s):
        k1 = ode_rhs(x, y)
        k2 = ode_rhs(x, y + h / 2 * k1)
        k3 = ode_rhs(x, y + h / 2 * k2)
        k4 = ode_rhs(x, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def ode_last(x, s):
    y = ode_solve(x, s)
    return y[len(y) - 1]


def lse(x):
    top = np.max(x)
    return top + math.log(np.sum(np.exp(x - top)))


def minor(A, j):
    """A without its first row and column j."""
    n = A.shape[0]
    M = np.zeros((n - 1, n - 1))
    for r in range(1, n):
        k = 0
        for c in range(n):
            if c != j:
                M[r - 1, k] = A[r, c]
                k += 1
    return M


def det(A):
    n = A.shape[0]
    if n == 1:
        return A[0, 0]
    total = 0.0
    sign = 1.0
    for j in range(n):
        total += sign * A[0, j] * det(minor(A, j))
        sign = -sign
    return total


def det_flat(a, ell):
    return det(np.reshape(a, (ell, ell)))
