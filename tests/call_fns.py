"""Functions for test_calls.py: which code adjoin compiles, and how calls reach it.

They live in a real file (not a test module) so their source is read as users' is.
"""
import colorsys
import functools

import numpy as np

# -- two lambdas on one line; a lambda inside a lambda ---------------------------------
L1, L2 = (lambda x: x * 2.0), (lambda x: x * 3.0)
OUTER = lambda x: (lambda y: y * 5.0)(x) * 2.0  # noqa: E731


# -- decorators ---------------------------------------------------------------------------
def add_hundred(f):
    @functools.wraps(f)
    def wrapper(x):
        return f(x) + 100.0
    return wrapper


@add_hundred
def scaled(x):
    return x * 1.4


def passthrough(f):
    @functools.wraps(f)
    def wrapper(*args):  # E:wrapper_args
        return f(*args)
    return wrapper


@passthrough
def doubled(x):
    return x * 2.0


# -- library code called from user code ---------------------------------------------------
def calls_isscalar(x):
    return np.isscalar(x) * x  # E:isscalar


def calls_vander(x):
    return np.sum(np.vander(np.ones(3))) * x  # E:vander


def calls_broadcast_shapes(x):
    s = np.broadcast_shapes((3, 1), (1, 4))  # E:broadcast_shapes
    return x * s[0]


def calls_stdlib(x):
    h, s, v = colorsys.rgb_to_hsv(x, 0.5, 0.25)  # E:stdlib
    return h


# -- argument forms adjoin refuses -------------------------------------------------------
def keyword_params(x, **k):  # E:kwargs
    return x * 2.0


def star_params(*a):  # E:star
    return a[0] * 2.0


# -- aliasing -----------------------------------------------------------------------------
def write_a_read_b(a, b, v):
    a[0] = v
    return b[0] * 2.0


def write_a_read_tuple(a, t, v):
    a[0] = v
    return t[0][0] * 2.0


def _put(y, v):
    y[0] = v


def write_through_callee(a, b, v):
    _put(a, v)
    return b[0] * 2.0


def same_array_inside(x):
    a = np.zeros(3)
    return write_a_read_b(a, a, x)


def reads_both(a, b):
    return np.sum(a * b)


def tuple_holds_written_array(x):
    a = np.zeros(2)
    t = (a, 1.0)
    a[0] = x  # E:tuple_local
    return t[0][0]


def _pair(a):
    return (a, a)


def write_into_returned_tuple(x):
    a = np.zeros(2)
    t = _pair(a)
    b = t[0]
    b[0] = x  # E:tuple_returned
    return a[0]


def write_into_merged_tuple(x, c):
    a, b = np.zeros(2), np.zeros(2)
    t = (a, b)
    if c > 0:
        t = (b, a)
    u = t[0]
    u[0] = x  # E:tuple_merged
    return a[0] + 10.0 * b[0]


def write_into_tuple_argument(t, v):
    a = t[0]
    a[0] = v  # E:tuple_argument
    return a[0] + t[1][0]


# -- closures -----------------------------------------------------------------------------
def make(k):
    def f(x):
        return x * k + np.sin(x) * k
    return f


def make_rebindable(k):
    def f(x):
        return x * k

    def set_k(v):
        nonlocal k
        k = v
    return f, set_k


def make_caller(g, k):
    def f(x):
        return g(x) * k
    return f


def make_writer(buf):
    def f(x):
        buf[0] = x
        return buf[0] * 3.0
    return f


class Settings:
    def __init__(self, scale):
        self.scale = scale


def make_with_settings(settings):
    def f(x):
        return x * settings.scale
    return f


def make_lambda(k):
    return lambda x: x * k


# -- for the thread test -------------------------------------------------------------------
def shared(x, y):
    return np.sum(np.sin(x) * y)


def distinct_0(x, y):
    return np.sum(x * x) * y


def distinct_1(x, y):
    return np.sum(np.cos(x)) + y * y


def distinct_2(x, y):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * y
    return s


def distinct_3(x, y):
    return np.sum(np.exp(x * 0.1)) * np.tanh(y)
