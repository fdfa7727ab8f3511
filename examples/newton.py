"""Newton's method on a function with a loop, using adjoin.hessian.

The objective sums penalties over a loop with a branch: a plain Python function.
adjoin gives its gradient (reverse mode) and its Hessian (forward over reverse),
and Newton's method finds the minimum in a few steps.

    python examples/newton.py
"""
import math

import numpy as np

import adjoin


def objective(x, n):
    """A smooth bowl with a loop of penalty terms (minimum near x = [1, -0.5])."""
    total = (x[0] - 1.0) ** 2 + 2.0 * (x[1] + 0.5) ** 2
    for i in range(n):
        t = x[0] * math.cos(i) + x[1] * math.sin(i)
        if t > 0.0:
            total += 0.01 * t * t
        else:
            total += 0.01 * math.log(1.0 + t * t)
    return total


def newton(x, n, steps=8):
    grad = adjoin.grad(objective)
    hess = adjoin.hessian(objective)
    for k in range(steps):
        g = grad(x, n)
        h = hess(x, n)
        x = x - np.linalg.solve(h, g)
        print(f"step {k}: f = {objective(x, n):.12f}, |grad| = {np.linalg.norm(g):.3e}")
    return x


if __name__ == "__main__":
    x = newton(np.array([3.0, 2.0]), 12)
    print("minimum at", x)
    print("Hessian there:\n", adjoin.hessian(objective)(x, 12))
