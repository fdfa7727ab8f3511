"""Functions whose results and exceptions must be CPython's on every backend
(tests/test_cpython_semantics.py): Python scalars raise, NumPy scalars follow IEEE,
ops that may raise are never removed, gradients raise where the primal raises."""
import math

import numpy as np


def divide(x, y):
    return x / y


def floor_divide(x, y):
    return x // y


def modulo(x, y):
    return x % y


def raised(x, y):
    return x ** y


def element_divide(a, y):
    return a[0] / y


def element_modulo(a, y):
    return a[0] % y


def element_power(a, y):
    return a[0] ** y


def python_float_of_element(a, y):
    return float(a[0]) / y


def int_of(x):
    return int(x)


def floor_of(x):
    return math.floor(x)


def round_of(x):
    return round(x)


def store_into_int_array(x):
    a = np.zeros(2, dtype=np.int64)
    a[0] = x
    return a[0] * 1.0


def math_sqrt(x):
    return math.sqrt(x)


def numpy_sqrt(x):
    return np.sqrt(x)


def math_log(x):
    return math.log(x)


def numpy_log(x):
    return np.log(x)


def math_exp(x):
    return math.exp(x)


def numpy_exp(x):
    return np.exp(x)


def math_cos_unused(x, y):
    t = math.cos(x)
    return y


def division_unused(x, y):
    t = x / y
    return x


def write_then_read(n, x):
    y = np.zeros(n)
    y[0] = x
    return y[0]


def length_of_zeros(n):
    return len(np.zeros(n))


def unused_zeros(n, x):
    z = np.zeros(n)
    return x


def dot(x, y):
    return np.dot(x, y)


def big_int_times(x):
    return x * 2 ** 70


def big_int_expression(x):
    return (10 ** 30 + 1) * x - 2 ** 64 / x


def accumulate(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i]
    return s


def weak_float(x):
    return 0.5 + x[0], x + 1.0, np.float64(0.5) + x[0], x + np.float64(1.0)


def int_and_float32(x, k):
    return k + x[0], np.int64(k) + x[0], x * k


def int_floor_divide(a, b):
    return a // b, a % b


def log_unused_in_helper(x):
    t = math.log(x)
    return x * 2.0


def calls_helper(x):
    return log_unused_in_helper(x) * 3.0


def half_power(x):
    return x ** 0.5


def power_zero(x):
    return np.power(x, 0.0)


def zero_power(y):
    return np.power(0.0, y)


def scaled_sum(x, y):
    s = 0.0
    for i in range(len(x)):
        s += x[i] / y
    return s


def never_raise(x):
    t = np.zeros(3)
    u = x / 2.0
    v = math.cos(1.0)
    for i in range(len(t)):
        w = t[i] * 2.0
    return x


def read_past_the_end(x):
    for i in range(len(x) + 1):
        t = x[i]
    return 1.0


def math_pow(x, y):
    return math.pow(x, y)


def builtin_min_max(a, b):
    return min(a, b), max(a, b), min(a, b, 0.5), max(1, 2.5)


def numpy_min_max(a, b):
    return np.minimum(a, b), np.maximum(a, b), np.clip(a, 0.0, 1.0)


def min_max_of_array(x):
    return min(x), max(x)
