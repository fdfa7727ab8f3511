"""A first example: a loop with a branch and an array write."""
import numpy as np


def poly_energy(x, n):
    """Sum of a running polynomial, with a clipped term and an array write."""
    y = np.zeros(n)
    total = 0.0
    for i in range(n):
        t = x * i
        if t > 1.0:
            t = 1.0 + np.log(t)
        y[i] = t * t
        total += y[i]
    return total / n
