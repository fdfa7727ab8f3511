"""The test corpus: functions covering every supported construct, with inputs.

Each function is registered with `@case(args1, args2, ...)`: argument tuples at
which the compiled code is compared with CPython (and, for float inputs,
derivatives with references). Pick inputs on both sides of every branch.
Tags: "numpy" (compare with a tolerance: NumPy reductions may round differently),
"torch" (the function can be rewritten for torch.autograd by `tests/torch_ref.py`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, List, Set, Tuple

import numpy as np


@dataclass
class Case:
    fn: Callable
    args: List[Tuple]
    tags: Set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.fn.__name__


CORPUS: List[Case] = []


def case(*arg_sets: Tuple, tags=()):
    def deco(fn):
        CORPUS.append(Case(fn, list(arg_sets), set(tags)))
        return fn
    return deco


# ---------------------------------------------------------------------------
# Scalars: arithmetic, math, branches


@case((1.5, 2.0), (-0.5, 3.0))
def arith(x, y):
    return x * y + x / y - y ** 2 + (x - y) * 3


@case((0.3,), (1.7,))
def math_calls(x):
    return math.sin(x) * math.exp(x) + math.log(1.0 + x * x) - math.sqrt(x * x + 1.0)


@case((2.0,), (-1.0,))
def early_return(x):
    if x < 0:
        return -x * 2.0
    y = x * x
    return y + 1.0


@case((0.5, 4), (2.0, 0))
def for_range(x, n):
    s = 0.0
    for i in range(n):
        s += math.sin(x) * i
    return s


@case((1.0,), (7.0,))
def break_in_loop(x):
    for i in range(10):
        if x > 5.0:
            break
        x = x * 1.5
    return x


@case((3,), (1,))
def recursion(n):
    if n <= 1:
        return 1.0
    return n * recursion(n - 1)


@case((np.linspace(0.1, 1.0, 6),), tags=("numpy",))
def array_write(x):
    y = np.zeros(len(x))
    for i in range(1, len(x)):
        y[i] = y[i - 1] + x[i] * x[i - 1]
    return np.sum(y)


@case((0.4, 5), (2.5, 3))
def while_data_dependent(x, k):
    n = 0
    while x < 10.0 and n < k:
        x = x * 2.0 + 0.1
        n += 1
    return x
