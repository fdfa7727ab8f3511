"""User rules: custom_vjp, custom_jvp, stop_gradient, straight_through."""
import math

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

import custom_fns as c


def test_custom_rules_inside_a_loop():
    args = [0.7, 4]
    assert adjoin.differentiable(c.in_a_loop)(*args) == c.in_a_loop(*args)
    got = adjoin.grad(c.in_a_loop)(*args)
    assert got == pytest.approx(numeric_grad(c.in_a_loop, args, [0])[0], rel=1e-7)


def test_custom_rules_under_higher_order():
    args = (0.7, 4)
    grad = adjoin.grad(c.in_a_loop)
    want = (grad(0.7 + 1e-5, 4) - grad(0.7 - 1e-5, 4)) / 2e-5
    assert adjoin.hessian(c.in_a_loop)(*args) == pytest.approx(want, rel=1e-6)
    assert adjoin.grad(adjoin.grad(c.in_a_loop))(*args) == pytest.approx(want, rel=1e-6)
    _, tangent = adjoin.jvp(c.in_a_loop, args, (1.0, None))
    assert tangent == pytest.approx(grad(*args), rel=1e-12)


def test_custom_vjp_with_array_arguments():
    v, s = np.array([0.2, -0.5, 0.9]), 1.5
    got = adjoin.grad(c.with_arrays, wrt=(0, 1))(v, s)
    want = numeric_grad(c.with_arrays, [v, s], [0, 1])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    assert got[1] == pytest.approx(want[1], rel=1e-6)


def test_the_opaque_body_is_not_compiled_and_the_rule_is():
    src = adjoin.adjoint_source(c.in_a_loop, 0.7, 4)
    assert "softplus_vjp(" in src and "def softplus_vjp" in src  # the rule, compiled
    assert "run by CPython" in src and "math.log1p" not in src  # the body, opaque


def test_missing_rule_is_a_compile_error():
    with pytest.raises(adjoin.NotDifferentiable, match="defvjp"):
        adjoin.grad(c.uses_rule_free)(1.0)
    assert adjoin.differentiable(c.uses_rule_free)(1.0) == 3.0  # the primal still runs


def test_stop_gradient_blocks_the_derivative():
    gx, gy = adjoin.grad(c.stopped, wrt=(0, 1))(2.0, 3.0)
    assert (gx, gy) == (6.0, 1.0)  # d/dx x*sg(x*y) = x*y; d/dy = 1


def test_straight_through_passes_the_identity_backward():
    x = np.array([0.5, 1.0, 1.5])
    target = np.array([1.0, 2.0, 3.0])
    value = adjoin.differentiable(c.quantized_fit)(0.9, x, target)
    assert value == c.quantized_fit(0.9, x, target)
    got = adjoin.grad(c.quantized_fit)(0.9, x, target)
    y = np.round(0.9 * x)
    assert got == pytest.approx(np.mean(2 * (y - target) * x))


def test_straight_through_with_a_surrogate():
    x = np.array([0.5, -1.0, 2.0])
    target = np.array([1.0, -1.0, 1.0])
    got = adjoin.grad(c.sign_fit)(0.3, x, target)
    want = np.mean(2 * (np.sign(0.3 * x) - target) * (1 - np.tanh(0.3 * x) ** 2) * x)
    assert got == pytest.approx(want)


def test_a_straight_through_pipeline_trains():
    """Gradient descent through a rounding step lowers the loss."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 3.0, 32)
    target = np.round(2.0 * x)
    loss = adjoin.value_and_grad(c.quantized_fit)
    w = 0.4
    first, _ = loss(w, x, target)
    for _ in range(30):
        value, g = loss(w, x, target)
        w -= 0.05 * g
    last, _ = loss(w, x, target)
    assert last < 0.5 * first
    assert abs(w - 2.0) < 0.3
