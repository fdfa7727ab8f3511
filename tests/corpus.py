"""The test corpus: functions covering every supported construct, with inputs.

Each function is registered with `@case(args1, args2, ...)`: argument tuples at
which the compiled code is compared with CPython (and, for float inputs,
derivatives with references). Pick inputs on both sides of every branch.
Tags: "numpy" (compare with a tolerance: NumPy reductions may round differently),
"torch" (the function can be rewritten for torch.autograd by `tests/torch_ref.py`),
"int_or_float" (on some inputs CPython returns an int where adjoin's one static type
is float, e.g. an empty `sum`: compare values, not int/float kinds), "nograd" (no
gradient check: an input sits on a jump of the function, or the function is
piecewise constant at a scale finite differences cannot resolve).
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


# ---------------------------------------------------------------------------
# Scalar arithmetic and operators


@case((7, 3), (-7, 3), (7, -2), (-9, -4))
def integer_division_and_modulo(a, b):
    q = a // b
    r = a % b
    return q * b + r, q, r, -a, a ** 2


@case((7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (0.25, 0.1))
def float_floor_division(x, y):
    return x // y, x % y, x - (x // y) * y


@case((3, 2.5), (-4, 0.5))
def mixed_int_and_float(n, x):
    half = n / 2
    scaled = n * x + half
    return scaled - n // 2 + 1


@case((2.0, 3), (0.5, 0), (-1.5, 5))
def power_forms(x, n):
    return x ** n + x ** 2 + abs(x) ** 0.5 + 2 ** 10 + 2.0 ** -1


@case((2, 3, 2.5), (3, -2, -1.0), (0, 0, 0.5), tags=("int_or_float",))
def integer_powers_and_mixed_min(n, k, x):
    # n ** k with a variable exponent is a float (CPython gives an int when k >= 0);
    # min/max of an int and a float are floats (CPython returns whichever argument).
    return float(n ** k), float(min(n, x)), max(n, x) * 2, n ** 2 - n ** k


@case((1.5,), (-0.25,))
def horner_polynomial(x):
    p = 4.0
    p = p * x - 3.0
    p = p * x + 0.5
    p = p * x - 2.0
    return p


@case((3.0, 2), (-1.0, 5))
def augmented_assignments(x, k):
    y = x
    y += 2.0
    y -= 0.5
    y *= 3.0
    y /= 4.0
    y **= 2
    m = k
    m += 7
    m //= 2
    m %= 3
    m *= 5
    return y, m


@case((1.0, 2.0), (2.0, 2.0), (3.0, -1.0))
def comparison_table(a, b):
    return a < b, a <= b, a == b, a != b, a > b, a >= b


@case((0.5, 0.0, 1.0), (-0.5, 0.0, 1.0), (1.0, 0.0, 1.0), (2.0, 0.0, 1.0))
def chained_comparison(x, lo, hi):
    inside = lo < x < hi
    closed = lo <= x <= hi != 0.0
    if inside:
        return 1, closed
    return 0, closed


@case((1, 1, 1), (1, 2, 2), (3, 2, 1), (2.0, 2.0, 5.0))
def chained_equality(a, b, c):
    return a == b == c, a < b == c, a != b != c


@case((0.0, 3), (1.5, 2), (-2.0, 0))
def truthiness_of_numbers(x, n):
    k = 0
    while n:
        n -= 1
        if x:
            k += 1
    return k, not x, bool(n), 1 if x else 2


@case((True, False, True), (False, False, False), (True, True, False), (False, True, True))
def boolean_logic(a, b, c):
    d = a and not b or c
    e = (a or b) and not c
    return d, e, not (a and b)


@case((0.0, 2.5), (1.5, 2.5), (-3.0, 0.0), (0.0, 0.0), tags=("nograd",))
def or_and_return_operands(x, y):
    first = x or y
    second = x and y
    third = x or y or 7.0
    return first, second, third


@case((np.array([1.0, -2.0, 3.0]), 0), (np.array([1.0, -2.0, 3.0]), 1),
      (np.array([1.0, -2.0, 3.0]), 3), (np.array([1.0, -2.0, 3.0]), 10))
def short_circuit_guards_index(x, i):
    n = len(x)
    ok = i < n and x[i] > 0
    bad = i >= n or x[i] < 0
    return ok, bad


@case((np.array([3.0, 2.0, 1.0, -1.0, 5.0]),), (np.array([1.0, 2.0]),), (np.array([-1.0]),))
def count_leading_positives(x):
    i = 0
    while i < len(x) and x[i] > 0:
        i += 1
    return i


@case((-2.0, -1.0, 1.0), (0.5, -1.0, 1.0), (4.0, -1.0, 1.0))
def ternary_clamp(x, lo, hi):
    y = lo if x < lo else x
    return hi if y > hi else y


@case((3.0, 1.0, 2.0), (1.0, 2.0, 3.0), (3.0, 2.0, 1.0), (2.0, 3.0, 1.0))
def sort_three_by_swaps(a, b, c):
    if a > b:
        a, b = b, a
    if b > c:
        b, c = c, b
    if a > b:
        a, b = b, a
    return a, b, c


@case((1.0, 2.0), (-3.0, 0.5))
def tuple_packing_and_unpacking(x, y):
    p = (x, y, x * y)
    a, b, c = p
    q = p + (a - b,)
    head = q[:2]
    return q[3] + c, q[-1], head[1] - head[0]


# ---------------------------------------------------------------------------
# Branches and loops


@case((-3.0,), (0.5,), (1.5,), (10.0,))
def piecewise_if_elif(x):
    if x < 0.0:
        y = -x
    elif x < 1.0:
        y = x * x
    elif x < 5.0:
        y = 2.0 * x - 1.0
    else:
        y = 9.0
    return y


@case((1.0, True), (-1.0, False), (2.0, False))
def bound_on_every_path_after_partial_if(x, flag):
    if x > 0.0:
        scale = 2.0
    if flag:
        scale = 0.5
    else:
        scale = 3.0
    return x * scale


@case((1.0, 2.0), (-1.0, 2.0), (1.0, -2.0), (-1.0, -2.0))
def quadrant_nested_if(x, y):
    if x >= 0:
        if y >= 0:
            q = 1
        else:
            q = 4
    else:
        if y >= 0:
            q = 2
        else:
            q = 3
    return q


@case((48, 18), (17, 5), (0, 9), (9, 0))
def gcd_while(a, b):
    while b != 0:
        a, b = b, a % b
    return a


@case((2.0,), (9.0,), (0.25,))
def newton_sqrt_while_true(a):
    x = a
    while True:
        nxt = 0.5 * (x + a / x)
        if abs(nxt - x) < 1e-12:
            break
        x = nxt
    return x


@case((10.0,), (0.5,), (3.0,))
def halve_until_small_while_true(x):
    steps = 0
    while True:
        half = x * 0.5
        steps += 1
        if half < 1.0:
            break
        x = half
    return half, steps


@case((6,), (27,), (1,))
def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


@case((2, 6), (5, 5), (7, 3), (-3, 2))
def range_with_start(a, b):
    s = 0
    for i in range(a, b):
        s += i * i
    return s


@case((5,), (0,), (1,))
def range_negative_step(n):
    s = 0.0
    for i in range(n, 0, -1):
        s = s * 0.5 + i
    t = 0
    for j in range(n, -1, -2):
        t += j
    return s, t


@case((0, 10, 3), (10, 0, -3), (0, 10, -1), (4, 4, 2))
def range_variable_step(lo, hi, step):
    total = 0
    count = 0
    for i in range(lo, hi, step):
        total += i
        count += 1
    return total, count


@case((np.array([1.0, -2.0, 3.5]),), (np.zeros(0),))
def for_over_array(x):
    s = 0.0
    for v in x:
        s += v * v
    return s


@case((0.5,), (-2.0,))
def for_over_tuple(x):
    s = 0.0
    for c in (1.0, -2.0, 0.5, 3.0):
        s = s * x + c
    return s


@case((np.array([2.0, 4.0, 8.0]),), (np.zeros(0),))
def enumerate_weighted_sum(x):
    s = 0.0
    for i, v in enumerate(x):
        s += i * v
    return s


@case((np.array([2.0, 4.0, 8.0]),), (np.array([1.0]),))
def enumerate_from_one(x):
    s = 0.0
    for k, v in enumerate(x, 1):
        s += v / k
    return s


@case((np.array([2.0, 4.0, 8.0]), 3), (np.zeros(0), -1))
def enumerate_start_keyword_and_tuple(x, first):
    s = 0.0
    for k, v in enumerate(x, start=first):
        s += k * v
    for j, c in enumerate((0.5, 0.25), 10):
        s += j * c
    return s + sum(i * v for i, v in enumerate(x, 1))


@case((np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 6.0, 7.0])),
      (np.zeros(0), np.array([1.0])))
def zip_dot_product(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s += a * b
    return s


@case((np.array([1.0, -2.0, 3.0, -4.0]),), (np.array([-1.0, -1.0]),))
def sum_skipping_negatives(x):
    s = 0.0
    for v in x:
        if v < 0.0:
            continue
        s += v
    return s


@case((np.array([0.5, 1.5, 3.0, 0.2]), 1.0), (np.array([0.5, 0.7]), 1.0), (np.zeros(0), 0.0))
def first_index_above(x, t):
    for i in range(len(x)):
        if x[i] > t:
            return i
    return -1


@case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 4.5),
      (np.array([[1.0, 2.0], [3.0, 4.0]]), 10.0),
      (np.array([[7.0, 2.0], [3.0, 4.0]]), 1.0))
def find_in_matrix_return_from_inner_loop(A, t):
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            if A[i, j] > t:
                return i, j
    return -1, -1


@case((7,), (12,), (2,), (1,), (25,))
def is_prime_for_else(n):
    if n < 2:
        return False
    for d in range(2, n):
        if d * d > n:
            break
        if n % d == 0:
            return False
    else:
        return True
    return True


@case((np.array([1.0, 3.0, 5.0]), 3.0), (np.array([1.0, 3.0, 5.0]), 4.0), (np.zeros(0), 1.0))
def while_else_search(x, t):
    i = 0
    while i < len(x):
        if x[i] == t:
            break
        i += 1
    else:
        i = -1
    return i


@case((4,), (0,), (6,))
def break_inner_loop_only(n):
    pairs = 0
    for i in range(n):
        for j in range(n):
            if j > i:
                break
            pairs += 1
    return pairs


@case((10,), (0,), (3,))
def continue_in_while(n):
    i = 0
    odd = 0
    while i < n:
        i += 1
        if i % 2 == 0:
            continue
        odd += i
    return odd


@case((1.0,), (50.0,), (-2.0,))
def early_return_in_while(x):
    k = 0
    while x < 100.0:
        if x < 0.0:
            return -1.0
        x = x * 3.0 + 1.0
        k += 1
    return x + k


@case((0.0, 2.0), (1.0, 2.0), (-3.0, 1.0), tags=("nograd",))
def bisection_root(a, b):
    lo, hi = a, b
    f_lo = lo * lo * lo - 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        f_mid = mid * mid * mid - 2.0
        if (f_mid < 0.0) == (f_lo < 0.0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@case((1.0, 0.1, 10), (2.0, 0.05, 0))
def euler_ode_decay(y0, h, n):
    y = y0
    t = 0.0
    for _ in range(n):
        y = y + h * (-2.0 * y + math.sin(t))
        t += h
    return y, t


@case((30000.0,), (5000.0,), (120000.0,))
def progressive_tax(income):
    brackets = ((10000.0, 0.0), (40000.0, 0.2), (100000.0, 0.4))
    tax = 0.0
    lower = 0.0
    for upper, rate in brackets:
        if income <= lower:
            break
        tax += (min(income, upper) - lower) * rate
        lower = upper
    if income > lower:
        tax += (income - lower) * 0.5
    return tax


# ---------------------------------------------------------------------------
# math, builtins, comprehensions


@case((0.3, 1.2), (-2.0, 0.5))
def trig_functions(x, y):
    return (math.sin(x) * math.cos(y) + math.tan(x / 2.0) + math.tanh(y),
            math.atan2(y, x), math.hypot(x, y))


@case((0.7,), (3.0,))
def exp_log_functions(x):
    return (math.exp(-x) + math.log(x) + math.log(x, 2.0) + math.log(100.0 * x, 10),
            math.sqrt(x) + math.pow(x, 1.5) + math.erf(x - 1.0))


@case((2.5,), (-2.5,), (3.7,), (-0.4,), (4,))
def rounding_functions(x):
    return math.floor(x), math.ceil(x), math.fabs(x), round(x), int(x), float(x)


@case((1.0,), (2.5,))
def circle_with_constants(r):
    area = math.pi * r ** 2
    growth = math.e ** r
    return area, growth, 2 * math.pi * r


@case((1.0, -5.0, 3.0), (2.0, 3.0, -1.5), (4, -7, 1))
def builtin_min_max_abs(a, b, c):
    return min(a, b), max(a, b, c), min(a, b, c, 0), abs(b), max(abs(a), abs(c))


@case((np.array([3.0, -1.0, 7.5]), 2.0, 9.0), (np.array([0.5]), -1.0, -2.0))
def min_max_over_sequences(x, a, b):
    return max(x), min(x), min((a, b, 4.0)), max([a, b]), max(a * t for t in x)


@case((5,), (1,), (8,))
def max_of_integer_generator(n):
    best = max(i * (n - i) for i in range(n))
    return best, min(i % 3 for i in range(n) if i != 1)


@case((1.0, 3.0, 2.0), (-1.0, 3.0, -2.0))
def reductions_over_tuple_generators(a, b, c):
    return (max(v * 2.0 for v in (a, b, c)), min(t for t in (a, b) if t > 0.0),
            sum(t * t for t in (a, b, c)))


@case((5,), (0,), (1,))
def sum_list_comprehension(n):
    return sum([i * i for i in range(n)])


@case((np.array([1.0, -2.0, 3.0, -4.0]),), (np.array([-1.0]),), tags=("int_or_float",))
def sum_generator_with_condition(x):
    return sum(v * v for v in x if v > 0.0)


@case((3,), (0,))
def sum_of_floats_comprehension(n):
    return sum([1.0 / (k + 1) for k in range(n)], 0.5)


@case((np.array([1.5, 2.5, 3.5]), 2.7), (np.zeros(0), -1.2), (np.array([4.0]), 4))
def conversions_and_len(x, v):
    n = len(x)
    return float(n) / 2, int(v), n * 1.5, int(-v) + n


# ---------------------------------------------------------------------------
# NumPy


@case((np.array([0.5, 1.0, 2.0]),), (np.array([[0.1, 0.2], [3.0, 4.0]]),), tags=("numpy",))
def numpy_elementwise(x):
    y = np.sin(x) * np.cos(x) + np.exp(-x) + np.log(x) + np.sqrt(x) - np.tanh(x)
    return np.sum(np.abs(y - 1.0))


@case((np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, 4.0])), tags=("numpy",))
def numpy_maximum_minimum_where(x, y):
    hi = np.maximum(x, y)
    lo = np.minimum(x, 0.0)
    relu = np.where(x > 0.0, x, 0.1 * x)
    return hi + lo, relu


@case((np.array([4.0, -1.0, 2.5, 0.5]),), (np.array([[1.0, 2.0], [3.0, -4.0]]),),
      tags=("numpy",))
def numpy_reductions(x):
    return np.sum(x), np.mean(x), np.max(x), np.min(x), x.sum() + x.max() - x.min()


@case((np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0.5, -1.0])),
      tags=("numpy",))
def matrix_vector_products(A, x):
    y = np.dot(A, x)
    z = A @ x
    G = A.T @ A
    return y + z, G, np.dot(y, z), x @ x


@case((np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])), tags=("numpy",))
def outer_product_sum(x, y):
    M = np.outer(x, y)
    return M, np.sum(M, axis=0)


@case((3,), (1,), tags=("numpy",))
def array_constructors(n):
    z = np.zeros(n)
    o = np.ones((n, 2))
    zl = np.zeros_like(o)
    e = np.empty(n)
    for i in range(n):
        e[i] = 2.0 * i
    return z + e, o + zl, np.sum(o)


@case((np.array([1.0, 2.0, 3.0]),), tags=("numpy",))
def copy_then_modify(x):
    y = x.copy()
    z = np.copy(x)
    y[0] = 10.0
    z[1] = -1.0
    return x + y + z


@case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),), tags=("numpy",))
def shape_and_transpose(A):
    n, m = A.shape
    B = A.T
    return B, n * 10 + m, B.shape[0]


@case((np.array([3.0, 4.0]),), (np.array([[1.0, 2.0], [2.0, 4.0]]),), tags=("numpy",))
def vector_norm(x):
    return np.linalg.norm(x), np.linalg.norm(2.0 * x)


@case((5,), (1,), tags=("numpy",))
def arange_and_linspace(n):
    k = np.arange(n)
    f = np.arange(1, 2 * n, 2)
    t = np.linspace(0.0, 1.0, n)
    return k * t, np.sum(f), np.arange(n, 0, -1)


@case((1.0, 2.0), (-0.5, 0.0), tags=("numpy",))
def array_literal(x, y):
    v = np.array([x, y, x + y])
    M = np.array([[x, 0.0], [0.0, y]])
    return v * 2.0, M @ np.array([1.0, 1.0])


@case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),), tags=("numpy",))
def axis_reductions(A):
    return (np.sum(A, axis=0), np.sum(A, axis=1), np.mean(A, axis=1), np.max(A, axis=0),
            A.min(axis=1), A.sum(axis=0))


@case((np.arange(6.0),), tags=("numpy",))
def reshape_to_matrix(x):
    M = x.reshape(2, 3)
    N = np.reshape(x, (3, 2))
    flat = (M * 2.0).reshape(6)
    return M @ N, flat


@case((np.array([1.0, 2.0, 3.0]),), (np.array([-1.0, 0.0, 1.0, 1000.0]),), tags=("numpy",))
def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


@case((np.array([1.0, 2.0, 3.0]),), (np.array([-5.0, 700.0]),), tags=("numpy",))
def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@case((np.arange(6.0).reshape(2, 3),), (np.ones((1, 4)),), tags=("numpy",))
def iterate_over_matrix_rows(A):
    s = 0.0
    for row in A:
        s += np.sum(row) * row[0]
    return s


@case((np.array([1, 5, 2, 8]),), (np.array([3]),))
def integer_array_stats(x):
    total = 0
    best = x[0]
    for v in x:
        total += v
        if v > best:
            best = v
    return total, best, np.sum(x) - total


# ---------------------------------------------------------------------------
# Indexing, slicing and array writes


@case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1, 2),
      (np.array([[1.0, 2.0], [3.0, 4.0]]), 0, -1))
def read_matrix_entries(A, i, j):
    return A[i, j] + A[i][j] * 10.0 + A[-1, 0] - A[0][-1]


@case((np.array([2.0, 3.0, 5.0, 7.0, 11.0]),), (np.array([4.0]),))
def first_and_last(x):
    return x[-1] - x[0], x[len(x) - 1] * x[-len(x)]


@case((np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 1, 4), (np.array([1.0, 2.0, 3.0]), 0, 0),
      tags=("numpy",))
def slice_sums(x, a, b):
    return np.sum(x[a:b]), np.sum(x[1:]), np.sum(x[:-1]), np.sum(x[::2]), x[1::2] * 1.0


@case((np.array([1.0, 4.0, 9.0, 16.0]),), (np.array([2.0, 3.0]),))
def forward_difference(x):
    return x[1:] - x[:-1]


@case((np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),), tags=("numpy",))
def first_column_and_row(A):
    col = A[:, 0]
    row = A[1, :]
    return np.sum(col) * 100.0 + np.sum(row), A[:, 1], A[1:, :1]


@case((np.array([1.0, 2.0, 3.0, 4.0]),), (np.array([5.0]),), (np.zeros(0),), tags=("numpy",))
def cumulative_sum(x):
    y = np.zeros(len(x))
    acc = 0.0
    for i in range(len(x)):
        acc += x[i]
        y[i] = acc
    return y


@case((np.array([0.1, 0.5, 0.55, 0.9, 0.99, 0.2]), 4), (np.zeros(0), 2))
def histogram_counts(x, bins):
    counts = np.zeros(bins, dtype=np.int64)
    for v in x:
        k = int(v * bins)
        counts[k] += 1
    return counts


@case((np.arange(6.0), 1, 4), (np.arange(3.0), 2, 2))
def slice_assignment(x, a, b):
    y = x.copy()
    y[a:b] = 0.0
    y[:1] = y[-1]
    return y


@case((3, 4), (1, 1), (0, 2))
def fill_matrix_chained_index(n, m):
    A = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            A[i][j] = i * m + j
    return A


@case((np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([9.0, 8.0])),)
def replace_row(A, r):
    B = A.copy()
    B[0, :] = r
    B[1] = B[1] * 2.0
    return B


@case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),),
      (np.array([[1.0, 1.0], [1.0, 1.0]]),))
def laplacian_stencil(A):
    n, m = A.shape
    out = np.zeros((n, m))
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1] - 4.0 * A[i, j]
    return out


@case((np.array([3.0, 1.0, 2.0]),), (np.array([1.0, -1.0]),), tags=("numpy",))
def normalized_and_norm(x):
    n = math.sqrt(np.dot(x, x))
    return x / n, n, len(x)


@case((np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 2), (np.array([1.0, 2.0]), 3), tags=("numpy",))
def moving_average(x, w):
    n = len(x) - w + 1
    if n <= 0:
        return np.zeros(0)
    out = np.empty(n)
    for i in range(n):
        out[i] = np.mean(x[i:i + w])
    return out


@case((np.array([5.0, 1.0, 4.0, 2.0]),), (np.array([1.0]),), (np.zeros(0),))
def bubble_sort_copy(x):
    y = x.copy()
    n = len(y)
    for i in range(n):
        for j in range(n - 1 - i):
            if y[j] > y[j + 1]:
                y[j], y[j + 1] = y[j + 1], y[j]
    return y


@case((np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([1.0, 2.0])), tags=("numpy",))
def matvec_loops(A, x):
    n, m = A.shape
    y = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        y[i] = s
    return y


@case((np.array([1.0, 3.0, 2.0, 5.0, 4.0]),), (np.array([2.0]),))
def running_maximum(x):
    out = np.empty(len(x))
    best = -math.inf
    for i, v in enumerate(x):
        best = max(best, v)
        out[i] = best
    return out


@case((np.array([1.0, -1.0, -2.0, 3.0, 0.5, -0.5]),), (np.array([1.0, 2.0]),))
def count_sign_changes(x):
    changes = 0
    for i in range(1, len(x)):
        if (x[i] < 0.0) != (x[i - 1] < 0.0):
            changes += 1
    return changes


@case((np.array([1.0, 2.0, 3.0]), 2.0))
def scale_argument_in_place(x, c):
    for i in range(len(x)):
        x[i] *= c
    return x[0] + x[-1]


# ---------------------------------------------------------------------------
# Calls: helper functions, recursion, closures


def _squared_distance(a, b):
    d = a - b
    return d * d


def _bounds(x):
    lo, hi = x[0], x[0]
    for v in x:
        lo = min(lo, v)
        hi = max(hi, v)
    return lo, hi


def _smooth_step(t, edge=1.0):
    t = min(max(t / edge, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def _scale_into(y, c):
    for i in range(len(y)):
        y[i] = y[i] * c


def _is_even(n):
    if n == 0:
        return True
    return _is_odd(n - 1)


def _is_odd(n):
    if n == 0:
        return False
    return _is_even(n - 1)


@case((1.0, 4.0), (-2.0, -2.0))
def call_helper_function(x, y):
    return math.sqrt(_squared_distance(x, y) + _squared_distance(y, 0.0))


@case((np.array([3.0, -1.0, 4.0, 1.5]),), (np.array([2.0]),))
def call_helper_returning_tuple(x):
    lo, hi = _bounds(x)
    return (x[0] - lo) / (hi - lo + 1.0)


@case((0.5,), (-1.0,), (3.0,))
def call_helper_with_default(x):
    return _smooth_step(x) + _smooth_step(x, 4.0) + _smooth_step(edge=2.0, t=x)


@case((np.array([1.0, 2.0, 3.0]), 3.0), (np.zeros(0), 2.0))
def helper_writes_into_argument(x, c):
    y = x.copy()
    _scale_into(y, c)
    return y, x


@case((np.array([1.0, 2.0, 3.0]), -1.0))
def helper_writes_into_callers_argument(x, c):
    _scale_into(x, c)
    return np.sum(x)


@case((0,), (1,), (10,))
def fibonacci_recursive(n):
    if n < 2:
        return n
    return fibonacci_recursive(n - 1) + fibonacci_recursive(n - 2)


@case((2.0, 10), (1.5, 0), (-0.5, 7))
def power_by_squaring(x, n):
    if n == 0:
        return 1.0
    half = power_by_squaring(x, n // 2)
    if n % 2 == 0:
        return half * half
    return half * half * x


@case((0,), (7,), (10,))
def mutual_recursion_parity(n):
    return _is_even(n), _is_odd(n)


@case((2.0, 3.0), (-1.0, 0.5))
def nested_def_closure(x, a):
    b = 2.0 * a

    def affine(t):
        return a * t + b

    return affine(x) + affine(affine(x))


@case((1.5, 3), (0.0, 2))
def lambda_capturing_variables(x, k):
    scale = k * 0.5
    f = lambda t: scale * t * t + k  # noqa: E731
    return f(x) - f(-x) + f(1.0)


@case((0.3, 5), (2.0, 0))
def nested_function_called_in_loop(x, n):
    rate = 0.5

    def step(y, i):
        return y + rate * math.sin(y) / (i + 1)

    y = x
    for i in range(n):
        y = step(y, i)
    return y


@case((1.5,), (-2.0,))
def closure_sees_reassigned_variable(x):
    c = 1.0

    def scaled(t):
        return c * t

    c = 3.0
    return scaled(x)


@case((np.array([1.0, 2.0, 3.0]), 0.5), tags=("numpy",))
def lambda_over_array(x, a):
    g = lambda v: np.exp(-a * v) * v  # noqa: E731
    return np.sum(g(x)), g(x[0])


@case((1.5,), (-0.5,))
def lambda_with_default_and_nested_tuples(x):
    f = lambda t, k=2: t ** k  # noqa: E731
    return (f(x), (f(x, 3), x)), ((x + 1.0,),)


@case((1.0, 5), (-2.0, 0))
def nested_functions_calling_each_other(x, n):
    def inner(t):
        return t * 2.0

    def outer(t):
        return inner(t) + 1.0

    def fact(k):
        return 1 if k <= 1 else k * fact(k - 1)

    return outer(x) * fact(n)


@case((1.0, 0.1, 20), (0.5, 0.2, 0))
def trapezoid_integral(a, h, n):
    def f(t):
        return math.exp(-t * t)

    total = 0.5 * (f(a) + f(a + n * h))
    for k in range(1, n):
        total += f(a + k * h)
    return total * h
