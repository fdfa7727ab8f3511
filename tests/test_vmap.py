"""adjoin.vmap: axes, structures, composition with every derivative verb (against loops
and finite differences), the batched IR, and the errors."""
import functools
import math

import numpy as np
import pytest

import adjoin
from adjoin.ir import parse_module, print_module, verify_module
from vmap_checks import assert_lanes, to_torch

BACKENDS = ["python", "llvm", "torch"]
rng = np.random.default_rng(7)


def orbit(x, a, n):
    """Per-lane trip counts and branches: a while on data, a break, an early return."""
    t = 0.0
    while abs(x) > 0.1 and t < 50.0:
        x = x * a
        t = t + 1.0
    for k in range(n):
        if x > 0.05:
            x = x - 0.01 * k
        else:
            break
    if t > 10.0:
        return t + x
    return math.tanh(x) * t


def cell(w, x):
    h = np.tanh(w @ x)
    s = 0.0
    for k in range(h.shape[0]):
        if h[k] > 0.0:
            s = s + h[k] * h[k]
        else:
            s = s - 0.5 * h[k]
    return s


X = np.array([1.0, 0.05, 3.0, -0.7, 2.5])
A = np.array([0.5, 0.9, 0.3, 0.99, 0.8])
N = np.array([3, 0, 5, 1, 7])


@pytest.mark.parametrize("backend", BACKENDS)
def test_loops_and_branches_per_lane(backend):
    want = [orbit(x, a, n) for x, a, n in zip(X, A, N)]
    args = (X, A, N) if backend != "torch" else to_torch((X, A, N))
    assert_lanes(adjoin.vmap(orbit, backend=backend)(*args), want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_axes_none_and_nonzero_axes(backend):
    W = rng.normal(size=(4, 3))
    Xs = rng.normal(size=(3, 6))  # examples along axis 1
    want = [cell(W, Xs[:, k]) for k in range(6)]
    args = (W, Xs) if backend != "torch" else to_torch((W, Xs))
    got = adjoin.vmap(cell, in_axes=(None, 1), backend=backend)(*args)
    assert_lanes(got, want)
    got = adjoin.vmap(cell, in_axes=(None, -1), backend=backend)(*args)
    assert_lanes(got, want)


def test_out_axes_moves_the_batch_axis():
    def f(x):
        return x * np.arange(3.0)
    got = adjoin.vmap(f, out_axes=1)(np.arange(4.0))
    np.testing.assert_array_equal(got, np.stack([f(x) for x in np.arange(4.0)], axis=1))


def test_structured_arguments_and_results():
    def f(p, x):
        return {"y": p["w"] * x + p["b"], "n": np.sin(x)}
    p = {"w": 2.0, "b": np.float64(0.5)}
    xs = np.linspace(0, 1, 5)
    got = adjoin.vmap(f, in_axes=(None, 0))(p, xs)
    np.testing.assert_allclose(got["y"], 2.0 * xs + 0.5)
    np.testing.assert_allclose(got["n"], np.sin(xs))


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_example_gradients_against_a_loop(backend):
    W = rng.normal(size=(4, 3))
    Xs = rng.normal(size=(6, 3))
    want = [adjoin.grad(cell)(W, x) for x in Xs]
    args = (W, Xs) if backend != "torch" else to_torch((W, Xs))
    got = adjoin.vmap(adjoin.grad(cell, backend=backend), in_axes=(None, 0))(*args)
    assert_lanes(got, want, 1e-9)


def test_grad_of_a_function_calling_vmap_matches_finite_differences():
    def total(a, xs):
        return np.sum(adjoin.vmap(orbit, in_axes=(0, None, None))(xs, a, 4))
    for backend in BACKENDS[:2]:
        g = adjoin.grad(total, backend=backend)(0.8, X)
        eps = 1e-6
        fd = (total(0.8 + eps, X) - total(0.8 - eps, X)) / (2 * eps)
        assert g == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_vmap_of_hessian_jvp_and_value_and_grad():
    W = rng.normal(size=(4, 3))
    Xs = rng.normal(size=(5, 3))
    H = adjoin.vmap(adjoin.hessian(cell, wrt=1), in_axes=(None, 0))(W, Xs)
    assert_lanes(H, [adjoin.hessian(cell, wrt=1)(W, x) for x in Xs], 1e-9)
    value, g = adjoin.vmap(adjoin.value_and_grad(cell, wrt=1), in_axes=(None, 0))(W, Xs)
    assert_lanes(value, [cell(W, x) for x in Xs], 1e-12)
    assert_lanes(g, [adjoin.grad(cell, wrt=1)(W, x) for x in Xs], 1e-9)
    T = rng.normal(size=(5, 3))
    out, tangent = adjoin.vmap(functools.partial(adjoin.jvp, cell), in_axes=((None, 0), (None, 0)))(
        (W, Xs), (np.zeros_like(W), T))
    assert_lanes(tangent, [adjoin.jvp(cell, (W, x), (np.zeros_like(W), t))[1]
                           for x, t in zip(Xs, T)], 1e-9)


def test_jacobian_of_a_vmapped_function():
    f = adjoin.vmap(lambda x: np.sin(x) * x)
    J = adjoin.jacobian(f)(X)
    np.testing.assert_allclose(J, np.diag(np.cos(X) * X + np.sin(X)), atol=1e-12)


def test_custom_rules_and_straight_through_inside_vmap():
    @adjoin.custom_vjp
    def clip(x):
        return min(max(x, -1.0), 1.0)

    @clip.defvjp
    def clip_vjp(x, y, g):
        return (g,)

    def f(x):
        return adjoin.straight_through(round)(x * 3.0) + clip(x) * 2.0
    xs = np.array([-2.0, 0.3, 0.7, 1.5])
    assert_lanes(adjoin.vmap(f)(xs), [f(x) for x in xs])
    g = adjoin.vmap(adjoin.grad(f))(xs)
    np.testing.assert_allclose(g, np.full(4, 5.0))


def test_recursion_on_a_shared_condition_is_batched():
    def power(x, n):
        if n == 0:
            return 1.0
        return x * power(x, n - 1)
    got = adjoin.vmap(power, in_axes=(0, None), backend="python")(X, 3)
    np.testing.assert_allclose(got, X ** 3)


def test_recursion_on_a_per_lane_condition_is_refused_at_its_line():
    def depth(x):
        if x < 1.0:
            return 0.0
        return 1.0 + depth(x / 2.0)
    with pytest.raises(adjoin.CompileError, match="recursive call of depth") as e:
        adjoin.vmap(depth, backend="python")(X)
    assert e.value.loc.file == __file__


def test_batched_ir_prints_parses_back_and_verifies():
    from adjoin.api import module_of
    from adjoin.frontend.specialize import REGISTRY
    adjoin.vmap(orbit, backend="python")(X, A, N)
    mod = [f for name, f in REGISTRY.by_symbol.items() if name.startswith("orbit_vmap")]
    assert mod and any(op.name == "while" for op in mod[0].walk())
    module = module_of(mod[0])
    verify_module(module)
    text = print_module(module)
    assert print_module(parse_module(text)) == text
    assert "amax" in text and "where" in text  # the live lanes and the frozen values


def test_errors():
    with pytest.raises(ValueError, match="in_axes"):
        adjoin.vmap(orbit, in_axes=("x", 0, 0))
    with pytest.raises(ValueError, match="maps no argument"):
        adjoin.vmap(orbit, in_axes=None)
    with pytest.raises(adjoin.CompileError, match="not an array"):
        adjoin.vmap(orbit)(1.0, A, N)
    with pytest.raises(ValueError):  # batch sizes disagree
        adjoin.vmap(orbit)(X, A[:3], N)
    with pytest.raises(adjoin.CompileError, match="out_axes=None"):
        adjoin.vmap(lambda x: x * 2.0, out_axes=None)(X)
    with pytest.raises(adjoin.CompileError, match="in_axes has 1 entries"):
        adjoin.vmap(orbit, in_axes=(0,))(X, A, N)


def test_show_prints_the_batched_code():
    from adjoin.ir.types import parse_signature
    from adjoin.sources import show_text
    text = show_text(orbit, None, parse_signature("f64, f64, i64"), None, emit="vmap",
                     in_axes=[0, None, None])
    import re
    assert re.search(r"def orbit\w*_vmap\w*\(x, a, n\):", text) and "np.where(live" in text
