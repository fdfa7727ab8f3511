"""Functions with user derivative rules, for tests/test_custom.py."""
import math

import numpy as np

import adjoin


@adjoin.custom_vjp
def softplus(x):
    # Opaque: adjoin never reads this body (it could call SciPy).
    return math.log1p(math.exp(x))


@softplus.defvjp
def softplus_vjp(x, out, out_bar):
    return out_bar / (1.0 + math.exp(-x))


@adjoin.custom_jvp
def cube(x):
    return x ** 3


@cube.defjvp
def cube_jvp(x, x_dot):
    return x ** 3, 3.0 * x * x * x_dot


@adjoin.custom_vjp(returns="f64[:]")
def clipped_scale(v, s):
    return np.clip(v * s, -1.0, 1.0)


@clipped_scale.defvjp
def clipped_scale_vjp(v, s, out, out_bar):
    inside = np.where(np.abs(v * s) < 1.0, 1.0, 0.0)
    return out_bar * inside * s, np.sum(out_bar * inside * v)


@adjoin.custom_vjp
def opaque_no_rule(x):
    return x * 2.0


def in_a_loop(w, n):
    s = 0.0
    for i in range(n):
        s += softplus(w * i - 1.0) + cube(w) * 0.1
    return s


def with_arrays(v, s):
    out = clipped_scale(v, s)
    return np.sum(out * out)


def uses_rule_free(x):
    return opaque_no_rule(x) + x


def stopped(x, y):
    return x * adjoin.stop_gradient(x * y) + y


hard_round = adjoin.straight_through(np.round)
soft_sign = adjoin.straight_through(np.sign, np.tanh)


def quantized_fit(w, x, target):
    y = hard_round(w * x)
    return np.mean((y - target) ** 2)


def sign_fit(w, x, target):
    return np.mean((soft_sign(w * x) - target) ** 2)
