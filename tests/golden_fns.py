"""Functions whose generated gradient code is kept as golden text (tests/golden/).

A change to the generated code shows up as a diff of these files in review.
"""
import math

import numpy as np


def loop_sum(x, n):
    """A counted loop with a loop-carried accumulator."""
    s = 0.0
    for i in range(n):
        s += math.sin(x * i) / (i + 1)
    return s


def branch(x, y):
    """An if/else and an early return."""
    if x > y:
        return x * y
    z = math.exp(x - y)
    return z + y


def newton_sqrt(a):
    """A while loop whose trip count depends on the data."""
    x = a
    steps = 0
    while abs(x * x - a) > 1e-12 and steps < 50:
        x = 0.5 * (x + a / x)
        steps += 1
    return x


def power(x, n):
    """A recursive call."""
    if n == 0:
        return 1.0
    half = power(x, n // 2)
    if n % 2 == 0:
        return half * half
    return x * half * half


def smooth(u, w):
    """Array element writes inside a loop."""
    v = np.zeros(len(u))
    v[0] = u[0]
    for i in range(1, len(u)):
        v[i] = w * v[i - 1] + (1.0 - w) * u[i]
    return np.sum(v * v)
